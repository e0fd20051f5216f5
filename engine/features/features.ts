/**
 * Per-symbol feature sets built from the incremental indicators. `FeatureSet.update(bar)` feeds one bar to every
 * indicator and returns a flat snapshot; `HigherTimeframeFeatureSet` does the same on 4-hour bars it aggregates
 * from hourly bars, emitting only when a 4-hour bar is complete (it never looks at an incomplete bar).
 */
import type { Bar } from '../types.js';
import {
  ADX,
  ATR,
  Bollinger,
  CCI,
  EMA,
  EmaSlope,
  KeltnerPosition,
  MACD,
  MFI,
  OBV,
  RealizedVolatility,
  ROC,
  RSI,
  SMA,
  Stochastic,
  VwapDistance,
  WilliamsR,
  ZScore,
} from './indicators.js';

export type FeatureSnapshot = Record<string, number | null>;

const HOUR_MS = 3_600_000;

function ratioMinusOne(x: number, ref: number | null): number | null {
  return ref === null || ref === 0 ? null : x / ref - 1;
}

function perClose(v: number | null, close: number): number | null {
  return v === null ? null : v / close;
}

/** All features of one symbol on one timeframe. Feed bars in time order; one `FeatureSet` per symbol. */
export class FeatureSet {
  private readonly sma20 = new SMA(20);
  private readonly ema50 = new EMA(50);
  private readonly rsi14 = new RSI(14);
  private readonly macd = new MACD(12, 26, 9);
  private readonly atr14 = new ATR(14);
  private readonly bb20 = new Bollinger(20, 2);
  private readonly roc10 = new ROC(10);
  private readonly stoch = new Stochastic(14, 3);
  private readonly cci20 = new CCI(20);
  private readonly obv = new OBV();
  private readonly mfi14 = new MFI(14);
  private readonly adx14 = new ADX(14);
  private readonly willr14 = new WilliamsR(14);
  private readonly rv24 = new RealizedVolatility(24);
  private readonly z20 = new ZScore(20);
  private readonly slope20 = new EmaSlope(20, 1);
  private readonly keltner = new KeltnerPosition(20, 10, 2);
  private readonly vwap24 = new VwapDistance(24);
  private lastTs: number | null = null;
  private count = 0;

  /** updates after which every feature is non-null */
  readonly warmup = Math.max(
    this.sma20.warmup,
    this.ema50.warmup,
    this.rsi14.warmup,
    this.macd.signalWarmup,
    this.atr14.warmup,
    this.bb20.warmup,
    this.roc10.warmup,
    this.stoch.dWarmup,
    this.cci20.warmup,
    this.obv.warmup,
    this.mfi14.warmup,
    this.adx14.warmup,
    this.willr14.warmup,
    this.rv24.warmup,
    this.z20.warmup,
    this.slope20.warmup,
    this.keltner.warmup,
    this.vwap24.warmup,
  );

  /** number of bars consumed */
  get bars(): number {
    return this.count;
  }

  update(bar: Bar): FeatureSnapshot {
    if (this.lastTs !== null && bar.ts <= this.lastTs) {
      throw new Error(`FeatureSet: bars must be in strictly increasing time order (${bar.ts} after ${this.lastTs})`);
    }
    this.lastTs = bar.ts;
    this.count++;
    const c = bar.close;
    const sma20 = this.sma20.update(c);
    const ema50 = this.ema50.update(c);
    const macd = this.macd.update(c);
    const atr = this.atr14.update(bar);
    const pctb = this.bb20.update(c);
    const k = this.stoch.update(bar);
    const adx = this.adx14.update(bar);
    return {
      sma20_dist: ratioMinusOne(c, sma20),
      ema50_dist: ratioMinusOne(c, ema50),
      rsi14: this.rsi14.update(c),
      macd,
      macd_signal: this.macd.signal,
      macd_hist: this.macd.histogram,
      macd_hist_pct: perClose(this.macd.histogram, c),
      atr14: atr,
      atr14_pct: perClose(atr, c),
      bb20_pctb: pctb,
      bb20_width: this.bb20.width,
      roc10: this.roc10.update(c),
      stoch_k14: k,
      stoch_d3: k === null ? null : this.stoch.d,
      cci20: this.cci20.update(bar),
      obv: this.obv.update(bar),
      mfi14: this.mfi14.update(bar),
      adx14: adx,
      plus_di14: this.adx14.plusDI,
      minus_di14: this.adx14.minusDI,
      willr14: this.willr14.update(bar),
      rv24: this.rv24.update(c),
      zscore20: this.z20.update(c),
      ema20_slope: this.slope20.update(c),
      keltner20_pos: this.keltner.update(bar),
      vwap24_dist: this.vwap24.update(bar),
    };
  }
}

