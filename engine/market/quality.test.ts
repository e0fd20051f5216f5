import { describe, expect, it } from 'vitest';
import type { Bar } from '../types.js';
import { HOUR_MS } from './feed.js';
import { barFault, describeFinding, QualityGate, type QualityFinding, type QualityOptions } from './quality.js';

const T0 = Date.UTC(2024, 0, 1);
const S = 'BTC/USD';
const DEFAULTS: QualityOptions = { maxSigmas: 12, sigmaWindowBars: 168, maxGapBars: 1 };

/** Hour `i`'s bar closing at `close`, opening at the same price, with a small range and some volume. */
function bar(i: number, close: number, over: Partial<Bar> = {}): Bar {
  return { ts: T0 + i * HOUR_MS, open: close, high: close * 1.001, low: close * 0.999, close, volume: 10, ...over };
}

/** Feed one bar; what came out. */
function feed(gate: QualityGate, b: Bar, symbol = S): { good: boolean; findings: readonly QualityFinding[] } {
  const { good, findings } = gate.check({ ts: b.ts, bars: new Map([[symbol, b]]) });
  expect(good.ts).toBe(b.ts);
  return { good: good.bars.get(symbol) === b, findings };
}

const kinds = (findings: readonly QualityFinding[]) => findings.map((f) => f.kind);

/** Bars 0..30 closing 100, 101, 100, …, 100: 30 log returns of ±ln(1.01), so σ = ln(1.01) exactly. */
function seesaw(gate: QualityGate): void {
  for (let i = 0; i <= 30; i++) expect(feed(gate, bar(i, i % 2 === 0 ? 100 : 101)).good).toBe(true);
}

describe('barFault: one bar on its own', () => {
  it('accepts a sound bar', () => {
    expect(barFault(bar(0, 100), HOUR_MS, T0)).toBeUndefined();
  });

  it.each([
    ['NaN close', { close: Number.NaN }, 'not-finite', 'close is NaN, not a finite number'],
    ['Infinity high', { high: Number.POSITIVE_INFINITY }, 'not-finite', 'high is Infinity, not a finite number'],
    ['NaN volume', { volume: Number.NaN }, 'not-finite', 'volume is NaN, not a finite number'],
    ['zero close', { close: 0, low: 0 }, 'non-positive', 'low is 0; prices must be positive'],
    ['negative open', { open: -1 }, 'non-positive', 'open is -1; prices must be positive'],
    ['negative volume', { volume: -3 }, 'non-positive', 'volume is -3; it must not be negative'],
    ['high below low', { high: 99, low: 101 }, 'high-low', 'high 99 / low 101 do not bracket open 100 and close 100'],
    ['close above high', { close: 100.5 }, 'high-low', 'high 100.1 / low 99.9 do not bracket open 100 and close 100.5'],
  ] as const)('%s', (_name, over, kind, reason) => {
    expect(barFault(bar(0, 100, over), HOUR_MS)).toEqual({ kind, reason });
  });

  it('a timestamp off the hourly grid', () => {
    expect(barFault(bar(0, 100, { ts: T0 + 60_000 }), HOUR_MS)).toEqual({ kind: 'off-grid', reason: 'timestamp 2024-01-01T00:01:00.000Z is not on the 60-minute grid' });
  });

  it('a bar opening after the wall clock, only when a clock is given', () => {
    const b = bar(3, 100);
    expect(barFault(b, HOUR_MS, T0 + 2 * HOUR_MS)).toEqual({
      kind: 'future',
      reason: 'timestamp 2024-01-01T03:00:00.000Z is in the future (now 2024-01-01T02:00:00.000Z)',
    });
    expect(barFault(b, HOUR_MS, T0 + 3 * HOUR_MS)).toBeUndefined();
    expect(barFault(b, HOUR_MS)).toBeUndefined();
  });
});

