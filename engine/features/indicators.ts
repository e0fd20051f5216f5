/**
 * Incremental technical indicators. Every indicator is a class with `update(input): number | null`, which
 * returns `null` for exactly the first `warmup` updates and a number afterwards. State is bounded by the
 * indicator's period (ring buffers, running sums, Wilder smoothing, monotonic deques), so each update costs
 * O(1) (amortised; CCI's mean deviation is O(period), a constant that does not grow with the series).
 *
 * Conventions (chosen to agree with `technicalindicators` v3 where it has the indicator):
 * - EMA and Wilder averages are seeded with the simple mean of their first `period` inputs.
 * - True range starts on the second bar (the first bar has no previous close).
 * - Standard deviations are population deviations (divide by n) except realized volatility (sample, n − 1).
 * - Running sums are re-summed from the ring buffer once every `period` pushes, which bounds floating-point drift
 *   while keeping the amortised cost O(1).
 *
 * `bufferLengths()` reports the current length of every internal buffer; tests use it to prove that state does
 * not grow with the number of updates.
 */
import type { Bar } from '../types.js';

/** A bar as the indicators need it. */
export type OhlcvBar = Pick<Bar, 'open' | 'high' | 'low' | 'close' | 'volume'>;

export interface Indicator<I> {
  /** number of leading updates that return `null` */
  readonly warmup: number;
  /** the latest output, `null` while warming up */
  readonly value: number | null;
  update(input: I): number | null;
  /** current length of every internal buffer (for the bounded-state check) */
  bufferLengths(): number[];
}

function assertPeriod(name: string, period: number, min = 1): void {
  if (!Number.isInteger(period) || period < min) throw new RangeError(`${name}: period must be an integer >= ${min}, got ${period}`);
}

// ───────────────────────────── building blocks ─────────────────────────────

/** Fixed-capacity ring buffer of numbers. Never grows beyond `capacity`. */
export class RingBuffer {
  private readonly data: Float64Array;
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    assertPeriod('RingBuffer', capacity);
    this.data = new Float64Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Append; when full, the oldest value is dropped and returned. */
  push(value: number): number | undefined {
    if (this.count < this.capacity) {
      this.data[(this.start + this.count) % this.capacity] = value;
      this.count++;
      return undefined;
    }
    const evicted = this.data[this.start]!;
    this.data[this.start] = value;
    this.start = (this.start + 1) % this.capacity;
    return evicted;
  }

  /** `i` = 0 is the oldest value held. */
  get(i: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`RingBuffer index ${i} out of range 0..${this.count - 1}`);
    return this.data[(this.start + i) % this.capacity]!;
  }

  /** The value pushed `back` updates ago (0 = newest). */
  fromEnd(back: number): number {
    return this.get(this.count - 1 - back);
  }

  forEach(fn: (v: number) => void): void {
    for (let i = 0; i < this.count; i++) fn(this.data[(this.start + i) % this.capacity]!);
  }
}

/**
 * Rolling window with running sum and sum of squares. Sums are kept around a shift K (the window mean at the last
 * re-sum) to avoid cancellation on large prices, and are re-summed every `period` pushes to bound drift.
 */
export class RollingStats {
  private readonly ring: RingBuffer;
  private shift = 0;
  private sum = 0;
  private sumSq = 0;
  private sinceResync = 0;

  constructor(readonly period: number) {
    this.ring = new RingBuffer(period);
  }

  push(x: number): void {
    if (this.ring.length === 0) this.shift = x;
    const out = this.ring.push(x);
    const d = x - this.shift;
    this.sum += d;
    this.sumSq += d * d;
    if (out !== undefined) {
      const e = out - this.shift;
      this.sum -= e;
      this.sumSq -= e * e;
    }
    if (++this.sinceResync >= this.period) this.resync();
  }

  private resync(): void {
    let raw = 0;
    this.ring.forEach((v) => {
      raw += v;
    });
    const k = raw / this.ring.length;
    let s = 0;
    let q = 0;
    this.ring.forEach((v) => {
      s += v - k;
      q += (v - k) * (v - k);
    });
    this.shift = k;
    this.sum = s;
    this.sumSq = q;
    this.sinceResync = 0;
  }

  get full(): boolean {
    return this.ring.full;
  }
  get length(): number {
    return this.ring.length;
  }
  get total(): number {
    return this.sum + this.shift * this.ring.length;
  }
  get mean(): number {
    return this.shift + this.sum / this.ring.length;
  }
  /** population variance of the values held (divide by n) */
  get variance(): number {
    const n = this.ring.length;
    const m = this.sum / n;
    return Math.max(0, this.sumSq / n - m * m);
  }
  /** sample variance (divide by n − 1) */
  get sampleVariance(): number {
    const n = this.ring.length;
    return n < 2 ? 0 : (this.variance * n) / (n - 1);
  }
  get buffer(): RingBuffer {
    return this.ring;
  }
}

/**
 * Sliding-window maximum (or minimum) over the last `period` pushes, by a monotonic deque stored in
 * fixed-size ring arrays: amortised O(1) per push, never more than `period` entries.
 */
export class RollingExtreme {
  private readonly idx: Float64Array;
  private readonly val: Float64Array;
  private head = 0;
  private size = 0;
  private n = 0;

  constructor(
    readonly period: number,
    private readonly kind: 'max' | 'min',
  ) {
    assertPeriod('RollingExtreme', period);
    this.idx = new Float64Array(period);
    this.val = new Float64Array(period);
  }

  push(x: number): void {
    const i = this.n++;
    // drop entries that left the window
    while (this.size > 0 && this.idx[this.head]! <= i - this.period) {
      this.head = (this.head + 1) % this.period;
      this.size--;
    }
    // drop dominated entries from the back
    while (this.size > 0) {
      const back = (this.head + this.size - 1) % this.period;
      const v = this.val[back]!;
      if (this.kind === 'max' ? v <= x : v >= x) this.size--;
      else break;
    }
    const slot = (this.head + this.size) % this.period;
    this.idx[slot] = i;
    this.val[slot] = x;
    this.size++;
  }

  /** extreme of the last `min(period, pushes)` values */
  get value(): number {
    if (this.size === 0) throw new Error('RollingExtreme: empty');
    return this.val[this.head]!;
  }

