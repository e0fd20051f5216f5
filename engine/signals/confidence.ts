/**
 * The confidence model: one symbol, one bar. Pure functions from what the engine knows at the close of a bar
 * (hourly and 4-hour feature snapshots, regime labels, the narrative score or its absence) to a raw signal:
 * direction, signal quality (0–10), conviction (0–10) and a raw score that calibration turns into a win
 * probability. Nothing here learns or remembers; `SignalTracker` (signals/tracker.ts) does that.
 *
 * The price-action view is a set of votes, each in −1..1 (positive = up), taken from indicators of different
 * families (trend, momentum, oscillators, volume). Their mean on each timeframe is that timeframe's technical
 * score; the hourly one weighs 0.6, the 4-hour one 0.4. Votes are scaled by the bar's ATR where they are price
 * distances, so one rule fits every coin.
 */
import type { FeatureSnapshot } from '../features/features.js';
import { confirmAcrossTimeframes, type Confirmation, type Regime } from '../features/regime.js';

export type Direction = 'up' | 'down' | 'flat';
/** How the narrative relates to the price view: the key input the seed system is named after. */
export type Divergence = 'aligned' | 'divergent' | 'neutral' | 'absent';

export interface ModelInputs {
  readonly hourly: FeatureSnapshot;
  /** the last complete 4-hour snapshot (keys prefixed h4_), null while warming up */
  readonly fourHour: FeatureSnapshot | null;
  readonly regime: Regime | null;
  readonly fourHourRegime: Regime | null;
  /** −1..1, or null when there is no narrative input (sim, backtest, or no news) */
  readonly narrative: number | null;
}

export interface ModelParams {
  /** |technical score| below this is 'flat' */
  readonly deadband: number;
  /** |narrative| below this is 'neutral' */
  readonly narrativeDeadband: number;
}

export const DEFAULT_MODEL_PARAMS: ModelParams = { deadband: 0.1, narrativeDeadband: 0.1 };

export interface RawSignal {
  readonly direction: Direction;
  /** weighted technical score, −1..1 */
  readonly technical: number;
  readonly technicalHourly: number;
  readonly technicalFourHour: number | null;
  /** share of hourly votes on the side of `direction` (0..1) */
  readonly agreement: number;
  readonly confirmation: Confirmation;
  readonly divergence: Divergence;
  readonly narrative: number | null;
  /** 0..10: how clean and consistent the evidence is */
  readonly quality: number;
  /** 0..10: how strong the move is */
  readonly conviction: number;
  /** 0.5..1: the uncalibrated belief that `direction` is right; 0.5 when flat */
  readonly rawScore: number;
}

const clamp = (x: number, lo = -1, hi = 1) => (x < lo ? lo : x > hi ? hi : x);

function num(s: FeatureSnapshot, key: string): number | null {
  const v = s[key];
  return v === undefined || v === null || !Number.isFinite(v) ? null : v;
}

/**
 * The price-action votes of one snapshot (prefix '' or 'h4_'), each in −1..1. Missing inputs give no vote;
 * null when the snapshot has no ATR yet (nothing can be scaled).
 */
