/**
 * `MlpModel` ⇄ JSON, the form the `trials.model` column stores:
 * `{featureKeys, mean:[…], std:[…], layers:[{inputs, outputs, weights:[…], bias:[…], activation}], horizonBars}`.
 * Every float32 value is written as the exact double it holds, so `modelFromJson(modelToJson(m))` gives back
 * bit-identical arrays. `modelFromJson` checks the shapes (each layer's inputs are the previous layer's outputs,
 * the last layer is one sigmoid output) and that every feature key is in the global list.
 */
import { z } from 'zod';
import { FEATURE_KEYS } from '../../engine/ensemble/features.js';
import type { DenseLayer, MlpModel } from '../../engine/ensemble/model.js';

export interface DenseLayerJson {
  inputs: number;
  outputs: number;
  weights: number[];
  bias: number[];
  activation: 'relu' | 'sigmoid' | 'none';
}

export interface MlpModelJson {
  featureKeys: string[];
  mean: number[];
  std: number[];
  layers: DenseLayerJson[];
  horizonBars: number;
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const known = new Set(FEATURE_KEYS);

const layerSchema = z.object({
  inputs: z.number().int().positive(),
  outputs: z.number().int().positive(),
  weights: z.array(finite),
  bias: z.array(finite),
  activation: z.enum(['relu', 'sigmoid', 'none']),
});

const modelSchema = z
  .object({
    featureKeys: z.array(z.string().refine((k) => known.has(k), { message: 'not a key of FEATURE_KEYS' })).min(1),
    mean: z.array(finite),
    std: z.array(finite.refine((v) => v > 0, 'std must be positive')),
    layers: z.array(layerSchema).min(1),
    horizonBars: z.number().int().positive(),
  })
  .superRefine((m, ctx) => {
    const n = m.featureKeys.length;
    if (new Set(m.featureKeys).size !== n) ctx.addIssue({ code: 'custom', path: ['featureKeys'], message: 'feature keys must be unique' });
    if (m.mean.length !== n) ctx.addIssue({ code: 'custom', path: ['mean'], message: `expected ${n} values, got ${m.mean.length}` });
    if (m.std.length !== n) ctx.addIssue({ code: 'custom', path: ['std'], message: `expected ${n} values, got ${m.std.length}` });
    let inputs = n;
    m.layers.forEach((l, k) => {
      if (l.inputs !== inputs) ctx.addIssue({ code: 'custom', path: ['layers', k, 'inputs'], message: `expected ${inputs} (the previous layer's outputs), got ${l.inputs}` });
      if (l.weights.length !== l.inputs * l.outputs) ctx.addIssue({ code: 'custom', path: ['layers', k, 'weights'], message: `expected ${l.inputs * l.outputs} weights, got ${l.weights.length}` });
      if (l.bias.length !== l.outputs) ctx.addIssue({ code: 'custom', path: ['layers', k, 'bias'], message: `expected ${l.outputs} biases, got ${l.bias.length}` });
      inputs = l.outputs;
    });
    const last = m.layers[m.layers.length - 1]!;
    if (last.outputs !== 1 || last.activation !== 'sigmoid') ctx.addIssue({ code: 'custom', path: ['layers', m.layers.length - 1], message: 'the last layer must have one sigmoid output' });
  });

export function modelToJson(model: MlpModel): MlpModelJson {
  return {
    featureKeys: [...model.featureKeys],
    mean: Array.from(model.mean),
    std: Array.from(model.std),
    layers: model.layers.map((l) => ({ inputs: l.inputs, outputs: l.outputs, weights: Array.from(l.weights), bias: Array.from(l.bias), activation: l.activation })),
    horizonBars: model.horizonBars,
  };
}

/** Parses a JSON string or an already-parsed object; throws an Error naming the first problem. */
export function modelFromJson(json: string | unknown): MlpModel {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new Error(`model JSON does not parse: ${(error as Error).message}`);
    }
  }
  const parsed = modelSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid model JSON at ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  }
  const m = parsed.data;
  const layers: DenseLayer[] = m.layers.map((l) => ({ inputs: l.inputs, outputs: l.outputs, weights: Float32Array.from(l.weights), bias: Float32Array.from(l.bias), activation: l.activation }));
  return { featureKeys: m.featureKeys, mean: Float32Array.from(m.mean), std: Float32Array.from(m.std), layers, horizonBars: m.horizonBars };
}
