/** What the app needs from a running market, whichever venue it is: sim (replay + simulated broker) or Alpaca. */
import type { CircuitBreaker } from '../engine/broker/circuit-breaker.js';
import type { FeedState } from './health.js';
import type { ModelSource } from '../engine/ensemble/source.js';
import type { Engine } from '../engine/engine.js';
import type { Notifier, StateStore } from '../engine/ports.js';
import type { Config, ResolvedMode } from './config.js';
import type { Logger } from './logger.js';
import type { SqliteJournal } from './store/sqlite-journal.js';

export interface RunningMarket {
  readonly engine: Engine;
  /** one line for /health: circuit breakers, feed state */
  health(): string;
  /** whether bars are expected now, and how often (the health monitor's freshness check and dead-man switch) */
  feedState(): FeedState;
  /** the circuit breakers of external APIs (none in sim), for health and metrics */
  breakers(): readonly CircuitBreaker[];
  /** resolves with the reason if the market loop stops on an error (no more bars until a restart); never otherwise */
  readonly failed: Promise<string>;
  /** Start-up is recovery: reconcile with the broker, warm up, then begin feeding bars. */
  begin(): Promise<void>;
  /** Stop feeding; resolves when the last bar in flight is processed. */
  stop(): Promise<void>;
}

export interface MarketContext {
  readonly config: Config;
  readonly mode: ResolvedMode;
  readonly journal: SqliteJournal;
  readonly state: StateStore;
  readonly notifier: Notifier;
  readonly log: Logger;
  readonly env: NodeJS.ProcessEnv;
  /** the deployed model set, when the strategy is the ensemble */
  readonly models?: ModelSource;
}

/** The equity the total-loss limit is measured from: fixed at the first start on a database. */
export const START_EQUITY_KEY = 'engine.startingEquity';
