/** A walk-forward backtest end to end on CSV files written from the embedded market (no shared data needed). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { csvFileFor } from '../engine/market/csv.js';
import { EmbeddedMarket } from '../engine/market/embedded-market.js';
import { DAY_MS } from '../engine/market/feed.js';
import { runBacktest } from '../src/backtest.js';
import { loadConfig } from '../src/config.js';

const SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD'];
const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1); // the embedded market's first bar

function writeMarket(days: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'ce-wf-'));
  const market = new EmbeddedMarket(SYMBOLS, 5, 10);
  const lines = new Map(SYMBOLS.map((s) => [s, ['timestamp,open,high,low,close,volume']]));
  for (let i = 0; i < days * 24; i++) {
    for (const [s, b] of market.next().bars) lines.get(s)!.push([b.ts, b.open, b.high, b.low, b.close, b.volume].join(','));
  }
  for (const [s, rows] of lines) writeFileSync(join(dir, csvFileFor(s)), `${rows.join('\n')}\n`);
  return dir;
}

describe('walk-forward backtest', () => {
  it('reports only the test windows, chained, with the confidence forecast judged', async () => {
    const data = writeMarket(90);
    const from = T0 + 30 * DAY_MS;
    const to = T0 + 88 * DAY_MS; // start of the last day included
    const config = loadConfig({}).config;
    const runs = await runBacktest({ data, symbols: SYMBOLS, from, to, strategies: ['confidence', 'buyhold'], equity: 10_000, walkForward: { trainDays: 30, testDays: 20 } }, config, pino({ level: 'silent' }));
    for (const run of runs) {
      expect(run.windows!.map((w) => [w.testFrom, w.testTo])).toEqual([
        [from, from + 20 * DAY_MS],
        [from + 20 * DAY_MS, from + 40 * DAY_MS],
        [from + 40 * DAY_MS, to + DAY_MS],
      ]);
      for (const w of run.windows!) expect(w.trainTo - w.trainFrom).toBe(30 * DAY_MS);
      // the curve covers exactly the test bars, hour by hour
      expect(run.equityCurve[0]!.ts).toBe(from);
      expect(run.equityCurve.at(-1)!.ts).toBe(to + DAY_MS - HOUR);
      expect(run.equityCurve.every((p, i) => i === 0 || p.ts - run.equityCurve[i - 1]!.ts === HOUR)).toBe(true);
      expect(run.trades.every((t) => t.ts >= from && t.ts <= to + DAY_MS)).toBe(true);
      // each window starts from the previous one's final equity
      for (let i = 1; i < run.windows!.length; i++) expect(run.windows![i]!.startEquity).toBe(run.windows![i - 1]!.finalEquity);
      expect(run.metrics.finalEquity).toBe(run.windows!.at(-1)!.finalEquity);
      expect(run.metrics.initialEquity).toBe(10_000);
    }
    const [confidence, buyhold] = runs;
    expect(buyhold!.forecast).toBeNull();
    expect(confidence!.profile).toBe('full');
    expect(confidence!.forecast!.calls).toBeGreaterThan(100);
    expect(confidence!.forecast!.brier).toBeGreaterThan(0);
    expect(confidence!.forecast!.bins.reduce((n, b) => n + b.count, 0)).toBe(confidence!.forecast!.calls);
  });
});