/**
 * Aggregates bars of `baseMs` into bars of `factor · baseMs`, aligned to UTC epoch multiples of the larger span.
 * A bucket is emitted when its last base bar arrives, or — if that bar is missing — when the first bar of a later
 * bucket arrives (it can then no longer change). An emitted bar only contains bars at or before the current one.
 */
export class BarAggregator {
  readonly spanMs: number;
  private bucketStart: number | null = null;
  private open = 0;
  private high = 0;
  private low = 0;
  private close = 0;
  private volume = 0;

  constructor(
    readonly factor = 4,
    readonly baseMs = HOUR_MS,
  ) {
    if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`BarAggregator: factor must be a positive integer, got ${factor}`);
    this.spanMs = factor * baseMs;
  }

  /** Returns the bars completed by this base bar (0, 1 or 2 of them), oldest first. */
  push(bar: Bar): Bar[] {
    const out: Bar[] = [];
    const start = Math.floor(bar.ts / this.spanMs) * this.spanMs;
    if (this.bucketStart !== null && start !== this.bucketStart) {
      if (start < this.bucketStart) throw new Error(`BarAggregator: bar ${bar.ts} is older than the open bucket ${this.bucketStart}`);
      out.push(this.flush());
    }
    if (this.bucketStart === null) {
      this.bucketStart = start;
      this.open = bar.open;
      this.high = bar.high;
      this.low = bar.low;
      this.close = bar.close;
      this.volume = bar.volume;
    } else {
      this.high = Math.max(this.high, bar.high);
      this.low = Math.min(this.low, bar.low);
      this.close = bar.close;
      this.volume += bar.volume;
    }
    if (bar.ts + this.baseMs >= start + this.spanMs) out.push(this.flush());
    return out;
  }

  private flush(): Bar {
    const b: Bar = { ts: this.bucketStart!, open: this.open, high: this.high, low: this.low, close: this.close, volume: this.volume };
    this.bucketStart = null;
    return b;
  }
}

/**
 * The feature set on 4-hour bars built from hourly bars. `update(hourlyBar)` returns the snapshot (keys prefixed
 * `h4_`) when this bar completes a 4-hour bar, otherwise `null`; `latest` holds the last completed snapshot.
 */
export class HigherTimeframeFeatureSet {
  private readonly agg: BarAggregator;
  private readonly inner = new FeatureSet();
  latest: FeatureSnapshot | null = null;
  /** open time of the 4-hour bar behind `latest` */
  latestTs: number | null = null;

  constructor(
    readonly factor = 4,
    readonly baseMs = HOUR_MS,
    readonly prefix = 'h4_',
  ) {
    this.agg = new BarAggregator(factor, baseMs);
  }

  update(bar: Bar): FeatureSnapshot | null {
    const done = this.agg.push(bar);
    if (done.length === 0) return null;
    for (const big of done) {
      const snap = this.inner.update(big);
      const prefixed: FeatureSnapshot = {};
      for (const [k, v] of Object.entries(snap)) prefixed[this.prefix + k] = v;
      this.latest = prefixed;
      this.latestTs = big.ts;
    }
    return this.latest;
  }
}
