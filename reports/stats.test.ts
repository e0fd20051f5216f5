/** /stats from the journal: the same numbers as reports/performance.ts on the same rows, and buy-and-hold by hand. */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/store/database.js';
import { computeMetrics } from './performance.js';
import { buyAndHold, statsFor, statsSnapshot } from './stats.js';
import { buildJournal, H, T0 } from './journal-fixture.test.js';

const dbs: Db[] = [];
const fresh = () => {
  const db = openDatabase(':memory:');
  dbs.push(db);
  return db;
};
afterEach(() => {
  while (dbs.length) dbs.pop()!.close();
});

/** The metrics recomputed straight from the rows, selecting the period by plain timestamp arithmetic. */
function expected(db: Db, fromTs: number, toTs: number) {
  const rows = db.prepare('SELECT ts, equity, exposure FROM equity_snapshots WHERE ts >= ? AND ts <= ? ORDER BY ts').all(fromTs, toTs) as Array<{ ts: number; equity: number; exposure: number }>;
  const fills = db.prepare('SELECT side, qty, price, fee, realized_pnl AS realizedPnl FROM fills WHERE ts > ? AND ts <= ? ORDER BY id').all(fromTs, toTs) as Array<{ side: 'buy' | 'sell'; qty: number; price: number; fee: number; realizedPnl: number }>;
  return {
    rows,
    fills,
    metrics: computeMetrics({ curve: rows, initialEquity: rows[0]!.equity, finalEquity: rows[rows.length - 1]!.equity, trades: fills }),
  };
}

