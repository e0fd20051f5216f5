import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BetaShrinkage,
  CalibrationInputError,
  Calibrator,
  HysteresisTier,
  IsotonicCalibrator,
  PatternTable,
  PlattCalibrator,
  calibrationBins,
  expectedCalibrationError,
  sigmoid,
} from './calibration.js';
import { mulberry32 } from '../rng.js';

/**
 * Synthetic signal: score ~ U(0, 1) is reported as the "probability", but the true win probability
 * is sigmoid(2·score − 1) — too confident at both ends.
 */
function synthetic(n: number, seed: number): { scores: number[]; outcomes: boolean[] } {
  const rnd = mulberry32(seed).next;
  const scores: number[] = [];
  const outcomes: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const s = rnd();
    scores.push(s);
    outcomes.push(rnd() < sigmoid(2 * s - 1));
  }
  return { scores, outcomes };
}

describe('calibration on miscalibrated synthetic data', () => {
  const N = 20_000;
  const { scores, outcomes } = synthetic(N, 12345);
  const half = N / 2;
  const trainS = scores.slice(0, half);
  const trainY = outcomes.slice(0, half);
  const testS = scores.slice(half);
  const testY = outcomes.slice(half);
  const eceRaw = expectedCalibrationError(testS, testY);
  const measured: Record<string, number> = { raw: eceRaw };

  it('raw scores are badly calibrated', () => {
    // Expected |s − sigmoid(2s − 1)| averaged over U(0,1) is ≈ 0.11.
    expect(eceRaw).toBeGreaterThan(0.08);
  });

  for (const method of ['platt', 'isotonic', 'beta'] as const) {
    it(`${method}: fitted in-sample, lowers out-of-sample ECE; the ~0.6 bin wins ~60 %`, () => {
      const cal = new Calibrator({ method });
      expect(cal.fit(trainS, trainY)).toEqual({ fitted: true, samples: half });
      const probs = cal.predictAll(testS);
      const ece = expectedCalibrationError(probs, testY);
      measured[method] = ece;
      expect(ece).toBeLessThan(eceRaw / 2);
      expect(ece).toBeLessThan(0.05);
      expect(cal.needsRefit(probs, testY)).toBe(false);

      if (method === 'beta') return; // piecewise-constant; no meaningful "0.6 bin" check
      const bin = calibrationBins(probs, testY).find((b) => b.lo <= 0.6 && 0.6 < b.hi + 1e-12 && b.lo > 0.55);
      expect(bin).toBeDefined();
      const { count, meanPredicted, observedRate } = bin!;
      // Bin [0.6, 0.7) — holds roughly s ∈ [0.7, 0.92], i.e. ~2,000 samples.
      expect(count).toBeGreaterThan(500);
      const se = Math.sqrt((meanPredicted! * (1 - meanPredicted!)) / count);
      expect(Math.abs(observedRate! - meanPredicted!)).toBeLessThan(3 * se);
    });
  }

  it('the probabilities around 0.6 (0.55–0.65) win about 60 % of the time (Platt, isotonic)', () => {
    for (const method of ['platt', 'isotonic'] as const) {
      const cal = new Calibrator({ method });
      cal.fit(trainS, trainY);
      let count = 0, wins = 0, sumP = 0;
      testS.forEach((s, i) => {
        const p = cal.predict(s);
        if (p >= 0.55 && p < 0.65) {
          count++;
          sumP += p;
          if (testY[i]) wins++;
        }
      });
      expect(count).toBeGreaterThan(500);
      const meanP = sumP / count;
      const se = Math.sqrt((meanP * (1 - meanP)) / count);
      // The bin's predictions are not uniform within it (p = sigmoid(2s − 1) is denser near 0.5),
      // so its mean prediction sits a little under 0.6.
      expect(Math.abs(meanP - 0.6)).toBeLessThan(0.05);
      // Observed win rate vs. mean prediction: within 3 standard errors of the bin's observed rate
      // (se ≈ 0.011 for ~2,000 samples), and so within 0.05 + 3 se of 60 %.
      const observed = wins / count;
      console.log(`${method} bin [0.55, 0.65): n=${count} meanPredicted=${meanP.toFixed(4)} observed=${observed.toFixed(4)} 3se=${(3 * se).toFixed(4)}`);
      expect(Math.abs(observed - meanP)).toBeLessThan(3 * se);
      expect(Math.abs(observed - 0.6)).toBeLessThan(0.05 + 3 * se);
    }
  });

  it('Platt recovers a ≈ 2, b ≈ −1', () => {
    const p = new PlattCalibrator();
    p.fit(trainS, trainY);
    expect(p.params.a).toBeGreaterThan(1.6);
    expect(p.params.a).toBeLessThan(2.4);
    expect(p.params.b).toBeGreaterThan(-1.25);
    expect(p.params.b).toBeLessThan(-0.75);
  });

  it('needsRefit flags the raw scores and respects a configurable threshold', () => {
    expect(new Calibrator({ method: 'platt' }).needsRefit(testS, testY)).toBe(true);
    expect(new Calibrator({ method: 'platt', eceThreshold: 0.5 }).needsRefit(testS, testY)).toBe(false);
  });

  it('reports the measured ECE numbers', () => {
    // Runs after the per-method tests above; printed for the record.
    console.log('ECE out-of-sample:', JSON.stringify(measured));
    expect(measured['raw']).toBeDefined();
  });
});

