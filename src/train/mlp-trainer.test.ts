import { describe, expect, it } from 'vitest';
import { forward } from '../../engine/ensemble/model.js';
import { binaryCrossEntropy, predictProba, standardization, STD_FLOOR, trainMlp, type TrainSet } from './mlp-trainer.js';
import { mulberry32 } from '../../engine/rng.js';

const KEYS = ['rsi14', 'adx14', 'cci20', 'ret_1', 'ret_2', 'bb20_width'];

/** Linearly separable in the first two inputs (a margin around the boundary), on very different scales. */
function separable(rows: number, seed: number, noise = 0): TrainSet {
  const rng = mulberry32(seed);
  const cols = KEYS.length;
  const X = new Float32Array(rows * cols);
  const y = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let b = 0;
    do {
      a = rng.normal();
      b = rng.normal();
    } while (Math.abs(a + 0.5 * b) < 0.1);
    X[r * cols] = 50 + 20 * a; // an oscillator-like scale
    X[r * cols + 1] = 0.01 * b; // a return-like scale
    for (let c = 2; c < cols; c++) X[r * cols + c] = rng.normal() * (c + 1);
    y[r] = (a + 0.5 * b > 0) !== rng.next() < noise ? 1 : 0;
  }
  return { X, y, rows, cols };
}

const base = { featureKeys: KEYS, horizonBars: 12, hidden: [16], learningRate: 0.01, l2: 1e-5, seed: 7, maxEpochs: 15, batchSize: 64, patience: 3 };

function brier(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i]! - y[i]!) ** 2;
  return s / p.length;
}

describe('trainMlp', () => {
  const train = separable(3000, 1);
  const valid = separable(1000, 2);

  it('learns a separable problem: validation Brier far below 0.25', () => {
    const { model, trainLoss, validLoss } = trainMlp(train, valid, base);
    const p = predictProba(model, valid.X, valid.rows);
    expect(brier(p, valid.y)).toBeLessThan(0.05);
    expect(trainLoss[trainLoss.length - 1]!).toBeLessThan(trainLoss[0]!);
    expect(Math.min(...validLoss)).toBeLessThan(0.2);
    expect(model.horizonBars).toBe(12);
    expect(model.featureKeys).toEqual(KEYS);
    expect(model.layers.map((l) => [l.inputs, l.outputs, l.activation])).toEqual([
      [6, 16, 'relu'],
      [16, 1, 'sigmoid'],
    ]);
    expect(model.layers[0]!.weights).toBeInstanceOf(Float32Array);
  });

  it('also learns with two hidden layers', () => {
    const { model } = trainMlp(train, valid, { ...base, hidden: [12, 8] });
    expect(model.layers.map((l) => l.outputs)).toEqual([12, 8, 1]);
    expect(brier(predictProba(model, valid.X, valid.rows), valid.y)).toBeLessThan(0.05);
  });

  it('is deterministic for a seed: bit-identical weights twice, different weights for another seed', () => {
    const small = separable(600, 3, 0.1);
    const opts = { ...base, hidden: [8, 8], maxEpochs: 4 };
    const a = trainMlp(small, valid, opts);
    const b = trainMlp(small, valid, opts);
    const c = trainMlp(small, valid, { ...opts, seed: 8 });
    a.model.layers.forEach((layer, l) => {
      expect(Buffer.from(layer.weights.buffer).equals(Buffer.from(b.model.layers[l]!.weights.buffer))).toBe(true);
      expect(Buffer.from(layer.bias.buffer).equals(Buffer.from(b.model.layers[l]!.bias.buffer))).toBe(true);
    });
    expect(a.trainLoss).toEqual(b.trainLoss);
    expect(a.validLoss).toEqual(b.validLoss);
    expect(Array.from(c.model.layers[0]!.weights)).not.toEqual(Array.from(a.model.layers[0]!.weights));
  });

  it('stops early on the validation loss and returns the best epoch’s weights', () => {
    // noisy labels and a big net: validation loss turns up quickly
    const noisy = separable(400, 4, 0.35);
    const v = separable(400, 5, 0.35);
    const r = trainMlp(noisy, v, { ...base, hidden: [64], learningRate: 0.03, l2: 0, maxEpochs: 60, patience: 2 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.epochs).toBeLessThan(60);
    expect(r.validLoss).toHaveLength(r.epochs);
    expect(r.bestEpoch).toBe(r.validLoss.indexOf(Math.min(...r.validLoss)));
    expect(r.epochs - 1 - r.bestEpoch).toBe(2);
    const p = predictProba(r.model, v.X, v.rows);
    expect(binaryCrossEntropy(p, v.y)).toBeCloseTo(r.validLoss[r.bestEpoch]!, 4);
  });

  it('predictProba agrees with the reference float32 forward pass', () => {
    const { model } = trainMlp(train, valid, { ...base, hidden: [10, 6], maxEpochs: 2 });
    const p = predictProba(model, valid.X.subarray(0, 200 * valid.cols), 200);
    for (let r = 0; r < 200; r++) {
      expect(Math.abs(p[r]! - forward(model, valid.X.subarray(r * valid.cols, (r + 1) * valid.cols)))).toBeLessThan(2e-6);
    }
  });

  it('standardizes with the training mean and std, flooring a constant column at 1e-6', () => {
    const X = Float32Array.from([1, 5, 3, 5, 5, 5]); // 3 rows × 2 cols; column 1 is constant
    const { mean, std } = standardization(X, 3, 2);
    expect(Array.from(mean)).toEqual([3, 5]);
    expect(std[0]).toBeCloseTo(Math.sqrt(8 / 3), 6);
    expect(std[1]).toBe(Math.fround(STD_FLOOR));
    const r = trainMlp({ X, y: [0, 1, 1], rows: 3, cols: 2 }, undefined, { ...base, featureKeys: ['rsi14', 'adx14'], maxEpochs: 3 });
    expect(r.validLoss).toEqual([]);
    expect(r.model.std[1]).toBe(Math.fround(STD_FLOOR));
    expect(predictProba(r.model, X, 3).every(Number.isFinite)).toBe(true);
  });

  it('refuses mismatched inputs', () => {
    expect(() => trainMlp(train, valid, { ...base, featureKeys: ['rsi14'] })).toThrow(/feature keys/);
    expect(() => trainMlp({ ...train, rows: 0, X: new Float32Array(0), y: [] }, valid, base)).toThrow(/no training rows/);
    expect(() => trainMlp(train, valid, { ...base, hidden: [0] })).toThrow(/hidden/);
    expect(() => trainMlp(train, { ...valid, cols: 3 }, base)).toThrow(/validation/);
  });
});
