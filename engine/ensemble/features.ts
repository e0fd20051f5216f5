/**
 * The ensemble's global feature list and the per-symbol vectorizer that turns hourly bars into model inputs.
 *
 * `FEATURE_KEYS` is the ordered list every model's `featureKeys` is a subset of:
 * 1. every scale-free key of the hourly `FeatureSet` snapshot (`HOURLY_FEATURE_KEYS`): oscillators, `*_pct`,
 *    `*_dist`, widths and normalised flows. Raw price- or volume-valued keys (`PRICE_VALUED_KEYS`: MACD's three
 *    lines, ATR, OBV) are left out: their level depends on the coin's price or volume, so they do not transfer
 *    across symbols or years;
 * 2. the same keys on 4-hour bars (`h4_` prefix), from the last *completed* 4-hour bar;
 * 3. lagged hourly log returns `ret_1` … `ret_48`: ret_k = ln(close[t−k+1] / close[t−k]), so `ret_1` is the
 *    return of the bar just closed. A return spans consecutive bars as given; a data gap makes it a multi-hour one.
 *
 * `FeatureVectorizer.update(bar)` uses only the bar itself and earlier bars (the indicators are incremental, the
 * 4-hour set only emits completed bars), costs O(1) per bar, and returns null until every key is available and
 * for any bar where some value is not a finite number. A bar with a NaN, infinite or non-positive price (or a
 * negative or NaN volume) is treated as missing: null, and not fed to the indicators.
 */
import type { Bar } from '../types.js';
import { FeatureSet, HigherTimeframeFeatureSet, type FeatureSnapshot } from '../features/features.js';

/** Keys of the hourly snapshot whose value is in price or volume units: not inputs. */
export const PRICE_VALUED_KEYS: readonly string[] = ['macd', 'macd_signal', 'macd_hist', 'atr14', 'obv'];

/** The scale-free keys of `FeatureSet`'s snapshot, in snapshot order (a test checks every key is in one list). */
export const HOURLY_FEATURE_KEYS: readonly string[] = [
  'sma20_dist',
  'ema50_dist',
  'rsi14',
  'macd_hist_pct',
  'atr14_pct',
  'bb20_pctb',
  'bb20_width',
  'roc10',
  'stoch_k14',
  'stoch_d3',
  'cci20',
  'mfi14',
  'adx14',
  'plus_di14',
  'minus_di14',
  'willr14',
  'rv24',
  'zscore20',
  'ema20_slope',
  'keltner20_pos',
  'vwap24_dist',
  'wma20_dist',
  'wema20_dist',
  'trix15',
  'stochrsi14',
  'stochrsi14_k',
  'stochrsi14_d',
  'cmo14',
  'tsi25_13',
  'kst',
  'kst_signal',
  'ao_pct',
  'force13_norm',
  'adl_osc',
  'cmf20',
  'psar_dist',
  'ichimoku_tk_pct',
  'ichimoku_base_dist',
  'ichimoku_span_pct',
  'aroon25_up',
  'aroon25_down',
  'aroon25_osc',
  'donchian20_pos',
  'donchian20_width',
  'ultosc7_14_28',
  'vortex14_plus',
  'vortex14_minus',
];

export const H4_PREFIX = 'h4_';
export const H4_FEATURE_KEYS: readonly string[] = HOURLY_FEATURE_KEYS.map((k) => H4_PREFIX + k);

/** The most lagged hourly return in the list. */
export const MAX_RETURN_LAG = 48;

/** `ret_1` … `ret_lags`. */
export function returnKeys(lags: number = MAX_RETURN_LAG): string[] {
  if (!Number.isInteger(lags) || lags < 0 || lags > MAX_RETURN_LAG) throw new RangeError(`returnKeys: lags must be an integer in 0..${MAX_RETURN_LAG}, got ${lags}`);
  return Array.from({ length: lags }, (_, i) => `ret_${i + 1}`);
}

/** The global, ordered list of model inputs. */
export const FEATURE_KEYS: readonly string[] = [...HOURLY_FEATURE_KEYS, ...H4_FEATURE_KEYS, ...returnKeys()];

const KEY_INDEX = new Map<string, number>(FEATURE_KEYS.map((k, i) => [k, i]));

/** Position of each key in `FEATURE_KEYS`; throws on an unknown key. */
export function featureIndices(keys: readonly string[]): Int32Array {
  const out = new Int32Array(keys.length);
  keys.forEach((k, i) => {
    const at = KEY_INDEX.get(k);
    if (at === undefined) throw new RangeError(`unknown feature key "${k}"`);
    out[i] = at;
  });
  return out;
}

/** Picks `indices` (from `featureIndices`) out of a full `FEATURE_KEYS` vector. */
export function selectFeatures(full: Float32Array, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = full[indices[i]!]!;
  return out;
}

const HOURLY_COUNT = HOURLY_FEATURE_KEYS.length;
const RET_OFFSET = 2 * HOURLY_COUNT;

/**
 * One symbol's bars in time order → full `FEATURE_KEYS` vectors. One instance per symbol; bars must be strictly
 * increasing in time (the feature sets throw otherwise).
 */
export class FeatureVectorizer {
  private readonly hourly = new FeatureSet();
  private readonly h4 = new HigherTimeframeFeatureSet();
  /** the last MAX_RETURN_LAG + 1 closes, a ring */
  private readonly closes = new Float64Array(MAX_RETURN_LAG + 1);
  private count = 0;

  /** bars consumed */
  get bars(): number {
    return this.count;
  }

  update(bar: Bar): Float32Array | null {
    // A bar with a missing (NaN) or impossible value is skipped, not fed: it would poison the indicators' state.
    if (!usable(bar)) return null;
    const snap = this.hourly.update(bar);
    this.h4.update(bar);
    this.closes[this.count % this.closes.length] = bar.close;
    this.count++;
    const h4 = this.h4.latest;
    if (this.count <= MAX_RETURN_LAG || h4 === null) return null;
    const out = new Float32Array(FEATURE_KEYS.length);
    if (!fill(out, 0, snap, HOURLY_FEATURE_KEYS) || !fill(out, HOURLY_COUNT, h4, H4_FEATURE_KEYS)) return null;
    const n = this.closes.length;
    for (let k = 1; k <= MAX_RETURN_LAG; k++) {
      const newer = this.closes[(this.count - k) % n]!;
      const older = this.closes[(this.count - k - 1) % n]!;
      const r = Math.log(newer / older);
      if (!Number.isFinite(r)) return null; // a guard: usable() already refuses non-positive closes
      out[RET_OFFSET + k - 1] = r;
    }
    return out;
  }
}

function usable(bar: Bar): boolean {
  return (
    Number.isFinite(bar.ts) &&
    bar.open > 0 &&
    bar.high > 0 &&
    bar.low > 0 &&
    bar.close > 0 &&
    bar.volume >= 0 &&
    Number.isFinite(bar.open + bar.high + bar.low + bar.close + bar.volume)
  );
}

function fill(out: Float32Array, offset: number, snap: FeatureSnapshot, keys: readonly string[]): boolean {
  for (let i = 0; i < keys.length; i++) {
    const v = snap[keys[i]!];
    // finite as a float32 too: a huge double would become Infinity in the vector
    if (v === null || v === undefined || !Number.isFinite(Math.fround(v))) return false;
    out[offset + i] = v;
  }
  return true;
}
