/**
 * Contract tests for the incremental indicators (docs/ARCHITECTURE.md §4: null while warming up, checked against
 * reference data). References:
 * - `technicalindicators` v3 batch API where it has the indicator (outputs aligned to the end of the series);
 * - a naive formula computed over the full window in this file otherwise;
 * - for the added indicators also small hand-computed fixtures and a flat-market case.
 * Every reference check runs on a synthetic series (always) and on ../shared/data/binance-1h/BTCUSD.csv when present.
 * `INDICATOR_DEVIATIONS=1 npx vitest run engine/features/indicators.test.ts` prints the max deviation of each
 * added indicator from its reference.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as TI from 'technicalindicators';
import { parseBarsCsv } from '../market/csv.js';
import type { Bar } from '../types.js';
import {
  ADL,
  ADX,
  Aroon,
  ATR,
  AwesomeOscillator,
  Bollinger,
  CCI,
  CMF,
  CMO,
  DonchianChannel,
  EMA,
  EmaSlope,
  ForceIndex,
  IchimokuCloud,
  KeltnerPosition,
  KST,
  MACD,
  MFI,
  OBV,
  PSAR,
  RealizedVolatility,
  ROC,
  RollingExtreme,
  RSI,
  SMA,
  Stochastic,
  StochasticRSI,
  TRIX,
  TSI,
  UltimateOscillator,
  Vortex,
  VwapDistance,
  WEMA,
  WilliamsR,
  WMA,
  ZScore,
  type Indicator,
} from './indicators.js';
import * as INDICATORS from './indicators.js';
import { BarAggregator, FeatureSet, HigherTimeframeFeatureSet, type FeatureSnapshot } from './features.js';
import { mulberry32 } from '../rng.js';

const HOUR = 3_600_000;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BTC_CSV = resolve(REPO_ROOT, '../shared/data/binance-1h/BTCUSD.csv');
const REAL_BARS = 4000;

// ───────────────────────────── data ─────────────────────────────

/** Gapless hourly random walk with consistent OHLC and positive volume. */
function syntheticBars(n: number, seed = 42, start = 100): Bar[] {
  const rnd = mulberry32(seed).next;
  const bars: Bar[] = [];
  let price = start;
  const t0 = Date.UTC(2024, 0, 1);
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = open * Math.exp((rnd() - 0.5) * 0.04 + (i % 200 < 100 ? 0.001 : -0.001));
    const high = Math.max(open, close) * (1 + rnd() * 0.01);
    const low = Math.min(open, close) * (1 - rnd() * 0.01);
    bars.push({ ts: t0 + i * HOUR, open, high, low, close, volume: 10 + rnd() * 1000 });
    price = close;
  }
  return bars;
}

function loadReal(): Bar[] | null {
  if (!existsSync(BTC_CSV)) return null;
  return parseBarsCsv(readFileSync(BTC_CSV, 'utf8'), BTC_CSV).slice(0, REAL_BARS);
}

const SYNTH = syntheticBars(600);
const REAL = loadReal();
if (REAL === null) console.warn(`[indicators.test] ${BTC_CSV} not found: real-data reference checks are skipped (synthetic checks still run)`);

const DATASETS: [string, Bar[] | null][] = [
  ['synthetic', SYNTH],
  ['BTCUSD 1h', REAL],
];

// ───────────────────────────── helpers ─────────────────────────────

function run<I>(ind: Indicator<I>, inputs: readonly I[]): (number | null)[] {
  return inputs.map((x) => ind.update(x));
}

function runWith<I, T>(ind: Indicator<I>, inputs: readonly I[], read: () => T): T[] {
  return inputs.map((x) => {
    ind.update(x);
    return read();
  });
}

/**
 * Compare `mine` (one entry per input, null while warming up) with a reference aligned to the end of the series.
 * Tolerance: |a − b| <= rel · |b| + abs (abs only guards values that cross zero).
 */
function expectTailAgrees(mine: readonly (number | null)[], ref: readonly (number | undefined | null)[], warmup: number, tol: { rel: number; abs: number }, skip?: (i: number) => boolean): number {
  const n = Math.min(ref.length, mine.length - warmup);
  expect(n).toBeGreaterThan(0);
  let compared = 0;
  let maxAbs = 0;
  for (let j = 1; j <= n; j++) {
    const i = mine.length - j;
    const b = ref[ref.length - j];
    if (b === undefined || b === null || (skip && skip(i))) continue;
    const a = mine[i];
    if (a === null || a === undefined) throw new Error(`index ${i}: mine is null, reference ${b}`);
    const bound = tol.rel * Math.abs(b) + tol.abs;
    if (!(Math.abs(a - b) <= bound)) throw new Error(`index ${i}: mine ${a} vs reference ${b} (|diff| ${Math.abs(a - b)} > ${bound})`);
    maxAbs = Math.max(maxAbs, Math.abs(a - b));
    compared++;
  }
  expect(compared).toBeGreaterThan(Math.min(50, n / 2));
  lastMaxAbs = maxAbs;
  return compared;
}

/** max |mine − reference| of the last `expectTailAgrees` / `expectMatchesNaive` call (for the deviation report) */
let lastMaxAbs = 0;

/** Naive check: reference computed per index from the full history. */
function expectMatchesNaive(mine: readonly (number | null)[], warmup: number, naive: (i: number) => number, tol = 1e-9): void {
  let maxAbs = 0;
  for (let i = warmup; i < mine.length; i++) {
    const a = mine[i]!;
    const b = naive(i);
    const bound = tol * Math.max(1, Math.abs(b));
    if (!(Math.abs(a - b) <= bound)) throw new Error(`index ${i}: mine ${a} vs naive ${b}`);
    maxAbs = Math.max(maxAbs, Math.abs(a - b));
  }
  lastMaxAbs = maxAbs;
}

const closes = (bars: readonly Bar[]) => bars.map((b) => b.close);
const hlc = (bars: readonly Bar[]) => ({ high: bars.map((b) => b.high), low: bars.map((b) => b.low), close: closes(bars) });
const typical = (b: Bar) => (b.high + b.low + b.close) / 3;

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const popSd = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
};

// Most indicators are the same arithmetic as the library (same seeds, same windows), so only float
// reordering separates them: 1e-9 relative would pass; we state 1e-6 relative as the contract.
const TIGHT = { rel: 1e-6, abs: 1e-9 };
// The library rounds RSI and MFI to 2 decimals (`toFixed(2)`), so half a unit in the last kept place.
const ROUNDED_2DP = { rel: 0, abs: 0.005 + 1e-9 };

// ───────────────────────────── (1) reference agreement ─────────────────────────────