  /** push number (0-based, counting every push) of the extreme; among equal extremes the most recent one */
  get index(): number {
    if (this.size === 0) throw new Error('RollingExtreme: empty');
    return this.idx[this.head]!;
  }

  get length(): number {
    return this.size;
  }
  get count(): number {
    return this.n;
  }
}

/** Wilder's smoothing (RMA): seeded with the mean of the first `period` inputs, then avg += (x − avg) / period. */
export class WilderAverage {
  private seedSum = 0;
  private seen = 0;
  private avg: number | null = null;

  constructor(readonly period: number) {
    assertPeriod('WilderAverage', period);
  }

  update(x: number): number | null {
    if (this.avg === null) {
      this.seedSum += x;
      if (++this.seen === this.period) this.avg = this.seedSum / this.period;
      return this.avg;
    }
    this.avg = (this.avg * (this.period - 1) + x) / this.period;
    return this.avg;
  }

  get value(): number | null {
    return this.avg;
  }
}

function typicalPrice(bar: OhlcvBar): number {
  return (bar.high + bar.low + bar.close) / 3;
}

// ───────────────────────────── price indicators ─────────────────────────────

/** Simple moving average. */
export class SMA implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly stats: RollingStats;

  constructor(readonly period: number) {
    assertPeriod('SMA', period);
    this.warmup = period - 1;
    this.stats = new RollingStats(period);
  }

  update(x: number): number | null {
    this.stats.push(x);
    this.value = this.stats.full ? this.stats.mean : null;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.stats.length];
  }
}

/** Exponential moving average, alpha = 2 / (period + 1), seeded with the SMA of the first `period` values. */
export class EMA implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly alpha: number;
  private seedSum = 0;
  private seen = 0;

  constructor(readonly period: number) {
    assertPeriod('EMA', period);
    this.warmup = period - 1;
    this.alpha = 2 / (period + 1);
  }

  update(x: number): number | null {
    if (this.value === null) {
      this.seedSum += x;
      if (++this.seen === this.period) this.value = this.seedSum / this.period;
      return this.value;
    }
    this.value += (x - this.value) * this.alpha;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/** Wilder's RSI on closes: 100 − 100 / (1 + avgGain / avgLoss); 100 when there were no losses. */
export class RSI implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private prev: number | null = null;
  private readonly gains: WilderAverage;
  private readonly losses: WilderAverage;

  constructor(readonly period = 14) {
    assertPeriod('RSI', period);
    this.warmup = period;
    this.gains = new WilderAverage(period);
    this.losses = new WilderAverage(period);
  }

  update(x: number): number | null {
    if (this.prev === null) {
      this.prev = x;
      return null;
    }
    const change = x - this.prev;
    this.prev = x;
    const g = this.gains.update(change > 0 ? change : 0);
    const l = this.losses.update(change < 0 ? -change : 0);
    if (g === null || l === null) return null;
    this.value = l === 0 ? (g === 0 ? 50 : 100) : 100 - 100 / (1 + g / l);
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/** MACD: `update` returns the MACD line (fast EMA − slow EMA); `signal` and `histogram` follow later. */
export class MACD implements Indicator<number> {
  readonly warmup: number;
  /** leading updates for which `signal` and `histogram` are null */
  readonly signalWarmup: number;
  value: number | null = null;
  signal: number | null = null;
  histogram: number | null = null;
  private readonly fast: EMA;
  private readonly slow: EMA;
  private readonly signalEma: EMA;

  constructor(
    readonly fastPeriod = 12,
    readonly slowPeriod = 26,
    readonly signalPeriod = 9,
  ) {
    if (fastPeriod >= slowPeriod) throw new RangeError('MACD: fastPeriod must be below slowPeriod');
    this.fast = new EMA(fastPeriod);
    this.slow = new EMA(slowPeriod);
    this.signalEma = new EMA(signalPeriod);
    this.warmup = slowPeriod - 1;
    this.signalWarmup = slowPeriod - 1 + signalPeriod - 1;
  }

  update(x: number): number | null {
    const f = this.fast.update(x);
    const s = this.slow.update(x);
    if (f === null || s === null) return null;
    this.value = f - s;
    this.signal = this.signalEma.update(this.value);
    this.histogram = this.signal === null ? null : this.value - this.signal;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/** Rate of change in percent: 100 · (x_t − x_{t−n}) / x_{t−n}. */
export class ROC implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly ring: RingBuffer;

  constructor(readonly period = 10) {
    assertPeriod('ROC', period);
    this.warmup = period;
    this.ring = new RingBuffer(period + 1);
  }

  update(x: number): number | null {
    this.ring.push(x);
    if (!this.ring.full) return null;
    const past = this.ring.get(0);
    this.value = ((x - past) / past) * 100;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.ring.length];
  }
}

/**
 * Bollinger bands (SMA ± k · population stdev). `update` returns %B = (x − lower) / (upper − lower);
 * `width` = (upper − lower) / middle. With zero deviation %B is 0.5.
 */
export class Bollinger implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  width: number | null = null;
  upper: number | null = null;
  lower: number | null = null;
  middle: number | null = null;
  private readonly stats: RollingStats;

  constructor(
    readonly period = 20,
    readonly k = 2,
  ) {
    assertPeriod('Bollinger', period);
    this.warmup = period - 1;
    this.stats = new RollingStats(period);
  }

  update(x: number): number | null {
    this.stats.push(x);
    if (!this.stats.full) return null;
    const mid = this.stats.mean;
    const sd = Math.sqrt(this.stats.variance);
    this.middle = mid;
    this.upper = mid + this.k * sd;
    this.lower = mid - this.k * sd;
    const range = this.upper - this.lower;
    this.value = range > 0 ? (x - this.lower) / range : 0.5;
    this.width = range / mid;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.stats.length];
  }
}

/** z-score of the input against its rolling mean and population stdev; 0 when the window is flat. */
export class ZScore implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly stats: RollingStats;

  constructor(readonly period = 20) {
    assertPeriod('ZScore', period, 2);
    this.warmup = period - 1;
    this.stats = new RollingStats(period);
  }

  update(x: number): number | null {
    this.stats.push(x);
    if (!this.stats.full) return null;
    const sd = Math.sqrt(this.stats.variance);
    this.value = sd > 0 ? (x - this.stats.mean) / sd : 0;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.stats.length];
  }
}

