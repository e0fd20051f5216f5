/**
 * Engines for the benchmark, wired exactly as the product wires them (src/engine-factory.ts): the confidence
 * strategy (or the model ensemble, given its loaded model set), the full risk gate, the simulated broker and a
 * SQLite journal. Two flavours:
 *   - backtest: as `npm run backtest` builds it (market-time wall clock, no notifications);
 *   - sim: as `npm start` in sim mode builds it (wall clock, the outbox notifier with a console-like channel,
 *     the command core with its audit log, venue and cursor saved after every bar).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCommands } from '../bot/commands.js';
import { CommandCore } from '../bot/dispatch.js';
import { OutboxNotifier } from '../bot/notifier.js';
import type { Actor } from '../bot/registry.js';
import type { SimBroker, SimVenueState } from '../engine/broker/sim-broker.js';
import { SimClock } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import type { MarketFeed } from '../engine/market/feed.js';
import { ReplayFeed } from '../engine/market/replay-feed.js';
import type { Notifier } from '../engine/ports.js';
import type { ModelSource } from '../engine/ensemble/source.js';
import { runFeed } from '../engine/runner.js';
import type { StrategyName } from '../engine/strategy/index.js';
import type { BarBatch } from '../engine/types.js';
import type { Config } from '../src/config.js';
import { buildSimEngine } from '../src/engine-factory.js';
import type { Logger } from '../src/logger.js';
import { SqliteAuditLog } from '../src/store/audit.js';
import { openDatabase, type Db } from '../src/store/database.js';
import { SqliteOutbox } from '../src/store/outbox.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';
import type { BenchData } from './data.js';

export const BENCH_OPERATOR: Actor = { transport: 'bench', id: 'operator', role: 'operator' };

/** A replay that ends after `maxBatches` and counts the bars it handed out. */
export class BoundedFeed implements MarketFeed {
  batches = 0;
  bars = 0;

  constructor(
    private readonly inner: MarketFeed,
    private readonly maxBatches: number,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  get cursor(): number {
    return this.inner.cursor;
  }

  history(count: number): BarBatch[] {
    return this.inner.history(count);
  }

  next(): BarBatch | undefined {
    if (this.batches >= this.maxBatches) return undefined;
    const batch = this.inner.next();
    if (!batch) return undefined;
    this.batches += 1;
    this.bars += batch.bars.size;
    return batch;
  }

  seek(cursor: number): void {
    this.inner.seek(cursor);
  }
}

export interface RigOptions {
  readonly config: Config;
  readonly data: BenchData;
  readonly mode: 'backtest' | 'sim';
  readonly log: Logger;
  /** batches of history before the window that warm the engine up (no decisions) */
  readonly primeBatches: number;
  /** the replay's first bar open time */
  readonly fromTs: number;
  /** at most this many batches are replayed */
  readonly maxBatches: number;
  /** a saved venue to start from (positions for /kill); default a fresh account of sim.equity */
  readonly venue?: SimVenueState;
  /** the strategy; default the confidence strategy */
  readonly strategy?: RigStrategy;
}

/** A strategy by name, and for the ensemble its loaded model set (engine/ensemble/source.ts). */
export interface RigStrategy {
  readonly name: StrategyName;
  readonly models?: ModelSource;
}

export interface Rig {
  readonly engine: Engine;
  readonly broker: SimBroker;
  readonly db: Db;
  readonly feed: BoundedFeed;
  /** sim rigs only */
  readonly core: CommandCore | undefined;
  /** ms spent in engine.start() and engine.prime() */
  readonly setupMs: number;
  /** runFeed as the product runs it; barsPerSecond 0 = as fast as possible */
  run(options: RunOptions): Promise<'ended' | 'stopped'>;
  /** Waits for the engine and the outbox to settle, then closes and deletes the database. */
  close(): Promise<void>;
}

export interface RunOptions {
  /** bars per wall-clock second; 0 = as fast as possible */
  readonly barsPerSecond: number;
  readonly signal?: AbortSignal;
  readonly afterBatch?: (batch: BarBatch) => void;
  /** called with the ms each batch took from handleBars to its promise resolving */
  readonly timed?: (ms: number) => void;
}

export async function buildRig(o: RigOptions): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), `ce-bench-${o.mode}-`));
  const db = openDatabase(join(dir, 'engine.db'));
  const journal = new SqliteJournal(db);
  const clock = new SimClock();
  const sim = o.mode === 'sim';
  const wallNow = sim ? Date.now : () => clock.now();
  const state = new SqliteStateStore(db, wallNow);
  let notifier: Notifier = { notify: () => undefined };
  let outbox: OutboxNotifier | undefined;
  if (sim) {
    outbox = new OutboxNotifier(new SqliteOutbox(db), '[SIM]');
    // Stands in for the console chat: delivery runs (outbox reads and updates) but nothing is printed.
    outbox.addChannel({ name: 'console', send: async () => undefined });
    notifier = outbox;
  }
  const replay = new ReplayFeed(o.data.series, `bench replay of ${o.data.source}`, { from: o.fromTs });
  const feed = new BoundedFeed(replay, o.maxBatches);
  const { engine, broker } = buildSimEngine({
    config: o.config,
    mode: o.mode,
    symbols: o.data.symbols,
    strategy: o.strategy?.name ?? 'confidence',
    ...(o.strategy?.models ? { models: o.strategy.models } : {}),
    profile: 'full',
    startingEquity: o.config.sim.equity,
    venue: o.venue,
    // What sim-market.ts does: the venue saves its state as it changes, the cursor after every bar.
    ...(sim ? { saveVenue: (venue: SimVenueState) => state.set('sim.venue', venue, 'engine') } : {}),
    marketDescription: feed.description,
    journal,
    state,
    notifier,
    clock,
    wallNow,
    log: o.log,
  });
  let core: CommandCore | undefined;
  if (sim) {
    const audit = new SqliteAuditLog(db);
    const commands = buildCommands({ recentAudit: (n) => audit.recent(n), health: () => `${outbox!.describe()}\nmarket: ${feed.description}, cursor ${feed.cursor}` });
    core = new CommandCore(engine, commands, audit, outbox!, { confirmTtlMs: o.config.commands.confirmTtlSeconds * 1000 });
  }
  const started = performance.now();
  await engine.start();
  engine.prime(feed.history(o.primeBatches));
  const setupMs = performance.now() - started;
  return {
    engine,
    broker,
    db,
    feed,
    core,
    setupMs,
    run: ({ barsPerSecond, signal, afterBatch, timed }) =>
      runFeed(feed, timed ? timedHandler(engine, timed) : (batch) => engine.handleBars(batch), {
        barsPerSecond,
        ...(signal ? { signal } : {}),
        afterBatch: (batch) => {
          if (sim) state.set('sim.cursor', feed.cursor, 'engine');
          afterBatch?.(batch);
        },
      }),
    close: async () => {
      await engine.drain();
      await outbox?.flush();
      outbox?.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function timedHandler(engine: Engine, timed: (ms: number) => void): (batch: BarBatch) => Promise<void> {
  return async (batch) => {
    const started = performance.now();
    await engine.handleBars(batch);
    timed(performance.now() - started);
  };
}