describe.each(DATASETS)('reference agreement on %s data', (name, data) => {
  const bars = data ?? [];
  const maybe = data === null ? it.skip : it;
  if (data === null) console.warn(`[indicators.test] skipping "${name}" reference checks: data absent`);

  maybe('SMA(20) = technicalindicators SMA', () => {
    const ind = new SMA(20);
    expectTailAgrees(run(ind, closes(bars)), TI.SMA.calculate({ period: 20, values: closes(bars) }), ind.warmup, TIGHT);
  });

  maybe('EMA(12), EMA(50) = technicalindicators EMA (both seeded with the SMA of the first period)', () => {
    for (const p of [12, 50]) {
      const ind = new EMA(p);
      expectTailAgrees(run(ind, closes(bars)), TI.EMA.calculate({ period: p, values: closes(bars) }), ind.warmup, TIGHT);
    }
  });

  maybe('RSI(14) = technicalindicators RSI (library rounds to 2 dp)', () => {
    const ind = new RSI(14);
    expectTailAgrees(run(ind, closes(bars)), TI.RSI.calculate({ period: 14, values: closes(bars) }), ind.warmup, ROUNDED_2DP);
  });

  maybe('MACD(12,26,9) line/signal/histogram = technicalindicators MACD (EMA oscillator and signal)', () => {
    const ref = TI.MACD.calculate({ values: closes(bars), fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false });
    const ind = new MACD(12, 26, 9);
    const out = runWith(ind, closes(bars), () => ({ line: ind.value, signal: ind.signal, hist: ind.histogram }));
    expectTailAgrees(out.map((o) => o.line), ref.map((r) => r.MACD), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.signal), ref.map((r) => r.signal), ind.signalWarmup, TIGHT);
    expectTailAgrees(out.map((o) => o.hist), ref.map((r) => r.histogram), ind.signalWarmup, TIGHT);
  });

  maybe('ATR(14) = technicalindicators ATR (Wilder, TR from the second bar)', () => {
    const ind = new ATR(14);
    expectTailAgrees(run(ind, bars), TI.ATR.calculate({ ...hlc(bars), period: 14 }), ind.warmup, TIGHT);
  });

  maybe('Bollinger(20,2) %B and width = technicalindicators BollingerBands', () => {
    const ref = TI.BollingerBands.calculate({ period: 20, stdDev: 2, values: closes(bars) });
    const ind = new Bollinger(20, 2);
    const out = runWith(ind, closes(bars), () => ({ pb: ind.value, width: ind.width }));
    expectTailAgrees(out.map((o) => o.pb), ref.map((r) => r.pb), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.width), ref.map((r) => (r.upper - r.lower) / r.middle), ind.warmup, TIGHT);
  });

  maybe('ROC(10) = technicalindicators ROC', () => {
    const ind = new ROC(10);
    expectTailAgrees(run(ind, closes(bars)), TI.ROC.calculate({ period: 10, values: closes(bars) }), ind.warmup, TIGHT);
  });

  maybe('Stochastic(14,3) %K/%D = technicalindicators Stochastic', () => {
    const ref = TI.Stochastic.calculate({ ...hlc(bars), period: 14, signalPeriod: 3 });
    const ind = new Stochastic(14, 3);
    const out = runWith(ind, bars, () => ({ k: ind.value, d: ind.d }));
    expectTailAgrees(out.map((o) => o.k), ref.map((r) => r.k), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.d), ref.map((r) => r.d), ind.dWarmup, TIGHT);
  });

  maybe('CCI(20) = technicalindicators CCI', () => {
    const ind = new CCI(20);
    expectTailAgrees(run(ind, bars), TI.CCI.calculate({ ...hlc(bars), period: 20 }), ind.warmup, TIGHT);
  });

  maybe('OBV = technicalindicators OBV (both start at the second bar)', () => {
    const ind = new OBV();
    expectTailAgrees(run(ind, bars), TI.OBV.calculate({ close: closes(bars), volume: bars.map((b) => b.volume) }), ind.warmup, TIGHT);
  });

  maybe('MFI(14) = technicalindicators MFI (library rounds to 2 dp)', () => {
    // The library books an unchanged typical price as negative flow; we book it nowhere (the usual definition).
    // Windows containing an unchanged typical price are therefore excluded; everything else must agree.
    const period = 14;
    const flat = bars.map((b, i) => i > 0 && typical(b) === typical(bars[i - 1]!));
    const skip = (i: number) => flat.slice(Math.max(0, i - period + 1), i + 1).some(Boolean);
    const ind = new MFI(period);
    const ref = TI.MFI.calculate({ ...hlc(bars), volume: bars.map((b) => b.volume), period });
    expectTailAgrees(run(ind, bars), ref, ind.warmup, ROUNDED_2DP, skip);
  });

  maybe('ADX(14), +DI, −DI = technicalindicators ADX', () => {
    // The library smooths TR/DM with Wilder's running sum, we with the running mean: DI is a ratio, so identical.
    const ref = TI.ADX.calculate({ ...hlc(bars), period: 14 });
    const ind = new ADX(14);
    const out = runWith(ind, bars, () => ({ adx: ind.value, pdi: ind.plusDI, mdi: ind.minusDI }));
    expectTailAgrees(out.map((o) => o.adx), ref.map((r) => r.adx), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.pdi), ref.map((r) => r.pdi), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.mdi), ref.map((r) => r.mdi), ind.warmup, TIGHT);
  });

  maybe('Williams %R(14) = technicalindicators WilliamsR', () => {
    const ind = new WilliamsR(14);
    expectTailAgrees(run(ind, bars), TI.WilliamsR.calculate({ ...hlc(bars), period: 14 }), ind.warmup, TIGHT);
  });

  maybe('Keltner position(20,10,2) = position inside technicalindicators KeltnerChannels', () => {
    const ref = TI.KeltnerChannels.calculate({ ...hlc(bars), maPeriod: 20, atrPeriod: 10, useSMA: false, multiplier: 2 });
    const ind = new KeltnerPosition(20, 10, 2);
    const c = closes(bars);
    const refPos = ref.map((r, j) => (c[c.length - ref.length + j]! - r.middle) / (r.upper - r.middle));
    expectTailAgrees(run(ind, bars), refPos, ind.warmup, TIGHT);
  });

  maybe('EMA slope(20,3) = ema_t / ema_{t-3} − 1 on technicalindicators EMA', () => {
    const ema = TI.EMA.calculate({ period: 20, values: closes(bars) });
    const ref = ema.map((e, j) => (j >= 3 ? e / ema[j - 3]! - 1 : undefined));
    const ind = new EmaSlope(20, 3);
    expectTailAgrees(run(ind, closes(bars)), ref, ind.warmup, TIGHT);
  });

  // ── no library reference: naive formulas ──

  maybe('realized volatility(24) = sample stdev of the last 24 log returns (naive)', () => {
    const c = closes(bars);
    const ind = new RealizedVolatility(24);
    expectMatchesNaive(run(ind, c), ind.warmup, (i) => {
      const r: number[] = [];
      for (let k = i - 23; k <= i; k++) r.push(Math.log(c[k]! / c[k - 1]!));
      const m = mean(r);
      return Math.sqrt(r.reduce((s, x) => s + (x - m) ** 2, 0) / (r.length - 1));
    }, 1e-7);
  });

  maybe('z-score(20) = (close − mean) / population stdev of the last 20 closes (naive)', () => {
    const c = closes(bars);
    const ind = new ZScore(20);
    expectMatchesNaive(run(ind, c), ind.warmup, (i) => {
      const w = c.slice(i - 19, i + 1);
      return (c[i]! - mean(w)) / popSd(w);
    }, 1e-7);
  });

  maybe('VWAP distance(24) = close / (Σ TP·V / Σ V over 24 bars) − 1 (naive)', () => {
    const ind = new VwapDistance(24);
    expectMatchesNaive(run(ind, bars), ind.warmup, (i) => {
      const w = bars.slice(i - 23, i + 1);
      const vwap = w.reduce((s, b) => s + typical(b) * b.volume, 0) / w.reduce((s, b) => s + b.volume, 0);
      return bars[i]!.close / vwap - 1;
    }, 1e-9);
  });
});

// ───────────────────────────── (1b) reference agreement: added indicators ─────────────────────────────

/** Max deviations per (dataset, check), printed when INDICATOR_DEVIATIONS=1 (used for the change report). */
const DEVIATIONS: string[] = [];
function noteDeviation(dataset: string, check: string): void {
  DEVIATIONS.push(`${dataset.padEnd(10)} ${check.padEnd(28)} max |diff| ${lastMaxAbs.toExponential(2)}`);
}
afterAll(() => {
  if (process.env.INDICATOR_DEVIATIONS) console.info(`[indicators.test] deviations from the references:\n${DEVIATIONS.join('\n')}`);
});