/** Realized volatility: sample stdev (n − 1) of the last `period` log returns, not annualised. */
export class RealizedVolatility implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private prev: number | null = null;
  private readonly stats: RollingStats;

  constructor(readonly period = 24) {
    assertPeriod('RealizedVolatility', period, 2);
    this.warmup = period;
    this.stats = new RollingStats(period);
  }

  update(x: number): number | null {
    if (this.prev !== null) this.stats.push(Math.log(x / this.prev));
    this.prev = x;
    if (!this.stats.full) return null;
    this.value = Math.sqrt(this.stats.sampleVariance);
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.stats.length];
  }
}

/** Relative slope of an EMA over `lookback` updates: ema_t / ema_{t−lookback} − 1. */
export class EmaSlope implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly ema: EMA;
  private readonly ring: RingBuffer;

  constructor(
    readonly period = 20,
    readonly lookback = 1,
  ) {
    assertPeriod('EmaSlope lookback', lookback);
    this.ema = new EMA(period);
    this.ring = new RingBuffer(lookback + 1);
    this.warmup = period - 1 + lookback;
  }

  update(x: number): number | null {
    const e = this.ema.update(x);
    if (e === null) return null;
    this.ring.push(e);
    if (!this.ring.full) return null;
    this.value = e / this.ring.get(0) - 1;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.ring.length];
  }
}

// ───────────────────────────── bar indicators ─────────────────────────────

/** True range, from the second bar on: max(high − low, |high − prevClose|, |low − prevClose|). */
export class TrueRange implements Indicator<OhlcvBar> {
  readonly warmup = 1;
  value: number | null = null;
  private prevClose: number | null = null;

  update(bar: OhlcvBar): number | null {
    const pc = this.prevClose;
    this.prevClose = bar.close;
    if (pc === null) return null;
    this.value = Math.max(bar.high - bar.low, Math.abs(bar.high - pc), Math.abs(bar.low - pc));
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/** Wilder's average true range. */
export class ATR implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private readonly tr = new TrueRange();
  private readonly avg: WilderAverage;

  constructor(readonly period = 14) {
    assertPeriod('ATR', period);
    this.warmup = period;
    this.avg = new WilderAverage(period);
  }

  update(bar: OhlcvBar): number | null {
    const tr = this.tr.update(bar);
    if (tr === null) return null;
    this.value = this.avg.update(tr);
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Stochastic oscillator: `update` returns %K = 100 · (close − LL) / (HH − LL) over `period` bars;
 * `d` is the SMA of %K over `signalPeriod`. A flat window gives %K = 50.
 */
export class Stochastic implements Indicator<OhlcvBar> {
  readonly warmup: number;
  readonly dWarmup: number;
  value: number | null = null;
  d: number | null = null;
  private readonly hh: RollingExtreme;
  private readonly ll: RollingExtreme;
  private readonly dSma: SMA;

  constructor(
    readonly period = 14,
    readonly signalPeriod = 3,
  ) {
    assertPeriod('Stochastic', period);
    this.hh = new RollingExtreme(period, 'max');
    this.ll = new RollingExtreme(period, 'min');
    this.dSma = new SMA(signalPeriod);
    this.warmup = period - 1;
    this.dWarmup = period - 1 + signalPeriod - 1;
  }

  update(bar: OhlcvBar): number | null {
    this.hh.push(bar.high);
    this.ll.push(bar.low);
    if (this.hh.count < this.period) return null;
    const hi = this.hh.value;
    const lo = this.ll.value;
    this.value = hi > lo ? ((bar.close - lo) / (hi - lo)) * 100 : 50;
    this.d = this.dSma.update(this.value);
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.hh.length, this.ll.length, ...this.dSma.bufferLengths()];
  }
}

/** Williams %R = −100 · (HH − close) / (HH − LL) over `period` bars; −50 for a flat window. */
export class WilliamsR implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private readonly hh: RollingExtreme;
  private readonly ll: RollingExtreme;

  constructor(readonly period = 14) {
    assertPeriod('WilliamsR', period);
    this.hh = new RollingExtreme(period, 'max');
    this.ll = new RollingExtreme(period, 'min');
    this.warmup = period - 1;
  }

  update(bar: OhlcvBar): number | null {
    this.hh.push(bar.high);
    this.ll.push(bar.low);
    if (this.hh.count < this.period) return null;
    const hi = this.hh.value;
    const lo = this.ll.value;
    this.value = hi > lo ? ((hi - bar.close) / (hi - lo)) * -100 : -50;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.hh.length, this.ll.length];
  }
}

/**
 * Commodity channel index: (TP − SMA(TP)) / (0.015 · meanAbsDev(TP)); 0 when the window is flat.
 * The mean absolute deviation is re-summed over the window (O(period) per bar; it has no exact running form).
 */
export class CCI implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private readonly stats: RollingStats;

  constructor(readonly period = 20) {
    assertPeriod('CCI', period);
    this.warmup = period - 1;
    this.stats = new RollingStats(period);
  }

  update(bar: OhlcvBar): number | null {
    const tp = typicalPrice(bar);
    this.stats.push(tp);
    if (!this.stats.full) return null;
    const mean = this.stats.mean;
    let dev = 0;
    this.stats.buffer.forEach((v) => {
      dev += Math.abs(v - mean);
    });
    dev /= this.period;
    this.value = dev > 0 ? (tp - mean) / (0.015 * dev) : 0;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.stats.length];
  }
}

/** On-balance volume, starting at 0 on the second bar (the first bar has no previous close). */
export class OBV implements Indicator<OhlcvBar> {
  readonly warmup = 1;
  value: number | null = null;
  private prevClose: number | null = null;
  private total = 0;

