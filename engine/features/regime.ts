/**
 * Market-regime labels built on top of the feature snapshots of `FeatureSet` / `HigherTimeframeFeatureSet`.
 *
 * `RegimeClassifier.update(snapshot, volume)` is fed once per bar of its timeframe (hourly snapshots, or the `h4_`
 * snapshots that `HigherTimeframeFeatureSet.update` emits, with `prefix: 'h4_'`). Each update costs O(window):
 * a constant bounded by the configured window, never growing with the series. It returns `null` while warming up.
 *
 * Rules (all thresholds configurable, defaults in brackets):
 * - volatility: p = percentage of the *past* `rv24` values in the rolling window [720 bars = 30 days hourly] that are
 *   strictly below the current `rv24`. The current value is ranked before it joins the window, so a label only
 *   depends on values at or before its bar. p < low [33] → low; p < high [66] → medium; p < extreme [90] → high;
 *   otherwise extreme (a value exactly at a threshold goes to the upper bucket). `null` until the window holds
 *   `volMinHistory` [= volWindow] past values.
 * - trend: ADX ≥ adxTrend [25] and +DI > −DI → up; ADX ≥ adxTrend and −DI > +DI → down; otherwise (weak ADX, or
 *   equal DIs) sideways.
 * - momentum: MACD histogram > 0 and RSI ≥ rsiMid [50] → rising; histogram < 0 and RSI ≤ rsiMid → falling;
 *   otherwise (histogram exactly 0, or histogram sign and RSI side disagree) flat.
 * - volume: z = (volume − mean) / population std of the *past* `volumeWindow` [168 bars = 7 days hourly] volumes
 *   (current bar excluded). z ≥ volumeHighZ [1] → high; z ≤ volumeLowZ [−1] → low; otherwise normal. A window with
 *   zero spread gives z = 0 (normal). `null` until the window holds `volumeMinHistory` [= volumeWindow] volumes.
 *
 * For 4-hour snapshots the windows count 4-hour bars: 30 days is 180 bars.
 */
import { RollingStats, RingBuffer } from './indicators.js';
import type { FeatureSnapshot } from './features.js';

export type VolatilityRegime = 'low' | 'medium' | 'high' | 'extreme';
export type TrendRegime = 'up' | 'down' | 'sideways';
export type MomentumRegime = 'rising' | 'falling' | 'flat';
export type VolumeRegime = 'high' | 'normal' | 'low';
export type Confirmation = 'confirmed' | 'conflicting' | 'unconfirmed';

export interface Regime {
  readonly volatility: VolatilityRegime;
  /** percentage (0..100) of past window values strictly below the current realized volatility */
  readonly volatilityPercentile: number;
  readonly trend: TrendRegime;
  readonly momentum: MomentumRegime;
  readonly volume: VolumeRegime;
  readonly volumeZ: number;
}

export interface RegimeConfig {
  /** snapshot key prefix: '' for hourly, 'h4_' for HigherTimeframeFeatureSet snapshots */
  prefix: string;
  volWindow: number;
  volMinHistory: number;
  volThresholds: { low: number; high: number; extreme: number };
  adxTrend: number;
  rsiMid: number;
  volumeWindow: number;
  volumeMinHistory: number;
  volumeHighZ: number;
  volumeLowZ: number;
}

export const DEFAULT_REGIME_CONFIG: Readonly<RegimeConfig> = {
  prefix: '',
  volWindow: 720,
  volMinHistory: 720,
  volThresholds: { low: 33, high: 66, extreme: 90 },
  adxTrend: 25,
  rsiMid: 50,
  volumeWindow: 168,
  volumeMinHistory: 168,
  volumeHighZ: 1,
  volumeLowZ: -1,
};

export type RegimeOptions = Partial<Omit<RegimeConfig, 'volThresholds' | 'volMinHistory' | 'volumeMinHistory'>> & {
  volThresholds?: Partial<RegimeConfig['volThresholds']>;
  /** defaults to volWindow */
  volMinHistory?: number;
  /** defaults to volumeWindow */
  volumeMinHistory?: number;
};

export function volatilityLabel(percentile: number, t: RegimeConfig['volThresholds'] = DEFAULT_REGIME_CONFIG.volThresholds): VolatilityRegime {
  if (percentile < t.low) return 'low';
  if (percentile < t.high) return 'medium';
  if (percentile < t.extreme) return 'high';
  return 'extreme';
}

