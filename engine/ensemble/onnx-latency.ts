/**
 * Latency of the merged ONNX ensemble in onnxruntime-node: `npx tsx engine/ensemble/onnx-latency.ts [models] [inputs] [hidden]`
 * (defaults 10 models × 120 inputs → 32 relu → 1 sigmoid). Prints single-row p50/p99 over 2,000 runs, the
 * throughput of 1,000-row batches, and the TypeScript reference `forward` for comparison. Not a test: numbers
 * depend on the machine.
 */
import { forward, type DenseLayer, type MlpModel } from './model.js';
import { exportEnsemble } from './onnx-export.js';
import { EnsembleRunner } from './onnx-runner.js';
import { mulberry32 } from '../rng.js';

const [models = 10, inputs = 120, hidden = 32] = process.argv.slice(2).map(Number);
const SINGLE_RUNS = 2_000;
const WARMUP = 200;
const BATCH_ROWS = 1_000;
const BATCH_RUNS = 100;

const r = mulberry32(42).next;
const normal = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const dense = (i: number, o: number, activation: DenseLayer['activation']): DenseLayer => ({
  inputs: i,
  outputs: o,
  weights: Float32Array.from({ length: i * o }, () => normal() / Math.sqrt(i)),
  bias: Float32Array.from({ length: o }, () => normal() * 0.1),
  activation,
});

const globalKeys = Array.from({ length: inputs }, (_, i) => `f${i}`);
const ensemble: MlpModel[] = Array.from({ length: models }, (_, k) => {
  const keys = [...globalKeys].sort(() => r() - 0.5); // every key, in a per-model order: each model gets a real Gather
  return {
    featureKeys: keys,
    mean: Float32Array.from(keys, () => normal()),
    std: Float32Array.from(keys, () => 0.5 + r()),
    layers: [dense(inputs, hidden, 'relu'), dense(hidden, 1, 'sigmoid')],
    horizonBars: 1 + k,
  };
});

const bytes = exportEnsemble(ensemble, globalKeys);
const runner = await EnsembleRunner.load(bytes, { expectedInputs: inputs, expectedOutputs: models });
const row = Float32Array.from({ length: inputs }, () => normal());
const rows = Float32Array.from({ length: BATCH_ROWS * inputs }, () => normal());

const ms = (ns: bigint): number => Number(ns) / 1e6;
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (x: number): string => `${(x * 1000).toFixed(1)} µs`;

for (let i = 0; i < WARMUP; i++) await runner.run(row, 1);
const single: number[] = [];
for (let i = 0; i < SINGLE_RUNS; i++) {
  const t0 = process.hrtime.bigint();
  await runner.run(row, 1);
  single.push(ms(process.hrtime.bigint() - t0));
}
single.sort((a, b) => a - b);

for (let i = 0; i < 5; i++) await runner.run(rows, BATCH_ROWS);
const t0 = process.hrtime.bigint();
for (let i = 0; i < BATCH_RUNS; i++) await runner.run(rows, BATCH_ROWS);
const batchMs = ms(process.hrtime.bigint() - t0) / BATCH_RUNS;

// the TypeScript reference, per row for all N models (gather included), for comparison
const gathered = ensemble.map((m) => m.featureKeys.map((key) => globalKeys.indexOf(key)));
const ref: number[] = [];
for (let i = 0; i < SINGLE_RUNS; i++) {
  const t = process.hrtime.bigint();
  ensemble.forEach((m, k) => forward(m, Float32Array.from(gathered[k]!, (p) => row[p]!)));
  ref.push(ms(process.hrtime.bigint() - t));
}
ref.sort((a, b) => a - b);

// single-row agreement with the reference
const onnxOut = await runner.run(row, 1);
const maxDiff = Math.max(...ensemble.map((m, k) => Math.abs(onnxOut[k]! - forward(m, Float32Array.from(gathered[k]!, (p) => row[p]!)))));
await runner.close();

console.log(`ensemble: ${models} models × (${inputs} inputs → ${hidden} relu → 1 sigmoid), one merged graph of ${bytes.length} bytes`);
console.log(`onnxruntime-node, 1 thread, sequential, optimization 'all'; node ${process.version} on ${process.platform}/${process.arch}`);
console.log(`single row  (${SINGLE_RUNS} runs): p50 ${fmt(pct(single, 50))}  p99 ${fmt(pct(single, 99))}  max ${fmt(single.at(-1)!)}`);
console.log(`batch ${BATCH_ROWS} rows (${BATCH_RUNS} runs): ${batchMs.toFixed(3)} ms/batch = ${fmt(batchMs / BATCH_ROWS)}/row = ${Math.round((BATCH_ROWS * 1000) / batchMs).toLocaleString('en-US')} rows/s`);
console.log(`TS forward() reference, single row, all ${models} models: p50 ${fmt(pct(ref, 50))}  p99 ${fmt(pct(ref, 99))}`);
console.log(`max |onnx − forward| on the timed row: ${maxDiff.toExponential(2)}`);
