/**
 * Confidence calibration for signal scores.
 *
 * Everything here is pure (no I/O, no clock, no randomness) so it behaves identically in
 * backtest, sim, paper and live.
 *
 * Conventions used throughout:
 * - An *outcome* is a win (`true` / `1`) or a loss (`false` / `0`); any other value is rejected.
 * - A *probability* must be a finite number in [0, 1]; a *score* must be finite (any range).
 * - Invalid input (NaN, ±Infinity, mismatched lengths, bad outcomes) throws a `CalibrationInputError`
 *   naming the offending argument and index. Nothing is silently dropped.
 */

/** A trade result: win = `true` / `1`, loss = `false` / `0`. */
export type Outcome = boolean | number;

/** Thrown for NaN / infinite scores, out-of-range probabilities, bad outcomes or mismatched lengths. */
export class CalibrationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalibrationInputError';
  }
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

function assertFiniteNumber(value: number, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new CalibrationInputError(`${what} must be a finite number, got ${String(value)}`);
  }
}

function assertScores(scores: readonly number[], what: string): void {
  for (let i = 0; i < scores.length; i++) assertFiniteNumber(scores[i] as number, `${what}[${i}]`);
}

function assertProbability(p: number, what: string): void {
  assertFiniteNumber(p, what);
  if (p < 0 || p > 1) throw new CalibrationInputError(`${what} must be within [0, 1], got ${p}`);
}

function assertProbabilities(probs: readonly number[], what: string): void {
  for (let i = 0; i < probs.length; i++) assertProbability(probs[i] as number, `${what}[${i}]`);
}

/** Converts outcomes to 0/1, rejecting anything that is not a boolean, 0 or 1. */
function toBinary(outcomes: readonly Outcome[], what: string): number[] {
  return outcomes.map((o, i) => {
    if (o === true || o === 1) return 1;
    if (o === false || o === 0) return 0;
    throw new CalibrationInputError(`${what}[${i}] must be a boolean, 0 or 1, got ${String(o)}`);
  });
}

function assertSameLength(a: readonly unknown[], b: readonly unknown[], aName: string, bName: string): void {
  if (a.length !== b.length) {
    throw new CalibrationInputError(`${aName} (length ${a.length}) and ${bName} (length ${b.length}) must have the same length`);
  }
}

function assertPositiveInteger(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new CalibrationInputError(`${what} must be a positive integer, got ${String(n)}`);
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/** Numerically stable logistic function. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

// ---------------------------------------------------------------------------------------------
// Reliability bins and expected calibration error
// ---------------------------------------------------------------------------------------------

/** One equal-width reliability bin. `meanPredicted` / `observedRate` are `null` when the bin is empty. */
export interface CalibrationBin {
  /** Inclusive lower edge. */
  lo: number;
  /** Upper edge: exclusive, except the last bin, which includes 1. */
  hi: number;
  count: number;
  meanPredicted: number | null;
  observedRate: number | null;
}

/**
 * Groups predictions into `bins` equal-width bins over [0, 1] (bin k = [k/bins, (k+1)/bins),
 * the last bin also holding p = 1) and reports, per bin, the count, mean predicted probability
 * and observed win rate.
 *
 * @throws CalibrationInputError on NaN / out-of-range probabilities, bad outcomes, length mismatch
 *   or a non-positive-integer `bins`.
 */
export function calibrationBins(probs: readonly number[], outcomes: readonly Outcome[], bins = 10): CalibrationBin[] {
  assertPositiveInteger(bins, 'bins');
  assertSameLength(probs, outcomes, 'probs', 'outcomes');
  assertProbabilities(probs, 'probs');
  const ys = toBinary(outcomes, 'outcomes');

  const count = new Array<number>(bins).fill(0);
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    const k = Math.min(Math.floor(p * bins), bins - 1);
    count[k] = (count[k] as number) + 1;
    sumP[k] = (sumP[k] as number) + p;
    sumY[k] = (sumY[k] as number) + (ys[i] as number);
  }
  return count.map((c, k) => ({
    lo: k / bins,
    hi: (k + 1) / bins,
    count: c,
    meanPredicted: c === 0 ? null : (sumP[k] as number) / c,
    observedRate: c === 0 ? null : (sumY[k] as number) / c,
  }));
}

