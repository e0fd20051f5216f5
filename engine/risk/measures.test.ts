import { describe, expect, it } from 'vitest';
import { averageTrueRange, correlation, historicalVar95, kellySize, returns } from './measures.js';

/** Deterministic pseudo-random numbers in [-1, 1) (a small LCG), so the tests repeat exactly. */
function noise(seed: number, n: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    out.push(s / 2 ** 31 - 1);
  }
  return out;
}

/** Closes starting at `start` that follow the given per-hour returns. */
function pathFrom(start: number, hourly: readonly number[]): number[] {
  const closes = [start];
  for (const r of hourly) closes.push(closes[closes.length - 1]! * (1 + r));
  return closes;
}

/** 24-hour returns of every window ending in the last `hours` hours, computed forward (independently of the code under test). */
function dailyReturns(closes: readonly number[], hours: number): number[] {
  const out: number[] = [];
  const first = closes.length - 1 - hours + 24;
  for (let i = first; i < closes.length; i++) out.push(closes[i]! / closes[i - 24]! - 1);
  return out;
}

describe('returns', () => {
  it('are simple returns of consecutive closes', () => {
    const r = returns([100, 110, 99, 99]);
    expect(r).toHaveLength(3);
    expect(r[0]).toBeCloseTo(0.1, 12);
    expect(r[1]).toBeCloseTo(-0.1, 12);
    expect(r[2]).toBe(0);
    expect(returns([100])).toEqual([]);
  });
});

describe('correlation', () => {
  const x = noise(7, 30);

  it('is 1 for a perfectly correlated series and -1 for an anti-correlated one', () => {
    expect(correlation(x, x.map((v) => 2 * v + 3))).toBeCloseTo(1, 12);
    expect(correlation(x, x.map((v) => -0.5 * v + 1))).toBeCloseTo(-1, 12);
  });

  it('matches a hand computation: x = 1..10 against x² gives 9075 / sqrt(825 · 105105)', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const b = a.map((v) => v * v);
    // Σx = 55, Σx² = 385, Σx³ = 3025, Σx⁴ = 25333, n = 10:
    // r = (nΣxy − ΣxΣy) / sqrt((nΣx² − (Σx)²)(nΣy² − (Σy)²)) = (30250 − 21175) / sqrt((3850 − 3025)(253330 − 148225))
    const want = 9075 / Math.sqrt(825 * 105_105);
    expect(correlation(a, b)).toBeCloseTo(want, 12);
    expect(want).toBeCloseTo(0.97457, 4);
  });

  it('is exactly 0 for orthogonal centred patterns and near 0 for independent noise', () => {
    // (+,−,+,−,…) against (+,+,−,−,…): every block of four sums to zero in the cross-product.
    const a = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 1 : -1));
    const b = Array.from({ length: 20 }, (_, i) => (i % 4 < 2 ? 1 : -1));
    expect(correlation(a, b)).toBeCloseTo(0, 12);
    const rho = correlation(noise(1, 2_000), noise(99, 2_000));
    expect(rho).toBeDefined();
    // Independent series of 2000 points: the sampling error is about 1/sqrt(2000) ≈ 0.022.
    expect(Math.abs(rho!)).toBeLessThan(0.1);
  });

  it('uses the last common values when the series differ in length', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const b = a.map((v) => v * v);
    // Leading values of the longer series that would spoil the result if they were used.
    const longer = [1_000, -1_000, 500, ...b];
    expect(correlation(a, longer)).toBeCloseTo(9075 / Math.sqrt(825 * 105_105), 12);
    expect(correlation(longer, a)).toBeCloseTo(9075 / Math.sqrt(825 * 105_105), 12);
  });

  it('is undefined with fewer than 10 points, defined with 10', () => {
    const a = noise(3, 10);
    const b = noise(4, 10);
    expect(correlation(a.slice(1), b.slice(1))).toBeUndefined();
    expect(correlation(a, b.slice(1))).toBeUndefined();
    expect(correlation(a, b)).toBeDefined();
  });

  it('is undefined when either series has no variance', () => {
    // Flat prices give returns of exactly 0; a constant whose mean is exact behaves the same.
    const zero = Array.from({ length: 20 }, () => 0);
    const half = Array.from({ length: 20 }, () => 0.5);
    expect(correlation(zero, noise(5, 20))).toBeUndefined();
    expect(correlation(noise(5, 20), zero)).toBeUndefined();
    expect(correlation(half, noise(5, 20))).toBeUndefined();
    expect(correlation(zero, half)).toBeUndefined();
  });

  // Regression: a constant series whose mean is not exact in binary (0.01 · 20 / 20 ≠ 0.01) leaves rounding residue
  // in Σ(x − x̄)²; that must read as "no variance", not as a correlation anywhere in [−1, 1].
  it('is undefined for a constant series whose mean is not exact in binary', () => {
    const flat = Array.from({ length: 20 }, () => 0.01);
    expect(correlation(flat, noise(5, 20))).toBeUndefined();
    expect(correlation(flat, Array.from({ length: 20 }, () => 0.03))).toBeUndefined();
  });
});