const volumes = (bars: readonly Bar[]) => bars.map((b) => b.volume);
const mfm = (b: Bar) => (b.high > b.low ? (b.close - b.low - (b.high - b.close)) / (b.high - b.low) : 0);
const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

/** Values of `series` (which starts at bar `offset`) for bar i; undefined before it starts. */
const at = (series: readonly number[], offset: number, i: number) => (i - offset >= 0 ? series[i - offset] : undefined);

/**
 * Unrounded Wilder RSI built from the library's AverageGain / AverageLoss (its RSI rounds to 2 dp).
 * Element j belongs to bar j + period.
 */
function unroundedRsi(c: number[], period: number): number[] {
  const g = TI.AverageGain.calculate({ period, values: c });
  const l = TI.AverageLoss.calculate({ period, values: c });
  expect(g.length).toBe(c.length - period);
  return g.map((gain, j) => {
    const loss = l[j]!;
    return loss === 0 ? (gain === 0 ? 50 : 100) : 100 - 100 / (1 + gain / loss);
  });
}

describe.each(DATASETS)('reference agreement (added indicators) on %s data', (name, data) => {
  const bars = data ?? [];
  const maybe = data === null ? it.skip : it;
  const note = (check: string) => noteDeviation(name, check);

  // ── technicalindicators references. Where the library drops exactly our warm-up, that is asserted too
  //    (ref.length = bars − warmup), so the end alignment is checked and not assumed. ──

  maybe('WMA(20) = technicalindicators WMA', () => {
    const ind = new WMA(20);
    const ref = TI.WMA.calculate({ period: 20, values: closes(bars) });
    expect(ref.length).toBe(bars.length - ind.warmup);
    expectTailAgrees(run(ind, closes(bars)), ref, ind.warmup, TIGHT);
    note('WMA(20)');
  });

  maybe('WEMA(20) = technicalindicators WEMA (Wilder, SMA-seeded)', () => {
    const ind = new WEMA(20);
    const ref = TI.WEMA.calculate({ period: 20, values: closes(bars) });
    expect(ref.length).toBe(bars.length - ind.warmup);
    expectTailAgrees(run(ind, closes(bars)), ref, ind.warmup, TIGHT);
    note('WEMA(20)');
  });

  maybe('TRIX(15) = technicalindicators TRIX', () => {
    const ind = new TRIX(15);
    const ref = TI.TRIX.calculate({ period: 15, values: closes(bars) });
    expect(ref.length).toBe(bars.length - ind.warmup);
    expectTailAgrees(run(ind, closes(bars)), ref, ind.warmup, TIGHT);
    note('TRIX(15)');
  });

  maybe('StochasticRSI(14,14,3,3) = stochastic of the unrounded RSI via technicalindicators AverageGain/Loss, Stochastic, SMA', () => {
    // The library's own StochasticRSI runs on its 2-dp-rounded RSI; the exact check is therefore built from its
    // unrounded pieces (same arithmetic as ours), and the rounded StochasticRSI is checked in the next test.
    const c = closes(bars);
    const rsi = unroundedRsi(c, 14);
    const st = TI.Stochastic.calculate({ high: rsi, low: rsi, close: rsi, period: 14, signalPeriod: 3 });
    const dRef = TI.SMA.calculate({ period: 3, values: st.map((s) => s.d).filter((d): d is number => d !== undefined) });
    // A flat RSI window gives 0 in the library and 50 here (as our Stochastic); skip those windows.
    const flat = rsi.map((_, j) => j >= 13 && Math.max(...rsi.slice(j - 13, j + 1)) === Math.min(...rsi.slice(j - 13, j + 1)));
    const flatWithin = (i: number, span: number) => flat.slice(Math.max(0, i - 14 - span + 1), i - 14 + 1).some(Boolean);
    const ind = new StochasticRSI(14, 14, 3, 3);
    expect(st.length).toBe(bars.length - ind.warmup);
    const out = runWith(ind, c, () => ({ raw: ind.value, k: ind.k, d: ind.d }));
    expectTailAgrees(out.map((o) => o.raw), st.map((s) => s.k), ind.warmup, TIGHT, (i) => flatWithin(i, 1));
    expectTailAgrees(out.map((o) => o.k), st.map((s) => s.d), ind.kWarmup, TIGHT, (i) => flatWithin(i, 3));
    expectTailAgrees(out.map((o) => o.d), dRef, ind.dWarmup, TIGHT, (i) => flatWithin(i, 5));
    note('StochRSI (unrounded ref)');
  });

  maybe('StochasticRSI(14,14,3,3) = technicalindicators StochasticRSI within its RSI rounding', () => {
    // Library StochRSI = 100·(r̃ − min r̃)/(max r̃ − min r̃) with r̃ = RSI rounded to 2 dp (|r̃ − r| <= 0.005).
    // Numerator and range then each move by <= 0.01, so |ours − library| <= 100 · 0.02 / R̃ with R̃ the library's
    // window range: a per-point bound, looser where the RSI window is narrow.
    const c = closes(bars);
    const ref = TI.StochasticRSI.calculate({ values: c, rsiPeriod: 14, stochasticPeriod: 14, kPeriod: 3, dPeriod: 3 });
    const rounded = TI.RSI.calculate({ values: c, period: 14 });
    const ind = new StochasticRSI(14, 14, 3, 3);
    expect(ref.length).toBe(bars.length - ind.dWarmup);
    const mine = run(ind, c);
    let compared = 0;
    let maxAbs = 0;
    for (let j = 1; j <= ref.length; j++) {
      const i = bars.length - j;
      const w = rounded.slice(i - 14 - 13, i - 14 + 1);
      const range = Math.max(...w) - Math.min(...w);
      if (range === 0) continue;
      const diff = Math.abs(mine[i]! - ref[ref.length - j]!.stochRSI);
      if (!(diff <= 2 / range + 1e-9)) throw new Error(`index ${i}: mine ${mine[i]} vs library ${ref[ref.length - j]!.stochRSI}, window range ${range}`);
      maxAbs = Math.max(maxAbs, diff);
      compared++;
    }
    expect(compared).toBeGreaterThan(ref.length / 2);
    lastMaxAbs = maxAbs;
    note('StochRSI (library, rounded)');
  });

  maybe('KST(10,15,20,30; 10,10,10,15; 9) and signal = technicalindicators KST', () => {
    const ref = TI.KST.calculate({ values: closes(bars), ROCPer1: 10, ROCPer2: 15, ROCPer3: 20, ROCPer4: 30, SMAROCPer1: 10, SMAROCPer2: 10, SMAROCPer3: 10, SMAROCPer4: 15, signalPeriod: 9 });
    const ind = new KST([10, 15, 20, 30], [10, 10, 10, 15], 9);
    expect(ref.length).toBe(bars.length - ind.warmup);
    const out = runWith(ind, closes(bars), () => ({ kst: ind.value, signal: ind.signal }));
    expectTailAgrees(out.map((o) => o.kst), ref.map((r) => r.kst), ind.warmup, TIGHT);
    note('KST');
    expectTailAgrees(out.map((o) => o.signal), ref.map((r) => r.signal), ind.signalWarmup, TIGHT);
    note('KST signal');
  });

  maybe('AwesomeOscillator(5,34) = technicalindicators AwesomeOscillator', () => {
    const ind = new AwesomeOscillator(5, 34);
    const ref = TI.AwesomeOscillator.calculate({ high: bars.map((b) => b.high), low: bars.map((b) => b.low), fastPeriod: 5, slowPeriod: 34 });
    expect(ref.length).toBe(bars.length - ind.warmup);
    expectTailAgrees(run(ind, bars), ref, ind.warmup, TIGHT);
    note('AO(5,34)');
  });

  maybe('ForceIndex(13) = technicalindicators ForceIndex', () => {
    const ind = new ForceIndex(13);
    const ref = TI.ForceIndex.calculate({ close: closes(bars), volume: volumes(bars), period: 13 });
    expect(ref.length).toBe(bars.length - ind.warmup);
    expectTailAgrees(run(ind, bars), ref, ind.warmup, TIGHT);
    note('ForceIndex(13)');
  });

  maybe('ADL = technicalindicators ADL (library rounds to integers; flat bars corrected)', () => {
    // The library rounds the line to integers (tolerance: half a unit) and books a bar with high = low as
    // multiplier 1 (NaN → 1); we book it as 0 (StockCharts), so its volume is subtracted from the reference.
    const ref = TI.ADL.calculate({ ...hlc(bars), volume: volumes(bars) });
    let flatVolume = 0;
    const corrected = ref.map((r, i) => {
      if (bars[i]!.high === bars[i]!.low) flatVolume += bars[i]!.volume;
      return r - flatVolume;
    });
    const ind = new ADL();
    expect(ref.length).toBe(bars.length - ind.warmup);
    expectTailAgrees(run(ind, bars), corrected, ind.warmup, { rel: 1e-9, abs: 0.5 + 1e-9 });
    note('ADL (library rounds)');
  });

  maybe('PSAR(0.02, 0.2) = technicalindicators PSAR', () => {
    const ind = new PSAR(0.02, 0.2);
    const ref = TI.PSAR.calculate({ high: bars.map((b) => b.high), low: bars.map((b) => b.low), step: 0.02, max: 0.2 });
    expect(ref.length).toBe(bars.length - ind.warmup);
    const out = runWith(ind, bars, () => ({ sar: ind.value, rising: ind.rising }));
    expectTailAgrees(out.map((o) => o.sar), ref, ind.warmup, TIGHT);
    note('PSAR');
    // the SAR is below the bar in an uptrend and above it in a downtrend
    out.forEach((o, i) => {
      if (i > 0) expect(o.rising ? o.sar! <= bars[i]!.low : o.sar! >= bars[i]!.high, `bar ${i}`).toBe(true);
    });
    expect(new Set(out.map((o) => o.rising)).size).toBe(2);
  });

  maybe('IchimokuCloud(9,26,52) conversion/base/spanA/spanB = technicalindicators IchimokuCloud (undisplaced)', () => {
    const ref = TI.IchimokuCloud.calculate({ high: bars.map((b) => b.high), low: bars.map((b) => b.low), conversionPeriod: 9, basePeriod: 26, spanPeriod: 52, displacement: 26 });
    const ind = new IchimokuCloud(9, 26, 52);
    expect(ref.length).toBe(bars.length - ind.spanWarmup); // the library starts when the longest window is full
    const out = runWith(ind, bars, () => ({ tk: ind.value, conv: ind.conversion, base: ind.base, a: ind.spanA, b: ind.spanB }));
    expectTailAgrees(out.map((o) => o.tk), ref.map((r) => r.conversion - r.base), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.conv), ref.map((r) => r.conversion), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.base), ref.map((r) => r.base), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.a), ref.map((r) => r.spanA), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.b), ref.map((r) => r.spanB), ind.spanWarmup, TIGHT);
    note('Ichimoku spanB');
  });

  maybe('TSI(25,13) = 100 · EMA13(EMA25(Δc)) / EMA13(EMA25(|Δc|)) with technicalindicators EMA', () => {
    const c = closes(bars);
    const m = c.slice(1).map((x, i) => x - c[i]!);
    const num = TI.EMA.calculate({ period: 13, values: TI.EMA.calculate({ period: 25, values: m }) });
    const den = TI.EMA.calculate({ period: 13, values: TI.EMA.calculate({ period: 25, values: m.map(Math.abs) }) });
    const ref = num.map((n, j) => (den[j]! > 0 ? (100 * n) / den[j]! : 0));
    const ind = new TSI(25, 13);
    expect(ref.length).toBe(bars.length - ind.warmup);
    expectTailAgrees(run(ind, c), ref, ind.warmup, TIGHT);
    note('TSI(25,13)');
  });

  maybe('Donchian(20) position = (close − lowest low) / (highest high − lowest low) of the previous 20 bars, technicalindicators Highest/Lowest', () => {
    const hi = TI.Highest.calculate({ period: 20, values: bars.map((b) => b.high) });
    const lo = TI.Lowest.calculate({ period: 20, values: bars.map((b) => b.low) });
    // hi[j] covers bars j..j+19, so it is the channel for bar j + 20 (the current bar is excluded)
    const ref = hi.slice(0, -1).map((h, j) => (bars[j + 20]!.close - lo[j]!) / (h - lo[j]!));
    const ind = new DonchianChannel(20);
    expect(ref.length).toBe(bars.length - ind.warmup);
    const out = runWith(ind, bars, () => ({ pos: ind.value, upper: ind.upper, lower: ind.lower }));
    expectTailAgrees(out.map((o) => o.pos), ref, ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.upper), hi.slice(0, -1), ind.warmup, TIGHT);
    expectTailAgrees(out.map((o) => o.lower), lo.slice(0, -1), ind.warmup, TIGHT);
    note('Donchian(20) lower');
    expect(out.some((o) => o.pos !== null && (o.pos > 1 || o.pos < 0))).toBe(true); // breakouts exist
  });

  // ── no library reference: the documented formula computed naively per bar over its full window ──

  maybe('Aroon(25) up/down/oscillator = bars since the 26-bar extreme (naive scan; ties → most recent)', () => {
    const p = 25;
    const ind = new Aroon(p);
    const out = runWith(ind, bars, () => ({ osc: ind.value, up: ind.up, down: ind.down }));
    const naive = (i: number) => {
      let hiIdx = i - p;
      let loIdx = i - p;
      for (let k = i - p; k <= i; k++) {
        if (bars[k]!.high >= bars[hiIdx]!.high) hiIdx = k;
        if (bars[k]!.low <= bars[loIdx]!.low) loIdx = k;
      }
      return { up: (100 * (p - (i - hiIdx))) / p, down: (100 * (p - (i - loIdx))) / p };
    };
    expectMatchesNaive(out.map((o) => o.up), ind.warmup, (i) => naive(i).up);
    expectMatchesNaive(out.map((o) => o.down), ind.warmup, (i) => naive(i).down);
    expectMatchesNaive(out.map((o) => o.osc), ind.warmup, (i) => naive(i).up - naive(i).down);
    note('Aroon(25) osc');
  });

  maybe('CMO(14) = 100 · (Σgains − Σlosses) / (Σgains + Σlosses) of the last 14 changes (naive)', () => {
    const c = closes(bars);
    const ind = new CMO(14);
    expectMatchesNaive(run(ind, c), ind.warmup, (i) => {
      let g = 0;
      let l = 0;
      for (let k = i - 13; k <= i; k++) {
        const d = c[k]! - c[k - 1]!;
        if (d > 0) g += d;
        else l -= d;
      }
      return (100 * (g - l)) / (g + l);
    }, 1e-7);
    note('CMO(14)');
  });

  maybe('Ultimate oscillator(7,14,28) = 100 · (4·A7 + 2·A14 + A28) / 7, A_n = ΣBP / ΣTR (naive)', () => {
    const ind = new UltimateOscillator(7, 14, 28);
    const bp = (k: number) => bars[k]!.close - Math.min(bars[k]!.low, bars[k - 1]!.close);
    const tr = (k: number) => Math.max(bars[k]!.high, bars[k - 1]!.close) - Math.min(bars[k]!.low, bars[k - 1]!.close);
    const avg = (i: number, n: number) => {
      let b = 0;
      let t = 0;
      for (let k = i - n + 1; k <= i; k++) {
        b += bp(k);
        t += tr(k);
      }
      return b / t;
    };
    expectMatchesNaive(run(ind, bars), ind.warmup, (i) => (100 * (4 * avg(i, 7) + 2 * avg(i, 14) + avg(i, 28))) / 7, 1e-7);
    note('UO(7,14,28)');
  });

  maybe('CMF(20) = Σ(MFM · volume) / Σvolume over 20 bars (naive)', () => {
    const ind = new CMF(20);
    expectMatchesNaive(run(ind, bars), ind.warmup, (i) => {
      const w = bars.slice(i - 19, i + 1);
      return sum(w.map((b) => mfm(b) * b.volume)) / sum(volumes(w));
    }, 1e-7);
    note('CMF(20)');
  });

  maybe('Vortex(14) VI+ / VI− = Σ|H − prevL| / ΣTR and Σ|L − prevH| / ΣTR over 14 bars (naive)', () => {
    const ind = new Vortex(14);
    const out = runWith(ind, bars, () => ({ diff: ind.value, plus: ind.plus, minus: ind.minus }));
    const naive = (i: number) => {
      let vp = 0;
      let vm = 0;
      let t = 0;
      for (let k = i - 13; k <= i; k++) {
        const b = bars[k]!;
        const q = bars[k - 1]!;
        vp += Math.abs(b.high - q.low);
        vm += Math.abs(b.low - q.high);
        t += Math.max(b.high - b.low, Math.abs(b.high - q.close), Math.abs(b.low - q.close));
      }
      return { plus: vp / t, minus: vm / t };
    };
    expectMatchesNaive(out.map((o) => o.plus), ind.warmup, (i) => naive(i).plus, 1e-7);
    expectMatchesNaive(out.map((o) => o.minus), ind.warmup, (i) => naive(i).minus, 1e-7);
    expectMatchesNaive(out.map((o) => o.diff), ind.warmup, (i) => naive(i).plus - naive(i).minus, 1e-7);
    note('Vortex(14) diff');
  });
});