/**
 * Expected calibration error: Σ_k (n_k / N) · |meanPredicted_k − observedRate_k| over
 * `bins` equal-width bins (see {@link calibrationBins}). Empty bins contribute nothing.
 *
 * By convention the ECE of an empty sample is 0 (there is no evidence of miscalibration).
 *
 * @throws CalibrationInputError on invalid input (see {@link calibrationBins}).
 */
export function expectedCalibrationError(probs: readonly number[], outcomes: readonly Outcome[], bins = 10): number {
  const table = calibrationBins(probs, outcomes, bins);
  const n = probs.length;
  if (n === 0) return 0;
  let ece = 0;
  for (const b of table) {
    if (b.count === 0 || b.meanPredicted === null || b.observedRate === null) continue;
    ece += (b.count / n) * Math.abs(b.meanPredicted - b.observedRate);
  }
  return ece;
}

// ---------------------------------------------------------------------------------------------
// Fit result shared by the calibrators
// ---------------------------------------------------------------------------------------------

/** Why a calibrator fell back to the identity map instead of using a fitted model. */
export type FallbackReason =
  | 'not-fitted'
  | 'empty'
  | 'too-few-samples'
  | 'all-wins'
  | 'all-losses'
  | 'constant-scores'
  | 'did-not-converge';

/** Outcome of `fit`: either a usable fitted model, or the identity map with the reason. */
export type FitResult = { fitted: true; samples: number } | { fitted: false; samples: number; reason: FallbackReason };

/** Shared pre-fit checks; returns the binary outcomes, or a fallback result. */
function prepareFit(
  scores: readonly number[],
  outcomes: readonly Outcome[],
  minSamples: number,
): { ys: number[] } | { fallback: FitResult } {
  assertSameLength(scores, outcomes, 'scores', 'outcomes');
  assertScores(scores, 'scores');
  const ys = toBinary(outcomes, 'outcomes');
  const n = ys.length;
  if (n === 0) return { fallback: { fitted: false, samples: 0, reason: 'empty' } };
  if (n < minSamples) return { fallback: { fitted: false, samples: n, reason: 'too-few-samples' } };
  const wins = ys.reduce((s, y) => s + y, 0);
  if (wins === n) return { fallback: { fitted: false, samples: n, reason: 'all-wins' } };
  if (wins === 0) return { fallback: { fitted: false, samples: n, reason: 'all-losses' } };
  return { ys };
}

// ---------------------------------------------------------------------------------------------
// Platt scaling
// ---------------------------------------------------------------------------------------------

export interface PlattOptions {
  /** Fewer samples than this → identity fallback. Default 10. */
  minSamples?: number;
  /** Newton iteration cap. Default 100. */
  maxIterations?: number;
  /** Converged when the gradient's max-norm per sample drops below this. Default 1e-10. */
  tolerance?: number;
}

/**
 * Platt scaling: P(win | score) = sigmoid(a · score + b).
 *
 * `a` and `b` are fitted by Newton's method with backtracking line search on the log loss,
 * using Platt's smoothed targets (wins → (N₊+1)/(N₊+2), losses → 1/(N₋+2)) so the optimum is
 * finite even on perfectly separable data (Lin, Lin & Weng 2007).
 *
 * Falls back to the identity map (`predict(s) = clamp(s, 0, 1)`, i.e. the raw score taken as a
 * probability) when there are fewer than `minSamples` samples, all wins, all losses, a constant
 * score, or Newton fails to converge. `lastFit` says why.
 */
export class PlattCalibrator {
  private a = 1;
  private b = 0;
  private useModel = false;
  private result: FitResult = { fitted: false, samples: 0, reason: 'not-fitted' };
  private readonly minSamples: number;
  private readonly maxIterations: number;
  private readonly tolerance: number;

  constructor(options: PlattOptions = {}) {
    this.minSamples = options.minSamples ?? 10;
    this.maxIterations = options.maxIterations ?? 100;
    this.tolerance = options.tolerance ?? 1e-10;
  }