export function trendLabel(adx: number, plusDI: number, minusDI: number, adxTrend = DEFAULT_REGIME_CONFIG.adxTrend): TrendRegime {
  if (adx >= adxTrend) {
    if (plusDI > minusDI) return 'up';
    if (minusDI > plusDI) return 'down';
  }
  return 'sideways';
}

export function momentumLabel(macdHist: number, rsi: number, rsiMid = DEFAULT_REGIME_CONFIG.rsiMid): MomentumRegime {
  if (macdHist > 0 && rsi >= rsiMid) return 'rising';
  if (macdHist < 0 && rsi <= rsiMid) return 'falling';
  return 'flat';
}

export function volumeLabel(z: number, highZ = DEFAULT_REGIME_CONFIG.volumeHighZ, lowZ = DEFAULT_REGIME_CONFIG.volumeLowZ): VolumeRegime {
  if (z >= highZ) return 'high';
  if (z <= lowZ) return 'low';
  return 'normal';
}

function assertWindow(name: string, window: number, minHistory: number): void {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`RegimeClassifier: ${name} window must be an integer >= 1, got ${window}`);
  if (!Number.isInteger(minHistory) || minHistory < 1 || minHistory > window) {
    throw new RangeError(`RegimeClassifier: ${name} min history must be an integer in 1..${window}, got ${minHistory}`);
  }
}

/** Incremental regime labels for one symbol on one timeframe. Feed snapshots in time order. */
export class RegimeClassifier {
  readonly config: Readonly<RegimeConfig>;
  private readonly rvPast: RingBuffer;
  private readonly volPast: RollingStats;
  latest: Regime | null = null;

  constructor(options: RegimeOptions = {}) {
    const d = DEFAULT_REGIME_CONFIG;
    const volWindow = options.volWindow ?? d.volWindow;
    const volumeWindow = options.volumeWindow ?? d.volumeWindow;
    const cfg: RegimeConfig = {
      prefix: options.prefix ?? d.prefix,
      volWindow,
      volMinHistory: options.volMinHistory ?? volWindow,
      volThresholds: { ...d.volThresholds, ...options.volThresholds },
      adxTrend: options.adxTrend ?? d.adxTrend,
      rsiMid: options.rsiMid ?? d.rsiMid,
      volumeWindow,
      volumeMinHistory: options.volumeMinHistory ?? volumeWindow,
      volumeHighZ: options.volumeHighZ ?? d.volumeHighZ,
      volumeLowZ: options.volumeLowZ ?? d.volumeLowZ,
    };
    assertWindow('volatility', cfg.volWindow, cfg.volMinHistory);
    assertWindow('volume', cfg.volumeWindow, cfg.volumeMinHistory);
    const t = cfg.volThresholds;
    if (!(t.low >= 0 && t.low <= t.high && t.high <= t.extreme && t.extreme <= 100)) {
      throw new RangeError(`RegimeClassifier: volatility thresholds must satisfy 0 <= low <= high <= extreme <= 100, got ${JSON.stringify(t)}`);
    }
    if (!(cfg.volumeLowZ < cfg.volumeHighZ)) throw new RangeError('RegimeClassifier: volumeLowZ must be below volumeHighZ');
    this.config = cfg;
    this.rvPast = new RingBuffer(cfg.volWindow);
    this.volPast = new RollingStats(cfg.volumeWindow);
  }

