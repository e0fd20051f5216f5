import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { engineWithStatus, statusView } from '../test/fake-engine-status.js';
import { loadConfig } from './config.js';
import { HealthMonitor, renderHealth, type ChannelState, type FeedState, type HealthSources } from './health.js';
import { openDatabase } from './store/database.js';

const limits = loadConfig({}).config.health;
const HOUR = 3_600_000;
const MB = 1024 * 1024;
const monitors: HealthMonitor[] = [];
afterEach(() => monitors.splice(0).forEach((m) => m.stop()));

/** A monitor on a real database file with everything else controllable; alerts are collected. */
function rig({ lastBar, feed, channels, ...over }: Partial<Omit<HealthSources, 'feed' | 'channels'>> & { lastBar?: number; feed?: FeedState; channels?: ChannelState[] } = {}) {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'ce-health-')), 'engine.db');
  openDatabase(dbPath).close();
  const clock = { now: 1_700_000_000_000 };
  const alerts: Array<[string, string]> = [];
  const state = { lastBar, feed: feed ?? { running: true, barIntervalMs: HOUR }, channels: channels ?? [] };
  const monitor = new HealthMonitor(limits, {
    dbPath,
    engine: engineWithStatus(() => statusView({ health: { inboxDepth: 0, barsProcessed: 5, lastBarWallTime: state.lastBar } })),
    feed: () => state.feed,
    breakers: () => [],
    channels: () => state.channels,
    alert: (kind, text) => alerts.push([kind, text]),
    now: () => clock.now,
    rss: () => 100 * MB,
    diskFree: async () => 50_000 * MB,
    ...over,
  });
  monitors.push(monitor);
  const check = async (name: string) => (await monitor.check()).checks.find((c) => c.name === name)!;
  return { monitor, dbPath, clock, alerts, state, check };
}

