/**
 * Training data for the ensemble's models: the feature matrix of many symbols' hourly bars, labels for a horizon,
 * and chronological walk-forward splits.
 *
 * - A row is one (symbol, hour) whose full `FEATURE_KEYS` vector exists; rows are ordered by time, then symbol.
 * - The label for horizon h at bar t is 1 when ln(close[t+h] / close[t]) − cost > 0 (cost = the round trip,
 *   0.5 % by default), else 0. Bar t+h must be exactly h hours after bar t; otherwise (a data gap, or the end of
 *   the data) the row has no label for that horizon. The realized log return is kept for policy metrics, and so
 *   is the next bar's simple return (what holding the coin for one hour earned).
 * - `walkForwardSplits` puts validation windows strictly after their training windows, with a gap of `gapBars`
 *   bars between the last training row and the first validation row, so with gapBars = h no training label's
 *   price path overlaps a validation label's.
 */
import type { Bar, Symbol } from '../types.js';
import { FEATURE_KEYS, FeatureVectorizer } from './features.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Round-trip trading cost subtracted from the log return before labelling. */
export const DEFAULT_COST = 0.005;

/** One symbol's bars as the dataset keeps them, to look forward from a row. */
export interface SeriesColumns {
  readonly ts: Float64Array;
  readonly close: Float64Array;
}

/** Feature vectors of all symbols, ordered by time then symbol. */
export interface FeatureMatrix {
  /** = FEATURE_KEYS */
  readonly keys: readonly string[];
  readonly symbols: readonly Symbol[];
  readonly rows: number;
  readonly cols: number;
  /** rows × cols, row-major */
  readonly X: Float32Array;
  /** bar open time (ms UTC) of each row */
  readonly ts: Float64Array;
  /** index into `symbols` of each row */
  readonly symbol: Uint16Array;
  /** index of each row's bar in its symbol's `series` */
  readonly barIndex: Int32Array;
  /** every bar of each symbol (also those without a vector), in `symbols` order */
  readonly series: readonly SeriesColumns[];
}

/** Vectorizes every symbol's bars (each in time order). Bars at or after `until` (ms, exclusive) are ignored. */
export function buildFeatureMatrix(barsBySymbol: ReadonlyMap<Symbol, readonly Bar[]>, options: { until?: number } = {}): FeatureMatrix {
  const until = options.until ?? Number.POSITIVE_INFINITY;
  const cols = FEATURE_KEYS.length;
  const symbols = [...barsBySymbol.keys()];
  if (symbols.length > 65_535) throw new RangeError('buildFeatureMatrix: too many symbols');
  const series: SeriesColumns[] = [];
  const vectors: Float32Array[] = [];
  const rowTs: number[] = [];
  const rowSymbol: number[] = [];
  const rowBar: number[] = [];
  symbols.forEach((symbol, s) => {
    const bars = barsBySymbol.get(symbol)!;
    let n = 0;
    while (n < bars.length && bars[n]!.ts < until) n++;
    const ts = new Float64Array(n);
    const close = new Float64Array(n);
    const vectorizer = new FeatureVectorizer();
    for (let i = 0; i < n; i++) {
      const bar = bars[i]!;
      ts[i] = bar.ts;
      close[i] = bar.close;
      const v = vectorizer.update(bar);
      if (v === null) continue;
      vectors.push(v);
      rowTs.push(bar.ts);
      rowSymbol.push(s);
      rowBar.push(i);
    }
    series.push({ ts, close });
  });
  const order = Array.from(rowTs.keys()).sort((a, b) => rowTs[a]! - rowTs[b]! || rowSymbol[a]! - rowSymbol[b]!);
  const rows = order.length;
  const X = new Float32Array(rows * cols);
  const ts = new Float64Array(rows);
  const symbol = new Uint16Array(rows);
  const barIndex = new Int32Array(rows);
  order.forEach((from, r) => {
    X.set(vectors[from]!, r * cols);
    ts[r] = rowTs[from]!;
    symbol[r] = rowSymbol[from]!;
    barIndex[r] = rowBar[from]!;
  });
  return { keys: FEATURE_KEYS, symbols, rows, cols, X, ts, symbol, barIndex, series };
}

/** The label of a realized log return: 1 when it beats the round-trip cost. */
export function labelFor(logReturn: number, cost: number = DEFAULT_COST): 0 | 1 {
  return logReturn - cost > 0 ? 1 : 0;
}

/** Labels of every row of a matrix for one horizon. */
export interface Labels {
  readonly horizonBars: number;
  readonly cost: number;
  /** 1 when the row has a label (bar t+h exists exactly h hours later) */
  readonly has: Uint8Array;
  /** 0/1; 0 where `has` is 0 */
  readonly y: Uint8Array;
  /** ln(close[t+h] / close[t]); NaN where `has` is 0 */
  readonly forwardReturn: Float64Array;
  /** close[t+1] / close[t] − 1 of the next bar in the series (whatever its time); 0 at the end of the data */
  readonly nextReturn: Float64Array;
  /** number of labelled rows */
  readonly count: number;
}

