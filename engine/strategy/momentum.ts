/**
 * Momentum top-k: every `rebalanceBars` bars, hold the `topK` symbols with the best return over `lookbackBars`
 * (only those with a positive return), equally weighted; everything else goes to cash.
 *
 * Rules:
 * - Momentum of a symbol = its last close / its close `lookbackBars` bars earlier − 1. The ranking needs
 *   `lookbackBars` + 1 closes of every symbol of the universe; until then nothing trades (phase 'warming').
 *   A backtest or a sim primed with history is warm on its first bar.
 * - The rebalance clock starts at the first warm bar: that bar is a rebalance point (the entry), and then every
 *   `rebalanceBars` bars after it.
 * - On a rebalance point the symbols are ranked by momentum, best first (ties keep the universe order). The
 *   first `topK` of them with a positive momentum get a weight of 1 / `topK` each, every other symbol 0: with
 *   fewer than `topK` positive, the unused slots stay in cash. The weights are held until the next point.
 * - Trading follows the target-weight rules of engine/strategy/buyhold.ts (TargetWeightBook): targets are
 *   equity × (1 − `cashBuffer`) × weight; a holding is resized only outside `rebalanceBand`; a symbol of
 *   weight 0 is sold in full; buys never spend more than the cash on hand, and when a rebalance that sells
 *   has too little cash for its buys, the buys follow on the next bar, after the sells filled (so the gate,
 *   which counts only cash already held, never denies them). Between rebalance points nothing trades except
 *   that follow-up bar.
 * - A restart (the clock is not persisted) re-ranks on its first warm bar and rebalances what it finds held,
 *   like a fresh start: momentum's weights go stale, so unlike buy-and-hold it does not keep holding for up to
 *   `rebalanceBars` bars (an agent restarted more often than that would otherwise never rotate).
 * Decision records carry the momentum, the rank (1 = best; null while warming), whether the symbol is selected
 * (weight > 0 in the weights being held) and the book's phase, target and value.
 */
import type { Symbol } from '../types.js';
import { TargetWeightBook } from './buyhold.js';
import { tunableField, type Strategy, type StrategyContext, type StrategyDecision, type Tunable } from './strategy.js';

export interface MomentumParams {
  readonly lookbackBars: number;
  readonly topK: number;
  readonly rebalanceBars: number;
  /** fraction of equity left in cash so fees and slippage never make a buy fail */
  readonly cashBuffer: number;
  /** a holding is resized only when it is off target by more than this fraction of the target */
  readonly rebalanceBand: number;
}

/** Momentum of each symbol: return over the last `lookbackBars` bars, null while fewer closes are known. */
export function momentumScores(ctx: StrategyContext, lookbackBars: number): Map<Symbol, number | null> {
  const scores = new Map<Symbol, number | null>();
  for (const symbol of ctx.symbols) {
    const closes = ctx.closes(symbol, lookbackBars + 1);
    scores.set(symbol, closes.length > lookbackBars ? closes[closes.length - 1]! / closes[closes.length - 1 - lookbackBars]! - 1 : null);
  }
  return scores;
}

/** Symbols with a momentum, best first; ties keep the universe order (the sort is stable). */
export function rankByMomentum(scores: ReadonlyMap<Symbol, number | null>): Array<[Symbol, number]> {
  return [...scores.entries()].filter((e): e is [Symbol, number] => e[1] !== null).sort((a, b) => b[1] - a[1]);
}

/** 1 / topK for each of the first `topK` ranked symbols with a positive momentum; the others are left out (0). */
export function momentumWeights(ranked: ReadonlyArray<readonly [Symbol, number]>, topK: number): Map<Symbol, number> {
  return new Map(
    ranked
      .slice(0, topK)
      .filter(([, r]) => r > 0)
      .map(([s]) => [s, 1 / topK]),
  );
}

export class MomentumStrategy implements Strategy {
  readonly name = 'momentum';
  readonly warmupBars: number;
  readonly tunables: readonly Tunable[];
  private readonly params: { -readonly [K in keyof MomentumParams]: MomentumParams[K] };
  private readonly book: TargetWeightBook;
  /** the weights chosen at the last rebalance point, held until the next */
  private weights: ReadonlyMap<Symbol, number> = new Map();

  constructor(params: MomentumParams) {
    this.params = { ...params };
    // History is kept for the configured look-back, so /threshold may shorten it but not lengthen it.
    this.warmupBars = params.lookbackBars + 1;
    this.book = new TargetWeightBook(() => this.params, 'top-k momentum', { holdOnRestart: false });
    this.tunables = [
      tunableField(this.params, 'topK', 'how many top-ranked symbols to hold', 1, 20, true),
      tunableField(this.params, 'lookbackBars', 'bars of return that rank the symbols', 2, params.lookbackBars, true),
      tunableField(this.params, 'rebalanceBars', 'bars between rebalances', 1, 24 * 30, true),
      tunableField(this.params, 'rebalanceBand', 'resize only when off target by more than this fraction', 0, 0.5, false),
      tunableField(this.params, 'cashBuffer', 'fraction of equity kept in cash', 0, 0.5, false),
    ];
  }

  decide(ctx: StrategyContext): StrategyDecision[] {
    const scores = momentumScores(ctx, this.params.lookbackBars);
    const ranked = rankByMomentum(scores);
    const rank = (symbol: Symbol): number | null => {
      const i = ranked.findIndex(([s]) => s === symbol);
      return i < 0 ? null : i + 1;
    };
    if (ranked.length < ctx.symbols.length) {
      // Warming up: the clock has not started, nothing trades.
      return ctx.symbols.map((symbol) => ({
        symbol,
        features: { momentum: scores.get(symbol) ?? null, close: ctx.price(symbol) ?? null },
        signal: { phase: 'warming', rank: rank(symbol), selected: false, rebalance: false },
        intent: null,
      }));
    }
    if (this.book.dueNext) this.weights = momentumWeights(ranked, this.params.topK);
    return this.book.decide(ctx, this.weights).map((d) => ({
      ...d,
      features: { momentum: scores.get(d.symbol) ?? null, ...d.features },
      signal: { rank: rank(d.symbol), selected: (this.weights.get(d.symbol) ?? 0) > 0, rebalance: d.signal.phase === 'rebalance', ...d.signal },
    }));
  }
}
