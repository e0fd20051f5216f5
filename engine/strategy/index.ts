import { BuyHoldStrategy } from './buyhold.js';
import { MomentumStrategy, type MomentumParams } from './momentum.js';
import type { Strategy } from './strategy.js';

/** Strategy names from the CLI contract that exist today. Later issues add confidence, ensemble, meanrev, 6040. */
export const STRATEGY_NAMES = ['buyhold', 'momentum'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Baselines are benchmarks: they run with the `benchmark` risk profile (cash sufficiency only). */
export const BENCHMARK_STRATEGIES: ReadonlySet<string> = new Set(['buyhold', 'momentum', 'meanrev', '6040', 'equalweight']);

export interface StrategyParams {
  readonly momentum: MomentumParams;
}

export function createStrategy(name: StrategyName, params: StrategyParams): Strategy {
  switch (name) {
    case 'buyhold':
      return new BuyHoldStrategy();
    case 'momentum':
      return new MomentumStrategy(params.momentum);
  }
}

export type { Strategy, StrategyContext, StrategyDecision } from './strategy.js';
