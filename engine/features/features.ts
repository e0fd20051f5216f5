/**
 * Per-symbol feature sets built from the incremental indicators. `FeatureSet.update(bar)` feeds one bar to every
 * indicator and returns a flat snapshot; `HigherTimeframeFeatureSet` does the same on 4-hour bars it aggregates
 * from hourly bars, emitting only when a 4-hour bar is complete (it never looks at an incomplete bar).
 */
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
} from './indicators.js';
import { HOUR_MS } from '../market/feed.js';

export type FeatureSnapshot = Record<string, number | null>;


function ratioMinusOne(x: number, ref: number | null): number | null {
  return ref === null || ref === 0 ? null : x / ref - 1;
}

function perClose(v: number | null, close: number): number | null {
  return v === null ? null : v / close;
}

/** num / den, 0 when the denominator is 0 (no volume → no flow), null while either side is warming up. */
function ratioOrZero(num: number | null, den: number | null): number | null {
  if (num === null || den === null) return null;
  return den === 0 ? 0 : num / den;
}

/**
 * All features of one symbol on one timeframe. Feed bars in time order; one `FeatureSet` per symbol.
 *
 * Price-valued outputs are divided by the close (`*_pct`) or given as close / level − 1 (`*_dist`), so the keys are
 * comparable across symbols. Volume-scaled outputs are normalised by a volume average:
 * - `force13_norm` = ForceIndex(13) / (close · EMA(volume, 13)): the volume-weighted mean one-bar return;
 * - `adl_osc` = (EMA(ADL, 3) − EMA(ADL, 10)) / SMA(volume, 10): the Chaikin oscillator in units of average bar
 *   volume (an oscillator of the cumulative A/D line, so it does not depend on where the line started).
 */
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
  private readonly wma20 = new WMA(20);
  private readonly wema20 = new WEMA(20);
  private readonly trix15 = new TRIX(15);
  private readonly stochRsi = new StochasticRSI(14, 14, 3, 3);
  private readonly cmo14 = new CMO(14);
  private readonly tsi = new TSI(25, 13);
  private readonly kst = new KST();
  private readonly ao = new AwesomeOscillator(5, 34);
  private readonly force13 = new ForceIndex(13);
  private readonly force13Volume = new EMA(13);
  private readonly adl = new ADL();
  private readonly adlFast = new EMA(3);
  private readonly adlSlow = new EMA(10);
  private readonly adlVolume = new SMA(10);
  private readonly cmf20 = new CMF(20);
  private readonly psar = new PSAR(0.02, 0.2);
  private readonly ichimoku = new IchimokuCloud(9, 26, 52);
  private readonly aroon25 = new Aroon(25);
  private readonly donchian20 = new DonchianChannel(20);
  private readonly uo = new UltimateOscillator(7, 14, 28);
  private readonly vortex14 = new Vortex(14);
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
    this.wma20.warmup,
    this.wema20.warmup,
    this.trix15.warmup,
    this.stochRsi.dWarmup,
    this.cmo14.warmup,
    this.tsi.warmup,
    this.kst.signalWarmup,
    this.ao.warmup,
    this.force13.warmup,
    this.force13Volume.warmup,
    this.adl.warmup + this.adlSlow.warmup,
    this.adlVolume.warmup,
    this.cmf20.warmup,
    this.psar.warmup,
    this.ichimoku.spanWarmup,
    this.aroon25.warmup,
    this.donchian20.warmup,
    this.uo.warmup,
    this.vortex14.warmup,
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
    const wma20 = this.wma20.update(c);
    const wema20 = this.wema20.update(c);
    const stochRsi = this.stochRsi.update(c);
    const kst = this.kst.update(c);
    const force = this.force13.update(bar);
    const forceVolume = this.force13Volume.update(bar.volume);
    const adl = this.adl.update(bar);
    const adlFast = adl === null ? null : this.adlFast.update(adl);
    const adlSlow = adl === null ? null : this.adlSlow.update(adl);
    const adlVolume = this.adlVolume.update(bar.volume);
    const tk = this.ichimoku.update(bar);
    const aroon = this.aroon25.update(bar);
    const donchian = this.donchian20.update(bar);
    const vortex = this.vortex14.update(bar);
    const psar = this.psar.update(bar);
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
      wma20_dist: ratioMinusOne(c, wma20),
      wema20_dist: ratioMinusOne(c, wema20),
      trix15: this.trix15.update(c),
      stochrsi14: stochRsi,
      stochrsi14_k: stochRsi === null ? null : this.stochRsi.k,
      stochrsi14_d: stochRsi === null ? null : this.stochRsi.d,
      cmo14: this.cmo14.update(c),
      tsi25_13: this.tsi.update(c),
      kst,
      kst_signal: kst === null ? null : this.kst.signal,
      ao_pct: perClose(this.ao.update(bar), c),
      force13_norm: ratioOrZero(force, forceVolume === null ? null : c * forceVolume),
      adl_osc: ratioOrZero(adlFast === null || adlSlow === null ? null : adlFast - adlSlow, adlVolume),
      cmf20: this.cmf20.update(bar),
      psar_dist: psar === null ? null : (c - psar) / c,
      ichimoku_tk_pct: perClose(tk, c),
      ichimoku_base_dist: tk === null ? null : ratioMinusOne(c, this.ichimoku.base),
      ichimoku_span_pct: tk === null || this.ichimoku.spanA === null || this.ichimoku.spanB === null ? null : (this.ichimoku.spanA - this.ichimoku.spanB) / c,
      aroon25_up: aroon === null ? null : this.aroon25.up,
      aroon25_down: aroon === null ? null : this.aroon25.down,
      aroon25_osc: aroon,
      donchian20_pos: donchian,
      donchian20_width: donchian === null || this.donchian20.upper === null || this.donchian20.lower === null ? null : (this.donchian20.upper - this.donchian20.lower) / c,
      ultosc7_14_28: this.uo.update(bar),
      vortex14_plus: vortex === null ? null : this.vortex14.plus,
      vortex14_minus: vortex === null ? null : this.vortex14.minus,
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
  /** traded volume of the 4-hour bar behind `latest` (the regime's volume input) */
  latestVolume: number | null = null;

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
      this.latestVolume = big.volume;
    }
    return this.latest;
  }
}