describe('hand-computed fixtures (added indicators)', () => {
  const bar = (high: number, low: number, close: number, volume = 1): Bar => ({ ts: 0, open: close, high, low, close, volume });
  const close6 = (xs: readonly (number | null)[], expected: readonly (number | null)[]) => {
    expect(xs.length).toBe(expected.length);
    xs.forEach((x, i) => {
      const e = expected[i]!;
      if (e === null) expect(x, `#${i}`).toBeNull();
      else expect(x, `#${i}`).toBeCloseTo(e, 9);
    });
  };

  it('WMA(3) on 1,2,3,4: (1·1 + 2·2 + 3·3)/6, (1·2 + 2·3 + 3·4)/6', () => {
    close6(run(new WMA(3), [1, 2, 3, 4]), [null, null, 14 / 6, 20 / 6]);
  });

  it('WEMA(2) on 1,3,5: seed 2, then 2 + (5 − 2)/2', () => {
    close6(run(new WEMA(2), [1, 3, 5]), [null, 2, 3.5]);
  });

  it('TRIX(1) is the one-bar percent change (EMA(1) is the identity)', () => {
    close6(run(new TRIX(1), [10, 11, 9.9]), [null, 10, -10]);
  });

  it('CMO(3) on 10, 11, 10.5, 12, 11', () => {
    // changes +1, −0.5, +1.5 → (2.5 − 0.5)/3 · 100; then −0.5, +1.5, −1 → 0
    close6(run(new CMO(3), [10, 11, 10.5, 12, 11]), [null, null, null, (100 * 2) / 3, 0]);
  });

  it('TSI(1,1) = ±100 by the sign of the change (0 for no change); TSI(2,2) by hand', () => {
    close6(run(new TSI(1, 1), [10, 11, 10.5, 10.5]), [null, 100, -100, 0]);
    // m = 2, −1, 3, −1; EMA2 (α = 2/3): m → 0.5, 13/6, 1/18 → 4/3, 13/27; |m| → 1.5, 2.5, 1.5 → 2, 5/3
    close6(run(new TSI(2, 2), [10, 12, 11, 14, 13]), [null, null, null, (100 * 4) / 3 / 2, (100 * 13) / 27 / (5 / 3)]);
  });

  it('StochasticRSI(1,2,1,1): RSI(1) is 100 after a rise and 0 after a fall; a flat window gives 50', () => {
    const ind = new StochasticRSI(1, 2, 1, 1);
    // RSI(1): 100, 0, 100, 100 → windows (100,0) → 0, (0,100) → 100, (100,100) flat → 50
    close6(run(ind, [1, 2, 1, 3, 4]), [null, null, 0, 100, 50]);
  });

  it('KST with unit weights reduces to weighted ROCs', () => {
    const ind = new KST([1, 1, 1, 1], [1, 1, 1, 1], 2);
    // ROC(1) = 10 % then −10 %: KST = (1 + 2 + 3 + 4) · ROC
    const out = runWith(ind, [10, 11, 9.9], () => [ind.value, ind.signal]);
    close6(out.map((o) => o[0]!), [null, 100, -100]);
    close6(out.map((o) => o[1]!), [null, null, 0]);
  });

  it('AwesomeOscillator(1,2): median 9, 11, 10 → 11 − 10, 10 − 10.5', () => {
    close6(run(new AwesomeOscillator(1, 2), [bar(10, 8, 9), bar(12, 10, 11), bar(11, 9, 10)]), [null, 1, -0.5]);
  });

  it('ForceIndex(1) = Δclose · volume', () => {
    close6(run(new ForceIndex(1), [bar(11, 9, 10, 5), bar(12, 10, 11, 3), bar(11, 10, 10.5, 4)]), [null, 3, -2]);
  });

  it('ADL and CMF(2): MFM 0.5, 0 (high = low), −1', () => {
    const bs = [bar(10, 8, 9.5, 100), bar(12, 12, 12, 50), bar(11, 9, 9, 200)];
    close6(run(new ADL(), bs), [50, 50, -150]);
    close6(run(new CMF(2), bs), [null, 50 / 150, -200 / 250]);
  });

  it('PSAR: starts long at the first low, flips to the extreme point when the low is pierced', () => {
    const ind = new PSAR(0.02, 0.2);
    const out = runWith(ind, [bar(10, 9, 9.5), bar(11, 10, 10.5), bar(10.5, 8, 8.5)], () => ({ sar: ind.value, rising: ind.rising }));
    // bar 1: 9 + 0.02·(10 − 9) = 9.02, clamped to min(9.02, 9, 9) = 9; new EP 11, AF 0.04
    // bar 2: 9 + 0.04·(11 − 9) = 9.08, clamped to min(9.08, 9, 10) = 9; low 8 < 9 → short, SAR = EP = 11
    expect(out).toEqual([
      { sar: 9, rising: true },
      { sar: 9, rising: true },
      { sar: 11, rising: false },
    ]);
  });

  it('IchimokuCloud(1,2,3) lines by hand', () => {
    const ind = new IchimokuCloud(1, 2, 3);
    const out = runWith(ind, [bar(10, 8, 9), bar(12, 9, 10), bar(11, 7, 8)], () => [ind.value, ind.conversion, ind.base, ind.spanA, ind.spanB]);
    expect(out).toEqual([
      [null, null, null, null, null],
      [0.5, 10.5, 10, 10.25, null],
      [-0.5, 9, 9.5, 9.25, 9.5],
    ]);
  });

  it('Aroon(3): bars since the 4-bar high/low; ties go to the most recent bar', () => {
    const ind = new Aroon(3);
    const bs = [bar(10, 8, 9), bar(12, 9, 10), bar(11, 7, 8), bar(9, 8, 8.5), bar(13, 10, 12), bar(13, 7, 8)];
    const out = runWith(ind, bs, () => [ind.up, ind.down, ind.value]);
    close6(out.map((o) => o[2]!), [null, null, null, 100 / 3 - 200 / 3, 100 - 100 / 3, 0]);
    expect(out[3]!.slice(0, 2).map((v) => v!.toFixed(6))).toEqual([(100 / 3).toFixed(6), (200 / 3).toFixed(6)]);
    expect(out[5]!.slice(0, 2)).toEqual([100, 100]);
  });

  it('Donchian(2): the channel excludes the current bar, so breakouts leave [0, 1]', () => {
    const ind = new DonchianChannel(2);
    close6(run(ind, [bar(10, 8, 9), bar(12, 9, 11), bar(11, 7, 13), bar(9, 8, 8.5)]), [null, null, 1.25, 0.3]);
  });

  it('Ultimate oscillator(1,2,3) by hand', () => {
    // BP / TR: bar1 1 / 1.5, bar2 0.2 / 0.8, bar3 0.2 / 1.5
    const bs = [bar(10, 9, 9.5), bar(11, 9.5, 10.5), bar(10.8, 10, 10.2), bar(10.5, 9, 9.2)];
    close6(run(new UltimateOscillator(1, 2, 3), bs), [null, null, null, (100 * (4 * (0.2 / 1.5) + 2 * (0.4 / 2.3) + 1.4 / 3.8)) / 7]);
  });

  it('Vortex(2) by hand', () => {
    const ind = new Vortex(2);
    const bs = [bar(10, 8, 9), bar(11, 9, 10), bar(10.5, 8.5, 9), bar(12, 9.5, 11.5)];
    const out = runWith(ind, bs, () => [ind.plus, ind.minus]);
    close6(out.map((o) => o[0]!), [null, null, 4.5 / 4, 5 / 5]);
    close6(out.map((o) => o[1]!), [null, null, 3.5 / 4, 3.5 / 5]);
  });
});

