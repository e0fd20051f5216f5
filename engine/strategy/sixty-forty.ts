/**
 * The 60/40 baseline ("6040"): 60% of equity in crypto, 40% in cash. The crypto part is BTC/USD and ETH/USD,
 * split equally among whichever of the two are in the universe (30%/30% with both, 60% with one); any other
 * symbol of the universe gets no weight (a holding of it is sold at the next rebalance). Rebalanced every
 * `rebalanceBars` bars (weekly by default) with a band, by the same rules as equal-weight buy-and-hold
 * (engine/strategy/buyhold.ts): the 40% is the cash, so there is no extra cash buffer.
 */
import type { Symbol } from '../types.js';
import { TargetWeightBook, targetWeightTunables } from './buyhold.js';
import type { Strategy, StrategyContext, StrategyDecision, Tunable } from './strategy.js';

export interface SixtyFortyParams {
  /** bars between rebalance points, counted from the first decided bar */
  readonly rebalanceBars: number;
  /** a holding is resized only when off target by more than this fraction of the target */
  readonly rebalanceBand: number;
}

/** The defaults of `strategy.sixtyForty` in config/default.yaml (used when no parameters are passed). */
export const SIXTY_FORTY_DEFAULTS: SixtyFortyParams = { rebalanceBars: 168, rebalanceBand: 0.05 };

/** The fraction of equity held in crypto; the rest stays in cash. */
export const SIXTY_FORTY_CRYPTO_FRACTION = 0.6;
export const SIXTY_FORTY_SYMBOLS: readonly Symbol[] = ['BTC/USD', 'ETH/USD'];

export class SixtyFortyUniverseError extends Error {
  constructor(symbols: readonly Symbol[]) {
    super(`strategy 6040 holds BTC/USD and ETH/USD, but neither is in the universe (${symbols.join(', ') || 'empty'}); add BTC/USD or ETH/USD`);
    this.name = 'SixtyFortyUniverseError';
  }
}

/** The target weight of each symbol of `universe`; throws SixtyFortyUniverseError when neither BTC nor ETH is in it. */
export function sixtyFortyWeights(universe: readonly Symbol[]): ReadonlyMap<Symbol, number> {
  const crypto = SIXTY_FORTY_SYMBOLS.filter((s) => universe.includes(s));
  if (crypto.length === 0) throw new SixtyFortyUniverseError(universe);
  return new Map(crypto.map((s) => [s, SIXTY_FORTY_CRYPTO_FRACTION / crypto.length]));
}

export class SixtyFortyStrategy implements Strategy {
  readonly name = '6040';
  readonly warmupBars = 0;
  readonly tunables: readonly Tunable[];
  private readonly params: { -readonly [K in keyof SixtyFortyParams]: SixtyFortyParams[K] } & { cashBuffer: number };
  private readonly book: TargetWeightBook;
  private weights: ReadonlyMap<Symbol, number> | undefined;

  /** With `universe`, a universe without BTC/USD and ETH/USD is refused here; without it, on the first decision. */
  constructor(params: SixtyFortyParams = SIXTY_FORTY_DEFAULTS, universe?: readonly Symbol[]) {
    this.params = { rebalanceBars: params.rebalanceBars, rebalanceBand: params.rebalanceBand, cashBuffer: 0 };
    if (universe) this.weights = sixtyFortyWeights(universe);
    this.book = new TargetWeightBook(() => this.params, '60/40');
    this.tunables = targetWeightTunables(this.params, false);
  }

  decide(ctx: StrategyContext): StrategyDecision[] {
    this.weights ??= sixtyFortyWeights(ctx.symbols);
    return this.book.decide(ctx, this.weights);
  }
}