export function technicalVotes(s: FeatureSnapshot, prefix = ''): number[] | null {
  const g = (k: string) => num(s, prefix + k);
  const atr = g('atr14_pct');
  if (atr === null || atr <= 0) return null;
  const votes: number[] = [];
  const push = (v: number | null) => {
    if (v !== null && Number.isFinite(v)) votes.push(clamp(v));
  };
  const ema50 = g('ema50_dist');
  const sma20 = g('sma20_dist');
  const slope = g('ema20_slope');
  const macd = g('macd_hist_pct');
  const rsi = g('rsi14');
  const roc = g('roc10');
  const stoch = g('stoch_k14');
  const cci = g('cci20');
  const mfi = g('mfi14');
  const pdi = g('plus_di14');
  const mdi = g('minus_di14');
  const adx = g('adx14');
  const kelt = g('keltner20_pos');
  const vwap = g('vwap24_dist');
  const pctb = g('bb20_pctb');
  // trend: distance from the averages, in ATRs
  push(ema50 === null ? null : Math.tanh(ema50 / (2 * atr)));
  push(sma20 === null ? null : Math.tanh(sma20 / atr));
  push(slope === null ? null : Math.tanh(slope / (0.25 * atr)));
  push(pdi === null || mdi === null || adx === null || pdi + mdi <= 0 ? null : ((pdi - mdi) / (pdi + mdi)) * Math.min(1, adx / 25));
  // momentum
  push(macd === null ? null : Math.tanh(macd / (0.2 * atr)));
  push(rsi === null ? null : (rsi - 50) / 25);
  push(roc === null ? null : Math.tanh(roc / 100 / (3 * atr)));
  // oscillators and bands
  push(stoch === null ? null : (stoch - 50) / 50);
  push(cci === null ? null : Math.tanh(cci / 150));
  push(kelt === null ? null : kelt);
  push(pctb === null ? null : (pctb - 0.5) * 2);
  // volume-weighted
  push(mfi === null ? null : (mfi - 50) / 50);
  push(vwap === null ? null : Math.tanh(vwap / (2 * atr)));
  return votes.length > 0 ? votes : null;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const VOLATILITY_QUALITY = { low: 1, medium: 1, high: 0.6, extreme: 0.2 } as const;
const NARRATIVE_QUALITY: Record<Divergence, number> = { aligned: 1, neutral: 0.6, absent: 0.5, divergent: 0.25 };
const VOLUME_CONVICTION = { high: 1, normal: 0.85, low: 0.65 } as const;

export function divergenceOf(direction: Direction, narrative: number | null, deadband: number): Divergence {
  if (narrative === null) return 'absent';
  if (Math.abs(narrative) < deadband || direction === 'flat') return 'neutral';
  return (narrative > 0) === (direction === 'up') ? 'aligned' : 'divergent';
}

/** The raw signal, or null while the hourly features are still warming up. */
export function scoreSignal(inputs: ModelInputs, params: ModelParams = DEFAULT_MODEL_PARAMS): RawSignal | null {
  const hourlyVotes = technicalVotes(inputs.hourly);
  if (hourlyVotes === null) return null;
  const h1 = mean(hourlyVotes);
  const h4Votes = inputs.fourHour ? technicalVotes(inputs.fourHour, 'h4_') : null;
  const h4 = h4Votes === null ? null : mean(h4Votes);
  const technical = h4 === null ? h1 : 0.6 * h1 + 0.4 * h4;
  const direction: Direction = technical > params.deadband ? 'up' : technical < -params.deadband ? 'down' : 'flat';
  const sign = direction === 'up' ? 1 : direction === 'down' ? -1 : 0;
  const agreement = sign === 0 ? 0 : hourlyVotes.filter((v) => v * sign > 0).length / hourlyVotes.length;

  const confirmation = confirmAcrossTimeframes(inputs.regime, inputs.fourHourRegime);
  // timeframes agree when both technical scores point the same way; the regime labels confirm or contradict it
  const sameSide = h4 !== null && sign !== 0 && h4 * sign > 0;
  const timeframe = h4 === null ? 0.5 : confirmation === 'conflicting' ? 0 : sameSide ? (confirmation === 'confirmed' ? 1 : 0.75) : 0.2;
  const volatility = inputs.regime ? VOLATILITY_QUALITY[inputs.regime.volatility] : 0.5;
  const divergence = divergenceOf(direction, inputs.narrative, params.narrativeDeadband);
  const quality = sign === 0 ? 0 : 10 * (0.35 * agreement + 0.25 * timeframe + 0.2 * volatility + 0.2 * NARRATIVE_QUALITY[divergence]);

  const volume = inputs.regime ? VOLUME_CONVICTION[inputs.regime.volume] : 0.85;
  const narrativeBoost = divergence === 'aligned' ? 0.15 * Math.abs(inputs.narrative!) : divergence === 'divergent' ? -0.15 * Math.abs(inputs.narrative!) : 0;
  const conviction = sign === 0 ? 0 : 10 * clamp(Math.min(1, Math.abs(technical) / 0.6) * volume + narrativeBoost, 0, 1);

  const rawScore = sign === 0 ? 0.5 : 0.5 + 0.5 * clamp(Math.abs(technical), 0, 1) * (quality / 10);
  return {
    direction,
    technical,
    technicalHourly: h1,
    technicalFourHour: h4,
    agreement,
    confirmation,
    divergence,
    narrative: inputs.narrative,
    quality: round2(quality),
    conviction: round2(conviction),
    rawScore,
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * A stable key for the discrete shape of a signal: direction, hourly trend and momentum, cross-timeframe
 * confirmation, volatility, and the narrative relation. The pattern table learns a win rate per key.
 */
export function patternHash(signal: RawSignal, regime: Regime | null): string {
  return [
    signal.direction,
    regime?.trend ?? 'warming',
    regime?.momentum ?? 'warming',
    signal.confirmation,
    regime?.volatility ?? 'warming',
    signal.divergence,
  ].join('|');
}
