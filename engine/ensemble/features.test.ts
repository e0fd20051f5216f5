import { describe, expect, it } from 'vitest';
import type { Bar } from '../types.js';
import { FeatureSet, HigherTimeframeFeatureSet } from '../features/features.js';
import {
  FEATURE_KEYS,
  featureIndices,
  FeatureVectorizer,
  H4_FEATURE_KEYS,
  HOURLY_FEATURE_KEYS,
  MAX_RETURN_LAG,
  PRICE_VALUED_KEYS,
  returnKeys,
  selectFeatures,
} from './features.js';
import { mulberry32 } from '../rng.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2021, 0, 1);

/** A seeded random walk with wicks and volume. */
function walk(n: number, seed: number, start = 100, from = T0): Bar[] {
  const rnd = mulberry32(seed).next;
  const bars: Bar[] = [];
  let close = start;
  for (let i = 0; i < n; i++) {
    const open = close;
    close = open * Math.exp((rnd() - 0.5) * 0.02);
    const high = Math.max(open, close) * (1 + rnd() * 0.004);
    const low = Math.min(open, close) * (1 - rnd() * 0.004);
    bars.push({ ts: from + i * HOUR, open, high, low, close, volume: 50 + rnd() * 100 });
  }
  return bars;
}

function vectorize(bars: readonly Bar[]): (Float32Array | null)[] {
  const v = new FeatureVectorizer();
  return bars.map((b) => v.update(b));
}

describe('FEATURE_KEYS', () => {
  it('covers every hourly snapshot key: scale-free ones as inputs, price-valued ones left out, in snapshot order', () => {
    const snapKeys = Object.keys(new FeatureSet().update(walk(1, 1)[0]!));
    for (const k of snapKeys) expect(HOURLY_FEATURE_KEYS.includes(k) !== PRICE_VALUED_KEYS.includes(k), k).toBe(true);
    expect(snapKeys.filter((k) => HOURLY_FEATURE_KEYS.includes(k))).toEqual(HOURLY_FEATURE_KEYS);
    expect(PRICE_VALUED_KEYS.every((k) => snapKeys.includes(k))).toBe(true);
  });

  it('is hourly keys, their h4_ counterparts (real keys of the 4-hour set), then ret_1 … ret_48, all unique', () => {
    expect(FEATURE_KEYS).toHaveLength(2 * HOURLY_FEATURE_KEYS.length + MAX_RETURN_LAG);
    expect(new Set(FEATURE_KEYS).size).toBe(FEATURE_KEYS.length);
    expect(FEATURE_KEYS.slice(-MAX_RETURN_LAG)).toEqual(returnKeys());
    expect(returnKeys(3)).toEqual(['ret_1', 'ret_2', 'ret_3']);
    const h4 = new HigherTimeframeFeatureSet();
    let snap = null;
    for (const b of walk(4, 2)) snap = h4.update(b) ?? snap;
    expect(snap).not.toBeNull();
    for (const k of H4_FEATURE_KEYS) expect(Object.keys(snap!)).toContain(k);
  });

  it('featureIndices finds keys in FEATURE_KEYS and refuses unknown ones', () => {
    const idx = featureIndices(['ret_1', 'rsi14', 'h4_rsi14']);
    expect(Array.from(idx)).toEqual([FEATURE_KEYS.indexOf('ret_1'), FEATURE_KEYS.indexOf('rsi14'), FEATURE_KEYS.indexOf('h4_rsi14')]);
    expect(() => featureIndices(['macd'])).toThrow(/unknown feature key "macd"/);
    const full = Float32Array.from(FEATURE_KEYS, (_, i) => i);
    expect(Array.from(selectFeatures(full, idx))).toEqual(Array.from(idx));
  });
});

describe('FeatureVectorizer', () => {
  const bars = walk(700, 7);
  const vectors = vectorize(bars);

  it('is null while warming up, then a full vector on every bar', () => {
    const first = vectors.findIndex((v) => v !== null);
    // the 4-hour feature set needs ~50 four-hour bars; the returns need 49 closes
    expect(first).toBeGreaterThan(4 * 50);
    expect(first).toBeLessThan(400);
    expect(vectors.slice(0, first).every((v) => v === null)).toBe(true);
    for (const v of vectors.slice(first)) {
      expect(v).not.toBeNull();
      expect(v!.length).toBe(FEATURE_KEYS.length);
      expect(v!.every(Number.isFinite)).toBe(true);
    }
  });

  it('has ret_k = ln(close[t−k+1] / close[t−k])', () => {
    const t = 650;
    const v = vectors[t]!;
    for (const k of [1, 2, 17, 48]) {
      expect(v[FEATURE_KEYS.indexOf(`ret_${k}`)]).toBe(Math.fround(Math.log(bars[t - k + 1]!.close / bars[t - k]!.close)));
    }
  });

  it('never looks ahead: changing later bars leaves every earlier vector bit-identical', () => {
    for (const cut of [300, 433, 601]) {
      const other = walk(700 - cut, 99 + cut, bars[cut - 1]!.close * 1.3, bars[cut]!.ts);
      const changed = vectorize([...bars.slice(0, cut), ...other]);
      for (let i = 0; i < cut; i++) expect(changed[i]).toEqual(vectors[i]);
      // …and the later ones did change
      expect(changed[cut]).not.toEqual(vectors[cut]);
    }
  });

  it('is scale-free: prices ×1000 and volume ×7 give the same vectors', () => {
    const scaled = vectorize(bars.map((b) => ({ ts: b.ts, open: b.open * 1000, high: b.high * 1000, low: b.low * 1000, close: b.close * 1000, volume: b.volume * 7 })));
    for (let i = 0; i < bars.length; i++) {
      const a = vectors[i] ?? null;
      const b = scaled[i];
      if (a === null) {
        expect(b).toBeNull();
        continue;
      }
      for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b![k]!), `${FEATURE_KEYS[k]} at bar ${i}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(a[k]!)));
    }
  });

  it('treats a bar with a NaN or impossible value as missing: null for it, and later bars are unaffected', () => {
    const v = new FeatureVectorizer();
    const out: (Float32Array | null)[] = [];
    bars.forEach((b, i) => {
      if (i === 500) out.push(v.update({ ...b, close: Number.NaN }));
      if (i === 520) out.push(v.update({ ...b, volume: Number.NaN }));
      if (i === 540) out.push(v.update({ ...b, low: 0 }));
      if (i !== 500 && i !== 520 && i !== 540) out.push(v.update(b));
    });
    expect(out[500]).toBeNull();
    expect(out[520]).toBeNull();
    expect(out[540]).toBeNull();
    for (let i = 541; i < bars.length; i++) expect(out[i]!.every(Number.isFinite)).toBe(true);
    // before the bad bar, nothing differs
    for (let i = 0; i < 500; i++) expect(out[i]).toEqual(vectors[i]);
  });

  it('refuses bars out of time order', () => {
    const v = new FeatureVectorizer();
    v.update(bars[1]!);
    expect(() => v.update(bars[0]!)).toThrow(/increasing time order/);
  });
});