describe('historicalVar95', () => {
  const hourly = noise(11, 24 * 8).map((u) => 0.004 * u);
  const closes = pathFrom(100, hourly); // 8 days of hourly returns → 193 closes

  it('is the loss at the 5th percentile of rolling 24-hour returns, times the weight', () => {
    const days = 6;
    const daily = dailyReturns(closes, days * 24).sort((a, b) => a - b);
    // 144 hours of history give 121 windows; the 5th percentile is the value at index floor(0.05 · 120) = 6.
    expect(daily).toHaveLength(121);
    const q = daily[6]!;
    expect(q).toBeLessThan(0);
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', closes]]), days)).toBeCloseTo(-q, 12);
    expect(historicalVar95(new Map([['A', 0.25]]), new Map([['A', closes]]), days)).toBeCloseTo(-0.25 * q, 12);
  });

  it('with 120 windows the 5th percentile is the 6th smallest 24h return (index floor(0.05 · 119) = 5)', () => {
    const recent = closes.slice(-144); // 143 hours → 120 windows
    const daily = dailyReturns(recent, 143).sort((a, b) => a - b);
    expect(daily).toHaveLength(120);
    expect(daily[5]).not.toBe(daily[6]);
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', recent]]), 6)).toBeCloseTo(Math.max(0, -daily[5]!), 12);
  });

  it('a steady fall of 0.2% an hour has a VaR of 1 − 0.998^24; a steady rise has none', () => {
    const falling = pathFrom(100, Array.from({ length: 24 * 6 }, () => -0.002));
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', falling]]), 6)).toBeCloseTo(1 - 0.998 ** 24, 10);
    const rising = pathFrom(100, Array.from({ length: 24 * 6 }, () => 0.002));
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', rising]]), 6)).toBe(0);
  });

  it('scales linearly with the weights', () => {
    const other = pathFrom(50, noise(12, 24 * 8).map((u) => 0.006 * u));
    const series = new Map([
      ['A', closes],
      ['B', other],
    ]);
    const base = historicalVar95(new Map([['A', 0.2], ['B', 0.1]]), series, 7)!;
    expect(base).toBeGreaterThan(0);
    for (const k of [0.5, 2, 3.7]) {
      expect(historicalVar95(new Map([['A', 0.2 * k], ['B', 0.1 * k]]), series, 7)).toBeCloseTo(k * base, 12);
    }
  });

  it('adds the symbols hour by hour: two legs on the same series act as one, a long and an equal short cancel', () => {
    const series = new Map([
      ['A', closes],
      ['B', [...closes]],
    ]);
    const single = historicalVar95(new Map([['A', 0.5]]), new Map([['A', closes]]), 6)!;
    expect(single).toBeGreaterThan(0.001);
    expect(historicalVar95(new Map([['A', 0.3], ['B', 0.2]]), series, 6)).toBeCloseTo(single, 12);
    expect(historicalVar95(new Map([['A', 0.5], ['B', -0.5]]), series, 6)).toBe(0);
  });

  it('uses only the last `days` of history', () => {
    const days = 5;
    const recent = closes.slice(closes.length - (days * 24 + 1));
    // A crash long before the window must not count.
    const crashed = [1_000, 10, ...recent];
    const want = historicalVar95(new Map([['A', 1]]), new Map([['A', recent]]), days);
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', crashed]]), days)).toBe(want);
    const daily = dailyReturns(recent, days * 24).sort((a, b) => a - b);
    expect(daily).toHaveLength(97);
    expect(want).toBeCloseTo(Math.max(0, -daily[Math.floor(0.05 * 96)]!), 12);
  });

  it('is 0 for empty or all-zero weights, even without any history', () => {
    expect(historicalVar95(new Map(), new Map(), 30)).toBe(0);
    expect(historicalVar95(new Map([['A', 0]]), new Map(), 30)).toBe(0);
  });

  it('is undefined with less than minDays of history (5 days = 121 hourly closes)', () => {
    const enough = closes.slice(closes.length - 121);
    const short = closes.slice(closes.length - 120);
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', enough]]), 30)).toBeDefined();
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', short]]), 30)).toBeUndefined();
    // One short symbol is enough to make the whole portfolio unknown.
    expect(historicalVar95(new Map([['A', 1], ['B', 0.1]]), new Map([['A', enough], ['B', short]]), 30)).toBeUndefined();
    // A weighted symbol with no closes at all.
    expect(historicalVar95(new Map([['A', 1], ['B', 0.1]]), new Map([['A', enough]]), 30)).toBeUndefined();
    // A custom minimum.
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', closes.slice(-(3 * 24 + 1))]]), 30, 3)).toBeDefined();
    expect(historicalVar95(new Map([['A', 1]]), new Map([['A', closes.slice(-(3 * 24))]]), 30, 3)).toBeUndefined();
  });
});