  update(bar: OhlcvBar): number | null {
    const pc = this.prevClose;
    this.prevClose = bar.close;
    if (pc === null) return null;
    if (bar.close > pc) this.total += bar.volume;
    else if (bar.close < pc) this.total -= bar.volume;
    this.value = this.total;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Money flow index over `period` typical-price changes. Money flow TP·volume is positive when TP rose,
 * negative when it fell, and counted nowhere when unchanged. 100 when there is no negative flow (50 if none at all).
 */
export class MFI implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private prevTp: number | null = null;
  private readonly pos: RollingStats;
  private readonly neg: RollingStats;

  constructor(readonly period = 14) {
    assertPeriod('MFI', period);
    this.warmup = period;
    this.pos = new RollingStats(period);
    this.neg = new RollingStats(period);
  }

  update(bar: OhlcvBar): number | null {
    const tp = typicalPrice(bar);
    const prev = this.prevTp;
    this.prevTp = tp;
    if (prev === null) return null;
    const flow = tp * bar.volume;
    this.pos.push(tp > prev ? flow : 0);
    this.neg.push(tp < prev ? flow : 0);
    if (!this.pos.full) return null;
    const p = this.pos.total;
    const n = this.neg.total;
    this.value = n <= 0 ? (p <= 0 ? 50 : 100) : 100 - 100 / (1 + p / n);
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.pos.length, this.neg.length];
  }
}

/**
 * Wilder's ADX. `update` returns ADX; `plusDI` / `minusDI` are available after `diWarmup` updates.
 * +DM/−DM and TR are Wilder-smoothed (mean-seeded; the ratio DI = 100·DM/TR is the same as with Wilder's
 * running-sum form), DX = 100·|+DI − −DI| / (+DI + −DI), ADX = Wilder average of DX.
 */
export class ADX implements Indicator<OhlcvBar> {
  readonly warmup: number;
  readonly diWarmup: number;
  value: number | null = null;
  plusDI: number | null = null;
  minusDI: number | null = null;
  private prev: OhlcvBar | null = null;
  private readonly tr = new TrueRange();
  private readonly trAvg: WilderAverage;
  private readonly pdmAvg: WilderAverage;
  private readonly mdmAvg: WilderAverage;
  private readonly dxAvg: WilderAverage;

  constructor(readonly period = 14) {
    assertPeriod('ADX', period);
    this.trAvg = new WilderAverage(period);
    this.pdmAvg = new WilderAverage(period);
    this.mdmAvg = new WilderAverage(period);
    this.dxAvg = new WilderAverage(period);
    this.diWarmup = period;
    this.warmup = 2 * period - 1;
  }

  update(bar: OhlcvBar): number | null {
    const prev = this.prev;
    this.prev = { open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume };
    const tr = this.tr.update(bar);
    if (prev === null || tr === null) return null;
    const up = bar.high - prev.high;
    const down = prev.low - bar.low;
    const atr = this.trAvg.update(tr);
    const pdm = this.pdmAvg.update(up > down && up > 0 ? up : 0);
    const mdm = this.mdmAvg.update(down > up && down > 0 ? down : 0);
    if (atr === null || pdm === null || mdm === null) return null;
    this.plusDI = atr > 0 ? (100 * pdm) / atr : 0;
    this.minusDI = atr > 0 ? (100 * mdm) / atr : 0;
    const sum = this.plusDI + this.minusDI;
    const dx = sum > 0 ? (100 * Math.abs(this.plusDI - this.minusDI)) / sum : 0;
    this.value = this.dxAvg.update(dx);
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Keltner position: (close − EMA(close, emaPeriod)) / (multiplier · ATR(atrPeriod)).
 * −1 is the lower band, +1 the upper band, 0 the middle line.
 */
export class KeltnerPosition implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private readonly ema: EMA;
  private readonly atr: ATR;

  constructor(
    readonly emaPeriod = 20,
    readonly atrPeriod = 10,
    readonly multiplier = 2,
  ) {
    this.ema = new EMA(emaPeriod);
    this.atr = new ATR(atrPeriod);
    this.warmup = Math.max(this.ema.warmup, this.atr.warmup);
  }

  update(bar: OhlcvBar): number | null {
    const e = this.ema.update(bar.close);
    const a = this.atr.update(bar);
    if (e === null || a === null) return null;
    const band = this.multiplier * a;
    this.value = band > 0 ? (bar.close - e) / band : 0;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Distance of the close from the rolling VWAP over `period` bars: close / VWAP − 1, where
 * VWAP = Σ(TP·volume) / Σvolume. With zero volume in the window the VWAP falls back to the mean TP.
 */
export class VwapDistance implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private readonly pv: RollingStats;
  private readonly vol: RollingStats;
  private readonly tp: RollingStats;

  constructor(readonly period = 24) {
    assertPeriod('VwapDistance', period);
    this.warmup = period - 1;
    this.pv = new RollingStats(period);
    this.vol = new RollingStats(period);
    this.tp = new RollingStats(period);
  }

  update(bar: OhlcvBar): number | null {
    const tp = typicalPrice(bar);
    this.pv.push(tp * bar.volume);
    this.vol.push(bar.volume);
    this.tp.push(tp);
    if (!this.pv.full) return null;
    const v = this.vol.total;
    const vwap = v > 0 ? this.pv.total / v : this.tp.mean;
    this.value = bar.close / vwap - 1;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.pv.length, this.vol.length, this.tp.length];
  }
}

// ───────────────────────────── price indicators (continued) ─────────────────────────────

/**
 * Weighted moving average: WMA = Σ_{i=1..n} i · x_{t−n+i} / (n(n+1)/2), the newest value weighted n.
 * O(1): with S = Σx and W = Σ i·x over the window, a full window updates W ← W − S + n·x and S ← S − x_out + x;
 * both are re-summed from the ring buffer every `period` pushes. Warm-up: period − 1.
 */
export class WMA implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly ring: RingBuffer;
  private readonly denominator: number;
  private sum = 0;
  private weighted = 0;
  private sinceResync = 0;

  constructor(readonly period = 20) {
    assertPeriod('WMA', period);
    this.warmup = period - 1;
    this.ring = new RingBuffer(period);
    this.denominator = (period * (period + 1)) / 2;
  }

  update(x: number): number | null {
    const out = this.ring.push(x);
    if (out === undefined) {
      this.weighted += this.ring.length * x;
      this.sum += x;
    } else {
      this.weighted += this.period * x - this.sum;
      this.sum += x - out;
    }
    if (++this.sinceResync >= this.period) this.resync();
    this.value = this.ring.full ? this.weighted / this.denominator : null;
    return this.value;
  }

