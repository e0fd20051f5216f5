/** The engine's public surface for the operator layer (bot/) and reports. Nothing else is reachable from there. */
import type { LimitSpec } from './risk/limits.js';
import type { Mode, OrderStatus, Position, RiskEvent, RiskState, Symbol } from './types.js';

export interface PositionView extends Position {
  /** last close, USD; undefined before the first bar after start-up */
  readonly price: number | undefined;
  /** USD */
  readonly value: number;
  /** USD, against the average cost including buy fees */
  readonly unrealizedPnl: number;
}

/** Live use of the risk limits, as fractions of equity unless named otherwise. */
export interface RiskUsage {
  /** value of all positions */
  readonly exposure: number;
  readonly largestAsset: number;
  readonly openPositions: number;
  /** historical 1-day VaR at 95% of the current book; undefined without enough history */
  readonly var95: number | undefined;
  /** highest pairwise correlation among held symbols; undefined with fewer than two */
  readonly maxCorrelation: number | undefined;
  readonly dayPnlFraction: number;
  readonly totalPnlFraction: number;
  /** fall from the equity peak */
  readonly drawdown: number;
  /** exposure-increasing orders today (market UTC day) */
  readonly tradesToday: number;
  readonly cycle?: { readonly startEquity: number; readonly peakEquity: number; readonly profitTaken: boolean };
  /** newest first, at most 5 */
  readonly recentRiskEvents: readonly RiskEvent[];
}

export interface LimitsView {
  readonly profile: 'benchmark' | 'full';
  readonly limits: ReadonlyArray<LimitSpec & { readonly value: number }>;
  readonly usage: RiskUsage;
}

export interface StatusView {
  readonly mode: Mode;
  readonly risk: RiskState;
  /** where the bars come from, e.g. the embedded synthetic market */
  readonly market: string;
  readonly broker: string;
  readonly strategy: string;
  /** open time of the last bar processed, ms UTC */
  readonly marketTime: number | undefined;
  readonly equity: number;
  readonly cash: number;
  readonly startingEquity: number;
  /** USD since the start of the current UTC day (market time) */
  readonly dayPnl: number;
  readonly positions: readonly PositionView[];
  readonly openOrders: number;
  readonly lastDecisionAt: number | undefined;
  readonly health: {
    readonly inboxDepth: number;
    readonly barsProcessed: number;
    /** wall-clock ms of the last bar processed */
    readonly lastBarWallTime: number | undefined;
  };
  readonly riskUsage: RiskUsage;
}

export interface KillReport {
  readonly alreadyHalted: boolean;
  readonly canceled: readonly string[];
  readonly closes: ReadonlyArray<{
    readonly symbol: Symbol;
    readonly qty: number;
    readonly status: OrderStatus | 'pending' | 'denied';
    readonly price?: number;
    readonly reason?: string;
  }>;
  /** positions still held after the broker answered (should be none) */
  readonly remaining: readonly Position[];
}

export type ControlResult = { readonly ok: true; readonly state: RiskState } | { readonly ok: false; readonly reason: string };

export interface TradeView {
  readonly ts: number;
  readonly symbol: Symbol;
  readonly side: 'buy' | 'sell';
  readonly qty: number;
  readonly price: number;
  readonly fee: number;
  readonly realizedPnl: number;
}

export interface ThresholdView {
  readonly name: string;
  readonly description: string;
  readonly value: number;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
}

export type ThresholdChange = { readonly ok: true; readonly name: string; readonly old: number; readonly value: number } | { readonly ok: false; readonly reason: string };

/** The latest signal of one symbol, as `/signals` shows it. Numbers for the header; evidence lines carry none. */
export interface SignalView {
  readonly symbol: string;
  /** open time of the bar the signal was made on, ms UTC */
  readonly ts: number;
  readonly direction: 'up' | 'down' | 'flat' | 'warming';
  readonly quality: number;
  readonly conviction: number;
  /** calibrated win probability after the pattern adjustment and the conservative margin */
  readonly confidence: number;
  /** consecutive scans that met every threshold, and how many the entry tier needs */
  readonly streak: number;
  readonly streakNeeded: number;
  readonly evidence: readonly string[];
}

export interface SignalsView {
  readonly strategy: string;
  /** null when the running strategy makes no confidence signals */
  readonly signals: readonly SignalView[] | null;
  /** one line on calibration and the narrative input, or why there are no signals */
  readonly note: string;
}

export interface EngineApi {
  status(): StatusView;
  /** The running strategy's latest signal per symbol. */
  signals(): SignalsView;
  /** The deployed model set with weights and recent Brier scores, or why there is none. */
  models(): string;
  /** REDUCING: no new entries; exits and stops still run. Refused while HALTED (that would lower the guard). */
  pause(by: string, durationMs?: number): ControlResult;
  resume(by: string): ControlResult;
  /** HALTED first and persisted, then cancel everything and close every position; reports what the broker confirmed. */
  kill(by: string): Promise<KillReport>;
  recentTrades(limit: number): TradeView[];
  thresholds(): ThresholdView[];
  limits(): LimitsView;
  /** Take the broker's book where ours differs; returns each difference (also alerted). */
  reconcile(reason: string): Promise<string[]>;
  /** Validates the range, applies, persists and announces the change (old → new). */
  setLimit(name: string, value: number, by: string): ThresholdChange;
  /** Validates the range, applies, persists and announces the change (old → new). */
  setThreshold(name: string, value: number, by: string): ThresholdChange;
}
