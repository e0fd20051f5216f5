import { afterAll, describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { forward, type Activation, type DenseLayer, type MlpModel } from './model.js';
import { EXPORT_FORMAT, ONNX_IR_VERSION, ONNX_OPSET, exportEnsemble, exportModel, readMetadata } from './onnx-export.js';
import { EnsembleRunner } from './onnx-runner.js';
import { mulberry32 } from '../rng.js';

const { onnx } = onnxProto;

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

function layer(r: () => number, inputs: number, outputs: number, activation: Activation): DenseLayer {
  const scale = 1.5 / Math.sqrt(inputs);
  return {
    inputs,
    outputs,
    weights: Float32Array.from({ length: inputs * outputs }, () => normal(r) * scale),
    bias: Float32Array.from({ length: outputs }, () => normal(r) * 0.3),
    activation,
  };
}

/** A random MLP over `featureKeys`: `hidden` hidden layers of width 4–32, relu or sigmoid, then one sigmoid output. */
function randomModel(r: () => number, featureKeys: readonly string[], hidden: number): MlpModel {
  const layers: DenseLayer[] = [];
  let width = featureKeys.length;
  for (let j = 0; j < hidden; j++) {
    const outputs = int(r, 4, 32);
    layers.push(layer(r, width, outputs, r() < 0.5 ? 'relu' : 'sigmoid'));
    width = outputs;
  }
  layers.push(layer(r, width, 1, 'sigmoid'));
  return {
    featureKeys,
    mean: Float32Array.from(featureKeys, () => normal(r) * 5),
    std: Float32Array.from(featureKeys, () => 0.1 + r() * 3),
    layers,
    horizonBars: int(r, 1, 48),
  };
}

/** a random subset of `keys` (at least `min`), in a random order */
function subset(r: () => number, keys: readonly string[], min: number): string[] {
  const shuffled = [...keys];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = int(r, 0, i);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return shuffled.slice(0, int(r, min, keys.length));
}

/** raw (unstandardized) feature rows around the features' typical scale */
function randomRows(r: () => number, rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => normal(r) * 6);
}