describe('averageTrueRange', () => {
  // Four bars; the third gaps up and the fourth gaps down, so the previous close decides their true range.
  const high = [102, 102, 106, 104];
  const low = [98, 99, 104, 101];
  const close = [100, 101, 105, 102];

  it('uses the previous close across gaps', () => {
    // bar 1: max(102−99, |102−100|, |99−100|) = 3
    // bar 2: max(106−104, |106−101|, |104−101|) = 5   (gap up: the high−low range alone would say 2)
    // bar 3: max(104−101, |104−105|, |101−105|) = 4   (gap down: the high−low range alone would say 3)
    expect(averageTrueRange(high, low, close, 3)).toBeCloseTo((3 + 5 + 4) / 3, 12);
    expect(averageTrueRange(high, low, close, 2)).toBeCloseTo((5 + 4) / 2, 12);
    expect(averageTrueRange(high, low, close, 1)).toBeCloseTo(4, 12);
  });

  it('needs period + 1 bars', () => {
    expect(averageTrueRange(high, low, close, 4)).toBeUndefined();
    expect(averageTrueRange(high.slice(1), low.slice(1), close.slice(1), 3)).toBeUndefined();
  });

  it('ignores bars before the last period + 1', () => {
    const wild = [1_000, 1];
    expect(averageTrueRange([...wild, ...high], [...wild, ...low], [...wild, ...close], 3)).toBeCloseTo(4, 12);
  });
});

describe('kellySize', () => {
  it('p = 0.6 at even payoff is a 20% full-Kelly bet, scaled by the fraction', () => {
    expect(kellySize(0.6, 1, 1, 0, 0.2)).toBeCloseTo(0.2, 12);
    expect(kellySize(0.6, 1, 0.5, 0, 0.2)).toBeCloseTo(0.1, 12);
    expect(kellySize(0.6, 1, 0.25, 0, 0.2)).toBeCloseTo(0.05, 12);
    // p − (1 − p) / b with b = 2: 0.55 − 0.45 / 2 = 0.325
    expect(kellySize(0.55, 2, 1, 0, 0.2)).toBeCloseTo(0.325, 12);
  });

  it('is 0 without an edge', () => {
    expect(kellySize(0.5, 1, 0.5, 0, 0.2)).toBe(0);
    expect(kellySize(0.4, 1, 0.5, 0, 0.2)).toBe(0);
    expect(kellySize(1 / 3, 2, 0.5, 0, 0.2)).toBeCloseTo(0, 12);
    expect(kellySize(0.6, 0, 0.5, 0, 0.2)).toBe(0);
    expect(kellySize(0, 1, 0.5, 0, 0.2)).toBe(0);
    expect(kellySize(Number.NaN, 1, 0.5, 0, 0.2)).toBe(0);
  });

  it('shrinks linearly with drawdown: halfway to the floor halves it, at the floor it is 0', () => {
    const full = kellySize(0.6, 1, 0.5, 0, 0.2);
    expect(kellySize(0.6, 1, 0.5, 0.1, 0.2)).toBeCloseTo(full / 2, 12);
    expect(kellySize(0.6, 1, 0.5, 0.05, 0.2)).toBeCloseTo(full * 0.75, 12);
    expect(kellySize(0.6, 1, 0.5, 0.2, 0.2)).toBe(0);
    expect(kellySize(0.6, 1, 0.5, 0.3, 0.2)).toBe(0);
    // A negative drawdown (equity above the peak) does not enlarge the bet.
    expect(kellySize(0.6, 1, 0.5, -0.1, 0.2)).toBeCloseTo(full, 12);
  });
});
