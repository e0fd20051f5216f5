/**
 * Writes the ensemble's `MlpModel`s (engine/ensemble/model.ts) as ONNX, for onnxruntime to run in the engine.
 *
 * - `exportModel`: one model → a graph `features` float32 [batch, n] → `probability` float32 [batch, 1], n the
 *   model's own featureKeys in order. Nodes: Sub(mean) → Div(std) → per layer Gemm(transB=1) + Relu/Sigmoid.
 * - `exportEnsemble`: N models merged into ONE graph `features` float32 [batch, globalKeys.length] →
 *   `probabilities` float32 [batch, N]: per model a Gather(axis=1) picking its featureKeys out of the global
 *   vector, then its own standardization and layers; a Concat(axis=1) of the N columns, in the models' order.
 *
 * Every node, initializer and intermediate value is prefixed `m{k}_` (k the model's index; `m0_` for
 * `exportModel`). The metadata_props carry what a deployer needs to check a file against its manifest:
 * `format`, `inputs`, `outputs`, `featureKeys` (JSON: the input columns, in order), `horizonBars` (JSON: one per
 * output column) and, for an ensemble, `models` (JSON: per model its featureKeys and horizonBars).
 *
 * The arithmetic matches `forward` up to summation order (float32 throughout): the tests hold onnxruntime's
 * output to the reference within 1e-5.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { Activation, MlpModel } from './model.js';

// onnx-proto is CommonJS with `module.exports = $root`: Node's ESM loader exposes only the default export.
const { onnx } = onnxProto;

/** ONNX IR version 8 (ONNX 1.10+) with the default-domain opset 17 (ONNX 1.12+): both accepted by onnxruntime ≥ 1.13. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;
export const INPUT_NAME = 'features';
export const MODEL_OUTPUT_NAME = 'probability';
export const ENSEMBLE_OUTPUT_NAME = 'probabilities';
export const BATCH_DIM = 'batch';
/** metadata_props `format` value: bump when the graph's contract (names, layout) changes */
export const EXPORT_FORMAT = 'confidence-engine/mlp-ensemble@1';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const ATTR_INT = onnx.AttributeProto.AttributeType.INT;

/** One model → ONNX ModelProto bytes. Input `features` [batch, featureKeys.length], output `probability` [batch, 1]. */
export function exportModel(model: MlpModel): Uint8Array {
  checkModel(model, 0);
  const g = new GraphBuilder();
  const out = g.addMlp(model, 0, INPUT_NAME, MODEL_OUTPUT_NAME);
  if (out !== MODEL_OUTPUT_NAME) throw new Error('exportModel: internal error, output not named'); // unreachable
  return g.finish({
    name: 'mlp',
    inputs: model.featureKeys.length,
    output: MODEL_OUTPUT_NAME,
    outputs: 1,
    metadata: {
      format: EXPORT_FORMAT,
      kind: 'model',
      inputs: String(model.featureKeys.length),
      outputs: '1',
      featureKeys: JSON.stringify(model.featureKeys),
      horizonBars: JSON.stringify([model.horizonBars]),
    },
  });
}

/**
 * N models → ONE ONNX graph. Input `features` [batch, globalKeys.length] in `globalKeys` order; output
 * `probabilities` [batch, N], column k = models[k]. Throws when a model uses a key that is not in `globalKeys`.
 */
export function exportEnsemble(models: readonly MlpModel[], globalKeys: readonly string[]): Uint8Array {
  if (models.length === 0) throw new RangeError('exportEnsemble: no models to export');
  if (globalKeys.length === 0) throw new RangeError('exportEnsemble: globalKeys is empty');
  const position = new Map<string, number>();
  globalKeys.forEach((key, i) => {
    if (position.has(key)) throw new RangeError(`exportEnsemble: duplicate key "${key}" in globalKeys (positions ${position.get(key)} and ${i})`);
    position.set(key, i);
  });
  const g = new GraphBuilder();
  const columns: string[] = [];
  models.forEach((model, k) => {
    checkModel(model, k);
    const missing = model.featureKeys.filter((key) => !position.has(key));
    if (missing.length > 0) {
      throw new RangeError(
        `exportEnsemble: model ${k} uses feature key(s) missing from globalKeys: ${missing.map((m) => `"${m}"`).join(', ')}`,
      );
    }
    const indices = model.featureKeys.map((key) => position.get(key)!);
    const identity = indices.length === globalKeys.length && indices.every((p, i) => p === i);
    let input = INPUT_NAME;
    if (!identity) {
      const idx = g.initInt64(`m${k}_gather_indices`, indices, [indices.length]);
      input = `m${k}_x`;
      g.node('Gather', `m${k}_gather`, [INPUT_NAME, idx], [input], { axis: 1 });
    }
    columns.push(g.addMlp(model, k, input, `m${k}_probability`));
  });
  g.node('Concat', 'concat', columns, [ENSEMBLE_OUTPUT_NAME], { axis: 1 });
  return g.finish({
    name: 'mlp_ensemble',
    inputs: globalKeys.length,
    output: ENSEMBLE_OUTPUT_NAME,
    outputs: models.length,
    metadata: {
      format: EXPORT_FORMAT,
      kind: 'ensemble',
      inputs: String(globalKeys.length),
      outputs: String(models.length),
      featureKeys: JSON.stringify(globalKeys),
      horizonBars: JSON.stringify(models.map((m) => m.horizonBars)),
      models: JSON.stringify(models.map((m) => ({ featureKeys: m.featureKeys, horizonBars: m.horizonBars }))),
    },
  });
}