describe('flat market (high = low = close, zero volume): neutral, finite values', () => {
  const flat: Bar[] = Array.from({ length: 120 }, (_, i) => ({ ts: i * HOUR, open: 50, high: 50, low: 50, close: 50, volume: 0 }));
  const last = <I>(ind: Indicator<I>, xs: readonly I[]) => run(ind, xs).at(-1);

  it('each indicator settles on its documented neutral value', () => {
    const c = closes(flat);
    expect(last(new WMA(20), c)).toBeCloseTo(50, 12);
    expect(last(new WEMA(20), c)).toBeCloseTo(50, 12);
    expect(last(new TRIX(15), c)).toBe(0);
    expect(last(new StochasticRSI(), c)).toBe(50);
    expect(last(new CMO(14), c)).toBe(0);
    expect(last(new TSI(), c)).toBe(0);
    expect(last(new KST(), c)).toBe(0);
    expect(last(new AwesomeOscillator(), flat)).toBe(0);
    expect(last(new ForceIndex(), flat)).toBe(0);
    expect(last(new ADL(), flat)).toBe(0);
    expect(last(new CMF(), flat)).toBe(0);
    expect(last(new PSAR(), flat)).toBe(50);
    expect(last(new IchimokuCloud(), flat)).toBe(0);
    const aroon = new Aroon(25);
    expect(last(aroon, flat)).toBe(0);
    expect([aroon.up, aroon.down]).toEqual([100, 100]); // every bar ties; the most recent counts
    expect(last(new DonchianChannel(), flat)).toBe(0.5);
    expect(last(new UltimateOscillator(), flat)).toBe(50);
    const vortex = new Vortex(14);
    expect(last(vortex, flat)).toBe(0);
    expect([vortex.plus, vortex.minus]).toEqual([1, 1]);
  });
});

