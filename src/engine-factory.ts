/**
 * Builds engines. `buildEngine` wires any broker to the configured strategy, gate and execution; the simulated
 * venue (backtest and sim) and Alpaca (paper and live) both go through it, so the modes cannot drift apart.
 */
import type { Broker } from '../engine/broker/broker.js';
import { SimBroker, type SimVenueState } from '../engine/broker/sim-broker.js';
import type { SimClock } from '../engine/clock.js';
import { Engine } from '../engine/engine.js';
import { Execution } from '../engine/execution.js';
import type { Notifier, StateStore } from '../engine/ports.js';
import { RiskGate, type RiskProfile } from '../engine/risk/gate.js';
import type { ModelSource } from '../engine/ensemble/source.js';
import type { ConfidenceParams } from '../engine/strategy/confidence.js';
import { createStrategy, type NarrativeSource, type Strategy, type StrategyName } from '../engine/strategy/index.js';
import type { Mode, Symbol } from '../engine/types.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { SqliteJournal } from './store/sqlite-journal.js';

export interface EngineOptions {
  readonly config: Config;
  readonly mode: Mode;
  readonly symbols: readonly Symbol[];
  readonly strategy: StrategyName;
  readonly profile: RiskProfile;
  readonly startingEquity: number;
  readonly marketDescription: string;
  readonly journal: SqliteJournal;
  readonly state: StateStore;
  readonly notifier: Notifier;
  readonly clock: SimClock;
  readonly wallNow: () => number;
  readonly log: Logger;
  /** news for the confidence strategy; absent in sim and backtest */
  readonly narrative?: NarrativeSource | null;
  /** digit-free words for why the narrative is absent */
  readonly narrativeAbsence?: string;
  /** a ready-made strategy instead of `strategy` by name (evaluation tools: the leakage test's peeking strategy) */
  readonly strategyInstance?: Strategy;
  /** the deployed model set, for the ensemble strategy */
  readonly models?: ModelSource;
}

/** The confidence strategy's parameters, from the config's `strategy.confidence` block. */
export function confidenceParams(config: Config): ConfidenceParams {
  const c = config.strategy.confidence;
  const { default: base, ...byVolatility } = c.policies;
  return {
    minQuality: c.minQuality,
    minConviction: c.minConviction,
    minConfidence: c.minConfidence,
    positionFraction: c.positionFraction,
    tracker: {
      horizonBars: c.horizonBars,
      winThreshold: c.winThreshold,
      method: c.calibration.method,
      window: c.calibration.window,
      minSamples: c.calibration.minSamples,
      refitEvery: c.calibration.refitEvery,
      eceThreshold: c.calibration.eceThreshold,
      patternSampleFloor: c.patternSampleFloor,
      conservativeMargin: c.conservativeMargin,
    },
    policies: { default: base, byVolatility },
  };
}

export function buildEngine(o: EngineOptions, broker: Broker): Engine {
  return new Engine({
    mode: o.mode,
    symbols: o.symbols,
    strategy: o.strategyInstance ?? createStrategy(o.strategy, {
      momentum: o.config.strategy.momentum,
      buyhold: o.config.strategy.buyhold,
      meanrev: o.config.strategy.meanrev,
      sixtyForty: o.config.strategy.sixtyForty,
      symbols: o.symbols,
      confidence: confidenceParams(o.config),
      ...(o.models ? { ensemble: { params: o.config.strategy.ensemble, models: o.models } } : {}),
      narrative: o.narrative ?? null,
      narrativeAbsence: o.narrativeAbsence ?? (o.mode === 'backtest' ? 'backtests have no news input' : 'the simulated market has no news'),
    }),
    gate: new RiskGate(o.profile, o.config.broker, o.state, o.wallNow, o.config.risk.limits),
    broker,
    execution: new Execution(broker, o.journal, (msg, detail) => o.log.warn(detail, msg)),
    journal: o.journal,
    state: o.state,
    notifier: o.notifier,
    clock: o.clock,
    wallNow: o.wallNow,
    marketDescription: o.marketDescription,
    startingEquity: o.startingEquity,
    killWaitMs: o.config.risk.killWaitSeconds * 1000,
    log: (level, msg, detail) => o.log[level](detail ?? {}, msg),
  });
}

/**
 * The engine on the simulated venue: a saved venue to continue from, or a fresh account of `startingEquity`.
 * `saveVenue` receives the venue's state after every change (the sim persists it; a backtest need not).
 */
export function buildSimEngine(
  o: EngineOptions & { readonly venue: SimVenueState | undefined; readonly saveVenue?: (state: SimVenueState) => void },
): { engine: Engine; broker: SimBroker } {
  const broker = o.venue ? new SimBroker(o.config.broker, o.venue, o.saveVenue) : SimBroker.fresh(o.config.broker, o.startingEquity, o.saveVenue);
  return { engine: buildEngine(o, broker), broker };
}