export function labelRows(m: FeatureMatrix, horizonBars: number, cost: number = DEFAULT_COST, barMs: number = HOUR_MS): Labels {
  if (!Number.isInteger(horizonBars) || horizonBars < 1) throw new RangeError(`labelRows: horizon must be a positive whole number of bars, got ${horizonBars}`);
  const has = new Uint8Array(m.rows);
  const y = new Uint8Array(m.rows);
  const forwardReturn = new Float64Array(m.rows).fill(Number.NaN);
  const nextReturn = new Float64Array(m.rows);
  let count = 0;
  for (let r = 0; r < m.rows; r++) {
    const s = m.series[m.symbol[r]!]!;
    const i = m.barIndex[r]!;
    const c0 = s.close[i]!;
    if (i + 1 < s.close.length) nextReturn[r] = s.close[i + 1]! / c0 - 1;
    const j = i + horizonBars;
    if (j >= s.ts.length || s.ts[j]! !== s.ts[i]! + horizonBars * barMs) continue;
    const ret = Math.log(s.close[j]! / c0);
    if (!Number.isFinite(ret)) continue;
    has[r] = 1;
    y[r] = labelFor(ret, cost);
    forwardReturn[r] = ret;
    count++;
  }
  return { horizonBars, cost, has, y, forwardReturn, nextReturn, count };
}

/** A self-contained (X, y) set for one horizon: only labelled rows. */
export interface Dataset {
  readonly keys: readonly string[];
  readonly symbols: readonly Symbol[];
  readonly horizonBars: number;
  readonly cost: number;
  readonly rows: number;
  readonly cols: number;
  readonly X: Float32Array;
  readonly y: Uint8Array;
  readonly forwardReturn: Float64Array;
  readonly nextReturn: Float64Array;
  readonly ts: Float64Array;
  readonly symbol: Uint16Array;
}

export interface DatasetOptions {
  readonly horizonBars: number;
  /** round trip, default DEFAULT_COST */
  readonly cost?: number;
  /** ms UTC, exclusive: bars from here on are not read at all (not even for labels) */
  readonly until?: number;
}

export function buildDataset(barsBySymbol: ReadonlyMap<Symbol, readonly Bar[]>, options: DatasetOptions): Dataset {
  const m = buildFeatureMatrix(barsBySymbol, options.until === undefined ? {} : { until: options.until });
  return datasetFromMatrix(m, labelRows(m, options.horizonBars, options.cost ?? DEFAULT_COST));
}

export function datasetFromMatrix(m: FeatureMatrix, labels: Labels): Dataset {
  const rows = labels.count;
  const X = new Float32Array(rows * m.cols);
  const y = new Uint8Array(rows);
  const forwardReturn = new Float64Array(rows);
  const nextReturn = new Float64Array(rows);
  const ts = new Float64Array(rows);
  const symbol = new Uint16Array(rows);
  let k = 0;
  for (let r = 0; r < m.rows; r++) {
    if (!labels.has[r]) continue;
    X.set(m.X.subarray(r * m.cols, (r + 1) * m.cols), k * m.cols);
    y[k] = labels.y[r]!;
    forwardReturn[k] = labels.forwardReturn[r]!;
    nextReturn[k] = labels.nextReturn[r]!;
    ts[k] = m.ts[r]!;
    symbol[k] = m.symbol[r]!;
    k++;
  }
  return { keys: m.keys, symbols: m.symbols, horizonBars: labels.horizonBars, cost: labels.cost, rows, cols: m.cols, X, y, forwardReturn, nextReturn, ts, symbol };
}

export interface SplitOptions {
  readonly trainDays: number;
  readonly validDays: number;
  readonly folds: number;
  /** bars left out between the last training row and the first validation row: the label horizon */
  readonly gapBars: number;
  /** default one hour */
  readonly barMs?: number;
}

export interface Split {
  /** ms UTC, inclusive / exclusive */
  readonly trainFrom: number;
  readonly trainTo: number;
  readonly validFrom: number;
  readonly validTo: number;
  /** indices into the timestamps given, ascending */
  readonly train: Int32Array;
  readonly valid: Int32Array;
}

/**
 * Walk-forward folds, oldest first. The validation windows (`validDays` each) tile the last `folds · validDays`
 * of the data (up to one bar after the latest timestamp); each training window is the `trainDays` that end
 * `gapBars` bars before its validation window starts. So every training row is at least gapBars + 1 bars before
 * every validation row of its fold. Timestamps may come in any order.
 */
export function walkForwardSplits(timestamps: ArrayLike<number>, options: SplitOptions): Split[] {
  const { trainDays, validDays, folds, gapBars } = options;
  const barMs = options.barMs ?? HOUR_MS;
  if (!(trainDays > 0 && validDays > 0)) throw new RangeError(`walkForwardSplits: trainDays and validDays must be positive, got ${trainDays} and ${validDays}`);
  if (!Number.isInteger(folds) || folds < 1) throw new RangeError(`walkForwardSplits: folds must be a positive integer, got ${folds}`);
  if (!Number.isInteger(gapBars) || gapBars < 0) throw new RangeError(`walkForwardSplits: gapBars must be a non-negative integer, got ${gapBars}`);
  if (timestamps.length === 0) throw new RangeError('walkForwardSplits: no timestamps');
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < timestamps.length; i++) last = Math.max(last, timestamps[i]!);
  const end = last + barMs;
  const splits: Split[] = [];
  for (let f = folds - 1; f >= 0; f--) {
    const validTo = end - f * validDays * DAY_MS;
    const validFrom = validTo - validDays * DAY_MS;
    const trainTo = validFrom - gapBars * barMs;
    const trainFrom = trainTo - trainDays * DAY_MS;
    const train: number[] = [];
    const valid: number[] = [];
    for (let i = 0; i < timestamps.length; i++) {
      const t = timestamps[i]!;
      if (t >= trainFrom && t < trainTo) train.push(i);
      else if (t >= validFrom && t < validTo) valid.push(i);
    }
    splits.push({ trainFrom, trainTo, validFrom, validTo, train: Int32Array.from(train), valid: Int32Array.from(valid) });
  }
  return splits;
}
