/** Core value types shared by every part of the engine. Plain data only: no behaviour, no I/O. */

/** An instrument symbol in Alpaca's crypto form, e.g. `BTC/USD`. */
export type Symbol = string;

/** One OHLCV bar. `ts` is the bar's open time in epoch milliseconds UTC. */
export interface Bar {
  readonly ts: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/** All bars that open at the same instant, keyed by symbol. A symbol may be missing (data gap). */
export interface BarBatch {
  readonly ts: number;
  readonly bars: ReadonlyMap<Symbol, Bar>;
}

export type Side = 'buy' | 'sell';

/** Who produced an intent. Protections and operator actions pass the same gate as strategies. */
export type IntentSource = 'strategy' | 'operator' | 'protection' | 'kill';

/**
 * What a strategy or operator wants. Buys are sized in USD (`notional`), sells in units (`qty`),
 * because a buy's fill price is unknown at decision time and a sell must never exceed what is held.
 */
/** A calibrated view of a trade's odds, used for Kelly sizing. */
export interface Edge {
  /** calibrated probability that the trade wins */
  readonly winProbability: number;
  /** average win divided by average loss */
  readonly payoff: number;
}

export type OrderIntent =
  | { readonly symbol: Symbol; readonly side: 'buy'; readonly notional: number; readonly source: IntentSource; readonly reason: string; readonly edge?: Edge; readonly limitPrice?: number }
  | { readonly symbol: Symbol; readonly side: 'sell'; readonly qty: number; readonly source: IntentSource; readonly reason: string; readonly limitPrice?: number };

export type OrderStatus = 'new' | 'accepted' | 'filled' | 'canceled' | 'rejected';

/** A market order (or a limit order, with `limitPrice`) as sent to a broker. `clientOrderId` is deterministic and saved before sending. */
export interface OrderRequest {
  readonly clientOrderId: string;
  readonly symbol: Symbol;
  readonly side: Side;
  readonly qty?: number;
  readonly notional?: number;
  /** USD per unit; absent for a market order */
  readonly limitPrice?: number;
}

export interface OrderState extends OrderRequest {
  readonly status: OrderStatus;
  readonly submittedAt: number;
  readonly rejectReason?: string;
  /** units filled so far, as the venue counts them (before any fee taken from the coin) */
  readonly filledQty?: number;
}

export interface Fill {
  readonly clientOrderId: string;
  readonly symbol: Symbol;
  readonly side: Side;
  /** units of the base asset */
  readonly qty: number;
  /** USD per unit, after slippage */
  readonly price: number;
  /** USD */
  readonly fee: number;
  readonly ts: number;
}

export interface Position {
  readonly symbol: Symbol;
  readonly qty: number;
  /** USD per unit, including the buy fees paid */
  readonly avgCost: number;
}

export type RiskStateName = 'ACTIVE' | 'REDUCING' | 'HALTED';

/** The gate state as persisted: who set it, when, why, and (for timed pauses) until when. */
export interface RiskState {
  readonly state: RiskStateName;
  readonly since: number;
  readonly by: string;
  readonly reason: string;
  /** wall-clock ms at which an operator's timed pause lapses back to ACTIVE */
  readonly until?: number;
  /** market-time ms at which a risk-made REDUCING state (daily loss, cooldown) lapses back to ACTIVE */
  readonly untilMarket?: number;
}

export interface RiskEvent {
  readonly ts: number;
  readonly kind: 'denied' | 'resized' | 'protection' | 'state-change' | 'order-rejected';
  readonly symbol?: Symbol;
  readonly reason: string;
  readonly detail?: Record<string, unknown>;
}

export type Verdict = 'none' | 'approved' | 'denied';

/** One row per symbol per bar: what the strategy saw, what it wanted, and what the gate said. */
export interface DecisionRecord {
  readonly ts: number;
  readonly symbol: Symbol;
  readonly strategy: string;
  readonly features: Record<string, number | string | null>;
  readonly signal: Record<string, number | string | boolean | null>;
  readonly intent: OrderIntent | null;
  readonly verdict: Verdict;
  readonly reason: string | null;
}

export interface EquitySnapshot {
  readonly ts: number;
  /** USD, positions marked at the last close */
  readonly equity: number;
  readonly cash: number;
  /** USD value of all positions */
  readonly exposure: number;
}

export type Mode = 'backtest' | 'sim' | 'paper' | 'live';
