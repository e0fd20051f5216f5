import { describe, expect, it } from 'vitest';
import type { BarBatch } from '../types.js';
import { EMBEDDED_ORIGIN, EmbeddedMarket } from './embedded-market.js';
import { HOUR_MS } from './feed.js';

const SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD'] as const;

function take(market: EmbeddedMarket, count: number): BarBatch[] {
  const out: BarBatch[] = [];
  for (let i = 0; i < count; i++) out.push(market.next());
  return out;
}

/** Plain data for deep comparison (Maps compare by entries in vitest, but arrays give clearer diffs). */
function plain(batches: readonly BarBatch[]) {
  return batches.map((b) => ({ ts: b.ts, bars: [...b.bars.entries()] }));
}

function logReturns(batches: readonly BarBatch[], symbol: string): number[] {
  const out: number[] = [];
  for (let i = 1; i < batches.length; i++) {
    const prev = batches[i - 1]!.bars.get(symbol)!.close;
    const cur = batches[i]!.bars.get(symbol)!.close;
    out.push(Math.log(cur / prev));
  }
  return out;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sampleStdev(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

function excessKurtosis(xs: readonly number[]): number {
  const m = mean(xs);
  const m2 = xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length;
  const m4 = xs.reduce((a, x) => a + (x - m) ** 4, 0) / xs.length;
  return m4 / (m2 * m2) - 3;
}

function correlation(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('EmbeddedMarket', () => {
  it('gives identical bars for the same seed', () => {
    const a = take(new EmbeddedMarket(SYMBOLS, 42), 500);
    const b = take(new EmbeddedMarket(SYMBOLS, 42), 500);
    expect(plain(a)).toEqual(plain(b));
  });

  it('gives different bars for a different seed', () => {
    const a = take(new EmbeddedMarket(SYMBOLS, 42), 50);
    const b = take(new EmbeddedMarket(SYMBOLS, 43), 50);
    // Bar 0 opens at the profile price for every seed; everything after the first shock differs.
    const closesA = a.map((x) => x.bars.get('BTC/USD')!.close);
    const closesB = b.map((x) => x.bars.get('BTC/USD')!.close);
    expect(closesA).not.toEqual(closesB);
    const differing = closesA.filter((c, i) => c !== closesB[i]).length;
    expect(differing).toBeGreaterThan(45);
  });

  it('seek(n) then next() equals the (n+1)-th bar of a fresh generator', () => {
    for (const n of [0, 1, 7, 1_234]) {
      const fresh = take(new EmbeddedMarket(SYMBOLS, 7), n + 1);
      const sought = new EmbeddedMarket(SYMBOLS, 7);
      // Move it somewhere else first: seek must not depend on where the generator was.
      take(sought, 3);
      sought.seek(n);
      expect(sought.cursor).toBe(n);
      const bar = sought.next();
      expect(plain([bar])).toEqual(plain([fresh[n]!]));
      expect(bar.ts).toBe(EMBEDDED_ORIGIN + n * HOUR_MS);
    }
  });

  it('advances the cursor by one per next(), with hourly timestamps', () => {
    const market = new EmbeddedMarket(SYMBOLS, 1);
    expect(market.cursor).toBe(0);
    for (let i = 0; i < 100; i++) {
      const b = market.next();
      expect(market.cursor).toBe(i + 1);
      expect(b.ts).toBe(EMBEDDED_ORIGIN + i * HOUR_MS);
      expect([...b.bars.keys()]).toEqual([...SYMBOLS]);
    }
    // history returns what came before the cursor, oldest first
    const hist = market.history(10);
    expect(hist).toHaveLength(10);
    expect(hist[9]!.ts).toBe(EMBEDDED_ORIGIN + 99 * HOUR_MS);
  });

  it('produces valid bars: high ≥ max(open, close), low ≤ min(open, close), all positive and finite', () => {
    const batches = take(new EmbeddedMarket(SYMBOLS, 42), 5_000);
    const bad: string[] = [];
    for (const b of batches) {
      for (const [symbol, bar] of b.bars) {
        const values = [bar.open, bar.high, bar.low, bar.close, bar.volume];
        const ok =
          values.every((v) => Number.isFinite(v) && v > 0) &&
          bar.high >= Math.max(bar.open, bar.close) &&
          bar.low <= Math.min(bar.open, bar.close) &&
          bar.ts === b.ts;
        if (!ok) bad.push(`${symbol} ${JSON.stringify(bar)}`);
      }
    }
    expect(bad).toEqual([]);
    // Continuity: each bar opens at the previous close.
    const gaps: string[] = [];
    for (let i = 1; i < batches.length; i++) {
      for (const s of SYMBOLS) if (batches[i]!.bars.get(s)!.open !== batches[i - 1]!.bars.get(s)!.close) gaps.push(`${s} at bar ${i}`);
    }
    expect(gaps).toEqual([]);
  });

  describe('looks like crypto over a year of hourly bars', () => {
    for (const seed of [42, 2024]) {
      const batches = take(new EmbeddedMarket(['BTC/USD', 'ETH/USD'], seed), 8_760);
      const btc = logReturns(batches, 'BTC/USD');
      const eth = logReturns(batches, 'ETH/USD');

      it(`seed ${seed}: BTC/USD annualized volatility between 30% and 150%`, () => {
        const annualVol = sampleStdev(btc) * Math.sqrt(8_760);
        expect(annualVol).toBeGreaterThan(0.3);
        expect(annualVol).toBeLessThan(1.5);
      });

      it(`seed ${seed}: fat tails (excess kurtosis > 1)`, () => {
        expect(excessKurtosis(btc)).toBeGreaterThan(1);
      });

      it(`seed ${seed}: BTC/ETH return correlation between 0.4 and 0.95`, () => {
        const rho = correlation(btc, eth);
        expect(rho).toBeGreaterThan(0.4);
        expect(rho).toBeLessThan(0.95);
      });
    }
  });
});
