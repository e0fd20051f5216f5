import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FeatureSnapshot } from '../features/features.js';
import type { Regime } from '../features/regime.js';
import { divergenceOf, patternHash, scoreSignal, technicalVotes, type RawSignal } from './confidence.js';
import { evidenceLines } from './evidence.js';

/** A snapshot leaning `lean` (−1..1) on every input the votes read; ATR is one percent of price. */
function snapshot(lean: number, prefix = ''): FeatureSnapshot {
  const s: FeatureSnapshot = {
    atr14_pct: 0.01,
    ema50_dist: 0.04 * lean,
    sma20_dist: 0.02 * lean,
    ema20_slope: 0.005 * lean,
    plus_di14: 25 + 15 * lean,
    minus_di14: 25 - 15 * lean,
    adx14: 30,
    macd_hist_pct: 0.004 * lean,
    rsi14: 50 + 25 * lean,
    roc10: 6 * lean,
    stoch_k14: 50 + 50 * lean,
    cci20: 200 * lean,
    keltner20_pos: lean,
    bb20_pctb: 0.5 + 0.5 * lean,
    mfi14: 50 + 40 * lean,
    vwap24_dist: 0.03 * lean,
  };
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [prefix + k, v]));
}

const regime = (over: Partial<Regime> = {}): Regime => ({
  volatility: 'medium',
  volatilityPercentile: 50,
  trend: 'up',
  momentum: 'rising',
  volume: 'normal',
  volumeZ: 0,
  ...over,
});

