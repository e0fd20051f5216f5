/**
 * Mean reversion, long only: the contrarian baseline. Every `rebalanceBars` bars (each bar by default) each
 * symbol's close is scored against its recent past:
 *
 *   z = (close − mean) / sd   over the last `lookbackBars` closes (this bar's included; sd is the population
 *                             standard deviation, and z = 0 when sd is 0).
 *
 * - A symbol not held is bought when z < −entryZ (the close is unusually far below its mean): one slot of
 *   equity / N, N being the number of symbols in the universe, so every symbol can be held at once.
 * - A symbol held is sold in full when z > exitZ (the close has come back up past the exit level; 0 = the mean).
 *   The configuration must keep exitZ above −entryZ; should /threshold set them otherwise, an entry also needs
 *   z ≤ exitZ, so a position is never entered only to exit on the next check.
 * - Nothing else trades: holdings are not resized while held. Whether a symbol is "in" is read from the book
 *   (held or not), so a restart continues where it left off.
 * - Buys never spend more than the cash on hand at the decision. When the entries of a bar need more than that
 *   and the same bar is selling, the entries wait one bar: on the next bar, after the sells have filled, those
 *   symbols are bought (one slot at that bar's equity each, together capped at the cash then on hand) unless
 *   already held. Otherwise entries are scaled down pro rata to the cash.
 * Symbols still warming up (fewer than `lookbackBars` closes) are not scored. Sells come before buys.
 */
import type { OrderIntent, Symbol } from '../types.js';
import { sellsFirst, tunableField, type Strategy, type StrategyContext, type StrategyDecision, type Tunable } from './strategy.js';

export interface MeanRevParams {
  /** closes in the mean and standard deviation of the z-score */
  readonly lookbackBars: number;
  /** enter when z falls below −entryZ */
  readonly entryZ: number;
  /** exit when z rises above exitZ (must be above −entryZ) */
  readonly exitZ: number;
  /** bars between checks (1 = every bar) */
  readonly rebalanceBars: number;
}

/** The defaults of `strategy.meanrev` in config/default.yaml (used when no parameters are passed). */
export const MEANREV_DEFAULTS: MeanRevParams = { lookbackBars: 72, entryZ: 2, exitZ: 0, rebalanceBars: 1 };

/** z-score of the last close against `closes` (population sd); undefined for an empty list. */
export function zScore(closes: readonly number[]): number | undefined {
  if (closes.length === 0) return undefined;
  const mean = closes.reduce((a, c) => a + c, 0) / closes.length;
  const variance = closes.reduce((a, c) => a + (c - mean) ** 2, 0) / closes.length;
  const sd = Math.sqrt(variance);
  return sd > 0 ? (closes[closes.length - 1]! - mean) / sd : 0;
}

export class MeanRevStrategy implements Strategy {
  readonly name = 'meanrev';
  readonly warmupBars: number;
  readonly tunables: readonly Tunable[];
  private readonly params: { -readonly [K in keyof MeanRevParams]: MeanRevParams[K] };
  private barsSeen = 0;
  /** entries waiting for the sells placed on the previous bar */
  private pending: ReadonlySet<Symbol> | undefined;

  constructor(params: MeanRevParams = MEANREV_DEFAULTS) {
    if (!(params.exitZ > -params.entryZ)) throw new RangeError(`meanrev: exitZ (${params.exitZ}) must be above -entryZ (${-params.entryZ}), or it would exit on entry`);
    this.params = { ...params };
    // History is kept for the configured look-back, so /threshold may shorten it but not lengthen it.
    this.warmupBars = params.lookbackBars;
    this.tunables = [
      tunableField(this.params, 'lookbackBars', 'closes in the z-score mean and deviation', 2, params.lookbackBars, true),
      tunableField(this.params, 'entryZ', 'buy when the z-score falls below minus this', 0.1, 5, false),
      tunableField(this.params, 'exitZ', 'sell when the z-score rises above this (0 = back at the mean)', -3, 3, false),
      tunableField(this.params, 'rebalanceBars', 'bars between checks', 1, 24 * 30, true),
    ];
  }

  decide(ctx: StrategyContext): StrategyDecision[] {
    const { lookbackBars, entryZ, exitZ, rebalanceBars } = this.params;
    const due = this.barsSeen % rebalanceBars === 0;
    this.barsSeen += 1;
    const scores = new Map<Symbol, number | undefined>();
    for (const symbol of ctx.symbols) {
      const closes = ctx.closes(symbol, lookbackBars);
      scores.set(symbol, closes.length >= lookbackBars && ctx.price(symbol) !== undefined ? zScore(closes) : undefined);
    }
    const slot = ctx.equity / ctx.symbols.length;
    const intents = new Map<Symbol, OrderIntent>();
    /** symbol → why it is bought */
    const entries = new Map<Symbol, string>();
    if (due) {
      for (const symbol of ctx.symbols) {
        const z = scores.get(symbol);
        if (z === undefined) continue;
        const held = ctx.held(symbol);
        if (held > 0 && z > exitZ) intents.set(symbol, { symbol, side: 'sell', qty: held, source: 'strategy', reason: `mean reversion exit: z ${z.toFixed(2)} above ${exitZ}` });
        else if (held <= 0 && z < -entryZ && z <= exitZ) entries.set(symbol, `mean reversion entry: z ${z.toFixed(2)} below ${-entryZ}`);
      }
    }
    for (const symbol of this.pending ?? []) {
      if (ctx.held(symbol) <= 0 && !intents.has(symbol) && !entries.has(symbol)) entries.set(symbol, 'mean reversion entry, after the sells filled');
    }
    this.pending = undefined;
    if (entries.size * slot > ctx.cash && intents.size > 0) {
      this.pending = new Set(entries.keys());
    } else if (entries.size > 0 && ctx.cash > 0 && slot > 0) {
      const notional = Math.min(slot, ctx.cash / entries.size);
      for (const [symbol, reason] of entries) {
        intents.set(symbol, { symbol, side: 'buy', notional, source: 'strategy', reason: notional < slot ? `${reason}, scaled to the cash on hand` : reason });
      }
    }

    const decisions = ctx.symbols.map((symbol): StrategyDecision => ({
      symbol,
      features: { z: scores.get(symbol) ?? null, close: ctx.price(symbol) ?? null },
      signal: { check: due, held: ctx.held(symbol) > 0, waitingForSells: this.pending?.has(symbol) ?? false },
      intent: intents.get(symbol) ?? null,
    }));
    return sellsFirst(decisions);
  }
}
