/**
 * Fits an `MlpModel` (engine/ensemble/model.ts) on typed arrays: binary classification, one sigmoid output.
 *
 * - Standardization: mean and population std of each input over the training rows (std floored at 1e-6), stored
 *   in the model as float32 and applied exactly like the reference `forward` does.
 * - He initialisation (normal, variance 2 / fan-in) from a seeded RNG, zero biases; ReLU hidden layers.
 * - Loss: mean binary cross-entropy + (l2 / 2)·Σw² over the weights (not the biases); Adam (β 0.9 / 0.999,
 *   ε 1e-8) on shuffled mini-batches (the shuffle comes from the same seeded RNG).
 * - Early stopping on the validation cross-entropy: after `patience` epochs without improvement (by more than
 *   1e-5) training stops and the weights of the best epoch are returned.
 *
 * Everything runs in float64 in a fixed order, so the same data, options and seed give bit-identical weights.
 */
import type { Activation, DenseLayer, MlpModel } from '../../engine/ensemble/model.js';
import { mulberry32, shuffleInPlace } from '../../engine/rng.js';

export const STD_FLOOR = 1e-6;

/** Rows × cols inputs (row-major) in the model's feature order, and 0/1 targets. */
export interface TrainSet {
  readonly X: Float32Array;
  readonly y: ArrayLike<number>;
  readonly rows: number;
  readonly cols: number;
}

export interface MlpTrainOptions {
  readonly featureKeys: readonly string[];
  readonly horizonBars: number;
  /** hidden layer widths, e.g. [32] or [32, 32] */
  readonly hidden: readonly number[];
  readonly learningRate: number;
  readonly l2: number;
  readonly seed: number;
  /** default 30 */
  readonly maxEpochs?: number;
  /** default 256 */
  readonly batchSize?: number;
  /** default 3 */
  readonly patience?: number;
}

export interface MlpTrainResult {
  readonly model: MlpModel;
  /** mean training cross-entropy of each epoch (while the weights moved) */
  readonly trainLoss: number[];
  /** validation cross-entropy after each epoch (empty without a validation set) */
  readonly validLoss: number[];
  /** 0-based epoch whose weights were returned */
  readonly bestEpoch: number;
  readonly epochs: number;
  readonly stoppedEarly: boolean;
}

export function standardization(X: Float32Array, rows: number, cols: number): { mean: Float32Array; std: Float32Array } {
  if (rows === 0) throw new RangeError('standardization: no rows');
  const sum = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sum[c] = sum[c]! + X[r * cols + c]!;
  const mean64 = sum.map((s) => s / rows);
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const d = X[r * cols + c]! - mean64[c]!;
      sq[c] = sq[c]! + d * d;
    }
  }
  const mean = Float32Array.from(mean64);
  const std = Float32Array.from(sq, (s) => Math.max(STD_FLOOR, Math.sqrt(s / rows)));
  return { mean, std };
}

/** (x − mean) / std per element, float32 rounding as in `forward`. */
function standardize(X: Float32Array, rows: number, cols: number, mean: Float32Array, std: Float32Array): Float32Array {
  const Z = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) Z[o + c] = (X[o + c]! - mean[c]!) / std[c]!;
  }
  return Z;
}

/** ln(1 + e^x) without overflow. */
function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** Cross-entropy of one logit: −[y ln σ(z) + (1 − y) ln(1 − σ(z))]. */
function logitLoss(z: number, y: number): number {
  return y > 0.5 ? softplus(-z) : softplus(z);
}

/** Mean binary cross-entropy of probabilities, clipped to [1e-7, 1 − 1e-7]. */
export function binaryCrossEntropy(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - 1e-7, Math.max(1e-7, p[i]!));
    s -= y[i]! > 0.5 ? Math.log(q) : Math.log(1 - q);
  }
  return p.length === 0 ? Number.NaN : s / p.length;
}

/** Network parameters in float64 while training. */
class Net {
  readonly W: Float64Array[];
  readonly b: Float64Array[];
  constructor(readonly sizes: readonly number[]) {
    this.W = [];
    this.b = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      this.W.push(new Float64Array(sizes[l]! * sizes[l + 1]!));
      this.b.push(new Float64Array(sizes[l + 1]!));
    }
  }
  get layers(): number {
    return this.W.length;
  }
  copyFrom(o: Net): void {
    for (let l = 0; l < this.layers; l++) {
      this.W[l]!.set(o.W[l]!);
      this.b[l]!.set(o.b[l]!);
    }
  }
}

/**
 * Forward pass of one row (standardized input in `acts[0]`), filling the activations; returns the output logit.
 * Hidden layers are ReLU; the last layer's activation (sigmoid) is left to the caller.
 */
