import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../types.js';
import { columnsToBars, loadCsvDirectoryCached } from '../market/bar-cache.js';
import { buildDataset, buildFeatureMatrix, DAY_MS, DEFAULT_COST, HOUR_MS, labelFor, labelRows, walkForwardSplits } from './dataset.js';
import { FEATURE_KEYS } from './features.js';
import { mulberry32 } from '../rng.js';

const T0 = Date.UTC(2021, 0, 1);

function walk(n: number, seed: number, start = 100): Bar[] {
  const rnd = mulberry32(seed).next;
  const bars: Bar[] = [];
  let close = start;
  for (let i = 0; i < n; i++) {
    const open = close;
    close = open * Math.exp((rnd() - 0.5) * 0.02);
    bars.push({ ts: T0 + i * HOUR_MS, open, high: Math.max(open, close) * 1.001, low: Math.min(open, close) * 0.999, close, volume: 10 + rnd() * 10 });
  }
  return bars;
}

/** 300 bars whose last ten closes are set by hand. */
const HAND = [100, 101, 100.2, 99, 100.6, 100.6, 101.2, 100, 99.4, 100];
function handSeries(): Bar[] {
  const bars = walk(300, 3);
  HAND.forEach((close, k) => {
    const b = bars[290 + k]!;
    bars[290 + k] = { ...b, open: close, high: close * 1.001, low: close * 0.999, close };
  });
  return bars;
}

describe('labels', () => {
  it('labelFor: 1 only when the log return beats the cost', () => {
    expect(labelFor(0.006)).toBe(1);
    expect(labelFor(0.005)).toBe(0);
    expect(labelFor(0.004)).toBe(0);
    expect(labelFor(0, 0)).toBe(0);
    expect(labelFor(1e-9, 0)).toBe(1);
    expect(DEFAULT_COST).toBe(0.005);
  });

  it('labels a hand-made series for h = 2 (cost 0.005), with the realized and next-hour returns', () => {
    const m = buildFeatureMatrix(new Map([['X/USD', handSeries()]]));
    const L = labelRows(m, 2);
    const row = (bar: number) => {
      const r = Array.from(m.barIndex).indexOf(bar);
      expect(r, `bar ${bar} has a row`).toBeGreaterThanOrEqual(0);
      return r;
    };
    //            290  291  292  293  294  295  296  297
    const want = [0, 0, 0, 1, 1, 0, 0, 0];
    want.forEach((y, k) => {
      const r = row(290 + k);
      expect(L.has[r], `bar ${290 + k}`).toBe(1);
      expect(L.y[r], `bar ${290 + k}`).toBe(y);
      expect(L.forwardReturn[r]).toBeCloseTo(Math.log(HAND[k + 2]! / HAND[k]!), 12);
    });
    // by hand: ln(100.6 / 99) = 0.01603 → 1; ln(101.2 / 100.6) = 0.00595 → 1 (just above the cost); ln(100 / 100) = 0 → 0
    expect(L.forwardReturn[row(294)]).toBeCloseTo(0.0059465, 6);
    // the last two bars have no bar two hours later
    expect(L.has[row(298)]).toBe(0);
    expect(L.has[row(299)]).toBe(0);
    expect(Number.isNaN(L.forwardReturn[row(299)]!)).toBe(true);
    expect(L.nextReturn[row(297)]).toBeCloseTo(99.4 / 100 - 1, 12);
    expect(L.nextReturn[row(299)]).toBe(0);
    // without a cost a flat return is still 0 and a small gain is 1
    const free = labelRows(m, 2, 0);
    expect(free.y[row(290)]).toBe(1);
    expect(free.y[row(297)]).toBe(0);
    // h = 1 by hand: 101/100 → 1 (0.00995 > 0.005), 100.2/101 → 0
    const h1 = labelRows(m, 1);
    expect([h1.y[row(290)], h1.y[row(291)], h1.y[row(293)], h1.y[row(295)]]).toEqual([1, 0, 1, 1]);
  });

  it('leaves rows unlabelled when bar t+h is not exactly h hours later (a data gap)', () => {
    const bars = handSeries().filter((_, i) => i !== 295);
    const m = buildFeatureMatrix(new Map([['X/USD', bars]]));
    const L = labelRows(m, 2);
    const at = (ts: number) => Array.from(m.ts).indexOf(ts);
    expect(L.has[at(T0 + 292 * HOUR_MS)]).toBe(1); // 294 is there
    expect(L.has[at(T0 + 293 * HOUR_MS)]).toBe(0); // 295 is missing: two rows on is bar 296
    expect(L.has[at(T0 + 294 * HOUR_MS)]).toBe(0); // two rows on is bar 297: three hours later
    expect(L.has[at(T0 + 296 * HOUR_MS)]).toBe(1);
  });

  it('reads nothing at or after `until`, not even for labels', () => {
    const until = T0 + 296 * HOUR_MS;
    const m = buildFeatureMatrix(new Map([['X/USD', handSeries()]]), { until });
    expect(Math.max(...m.ts)).toBe(until - HOUR_MS);
    expect(m.series[0]!.ts.length).toBe(296);
    const L = labelRows(m, 2);
    const last = m.rows - 1;
    expect(L.has[last]).toBe(0);
    expect(L.has[last - 1]).toBe(0);
    expect(L.has[last - 2]).toBe(1);
  });

  it('buildDataset keeps the labelled rows, ordered by time then symbol', () => {
    const a = walk(320, 1);
    const b = walk(300, 2, 5).map((bar) => ({ ...bar, ts: bar.ts + 20 * HOUR_MS }));
    const d = buildDataset(new Map([['A/USD', a], ['B/USD', b]]), { horizonBars: 6 });
    const m = buildFeatureMatrix(new Map([['A/USD', a], ['B/USD', b]]));
    expect(d.rows).toBe(labelRows(m, 6).count);
    expect(d.cols).toBe(FEATURE_KEYS.length);
    expect(d.X.length).toBe(d.rows * d.cols);
    for (let r = 1; r < d.rows; r++) {
      expect(d.ts[r]! > d.ts[r - 1]! || (d.ts[r] === d.ts[r - 1] && d.symbol[r]! > d.symbol[r - 1]!)).toBe(true);
    }
    expect(d.symbol.includes(0) && d.symbol.includes(1)).toBe(true);
    // every label agrees with its forward return
    for (let r = 0; r < d.rows; r++) expect(d.y[r]).toBe(labelFor(d.forwardReturn[r]!, d.cost));
    // the last 6 hours of each symbol have no label
    expect(Math.max(...d.ts)).toBe(a[a.length - 1 - 6]!.ts);
  });
});

