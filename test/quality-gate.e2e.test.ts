/**
 * The data-quality gate in sim, end to end: the real agent replays a CSV directory in which one hour carries a
 * bad print (BTC spikes 30% and comes back), a frozen bar (SOL) and the bar after a three-hour gap (ETH).
 * The flagged bars are stored with their flag and never reach the engine, and the operator gets one alert with a
 * count (plus one for the gap).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { CSV_HEADER, csvFileFor } from '../engine/market/csv.js';
import type { Bar } from '../engine/types.js';
import type { Config } from '../src/config.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const HOURS = 260;
const BAD = 200; // the hour with the bad bars: 2024-01-09T08:00Z
const T_BAD = T0 + BAD * HOUR;
const SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD'];

/** A quiet market: BTC drifts down, ETH up, SOL sideways, with ±0.3% deterministic noise. */
function series(symbol: string): Bar[] {
  const [start, drift, seed] = symbol === 'BTC/USD' ? [100, -0.001, 1] : symbol === 'ETH/USD' ? [50, 0.001, 2] : [20, 0, 3];
  let x = seed;
  const bars: Bar[] = [];
  let previous = start;
  for (let i = 0; i < HOURS; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const noise = (x / 2 ** 31 - 0.5) * 0.006;
    const level = Number((start * Math.exp(drift * i) * (1 + noise)).toPrecision(8));
    let bar: Bar = { ts: T0 + i * HOUR, open: previous, high: Math.max(previous, level) * 1.001, low: Math.min(previous, level) * 0.999, close: level, volume: 100 };
    if (i === BAD && symbol === 'BTC/USD') bar = { ...bar, close: previous * 1.3, high: previous * 1.3 * 1.001 }; // a bad print
    if (i === BAD && symbol === 'SOL/USD') bar = { ts: bar.ts, open: previous, high: previous, low: previous, close: previous, volume: 0 }; // frozen
    if (symbol === 'ETH/USD' && i >= BAD - 3 && i < BAD) continue; // three hours missing
    bars.push(bar);
    previous = bar.close;
  }
  return bars;
}

function writeMarket(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ce-quality-'));
  for (const symbol of SYMBOLS) {
    const rows = series(symbol).map((b) => [b.ts, b.open, b.high, b.low, b.close, b.volume].join(','));
    writeFileSync(join(dir, csvFileFor(symbol)), `${CSV_HEADER}\n${rows.join('\n')}\n`);
  }
  return dir;
}

const agents: TestAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop('test over');
});

async function replay(strategy: (c: Config) => Config['strategy']): Promise<TestAgent> {
  const market = writeMarket();
  const agent = await startTestAgent({}, (c) => ({
    ...c,
    universe: SYMBOLS,
    strategy: strategy(c),
    sim: { ...c.sim, market, historyBars: 100, barsPerSecond: 2_000 },
  }));
  agents.push(agent);
  await until(() => agent.console.output().includes('The replay reached the end of its data.'), 'the end of the replay', 30_000);
  return agent;
}

function query<T>(agent: TestAgent, sql: string, ...params: unknown[]): T[] {
  const db = new Database(agent.dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

describe('the data-quality gate in sim', () => {
  it('stores the flagged bars with their flag, trades nothing on them, and alerts once with a count', async () => {
    // Top-1 momentum rebalanced every bar: ETH leads; had BTC's +30% print been seen, BTC would rank first and be selected.
    const agent = await replay((c) => ({ ...c.strategy, name: 'momentum', momentum: { ...c.strategy.momentum, topK: 1, rebalanceBars: 1 } }));
    const btc = series('BTC/USD');
    const goodBefore = btc[BAD - 1]!.close;

    const bars = query<{ symbol: string; close: number; flag: string | null }>(agent, 'SELECT symbol, close, flag FROM bars WHERE ts = ? ORDER BY symbol', T_BAD);
    expect(bars.map((b) => b.symbol)).toEqual(['BTC/USD', 'ETH/USD', 'SOL/USD']);
    const [b, e, s] = bars as [(typeof bars)[0], (typeof bars)[0], (typeof bars)[0]];
    expect(b.close).toBe(btc[BAD]!.close);
    expect(b.flag).toMatch(/^jump: close [\d.]+ moved \+30\.0% from the close [\d.]+ of 2024-01-09T07:00:00\.000Z: \d+\.\dσ /);
    expect(s.flag).toBe(`stale: frozen feed: open, high, low and close all equal the previous close ${s.close}, with zero volume`);
    expect(e.flag).toBeNull(); // the bar after the gap is good
    // Nothing else in the replay was flagged (the bar after the spike is back to normal and accepted).
    expect(query<{ n: number }>(agent, 'SELECT COUNT(*) AS n FROM bars WHERE flag IS NOT NULL')[0]!.n).toBe(2);
    // ... and both are in flagged_bars as received
    expect(query<{ symbol: string; flag: string }>(agent, 'SELECT symbol, flag FROM flagged_bars ORDER BY symbol').map((r) => [r.symbol, r.flag])).toEqual([
      ['BTC/USD', b.flag],
      ['SOL/USD', s.flag],
    ]);

    // The engine decided on that hour without BTC's print: BTC still at its last good close, not selected.
    const decisions = query<{ symbol: string; features: string; signal: string; intent: string | null }>(agent, 'SELECT symbol, features, signal, intent FROM decisions WHERE ts = ? ORDER BY symbol', T_BAD);
    expect(decisions.map((d) => d.symbol)).toEqual(['BTC/USD', 'ETH/USD', 'SOL/USD']);
    const btcDecision = decisions[0]!;
    expect(JSON.parse(btcDecision.features).close).toBe(goodBefore);
    expect(JSON.parse(btcDecision.signal)).toMatchObject({ rank: 3, selected: false });
    expect(btcDecision.intent).toBeNull();
    expect(query(agent, "SELECT * FROM orders WHERE symbol = 'BTC/USD'")).toEqual([]);
    expect(query(agent, 'SELECT * FROM orders WHERE submitted_at = ? AND symbol <> ?', T_BAD, 'ETH/USD')).toEqual([]);

    const out = agent.console.output();
    const risk = out.match(/\d+ bad bars? \([^\n]*\)\. Stored, not traded on\. \d+ flagged since start\./g);
    expect(risk).toHaveLength(1);
    expect(risk![0]).toMatch(/^2 bad bars \(BTC\/USD jump \d+\.\dσ at 2024-01-09T08:00Z; SOL\/USD stale at 2024-01-09T08:00Z\)\. Stored, not traded on\. 2 flagged since start\.$/);
    expect(out).toContain('Market data gap: ETH/USD 3 hours missing before 2024-01-09T08:00Z. The bars after a gap are used. 1 gap since start.');
  });

  it('with the confidence strategy the flagged symbols have no bar on that hour', async () => {
    const agent = await replay((c) => ({ ...c.strategy, name: 'confidence' }));
    const decisions = query<{ symbol: string; signal: string; intent: string | null }>(agent, 'SELECT symbol, signal, intent FROM decisions WHERE ts = ? ORDER BY symbol', T_BAD);
    expect(decisions.map((d) => [d.symbol, JSON.parse(d.signal).direction === 'no bar', d.intent])).toEqual([
      ['BTC/USD', true, null],
      ['ETH/USD', false, null],
      ['SOL/USD', true, null],
    ]);
  });
});