  /** The fitted slope and intercept (meaningful only when `lastFit.fitted`). */
  get params(): { a: number; b: number } {
    return { a: this.a, b: this.b };
  }

  /** Result of the most recent `fit` (initially `not-fitted`). */
  get lastFit(): FitResult {
    return this.result;
  }

  /**
   * Fits `a`, `b` on (score, outcome) pairs. Never throws for degenerate-but-valid data; it
   * falls back to identity instead. Throws `CalibrationInputError` for invalid input.
   */
  fit(scores: readonly number[], outcomes: readonly Outcome[]): FitResult {
    const prep = prepareFit(scores, outcomes, this.minSamples);
    if ('fallback' in prep) return this.fallBack(prep.fallback);
    const ys = prep.ys;
    const n = ys.length;
    const s0 = scores[0] as number;
    if (scores.every((s) => s === s0)) return this.fallBack({ fitted: false, samples: n, reason: 'constant-scores' });

    const nPos = ys.reduce((acc, y) => acc + y, 0);
    const nNeg = n - nPos;
    const hiT = (nPos + 1) / (nPos + 2);
    const loT = 1 / (nNeg + 2);
    const t = ys.map((y) => (y === 1 ? hiT : loT));

    // log loss with stable log(1 + e^{-f}) evaluation
    const loss = (a: number, b: number): number => {
      let l = 0;
      for (let i = 0; i < n; i++) {
        const f = a * (scores[i] as number) + b;
        const ti = t[i] as number;
        // -[t log σ(f) + (1-t) log(1-σ(f))] = log(1+e^f) - t f
        l += (f >= 0 ? f + Math.log1p(Math.exp(-f)) : Math.log1p(Math.exp(f))) - ti * f;
      }
      return l;
    };

    let a = 0;
    let b = Math.log((nPos + 1) / (nNeg + 1));
    let current = loss(a, b);
    let converged = false;
    for (let iter = 0; iter < this.maxIterations; iter++) {
      let gA = 0, gB = 0, hAA = 1e-12, hAB = 0, hBB = 1e-12;
      for (let i = 0; i < n; i++) {
        const s = scores[i] as number;
        const p = sigmoid(a * s + b);
        const d = p - (t[i] as number);
        const w = p * (1 - p);
        gA += d * s;
        gB += d;
        hAA += w * s * s;
        hAB += w * s;
        hBB += w;
      }
      if (Math.max(Math.abs(gA), Math.abs(gB)) / n < this.tolerance) {
        converged = true;
        break;
      }
      const det = hAA * hBB - hAB * hAB;
      if (!(det > 0) || !Number.isFinite(det)) break;
      const dA = -(hBB * gA - hAB * gB) / det;
      const dB = -(-hAB * gA + hAA * gB) / det;
      // Backtracking line search (Armijo) along the Newton direction.
      let step = 1;
      let accepted = false;
      const slope = gA * dA + gB * dB; // < 0 for a descent direction
      while (step >= 1e-10) {
        const na = a + step * dA;
        const nb = b + step * dB;
        const nl = loss(na, nb);
        if (Number.isFinite(nl) && nl <= current + 1e-4 * step * slope) {
          a = na;
          b = nb;
          accepted = true;
          // Converged also when the loss stops moving (flat optimum within float precision).
          if (Math.abs(current - nl) <= 1e-15 * Math.max(1, Math.abs(current))) converged = true;
          current = nl;
          break;
        }
        step /= 2;
      }
      if (!accepted || converged) {
        // A failed line search right at the optimum is convergence in all but name.
        converged = converged || Math.max(Math.abs(gA), Math.abs(gB)) / n < 1e-6;
        break;
      }
    }
    if (!converged || !Number.isFinite(a) || !Number.isFinite(b)) {
      return this.fallBack({ fitted: false, samples: n, reason: 'did-not-converge' });
    }
    this.a = a;
    this.b = b;
    this.useModel = true;
    this.result = { fitted: true, samples: n };
    return this.result;
  }

  /** Calibrated probability for `score`, in [0, 1]. Throws `CalibrationInputError` on NaN / ±Infinity. */
  predict(score: number): number {
    assertFiniteNumber(score, 'score');
    return this.useModel ? sigmoid(this.a * score + this.b) : clamp01(score);
  }