  private resync(): void {
    let s = 0;
    let w = 0;
    let i = 0;
    this.ring.forEach((v) => {
      s += v;
      w += ++i * v;
    });
    this.sum = s;
    this.weighted = w;
    this.sinceResync = 0;
  }

  bufferLengths(): number[] {
    return [this.ring.length];
  }
}

/**
 * Wilder's exponential moving average (WEMA / SMMA / RMA) of the input: alpha = 1 / period, seeded with the simple
 * mean of the first `period` values, then wema += (x − wema) / period. Warm-up: period − 1.
 */
export class WEMA implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly avg: WilderAverage;

  constructor(readonly period = 20) {
    assertPeriod('WEMA', period);
    this.warmup = period - 1;
    this.avg = new WilderAverage(period);
  }

  update(x: number): number | null {
    this.value = this.avg.update(x);
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * TRIX: one-bar rate of change, in percent, of a triple-smoothed EMA: e3 = EMA(EMA(EMA(x, n), n), n),
 * TRIX = 100 · (e3_t − e3_{t−1}) / e3_{t−1}. Each EMA is seeded with the mean of its first n inputs.
 * Warm-up: 3·(period − 1) + 1 (44 bars of history for the default 15).
 */
export class TRIX implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private readonly e1: EMA;
  private readonly e2: EMA;
  private readonly e3: EMA;
  private prev: number | null = null;

  constructor(readonly period = 15) {
    assertPeriod('TRIX', period);
    this.e1 = new EMA(period);
    this.e2 = new EMA(period);
    this.e3 = new EMA(period);
    this.warmup = 3 * (period - 1) + 1;
  }

  update(x: number): number | null {
    const a = this.e1.update(x);
    if (a === null) return null;
    const b = this.e2.update(a);
    if (b === null) return null;
    const c = this.e3.update(b);
    if (c === null) return null;
    const prev = this.prev;
    this.prev = c;
    if (prev === null) return null;
    this.value = ((c - prev) / prev) * 100;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Stochastic RSI: the stochastic oscillator applied to Wilder's RSI. `update` returns
 * StochRSI = 100 · (RSI − min RSI) / (max RSI − min RSI) over the last `stochasticPeriod` RSI values (50 when they
 * are all equal); `k` = SMA(StochRSI, kPeriod), `d` = SMA(k, dPeriod).
 * Warm-ups: rsiPeriod + stochasticPeriod − 1 (27 by default); `kWarmup` adds kPeriod − 1 (29), `dWarmup` adds
 * dPeriod − 1 more (31).
 */
export class StochasticRSI implements Indicator<number> {
  readonly warmup: number;
  readonly kWarmup: number;
  readonly dWarmup: number;
  value: number | null = null;
  k: number | null = null;
  d: number | null = null;
  private readonly rsi: RSI;
  private readonly hh: RollingExtreme;
  private readonly ll: RollingExtreme;
  private readonly kSma: SMA;
  private readonly dSma: SMA;

  constructor(
    readonly rsiPeriod = 14,
    readonly stochasticPeriod = 14,
    readonly kPeriod = 3,
    readonly dPeriod = 3,
  ) {
    assertPeriod('StochasticRSI stochasticPeriod', stochasticPeriod);
    assertPeriod('StochasticRSI kPeriod', kPeriod);
    assertPeriod('StochasticRSI dPeriod', dPeriod);
    this.rsi = new RSI(rsiPeriod);
    this.hh = new RollingExtreme(stochasticPeriod, 'max');
    this.ll = new RollingExtreme(stochasticPeriod, 'min');
    this.kSma = new SMA(kPeriod);
    this.dSma = new SMA(dPeriod);
    this.warmup = this.rsi.warmup + stochasticPeriod - 1;
    this.kWarmup = this.warmup + kPeriod - 1;
    this.dWarmup = this.kWarmup + dPeriod - 1;
  }

  update(x: number): number | null {
    const r = this.rsi.update(x);
    if (r === null) return null;
    this.hh.push(r);
    this.ll.push(r);
    if (this.hh.count < this.stochasticPeriod) return null;
    const hi = this.hh.value;
    const lo = this.ll.value;
    this.value = hi > lo ? ((r - lo) / (hi - lo)) * 100 : 50;
    this.k = this.kSma.update(this.value);
    this.d = this.k === null ? null : this.dSma.update(this.k);
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.hh.length, this.ll.length, ...this.kSma.bufferLengths(), ...this.dSma.bufferLengths()];
  }
}

/**
 * Chande momentum oscillator over the last `period` close-to-close changes:
 * CMO = 100 · (Σgains − Σlosses) / (Σgains + Σlosses), in [−100, 100]; 0 when there was no change at all.
 * Warm-up: period (the first change needs a previous close).
 */
export class CMO implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private prev: number | null = null;
  private readonly gains: RollingStats;
  private readonly losses: RollingStats;

  constructor(readonly period = 14) {
    assertPeriod('CMO', period);
    this.warmup = period;
    this.gains = new RollingStats(period);
    this.losses = new RollingStats(period);
  }

  update(x: number): number | null {
    const prev = this.prev;
    this.prev = x;
    if (prev === null) return null;
    const change = x - prev;
    this.gains.push(change > 0 ? change : 0);
    this.losses.push(change < 0 ? -change : 0);
    if (!this.gains.full) return null;
    const g = this.gains.total;
    const l = this.losses.total;
    this.value = g + l > 0 ? (100 * (g - l)) / (g + l) : 0;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.gains.length, this.losses.length];
  }
}

/**
 * True strength index: double-smoothed momentum. With m = x_t − x_{t−1},
 * TSI = 100 · EMA(EMA(m, longPeriod), shortPeriod) / EMA(EMA(|m|, longPeriod), shortPeriod), in [−100, 100];
 * 0 when the denominator is 0. EMAs are seeded with the mean of their first inputs.
 * Warm-up: longPeriod + shortPeriod − 1 (37 for 25/13).
 */
export class TSI implements Indicator<number> {
  readonly warmup: number;
  value: number | null = null;
  private prev: number | null = null;
  private readonly numLong: EMA;
  private readonly numShort: EMA;
  private readonly denLong: EMA;
  private readonly denShort: EMA;

