/**
 * The only doors out of the engine. src/ implements them (SQLite, notifier); tests may pass in-memory ones.
 * Keep them tiny: the engine must not know what stands behind a port.
 */
import type { BarBatch, DecisionRecord, EquitySnapshot, Fill, OrderState, Position, RiskEvent, Symbol } from './types.js';

/** Append-mostly record of everything the engine did. Writes must not throw on the hot path. */
export interface Journal {
  recordBars(batch: BarBatch): void;
  /** One bar's decisions, written together (one transaction in SQLite: one commit per bar, not per symbol). */
  recordDecisions(decisions: readonly DecisionRecord[]): void;
  /** Called before the order is sent (status `new`) and again whenever its status changes. */
  recordOrder(order: OrderState): void;
  recordFill(fill: Fill, realizedPnl: number): void;
  recordPositions(positions: readonly Position[], ts: number): void;
  recordEquity(snapshot: EquitySnapshot): void;
  recordRiskEvent(event: RiskEvent): void;
  /** Orders the journal knows as not yet final, for start-up reconciliation. */
  openOrders(): OrderState[];
  /** The most recent fills, newest first. */
  recentFills(limit: number): Array<Fill & { realizedPnl: number }>;
  /** Several writes as one unit; a crash in between leaves none of them. */
  atomically<T>(fn: () => T): T;
}

/** Small durable key/value state: gate state, thresholds, replay cursor. Values are JSON. */
export interface StateStore {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown, by: string): void;
}

export type NotificationKind = 'kill' | 'critical' | 'trade' | 'risk' | 'state' | 'info' | 'digest';

/** A picture attached to a message (a digest's chart). */
export interface NotificationImage {
  readonly png: Uint8Array;
  readonly filename: string;
}

/** Outbound messages for the operator. Implementations queue; they never block the engine. */
export interface Notifier {
  notify(kind: NotificationKind, text: string, image?: NotificationImage): void;
}

/** Market time for the engine. Replay sets it from the bars; live reads the wall clock. */
export interface Clock {
  now(): number;
}

export type { Symbol };