  private fallBack(result: FitResult): FitResult {
    this.a = 1;
    this.b = 0;
    this.useModel = false;
    this.result = result;
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// Isotonic regression
// ---------------------------------------------------------------------------------------------

export interface IsotonicOptions {
  /** Fewer samples than this → identity fallback. Default 10. */
  minSamples?: number;
}

/**
 * Isotonic calibration: the monotone non-decreasing step function of the score that minimises
 * squared error to the outcomes, found with pool-adjacent-violators (tied scores are pooled first).
 *
 * Prediction interpolates linearly between fitted knots (each pooled block contributes its first
 * and last score at the block's mean outcome) and clamps to the end values outside the fitted
 * score range, so `predict` is monotone non-decreasing and always within [0, 1].
 *
 * Falls back to identity (`clamp(score, 0, 1)`) for fewer than `minSamples` samples, all wins or
 * all losses (a constant 0 % / 100 % fit would be dangerously overconfident).
 */
export class IsotonicCalibrator {
  private xs: number[] = [];
  private ys: number[] = [];
  private result: FitResult = { fitted: false, samples: 0, reason: 'not-fitted' };
  private readonly minSamples: number;

  constructor(options: IsotonicOptions = {}) {
    this.minSamples = options.minSamples ?? 10;
  }

  /** Result of the most recent `fit` (initially `not-fitted`). */
  get lastFit(): FitResult {
    return this.result;
  }

  /** The fitted knots (strictly increasing x, non-decreasing y); empty when not fitted. */
  get knots(): { x: number; y: number }[] {
    return this.xs.map((x, i) => ({ x, y: this.ys[i] as number }));
  }

  /** Fits with PAV. Throws `CalibrationInputError` for invalid input; falls back for degenerate data. */
  fit(scores: readonly number[], outcomes: readonly Outcome[]): FitResult {
    const prep = prepareFit(scores, outcomes, this.minSamples);
    if ('fallback' in prep) {
      this.xs = [];
      this.ys = [];
      this.result = prep.fallback;
      return this.result;
    }
    const n = prep.ys.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (scores[i] as number) - (scores[j] as number));

    // Blocks: [xFirst, xLast, sumY, weight]. Ties in score start out pooled.
    type Block = { x0: number; x1: number; sum: number; w: number };
    const blocks: Block[] = [];
    for (const i of order) {
      const x = scores[i] as number;
      const y = prep.ys[i] as number;
      const last = blocks[blocks.length - 1];
      if (last !== undefined && last.x1 === x) {
        last.sum += y;
        last.w += 1;
      } else {
        blocks.push({ x0: x, x1: x, sum: y, w: 1 });
      }
      // Pool adjacent violators: merge while the previous block's mean exceeds the last one's.
      while (blocks.length >= 2) {
        const cur = blocks[blocks.length - 1] as Block;
        const prev = blocks[blocks.length - 2] as Block;
        if (prev.sum / prev.w <= cur.sum / cur.w) break;
        prev.x1 = cur.x1;
        prev.sum += cur.sum;
        prev.w += cur.w;
        blocks.pop();
      }
    }

    const xs: number[] = [];
    const ys: number[] = [];
    for (const blk of blocks) {
      const mean = clamp01(blk.sum / blk.w);
      xs.push(blk.x0);
      ys.push(mean);
      if (blk.x1 !== blk.x0) {
        xs.push(blk.x1);
        ys.push(mean);
      }
    }
    this.xs = xs;
    this.ys = ys;
    this.result = { fitted: true, samples: n };
    return this.result;
  }

  /** Calibrated probability for `score`, in [0, 1]. Throws `CalibrationInputError` on NaN / ±Infinity. */
  predict(score: number): number {
    assertFiniteNumber(score, 'score');
    const xs = this.xs;
    const ys = this.ys;
    if (xs.length === 0) return clamp01(score);
    if (score <= (xs[0] as number)) return ys[0] as number;
    if (score >= (xs[xs.length - 1] as number)) return ys[ys.length - 1] as number;
    // Binary search for the segment xs[lo] <= score < xs[lo+1].
    let lo = 0;
    let hi = xs.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((xs[mid] as number) <= score) lo = mid;
      else hi = mid;
    }
    const x0 = xs[lo] as number, x1 = xs[hi] as number;
    const y0 = ys[lo] as number, y1 = ys[hi] as number;
    const f = (score - x0) / (x1 - x0);
    return clamp01(y0 + f * (y1 - y0));
  }
}