  constructor(
    readonly longPeriod = 25,
    readonly shortPeriod = 13,
  ) {
    assertPeriod('TSI longPeriod', longPeriod);
    assertPeriod('TSI shortPeriod', shortPeriod);
    this.numLong = new EMA(longPeriod);
    this.numShort = new EMA(shortPeriod);
    this.denLong = new EMA(longPeriod);
    this.denShort = new EMA(shortPeriod);
    this.warmup = longPeriod + shortPeriod - 1;
  }

  update(x: number): number | null {
    const prev = this.prev;
    this.prev = x;
    if (prev === null) return null;
    const m = x - prev;
    const nl = this.numLong.update(m);
    const dl = this.denLong.update(Math.abs(m));
    if (nl === null || dl === null) return null;
    const ns = this.numShort.update(nl);
    const ds = this.denShort.update(dl);
    if (ns === null || ds === null) return null;
    this.value = ds > 0 ? (100 * ns) / ds : 0;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Know Sure Thing (Pring): KST = Σ_{i=1..4} i · SMA(ROC(x, r_i), s_i), with ROC in percent; `signal` = SMA(KST, signalPeriod).
 * Defaults r = (10, 15, 20, 30), s = (10, 10, 10, 15), signal 9.
 * Warm-up: max_i(r_i + s_i − 1) (44 by default); `signalWarmup` adds signalPeriod − 1 (52).
 */
export class KST implements Indicator<number> {
  readonly warmup: number;
  readonly signalWarmup: number;
  value: number | null = null;
  signal: number | null = null;
  private readonly rocs: ROC[];
  private readonly smas: SMA[];
  private readonly signalSma: SMA;

  constructor(
    readonly rocPeriods: readonly [number, number, number, number] = [10, 15, 20, 30],
    readonly smaPeriods: readonly [number, number, number, number] = [10, 10, 10, 15],
    readonly signalPeriod = 9,
  ) {
    if (rocPeriods.length !== 4 || smaPeriods.length !== 4) throw new RangeError('KST: needs exactly 4 ROC and 4 SMA periods');
    assertPeriod('KST signalPeriod', signalPeriod);
    this.rocs = rocPeriods.map((p) => new ROC(p));
    this.smas = smaPeriods.map((p) => new SMA(p));
    this.signalSma = new SMA(signalPeriod);
    this.warmup = Math.max(...rocPeriods.map((r, i) => r + smaPeriods[i]! - 1));
    this.signalWarmup = this.warmup + signalPeriod - 1;
  }

  update(x: number): number | null {
    let kst = 0;
    let ready = true;
    for (let i = 0; i < 4; i++) {
      const r = this.rocs[i]!.update(x);
      const s = r === null ? null : this.smas[i]!.update(r);
      if (s === null) ready = false;
      else kst += (i + 1) * s;
    }
    if (!ready) return null;
    this.value = kst;
    this.signal = this.signalSma.update(kst);
    return this.value;
  }

  bufferLengths(): number[] {
    return [...this.rocs.flatMap((r) => r.bufferLengths()), ...this.smas.flatMap((s) => s.bufferLengths()), ...this.signalSma.bufferLengths()];
  }
}

// ───────────────────────────── bar indicators (continued) ─────────────────────────────

/**
 * Awesome oscillator (Bill Williams): SMA(median, fastPeriod) − SMA(median, slowPeriod) with median = (high + low) / 2.
 * Price-valued. Warm-up: slowPeriod − 1 (33 for 5/34).
 */
export class AwesomeOscillator implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private readonly fast: SMA;
  private readonly slow: SMA;

  constructor(
    readonly fastPeriod = 5,
    readonly slowPeriod = 34,
  ) {
    assertPeriod('AwesomeOscillator fastPeriod', fastPeriod);
    if (!Number.isInteger(slowPeriod) || slowPeriod <= fastPeriod) throw new RangeError('AwesomeOscillator: slowPeriod must be an integer above fastPeriod');
    this.fast = new SMA(fastPeriod);
    this.slow = new SMA(slowPeriod);
    this.warmup = slowPeriod - 1;
  }

  update(bar: OhlcvBar): number | null {
    const median = (bar.high + bar.low) / 2;
    const f = this.fast.update(median);
    const s = this.slow.update(median);
    this.value = f === null || s === null ? null : f - s;
    return this.value;
  }

  bufferLengths(): number[] {
    return [...this.fast.bufferLengths(), ...this.slow.bufferLengths()];
  }
}

/**
 * Elder's force index: EMA((close_t − close_{t−1}) · volume_t, period), EMA seeded with the mean of the first
 * `period` raw values. Units are price · volume. Warm-up: period (the first raw value needs a previous close).
 */
export class ForceIndex implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private prevClose: number | null = null;
  private readonly ema: EMA;

  constructor(readonly period = 13) {
    assertPeriod('ForceIndex', period);
    this.ema = new EMA(period);
    this.warmup = period;
  }

