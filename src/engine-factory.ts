/** Builds an engine on the simulated venue: shared by backtest and sim, so the two cannot drift apart. */
import type { VenueRules } from '../engine/broker/broker.js';
import { SimBroker, type SimBrokerConfig, type SimVenueState } from '../engine/broker/sim-broker.js';
import type { SimClock } from '../engine/clock.js';
import { Engine } from '../engine/engine.js';
import { Execution } from '../engine/execution.js';
import type { Notifier, StateStore } from '../engine/ports.js';
import { RiskGate, type RiskProfile } from '../engine/risk/gate.js';
import { createStrategy, type StrategyName } from '../engine/strategy/index.js';
import type { Mode, Symbol } from '../engine/types.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { SqliteJournal } from './store/sqlite-journal.js';

export interface SimEngineOptions {
  readonly config: Config;
  readonly mode: Mode;
  readonly symbols: readonly Symbol[];
  readonly strategy: StrategyName;
  readonly profile: RiskProfile;
  readonly startingEquity: number;
  /** a saved venue to continue from; a fresh account with `startingEquity` cash otherwise */
  readonly venue: SimVenueState | undefined;
  readonly marketDescription: string;
  readonly journal: SqliteJournal;
  readonly state: StateStore;
  readonly notifier: Notifier;
  readonly clock: SimClock;
  readonly wallNow: () => number;
  readonly log: Logger;
}

export function buildSimEngine(o: SimEngineOptions): { engine: Engine; broker: SimBroker } {
  const brokerConfig: SimBrokerConfig & VenueRules = o.config.broker;
  const broker = o.venue ? new SimBroker(brokerConfig, o.venue) : SimBroker.fresh(brokerConfig, o.startingEquity);
  const execution = new Execution(broker, o.journal, (msg, detail) => o.log.warn(detail, msg));
  const engine = new Engine({
    mode: o.mode,
    symbols: o.symbols,
    strategy: createStrategy(o.strategy, { momentum: o.config.strategy.momentum }),
    gate: new RiskGate(o.profile, brokerConfig, o.state, o.wallNow, o.config.risk.limits),
    broker,
    execution,
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
  return { engine, broker };
}