// ---------------------------------------------------------------------------------------------
// Beta shrinkage
// ---------------------------------------------------------------------------------------------

/**
 * Beta-prior shrinkage of win rates. With the default Beta(2, 2) prior:
 * - `rate(wins, n)` = (wins + 2) / (n + 4) — the posterior mean win rate;
 * - `shrink(p, n)`  = (p·n + 2) / (n + 4) — a probability pulled toward 0.5, with weight n/(n+4)
 *   on `p`, so a probability backed by few samples is pulled hard and one backed by many barely moves.
 *
 * With a symmetric prior (α = β) both results always lie between the raw value and 0.5.
 */
export class BetaShrinkage {
  constructor(
    readonly alpha = 2,
    readonly beta = 2,
  ) {
    assertFiniteNumber(alpha, 'alpha');
    assertFiniteNumber(beta, 'beta');
    if (alpha <= 0 || beta <= 0) throw new CalibrationInputError('alpha and beta must be positive');
  }

  /** Prior mean α / (α + β) (0.5 for Beta(2, 2)). */
  get priorMean(): number {
    return this.alpha / (this.alpha + this.beta);
  }

  /**
   * Posterior-mean win rate (wins + α) / (n + α + β).
   * @throws CalibrationInputError unless 0 ≤ wins ≤ n and both are finite.
   */
  rate(wins: number, n: number): number {
    assertFiniteNumber(wins, 'wins');
    assertFiniteNumber(n, 'n');
    if (n < 0 || wins < 0 || wins > n) throw new CalibrationInputError(`need 0 ≤ wins ≤ n, got wins=${wins}, n=${n}`);
    return (wins + this.alpha) / (n + this.alpha + this.beta);
  }

  /**
   * Shrinks probability `p` (observed on `n` samples) toward the prior mean: (p·n + α) / (n + α + β).
   * @throws CalibrationInputError unless p ∈ [0, 1] and n ≥ 0.
   */
  shrink(p: number, n: number): number {
    assertProbability(p, 'p');
    assertFiniteNumber(n, 'n');
    if (n < 0) throw new CalibrationInputError(`n must be ≥ 0, got ${n}`);
    return (p * n + this.alpha) / (n + this.alpha + this.beta);
  }
}

/**
 * Histogram-binning calibrator with Beta shrinkage (the facade's `'beta'` method): scores are
 * clamped to [0, 1] and split into equal-width bins; each bin predicts its Beta-shrunk win rate
 * (wins + 2) / (n + 4). An empty bin therefore predicts the prior mean, 0.5.
 */
class BetaBinningCalibrator {
  private rates: number[] | null = null;
  private result: FitResult = { fitted: false, samples: 0, reason: 'not-fitted' };

  constructor(
    private readonly bins: number,
    private readonly minSamples: number,
    private readonly shrinkage = new BetaShrinkage(),
  ) {}

  get lastFit(): FitResult {
    return this.result;
  }

  private binOf(score: number): number {
    return Math.min(Math.floor(clamp01(score) * this.bins), this.bins - 1);
  }

  fit(scores: readonly number[], outcomes: readonly Outcome[]): FitResult {
    const prep = prepareFit(scores, outcomes, this.minSamples);
    if ('fallback' in prep) {
      this.rates = null;
      this.result = prep.fallback;
      return this.result;
    }
    const wins = new Array<number>(this.bins).fill(0);
    const total = new Array<number>(this.bins).fill(0);
    scores.forEach((s, i) => {
      const k = this.binOf(s);
      wins[k] = (wins[k] as number) + (prep.ys[i] as number);
      total[k] = (total[k] as number) + 1;
    });
    this.rates = wins.map((w, k) => this.shrinkage.rate(w, total[k] as number));
    this.result = { fitted: true, samples: prep.ys.length };
    return this.result;
  }