describe('expectedCalibrationError / calibrationBins', () => {
  it('is 0 for perfectly calibrated groups (property)', () => {
    // Each group of c samples predicts w/c and has exactly w wins; within any bin the mean
    // prediction Σw/Σc then equals the observed rate, so ECE is 0 whatever the binning.
    fc.assert(
      fc.property(
        fc.array(
          fc.integer({ min: 1, max: 30 }).chain((c) => fc.tuple(fc.constant(c), fc.integer({ min: 0, max: c }))),
          { minLength: 1, maxLength: 20 },
        ),
        fc.integer({ min: 1, max: 20 }),
        (groups, bins) => {
          const probs: number[] = [];
          const outs: number[] = [];
          for (const [c, w] of groups) {
            for (let i = 0; i < c; i++) {
              probs.push(w / c);
              outs.push(i < w ? 1 : 0);
            }
          }
          expect(expectedCalibrationError(probs, outs, bins)).toBeLessThan(1e-12);
        },
      ),
    );
  });

  it('is within [0, 1] and bins add up (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean())), (pairs) => {
        const probs = pairs.map(([p]) => p);
        const outs = pairs.map(([, y]) => y);
        const ece = expectedCalibrationError(probs, outs);
        expect(ece).toBeGreaterThanOrEqual(0);
        expect(ece).toBeLessThanOrEqual(1);
        expect(calibrationBins(probs, outs).reduce((s, b) => s + b.count, 0)).toBe(pairs.length);
      }),
    );
  });

  it('bins are equal-width with p = 1 in the last bin, empty bins are null', () => {
    const bins = calibrationBins([0, 0.05, 0.1, 1], [0, 1, 1, 1], 10);
    expect(bins).toHaveLength(10);
    expect(bins[0]).toEqual({ lo: 0, hi: 0.1, count: 2, meanPredicted: 0.025, observedRate: 0.5 });
    expect(bins[1]?.count).toBe(1);
    expect(bins[9]?.count).toBe(1);
    expect(bins[5]).toMatchObject({ count: 0, meanPredicted: null, observedRate: null });
  });

  it('edge cases: empty input is 0; invalid input throws a clear error', () => {
    expect(expectedCalibrationError([], [])).toBe(0);
    expect(calibrationBins([], []).every((b) => b.count === 0)).toBe(true);
    expect(() => expectedCalibrationError([NaN], [1])).toThrow(/probs\[0\] must be a finite number, got NaN/);
    expect(() => expectedCalibrationError([1.5], [1])).toThrow(CalibrationInputError);
    expect(() => expectedCalibrationError([0.5], [2])).toThrow(/outcomes\[0\] must be a boolean, 0 or 1/);
    expect(() => expectedCalibrationError([0.5, 0.5], [1])).toThrow(/same length/);
    expect(() => expectedCalibrationError([0.5], [1], 0)).toThrow(/bins/);
  });
});

describe('IsotonicCalibrator', () => {
  it('output is monotone non-decreasing and within [0, 1] (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -5, max: 5, noNaN: true }), fc.boolean()), { minLength: 10, maxLength: 200 }),
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 50 }),
        (pairs, queries) => {
          const iso = new IsotonicCalibrator();
          iso.fit(
            pairs.map(([s]) => s),
            pairs.map(([, y]) => y),
          );
          const sorted = [...queries].sort((a, b) => a - b);
          let prev = -Infinity;
          for (const q of sorted) {
            const p = iso.predict(q);
            expect(p).toBeGreaterThanOrEqual(0);
            expect(p).toBeLessThanOrEqual(1);
            expect(p).toBeGreaterThanOrEqual(prev);
            prev = p;
          }
        },
      ),
    );
  });

  it('pools violators, interpolates between knots and clamps outside', () => {
    const iso = new IsotonicCalibrator({ minSamples: 1 });
    // scores 0,1,2,3 with outcomes 0,1,0,1 → PAV pools the middle pair at 0.5.
    iso.fit([0, 1, 2, 3], [0, 1, 0, 1]);
    expect(iso.knots).toEqual([
      { x: 0, y: 0 },
      { x: 1, y: 0.5 },
      { x: 2, y: 0.5 },
      { x: 3, y: 1 },
    ]);
    expect(iso.predict(-7)).toBe(0);
    expect(iso.predict(0.5)).toBeCloseTo(0.25);
    expect(iso.predict(1.5)).toBe(0.5);
    expect(iso.predict(2.5)).toBeCloseTo(0.75);
    expect(iso.predict(99)).toBe(1);
  });

  it('tied scores are pooled before PAV', () => {
    const iso = new IsotonicCalibrator({ minSamples: 1 });
    iso.fit([1, 1, 1, 2], [1, 0, 0, 1]);
    expect(iso.predict(1)).toBeCloseTo(1 / 3);
    expect(iso.predict(2)).toBe(1);
  });
});

