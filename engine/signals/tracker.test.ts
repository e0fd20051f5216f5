import { describe, expect, it } from 'vitest';
import { calibrationBins, expectedCalibrationError } from './calibration.js';
import { SignalTracker, type TrackerParams } from './tracker.js';
import { mulberry32 } from '../rng.js';

const H = 3_600_000;
const params: TrackerParams = {
  horizonBars: 24,
  winThreshold: 0.005,
  method: 'isotonic',
  window: 5_000,
  minSamples: 300,
  refitEvery: 100,
  eceThreshold: 0.05,
  patternSampleFloor: 30,
  conservativeMargin: 0.02,
};

/**
 * Feeds `n` up calls whose true win probability is `truth(raw)`; an outcome is a move of ±2% after the horizon.
 * Returns (calibrated probability at signal time, outcome) pairs for the calls made after the first fit.
 */
function feed(tracker: SignalTracker, n: number, truth: (raw: number) => number, seed: number, t0 = 0) {
  const random = mulberry32(seed).next;
  const given: Array<{ p: number; raw: number; win: boolean }> = [];
  const pending: Array<{ p: number | null; raw: number; win: boolean }> = [];
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * H;
    const raw = 0.5 + 0.5 * random();
    const win = random() < truth(raw);
    // the call made at ts resolves at ts + 24 h: its outcome close is fixed now, read back later
    outcomes.set(ts, win);
    const { calibrated } = tracker.confidence('up', raw, 'p');
    tracker.track('BTC/USD', ts, 100, 'up', raw, calibrated, 'p');
    pending.push({ p: calibrated, raw, win });
    const due = ts - 24 * H;
    if (outcomes.has(due)) {
      tracker.resolve('BTC/USD', ts, outcomes.get(due)! ? 102 : 98);
      const done = pending.shift()!;
      if (done.p !== null) given.push({ p: done.p, raw: done.raw, win: done.win });
    }
  }
  return given;
}
const outcomes = new Map<number, boolean>();

describe('SignalTracker', () => {
  it('judges a call only when its horizon has passed, against the round-trip cost', () => {
    const t = new SignalTracker(params);
    t.track('BTC/USD', 0, 100, 'up', 0.7, null, 'a');
    t.track('ETH/USD', 0, 100, 'down', 0.7, null, 'b');
    t.track('BTC/USD', H, 100, 'flat', 0.5, null, 'c');
    expect(t.resolve('BTC/USD', 23 * H, 150)).toEqual([]);
    const [up] = t.resolve('BTC/USD', 24 * H, 100.4);
    expect(up!.win).toBe(false); // +0.4% does not beat a 0.5% round trip
    expect(up!.pnl).toBeCloseTo(-0.001, 12);
    expect(t.resolve('BTC/USD', 48 * H, 1)).toEqual([]); // the flat call was never tracked
    const [down] = t.resolve('ETH/USD', 30 * H, 99); // a gap: the first bar after the horizon judges it
    expect(down!.win).toBe(true);
    expect(down!.pnl).toBeCloseTo(0.005, 12);
    expect(t.patterns.get('a')).toEqual({ wins: 0, total: 1 });
  });

  it('holds confidence at one half until the first fit', () => {
    const t = new SignalTracker(params);
    expect(t.confidence('up', 0.95, 'x')).toEqual({ calibrated: null, confidence: 0.5 });
    expect(t.calibrated).toBe(false);
  });

  it('calibrates: lower ECE than the raw score, and the ~0.6 bin wins about 60% of the time', () => {
    const t = new SignalTracker(params);
    // raw 0.5..1 → a true win rate of 0.45..0.75: the raw score is off, most of all at the low end
    const given = feed(t, 12_000, (raw) => 0.45 + 0.6 * (raw - 0.5), 1);
    expect(t.calibrated).toBe(true);
    const probs = given.map((g) => g.p);
    const wins = given.map((g) => g.win);
    const ece = expectedCalibrationError(probs, wins);
    expect(ece).toBeLessThan(0.05);
    expect(ece).toBeLessThan(expectedCalibrationError(given.map((g) => g.raw), wins) / 2);
    const bin = calibrationBins(probs, wins).find((b) => b.lo >= 0.55 && b.lo < 0.65 && b.count > 200);
    expect(bin).toBeDefined();
    expect(Math.abs(bin!.observedRate! - bin!.meanPredicted!)).toBeLessThan(0.05);
    expect(bin!.observedRate!).toBeGreaterThan(0.52);
    expect(bin!.observedRate!).toBeLessThan(0.7);
  });

  it('re-fits when the world drifts and the online ECE passes 5%', () => {
    const t = new SignalTracker(params);
    feed(t, 4_000, (r) => r - 0.1, 2);
    const before = t.status().refits;
    const after = feed(t, 6_000, (r) => 1.2 - r, 3, 4_000 * H); // the relation flips
    expect(t.status().refits).toBeGreaterThan(before);
    // the last calls are calibrated to the new world
    const tail = after.slice(-1_500);
    expect(expectedCalibrationError(tail.map((g) => g.p), tail.map((g) => g.win))).toBeLessThan(0.08);
  });

  it('subtracts the conservative margin, and a pattern moves confidence only above its sample floor', () => {
    const t = new SignalTracker({ ...params, patternSampleFloor: 30, minSamples: 100, refitEvery: 10 });
    feed(t, 500, () => 0.5, 4);
    const { calibrated, confidence } = t.confidence('up', 0.8, 'fresh');
    expect(confidence).toBeCloseTo(calibrated! - 0.02, 12);
    for (let i = 0; i < 29; i++) t.patterns.record('hot', true);
    expect(t.confidence('up', 0.8, 'hot').confidence).toBeCloseTo(confidence, 12);
    t.patterns.record('hot', true);
    expect(t.confidence('up', 0.8, 'hot').confidence).toBeGreaterThan(confidence);
  });
});