  predict(score: number): number {
    assertFiniteNumber(score, 'score');
    if (this.rates === null) return clamp01(score);
    return this.rates[this.binOf(score)] as number;
  }
}

// ---------------------------------------------------------------------------------------------
// Facade
// ---------------------------------------------------------------------------------------------

export type CalibrationMethod = 'platt' | 'isotonic' | 'beta';

export interface CalibratorOptions {
  method: CalibrationMethod;
  /** `needsRefit` is true when recent ECE is strictly above this. Default 0.05 (5 %). */
  eceThreshold?: number;
  /** Bins for ECE (and for the `'beta'` method's histogram). Default 10. */
  bins?: number;
  /** Fewer fit samples than this → identity fallback. Default 10. */
  minSamples?: number;
}

/**
 * One entry point for the three calibration methods:
 * - `'platt'`    — {@link PlattCalibrator};
 * - `'isotonic'` — {@link IsotonicCalibrator};
 * - `'beta'`     — equal-width histogram binning with Beta(2, 2)-shrunk per-bin win rates.
 *
 * Before the first successful fit (or after a fallback) `predict` is the identity map clamped to [0, 1].
 */
export class Calibrator {
  readonly method: CalibrationMethod;
  readonly eceThreshold: number;
  readonly bins: number;
  private readonly impl: {
    fit(scores: readonly number[], outcomes: readonly Outcome[]): FitResult;
    predict(score: number): number;
    readonly lastFit: FitResult;
  };

  constructor(options: CalibratorOptions) {
    this.method = options.method;
    this.eceThreshold = options.eceThreshold ?? 0.05;
    this.bins = options.bins ?? 10;
    assertPositiveInteger(this.bins, 'bins');
    assertProbability(this.eceThreshold, 'eceThreshold');
    const minSamples = options.minSamples ?? 10;
    switch (options.method) {
      case 'platt':
        this.impl = new PlattCalibrator({ minSamples });
        break;
      case 'isotonic':
        this.impl = new IsotonicCalibrator({ minSamples });
        break;
      case 'beta':
        this.impl = new BetaBinningCalibrator(this.bins, minSamples);
        break;
      default:
        throw new CalibrationInputError(`unknown calibration method ${String(options.method)}`);
    }
  }

  /** Result of the most recent `fit`. */
  get lastFit(): FitResult {
    return this.impl.lastFit;
  }

  /** Fits on historical (score, outcome) pairs. Throws `CalibrationInputError` on invalid input. */
  fit(scores: readonly number[], outcomes: readonly Outcome[]): FitResult {
    return this.impl.fit(scores, outcomes);
  }

  /** Calibrated probability in [0, 1]. Throws `CalibrationInputError` on NaN / ±Infinity. */
  predict(score: number): number {
    return this.impl.predict(score);
  }

  /** Calibrated probabilities for many scores. */
  predictAll(scores: readonly number[]): number[] {
    return scores.map((s) => this.predict(s));
  }

  /**
   * True when the ECE of recent (already calibrated) probabilities against their outcomes is
   * strictly above `eceThreshold`. An empty window never asks for a refit.
   */
  needsRefit(recentProbs: readonly number[], recentOutcomes: readonly Outcome[]): boolean {
    return expectedCalibrationError(recentProbs, recentOutcomes, this.bins) > this.eceThreshold;
  }
}

// ---------------------------------------------------------------------------------------------
// Hysteresis
// ---------------------------------------------------------------------------------------------

/**
 * Debounces a confidence tier across scans.
 *
 * Exact rule: a scan is *above* when `value > threshold` (strictly); anything else (`value ≤ threshold`)
 * is *below*. The tier is active after a scan iff the last `n` scans (this one included) were all
 * above. So with the default n = 2: one scan above never activates; the second consecutive one does;
 * the tier stays active while scans stay above; the first scan below deactivates it immediately and
 * resets the streak, so re-activation again needs `n` consecutive scans above.
 */
export class HysteresisTier {
  private streak = 0;