describe('walkForwardSplits', () => {
  const hourly = Float64Array.from({ length: 200 * 24 }, (_, i) => T0 + i * HOUR_MS);

  it('puts each validation window after its training window with a gap of h bars, tiling the end of the data', () => {
    const splits = walkForwardSplits(hourly, { trainDays: 60, validDays: 20, folds: 3, gapBars: 24 });
    expect(splits).toHaveLength(3);
    const end = hourly[hourly.length - 1]! + HOUR_MS;
    expect(splits[2]!.validTo).toBe(end);
    for (let f = 0; f < 3; f++) {
      const s = splits[f]!;
      expect(s.validTo - s.validFrom).toBe(20 * DAY_MS);
      expect(s.trainTo - s.trainFrom).toBe(60 * DAY_MS);
      expect(s.validFrom - s.trainTo).toBe(24 * HOUR_MS);
      const lastTrain = hourly[s.train[s.train.length - 1]!]!;
      const firstValid = hourly[s.valid[0]!]!;
      expect(firstValid - lastTrain).toBe(25 * HOUR_MS);
      expect(s.train.length).toBe(60 * 24);
      expect(s.valid.length).toBe(20 * 24);
      if (f > 0) expect(s.validFrom).toBe(splits[f - 1]!.validTo);
    }
  });

  it('never overlaps and keeps the gap, for any data, order and sizes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 80 }),
        (hours, trainDays, validDays, folds, gapBars) => {
          const ts = hours.map((h) => T0 + h * HOUR_MS);
          const splits = walkForwardSplits(ts, { trainDays, validDays, folds, gapBars });
          expect(splits).toHaveLength(folds);
          for (const s of splits) {
            const valid = new Set(s.valid);
            for (const i of s.train) expect(valid.has(i)).toBe(false);
            for (const i of s.train) for (const j of s.valid) expect(ts[j]! - ts[i]!).toBeGreaterThanOrEqual((gapBars + 1) * HOUR_MS);
            for (const i of s.train) expect(ts[i]! >= s.trainFrom && ts[i]! < s.trainTo).toBe(true);
            for (const j of s.valid) expect(ts[j]! >= s.validFrom && ts[j]! < s.validTo).toBe(true);
          }
          // validation windows do not overlap each other and move forward
          for (let f = 1; f < splits.length; f++) expect(splits[f]!.validFrom).toBeGreaterThanOrEqual(splits[f - 1]!.validTo);
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  });

  it('refuses nonsense', () => {
    expect(() => walkForwardSplits(hourly, { trainDays: 0, validDays: 1, folds: 1, gapBars: 0 })).toThrow(/positive/);
    expect(() => walkForwardSplits(hourly, { trainDays: 1, validDays: 1, folds: 0, gapBars: 0 })).toThrow(/folds/);
    expect(() => walkForwardSplits(hourly, { trainDays: 1, validDays: 1, folds: 1, gapBars: -1 })).toThrow(/gapBars/);
    expect(() => walkForwardSplits([], { trainDays: 1, validDays: 1, folds: 1, gapBars: 0 })).toThrow(/no timestamps/);
  });
});

describe('on the real data (../shared/data/binance-1h)', () => {
  const dir = fileURLToPath(new URL('../../../shared/data/binance-1h', import.meta.url));
  const present = existsSync(dir);
  if (!present) console.warn(`dataset.test: ${dir} is absent; skipping the real-data test`);

  it.skipIf(!present)('builds BTC/USD rows for early 2020 with nothing at or after the cut-off', () => {
    const until = Date.UTC(2020, 2, 1);
    const { columns } = loadCsvDirectoryCached(dir, ['BTC/USD']);
    const m = buildFeatureMatrix(new Map([['BTC/USD', columnsToBars(columns.get('BTC/USD')!)]]), { until });
    expect(m.rows).toBeGreaterThan(1000);
    expect(Math.max(...m.ts)).toBeLessThan(until);
    expect(m.series[0]!.ts[m.series[0]!.ts.length - 1]).toBeLessThan(until);
    const L = labelRows(m, 24);
    expect(L.count).toBe(m.rows - 24);
    const rate = Array.from(L.y).reduce((a, b) => a + b, 0) / L.count;
    expect(rate).toBeGreaterThan(0.1);
    expect(rate).toBeLessThan(0.7);
  });
});
