/**
 * Sim restarts on the same database: the venue's state and the journal must agree wherever the agent died, so a
 * replayed bar neither fills an order twice nor books a fill twice.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { openDatabase, type Db } from './store/database.js';
import { SqliteJournal, SqliteStateStore } from './store/sqlite-journal.js';
import { createSimMarket } from './sim-market.js';
import type { RunningMarket } from './market.js';

const quiet = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));

function simConfig(): Config {
  const base = loadConfig({}).config;
  return configSchema.parse({ ...base, strategy: { ...base.strategy, name: 'momentum' }, sim: { ...base.sim, barsPerSecond: 10_000 } });
}

/** A sim market on `db`; `dieAt` makes the market loop fail as the decisions of that bar are written. */
function market(db: Db, dieAt?: (ts: number) => boolean): { market: RunningMarket; journal: SqliteJournal } {
  const journal = new SqliteJournal(db);
  if (dieAt) {
    const recordDecisions = journal.recordDecisions.bind(journal);
    journal.recordDecisions = (decisions) => {
      if (decisions.length > 0 && dieAt(decisions[0]!.ts)) throw new Error('killed');
      recordDecisions(decisions);
    };
  }
  const m = createSimMarket({ config: simConfig(), mode: 'sim', journal, state: new SqliteStateStore(db), notifier: { notify: () => undefined }, log: quiet, env: {} });
  return { market: m, journal };
}

function duplicateFills(db: Db): Array<{ client_order_id: string; n: number }> {
  return db.prepare('SELECT client_order_id, count(*) AS n FROM fills GROUP BY client_order_id HAVING n > 1').all() as Array<{ client_order_id: string; n: number }>;
}

describe('sim restart after dying mid-bar', () => {
  it('a bar whose fills were booked before the agent died is replayed without filling or booking them again', async () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'ce-sim-restart-')), 'agent.db'));
    // The first run dies on the first bar with fills, after they were booked and before the bar was done.
    const fillCount = () => (db.prepare('SELECT count(*) AS n FROM fills').get() as { n: number }).n;
    const first = market(db, () => fillCount() > 0);
    await first.market.begin();
    expect(await first.market.failed).toBe('killed');
    await first.market.stop();
    const booked = db.prepare('SELECT client_order_id, qty, price FROM fills').all();
    expect(booked.length).toBeGreaterThan(0);

    // The restart replays that bar, then runs on.
    const second = market(db);
    await second.market.begin();
    const more = fillCount() + 10;
    for (let i = 0; i < 400 && fillCount() < more; i++) await new Promise((r) => setTimeout(r, 25));
    await second.market.stop();
    expect(fillCount()).toBeGreaterThanOrEqual(more);
    expect(duplicateFills(db)).toEqual([]);
    // What was booked before the death is still there, once.
    const after = db.prepare('SELECT client_order_id, qty, price FROM fills').all();
    expect(after.slice(0, booked.length)).toEqual(booked);
    // The engine's book equals the venue's.
    expect(await second.market.engine.reconcile('check')).toEqual([]);
    db.close();
  });
});