describe('constructor parameter checks (added indicators)', () => {
  it.each([
    ['WMA(0)', () => new WMA(0)],
    ['WEMA(1.5)', () => new WEMA(1.5)],
    ['TRIX(0)', () => new TRIX(0)],
    ['StochasticRSI(14, 0)', () => new StochasticRSI(14, 0)],
    ['StochasticRSI(0)', () => new StochasticRSI(0)],
    ['CMO(-1)', () => new CMO(-1)],
    ['TSI(25, 0)', () => new TSI(25, 0)],
    ['KST(rocs with 0)', () => new KST([0, 15, 20, 30])],
    ['KST(signal NaN)', () => new KST(undefined, undefined, Number.NaN)],
    ['AwesomeOscillator(34, 5)', () => new AwesomeOscillator(34, 5)],
    ['ForceIndex(0)', () => new ForceIndex(0)],
    ['CMF(0)', () => new CMF(0)],
    ['PSAR(0, 0.2)', () => new PSAR(0, 0.2)],
    ['PSAR(0.02, 0.01)', () => new PSAR(0.02, 0.01)],
    ['IchimokuCloud(9, 0)', () => new IchimokuCloud(9, 0)],
    ['Aroon(0)', () => new Aroon(0)],
    ['DonchianChannel(2.5)', () => new DonchianChannel(2.5)],
    ['UltimateOscillator(7, 14, 0)', () => new UltimateOscillator(7, 14, 0)],
    ['Vortex(0)', () => new Vortex(0)],
  ] as const)('%s throws RangeError', (_name, make) => {
    expect(make).toThrow(RangeError);
  });
});

// ───────────────────────────── (2) warm-up ─────────────────────────────

interface Case {
  name: string;
  make: () => Indicator<Bar>;
  /** state bound used by the bounded-buffer check */
  bound: number;
}

const onClose = (ind: Indicator<number>): Indicator<Bar> => ({
  get warmup() {
    return ind.warmup;
  },
  get value() {
    return ind.value;
  },
  update: (b: Bar) => ind.update(b.close),
  bufferLengths: () => ind.bufferLengths(),
});

const CASES: Case[] = [
  { name: 'SMA(20)', make: () => onClose(new SMA(20)), bound: 20 },
  { name: 'EMA(12)', make: () => onClose(new EMA(12)), bound: 0 },
  { name: 'RSI(14)', make: () => onClose(new RSI(14)), bound: 0 },
  { name: 'MACD(12,26,9)', make: () => onClose(new MACD()), bound: 0 },
  { name: 'ATR(14)', make: () => new ATR(14), bound: 0 },
  { name: 'Bollinger(20,2)', make: () => onClose(new Bollinger(20, 2)), bound: 20 },
  { name: 'ROC(10)', make: () => onClose(new ROC(10)), bound: 11 },
  { name: 'Stochastic(14,3)', make: () => new Stochastic(14, 3), bound: 14 },
  { name: 'CCI(20)', make: () => new CCI(20), bound: 20 },
  { name: 'OBV', make: () => new OBV(), bound: 0 },
  { name: 'MFI(14)', make: () => new MFI(14), bound: 14 },
  { name: 'ADX(14)', make: () => new ADX(14), bound: 0 },
  { name: 'WilliamsR(14)', make: () => new WilliamsR(14), bound: 14 },
  { name: 'RealizedVolatility(24)', make: () => onClose(new RealizedVolatility(24)), bound: 24 },
  { name: 'ZScore(20)', make: () => onClose(new ZScore(20)), bound: 20 },
  { name: 'EmaSlope(20,3)', make: () => onClose(new EmaSlope(20, 3)), bound: 4 },
  { name: 'KeltnerPosition(20,10,2)', make: () => new KeltnerPosition(20, 10, 2), bound: 0 },
  { name: 'VwapDistance(24)', make: () => new VwapDistance(24), bound: 24 },
  // added indicators (default parameters)
  { name: 'WMA(20)', make: () => onClose(new WMA()), bound: 20 },
  { name: 'WEMA(20)', make: () => onClose(new WEMA()), bound: 0 },
  { name: 'TRIX(15)', make: () => onClose(new TRIX()), bound: 0 },
  { name: 'StochasticRSI(14,14,3,3)', make: () => onClose(new StochasticRSI()), bound: 14 },
  { name: 'CMO(14)', make: () => onClose(new CMO()), bound: 14 },
  { name: 'TSI(25,13)', make: () => onClose(new TSI()), bound: 0 },
  { name: 'KST', make: () => onClose(new KST()), bound: 31 },
  { name: 'AwesomeOscillator(5,34)', make: () => new AwesomeOscillator(), bound: 34 },
  { name: 'ForceIndex(13)', make: () => new ForceIndex(), bound: 0 },
  { name: 'ADL', make: () => new ADL(), bound: 0 },
  { name: 'CMF(20)', make: () => new CMF(), bound: 20 },
  { name: 'PSAR(0.02,0.2)', make: () => new PSAR(), bound: 0 },
  { name: 'IchimokuCloud(9,26,52)', make: () => new IchimokuCloud(), bound: 52 },
  { name: 'Aroon(25)', make: () => new Aroon(), bound: 26 },
  { name: 'DonchianChannel(20)', make: () => new DonchianChannel(), bound: 20 },
  { name: 'UltimateOscillator(7,14,28)', make: () => new UltimateOscillator(), bound: 28 },
  { name: 'Vortex(14)', make: () => new Vortex(), bound: 14 },
];

