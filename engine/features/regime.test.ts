import { describe, expect, it } from 'vitest';
import type { Bar } from '../types.js';
import { FeatureSet, HigherTimeframeFeatureSet, type FeatureSnapshot } from './features.js';
import {
  RegimeClassifier,
  confirmAcrossTimeframes,
  momentumLabel,
  policyFor,
  trendLabel,
  volatilityLabel,
  volumeLabel,
  type Regime,
  type RegimePolicyTable,
} from './regime.js';

/** A neutral, fully warmed snapshot with overrides. */
function snap(over: Partial<Record<string, number | null>> = {}, prefix = ''): FeatureSnapshot {
  const base: Record<string, number | null> = { rv24: 0.5, adx14: 10, plus_di14: 20, minus_di14: 20, macd_hist: 0, rsi14: 50, ...over };
  const out: FeatureSnapshot = {};
  for (const [k, v] of Object.entries(base)) out[prefix + k] = v ?? null;
  return out;
}

/** A classifier with a 100-value volatility window pre-filled with rv = 1..100 and volumes 10,20 alternating. */
function primed(options: ConstructorParameters<typeof RegimeClassifier>[0] = {}): RegimeClassifier {
  const c = new RegimeClassifier({ volWindow: 100, volumeWindow: 100, ...options });
  for (let i = 1; i <= 100; i++) c.update(snap({ rv24: i }), i % 2 === 0 ? 20 : 10);
  return c;
}

describe('label rules at and around thresholds', () => {
  it('volatility percentile buckets (upper bucket at the threshold)', () => {
    expect(volatilityLabel(0)).toBe('low');
    expect(volatilityLabel(32.99)).toBe('low');
    expect(volatilityLabel(33)).toBe('medium');
    expect(volatilityLabel(65.99)).toBe('medium');
    expect(volatilityLabel(66)).toBe('high');
    expect(volatilityLabel(89.99)).toBe('high');
    expect(volatilityLabel(90)).toBe('extreme');
    expect(volatilityLabel(100)).toBe('extreme');
    expect(volatilityLabel(50, { low: 10, high: 20, extreme: 60 })).toBe('high');
  });

  it('trend from ADX and DIs', () => {
    expect(trendLabel(25, 30, 20)).toBe('up');
    expect(trendLabel(24.99, 30, 20)).toBe('sideways');
    expect(trendLabel(25, 20, 30)).toBe('down');
    expect(trendLabel(40, 25, 25)).toBe('sideways');
    expect(trendLabel(22, 30, 20, 20)).toBe('up');
  });

  it('momentum from MACD histogram sign and RSI side', () => {
    expect(momentumLabel(0.1, 50)).toBe('rising');
    expect(momentumLabel(0.1, 49.99)).toBe('flat');
    expect(momentumLabel(-0.1, 50)).toBe('falling');
    expect(momentumLabel(-0.1, 50.01)).toBe('flat');
    expect(momentumLabel(0, 70)).toBe('flat');
    expect(momentumLabel(0.1, 55, 60)).toBe('flat');
  });

  it('volume from z-score', () => {
    expect(volumeLabel(1)).toBe('high');
    expect(volumeLabel(0.99)).toBe('normal');
    expect(volumeLabel(-0.99)).toBe('normal');
    expect(volumeLabel(-1)).toBe('low');
    expect(volumeLabel(1.5, 2, -2)).toBe('normal');
  });
});