describe('PlattCalibrator fallbacks', () => {
  it('falls back to identity with a reason on empty / tiny / all-equal / constant data', () => {
    const p = new PlattCalibrator();
    expect(p.lastFit).toEqual({ fitted: false, samples: 0, reason: 'not-fitted' });
    expect(p.fit([], [])).toEqual({ fitted: false, samples: 0, reason: 'empty' });
    expect(p.fit([0.1, 0.9], [0, 1])).toEqual({ fitted: false, samples: 2, reason: 'too-few-samples' });
    const s = Array.from({ length: 30 }, (_, i) => i / 30);
    expect(p.fit(s, s.map(() => true))).toMatchObject({ fitted: false, reason: 'all-wins' });
    expect(p.predict(0.7)).toBe(0.7);
    expect(p.predict(3)).toBe(1);
    expect(p.fit(s, s.map(() => 0))).toMatchObject({ fitted: false, reason: 'all-losses' });
    expect(p.fit(s.map(() => 0.4), s.map((_, i) => i % 2))).toMatchObject({ fitted: false, reason: 'constant-scores' });
    expect(p.predict(0.25)).toBe(0.25);
  });

  it('stays finite on perfectly separable data (smoothed targets)', () => {
    const s = Array.from({ length: 40 }, (_, i) => i / 40);
    const p = new PlattCalibrator();
    expect(p.fit(s, s.map((x) => x >= 0.5))).toEqual({ fitted: true, samples: 40 });
    expect(Number.isFinite(p.params.a)).toBe(true);
    expect(p.predict(0)).toBeGreaterThan(0);
    expect(p.predict(1)).toBeLessThan(1);
    expect(p.predict(0.9)).toBeGreaterThan(p.predict(0.1));
  });

  it('rejects NaN scores with a clear error', () => {
    const s = Array.from({ length: 20 }, (_, i) => i / 20);
    s[3] = NaN;
    expect(() => new PlattCalibrator().fit(s, s.map((_, i) => i % 2))).toThrow(/scores\[3\] must be a finite number, got NaN/);
    expect(() => new PlattCalibrator().predict(NaN)).toThrow(CalibrationInputError);
    expect(() => new IsotonicCalibrator().fit([NaN], [1])).toThrow(/scores\[0\]/);
    expect(() => new IsotonicCalibrator().predict(Number.POSITIVE_INFINITY)).toThrow(/score must be a finite number/);
  });
});

describe('Calibrator facade', () => {
  it('all methods fall back to identity on all-equal outcomes and empty input', () => {
    for (const method of ['platt', 'isotonic', 'beta'] as const) {
      const c = new Calibrator({ method });
      expect(c.predict(0.3)).toBe(0.3); // unfitted = identity
      expect(c.fit([], [])).toMatchObject({ fitted: false, reason: 'empty' });
      const s = Array.from({ length: 50 }, (_, i) => i / 50);
      expect(c.fit(s, s.map(() => 1))).toMatchObject({ fitted: false, reason: 'all-wins' });
      expect(c.predict(0.3)).toBe(0.3);
      expect(() => c.predict(NaN)).toThrow(CalibrationInputError);
      expect(c.needsRefit([], [])).toBe(false);
    }
  });

  it('rejects an unknown method', () => {
    expect(() => new Calibrator({ method: 'magic' as never })).toThrow(/unknown calibration method/);
  });
});