  /**
   * Label the bar behind `snapshot`, whose traded volume is `volume`, then add its realized volatility and volume
   * to the windows. Returns `null` while any input is missing or a window is still short of its minimum history.
   */
  update(snapshot: FeatureSnapshot, volume: number): Regime | null {
    const p = this.config.prefix;
    const get = (k: string): number | null => {
      const v = snapshot[p + k];
      return v === undefined || v === null || !Number.isFinite(v) ? null : v;
    };

    // volatility: rank against past values only, then push
    const rv = get('rv24');
    let percentile: number | null = null;
    if (rv !== null) {
      const n = this.rvPast.length;
      if (n >= this.config.volMinHistory) {
        let below = 0;
        this.rvPast.forEach((v) => {
          if (v < rv) below++;
        });
        percentile = (100 * below) / n;
      }
      this.rvPast.push(rv);
    }

    // volume: z-score against past volumes only, then push
    let z: number | null = null;
    if (Number.isFinite(volume)) {
      if (this.volPast.length >= this.config.volumeMinHistory) {
        const sd = Math.sqrt(this.volPast.variance);
        z = sd > 0 ? (volume - this.volPast.mean) / sd : 0;
      }
      this.volPast.push(volume);
    }

    const adx = get('adx14');
    const pdi = get('plus_di14');
    const mdi = get('minus_di14');
    const hist = get('macd_hist');
    const rsi = get('rsi14');
    if (percentile === null || z === null || adx === null || pdi === null || mdi === null || hist === null || rsi === null) {
      this.latest = null;
      return null;
    }
    this.latest = {
      volatility: volatilityLabel(percentile, this.config.volThresholds),
      volatilityPercentile: percentile,
      trend: trendLabel(adx, pdi, mdi, this.config.adxTrend),
      momentum: momentumLabel(hist, rsi, this.config.rsiMid),
      volume: volumeLabel(z, this.config.volumeHighZ, this.config.volumeLowZ),
      volumeZ: z,
    };
    return this.latest;
  }

  /** current length of every internal buffer (bounded by the windows) */
  bufferLengths(): number[] {
    return [this.rvPast.length, this.volPast.length];
  }
}

type Labels = Pick<Regime, 'trend' | 'momentum'>;

function trendSign(t: TrendRegime): number {
  return t === 'up' ? 1 : t === 'down' ? -1 : 0;
}
function momentumSign(m: MomentumRegime): number {
  return m === 'rising' ? 1 : m === 'falling' ? -1 : 0;
}

/**
 * Compare the hourly and 4-hour regimes.
 * - 'confirmed': trend and momentum agree on both timeframes (all four are up/rising, or all four down/falling);
 * - 'conflicting': some directional label on one timeframe (trend up/down, momentum rising/falling) is opposite a
 *   directional label on the other (e.g. hourly trend up vs 4-hour momentum falling);
 * - 'unconfirmed': otherwise, or when either regime is missing.
 */
export function confirmAcrossTimeframes(hourly: Labels | null | undefined, fourHour: Labels | null | undefined): Confirmation {
  if (!hourly || !fourHour) return 'unconfirmed';
  const h = [trendSign(hourly.trend), momentumSign(hourly.momentum)];
  const f = [trendSign(fourHour.trend), momentumSign(fourHour.momentum)];
  const all = [...h, ...f];
  if (all.every((s) => s === 1) || all.every((s) => s === -1)) return 'confirmed';
  if (h.some((a) => a !== 0 && f.some((b) => b === -a))) return 'conflicting';
  return 'unconfirmed';
}

/** Parameter overrides applied in a regime. */
export interface RegimePolicy {
  /** multiplies the strategy's position size (0 = no new entries) */
  readonly sizeMultiplier: number;
  /** minimum signal confidence (0..1) required to trade */
  readonly minConfidence: number;
}

/** Config-shaped policy table: a default plus partial overrides keyed by volatility regime. */
export interface RegimePolicyTable {
  readonly default: RegimePolicy;
  readonly byVolatility?: Partial<Record<VolatilityRegime, Partial<RegimePolicy>>>;
}

/**
 * The policy for `regime`: the table's default with the overrides of its volatility regime laid on top. A missing
 * regime (warming up) or a volatility regime without an entry gets the default.
 */
export function policyFor(regime: Pick<Regime, 'volatility'> | null | undefined, policies: RegimePolicyTable): RegimePolicy {
  const base = policies.default;
  const over = regime ? policies.byVolatility?.[regime.volatility] : undefined;
  const out: RegimePolicy = {
    sizeMultiplier: over?.sizeMultiplier ?? base.sizeMultiplier,
    minConfidence: over?.minConfidence ?? base.minConfidence,
  };
  if (!(Number.isFinite(out.sizeMultiplier) && out.sizeMultiplier >= 0)) {
    throw new RangeError(`policyFor: sizeMultiplier must be a finite number >= 0, got ${out.sizeMultiplier}`);
  }
  if (!(out.minConfidence >= 0 && out.minConfidence <= 1)) {
    throw new RangeError(`policyFor: minConfidence must be in 0..1, got ${out.minConfidence}`);
  }
  return out;
}