describe('RegimeClassifier', () => {
  it('returns null while warming up', () => {
    const c = new RegimeClassifier({ volWindow: 10, volumeWindow: 5 });
    for (let i = 0; i < 10; i++) expect(c.update(snap({ rv24: i }), 100)).toBeNull();
    expect(c.update(snap(), 100)).not.toBeNull();
    // missing features (indicators still warming) → null, but history still accumulates
    const d = new RegimeClassifier({ volWindow: 3, volumeWindow: 3 });
    for (let i = 0; i < 3; i++) d.update(snap({ rv24: i }), 1);
    expect(d.update(snap({ adx14: null }), 1)).toBeNull();
    expect(d.update(snap({ rsi14: null }), 1)).toBeNull();
    expect(d.update(snap(), 1)).not.toBeNull();
    // rv24 null is not added to the window
    const e = new RegimeClassifier({ volWindow: 2, volumeWindow: 1 });
    e.update(snap({ rv24: null }), 1);
    e.update(snap({ rv24: 1 }), 1);
    expect(e.update(snap({ rv24: 2 }), 1)).toBeNull();
    expect(e.bufferLengths()).toEqual([2, 1]);
  });

  it('volatility labels from the percentile among past values', () => {
    // past = 1..100 (window 100); current ranked against those before it joins
    const at = (rv: number): Regime => primed().update(snap({ rv24: rv }), 15)!;
    expect(at(33).volatilityPercentile).toBe(32);
    expect(at(33).volatility).toBe('low');
    expect(at(33.5).volatility).toBe('medium');
    expect(at(66).volatility).toBe('medium');
    expect(at(66.5).volatility).toBe('high');
    expect(at(90).volatility).toBe('high');
    expect(at(90.5).volatility).toBe('extreme');
    expect(at(0).volatility).toBe('low');
    expect(at(1000).volatilityPercentile).toBe(100);
  });

  it('volatility uses only past values: future inputs never change earlier labels', () => {
    const series = Array.from({ length: 300 }, (_, i) => 1 + Math.sin(i / 7) + (i % 13) / 10);
    const run = (n: number, tail: number[]): (Regime | null)[] => {
      const c = new RegimeClassifier({ volWindow: 50, volumeWindow: 20 });
      const out: (Regime | null)[] = [];
      for (const [i, rv] of [...series.slice(0, n), ...tail].entries()) out.push(c.update(snap({ rv24: rv }), 100 + (i % 5)));
      return out;
    };
    const a = run(300, []);
    const b = run(200, Array.from({ length: 100 }, () => 999));
    const d = run(200, Array.from({ length: 100 }, () => 0));
    expect(b.slice(0, 200)).toEqual(a.slice(0, 200));
    expect(d.slice(0, 200)).toEqual(a.slice(0, 200));
    expect(b[200]!.volatility).toBe('extreme'); // first 999 ranks above every past value
    expect(b[250]!.volatility).toBe('low'); // once the window is all 999, 999 is no longer unusual
  });

  it('the volatility window rolls: old values leave it', () => {
    const c = new RegimeClassifier({ volWindow: 10, volumeWindow: 1 });
    for (let i = 0; i < 10; i++) c.update(snap({ rv24: 100 }), 1);
    expect(c.update(snap({ rv24: 5 }), 1)!.volatility).toBe('low');
    for (let i = 0; i < 10; i++) c.update(snap({ rv24: 1 }), 1);
    expect(c.update(snap({ rv24: 5 }), 1)!.volatility).toBe('extreme');
    expect(c.bufferLengths()).toEqual([10, 1]);
  });

  it('volume z-score against past volumes', () => {
    // past volumes alternate 10/20: mean 15, population std 5
    const vol = (v: number): Regime => primed().update(snap(), v)!;
    expect(vol(20).volumeZ).toBeCloseTo(1, 12);
    expect(vol(20).volume).toBe('high');
    expect(vol(19.9).volume).toBe('normal');
    expect(vol(10.1).volume).toBe('normal');
    expect(vol(10).volume).toBe('low');
    const flat = new RegimeClassifier({ volWindow: 1, volumeWindow: 3 });
    for (let i = 0; i < 3; i++) flat.update(snap(), 7);
    expect(flat.update(snap(), 100)!.volume).toBe('normal');
  });

  it('trend and momentum from the snapshot, with configurable thresholds', () => {
    const r = primed().update(snap({ adx14: 25, plus_di14: 30, minus_di14: 10, macd_hist: 0.2, rsi14: 50 }), 15)!;
    expect([r.trend, r.momentum]).toEqual(['up', 'rising']);
    const s = primed().update(snap({ adx14: 24.9, plus_di14: 10, minus_di14: 30, macd_hist: -0.2, rsi14: 45 }), 15)!;
    expect([s.trend, s.momentum]).toEqual(['sideways', 'falling']);
    const t = primed({ adxTrend: 20, rsiMid: 40 }).update(snap({ adx14: 24.9, plus_di14: 10, minus_di14: 30, macd_hist: -0.2, rsi14: 45 }), 15)!;
    expect([t.trend, t.momentum]).toEqual(['down', 'flat']);
  });

  it('reads h4_ keys with prefix h4_', () => {
    const c = new RegimeClassifier({ prefix: 'h4_', volWindow: 2, volumeWindow: 2 });
    c.update(snap({ rv24: 1 }, 'h4_'), 1);
    c.update(snap({ rv24: 2 }, 'h4_'), 2);
    expect(c.update(snap({ rv24: 3 }), 3)).toBeNull(); // unprefixed keys are not read
    const r = c.update(snap({ rv24: 9, adx14: 30, plus_di14: 5, minus_di14: 20 }, 'h4_'), 3)!;
    expect(r.trend).toBe('down');
    expect(r.volatility).toBe('extreme');
  });

  it('rejects bad config', () => {
    expect(() => new RegimeClassifier({ volWindow: 0 })).toThrow(RangeError);
    expect(() => new RegimeClassifier({ volWindow: 10, volMinHistory: 11 })).toThrow(RangeError);
    expect(() => new RegimeClassifier({ volThresholds: { low: 70 } })).toThrow(RangeError);
    expect(() => new RegimeClassifier({ volumeHighZ: -2 })).toThrow(RangeError);
  });

  it('runs on real FeatureSet / HigherTimeframeFeatureSet output', () => {
    const fs = new FeatureSet();
    const h4 = new HigherTimeframeFeatureSet();
    const c1 = new RegimeClassifier({ volWindow: 100, volumeWindow: 50 });
    const c4 = new RegimeClassifier({ prefix: 'h4_', volWindow: 30, volumeWindow: 20 });
    let h4Volume = 0;
    let first1: number | null = null;
    let last: { r1: Regime | null; r4: Regime | null } = { r1: null, r4: null };
    for (let i = 0; i < 2000; i++) {
      const close = 100 * Math.exp(0.1 * Math.sin(i / 50) + 0.01 * Math.sin(i / 3));
      const bar: Bar = { ts: i * 3_600_000, open: close * 0.999, high: close * 1.004, low: close * 0.996, close, volume: 10 + (i % 7) };
      const r1 = c1.update(fs.update(bar), bar.volume);
      if (r1 && first1 === null) first1 = i;
      h4Volume += bar.volume;
      const s4 = h4.update(bar);
      if (s4) {
        last.r4 = c4.update(s4, h4Volume);
        h4Volume = 0;
      }
      last.r1 = r1;
    }
    // rv24 (the slowest input used) is first non-null at index 24; the window then needs 100 past values
    expect(first1).toBe(24 + 100);
    expect(last.r1).not.toBeNull();
    expect(last.r4).not.toBeNull();
    expect(['confirmed', 'conflicting', 'unconfirmed']).toContain(confirmAcrossTimeframes(last.r1, last.r4));
    expect(Math.max(...c1.bufferLengths())).toBeLessThanOrEqual(100);
  });
});