describe('QualityGate', () => {
  it('passes sound bars through and reports nothing', () => {
    const gate = new QualityGate(DEFAULTS);
    const batch = { ts: T0, bars: new Map([['BTC/USD', bar(0, 100)], ['ETH/USD', bar(0, 5)]]) };
    const { good, findings } = gate.check(batch);
    expect(findings).toEqual([]);
    expect(good).toEqual(batch);
  });

  it('keeps the good bars of a batch and flags only the bad one', () => {
    const gate = new QualityGate(DEFAULTS);
    const bad = bar(0, 5, { close: Number.NaN });
    const { good, findings } = gate.check({ ts: T0, bars: new Map([['BTC/USD', bar(0, 100)], ['ETH/USD', bad]]) });
    expect([...good.bars.keys()]).toEqual(['BTC/USD']);
    expect(findings).toEqual([{ kind: 'not-finite', symbol: 'ETH/USD', bar: bad, reason: 'close is NaN, not a finite number' }]);
  });

  it('flags each per-bar fault with its kind, and the next sound bar is good', () => {
    const gate = new QualityGate({ ...DEFAULTS, now: () => T0 + 20 * HOUR_MS });
    expect(feed(gate, bar(0, 100)).good).toBe(true);
    const cases: Array<[Bar, string]> = [
      [bar(1, 100, { close: Number.NaN }), 'not-finite'],
      [bar(1, 100, { high: Number.POSITIVE_INFINITY }), 'not-finite'],
      [bar(1, 100, { close: 0, low: 0 }), 'non-positive'],
      [bar(1, 100, { open: -2 }), 'non-positive'],
      [bar(1, 100, { volume: -1 }), 'non-positive'],
      [bar(1, 100, { high: 98, low: 102 }), 'high-low'],
      [bar(1, 100, { ts: T0 + HOUR_MS + 1 }), 'off-grid'],
      [bar(21, 100), 'future'],
    ];
    for (const [b, kind] of cases) {
      const out = feed(gate, b);
      expect(out.good).toBe(false);
      expect(kinds(out.findings)).toEqual([kind]);
    }
    // None of them became the order reference: hour 1 is still new.
    expect(feed(gate, bar(1, 100))).toEqual({ good: true, findings: [] });
  });

  it('flags a second bar for the same hour as a duplicate and an older one as out of order', () => {
    const gate = new QualityGate(DEFAULTS);
    feed(gate, bar(0, 100));
    feed(gate, bar(1, 100));
    const dup = bar(1, 100.5, { high: 101 });
    expect(feed(gate, dup)).toEqual({ good: false, findings: [{ kind: 'duplicate', symbol: S, bar: dup, reason: 'a second bar for 2024-01-01T01:00:00.000Z' }] });
    const old = bar(0, 100);
    expect(feed(gate, old)).toEqual({
      good: false,
      findings: [{ kind: 'out-of-order', symbol: S, bar: old, reason: "timestamp 2024-01-01T00:00:00.000Z is older than the previous bar's 2024-01-01T01:00:00.000Z" }],
    });
    expect(feed(gate, bar(2, 100)).good).toBe(true);
  });

  it('flags a frozen bar (OHLC = previous close, zero volume) as stale, but not a flat bar that traded', () => {
    const gate = new QualityGate(DEFAULTS);
    feed(gate, bar(0, 100, { close: 101, high: 101.2 }));
    const frozen: Bar = { ts: T0 + HOUR_MS, open: 101, high: 101, low: 101, close: 101, volume: 0 };
    expect(feed(gate, frozen)).toEqual({
      good: false,
      findings: [{ kind: 'stale', symbol: S, bar: frozen, reason: 'frozen feed: open, high, low and close all equal the previous close 101, with zero volume' }],
    });
    // A repeat of the frozen bar is frozen too; an hour that traded flat is fine, and so is a quiet hour that moved.
    expect(kinds(feed(gate, { ...frozen, ts: T0 + 2 * HOUR_MS }).findings)).toEqual(['stale']);
    expect(feed(gate, { ...frozen, ts: T0 + 3 * HOUR_MS, volume: 0.5 })).toEqual({ good: true, findings: [] });
    expect(feed(gate, { ts: T0 + 4 * HOUR_MS, open: 101, high: 101.1, low: 101, close: 101.1, volume: 0 })).toEqual({ good: true, findings: [] });
  });

  it('before 24 returns are known, only a move of more than 50% in one bar is a jump', () => {
    const gate = new QualityGate(DEFAULTS);
    feed(gate, bar(0, 100));
    expect(feed(gate, bar(1, 140)).good).toBe(true); // +40%
    const spike = bar(2, 211);
    const out = feed(gate, spike);
    expect(out.good).toBe(false);
    expect(out.findings).toEqual([
      {
        kind: 'jump',
        symbol: S,
        bar: spike,
        reason: 'close 211 moved +50.7% from the close 140 of 2024-01-01T01:00:00.000Z (more than 50% before enough history for a volatility estimate)',
      },
    ]);
  });

  it('flags a close beyond maxSigmas standard deviations of the recent good returns', () => {
    const gate = new QualityGate(DEFAULTS);
    seesaw(gate);
    const spike = bar(31, 125);
    const out = feed(gate, spike);
    expect(out.good).toBe(false);
    expect(out.findings).toHaveLength(1);
    const [finding] = out.findings;
    expect(finding).toMatchObject({ kind: 'jump', symbol: S, bar: spike });
    expect(finding!.reason).toBe('close 125 moved +25.0% from the close 100 of 2024-01-02T06:00:00.000Z: 22.4σ (σ 1.00% per bar over the last 30 good bars; the limit is 12σ)');
    expect(finding!.kind === 'jump' && finding!.sigmas).toBeCloseTo(Math.log(1.25) / Math.log(1.01), 9);
    expect(describeFinding(out.findings[0]!)).toBe('BTC/USD jump 22.4σ at 2024-01-02T07:00Z');
    // 12σ is ±12.8%: just inside passes.
    const gate2 = new QualityGate(DEFAULTS);
    seesaw(gate2);
    expect(feed(gate2, bar(31, 100 * Math.exp(11.9 * Math.log(1.01)))).good).toBe(true);
  });

  it('a single bad print is flagged once: the bar after it, back near the last good close, is good', () => {
    const gate = new QualityGate(DEFAULTS);
    seesaw(gate);
    expect(kinds(feed(gate, bar(31, 125)).findings)).toEqual(['jump']);
    expect(feed(gate, bar(32, 101))).toEqual({ good: true, findings: [] });
    expect(feed(gate, bar(33, 100))).toEqual({ good: true, findings: [] });
  });

  it('a level change flags its first bar and accepts the next bar, which is near the flagged one', () => {
    const gate = new QualityGate(DEFAULTS);
    seesaw(gate);
    expect(kinds(feed(gate, bar(31, 125)).findings)).toEqual(['jump']);
    // 126 is 16σ from the last good close (over two hours) but only 0.8% from the bar before: confirmed.
    expect(feed(gate, bar(32, 126))).toEqual({ good: true, findings: [] });
    expect(feed(gate, bar(33, 125))).toEqual({ good: true, findings: [] });
  });

  it('floors σ at 0.1% so a flat series does not flag every tick', () => {
    const flat = () => {
      const gate = new QualityGate(DEFAULTS);
      for (let i = 0; i <= 30; i++) feed(gate, bar(i, 100));
      return gate;
    };
    expect(feed(flat(), bar(31, 101)).good).toBe(true); // +1% = 9.95σ of the 0.1% floor
    const out = feed(flat(), bar(31, 101.3)); // +1.3% = 12.9σ
    expect(kinds(out.findings)).toEqual(['jump']);
    expect(out.findings[0]!.reason).toContain('12.9σ (σ 0.10% per bar over the last 30 good bars');
  });

  it('reports a gap longer than maxGapBars with its count, and keeps the bar after it', () => {
    const gate = new QualityGate(DEFAULTS);
    feed(gate, bar(0, 100));
    feed(gate, bar(1, 100));
    expect(feed(gate, bar(3, 100))).toEqual({ good: true, findings: [] }); // one missing hour: within maxGapBars
    const after = bar(7, 100);
    expect(feed(gate, after)).toEqual({
      good: true,
      findings: [{ kind: 'gap', symbol: S, bar: after, missingBars: 3, reason: '3 bars missing between 2024-01-01T03:00:00.000Z and 2024-01-01T07:00:00.000Z' }],
    });
  });

  it('scales σ with the hours since the reference, so a move over a long gap is not a jump', () => {
    const gate = new QualityGate(DEFAULTS);
    seesaw(gate);
    // +20% after 100 hours is 20.5σ per hour but 2.05σ over √100 hours.
    const out = feed(gate, bar(131, 120));
    expect(out.good).toBe(true);
    expect(kinds(out.findings)).toEqual(['gap']);
  });

  it('keeps separate state per symbol', () => {
    const gate = new QualityGate(DEFAULTS);
    feed(gate, bar(0, 100), 'BTC/USD');
    feed(gate, bar(0, 5), 'ETH/USD');
    expect(feed(gate, bar(1, 5.1), 'ETH/USD').good).toBe(true);
    expect(feed(gate, bar(1, 101), 'BTC/USD').good).toBe(true);
  });
});
