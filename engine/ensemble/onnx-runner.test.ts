import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward, type MlpModel } from './model.js';
import { exportEnsemble, exportModel } from './onnx-export.js';
import { EnsembleRunner } from './onnx-runner.js';

/** two fixed models over three global keys */
const KEYS = ['ret_1h', 'rsi_14', 'vol_24h'] as const;
const A: MlpModel = {
  featureKeys: ['ret_1h', 'vol_24h'],
  mean: Float32Array.of(0.001, 0.02),
  std: Float32Array.of(0.01, 0.005),
  layers: [
    { inputs: 2, outputs: 3, weights: Float32Array.of(0.5, -0.25, 1, 0.75, -0.5, 0.1), bias: Float32Array.of(0.1, -0.2, 0), activation: 'relu' },
    { inputs: 3, outputs: 1, weights: Float32Array.of(0.3, -0.6, 0.9), bias: Float32Array.of(-0.05), activation: 'sigmoid' },
  ],
  horizonBars: 4,
};
const B: MlpModel = {
  featureKeys: ['rsi_14'],
  mean: Float32Array.of(50),
  std: Float32Array.of(10),
  layers: [{ inputs: 1, outputs: 1, weights: Float32Array.of(-1.2), bias: Float32Array.of(0.2), activation: 'sigmoid' }],
  horizonBars: 24,
};

let ensemble: Uint8Array;
let dir: string;
beforeAll(async () => {
  ensemble = exportEnsemble([A, B], KEYS);
  dir = await mkdtemp(join(tmpdir(), 'onnx-runner-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const opts = { expectedInputs: 3, expectedOutputs: 2 };

describe('EnsembleRunner', () => {
  it('loads from bytes and runs rows × N probabilities, row-major', async () => {
    const runner = await EnsembleRunner.load(ensemble, opts);
    try {
      expect(runner.inputs).toBe(3);
      expect(runner.outputs).toBe(2);
      const rows = Float32Array.of(0.004, 62, 0.025, -0.01, 35, 0.018);
      const out = await runner.run(rows, 2);
      expect(out).toHaveLength(4);
      const want = [forward(A, Float32Array.of(0.004, 0.025)), forward(B, Float32Array.of(62)), forward(A, Float32Array.of(-0.01, 0.018)), forward(B, Float32Array.of(35))];
      want.forEach((w, i) => expect(Math.abs(out[i]! - w)).toBeLessThan(1e-5));
      expect(JSON.parse(runner.metadata.featureKeys!)).toEqual(KEYS);
    } finally {
      await runner.close();
    }
  });

  it('loads from a file path', async () => {
    const path = join(dir, 'ensemble.onnx');
    await writeFile(path, ensemble);
    const runner = await EnsembleRunner.load(path, opts);
    const [a] = await runner.run(Float32Array.of(0, 50, 0.02), 1);
    expect(Math.abs(a! - forward(A, Float32Array.of(0, 0.02)))).toBeLessThan(1e-5);
    await runner.close();
    await expect(EnsembleRunner.load(join(dir, 'missing.onnx'), opts)).rejects.toThrow(/cannot read ONNX model file .*missing\.onnx/);
  });

  it('rejects corrupt bytes clearly: truncated, random, empty', async () => {
    await expect(EnsembleRunner.load(ensemble.subarray(0, Math.floor(ensemble.length / 2)), opts)).rejects.toThrow(
      /EnsembleRunner\.load: not a valid ONNX model \(\d+ bytes\)/,
    );
    let s = 12345;
    const random = Uint8Array.from({ length: 4096 }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s >>> 24));
    await expect(EnsembleRunner.load(random, opts)).rejects.toThrow(/EnsembleRunner\.load: not a valid ONNX model/);
    await expect(EnsembleRunner.load(new Uint8Array(0), opts)).rejects.toThrow(/ONNX model \(0 bytes\) is empty/);
  });

  it('rejects a model that does not match the expected inputs / outputs, naming what differs', async () => {
    await expect(EnsembleRunner.load(ensemble, { expectedInputs: 120, expectedOutputs: 2 })).rejects.toThrow(
      /does not match: input "features" has 3 columns, expected 120/,
    );
    await expect(EnsembleRunner.load(ensemble, { expectedInputs: 3, expectedOutputs: 10 })).rejects.toThrow(
      /output "probabilities" has 2 columns, expected 10/,
    );
    // a single exported model: output "probability", not "probabilities"
    await expect(EnsembleRunner.load(exportModel(B), { expectedInputs: 1, expectedOutputs: 1 })).rejects.toThrow(
      /output is named "probability", expected "probabilities"/,
    );
    await expect(EnsembleRunner.load(ensemble, { expectedInputs: 0, expectedOutputs: 2 })).rejects.toThrow(/expectedInputs must be a positive integer/);
  });

  it('checks run arguments and refuses to run after close', async () => {
    const runner = await EnsembleRunner.load(ensemble, opts);
    await expect(runner.run(new Float32Array(5), 2)).rejects.toThrow(/batch has 5 values, expected 2 rows × 3 inputs = 6/);
    await expect(runner.run(new Float32Array(0), 0)).rejects.toThrow(/rows must be a positive integer/);
    await runner.close();
    await runner.close();
    await expect(runner.run(new Float32Array(3), 1)).rejects.toThrow(/closed/);
  });
});