  constructor(
    readonly threshold: number,
    readonly n = 2,
  ) {
    assertFiniteNumber(threshold, 'threshold');
    assertPositiveInteger(n, 'n');
  }

  /** Feeds one scan's value; returns whether the tier is active afterwards. Throws on NaN. */
  update(value: number): boolean {
    assertFiniteNumber(value, 'value');
    this.streak = value > this.threshold ? this.streak + 1 : 0;
    return this.active;
  }

  /** Whether the tier currently counts. */
  get active(): boolean {
    return this.streak >= this.n;
  }

  /** Consecutive scans above threshold so far. */
  get consecutiveAbove(): number {
    return this.streak;
  }

  reset(): void {
    this.streak = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Pattern table
// ---------------------------------------------------------------------------------------------

export interface PatternStats {
  wins: number;
  total: number;
}

export interface PatternTableOptions {
  /** A pattern changes confidence only once it has at least this many samples. Default 20. */
  sampleFloor?: number;
  /** Upper bound on the weight given to the pattern's shrunk rate. Default 0.5. */
  maxBlend?: number;
  /** Upper bound on |adjusted − input|. Default 0.15. */
  maxShift?: number;
}

/**
 * Per-pattern win/loss record (pattern hash → {wins, total}) used to nudge confidence.
 *
 * `adjust(p, hash)`:
 * - returns `p` unchanged when the pattern is unknown or has `total < sampleFloor`;
 * - otherwise computes the Beta(2, 2)-shrunk rate r = (wins + 2) / (total + 4) and the blend weight
 *   w = maxBlend · total / (total + sampleFloor) (so w = maxBlend/2 at the floor, → maxBlend as
 *   data grows), takes p + w·(r − p), limits the move to ±maxShift, and clamps to [0, 1].
 */
export class PatternTable {
  private readonly table = new Map<string, PatternStats>();
  private readonly shrinkage = new BetaShrinkage(2, 2);
  readonly sampleFloor: number;
  readonly maxBlend: number;
  readonly maxShift: number;

  constructor(options: PatternTableOptions = {}) {
    this.sampleFloor = options.sampleFloor ?? 20;
    this.maxBlend = options.maxBlend ?? 0.5;
    this.maxShift = options.maxShift ?? 0.15;
    assertPositiveInteger(this.sampleFloor, 'sampleFloor');
    assertProbability(this.maxBlend, 'maxBlend');
    assertProbability(this.maxShift, 'maxShift');
  }

  /** Records one trade result for `hash`. */
  record(hash: string, outcome: Outcome): void {
    const [y] = toBinary([outcome], 'outcome');
    const s = this.table.get(hash) ?? { wins: 0, total: 0 };
    this.table.set(hash, { wins: s.wins + (y as number), total: s.total + 1 });
  }

  /** Replaces the stats for `hash` (e.g. when loading from storage). */
  set(hash: string, stats: PatternStats): void {
    const { wins, total } = stats;
    if (!Number.isInteger(wins) || !Number.isInteger(total) || wins < 0 || total < 0 || wins > total) {
      throw new CalibrationInputError(`pattern stats need integers 0 ≤ wins ≤ total, got wins=${wins}, total=${total}`);
    }
    this.table.set(hash, { wins, total });
  }

  /** A copy of the stats for `hash`, or undefined. */
  get(hash: string): PatternStats | undefined {
    const s = this.table.get(hash);
    return s === undefined ? undefined : { ...s };
  }

  get size(): number {
    return this.table.size;
  }

  /** Confidence `probability` adjusted by the pattern's record (see the class doc for the rule). */
  adjust(probability: number, hash: string): number {
    assertProbability(probability, 'probability');
    const s = this.table.get(hash);
    if (s === undefined || s.total < this.sampleFloor) return probability;
    const rate = this.shrinkage.rate(s.wins, s.total);
    const w = (this.maxBlend * s.total) / (s.total + this.sampleFloor);
    let delta = w * (rate - probability);
    if (delta > this.maxShift) delta = this.maxShift;
    if (delta < -this.maxShift) delta = -this.maxShift;
    return clamp01(probability + delta);
  }
}