/** The metadata_props of an exported file, as a plain record (for a deployer to check against its manifest). */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const p of model.metadataProps) if (p.key != null) out[p.key] = p.value ?? '';
  return out;
}

/** Structural checks, so a malformed model fails here with its index rather than inside onnxruntime. */
function checkModel(model: MlpModel, k: number): void {
  const where = `model ${k}`;
  const n = model.featureKeys.length;
  if (n === 0) throw new RangeError(`export: ${where} has no feature keys`);
  if (model.mean.length !== n) throw new RangeError(`export: ${where} mean has ${model.mean.length} entries, expected ${n}`);
  if (model.std.length !== n) throw new RangeError(`export: ${where} std has ${model.std.length} entries, expected ${n}`);
  checkFinite(model.mean, `${where} mean`);
  checkFinite(model.std, `${where} std`);
  const zero = model.std.findIndex((s) => s === 0);
  if (zero >= 0) throw new RangeError(`export: ${where} std is 0 for "${model.featureKeys[zero]}"`);
  if (model.layers.length === 0) throw new RangeError(`export: ${where} has no layers`);
  let width = n;
  model.layers.forEach((layer, j) => {
    const lw = `${where} layer ${j}`;
    if (layer.inputs !== width) throw new RangeError(`export: ${lw} has ${layer.inputs} inputs, expected ${width}`);
    if (!(layer.outputs >= 1)) throw new RangeError(`export: ${lw} has ${layer.outputs} outputs`);
    if (layer.weights.length !== layer.inputs * layer.outputs)
      throw new RangeError(`export: ${lw} has ${layer.weights.length} weights, expected ${layer.outputs}×${layer.inputs}`);
    if (layer.bias.length !== layer.outputs) throw new RangeError(`export: ${lw} has ${layer.bias.length} biases, expected ${layer.outputs}`);
    if (!ACTIVATIONS.has(layer.activation)) throw new RangeError(`export: ${lw} has unknown activation "${String(layer.activation)}"`);
    checkFinite(layer.weights, `${lw} weights`);
    checkFinite(layer.bias, `${lw} bias`);
    width = layer.outputs;
  });
  if (width !== 1) throw new RangeError(`export: ${where} last layer has ${width} outputs, expected 1`);
}

const ACTIVATIONS: ReadonlySet<Activation> = new Set<Activation>(['relu', 'sigmoid', 'none']);

function checkFinite(values: Float32Array, what: string): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`export: ${what}[${bad}] is ${values[bad]}`);
}

interface FinishOptions {
  name: string;
  inputs: number;
  output: string;
  outputs: number;
  metadata: Record<string, string>;
}

class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly names = new Set<string>();

  /** Standardization and layers of one model, reading `input` ([batch, n] in its featureKeys order); returns its [batch, 1] output name. */
  addMlp(model: MlpModel, k: number, input: string, outputName: string): string {
    const p = `m${k}_`;
    const n = model.featureKeys.length;
    const mean = this.initFloat(`${p}mean`, model.mean, [n]);
    const std = this.initFloat(`${p}std`, model.std, [n]);
    this.node('Sub', `${p}sub`, [input, mean], [`${p}centered`]);
    this.node('Div', `${p}div`, [`${p}centered`, std], [`${p}z`]);
    let x = `${p}z`;
    model.layers.forEach((layer, j) => {
      const last = j === model.layers.length - 1;
      const l = `${p}l${j}_`;
      const w = this.initFloat(`${l}weight`, layer.weights, [layer.outputs, layer.inputs]);
      const b = this.initFloat(`${l}bias`, layer.bias, [layer.outputs]);
      const pre = last && layer.activation === 'none' ? outputName : `${l}pre`;
      this.node('Gemm', `${l}gemm`, [x, w, b], [pre], { transB: 1 });
      x = pre;
      if (layer.activation !== 'none') {
        const post = last ? outputName : `${l}act`;
        this.node(layer.activation === 'relu' ? 'Relu' : 'Sigmoid', `${l}${layer.activation}`, [x], [post]);
        x = post;
      }
    });
    return x;
  }

  node(opType: string, name: string, inputs: string[], outputs: string[], ints: Record<string, number> = {}): void {
    this.claim(name);
    this.nodes.push({
      opType,
      name,
      input: inputs,
      output: outputs,
      attribute: Object.entries(ints).map(([attr, i]) => ({ name: attr, type: ATTR_INT, i })),
    });
  }

  initFloat(name: string, values: Float32Array, dims: number[]): string {
    this.claim(name);
    this.initializers.push({ name, dataType: FLOAT, dims, floatData: Array.from(values) });
    return name;
  }

  initInt64(name: string, values: number[], dims: number[]): string {
    this.claim(name);
    this.initializers.push({ name, dataType: INT64, dims, int64Data: values });
    return name;
  }

  finish(o: FinishOptions): Uint8Array {
    const tensor = (name: string, width: number): OnnxTypes.IValueInfoProto => ({
      name,
      type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: BATCH_DIM }, { dimValue: width }] } } },
    });
    const model: OnnxTypes.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'confidence-engine',
      producerVersion: '1',
      graph: {
        name: o.name,
        node: this.nodes,
        initializer: this.initializers,
        input: [tensor(INPUT_NAME, o.inputs)],
        output: [tensor(o.output, o.outputs)],
      },
      metadataProps: Object.entries(o.metadata).map(([key, value]) => ({ key, value })),
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }

  /** node and initializer names must be unique within the graph */
  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`export: internal error, duplicate name "${name}"`);
    this.names.add(name);
  }
}
