import { describe, expect, it } from 'vitest';
import { forward, type MlpModel } from '../../engine/ensemble/model.js';
import { modelFromJson, modelToJson } from './model-json.js';
import { mulberry32 } from '../../engine/rng.js';

function randomModel(): MlpModel {
  const rng = mulberry32(11);
  const f32 = (n: number) => Float32Array.from({ length: n }, () => rng.normal() / 3);
  return {
    featureKeys: ['rsi14', 'h4_rsi14', 'ret_1'],
    mean: f32(3),
    std: Float32Array.from([0.5, 2, 0.01]),
    layers: [
      { inputs: 3, outputs: 4, weights: f32(12), bias: f32(4), activation: 'relu' },
      { inputs: 4, outputs: 1, weights: f32(4), bias: f32(1), activation: 'sigmoid' },
    ],
    horizonBars: 24,
  };
}

describe('model JSON', () => {
  it('round-trips bit for bit through a JSON string', () => {
    const m = randomModel();
    const json = modelToJson(m);
    expect(Object.keys(json)).toEqual(['featureKeys', 'mean', 'std', 'layers', 'horizonBars']);
    expect(Object.keys(json.layers[0]!)).toEqual(['inputs', 'outputs', 'weights', 'bias', 'activation']);
    const back = modelFromJson(JSON.stringify(json));
    expect(back.featureKeys).toEqual(m.featureKeys);
    expect(back.horizonBars).toBe(24);
    expect(Buffer.from(back.mean.buffer).equals(Buffer.from(m.mean.buffer))).toBe(true);
    back.layers.forEach((l, k) => {
      expect(Buffer.from(l.weights.buffer).equals(Buffer.from(m.layers[k]!.weights.buffer))).toBe(true);
      expect(Buffer.from(l.bias.buffer).equals(Buffer.from(m.layers[k]!.bias.buffer))).toBe(true);
      expect(l.activation).toBe(m.layers[k]!.activation);
    });
    const x = Float32Array.from([55, 48, 0.002]);
    expect(forward(back, x)).toBe(forward(m, x));
    // an already-parsed object works too
    expect(modelFromJson(json).layers).toHaveLength(2);
  });

  it('refuses broken models with the path of the problem', () => {
    const good = modelToJson(randomModel());
    const bad = (patch: (j: typeof good) => void) => {
      const j = structuredClone(good);
      patch(j);
      return () => modelFromJson(j);
    };
    expect(() => modelFromJson('{not json')).toThrow(/does not parse/);
    expect(bad((j) => (j.featureKeys[0] = 'macd'))).toThrow(/featureKeys\.0: not a key of FEATURE_KEYS/);
    expect(bad((j) => j.mean.pop())).toThrow(/mean: expected 3 values/);
    expect(bad((j) => (j.std[1] = 0))).toThrow(/std\.1: std must be positive/);
    expect(bad((j) => (j.layers[1]!.inputs = 5))).toThrow(/layers\.1\.inputs: expected 4/);
    expect(bad((j) => j.layers[0]!.weights.pop())).toThrow(/layers\.0\.weights: expected 12 weights/);
    expect(bad((j) => (j.layers[1]!.activation = 'relu'))).toThrow(/one sigmoid output/);
    expect(bad((j) => (j.horizonBars = 0))).toThrow(/horizonBars/);
    expect(bad((j) => (j.featureKeys[1] = 'rsi14'))).toThrow(/unique/);
  });
});