describe('BetaShrinkage', () => {
  const beta = new BetaShrinkage();

  it('rate is (wins + 2) / (n + 4)', () => {
    expect(beta.rate(0, 0)).toBe(0.5);
    expect(beta.rate(10, 10)).toBe(12 / 14);
    expect(beta.rate(3, 20)).toBe(5 / 24);
    expect(() => beta.rate(5, 3)).toThrow(/wins ≤ n/);
    expect(() => beta.rate(NaN, 3)).toThrow(/finite/);
  });

  it('shrunk rate and shrunk probability lie between the raw value and 0.5 (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }))),
        ([n, wins]) => {
          const raw = wins / n;
          const r = beta.rate(wins, n);
          expect(r).toBeGreaterThanOrEqual(Math.min(raw, 0.5) - 1e-12);
          expect(r).toBeLessThanOrEqual(Math.max(raw, 0.5) + 1e-12);
          const sp = beta.shrink(raw, n);
          expect(Math.abs(sp - r)).toBeLessThan(1e-12);
        },
      ),
    );
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), (p, n) => {
        const s = beta.shrink(p, n);
        expect(s).toBeGreaterThanOrEqual(Math.min(p, 0.5) - 1e-12);
        expect(s).toBeLessThanOrEqual(Math.max(p, 0.5) + 1e-12);
      }),
    );
  });

  it('shrinks less as the sample grows', () => {
    expect(beta.shrink(0.9, 0)).toBe(0.5);
    expect(beta.shrink(0.9, 4)).toBeCloseTo(0.7);
    expect(beta.shrink(0.9, 1000)).toBeGreaterThan(0.89);
  });
});

describe('HysteresisTier', () => {
  it('rule: single scan above never counts, two consecutive do, one below resets (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 100 }), (aboves) => {
        const tier = new HysteresisTier(0.7);
        let prevAbove = false;
        aboves.forEach((above) => {
          const active = tier.update(above ? 0.8 : 0.6);
          // Active exactly when this scan and the previous one were both above.
          expect(active).toBe(above && prevAbove);
          prevAbove = above;
        });
      }),
    );
  });

  it('explicit sequence; the threshold itself counts as below', () => {
    const tier = new HysteresisTier(0.7);
    expect(tier.update(0.9)).toBe(false); // one above: not yet
    expect(tier.update(0.9)).toBe(true); // two consecutive: counts
    expect(tier.update(0.95)).toBe(true);
    expect(tier.update(0.7)).toBe(false); // equal = below: drops and resets
    expect(tier.update(0.9)).toBe(false); // needs two again
    expect(tier.update(0.9)).toBe(true);
    expect(() => tier.update(NaN)).toThrow(CalibrationInputError);
  });

  it('n is configurable', () => {
    const tier = new HysteresisTier(0, 3);
    expect([1, 1, 1, -1, 1].map((v) => tier.update(v))).toEqual([false, false, true, false, false]);
  });
});

describe('PatternTable', () => {
  it('leaves confidence unchanged below the sample floor', () => {
    const t = new PatternTable();
    expect(t.adjust(0.6, 'unknown')).toBe(0.6);
    for (let i = 0; i < 19; i++) t.record('h', true);
    expect(t.get('h')).toEqual({ wins: 19, total: 19 });
    expect(t.adjust(0.6, 'h')).toBe(0.6);
    t.record('h', true);
    expect(t.adjust(0.6, 'h')).toBeGreaterThan(0.6);
  });

  it('uses the Beta-shrunk rate with a bounded blend', () => {
    const t = new PatternTable();
    t.set('bad', { wins: 2, total: 20 });
    // rate = 4/24, w = 0.5·20/40 = 0.25 → 0.6 + 0.25·(1/6 − 0.6) ≈ 0.4917
    expect(t.adjust(0.6, 'bad')).toBeCloseTo(0.6 + 0.25 * (4 / 24 - 0.6));
    t.set('huge', { wins: 0, total: 1_000_000 });
    expect(t.adjust(0.9, 'huge')).toBeCloseTo(0.75); // capped at maxShift = 0.15
  });

  it('never leaves [0, 1] and never moves more than maxShift (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 5000 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }))),
        (p, [total, wins]) => {
          const t = new PatternTable();
          t.set('x', { wins, total });
          const q = t.adjust(p, 'x');
          expect(q).toBeGreaterThanOrEqual(0);
          expect(q).toBeLessThanOrEqual(1);
          expect(Math.abs(q - p)).toBeLessThanOrEqual(0.15 + 1e-12);
          if (total < 20) expect(q).toBe(p);
          // Moves toward the shrunk rate, never past it.
          const r = (wins + 2) / (total + 4);
          expect(Math.min(p, r) - 1e-12).toBeLessThanOrEqual(q);
          expect(q).toBeLessThanOrEqual(Math.max(p, r) + 1e-12);
        },
      ),
    );
  });

  it('rejects invalid input', () => {
    const t = new PatternTable();
    expect(() => t.adjust(NaN, 'x')).toThrow(/probability must be a finite number/);
    expect(() => t.adjust(1.2, 'x')).toThrow(/within \[0, 1\]/);
    expect(() => t.set('x', { wins: 3, total: 2 })).toThrow(/wins ≤ total/);
    expect(() => t.record('x', 7)).toThrow(/outcome/);
  });
});
