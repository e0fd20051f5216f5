/**
 * Learning from outcomes: every directional signal is remembered until its horizon has passed, then scored as a
 * win or a loss from the close at that time. The outcomes feed the calibrator (raw score → win probability),
 * the pattern table (pattern hash → wins/total) and the payoff ratio used for Kelly sizing.
 *
 * A signal made at bar t is resolved by the first bar whose open time is at least t + horizon, using that bar's
 * close, so the learning at any bar only uses bars up to it (no look-ahead). A win means the trade the signal
 * implies would have beaten the round-trip cost: an 'up' call needs close/entry − 1 > cost, a 'down' call needs
 * 1 − close/entry > cost.
 */
import { Calibrator, expectedCalibrationError, PatternTable, type CalibrationMethod } from './calibration.js';
import type { Direction } from './confidence.js';
import type { Symbol } from '../types.js';
import { HOUR_MS } from '../market/feed.js';

export interface TrackerParams {
  /** bars until a signal is judged */
  readonly horizonBars: number;
  /** round-trip cost a win must beat, as a fraction (0.005 = 0.5%) */
  readonly winThreshold: number;
  readonly method: CalibrationMethod;
  /** resolved outcomes kept for fitting (a rolling window) */
  readonly window: number;
  /** outcomes needed before the first fit; until then confidence stays at one half */
  readonly minSamples: number;
  /** check the recent ECE every this many outcomes; refit when it is above `eceThreshold` */
  readonly refitEvery: number;
  readonly eceThreshold: number;
  /** a pattern adjusts confidence only above this many outcomes */
  readonly patternSampleFloor: number;
  /** subtracted from the calibrated probability: ties go to not trading */
  readonly conservativeMargin: number;
}

interface Pending {
  readonly ts: number;
  readonly close: number;
  readonly direction: Exclude<Direction, 'flat'>;
  readonly raw: number;
  /** the calibrated probability given at the time (null before the first fit), for the online ECE */
  readonly calibrated: number | null;
  readonly hash: string;
}

export interface Resolved {
  readonly symbol: Symbol;
  readonly ts: number;
  readonly direction: Exclude<Direction, 'flat'>;
  readonly win: boolean;
  /** the implied trade's return after the round-trip cost */
  readonly pnl: number;
}

export interface CalibrationStatus {
  readonly method: CalibrationMethod;
  readonly fitted: boolean;
  readonly samples: number;
  readonly refits: number;
  /** ECE of the up calls' calibrated probabilities given since the last fit, against their outcomes (null: too few) */
  readonly onlineEce: number | null;
  readonly patterns: number;
}

/**
 * Calls needed before the online ECE is trusted. With ten bins, a perfectly calibrated forecaster scored on a few
 * hundred calls often shows more than 5% ECE from sampling noise alone; at a thousand the noise is about 2%.
 */
const ECE_MIN_CALLS = 1_000;

/** One direction's calibration: its own rolling sample and fit, because up and down calls win at different base rates. */
class DirectionCalibration {
  private readonly calibrator: Calibrator;
  /** a ring of the last `window` outcomes (Array.shift on a long array copies it) */
  private readonly raws: Float64Array;
  private readonly wins: Uint8Array;
  private count = 0;
  private next = 0;
  /** outcomes since the last fit, with the probability handed out at the time */
  private recent: Array<{ p: number; win: boolean }> = [];
  private sinceCheck = 0;
  fitted = false;
  refits = 0;

  constructor(private readonly params: TrackerParams) {
    this.calibrator = new Calibrator({ method: params.method, eceThreshold: params.eceThreshold, minSamples: params.minSamples });
    this.raws = new Float64Array(params.window);
    this.wins = new Uint8Array(params.window);
  }

  predict(raw: number): number | null {
    return this.fitted ? this.calibrator.predict(raw) : null;
  }

  learn(raw: number, given: number | null, win: boolean): void {
    this.raws[this.next] = raw;
    this.wins[this.next] = win ? 1 : 0;
    this.next = (this.next + 1) % this.params.window;
    this.count = Math.min(this.count + 1, this.params.window);
    if (given !== null) {
      this.recent.push({ p: given, win });
      if (this.recent.length > this.params.window) this.recent.shift();
    }
    this.sinceCheck += 1;
    if (this.sinceCheck < this.params.refitEvery) return;
    this.sinceCheck = 0;
    if (!this.fitted) {
      if (this.count >= this.params.minSamples) this.fit();
      return;
    }
    // Re-fit only when the probabilities handed out since the last fit are off by more than the threshold.
    if (this.recent.length >= ECE_MIN_CALLS && this.calibrator.needsRefit(this.recent.map((r) => r.p), this.recent.map((r) => r.win))) this.fit();
  }