describe('warm-up: null exactly for the first `warmup` updates', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const ind = c.make();
    const out = run(ind, SYNTH);
    expect(ind.warmup).toBeGreaterThanOrEqual(0);
    out.forEach((v, i) => {
      if (i < ind.warmup) expect(v, `update ${i}`).toBeNull();
      else {
        expect(v, `update ${i}`).not.toBeNull();
        expect(Number.isFinite(v), `update ${i}`).toBe(true);
      }
    });
  });

  it('secondary outputs have their own warm-ups', () => {
    const macd = new MACD(12, 26, 9);
    const stoch = new Stochastic(14, 3);
    const adx = new ADX(14);
    SYNTH.forEach((b, i) => {
      macd.update(b.close);
      stoch.update(b);
      adx.update(b);
      expect(macd.signal === null, `macd signal ${i}`).toBe(i < macd.signalWarmup);
      expect(macd.histogram === null, `macd hist ${i}`).toBe(i < macd.signalWarmup);
      expect(stoch.d === null, `stoch d ${i}`).toBe(i < stoch.dWarmup);
      expect(adx.plusDI === null, `+DI ${i}`).toBe(i < adx.diWarmup);
      expect(adx.minusDI === null, `-DI ${i}`).toBe(i < adx.diWarmup);
    });
    expect(macd.signalWarmup).toBe(33);
    expect(stoch.dWarmup).toBe(15);
    expect(adx.warmup).toBe(27);
  });

  it('added indicators: warm-ups at default parameters (derived by hand in the doc comments), all <= 60', () => {
    const stochRsi = new StochasticRSI();
    const kst = new KST();
    const ichimoku = new IchimokuCloud();
    const warmups: Record<string, number> = {
      WMA: new WMA().warmup,
      WEMA: new WEMA().warmup,
      TRIX: new TRIX().warmup,
      StochRSI: stochRsi.warmup,
      'StochRSI k': stochRsi.kWarmup,
      'StochRSI d': stochRsi.dWarmup,
      CMO: new CMO().warmup,
      TSI: new TSI().warmup,
      KST: kst.warmup,
      'KST signal': kst.signalWarmup,
      AO: new AwesomeOscillator().warmup,
      ForceIndex: new ForceIndex().warmup,
      ADL: new ADL().warmup,
      CMF: new CMF().warmup,
      PSAR: new PSAR().warmup,
      Ichimoku: ichimoku.warmup,
      'Ichimoku spanB': ichimoku.spanWarmup,
      Aroon: new Aroon().warmup,
      Donchian: new DonchianChannel().warmup,
      UO: new UltimateOscillator().warmup,
      Vortex: new Vortex().warmup,
    };
    expect(warmups).toEqual({
      WMA: 19,
      WEMA: 19,
      TRIX: 43, // 3 EMAs of 15 (3·14) + one bar for the change
      StochRSI: 27, // RSI 14 + 13 more RSI values
      'StochRSI k': 29,
      'StochRSI d': 31,
      CMO: 14,
      TSI: 37, // 1 + 24 + 12
      KST: 44, // ROC 30 + SMA 15 − 1
      'KST signal': 52,
      AO: 33,
      ForceIndex: 13,
      ADL: 0,
      CMF: 19,
      PSAR: 0,
      Ichimoku: 25,
      'Ichimoku spanB': 51,
      Aroon: 25,
      Donchian: 20,
      UO: 28,
      Vortex: 14,
    });
    for (const w of Object.values(warmups)) expect(w).toBeLessThanOrEqual(60);
  });

  it('secondary outputs of the added indicators have their own warm-ups', () => {
    const stochRsi = new StochasticRSI();
    const kst = new KST();
    const ichimoku = new IchimokuCloud();
    const aroon = new Aroon();
    const donchian = new DonchianChannel();
    const vortex = new Vortex();
    SYNTH.forEach((b, i) => {
      stochRsi.update(b.close);
      kst.update(b.close);
      ichimoku.update(b);
      aroon.update(b);
      donchian.update(b);
      vortex.update(b);
      expect(stochRsi.k === null, `stochRSI k ${i}`).toBe(i < stochRsi.kWarmup);
      expect(stochRsi.d === null, `stochRSI d ${i}`).toBe(i < stochRsi.dWarmup);
      expect(kst.signal === null, `kst signal ${i}`).toBe(i < kst.signalWarmup);
      for (const v of [ichimoku.conversion, ichimoku.base, ichimoku.spanA]) expect(v === null, `ichimoku ${i}`).toBe(i < ichimoku.warmup);
      expect(ichimoku.spanB === null, `ichimoku spanB ${i}`).toBe(i < ichimoku.spanWarmup);
      for (const v of [aroon.up, aroon.down]) expect(v === null, `aroon ${i}`).toBe(i < aroon.warmup);
      for (const v of [donchian.upper, donchian.lower, donchian.middle]) expect(v === null, `donchian ${i}`).toBe(i < donchian.warmup);
      for (const v of [vortex.plus, vortex.minus]) expect(v === null, `vortex ${i}`).toBe(i < vortex.warmup);
    });
  });

  it('FeatureSet: every feature is non-null from `warmup` on', () => {
    const fs = new FeatureSet();
    SYNTH.forEach((b, i) => {
      const snap = fs.update(b);
      const nulls = Object.entries(snap).filter(([, v]) => v === null);
      if (i >= fs.warmup) expect(nulls, `bar ${i}`).toEqual([]);
      if (i === fs.warmup - 1) expect(nulls.length).toBeGreaterThan(0);
    });
  });
});