function forwardRow(net: Net, acts: Float64Array[]): number {
  const L = net.layers;
  for (let l = 0; l < L; l++) {
    const inN = net.sizes[l]!;
    const outN = net.sizes[l + 1]!;
    const W = net.W[l]!;
    const b = net.b[l]!;
    const a = acts[l]!;
    const z = acts[l + 1]!;
    for (let o = 0; o < outN; o++) {
      let s = b[o]!;
      const row = o * inN;
      for (let i = 0; i < inN; i++) s += W[row + i]! * a[i]!;
      z[o] = l === L - 1 ? s : s > 0 ? s : 0;
    }
  }
  return acts[L]![0]!;
}

function loadRow(Z: Float32Array, r: number, cols: number, into: Float64Array): void {
  const o = r * cols;
  for (let c = 0; c < cols; c++) into[c] = Z[o + c]!;
}

function meanLoss(net: Net, Z: Float32Array, y: ArrayLike<number>, rows: number, cols: number, acts: Float64Array[]): number {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    loadRow(Z, r, cols, acts[0]!);
    s += logitLoss(forwardRow(net, acts), y[r]!);
  }
  return s / rows;
}

export function trainMlp(train: TrainSet, valid: TrainSet | undefined, options: MlpTrainOptions): MlpTrainResult {
  const { rows, cols } = train;
  const maxEpochs = options.maxEpochs ?? 30;
  const batchSize = options.batchSize ?? 256;
  const patience = options.patience ?? 3;
  if (rows < 1) throw new RangeError('trainMlp: no training rows');
  if (train.X.length !== rows * cols || train.y.length !== rows) throw new RangeError(`trainMlp: training arrays do not match ${rows} × ${cols}`);
  if (options.featureKeys.length !== cols) throw new RangeError(`trainMlp: ${options.featureKeys.length} feature keys for ${cols} columns`);
  if (valid && (valid.cols !== cols || valid.X.length !== valid.rows * cols || valid.y.length !== valid.rows)) throw new RangeError('trainMlp: validation arrays do not match');
  if (options.hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new RangeError(`trainMlp: hidden widths must be positive integers, got [${options.hidden.join(', ')}]`);
  if (!(options.learningRate > 0) || !(options.l2 >= 0)) throw new RangeError('trainMlp: learning rate must be > 0 and l2 ≥ 0');
  if (!Number.isInteger(maxEpochs) || maxEpochs < 1 || !Number.isInteger(batchSize) || batchSize < 1 || !Number.isInteger(patience) || patience < 1) {
    throw new RangeError('trainMlp: maxEpochs, batchSize and patience must be positive integers');
  }

  const { mean, std } = standardization(train.X, rows, cols);
  const Z = standardize(train.X, rows, cols, mean, std);
  const Zv = valid && valid.rows > 0 ? standardize(valid.X, valid.rows, cols, mean, std) : undefined;

  const sizes = [cols, ...options.hidden, 1];
  const rng = mulberry32(options.seed);
  const net = new Net(sizes);
  for (let l = 0; l < net.layers; l++) {
    const scale = Math.sqrt(2 / sizes[l]!);
    const W = net.W[l]!;
    for (let k = 0; k < W.length; k++) W[k] = rng.normal() * scale;
  }
  const best = new Net(sizes);
  best.copyFrom(net);
  const gW = net.W.map((w) => new Float64Array(w.length));
  const gb = net.b.map((b) => new Float64Array(b.length));
  const mW = net.W.map((w) => new Float64Array(w.length));
  const vW = net.W.map((w) => new Float64Array(w.length));
  const mb = net.b.map((b) => new Float64Array(b.length));
  const vb = net.b.map((b) => new Float64Array(b.length));
  const acts = sizes.map((n) => new Float64Array(n));
  const deltas = sizes.map((n) => new Float64Array(n));
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const lr = options.learningRate;
  const l2 = options.l2;
  const L = net.layers;
  let step = 0;

  const trainLoss: number[] = [];
  const validLoss: number[] = [];
  let bestLoss = Number.POSITIVE_INFINITY;
  let bestEpoch = 0;
  let sinceBest = 0;
  let stoppedEarly = false;

  for (let epoch = 0; epoch < maxEpochs; epoch++) {
    shuffleInPlace(order, rng);
    let epochLoss = 0;
    for (let start = 0; start < rows; start += batchSize) {
      const end = Math.min(rows, start + batchSize);
      for (let l = 0; l < L; l++) {
        gW[l]!.fill(0);
        gb[l]!.fill(0);
      }
      for (let k = start; k < end; k++) {
        const r = order[k]!;
        loadRow(Z, r, cols, acts[0]!);
        const z = forwardRow(net, acts);
        const y = train.y[r]!;
        epochLoss += logitLoss(z, y);
        deltas[L]![0] = 1 / (1 + Math.exp(-z)) - y;
        for (let l = L - 1; l >= 0; l--) {
          const inN = sizes[l]!;
          const outN = sizes[l + 1]!;
          const W = net.W[l]!;
          const gWl = gW[l]!;
          const gbl = gb[l]!;
          const aPrev = acts[l]!;
          const d = deltas[l + 1]!;
          const dPrev = deltas[l]!;
          const back = l > 0;
          if (back) dPrev.fill(0);
          for (let o = 0; o < outN; o++) {
            const dz = d[o]!;
            if (dz === 0) continue;
            gbl[o] = gbl[o]! + dz;
            const row = o * inN;
            if (back) {
              for (let i = 0; i < inN; i++) {
                gWl[row + i] = gWl[row + i]! + dz * aPrev[i]!;
                dPrev[i] = dPrev[i]! + W[row + i]! * dz;
              }
            } else {
              for (let i = 0; i < inN; i++) gWl[row + i] = gWl[row + i]! + dz * aPrev[i]!;
            }
          }
          if (back) for (let i = 0; i < inN; i++) if (!(aPrev[i]! > 0)) dPrev[i] = 0;
        }
      }
      // Adam step on the batch mean gradient (+ L2 on the weights)
      step++;
      const inv = 1 / (end - start);
      const c1 = 1 / (1 - beta1 ** step);
      const c2 = 1 / (1 - beta2 ** step);
      for (let l = 0; l < L; l++) {
        const W = net.W[l]!;
        const g = gW[l]!;
        const m = mW[l]!;
        const v = vW[l]!;
        for (let k = 0; k < W.length; k++) {
          const gk = g[k]! * inv + l2 * W[k]!;
          const mk = beta1 * m[k]! + (1 - beta1) * gk;
          const vk = beta2 * v[k]! + (1 - beta2) * gk * gk;
          m[k] = mk;
          v[k] = vk;
          W[k] = W[k]! - (lr * mk * c1) / (Math.sqrt(vk * c2) + eps);
        }
        const b = net.b[l]!;
        const gbl = gb[l]!;
        const bm = mb[l]!;
        const bv = vb[l]!;
        for (let k = 0; k < b.length; k++) {
          const gk = gbl[k]! * inv;
          const mk = beta1 * bm[k]! + (1 - beta1) * gk;
          const vk = beta2 * bv[k]! + (1 - beta2) * gk * gk;
          bm[k] = mk;
          bv[k] = vk;
          b[k] = b[k]! - (lr * mk * c1) / (Math.sqrt(vk * c2) + eps);
        }
      }
    }
    const tl = epochLoss / rows;
    if (!Number.isFinite(tl)) throw new Error(`trainMlp: training diverged (loss ${tl} in epoch ${epoch + 1})`);
    trainLoss.push(tl);
    if (!Zv || !valid) {
      best.copyFrom(net);
      bestEpoch = epoch;
      continue;
    }
    const vl = meanLoss(net, Zv, valid.y, valid.rows, cols, acts);
    validLoss.push(vl);
    if (vl < bestLoss - 1e-5) {
      bestLoss = vl;
      bestEpoch = epoch;
      sinceBest = 0;
      best.copyFrom(net);
    } else if (++sinceBest >= patience) {
      stoppedEarly = true;
      break;
    }
  }

  const layers: DenseLayer[] = [];
  for (let l = 0; l < L; l++) {
    const activation: Activation = l === L - 1 ? 'sigmoid' : 'relu';
    layers.push({ inputs: sizes[l]!, outputs: sizes[l + 1]!, weights: Float32Array.from(best.W[l]!), bias: Float32Array.from(best.b[l]!), activation });
  }
  const model: MlpModel = { featureKeys: [...options.featureKeys], mean, std, layers, horizonBars: options.horizonBars };
  return { model, trainLoss, validLoss, bestEpoch, epochs: trainLoss.length, stoppedEarly };
}

/**
 * Probabilities for many rows (rows × featureKeys.length, in the model's key order): the reference `forward`'s
 * arithmetic in float64 (the float32 rounding of `forward` moves results by ~1e-7), without per-row allocation.
 */
export function predictProba(model: MlpModel, X: Float32Array, rows: number): Float64Array {
  const cols = model.featureKeys.length;
  if (X.length !== rows * cols) throw new RangeError(`predictProba: expected ${rows} × ${cols} inputs, got ${X.length}`);
  const widths = model.layers.map((l) => l.outputs);
  const bufs = [new Float64Array(cols), ...widths.map((w) => new Float64Array(w))];
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const a0 = bufs[0]!;
    for (let c = 0; c < cols; c++) a0[c] = Math.fround((X[r * cols + c]! - model.mean[c]!) / model.std[c]!);
    for (let l = 0; l < model.layers.length; l++) {
      const layer = model.layers[l]!;
      const a = bufs[l]!;
      const z = bufs[l + 1]!;
      for (let o = 0; o < layer.outputs; o++) {
        let s = layer.bias[o]!;
        const row = o * layer.inputs;
        for (let i = 0; i < layer.inputs; i++) s += layer.weights[row + i]! * a[i]!;
        z[o] = layer.activation === 'relu' ? (s > 0 ? s : 0) : layer.activation === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
      }
    }
    out[r] = bufs[model.layers.length]![0]!;
  }
  return out;
}
