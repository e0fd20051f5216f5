/**
 * Runs an exported ensemble (engine/ensemble/onnx-export.ts) with onnxruntime-node on the CPU.
 *
 * The session is single-threaded and sequential on purpose: the engine is one serial loop, the graphs are tiny
 * (a few thousand multiply-adds a row), and a thread pool would cost more in hand-offs than it saves — and would
 * compete with the rest of the process for the box's cores.
 *
 * `load` checks the graph against what the caller expects (one float32 input `features` [batch, expectedInputs],
 * one float32 output `probabilities` [batch, expectedOutputs]) and throws naming what differs, so a model file that
 * does not match the manifest fails at start-up rather than producing wrong-shaped numbers mid-run.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { ENSEMBLE_OUTPUT_NAME, INPUT_NAME, readMetadata } from './onnx-export.js';

export interface EnsembleRunnerOptions {
  /** feature columns the graph takes (globalKeys.length) */
  readonly expectedInputs: number;
  /** probability columns the graph gives (the number of models) */
  readonly expectedOutputs: number;
  /** default `features` */
  readonly inputName?: string;
  /** default `probabilities` (a single exported model's output is `probability`) */
  readonly outputName?: string;
}

export const SESSION_OPTIONS: Readonly<ort.InferenceSession.SessionOptions> = Object.freeze({
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

export class EnsembleRunner {
  private session: ort.InferenceSession | undefined;

  private constructor(
    session: ort.InferenceSession,
    /** feature columns per row */
    readonly inputs: number,
    /** probabilities per row */
    readonly outputs: number,
    readonly inputName: string,
    readonly outputName: string,
    /** the file's metadata_props (see onnx-export.ts): feature order, horizons, … */
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    this.session = session;
  }

  /** Load an ONNX model from its bytes or a file path, and check its input and output against `options`. */
  static async load(model: Uint8Array | string, options: EnsembleRunnerOptions): Promise<EnsembleRunner> {
    const { expectedInputs, expectedOutputs } = options;
    const inputName = options.inputName ?? INPUT_NAME;
    const outputName = options.outputName ?? ENSEMBLE_OUTPUT_NAME;
    for (const [what, v] of [['expectedInputs', expectedInputs], ['expectedOutputs', expectedOutputs]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`EnsembleRunner.load: ${what} must be a positive integer, got ${v}`);
    }
    const source = typeof model === 'string' ? model : `${model.length} bytes`;
    let bytes: Uint8Array;
    if (typeof model === 'string') {
      try {
        bytes = await readFile(model);
      } catch (err) {
        throw new Error(`EnsembleRunner.load: cannot read ONNX model file ${model}: ${message(err)}`, { cause: err });
      }
    } else {
      bytes = model;
    }
    if (bytes.length === 0) throw new Error(`EnsembleRunner.load: ONNX model (${source}) is empty`);

    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { ...SESSION_OPTIONS });
    } catch (err) {
      throw new Error(`EnsembleRunner.load: not a valid ONNX model (${source}): ${message(err)}`, { cause: err });
    }
    try {
      const problems = [
        ...checkValues('input', session.inputMetadata, inputName, expectedInputs),
        ...checkValues('output', session.outputMetadata, outputName, expectedOutputs),
      ];
      if (problems.length > 0) throw new Error(`EnsembleRunner.load: model (${source}) does not match: ${problems.join('; ')}`);
      let metadata: Record<string, string> = {};
      try {
        metadata = readMetadata(bytes);
      } catch {
        // onnxruntime accepted the bytes, so this does not happen in practice; the metadata is informational
      }
      return new EnsembleRunner(session, expectedInputs, expectedOutputs, inputName, outputName, Object.freeze(metadata));
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Probabilities for `rows` feature vectors laid out row-major in `batch` (rows × inputs): rows × outputs,
   * row-major (row r, model k at r * outputs + k).
   */
  async run(batch: Float32Array, rows: number): Promise<Float32Array> {
    const session = this.session;
    if (!session) throw new Error('EnsembleRunner.run: the runner is closed');
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`EnsembleRunner.run: rows must be a positive integer, got ${rows}`);
    if (batch.length !== rows * this.inputs) {
      throw new RangeError(`EnsembleRunner.run: batch has ${batch.length} values, expected ${rows} rows × ${this.inputs} inputs = ${rows * this.inputs}`);
    }
    const result = await session.run({ [this.inputName]: new ort.Tensor('float32', batch, [rows, this.inputs]) });
    const out = result[this.outputName];
    if (!out || out.type !== 'float32' || out.data.length !== rows * this.outputs) {
      throw new Error(`EnsembleRunner.run: unexpected output ${this.outputName}: ${out ? `${out.type} [${out.dims.join(', ')}]` : 'missing'}`);
    }
    return out.data as Float32Array;
  }

  /** Release the session. Idempotent; `run` after `close` throws. */
  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await session.release();
  }
}

/** Problems with one side (input or output) of the graph: exactly one float32 tensor `name` [batch, width]. */
function checkValues(
  side: 'input' | 'output',
  values: readonly ort.InferenceSession.ValueMetadata[],
  name: string,
  width: number,
): string[] {
  const expected = `one float32 ${side} "${name}" [batch, ${width}]`;
  if (values.length !== 1) return [`expected ${expected}, found ${values.length} ${side}s (${values.map(describe).join(', ') || 'none'})`];
  const v = values[0]!;
  const problems: string[] = [];
  if (v.name !== name) problems.push(`${side} is named "${v.name}", expected "${name}"`);
  if (!v.isTensor) return [...problems, `${side} "${v.name}" is not a tensor`];
  if (v.type !== 'float32') problems.push(`${side} "${v.name}" is ${v.type}, expected float32`);
  const [batch, cols] = v.shape;
  if (v.shape.length !== 2) problems.push(`${side} "${v.name}" has shape [${v.shape.join(', ')}], expected [batch, ${width}]`);
  else {
    if (typeof batch === 'number' && batch > 0) problems.push(`${side} "${v.name}" has a fixed batch dimension ${batch}, expected a symbolic one`);
    if (cols !== width) problems.push(`${side} "${v.name}" has ${String(cols)} columns, expected ${width}`);
  }
  return problems;
}

function describe(v: ort.InferenceSession.ValueMetadata): string {
  return v.isTensor ? `"${v.name}" ${v.type} [${v.shape.join(', ')}]` : `"${v.name}" (not a tensor)`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