describe('statsFor', () => {
  it('1d, 7d, 30d and all: exactly computeMetrics over the snapshots and fills of the period', () => {
    const db = fresh();
    const j = buildJournal(db);
    const end = j.lastTs;
    for (const [period, from] of [
      ['1d', end - 24 * H],
      ['7d', T0],
      ['30d', T0],
      ['all', T0],
    ] as const) {
      const r = statsFor(db, period);
      const want = expected(db, from, end);
      expect(r.enough).toBe(true);
      expect(r.strategy).toEqual(want.metrics);
      expect(r.points).toBe(want.rows.length);
      expect(r.pnl).toBeCloseTo(want.rows.at(-1)!.equity - want.rows[0]!.equity, 9);
      expect(r.curves.strategy).toEqual(want.rows.map(({ ts, equity }) => ({ ts, equity })));
      expect(r.period!.startBarTs).toBe(from);
      expect(r.period!.endBarTs).toBe(end);
      expect(r.text).not.toMatch(/NaN|undefined|Infinity/);
    }
  });

  it('periods select the right rows: 25 points a day, fills after the start mark up to the end, partial when the journal is short', () => {
    const db = fresh();
    const j = buildJournal(db);
    const day = statsFor(db, '1d');
    expect(day.points).toBe(25);
    expect(day.period!.partial).toBe(false);
    expect(day.period!.from).toBe('2024-03-05 00:00 UTC'); // start mark: the close of the bar opening 03-04 23:00
    expect(day.period!.to).toBe('2024-03-06 00:00 UTC');
    const dayFills = j.fills.filter((f) => f.ts > j.lastTs - 24 * H && f.ts <= j.lastTs);
    expect(dayFills.length).toBeGreaterThan(0);
    expect(day.strategy!.tradeCount).toBe(dayFills.length);
    const week = statsFor(db, '7d');
    expect(week.period!.partial).toBe(true); // four days of data
    expect(week.points).toBe(96);
    expect(week.strategy!.tradeCount).toBe(j.fills.filter((f) => f.ts > T0).length);
    expect(statsFor(db, 'all').period!.partial).toBe(false);
    // a fill at the start bar is in the start mark, not in the period: the day from bar 30 to bar 54 has the buy at 50 only
    const edge = statsFor(db, '1d', { nowTs: T0 + 54 * H });
    expect(edge.period!.startBarTs).toBe(T0 + 30 * H);
    expect(j.fills.some((f) => f.ts === T0 + 30 * H)).toBe(true);
    expect(edge.strategy!.tradeCount).toBe(1);
    expect(edge.strategy!.winRate).toBeNull();
  });

  it('ends at the newest snapshot at or before nowTs (market time), not at Date.now()', () => {
    const db = fresh();
    buildJournal(db);
    const now = T0 + 47 * H + 30 * 60_000; // half-way through the bar opening at hour 47
    const r = statsFor(db, '1d', { nowTs: now });
    expect(r.period!.endBarTs).toBe(T0 + 47 * H);
    expect(r.strategy).toEqual(expected(db, T0 + 23 * H, T0 + 47 * H).metrics);
  });

  it('buy-and-hold over the same bars: the strategy’s timestamps, equal weight, fees documented', () => {
    const db = fresh();
    const j = buildJournal(db);
    const r = statsFor(db, '1d', { feeRate: 0.001 });
    const b = r.benchmark!;
    expect(b.symbols).toEqual(['BTC/USD', 'ETH/USD']);
    const start = j.lastTs - 24 * H;
    const e0 = r.strategy!.initialEquity;
    const close = (s: string, ts: number) => j.bars.find((x) => x.symbol === s && x.ts === ts)!.close;
    const qty = (s: string) => e0 / 2 / (close(s, start) * 1.001);
    const curve = r.curves.strategy.map(({ ts }) => ({ ts, equity: qty('BTC/USD') * close('BTC/USD', ts) + qty('ETH/USD') * close('ETH/USD', ts) }));
    expect(r.curves.benchmark.map((p) => p.ts)).toEqual(curve.map((p) => p.ts));
    r.curves.benchmark.forEach((p, i) => expect(p.equity).toBeCloseTo(curve[i]!.equity, 8));
    expect(b.finalEquity).toBeCloseTo(curve.at(-1)!.equity * 0.999, 8);
    const want = computeMetrics({
      curve: curve.map((p) => ({ ...p, exposure: p.equity })),
      initialEquity: e0,
      finalEquity: curve.at(-1)!.equity * 0.999,
      trades: ['BTC/USD', 'ETH/USD'].map((s) => ({ side: 'buy' as const, qty: qty(s), price: close(s, start), fee: qty(s) * close(s, start) * 0.001, realizedPnl: 0 })),
    });
    expect(b.metrics.totalReturn).toBeCloseTo(want.totalReturn, 12);
    expect(b.metrics.sharpe).toBeCloseTo(want.sharpe, 8);
    expect(b.metrics.maxDrawdown).toBeCloseTo(want.maxDrawdown, 12);
    expect(b.metrics.feesPaid).toBeCloseTo(want.feesPaid, 9);
    expect(b.metrics.exposure).toBeCloseTo(1, 12);
  });

  it('buy-and-hold by hand: buy fee inside each half, closes carried over gaps, flagged bars and late symbols left out, exit fee at the end', () => {
    const db = fresh();
    const bar = db.prepare('INSERT INTO bars (symbol, ts, open, high, low, close, volume, flag) VALUES (?, ?, 1, 1, 1, ?, 1, ?)');
    // A: 100 → 110 → 120; B: 50 → (missing) → 40; C only from the second bar; D flagged at the start
    bar.run('A', 0, 100, null);
    bar.run('A', H, 110, null);
    bar.run('A', 2 * H, 120, null);
    bar.run('B', 0, 50, null);
    bar.run('B', 2 * H, 40, null);
    bar.run('C', H, 10, null);
    bar.run('D', 0, 10, 'spike');
    const b = buyAndHold(db, [0, H, 2 * H], 1000, 0.01)!;
    expect(b.symbols).toEqual(['A', 'B']);
    // qty A = 500 / (100 × 1.01); qty B = 500 / (50 × 1.01): each point is (value at full price) / 1.01
    expect(b.curve.map((p) => p.equity)).toEqual([expect.closeTo(1000 / 1.01, 9), expect.closeTo((550 + 500) / 1.01, 9), expect.closeTo((600 + 400) / 1.01, 9)]);
    expect(b.finalEquity).toBeCloseTo((1000 / 1.01) * 0.99, 9);
    expect(b.metrics.totalReturn).toBeCloseTo(0.99 / 1.01 - 1, 12); // −1.98%: the round trip of fees on a flat basket
    expect(b.metrics.feesPaid).toBeCloseTo(2 * 500 * (0.01 / 1.01), 9);
    expect(b.metrics.tradeCount).toBe(2);
    expect(buyAndHold(db, [3 * H], 1000)).toBeNull(); // no bars at the start
  });

  it('not enough data: a clear text, never NaN', () => {
    const db = fresh();
    expect(statsFor(db, '7d').text).toBe('Stats 7d: no data yet (no equity snapshots).');
    db.prepare('INSERT INTO equity_snapshots (ts, equity, cash, exposure) VALUES (?, ?, ?, ?)').run(T0, 10_000, 10_000, 0);
    const r = statsFor(db, '1d');
    expect(r.enough).toBe(false);
    expect(r.strategy).toBeNull();
    expect(r.text).toBe('Stats 1d: not enough data yet (1 equity point, need 2).');
    expect(JSON.stringify(statsSnapshot(r))).not.toMatch(/NaN/);
    expect(statsSnapshot(r).note).toBe('not enough data (1 equity point)');
  });

  it('text: short lines, return against buy-and-hold first', () => {
    const db = fresh();
    buildJournal(db);
    const r = statsFor(db, '7d');
    const lines = r.text.split('\n');
    expect(lines[0]).toBe('Stats 7d (week), partial');
    expect(lines[2]).toMatch(/^Return [+-]\d+\.\d\d% \(-?\$[\d,]+\.\d\d\)$/);
    expect(lines[3]).toMatch(/^Buy & hold [+-]\d+\.\d\d%$/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(40);
    for (const word of ['Sharpe', 'Sortino', 'Max DD', 'Win rate', 'PF', 'Exposure', 'trades', 'Fees']) expect(r.text).toContain(word);
  });

  it('snapshot for the advisor: JSON-able, units in the names, the same figures rounded', () => {
    const db = fresh();
    buildJournal(db);
    const r = statsFor(db, '1d');
    const s = statsSnapshot(r);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s.returnPct).toBe(Number((r.strategy!.totalReturn * 100).toFixed(2)));
    expect(s.buyHoldReturnPct).toBe(Number((r.benchmark!.metrics.totalReturn * 100).toFixed(2)));
    expect(s.equityUsd).toBe(Number(r.strategy!.finalEquity.toFixed(2)));
    expect(s.trades).toBe(r.strategy!.tradeCount);
    expect(s.fromIso).toBe('2024-03-05T00:00:00.000Z');
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['returnPct', 'equityUsd', 'pnlUsd', 'maxDrawdownPct', 'feesUsd', 'exposurePct']));
    // flat: numbers, strings and nulls only (the advisor's stats record)
    for (const v of Object.values(s)) expect(v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))).toBe(true);
    expect(s.note).toBeNull();
    expect(s.buyHoldSymbols).toBe('BTC/USD,ETH/USD');
    expect(statsSnapshot(statsFor(db, '7d')).note).toBe('partial: the journal covers 95 h of the period');
  });
});