  get sampleCount(): number {
    return this.count;
  }

  onlineEce(): number | null {
    return this.recent.length >= ECE_MIN_CALLS ? expectedCalibrationError(this.recent.map((r) => r.p), this.recent.map((r) => r.win)) : null;
  }

  private fit(): void {
    const raws = Array.from(this.raws.subarray(0, this.count));
    const wins = Array.from(this.wins.subarray(0, this.count), (w) => w === 1);
    const result = this.calibrator.fit(raws, wins);
    this.fitted = result.fitted;
    if (result.fitted) {
      this.refits += 1;
      this.recent = [];
    }
  }
}

export class SignalTracker {
  private readonly pending = new Map<Symbol, Pending[]>();
  private readonly byDirection: Record<Exclude<Direction, 'flat'>, DirectionCalibration>;
  readonly patterns: PatternTable;
  private winPnl = { sum: 0, n: 0 };
  private lossPnl = { sum: 0, n: 0 };

  constructor(
    readonly params: TrackerParams,
    private readonly barMs = HOUR_MS,
  ) {
    this.byDirection = { up: new DirectionCalibration(params), down: new DirectionCalibration(params) };
    this.patterns = new PatternTable({ sampleFloor: params.patternSampleFloor });
  }

  /** Resolve the signals of `symbol` whose horizon has passed at the bar opening at `ts` with close `close`. */
  resolve(symbol: Symbol, ts: number, close: number): Resolved[] {
    const queue = this.pending.get(symbol);
    if (!queue || queue.length === 0 || !(close > 0)) return [];
    const due = ts - this.params.horizonBars * this.barMs;
    const out: Resolved[] = [];
    while (queue.length > 0 && queue[0]!.ts <= due) {
      const p = queue.shift()!;
      const move = close / p.close - 1;
      const pnl = (p.direction === 'up' ? move : -move) - this.params.winThreshold;
      const win = pnl > 0;
      this.learn(p, win, pnl);
      out.push({ symbol, ts: p.ts, direction: p.direction, win, pnl });
    }
    return out;
  }

  /** Remember a directional signal made at the close of the bar opening at `ts`. */
  track(symbol: Symbol, ts: number, close: number, direction: Direction, raw: number, calibrated: number | null, hash: string): void {
    if (direction === 'flat' || !(close > 0)) return;
    let queue = this.pending.get(symbol);
    if (!queue) this.pending.set(symbol, (queue = []));
    queue.push({ ts, close, direction, raw, calibrated, hash });
  }

  /**
   * The calibrated win probability of a raw score for a call in `direction` (null until that direction's first
   * fit), and the confidence: that probability moved by the pattern's record (above its sample floor), minus the
   * conservative margin. Before the first fit the confidence is one half: an uncalibrated signal never clears a
   * trading threshold above it.
   */
  confidence(direction: Exclude<Direction, 'flat'>, raw: number, hash: string): { calibrated: number | null; confidence: number } {
    const calibrated = this.byDirection[direction].predict(raw);
    if (calibrated === null) return { calibrated: null, confidence: 0.5 };
    const adjusted = this.patterns.adjust(calibrated, hash);
    return { calibrated, confidence: Math.max(0, Math.min(1, adjusted - this.params.conservativeMargin)) };
  }

  /** Average win over average loss of the implied trades, after costs; 1 until both sides have 30 outcomes. */
  get payoff(): number {
    if (this.winPnl.n < 30 || this.lossPnl.n < 30) return 1;
    return this.winPnl.sum / this.winPnl.n / (this.lossPnl.sum / this.lossPnl.n);
  }

  /** whether the calibration of up calls (the ones that open positions) is in force */
  get calibrated(): boolean {
    return this.byDirection.up.fitted;
  }

  status(): CalibrationStatus {
    const up = this.byDirection.up;
    return {
      method: this.params.method,
      fitted: up.fitted,
      samples: up.sampleCount + this.byDirection.down.sampleCount,
      refits: up.refits + this.byDirection.down.refits,
      onlineEce: up.onlineEce(),
      patterns: this.patterns.size,
    };
  }

  private learn(p: Pending, win: boolean, pnl: number): void {
    this.byDirection[p.direction].learn(p.raw, p.calibrated, win);
    this.patterns.record(p.hash, win);
    // the payoff sizes long entries, so it is measured on up calls
    if (p.direction !== 'up') return;
    if (win) {
      this.winPnl.sum += pnl;
      this.winPnl.n += 1;
    } else {
      this.lossPnl.sum += -pnl;
      this.lossPnl.n += 1;
    }
  }
}