  update(bar: OhlcvBar): number | null {
    const pc = this.prevClose;
    this.prevClose = bar.close;
    if (pc === null) return null;
    this.value = this.ema.update((bar.close - pc) * bar.volume);
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Accumulation/distribution line: cumulative Σ MFM · volume from the first bar, with the money-flow multiplier
 * MFM = ((close − low) − (high − close)) / (high − low), and MFM = 0 for a bar with high = low.
 * Cumulative (its level depends on where it started; use differences or oscillators of it). Warm-up: 0.
 */
export class ADL implements Indicator<OhlcvBar> {
  readonly warmup = 0;
  value: number | null = null;
  private total = 0;

  update(bar: OhlcvBar): number | null {
    const range = bar.high - bar.low;
    if (range > 0) this.total += ((bar.close - bar.low - (bar.high - bar.close)) / range) * bar.volume;
    this.value = this.total;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Chaikin money flow: CMF = Σ(MFM · volume) / Σvolume over `period` bars, MFM as in `ADL` (0 when high = low),
 * in [−1, 1]; 0 when the window has no volume. Warm-up: period − 1.
 */
export class CMF implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private readonly flow: RollingStats;
  private readonly vol: RollingStats;

  constructor(readonly period = 20) {
    assertPeriod('CMF', period);
    this.warmup = period - 1;
    this.flow = new RollingStats(period);
    this.vol = new RollingStats(period);
  }

  update(bar: OhlcvBar): number | null {
    const range = bar.high - bar.low;
    const mfm = range > 0 ? (bar.close - bar.low - (bar.high - bar.close)) / range : 0;
    this.flow.push(mfm * bar.volume);
    this.vol.push(bar.volume);
    if (!this.flow.full) return null;
    const v = this.vol.total;
    this.value = v > 0 ? this.flow.total / v : 0;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.flow.length, this.vol.length];
  }
}

/**
 * Wilder's parabolic SAR (stop and reverse), in the `technicalindicators` formulation: the first bar starts an
 * uptrend with SAR = low and extreme point EP = high. Then per bar: SAR ← SAR + AF · (EP − SAR), clamped to the lows
 * (uptrend) or highs (downtrend) of the previous two bars; a new EP raises AF by `step` up to `max`; if the bar
 * crosses the SAR the trend flips, SAR ← old EP, EP ← this bar's high (new uptrend) or low, AF ← step.
 * `rising` is the trend after this bar. Price-valued. Warm-up: 0 (the first SAR is the first low).
 */
export class PSAR implements Indicator<OhlcvBar> {
  readonly warmup = 0;
  value: number | null = null;
  rising = true;
  private sar = 0;
  private extreme = 0;
  private accel: number;
  private prevHigh: number | null = null;
  private prevLow = 0;
  private furthestHigh = 0;
  private furthestLow = 0;

  constructor(
    readonly step = 0.02,
    readonly max = 0.2,
  ) {
    if (!(Number.isFinite(step) && step > 0)) throw new RangeError(`PSAR: step must be a positive number, got ${step}`);
    if (!(Number.isFinite(max) && max >= step)) throw new RangeError(`PSAR: max must be a number >= step, got ${max}`);
    this.accel = step;
  }

  update(bar: OhlcvBar): number | null {
    if (this.prevHigh === null) {
      this.sar = bar.low;
      this.extreme = bar.high;
      this.prevHigh = this.furthestHigh = bar.high;
      this.prevLow = this.furthestLow = bar.low;
      this.value = this.sar;
      return this.value;
    }
    let sar = this.sar + this.accel * (this.extreme - this.sar);
    if (this.rising) {
      sar = Math.min(sar, this.furthestLow, this.prevLow);
      if (bar.high > this.extreme) {
        this.extreme = bar.high;
        this.accel = Math.min(this.accel + this.step, this.max);
      }
    } else {
      sar = Math.max(sar, this.furthestHigh, this.prevHigh);
      if (bar.low < this.extreme) {
        this.extreme = bar.low;
        this.accel = Math.min(this.accel + this.step, this.max);
      }
    }
    if ((this.rising && bar.low < sar) || (!this.rising && bar.high > sar)) {
      this.accel = this.step;
      sar = this.extreme;
      this.rising = !this.rising;
      this.extreme = this.rising ? bar.high : bar.low;
    }
    this.sar = sar;
    this.furthestHigh = this.prevHigh;
    this.furthestLow = this.prevLow;
    this.prevHigh = bar.high;
    this.prevLow = bar.low;
    this.value = sar;
    return this.value;
  }

  bufferLengths(): number[] {
    return [];
  }
}

/**
 * Ichimoku lines (not displaced): conversion (tenkan) = (HH + LL) / 2 over `conversionPeriod` bars, base (kijun) the
 * same over `basePeriod`, spanA = (conversion + base) / 2, spanB = (HH + LL) / 2 over `spanPeriod`. The spans are
 * the values the cloud plots `basePeriod` bars ahead. `update` returns conversion − base (price-valued).
 * Warm-up: max(conversionPeriod, basePeriod) − 1 (25) for conversion, base and spanA; `spanWarmup` =
 * spanPeriod − 1 (51) for spanB.
 */
export class IchimokuCloud implements Indicator<OhlcvBar> {
  readonly warmup: number;
  readonly spanWarmup: number;
  value: number | null = null;
  conversion: number | null = null;
  base: number | null = null;
  spanA: number | null = null;
  spanB: number | null = null;
  private readonly convHi: RollingExtreme;
  private readonly convLo: RollingExtreme;
  private readonly baseHi: RollingExtreme;
  private readonly baseLo: RollingExtreme;
  private readonly spanHi: RollingExtreme;
  private readonly spanLo: RollingExtreme;

  constructor(
    readonly conversionPeriod = 9,
    readonly basePeriod = 26,
    readonly spanPeriod = 52,
  ) {
    assertPeriod('IchimokuCloud conversionPeriod', conversionPeriod);
    assertPeriod('IchimokuCloud basePeriod', basePeriod);
    assertPeriod('IchimokuCloud spanPeriod', spanPeriod);
    this.convHi = new RollingExtreme(conversionPeriod, 'max');
    this.convLo = new RollingExtreme(conversionPeriod, 'min');
    this.baseHi = new RollingExtreme(basePeriod, 'max');
    this.baseLo = new RollingExtreme(basePeriod, 'min');
    this.spanHi = new RollingExtreme(spanPeriod, 'max');
    this.spanLo = new RollingExtreme(spanPeriod, 'min');
    this.warmup = Math.max(conversionPeriod, basePeriod) - 1;
    this.spanWarmup = spanPeriod - 1;
  }

  update(bar: OhlcvBar): number | null {
    for (const e of [this.convHi, this.baseHi, this.spanHi]) e.push(bar.high);
    for (const e of [this.convLo, this.baseLo, this.spanLo]) e.push(bar.low);
    const n = this.convHi.count;
    if (n >= this.spanPeriod) this.spanB = (this.spanHi.value + this.spanLo.value) / 2;
    if (n <= this.warmup) return null;
    this.conversion = (this.convHi.value + this.convLo.value) / 2;
    this.base = (this.baseHi.value + this.baseLo.value) / 2;
    this.spanA = (this.conversion + this.base) / 2;
    this.value = this.conversion - this.base;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.convHi, this.convLo, this.baseHi, this.baseLo, this.spanHi, this.spanLo].map((e) => e.length);
  }
}

/**
 * Aroon over `period` bars (a window of period + 1 bars including the current one):
 * up = 100 · (period − bars since the highest high) / period, down likewise with the lowest low (ties: the most
 * recent extreme counts). `update` returns the oscillator up − down in [−100, 100]. Warm-up: period.
 */
export class Aroon implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  up: number | null = null;
  down: number | null = null;
  private readonly hh: RollingExtreme;
  private readonly ll: RollingExtreme;

