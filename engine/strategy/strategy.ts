/** The strategy contract: read the market and the portfolio, return one decision per symbol. Never touches a broker. */
import type { SignalsView } from '../api.js';
import type { Bar, BarBatch, OrderIntent, Symbol } from '../types.js';

export interface StrategyContext {
  /** open time of the bar just closed, ms UTC */
  readonly ts: number;
  readonly symbols: readonly Symbol[];
  /** this bar of `symbol`, undefined when the batch has none (a data gap) */
  bar(symbol: Symbol): Bar | undefined;
  /** The last `count` closes of `symbol`, oldest first; fewer while warming up. */
  closes(symbol: Symbol, count: number): readonly number[];
  /** last close, USD */
  price(symbol: Symbol): number | undefined;
  /** units held */
  held(symbol: Symbol): number;
  /** USD, positions marked at the last close */
  readonly equity: number;
  readonly cash: number;
}

export interface StrategyDecision {
  readonly symbol: Symbol;
  readonly features: Record<string, number | string | null>;
  readonly signal: Record<string, number | string | boolean | null>;
  readonly intent: OrderIntent | null;
}

/** A strategy parameter the operator may change at run time (`/threshold`), with its allowed range. */
export interface Tunable {
  readonly name: string;
  readonly description: string;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  get(): number;
  set(value: number): void;
}

export interface Strategy {
  readonly name: string;
  /** parameters `/threshold` may show and change */
  readonly tunables: readonly Tunable[];
  /** closes of history it needs before its first decision */
  readonly warmupBars: number;
  /** Decisions for this bar. Sells come before buys so their proceeds can fund the buys. */
  /** May be async (model inference); the engine awaits it inside the bar's serial job. */
  decide(ctx: StrategyContext): StrategyDecision[] | Promise<StrategyDecision[]>;
  /** History before the first decision (start-up warm-up): learn from it, trade nothing. */
  prime?(batch: BarBatch): void;
  /** The deployed models, their weights and recent scores, for `/models`; strategies without models leave it out. */
  describeModels?(): string;
  /** The latest signals, for `/signals`; strategies without signals leave it out. */
  signals?(): Omit<SignalsView, 'strategy'>;
}

/** A tunable backed by a numeric field of a strategy's mutable parameters. */
export function tunableField<P extends object>(params: P, name: keyof P & string, description: string, min: number, max: number, integer = false): Tunable {
  const fields = params as unknown as Record<string, number | undefined>;
  return {
    name,
    description,
    min,
    max,
    integer,
    get: () => fields[name] ?? 0,
    set: (value) => {
      fields[name] = value;
    },
  };
}

/** Sells first, then buys, then the rest: the venues fill in submission order, so sells fund buys. */
export function sellsFirst(decisions: StrategyDecision[]): StrategyDecision[] {
  const rank = (intent: OrderIntent | null) => (intent === null ? 2 : intent.side === 'sell' ? 0 : 1);
  return decisions.sort((a, b) => rank(a.intent) - rank(b.intent));
}