describe('technical votes', () => {
  it('are null without an ATR (warming up) and each lies in −1..1', () => {
    expect(technicalVotes({ rsi14: 70 })).toBeNull();
    fc.assert(
      fc.property(fc.double({ min: -5, max: 5, noNaN: true }), (lean) => {
        const votes = technicalVotes(snapshot(lean))!;
        expect(votes.length).toBe(13);
        for (const v of votes) expect(Math.abs(v)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('point the way the inputs lean', () => {
    expect(technicalVotes(snapshot(0.8))!.every((v) => v > 0)).toBe(true);
    expect(technicalVotes(snapshot(-0.8))!.every((v) => v < 0)).toBe(true);
  });
});

describe('scoreSignal', () => {
  const base = { fourHour: null, regime: null, fourHourRegime: null, narrative: null };

  it('is null while the hourly features warm up', () => {
    expect(scoreSignal({ ...base, hourly: { rsi14: null } })).toBeNull();
  });

  it('gives direction from the weighted technical score, flat inside the dead band', () => {
    expect(scoreSignal({ ...base, hourly: snapshot(0.8) })!.direction).toBe('up');
    expect(scoreSignal({ ...base, hourly: snapshot(-0.8) })!.direction).toBe('down');
    const flat = scoreSignal({ ...base, hourly: snapshot(0.02) })!;
    expect(flat.direction).toBe('flat');
    expect(flat.quality).toBe(0);
    expect(flat.rawScore).toBe(0.5);
  });

  it('the 4-hour view weighs 0.4: a conflicting higher timeframe lowers the score and the quality', () => {
    const alone = scoreSignal({ ...base, hourly: snapshot(0.6) })!;
    const agree = scoreSignal({ ...base, hourly: snapshot(0.6), fourHour: snapshot(0.6, 'h4_') })!;
    const against = scoreSignal({ ...base, hourly: snapshot(0.6), fourHour: snapshot(-0.6, 'h4_') })!;
    expect(agree.technicalFourHour).toBeCloseTo(agree.technicalHourly, 12);
    expect(against.technical).toBeCloseTo(0.6 * against.technicalHourly + 0.4 * against.technicalFourHour!, 12);
    expect(against.technical).toBeLessThan(alone.technical);
    expect(against.quality).toBeLessThan(alone.quality);
    expect(agree.quality).toBeGreaterThan(alone.quality);
  });

  it('classifies the narrative against the price view; absent is never turned into a number', () => {
    const up = (narrative: number | null) => scoreSignal({ ...base, hourly: snapshot(0.7), narrative })!;
    expect(up(null).divergence).toBe('absent');
    expect(up(null).narrative).toBeNull();
    expect(up(0.5).divergence).toBe('aligned');
    expect(up(-0.5).divergence).toBe('divergent');
    expect(up(0.05).divergence).toBe('neutral');
    expect(up(0.5).conviction).toBeGreaterThan(up(-0.5).conviction);
    expect(up(0.5).quality).toBeGreaterThan(up(null).quality);
    expect(up(null).quality).toBeGreaterThan(up(-0.5).quality);
    expect(divergenceOf('down', -0.4, 0.1)).toBe('aligned');
    expect(divergenceOf('flat', 0.9, 0.1)).toBe('neutral');
  });

  it('extreme volatility costs quality; heavy volume adds conviction', () => {
    const at = (r: Regime) => scoreSignal({ ...base, hourly: snapshot(0.5), regime: r })!;
    expect(at(regime({ volatility: 'extreme' })).quality).toBeLessThan(at(regime()).quality);
    expect(at(regime({ volume: 'high' })).conviction).toBeGreaterThan(at(regime({ volume: 'low' })).conviction);
  });

  it('keeps quality and conviction in 0..10 and the raw score in 0.5..1 for any inputs', () => {
    const label = <T extends string>(...xs: T[]) => fc.constantFrom(...xs);
    const arbRegime = fc.option(
      fc.record({
        volatility: label('low', 'medium', 'high', 'extreme'),
        volatilityPercentile: fc.double({ min: 0, max: 100, noNaN: true }),
        trend: label('up', 'down', 'sideways'),
        momentum: label('rising', 'falling', 'flat'),
        volume: label('high', 'normal', 'low'),
        volumeZ: fc.double({ min: -5, max: 5, noNaN: true }),
      }),
    );
    fc.assert(
      fc.property(
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.option(fc.double({ min: -3, max: 3, noNaN: true })),
        arbRegime,
        arbRegime,
        fc.option(fc.double({ min: -1, max: 1, noNaN: true })),
        (h1, h4, r1, r4, narrative) => {
          const s = scoreSignal({ hourly: snapshot(h1), fourHour: h4 === null ? null : snapshot(h4, 'h4_'), regime: r1, fourHourRegime: r4, narrative })!;
          expect(s.quality).toBeGreaterThanOrEqual(0);
          expect(s.quality).toBeLessThanOrEqual(10);
          expect(s.conviction).toBeGreaterThanOrEqual(0);
          expect(s.conviction).toBeLessThanOrEqual(10);
          expect(s.rawScore).toBeGreaterThanOrEqual(0.5);
          expect(s.rawScore).toBeLessThanOrEqual(1);
          expect(patternHash(s, r1).split('|')).toHaveLength(6);
        },
      ),
    );
  });
});

describe('evidence lines', () => {
  const arbSignal: fc.Arbitrary<RawSignal> = fc.record({
    direction: fc.constantFrom('up', 'down', 'flat'),
    technical: fc.double({ min: -1, max: 1, noNaN: true }),
    technicalHourly: fc.double({ min: -1, max: 1, noNaN: true }),
    technicalFourHour: fc.option(fc.double({ min: -1, max: 1, noNaN: true })),
    agreement: fc.double({ min: 0, max: 1, noNaN: true }),
    confirmation: fc.constantFrom('confirmed', 'conflicting', 'unconfirmed'),
    divergence: fc.constantFrom('aligned', 'divergent', 'neutral', 'absent'),
    narrative: fc.double({ min: -1, max: 1, noNaN: true }),
    quality: fc.double({ min: 0, max: 10, noNaN: true }),
    conviction: fc.double({ min: 0, max: 10, noNaN: true }),
    rawScore: fc.double({ min: 0.5, max: 1, noNaN: true }),
  });
  const arbRegime = fc.option(
    fc.record({
      volatility: fc.constantFrom('low', 'medium', 'high', 'extreme'),
      volatilityPercentile: fc.double({ min: 0, max: 100, noNaN: true }),
      trend: fc.constantFrom('up', 'down', 'sideways'),
      momentum: fc.constantFrom('rising', 'falling', 'flat'),
      volume: fc.constantFrom('high', 'normal', 'low'),
      volumeZ: fc.double({ min: -5, max: 5, noNaN: true }),
    }),
  ) as fc.Arbitrary<Regime | null>;

  it('contain no digits, whatever the numbers behind them', () => {
    fc.assert(
      fc.property(
        arbSignal,
        arbRegime,
        arbRegime,
        fc.option(fc.record({ wins: fc.nat(500), total: fc.nat(500) }).map(({ wins, total }) => ({ wins: Math.min(wins, total), total }))),
        fc.boolean(),
        (signal, r1, r4, pattern, calibrated) => {
          const lines = evidenceLines({ signal, regime: r1, fourHourRegime: r4, narrativeAbsence: 'backtests have no news input', pattern: pattern ?? undefined, patternSampleFloor: 30, calibrated });
          expect(lines.length).toBeGreaterThanOrEqual(2);
          for (const line of lines) expect(line).not.toMatch(/\d/);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('say in words what the seed example says, and that an absent narrative is absent', () => {
    const signal: RawSignal = {
      direction: 'up',
      technical: 0.5,
      technicalHourly: 0.5,
      technicalFourHour: 0.4,
      agreement: 0.9,
      confirmation: 'confirmed',
      divergence: 'divergent',
      narrative: -0.6,
      quality: 7,
      conviction: 6,
      rawScore: 0.7,
    };
    const lines = evidenceLines({ signal, regime: regime(), fourHourRegime: regime(), narrativeAbsence: null, pattern: { wins: 40, total: 60 }, patternSampleFloor: 30, calibrated: true });
    expect(lines).toContain('momentum is rising on both timeframes');
    expect(lines).toContain('headlines stay negative while price rises');
    expect(lines).toContain('this pattern has usually worked before');
    const absent = evidenceLines({ signal: { ...signal, divergence: 'absent', narrative: null }, regime: null, fourHourRegime: null, narrativeAbsence: 'backtests have no news input', pattern: undefined, patternSampleFloor: 30, calibrated: false });
    expect(absent).toContain('the narrative view is absent: backtests have no news input');
    expect(absent).toContain('calibration is still learning, so confidence is held at even odds');
  });
});