describe('FeatureSet keys', () => {
  // keys other code depends on: must never be renamed or removed
  const ORIGINAL_KEYS = [
    'sma20_dist', 'ema50_dist', 'rsi14', 'macd', 'macd_signal', 'macd_hist', 'macd_hist_pct', 'atr14', 'atr14_pct',
    'bb20_pctb', 'bb20_width', 'roc10', 'stoch_k14', 'stoch_d3', 'cci20', 'obv', 'mfi14', 'adx14', 'plus_di14',
    'minus_di14', 'willr14', 'rv24', 'zscore20', 'ema20_slope', 'keltner20_pos', 'vwap24_dist',
  ];
  // keys of the added indicators; all scale-free (price outputs per close, volume outputs per average volume)
  const ADDED_KEYS = [
    'wma20_dist', 'wema20_dist', 'trix15', 'stochrsi14', 'stochrsi14_k', 'stochrsi14_d', 'cmo14', 'tsi25_13', 'kst',
    'kst_signal', 'ao_pct', 'force13_norm', 'adl_osc', 'cmf20', 'psar_dist', 'ichimoku_tk_pct', 'ichimoku_base_dist',
    'ichimoku_span_pct', 'aroon25_up', 'aroon25_down', 'aroon25_osc', 'donchian20_pos', 'donchian20_width',
    'ultosc7_14_28', 'vortex14_plus', 'vortex14_minus',
  ];

  it('keeps every original key and adds the new ones', () => {
    const keys = Object.keys(new FeatureSet().update(SYNTH[0]!));
    for (const k of ORIGINAL_KEYS) expect(keys).toContain(k);
    for (const k of ADDED_KEYS) expect(keys).toContain(k);
    expect(keys.length).toBe(ORIGINAL_KEYS.length + ADDED_KEYS.length);
  });

  it('at least 31 distinct incremental indicator classes', () => {
    const isIndicator = (v: unknown) => typeof v === 'function' && typeof v.prototype?.update === 'function' && typeof v.prototype?.bufferLengths === 'function';
    const names = Object.entries(INDICATORS).filter(([, v]) => isIndicator(v)).map(([k]) => k);
    expect(names.length, names.join(', ')).toBeGreaterThanOrEqual(31);
  });

  it('warm-up stays within 80 bars (the KST signal, 44 + 8, is the longest)', () => {
    const fs = new FeatureSet();
    expect(fs.warmup).toBeLessThanOrEqual(80);
    expect(fs.warmup).toBe(52);
  });

  it('added keys are scale-free: prices ×1024 and volumes ×8 leave them unchanged', () => {
    // powers of two scale every float exactly, so any difference is a scale dependence, not rounding
    const base = new FeatureSet();
    const scaled = new FeatureSet();
    const big = SYNTH.map((b) => ({ ...b, open: b.open * 1024, high: b.high * 1024, low: b.low * 1024, close: b.close * 1024, volume: b.volume * 8 }));
    SYNTH.forEach((b, i) => {
      const x = base.update(b);
      const y = scaled.update(big[i]!);
      if (i < base.warmup) return;
      for (const k of ADDED_KEYS) {
        const a = x[k]!;
        const c = y[k]!;
        expect(Number.isFinite(a), `${k} @${i}`).toBe(true);
        if (!(Math.abs(a - c) <= 1e-9 * Math.abs(a) + 1e-15)) throw new Error(`${k} @${i}: ${a} vs scaled ${c}`);
      }
      expect(y.atr14).not.toBe(x.atr14); // the scaling did reach the price-valued keys
      expect(y.obv).not.toBe(x.obv); // and the volume-valued ones
    });
  });

  it('the 4-hour set carries the added keys with the h4_ prefix', () => {
    const htf = new HigherTimeframeFeatureSet();
    let snap: FeatureSnapshot | null = null;
    for (const b of SYNTH) snap = htf.update(b) ?? snap;
    for (const k of [...ORIGINAL_KEYS, ...ADDED_KEYS]) expect(Object.keys(snap!)).toContain(`h4_${k}`);
  });
});

// ───────────────────────────── (3) 4-hour variant: no look-ahead ─────────────────────────────

function naiveAggregate(hourly: readonly Bar[]): Bar[] {
  const groups = new Map<number, Bar[]>();
  for (const b of hourly) {
    const k = Math.floor(b.ts / (4 * HOUR)) * 4 * HOUR;
    const g = groups.get(k) ?? [];
    g.push(b);
    groups.set(k, g);
  }
  return [...groups.entries()].map(([ts, g]) => ({
    ts,
    open: g[0]!.open,
    high: Math.max(...g.map((b) => b.high)),
    low: Math.min(...g.map((b) => b.low)),
    close: g[g.length - 1]!.close,
    volume: g.reduce((s, b) => s + b.volume, 0),
  }));
}

describe('higher timeframe (4h from 1h)', () => {
  // start off a 4h boundary so the first bucket is partial
  const hourly = syntheticBars(1200, 7).map((b) => ({ ...b, ts: b.ts + HOUR }));

  it('emits only on the last hour of a 4h bar, with features equal to a FeatureSet fed complete 4h bars', () => {
    const htf = new HigherTimeframeFeatureSet();
    const emitted: FeatureSnapshot[] = [];
    hourly.forEach((b) => {
      const snap = htf.update(b);
      const closesBucket = (b.ts + HOUR) % (4 * HOUR) === 0;
      expect(snap !== null, `ts ${b.ts}`).toBe(closesBucket);
      if (snap !== null) emitted.push(snap);
    });
    const fourHour = naiveAggregate(hourly).filter((b) => b.ts + 4 * HOUR <= hourly[hourly.length - 1]!.ts + HOUR);
    const ref = new FeatureSet();
    const expected = fourHour.map((b) => Object.fromEntries(Object.entries(ref.update(b)).map(([k, v]) => [`h4_${k}`, v])));
    expect(emitted).toEqual(expected);
    expect(Object.keys(emitted[0]!)).toContain('h4_rsi14');
  });

  it('values up to bar t are identical whether or not later bars exist', () => {
    const full = new HigherTimeframeFeatureSet();
    const fullOut = hourly.map((b) => full.update(b));
    for (const t of [0, 1, 2, 3, 4, 50, 101, 102, 103, 104, 555, 1198]) {
      const part = new HigherTimeframeFeatureSet();
      const partOut = hourly.slice(0, t + 1).map((b) => part.update(b));
      expect(partOut, `cut at ${t}`).toEqual(fullOut.slice(0, t + 1));
    }
  });

  it('an emitted 4h bar contains only hourly bars at or before the current one', () => {
    const agg = new BarAggregator(4, HOUR);
    hourly.forEach((b) => {
      for (const big of agg.push(b)) expect(big.ts + 4 * HOUR).toBeLessThanOrEqual(b.ts + HOUR);
    });
  });

  it('a 4h bar missing its last hour is emitted when the next 4h bar starts', () => {
    const t0 = Date.UTC(2024, 0, 1);
    const mk = (h: number, c: number): Bar => ({ ts: t0 + h * HOUR, open: c, high: c + 1, low: c - 1, close: c, volume: 1 });
    const agg = new BarAggregator(4, HOUR);
    expect(agg.push(mk(0, 10))).toEqual([]);
    expect(agg.push(mk(1, 11))).toEqual([]);
    expect(agg.push(mk(2, 12))).toEqual([]); // hour 3 missing
    expect(agg.push(mk(4, 20))).toEqual([{ ts: t0, open: 10, high: 13, low: 9, close: 12, volume: 3 }]);
    expect(agg.push(mk(7, 21))).toEqual([{ ts: t0 + 4 * HOUR, open: 20, high: 22, low: 19, close: 21, volume: 2 }]);
  });
});

// ───────────────────────────── (4) bounded state ─────────────────────────────

describe('O(1) state: buffers never grow beyond their period', () => {
  const long = syntheticBars(10_000, 99);

  it.each(CASES.map((c) => [c.name, c] as const))('%s after 10,000 updates', (_name, c) => {
    const ind = c.make();
    let maxSeen = 0;
    for (const b of long) {
      ind.update(b);
      for (const len of ind.bufferLengths()) maxSeen = Math.max(maxSeen, len);
    }
    expect(maxSeen).toBeLessThanOrEqual(c.bound);
  });

  it('rolling max/min deques stay within the period on monotonic input (their worst case)', () => {
    const max = new RollingExtreme(14, 'max');
    const min = new RollingExtreme(14, 'min');
    for (let i = 0; i < 10_000; i++) {
      max.push(-i); // decreasing: every value may become the max later
      min.push(i); // increasing: every value may become the min later
      expect(max.length).toBeLessThanOrEqual(14);
      expect(min.length).toBeLessThanOrEqual(14);
      expect(max.value).toBe(-Math.max(0, i - 13));
      expect(min.value).toBe(Math.max(0, i - 13));
    }
  });
});