  constructor(readonly period = 25) {
    assertPeriod('Aroon', period);
    this.hh = new RollingExtreme(period + 1, 'max');
    this.ll = new RollingExtreme(period + 1, 'min');
    this.warmup = period;
  }

  update(bar: OhlcvBar): number | null {
    this.hh.push(bar.high);
    this.ll.push(bar.low);
    const last = this.hh.count - 1;
    if (last < this.period) return null;
    this.up = (100 * (this.period - (last - this.hh.index))) / this.period;
    this.down = (100 * (this.period - (last - this.ll.index))) / this.period;
    this.value = this.up - this.down;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.hh.length, this.ll.length];
  }
}

/**
 * Donchian channel of the `period` bars before the current one (the current bar is excluded, so a close beyond the
 * channel is a breakout): upper = highest high, lower = lowest low, middle = (upper + lower) / 2.
 * `update` returns the position (close − lower) / (upper − lower): 0 at the lower band, 1 at the upper band, outside
 * [0, 1] on a breakout; 0.5 when the channel is flat. Warm-up: period.
 */
export class DonchianChannel implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  upper: number | null = null;
  lower: number | null = null;
  middle: number | null = null;
  private readonly hh: RollingExtreme;
  private readonly ll: RollingExtreme;

  constructor(readonly period = 20) {
    assertPeriod('DonchianChannel', period);
    this.hh = new RollingExtreme(period, 'max');
    this.ll = new RollingExtreme(period, 'min');
    this.warmup = period;
  }

  update(bar: OhlcvBar): number | null {
    if (this.hh.count >= this.period) {
      const hi = this.hh.value;
      const lo = this.ll.value;
      this.upper = hi;
      this.lower = lo;
      this.middle = (hi + lo) / 2;
      this.value = hi > lo ? (bar.close - lo) / (hi - lo) : 0.5;
    }
    this.hh.push(bar.high);
    this.ll.push(bar.low);
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.hh.length, this.ll.length];
  }
}

/**
 * Ultimate oscillator (Williams), from the second bar: buying pressure BP = close − min(low, prevClose),
 * TR = max(high, prevClose) − min(low, prevClose); A_n = ΣBP / ΣTR over n bars (0.5 if ΣTR = 0);
 * UO = 100 · (4·A_short + 2·A_medium + A_long) / 7, in [0, 100]. Warm-up: max of the periods (28 for 7/14/28).
 */
export class UltimateOscillator implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  private prevClose: number | null = null;
  private readonly bp: RollingStats[];
  private readonly tr: RollingStats[];

  constructor(
    readonly shortPeriod = 7,
    readonly mediumPeriod = 14,
    readonly longPeriod = 28,
  ) {
    assertPeriod('UltimateOscillator shortPeriod', shortPeriod);
    assertPeriod('UltimateOscillator mediumPeriod', mediumPeriod);
    assertPeriod('UltimateOscillator longPeriod', longPeriod);
    const periods = [shortPeriod, mediumPeriod, longPeriod];
    this.bp = periods.map((p) => new RollingStats(p));
    this.tr = periods.map((p) => new RollingStats(p));
    this.warmup = Math.max(...periods);
  }

  update(bar: OhlcvBar): number | null {
    const pc = this.prevClose;
    this.prevClose = bar.close;
    if (pc === null) return null;
    const floor = Math.min(bar.low, pc);
    const bp = bar.close - floor;
    const tr = Math.max(bar.high, pc) - floor;
    for (let i = 0; i < 3; i++) {
      this.bp[i]!.push(bp);
      this.tr[i]!.push(tr);
    }
    if (!this.bp.every((s) => s.full)) return null;
    const avg = (i: number) => {
      const t = this.tr[i]!.total;
      return t > 0 ? this.bp[i]!.total / t : 0.5;
    };
    this.value = (100 * (4 * avg(0) + 2 * avg(1) + avg(2))) / 7;
    return this.value;
  }

  bufferLengths(): number[] {
    return [...this.bp, ...this.tr].map((s) => s.length);
  }
}

/**
 * Vortex indicator, from the second bar: VM+ = |high − prevLow|, VM− = |low − prevHigh|, TR = true range;
 * VI+ = ΣVM+ / ΣTR and VI− = ΣVM− / ΣTR over `period` bars (both 1 if ΣTR = 0). `update` returns VI+ − VI−;
 * `plus` / `minus` hold VI+ / VI−. Warm-up: period.
 */
export class Vortex implements Indicator<OhlcvBar> {
  readonly warmup: number;
  value: number | null = null;
  plus: number | null = null;
  minus: number | null = null;
  private prevHigh: number | null = null;
  private prevLow = 0;
  private readonly trueRange = new TrueRange();
  private readonly vmPlus: RollingStats;
  private readonly vmMinus: RollingStats;
  private readonly tr: RollingStats;

  constructor(readonly period = 14) {
    assertPeriod('Vortex', period);
    this.vmPlus = new RollingStats(period);
    this.vmMinus = new RollingStats(period);
    this.tr = new RollingStats(period);
    this.warmup = period;
  }

  update(bar: OhlcvBar): number | null {
    const ph = this.prevHigh;
    const pl = this.prevLow;
    this.prevHigh = bar.high;
    this.prevLow = bar.low;
    const tr = this.trueRange.update(bar);
    if (ph === null || tr === null) return null;
    this.vmPlus.push(Math.abs(bar.high - pl));
    this.vmMinus.push(Math.abs(bar.low - ph));
    this.tr.push(tr);
    if (!this.tr.full) return null;
    const t = this.tr.total;
    this.plus = t > 0 ? this.vmPlus.total / t : 1;
    this.minus = t > 0 ? this.vmMinus.total / t : 1;
    this.value = this.plus - this.minus;
    return this.value;
  }

  bufferLengths(): number[] {
    return [this.vmPlus.length, this.vmMinus.length, this.tr.length];
  }
}
