import type { Symbol } from '../types.js';
import { BUYHOLD_DEFAULTS, BuyHoldStrategy, type BuyHoldParams } from './buyhold.js';
import type { ModelSource } from '../ensemble/source.js';
import { EnsembleStrategy, type EnsembleParams } from './ensemble.js';
import { ConfidenceStrategy, type ConfidenceParams, type NarrativeSource } from './confidence.js';
import { MEANREV_DEFAULTS, MeanRevStrategy, type MeanRevParams } from './meanrev.js';
import { MomentumStrategy, type MomentumParams } from './momentum.js';
import { SIXTY_FORTY_DEFAULTS, SixtyFortyStrategy, type SixtyFortyParams } from './sixty-forty.js';
import type { Strategy } from './strategy.js';

/** Strategy names from the CLI contract that exist today. A later issue adds ensemble. */
export const STRATEGY_NAMES = ['buyhold', 'momentum', 'meanrev', '6040', 'confidence', 'ensemble'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Baselines are benchmarks: they run with the `benchmark` risk profile (cash sufficiency only). */
export const BENCHMARK_STRATEGIES: ReadonlySet<string> = new Set(['buyhold', 'momentum', 'meanrev', '6040', 'equalweight']);

export interface StrategyParams {
  readonly momentum: MomentumParams;
  readonly confidence: ConfidenceParams;
  /** config `strategy.buyhold`; BUYHOLD_DEFAULTS (the default.yaml values) when left out */
  readonly buyhold?: BuyHoldParams;
  /** config `strategy.meanrev`; MEANREV_DEFAULTS when left out */
  readonly meanrev?: MeanRevParams;
  /** config `strategy.sixtyForty`; SIXTY_FORTY_DEFAULTS when left out */
  readonly sixtyForty?: SixtyFortyParams;
  /** the universe, so a strategy can refuse one it cannot trade at construction (6040 without BTC and ETH) */
  readonly symbols?: readonly Symbol[];
  /** news for the confidence strategy; null in sim and backtest (the narrative is then absent, never faked) */
  readonly narrative?: NarrativeSource | null;
  /** digit-free words for why the narrative is absent */
  readonly narrativeAbsence?: string;
  /** the ensemble strategy's parameters and its (hot-reloaded) model set */
  readonly ensemble?: { readonly params: EnsembleParams; readonly models: ModelSource };
}

export function createStrategy(name: StrategyName, params: StrategyParams): Strategy {
  switch (name) {
    case 'buyhold':
      return new BuyHoldStrategy(params.buyhold ?? BUYHOLD_DEFAULTS);
    case 'momentum':
      return new MomentumStrategy(params.momentum);
    case 'meanrev':
      return new MeanRevStrategy(params.meanrev ?? MEANREV_DEFAULTS);
    case '6040':
      return new SixtyFortyStrategy(params.sixtyForty ?? SIXTY_FORTY_DEFAULTS, params.symbols);
    case 'confidence':
      return new ConfidenceStrategy(params.confidence, params.narrative ?? null, params.narrativeAbsence);
    case 'ensemble':
      if (!params.ensemble) throw new Error('the ensemble strategy needs its model set');
      return new EnsembleStrategy(params.ensemble.params, params.ensemble.models);
  }
}

export type { NarrativeSource } from './confidence.js';
export { sixtyFortyWeights, SixtyFortyUniverseError } from './sixty-forty.js';
export type { Strategy, StrategyContext, StrategyDecision } from './strategy.js';