const GLOBAL_KEYS = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}`);
const TOL = 1e-5;
const ROWS = 200;

const runners: EnsembleRunner[] = [];
afterAll(async () => {
  await Promise.all(runners.map((x) => x.close()));
});

async function load(bytes: Uint8Array, inputs: number, outputs: number, outputName?: string): Promise<EnsembleRunner> {
  const runner = await EnsembleRunner.load(bytes, { expectedInputs: inputs, expectedOutputs: outputs, ...(outputName ? { outputName } : {}) });
  runners.push(runner);
  return runner;
}

/** the decoded model as plain data (int64 as numbers, absent fields defaulted) — just the parts the tests read */
interface Decoded {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  graph: {
    node: { opType: string; name: string; input: string[]; attribute: { name: string; i: number }[] }[];
    initializer: { name: string; dims: number[]; int64Data: number[] }[];
    input: { name: string }[];
    output: { name: string; type: { tensorType: { shape: { dim: { dimParam: string; dimValue: number }[] } } } }[];
  };
}
function decode(bytes: Uint8Array): Decoded {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, defaults: true, arrays: true }) as Decoded;
}

describe('exportModel', () => {
  it('runs in onnxruntime equal to forward within 1e-5, batched (random models, depths 1–2, relu and sigmoid)', async () => {
    const r = mulberry32(1).next;
    for (let trial = 0; trial < 6; trial++) {
      const keys = subset(r, GLOBAL_KEYS, 3);
      const model = randomModel(r, keys, 1 + (trial % 2));
      const runner = await load(exportModel(model), keys.length, 1, 'probability');
      const rows = randomRows(r, ROWS, keys.length);
      const out = await runner.run(rows, ROWS);
      expect(out.length).toBe(ROWS);
      let worst = 0;
      for (let i = 0; i < ROWS; i++) {
        const want = forward(model, rows.subarray(i * keys.length, (i + 1) * keys.length));
        worst = Math.max(worst, Math.abs(out[i]! - want));
      }
      expect(worst).toBeLessThan(TOL);
    }
  });

  it('handles a hidden layer without activation and a single-row batch', async () => {
    const r = mulberry32(2).next;
    const keys = ['a', 'b', 'c'];
    const model: MlpModel = { ...randomModel(r, keys, 0), layers: [layer(r, 3, 8, 'none'), layer(r, 8, 5, 'relu'), layer(r, 5, 1, 'sigmoid')] };
    const runner = await load(exportModel(model), 3, 1, 'probability');
    const x = Float32Array.of(1.5, -2, 7);
    const [p] = await runner.run(x, 1);
    expect(Math.abs(p! - forward(model, x))).toBeLessThan(TOL);
  });

  it('writes IR 8 / opset 17, prefixed unique names, Sub → Div → Gemm(transB=1) → activation, and metadata', () => {
    const r = mulberry32(3).next;
    const model = randomModel(r, ['x', 'y', 'z'], 2);
    const m = decode(exportModel(model));
    expect(m.irVersion).toBe(ONNX_IR_VERSION);
    expect(m.opsetImport.map((o) => [o.domain, o.version])).toEqual([['', ONNX_OPSET]]);
    const g = m.graph;
    expect(g.input.map((v) => v.name)).toEqual(['features']);
    expect(g.output.map((v) => v.name)).toEqual(['probability']);
    const ops = g.node.map((n) => n.opType);
    expect(ops.slice(0, 3)).toEqual(['Sub', 'Div', 'Gemm']);
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(3);
    for (const n of g.node.filter((x) => x.opType === 'Gemm')) {
      expect(n.attribute.find((a) => a.name === 'transB')?.i).toBe(1);
    }
    const names = [...g.node.map((n) => n.name), ...g.initializer.map((t) => t.name)];
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name.startsWith('m0_')).toBe(true);
    const w0 = g.initializer.find((t) => t.name === 'm0_l0_weight')!;
    expect(w0.dims).toEqual([model.layers[0]!.outputs, 3]);
    expect(readMetadata(exportModel(model))).toMatchObject({
      format: EXPORT_FORMAT,
      featureKeys: JSON.stringify(['x', 'y', 'z']),
      horizonBars: JSON.stringify([model.horizonBars]),
      inputs: '3',
      outputs: '1',
    });
  });

  it('rejects malformed models clearly', () => {
    const r = mulberry32(4).next;
    const good = randomModel(r, ['a', 'b'], 1);
    expect(() => exportModel({ ...good, mean: new Float32Array(3) })).toThrow(/mean has 3 entries, expected 2/);
    expect(() => exportModel({ ...good, std: Float32Array.of(1, 0) })).toThrow(/std is 0 for "b"/);
    expect(() => exportModel({ ...good, layers: [] })).toThrow(/no layers/);
    expect(() => exportModel({ ...good, layers: [good.layers[0]!] })).toThrow(/last layer has \d+ outputs, expected 1/);
    expect(() => exportModel({ ...good, layers: [layer(r, 3, 1, 'sigmoid')] })).toThrow(/layer 0 has 3 inputs, expected 2/);
    const nan = { ...good.layers[1]!, bias: Float32Array.of(Number.NaN) };
    expect(() => exportModel({ ...good, layers: [good.layers[0]!, nan] })).toThrow(/layer 1 bias\[0\] is NaN/);
  });
});

describe('exportEnsemble', () => {
  it('merges 10 models over different key subsets into one graph equal to forward within 1e-5, batched', async () => {
    const r = mulberry32(5).next;
    const models = Array.from({ length: 10 }, (_, k) => randomModel(r, k === 0 ? GLOBAL_KEYS : subset(r, GLOBAL_KEYS, 2), 1 + (k % 2)));
    const bytes = exportEnsemble(models, GLOBAL_KEYS);
    const runner = await load(bytes, GLOBAL_KEYS.length, models.length);
    const n = GLOBAL_KEYS.length;
    const rows = randomRows(r, ROWS, n);
    const out = await runner.run(rows, ROWS);
    expect(out.length).toBe(ROWS * models.length);
    let worst = 0;
    for (let i = 0; i < ROWS; i++) {
      const row = rows.subarray(i * n, (i + 1) * n);
      models.forEach((model, k) => {
        const x = Float32Array.from(model.featureKeys, (key) => row[GLOBAL_KEYS.indexOf(key)]!);
        worst = Math.max(worst, Math.abs(out[i * models.length + k]! - forward(model, x)));
      });
    }
    expect(worst).toBeLessThan(TOL);

    // one row at a time gives the same numbers as the batch
    for (const i of [0, 17, ROWS - 1]) {
      const single = await runner.run(rows.slice(i * n, (i + 1) * n), 1);
      expect(Array.from(single)).toEqual(Array.from(out.subarray(i * models.length, (i + 1) * models.length)));
    }

    const meta = runner.metadata;
    expect(meta.format).toBe(EXPORT_FORMAT);
    expect(JSON.parse(meta.featureKeys!)).toEqual(GLOBAL_KEYS);
    expect(JSON.parse(meta.horizonBars!)).toEqual(models.map((m) => m.horizonBars));
    expect(JSON.parse(meta.models!)).toEqual(models.map((m) => ({ featureKeys: m.featureKeys, horizonBars: m.horizonBars })));
  });

  it('builds one graph: a Gather(axis=1) per subset model, unique m{k}_ names, one Concat to probabilities [batch, N]', () => {
    const r = mulberry32(6).next;
    const models = [randomModel(r, GLOBAL_KEYS, 1), randomModel(r, ['f03', 'f01'], 2), randomModel(r, ['f39'], 1)];
    const g = decode(exportEnsemble(models, GLOBAL_KEYS)).graph;
    expect(g.input).toHaveLength(1);
    expect(g.output.map((v) => v.name)).toEqual(['probabilities']);
    const dims = g.output[0]!.type.tensorType.shape.dim.map((d) => d.dimParam || d.dimValue);
    expect(dims).toEqual(['batch', 3]);
    const gathers = g.node.filter((x) => x.opType === 'Gather');
    expect(gathers.map((x) => x.name)).toEqual(['m1_gather', 'm2_gather']); // model 0 takes the global vector as is
    expect(gathers.every((x) => x.attribute.find((a) => a.name === 'axis')?.i === 1)).toBe(true);
    expect(g.initializer.find((t) => t.name === 'm1_gather_indices')!.int64Data).toEqual([3, 1]);
    const concat = g.node.filter((x) => x.opType === 'Concat');
    expect(concat).toHaveLength(1);
    expect(concat[0]!.input).toEqual(['m0_probability', 'm1_probability', 'm2_probability']);
    const names = [...g.node.map((x) => x.name), ...g.initializer.map((t) => t.name)];
    expect(new Set(names).size).toBe(names.length);
  });

  it('rejects a model whose key is missing from globalKeys, and other bad input', () => {
    const r = mulberry32(7).next;
    const ok = randomModel(r, ['f00', 'f01'], 1);
    const bad = randomModel(r, ['f00', 'volume_zscore', 'f01', 'nope'], 1);
    expect(() => exportEnsemble([ok, bad], GLOBAL_KEYS)).toThrow(/model 1 uses feature key\(s\) missing from globalKeys: "volume_zscore", "nope"/);
    expect(() => exportEnsemble([], GLOBAL_KEYS)).toThrow(/no models/);
    expect(() => exportEnsemble([ok], ['f00', 'f01', 'f00'])).toThrow(/duplicate key "f00"/);
  });
});
