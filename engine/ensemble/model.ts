/**
 * The shared shape of the ensemble's models: small multilayer perceptrons over the feature vector, each giving
 * the probability that the return over its horizon beats the round-trip cost. The trainer (src/train) fits
 * them, the exporter writes them as ONNX, and the TypeScript forward pass here is the reference the ONNX
 * output is tested against.
 */

export type Activation = 'relu' | 'sigmoid' | 'none';

export interface DenseLayer {
  readonly inputs: number;
  readonly outputs: number;
  /** outputs × inputs, row-major: weights[o * inputs + i] */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  readonly activation: Activation;
}

export interface MlpModel {
  /** the model's inputs, in order: names from the global feature list (engine/ensemble/features.ts) */
  readonly featureKeys: readonly string[];
  /** standardization applied first: (x − mean) / std, one entry per feature key */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  /** the last layer has one output with a sigmoid: a probability */
  readonly layers: readonly DenseLayer[];
  /** hourly bars the probability is about */
  readonly horizonBars: number;
}

/** The reference forward pass (float32 arithmetic like onnxruntime), on one input vector in `featureKeys` order. */
export function forward(model: MlpModel, input: Float32Array): number {
  if (input.length !== model.featureKeys.length) throw new RangeError(`forward: expected ${model.featureKeys.length} inputs, got ${input.length}`);
  let x = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) x[i] = Math.fround((input[i]! - model.mean[i]!) / model.std[i]!);
  for (const layer of model.layers) {
    const y = new Float32Array(layer.outputs);
    for (let o = 0; o < layer.outputs; o++) {
      let sum = layer.bias[o]!;
      const row = o * layer.inputs;
      for (let i = 0; i < layer.inputs; i++) sum = Math.fround(sum + Math.fround(layer.weights[row + i]! * x[i]!));
      y[o] = activate(sum, layer.activation);
    }
    x = y;
  }
  if (x.length !== 1) throw new RangeError(`forward: the last layer must have one output, got ${x.length}`);
  return x[0]!;
}

function activate(v: number, a: Activation): number {
  switch (a) {
    case 'relu':
      return v > 0 ? v : 0;
    case 'sigmoid':
      return Math.fround(1 / (1 + Math.exp(-v)));
    default:
      return v;
  }
}