describe('confirmAcrossTimeframes', () => {
  const L = (trend: Regime['trend'], momentum: Regime['momentum']) => ({ trend, momentum });
  it('confirmed when trend and momentum agree on both', () => {
    expect(confirmAcrossTimeframes(L('up', 'rising'), L('up', 'rising'))).toBe('confirmed');
    expect(confirmAcrossTimeframes(L('down', 'falling'), L('down', 'falling'))).toBe('confirmed');
  });
  it('conflicting when they point opposite ways', () => {
    expect(confirmAcrossTimeframes(L('up', 'rising'), L('down', 'falling'))).toBe('conflicting');
    expect(confirmAcrossTimeframes(L('up', 'flat'), L('sideways', 'falling'))).toBe('conflicting');
    expect(confirmAcrossTimeframes(L('sideways', 'rising'), L('down', 'flat'))).toBe('conflicting');
  });
  it('unconfirmed otherwise or when one is missing', () => {
    expect(confirmAcrossTimeframes(L('up', 'rising'), L('up', 'flat'))).toBe('unconfirmed');
    expect(confirmAcrossTimeframes(L('up', 'rising'), L('sideways', 'flat'))).toBe('unconfirmed');
    expect(confirmAcrossTimeframes(L('sideways', 'flat'), L('sideways', 'flat'))).toBe('unconfirmed');
    // disagreement within one timeframe only is not a cross-timeframe conflict unless the other side opposes it
    expect(confirmAcrossTimeframes(L('up', 'falling'), L('sideways', 'flat'))).toBe('unconfirmed');
    expect(confirmAcrossTimeframes(L('up', 'rising'), null)).toBe('unconfirmed');
    expect(confirmAcrossTimeframes(null, L('up', 'rising'))).toBe('unconfirmed');
    expect(confirmAcrossTimeframes(undefined, undefined)).toBe('unconfirmed');
  });
});

describe('policyFor', () => {
  const table: RegimePolicyTable = {
    default: { sizeMultiplier: 1, minConfidence: 0.5 },
    byVolatility: {
      high: { sizeMultiplier: 0.5, minConfidence: 0.65 },
      extreme: { sizeMultiplier: 0 },
    },
  };
  it('picks the volatility regime entry, merged over the default', () => {
    expect(policyFor({ volatility: 'high' }, table)).toEqual({ sizeMultiplier: 0.5, minConfidence: 0.65 });
    expect(policyFor({ volatility: 'extreme' }, table)).toEqual({ sizeMultiplier: 0, minConfidence: 0.5 });
  });
  it('falls back to the default', () => {
    expect(policyFor({ volatility: 'low' }, table)).toEqual({ sizeMultiplier: 1, minConfidence: 0.5 });
    expect(policyFor(null, table)).toEqual({ sizeMultiplier: 1, minConfidence: 0.5 });
    expect(policyFor({ volatility: 'high' }, { default: { sizeMultiplier: 2, minConfidence: 0.1 } })).toEqual({ sizeMultiplier: 2, minConfidence: 0.1 });
  });
  it('works with a parsed JSON table and rejects invalid values', () => {
    const parsed = JSON.parse('{"default":{"sizeMultiplier":1,"minConfidence":0.5},"byVolatility":{"medium":{"minConfidence":0.55}}}') as RegimePolicyTable;
    expect(policyFor({ volatility: 'medium' }, parsed)).toEqual({ sizeMultiplier: 1, minConfidence: 0.55 });
    expect(() => policyFor({ volatility: 'low' }, { default: { sizeMultiplier: -1, minConfidence: 0.5 } })).toThrow(RangeError);
    expect(() => policyFor({ volatility: 'low' }, { default: { sizeMultiplier: 1, minConfidence: 1.5 } })).toThrow(RangeError);
  });
});
