import { BuyHoldStrategy } from './buyhold.js';
import { ConfidenceStrategy, type ConfidenceParams, type NarrativeSource } from './confidence.js';
import { MomentumStrategy, type MomentumParams } from './momentum.js';
import type { Strategy } from './strategy.js';

/** Strategy names from the CLI contract that exist today. Later issues add ensemble, meanrev, 6040. */
export const STRATEGY_NAMES = ['buyhold', 'momentum', 'confidence'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Baselines are benchmarks: they run with the `benchmark` risk profile (cash sufficiency only). */
export const BENCHMARK_STRATEGIES: ReadonlySet<string> = new Set(['buyhold', 'momentum', 'meanrev', '6040', 'equalweight']);

export interface StrategyParams {
  readonly momentum: MomentumParams;
  readonly confidence: ConfidenceParams;
  /** news for the confidence strategy; null in sim and backtest (the narrative is then absent, never faked) */
  readonly narrative?: NarrativeSource | null;
  /** digit-free words for why the narrative is absent */
  readonly narrativeAbsence?: string;
}

export function createStrategy(name: StrategyName, params: StrategyParams): Strategy {
  switch (name) {
    case 'buyhold':
      return new BuyHoldStrategy();
    case 'momentum':
      return new MomentumStrategy(params.momentum);
    case 'confidence':
      return new ConfidenceStrategy(params.confidence, params.narrative ?? null, params.narrativeAbsence);
  }
}

export type { NarrativeSource } from './confidence.js';
export type { Strategy, StrategyContext, StrategyDecision } from './strategy.js';
