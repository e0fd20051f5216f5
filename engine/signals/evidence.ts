/**
 * Evidence lines: short sentences for chat that say why a signal looks the way it does, built only from labels
 * (never from numbers), so they read well on a phone and cannot leak a misleading precision. Every number stays
 * in the decisions table. A test asserts that no line contains a digit.
 */
import type { Regime } from '../features/regime.js';
import type { PatternStats } from './calibration.js';
import type { RawSignal } from './confidence.js';

export interface EvidenceInputs {
  readonly signal: RawSignal;
  readonly regime: Regime | null;
  readonly fourHourRegime: Regime | null;
  /** why the narrative is absent, when it is (e.g. 'no news input in backtests') */
  readonly narrativeAbsence: string | null;
  readonly pattern: PatternStats | undefined;
  readonly patternSampleFloor: number;
  readonly calibrated: boolean;
}

const MOMENTUM_WORD = { rising: 'rising', falling: 'falling', flat: 'flat' } as const;

function momentumLine(h1: Regime | null, h4: Regime | null): string | null {
  if (!h1) return null;
  if (!h4) return `momentum is ${MOMENTUM_WORD[h1.momentum]} on the hourly chart; the four-hour view is still warming up`;
  if (h1.momentum === h4.momentum) return `momentum is ${MOMENTUM_WORD[h1.momentum]} on both timeframes`;
  return `momentum is ${MOMENTUM_WORD[h1.momentum]} on the hourly chart but ${MOMENTUM_WORD[h4.momentum]} on the four-hour chart`;
}

function trendLine(h1: Regime | null): string | null {
  if (!h1) return null;
  if (h1.trend === 'up') return 'a clear uptrend is in place';
  if (h1.trend === 'down') return 'the trend points down';
  return 'price is range-bound without a clear trend';
}

function volatilityLine(h1: Regime | null): string | null {
  if (!h1) return null;
  switch (h1.volatility) {
    case 'extreme':
      return 'volatility is extreme for this coin';
    case 'high':
      return 'volatility is higher than usual';
    case 'low':
      return 'the market is unusually calm';
    default:
      return null;
  }
}

function priceWord(signal: RawSignal): string {
  return signal.direction === 'up' ? 'price action leans up' : signal.direction === 'down' ? 'price action leans down' : 'price action has no clear lean';
}

function narrativeLine(signal: RawSignal, absence: string | null): string {
  const price = signal.direction === 'up' ? 'price rises' : signal.direction === 'down' ? 'price falls' : 'price drifts';
  switch (signal.divergence) {
    case 'absent':
      return `the narrative view is absent: ${absence ?? 'no recent headlines'}`;
    case 'aligned':
      return `headlines agree: they stay ${signal.narrative! > 0 ? 'positive' : 'negative'} while ${price}`;
    case 'divergent':
      return `headlines stay ${signal.narrative! > 0 ? 'positive' : 'negative'} while ${price}`;
    default:
      return 'headlines are neutral';
  }
}

function patternLine(pattern: PatternStats | undefined, floor: number): string {
  if (!pattern || pattern.total < floor) return 'this pattern is still too new to judge';
  const rate = pattern.wins / pattern.total;
  if (rate >= 0.55) return 'this pattern has usually worked before';
  if (rate <= 0.45) return 'this pattern has usually failed before';
  return 'this pattern has been a coin flip before';
}

/** Three to six number-free lines, most important first. */
export function evidenceLines(e: EvidenceInputs): string[] {
  const s = e.signal;
  const lines: string[] = [];
  const timeframes =
    s.technicalFourHour === null
      ? 'the four-hour view is not ready yet'
      : s.confirmation === 'confirmed'
        ? 'both timeframes agree'
        : s.confirmation === 'conflicting'
          ? 'the timeframes disagree'
          : (s.technicalFourHour > 0) === (s.technical > 0)
            ? 'the four-hour chart leans the same way'
            : 'the four-hour chart leans the other way';
  lines.push(`${priceWord(s)}; ${timeframes}`);
  for (const line of [momentumLine(e.regime, e.fourHourRegime), trendLine(e.regime), volatilityLine(e.regime)]) if (line) lines.push(line);
  if (e.regime?.volume === 'high') lines.push('volume is heavy');
  else if (e.regime?.volume === 'low') lines.push('volume is thin');
  lines.push(narrativeLine(s, e.narrativeAbsence));
  if (s.direction !== 'flat') lines.push(patternLine(e.pattern, e.patternSampleFloor));
  if (!e.calibrated) lines.push('calibration is still learning, so confidence is held at even odds');
  return lines;
}