describe('HealthMonitor', () => {
  it('is ok when everything is fine, and says nothing', async () => {
    const { monitor, clock, alerts } = rig({ lastBar: 1_700_000_000_000 - 60_000 });
    const report = await monitor.check();
    expect(report.status).toBe('ok');
    expect(report.checks.map((c) => c.name)).toEqual(['database', 'broker', 'data feed', 'decisions', 'memory', 'event loop', 'disk']);
    expect(report.checkedAt).toBe(clock.now);
    expect(alerts).toEqual([]);
  });

  it('is critical when the database cannot be written (locked by another writer), alerts once, and says when it recovers', async () => {
    const { dbPath, alerts, check } = rig({ lastBar: 1_700_000_000_000 });
    const other = new Database(dbPath);
    other.exec('BEGIN EXCLUSIVE');
    const db = await check('database');
    expect(db.status).toBe('critical');
    expect(db.detail).toMatch(/cannot write .*engine\.db: database is locked/);
    await check('database');
    expect(alerts.filter(([kind]) => kind === 'critical')).toHaveLength(1);
    expect(alerts[0]![1]).toMatch(/^Health CRITICAL: database: cannot write/);
    other.exec('ROLLBACK');
    other.close();
    expect((await check('database')).status).toBe('ok');
    await check('database');
    expect(alerts).toHaveLength(1); // a recovery is told once it held 3 checks in a row
    await check('database');
    expect(alerts[1]).toEqual(['state', 'Health recovered: database: writable']);
  });

  it('a value hovering at a threshold does not flap: warnings and recoveries are told after 3 checks in a row', async () => {
    const rss = { mb: 199 };
    const { check, alerts } = rig({ rss: () => rss.mb * MB, lastBar: 1_700_000_000_000 });
    for (const mb of [201, 199, 202, 198, 201, 201]) {
      rss.mb = mb;
      await check('memory');
    }
    expect(alerts).toEqual([]);
    await check('memory'); // the third warning in a row
    expect(alerts).toEqual([['info', 'Health warning: memory: 201 MB resident (warn 200 MB, critical 500 MB)']]);
    rss.mb = 600; // critical is told at once
    await check('memory');
    expect(alerts[1]).toEqual(['critical', 'Health CRITICAL: memory: 600 MB resident (warn 200 MB, critical 500 MB)']);
  });

  it('is critical when the database file is gone', async () => {
    const { check } = rig({ dbPath: join(tmpdir(), 'ce-health-missing', 'engine.db') });
    expect((await check('database')).status).toBe('critical');
  });

  it('dead-man switch: no decision for deadManBars intervals while running is critical; a stale feed warns first', async () => {
    const { clock, state, check, alerts } = rig();
    state.lastBar = clock.now - 1.5 * HOUR;
    expect((await check('data feed')).status).toBe('ok');
    state.lastBar = clock.now - 2.5 * HOUR;
    expect((await check('data feed')).status).toBe('warn');
    expect((await check('decisions')).status).toBe('ok');
    state.lastBar = clock.now - 3.5 * HOUR;
    const dead = await check('decisions');
    expect(dead.status).toBe('critical');
    expect(dead.detail).toBe('dead-man switch: no decision for 3.5 h while the market is running (limit 3.0 h)');
    expect(alerts.find(([kind]) => kind === 'critical')?.[1]).toMatch(/^Health CRITICAL: decisions: dead-man switch/);
  });

  it('dead-man switch: a feed that never delivered counts from when it started running', async () => {
    const { clock, check } = rig({ lastBar: undefined });
    expect((await check('decisions')).status).toBe('ok');
    clock.now += 3 * HOUR + 1;
    expect((await check('decisions')).detail).toMatch(/^dead-man switch: no decision for 3\.0 h/);
  });

  it('dead-man switch: a fast sim replay still gets at least a minute; a stopped feed is never dead', async () => {
    const { clock, state, check } = rig({ feed: { running: true, barIntervalMs: 500 } });
    state.lastBar = clock.now - 30_000;
    expect((await check('decisions')).status).toBe('ok');
    expect((await check('data feed')).status).toBe('warn');
    state.lastBar = clock.now - 61_000;
    expect((await check('decisions')).status).toBe('critical');
    state.feed = { running: false, barIntervalMs: 500 };
    expect((await check('decisions')).status).toBe('ok');
  });

  it('a market loop that stopped on an error is critical until a restart', async () => {
    const { state, check } = rig();
    state.feed = { running: false, barIntervalMs: HOUR, failure: 'database is locked' };
    expect(await check('data feed')).toEqual({ name: 'data feed', status: 'critical', detail: 'the market loop stopped: database is locked; no bars until a restart' });
    expect((await check('decisions')).status).toBe('critical');
  });

  it('memory: warning and critical at the configured sizes', async () => {
    const rss = { bytes: 199 * MB };
    const { check } = rig({ rss: () => rss.bytes, lastBar: 1_700_000_000_000 });
    expect((await check('memory')).status).toBe('ok');
    rss.bytes = 200 * MB;
    expect((await check('memory')).status).toBe('warn');
    rss.bytes = 500 * MB;
    expect((await check('memory')).detail).toBe('500 MB resident (warn 200 MB, critical 500 MB)');
    expect((await check('memory')).status).toBe('critical');
  });

  it('disk: free space below the thresholds; an unreadable file system is a warning', async () => {
    const free = { mb: 2_000 };
    const { check } = rig({ diskFree: async () => (free.mb < 0 ? Promise.reject(new Error('EACCES')) : free.mb * MB) });
    expect((await check('disk')).status).toBe('ok');
    free.mb = 1_000;
    expect((await check('disk')).status).toBe('warn');
    free.mb = 100;
    expect((await check('disk')).status).toBe('critical');
    free.mb = -1;
    expect((await check('disk')).detail).toMatch(/cannot read free space .*EACCES/);
  });

  it('chat delivery: failing is a warning, failing with a message waiting over 15 minutes is critical', async () => {
    const now = 1_700_000_000_000;
    const { state, check } = rig({ channels: [{ channel: 'telegram', failures: 0, queued: 0, oldestQueuedAt: undefined }] });
    expect((await check('telegram delivery')).status).toBe('ok');
    state.channels = [{ channel: 'telegram', failures: 4, queued: 2, oldestQueuedAt: now - 60_000 }];
    expect((await check('telegram delivery')).detail).toBe('failing (4 tries), 2 queued, oldest 60 s old');
    expect((await check('telegram delivery')).status).toBe('warn');
    state.channels = [{ channel: 'telegram', failures: 9, queued: 2, oldestQueuedAt: now - 16 * 60_000 }];
    expect((await check('telegram delivery')).status).toBe('critical');
  });

  it('broker: an open trading circuit is critical, an open data circuit a warning', async () => {
    const breakers: Array<{ group: string; state: 'closed' | 'open' | 'half-open' }> = [
      { group: 'alpaca trading', state: 'closed' },
      { group: 'alpaca data', state: 'open' },
    ];
    const { check } = rig({ breakers: () => breakers });
    expect(await check('broker')).toEqual({ name: 'broker', status: 'warn', detail: 'alpaca trading closed, alpaca data open' });
    breakers[0]!.state = 'open';
    expect((await check('broker')).status).toBe('critical');
  });

  it('Ollama (optional): reachable is ok, unreachable only a warning', async () => {
    const server = createServer((req, res) => res.writeHead(req.url === '/api/tags' ? 200 : 404).end('{"models":[]}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await rig({ ollamaHost: host }).check('ollama')).status).toBe('ok');
    } finally {
      await new Promise((r) => server.close(r));
    }
    const down = await rig({ ollamaHost: host }).check('ollama');
    expect(down.status).toBe('warn');
    expect(down.detail).toMatch(/unreachable.*plain summary/);
  });

  it('renders one line per check under the overall status', async () => {
    const { monitor, clock } = rig({ rss: () => 300 * MB, lastBar: 1_700_000_000_000 });
    const report = await monitor.check();
    clock.now += 12_000;
    const text = renderHealth(report, clock.now);
    expect(text.split('\n')[0]).toBe('Health WARN (checked 12 s ago)');
    expect(text).toContain('  memory: WARN, 300 MB resident (warn 200 MB, critical 500 MB)');
    expect(text).toContain('  database: ok, writable');
  });
});
