/**
 * `npm run bench`: every figure measured in one run, medians over repeats, against targets and against a
 * reference loop measured in the same run. See bench/run.ts for the command line.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { dataDirExists, DEFAULT_SYMBOLS, embeddedData, loadCsvData, type BenchData } from './data.js';
import type { HotModelSource } from '../engine/ensemble/source.js';
import { benchResultSchema, type BenchResult, type Figure } from './schema.js';
import {
  agentMemoryRun,
  decisionRepeat,
  ensembleInputs,
  inferenceRepeat,
  killRepeat,
  loadModelSource,
  pipelineRepeat,
  referenceCloses,
  referenceRepeat,
  replayStart,
  REPO_ROOT,
  startupInProcess,
  startupProcess,
  statusRepeat,
  type AgentMemoryRun,
  type Context,
  type EnsembleInputs,
  type InferenceRepeat,
  type KillRepeat,
  type LatencyRepeat,
  type PipelineRepeat,
  type ReferenceRepeat,
  type StatusRepeat,
} from './scenarios.js';
import { median, memoryPoint, peakRssMb, round } from './stats.js';

/** The agent's replay speed in the memory runs: the most the config allows (the engine is slower still). */
const MEMORY_RUN_BARS_PER_SECOND = 10_000;

/** ../shared/data/binance-1h next to the repository. */
export const SHARED_DATA_DIR = fileURLToPath(new URL('../../shared/data/binance-1h', import.meta.url));

export interface BenchOptions {
  readonly quick: boolean;
  /** a CSV folder, or "embedded"; default the shared data (full run) or the embedded market (--quick) */
  readonly data?: string;
  readonly repeats?: number;
  /** replay seconds per pipeline repeat */
  readonly pipelineSeconds?: number;
}

interface Plan {
  readonly repeats: number;
  readonly primeBatches: number;
  /** embedded market size when generated */
  readonly embeddedBatches: number;
  readonly pipelineSeconds: number;
  readonly latencyBatches: number;
  readonly latencySeconds: number;
  readonly statusSeconds: number;
  readonly statusIntervalMs: number;
  readonly referenceMinMs: number;
  readonly memorySeconds: number;
  /** ensemble inference: untimed calls, then timed calls per repeat, cycling through this many distinct hours */
  readonly inferenceWarmupCalls: number;
  readonly inferenceCalls: number;
  readonly inferenceDistinctBatches: number;
}

const FULL: Plan = {
  repeats: 3,
  primeBatches: 1_000,
  embeddedBatches: 38_000,
  pipelineSeconds: 25,
  latencyBatches: 3_000,
  latencySeconds: 6,
  statusSeconds: 6,
  statusIntervalMs: 10,
  referenceMinMs: 250,
  memorySeconds: 12,
  inferenceWarmupCalls: 500,
  inferenceCalls: 5_000,
  inferenceDistinctBatches: 2_000,
};

const QUICK: Plan = {
  repeats: 1,
  primeBatches: 200,
  embeddedBatches: 1_000,
  pipelineSeconds: 2,
  latencyBatches: 300,
  latencySeconds: 1.5,
  statusSeconds: 1.5,
  statusIntervalMs: 10,
  referenceMinMs: 50,
  memorySeconds: 3,
  inferenceWarmupCalls: 50,
  inferenceCalls: 300,
  inferenceDistinctBatches: 300,
};

export const TARGETS = {
  pipelineBarsPerSecond: { op: '>=', value: 500_000 },
  ensemblePipelineBarsPerSecond: { op: '>=', value: 250_000 },
  ensembleInferenceP99Us: { op: '<=', value: 200 },
  decisionP99Ms: { op: '<=', value: 1 },
  statusP99Ms: { op: '<=', value: 5 },
  eventLoopLagP99Ms: { op: '<=', value: 20 },
  killMs: { op: '<=', value: 1_000 },
  peakRssMb: { op: '<=', value: 200 },
  rssGrowthMb: { op: '<=', value: 10 },
  heapGrowthMb: { op: '<=', value: 5 },
} as const satisfies Record<string, Figure['target']>;

type Progress = (line: string) => void;

export async function runBench(options: BenchOptions, progress: Progress = () => undefined): Promise<BenchResult> {
  const wallStarted = performance.now();
  const loadAverageAtStart = loadavg();
  const base = options.quick ? QUICK : FULL;
  const plan: Plan = { ...base, repeats: options.repeats ?? base.repeats, pipelineSeconds: options.pipelineSeconds ?? base.pipelineSeconds };
  const notes: string[] = [];
  const timeline: Array<{ phase: string; rssMb: number; heapMb: number }> = [];
  const mark = (phase: string) => {
    const m = memoryPoint();
    timeline.push({ phase, rssMb: round(m.rss, 1), heapMb: round(m.heapUsed, 1) });
  };

  // ---- data, loaded once ----
  const data = loadData(options, plan, notes);
  progress(`data: ${data.kind} ${data.source}: ${data.symbols.length} symbols, ${data.bars.toLocaleString('en-US')} bars, loaded via ${data.load.via} in ${data.load.ms.toFixed(0)} ms`);
  const config = benchConfig(data, plan);
  const fromTs = replayStart(data, plan.primeBatches);
  const ctx: Context = { config, data, log: createLogger('fatal', discard()), primeBatches: plan.primeBatches, fromTs };
  mark('data loaded');

  // ---- 1. pipeline throughput ----
  const budgetMs = plan.pipelineSeconds * 1000;
  const pipeline: PipelineRepeat[] = [];
  for (let i = 0; i < plan.repeats; i++) {
    // The first repeat finds how many batches fit in the budget; the others replay exactly those batches.
    const maxBatches = i === 0 ? Number.MAX_SAFE_INTEGER : pipeline[0]!.batches;
    const repeat = await pipelineRepeat(ctx, maxBatches, i === 0 ? budgetMs : budgetMs * 1.5, budgetMs * 0.1);
    pipeline.push(repeat);
    progress(`pipeline ${i + 1}/${plan.repeats}: ${repeat.bars.toLocaleString('en-US')} bars in ${repeat.seconds.toFixed(1)} s = ${Math.round(repeat.barsPerSecond).toLocaleString('en-US')} bars/s (warm-up ${repeat.setupMs.toFixed(0)} ms)`);
  }
  const window = pipeline[0]!;
  const replayableBatches = countBatchesFrom(data, fromTs);
  const wholeWindow = window.batches >= replayableBatches;
  if (!wholeWindow) {
    notes.push(
      `The pipeline replay is time-boxed at ${plan.pipelineSeconds} s per repeat: it covered ${window.batches.toLocaleString('en-US')} of the ` +
        `${replayableBatches.toLocaleString('en-US')} batches from ${iso(fromTs)} (to ${iso(window.lastTs)}); at the target speed the whole window would take ` +
        `${((replayableBatches * data.symbols.length) / TARGETS.pipelineBarsPerSecond.value).toFixed(1)} s.`,
    );
  }
  if (pipeline.some((p) => p.batches !== window.batches)) notes.push('Some pipeline repeats hit their safety time cap before replaying the same batches as the first.');
  mark('pipeline');

  // ---- 2. reference loop on the same bars ----
  const closes = referenceCloses(data, fromTs, window.lastTs);
  const reference: ReferenceRepeat[] = [];
  for (let i = 0; i < plan.repeats; i++) reference.push(referenceRepeat(closes, plan.referenceMinMs));
  if (reference[0]!.bars !== window.bars) notes.push(`The reference loop saw ${reference[0]!.bars} bars, the pipeline ${window.bars}.`);
  progress(`reference: ${Math.round(median(reference.map((r) => r.barsPerSecond))).toLocaleString('en-US')} bars/s`);
  mark('reference');

  // ---- 2b. the model ensemble: pipeline throughput, and inference per live decision ----
  const modelsDir = resolve(REPO_ROOT, config.strategy.ensemble.modelsDir);
  const ensemblePipeline: PipelineRepeat[] = [];
  const inference: InferenceRepeat[] = [];
  let inputs: EnsembleInputs | undefined;
  let ensembleWorkload: BenchResult['workload']['ensemble'] = null;
  let models: HotModelSource | undefined;
  try {
    models = await loadModelSource(modelsDir);
  } catch (error) {
    notes.push(`No ensemble figures: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (models) {
    try {
      const set = models.current()!;
      progress(`ensemble: ${set.manifest.models.length} models × ${set.manifest.featureKeys.length} inputs (set of ${set.manifest.createdAt}) from ${modelsDir}`);
      for (let i = 0; i < plan.repeats; i++) {
        const maxBatches = i === 0 ? Number.MAX_SAFE_INTEGER : ensemblePipeline[0]!.batches;
        const repeat = await pipelineRepeat(ctx, maxBatches, i === 0 ? budgetMs : budgetMs * 1.5, budgetMs * 0.1, { name: 'ensemble', models });
        ensemblePipeline.push(repeat);
        progress(`ensemble pipeline ${i + 1}/${plan.repeats}: ${repeat.bars.toLocaleString('en-US')} bars in ${repeat.seconds.toFixed(1)} s = ${Math.round(repeat.barsPerSecond).toLocaleString('en-US')} bars/s (warm-up ${repeat.setupMs.toFixed(0)} ms)`);
      }
      const ew = ensemblePipeline[0]!;
      const ensembleWhole = ew.batches >= replayableBatches;
      if (!ensembleWhole) {
        notes.push(
          `The ensemble pipeline replay is time-boxed at ${plan.pipelineSeconds} s per repeat: it covered ${ew.batches.toLocaleString('en-US')} of the ` +
            `${replayableBatches.toLocaleString('en-US')} batches from ${iso(fromTs)} (to ${iso(ew.lastTs)}); at the target speed the whole window would take ` +
            `${((replayableBatches * data.symbols.length) / TARGETS.ensemblePipelineBarsPerSecond.value).toFixed(1)} s.`,
        );
      }
      if (ensemblePipeline.some((p) => p.batches !== ew.batches)) notes.push('Some ensemble pipeline repeats hit their safety time cap before replaying the same batches as the first.');
      mark('ensemble pipeline');

      inputs = ensembleInputs(data, set.columns, fromTs, plan.primeBatches, plan.inferenceDistinctBatches);
      if (inputs.source === 'random') notes.push('No hour of the data gave every symbol a feature vector: the ensemble inference figures ran on random numbers of the same shape.');
      for (let i = 0; i < plan.repeats; i++) {
        const r = await inferenceRepeat(set.runner, inputs, plan.inferenceWarmupCalls, plan.inferenceCalls);
        inference.push(r);
        progress(`ensemble inference ${i + 1}/${plan.repeats}: ${r.calls} calls of ${inputs.rows} × ${inputs.inputs}, p50 ${r.p50Us.toFixed(1)} µs, p99 ${r.p99Us.toFixed(1)} µs`);
      }
      mark('ensemble inference');
      ensembleWorkload = {
        modelsDir,
        modelSet: set.manifest.createdAt,
        models: set.manifest.models.length,
        inputs: set.manifest.featureKeys.length,
        pipeline: { budgetSecondsPerRepeat: plan.pipelineSeconds, batches: ew.batches, bars: ew.bars, replayTo: iso(ew.lastTs), wholeWindow: ensembleWhole },
        inference: {
          rows: inputs.rows,
          inputs: inputs.inputs,
          batchSource: inputs.source,
          distinctBatches: inputs.batches.length,
          batchesFrom: inputs.fromTs === null ? null : iso(inputs.fromTs),
          batchesTo: inputs.toTs === null ? null : iso(inputs.toTs),
          warmupCalls: plan.inferenceWarmupCalls,
          callsPerRepeat: plan.inferenceCalls,
        },
      };
    } finally {
      await models.close();
    }
  }

  // ---- 3. decision latency (sim) ----
  const decision: LatencyRepeat[] = [];
  for (let i = 0; i < plan.repeats; i++) {
    const d = await decisionRepeat(ctx, plan.latencyBatches, plan.latencySeconds * 1000);
    decision.push(d);
    progress(`decision ${i + 1}/${plan.repeats}: ${d.samples} bars, p50 ${d.p50.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms`);
  }
  mark('decision latency');

  // ---- 4. /status during a replay, event-loop lag ----
  const status: StatusRepeat[] = [];
  for (let i = 0; i < plan.repeats; i++) {
    const s = await statusRepeat(ctx, Number.MAX_SAFE_INTEGER, plan.statusSeconds * 1000, plan.statusIntervalMs);
    status.push(s);
    progress(`/status ${i + 1}/${plan.repeats}: ${s.requests} requests, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, loop lag p99 ${s.loopLagP99.toFixed(1)} ms`);
    if (s.badReplies > 0) notes.push(`/status repeat ${i + 1}: ${s.badReplies} replies were not a status.`);
  }
  mark('/status under replay');

  // ---- 5. /kill ----
  const simBps = config.sim.barsPerSecond;
  const killPaced: KillRepeat[] = [];
  const killUnpaced: KillRepeat[] = [];
  for (let i = 0; i < plan.repeats; i++) {
    // The confirmation lands somewhere inside a bar interval, a different place each repeat.
    killPaced.push(await killRepeat(ctx, simBps, 2, (1_000 / simBps) * ((0.3 + 0.29 * i) % 1)));
    killUnpaced.push(await killRepeat(ctx, 0, 8 + 5 * i, 0));
    progress(`/kill ${i + 1}/${plan.repeats}: paced ${killPaced[i]!.flatMs.toFixed(0)} ms, unpaced ${killUnpaced[i]!.flatMs.toFixed(0)} ms`);
  }
  for (const k of [...killPaced, ...killUnpaced]) {
    if (!k.flat || !k.halted) notes.push(`A /kill did not end flat and HALTED (flat ${k.flat}, halted ${k.halted}).`);
    if (k.positionsBefore === 0) notes.push('A /kill found no positions to close.');
  }
  mark('/kill');
  const benchPeakRss = peakRssMb();

  // ---- 6. memory of the agent process ----
  const memory: AgentMemoryRun[] = [];
  for (let i = 0; i < plan.repeats; i++) {
    const m = await agentMemoryRun(ctx, plan.memorySeconds, MEMORY_RUN_BARS_PER_SECOND);
    memory.push(m);
    progress(`agent memory ${i + 1}/${plan.repeats}: peak ${m.peakRssMb.toFixed(0)} MB, RSS ${m.rssAtQuarterMb.toFixed(0)} → ${m.rssAtEndMb.toFixed(0)} MB over ${m.batches} batches`);
  }

  // ---- 7. start-up ----
  const startupIn: number[] = [];
  const startupProc: Array<{ startedMs: number; readyMs: number }> = [];
  for (let i = 0; i < plan.repeats; i++) {
    startupIn.push(await startupInProcess(ctx));
    startupProc.push(await startupProcess(ctx));
    progress(`start-up ${i + 1}/${plan.repeats}: process ${startupProc[i]!.readyMs.toFixed(0)} ms, in-process ${startupIn[i]!.toFixed(0)} ms`);
  }

  // ---- figures ----
  const pipelineBps = pipeline.map((p) => p.barsPerSecond);
  const referenceBps = reference.map((r) => r.barsPerSecond);
  const ratios = pipelineBps.map((p, i) => p / referenceBps[i]!);
  const figures = {
    pipelineBarsPerSecond: figure('Full pipeline replay', 'bars/s', pipelineBps, TARGETS.pipelineBarsPerSecond,
      'Bars (one symbol, one hour) per second through the backtest-mode engine: confidence features and strategy, full risk gate, simulated broker, journal to a SQLite file; runFeed as fast as possible, after a warm-up that is not timed.'),
    referenceBarsPerSecond: figure('Reference SMA(10/30) loop', 'bars/s', referenceBps, null,
      'An SMA(10/30) crossover over Float64Array closes of the same bars, whole passes repeated for at least a quarter second.'),
    pipelineOverReference: figure('Pipeline ÷ reference', 'ratio', ratios, null, 'Per repeat: pipeline bars/s divided by the reference bars/s of the same repeat index.'),
    ensemblePipelineBarsPerSecond: figure('Full pipeline replay (ensemble)', 'bars/s', orNaN(ensemblePipeline.map((p) => p.barsPerSecond)), TARGETS.ensemblePipelineBarsPerSecond,
      'As pipelineBarsPerSecond with the ensemble strategy on the model set shipped in models/ (HotModelSource, loaded once for all repeats): per hourly batch every symbol\'s FeatureVectorizer vector, one onnxruntime call of the merged graph for all symbols, the adaptive vote; then the same full risk gate, simulated broker and SQLite journal. Same data, window start, warm-up and time box as the pipeline figure; the first repeat finds its own batch count, the others replay it.'),
    ensembleInferenceP50Us: figure('Ensemble inference p50 per live decision', 'µs', orNaN(inference.map((r) => r.p50Us)), null,
      inputs
        ? `One EnsembleRunner.run(batch, rows) call (onnxruntime-node, one thread) as the ensemble strategy makes it once per hourly decision: ${inputs.rows} rows (every symbol) × ${inputs.inputs} inputs (the manifest's featureKeys), ` +
            (inputs.source === 'real'
              ? `real inputs (FeatureVectorizer over the loaded bars, columns from the set's columns) cycling through ${inputs.batches.length} distinct hours`
              : 'random standard normal inputs of that shape') +
            `; from the call until its promise resolves, ${plan.inferenceCalls} timed calls per repeat in a row after ${plan.inferenceWarmupCalls} untimed.`
        : 'One EnsembleRunner.run(batch, rows) call for one hour of every symbol; not measured (no model set).'),
    ensembleInferenceP99Us: figure('Ensemble inference p99 per live decision', 'µs', orNaN(inference.map((r) => r.p99Us)), TARGETS.ensembleInferenceP99Us, 'As ensembleInferenceP50Us, 99th percentile.'),
    decisionP50Ms: figure('Decision latency p50 (sim)', 'ms', decision.map((d) => d.p50), null,
      'Sim-mode engine (wall clock, outbox notifier, command core): per hourly bar batch of all symbols, handleBars until its promise resolves (journal writes included).'),
    decisionP99Ms: figure('Decision latency p99 (sim)', 'ms', decision.map((d) => d.p99), TARGETS.decisionP99Ms, 'As decisionP50Ms, 99th percentile.'),
    statusP50Ms: figure('/status p50 during replay', 'ms', status.map((s) => s.p50), null,
      `/status through CommandCore.handle (audit rows included) arriving every ${plan.statusIntervalMs} ms while a sim replay runs as fast as possible in the same process; arrival to reply.`),
    statusP99Ms: figure('/status p99 during replay', 'ms', status.map((s) => s.p99), TARGETS.statusP99Ms, 'As statusP50Ms, 99th percentile.'),
    eventLoopLagP99Ms: figure('Event-loop lag p99 during replay', 'ms', status.map((s) => s.loopLagP99), TARGETS.eventLoopLagP99Ms,
      'perf_hooks.monitorEventLoopDelay (1 ms resolution, subtracted) during the /status replays.'),
    killPacedMs: figure('/kill → flat and HALTED (paced sim)', 'ms', killPaced.map((k) => k.flatMs), TARGETS.killMs,
      `From the /confirm arrival to no position left and the gate HALTED, the sim replaying at sim.barsPerSecond = ${simBps}; the simulated broker fills the closing orders at the next bar's open, so up to one bar interval (${(1000 / simBps).toFixed(0)} ms) is the venue's.`),
    killUnpacedMs: figure('/kill → flat and HALTED (replay as fast as possible)', 'ms', killUnpaced.map((k) => k.flatMs), TARGETS.killMs,
      'As killPacedMs, while the replay runs as fast as possible: the engine and event-loop part of a kill.'),
    peakRssMb: figure('Peak RSS (agent process)', 'MB', memory.map((m) => m.peakRssMb), TARGETS.peakRssMb,
      `The agent (src/main.ts start, sim, this data, confidence strategy) continuing a saved replay cursor at the window start, sim.barsPerSecond = ${MEMORY_RUN_BARS_PER_SECOND} (as fast as the engine goes) for ${plan.memorySeconds} s: VmHWM from /proc, start-up included.`),
    rssGrowthMb: figure('RSS growth (agent process)', 'MB', memory.map((m) => m.rssAtEndMb - m.rssAtQuarterMb), TARGETS.rssGrowthMb,
      'Same runs: VmRSS at the end minus VmRSS a quarter of the way in. "No growth" read as at most 10 MB.'),
    heapGrowthMb: figure('Live heap growth over a replay', 'MB', pipeline.map((p) => p.memoryAtEnd.heapUsed - p.memoryAtMark.heapUsed), TARGETS.heapGrowthMb,
      'Per pipeline repeat: V8 heap used after a full GC at the end minus after 10% of the replay time. "No growth" read as at most 5 MB.'),
    startupProcessMs: figure('Start-up to ready (process)', 'ms', startupProc.map((s) => s.readyMs), null,
      '`node --import tsx src/main.ts start` in sim mode on this data (fresh database, confidence strategy, sim.historyBars warm-up) from spawn to the reply to a /status sent at spawn.'),
    startupInProcessMs: figure('Start-up to ready (in-process)', 'ms', startupIn, null, 'startAgent() in this (warm) process, same config, until it resolves.'),
  } satisfies BenchResult['figures'];

  const withTargets = Object.values(figures).filter((f) => f.met !== null);
  const result: BenchResult = {
    schemaVersion: 1,
    date: new Date().toISOString(),
    quick: options.quick,
    wallSeconds: round((performance.now() - wallStarted) / 1000, 1),
    command: ['npm run bench', ...(options.quick ? ['--quick'] : [])].join(' -- '),
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      totalMemoryMb: round(totalmem() / 2 ** 20, 0),
      loadAverageAtStart: loadAverageAtStart.map((x) => round(x, 2)),
      loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
    },
    data: {
      kind: data.kind,
      source: data.source,
      symbols: [...data.symbols],
      bars: data.bars,
      batches: data.batches,
      from: iso(data.firstTs),
      to: iso(data.lastTs),
      allSymbolsFrom: iso(data.allSymbolsFromTs),
      load: { ...data.load, ms: round(data.load.ms, 1) },
    },
    workload: {
      repeats: plan.repeats,
      primeBatches: plan.primeBatches,
      replayFrom: iso(fromTs),
      strategy: config.strategy.name,
      riskProfile: config.risk.profile,
      journal: 'SQLite file in the OS temp dir (WAL, synchronous=NORMAL), one per engine',
      pipeline: { budgetSecondsPerRepeat: plan.pipelineSeconds, batches: window.batches, bars: window.bars, replayTo: iso(window.lastTs), wholeWindow },
      ensemble: ensembleWorkload,
      statusIntervalMs: plan.statusIntervalMs,
      simBarsPerSecond: simBps,
    },
    figures,
    targets: { met: withTargets.filter((f) => f.met).length, total: withTargets.length },
    details: {
      pipeline: pipeline.map((p) => roundAll(p)),
      reference: reference.map((r) => roundAll(r)),
      ensemblePipeline: ensemblePipeline.map((p) => roundAll(p)),
      ensembleInference: inference.map((r) => roundAll(r)),
      decision: decision.map((d) => roundAll(d)),
      status: status.map((s) => roundAll(s)),
      killPaced: killPaced.map((k) => roundAll(k)),
      killUnpaced: killUnpaced.map((k) => roundAll(k)),
      startupProcess: startupProc.map((s) => roundAll(s)),
      agentMemory: memory.map((m) => roundAll(m)),
      benchProcess: { peakRssMbAfterReplays: round(benchPeakRss, 1), memoryTimeline: timeline, note: 'this process: bars loaded once, many engines built and closed; not the agent' },
    },
    notes: [
      ...(loadAverageAtStart[0]! > cpus().length * 0.5
        ? [`The machine was busy when the run started (1-minute load average ${loadAverageAtStart[0]!.toFixed(2)} on ${cpus().length} CPUs): figures may be slower than on an idle machine.`]
        : []),
      ...notes,
    ],
  };
  return benchResultSchema.parse(result);
}

function loadData(options: BenchOptions, plan: Plan, notes: string[]): BenchData {
  const wanted = options.data ?? (options.quick ? 'embedded' : SHARED_DATA_DIR);
  if (wanted !== 'embedded') {
    const dir = resolve(wanted);
    if (dataDirExists(dir)) return loadCsvData(dir);
    notes.push(`${dir} is absent or has no BASEUSD.csv files: the embedded synthetic market stands in for it.`);
  }
  return embeddedData(DEFAULT_SYMBOLS, plan.embeddedBatches);
}

/** The default config, pointed at the benchmark's symbols and the full pipeline's strategy and profile. */
function benchConfig(data: BenchData, plan: Plan): Config {
  const { config } = loadConfig({});
  return {
    ...config,
    universe: [...data.symbols],
    strategy: { ...config.strategy, name: 'confidence' },
    risk: { ...config.risk, profile: 'full' },
    sim: { ...config.sim, historyBars: plan.primeBatches },
  };
}

function countBatchesFrom(data: BenchData, fromTs: number): number {
  const times = new Set<number>();
  for (const bars of data.series.values()) for (const b of bars) if (b.ts >= fromTs) times.add(b.ts);
  return times.size;
}

function figure(label: string, unit: string, values: readonly number[], target: Figure['target'], definition: string): Figure {
  const repeats = values.map((v) => (Number.isFinite(v) ? round(v, v !== 0 && Math.abs(v) < 0.01 ? 8 : 3) : null));
  const finite = values.filter(Number.isFinite);
  const m = finite.length > 0 ? median(finite) : Number.NaN;
  const medianValue = Number.isFinite(m) ? round(m, m !== 0 && Math.abs(m) < 0.01 ? 8 : 3) : null;
  const met = target === null ? null : medianValue === null ? false : target.op === '>=' ? medianValue >= target.value : medianValue <= target.value;
  return { label, unit, repeats, median: medianValue, target, met, definition };
}

/** A figure needs at least one value: NaN (null in the JSON) when the scenario could not run. */
function orNaN(values: readonly number[]): number[] {
  return values.length > 0 ? [...values] : [Number.NaN];
}

function roundAll<T extends object>(o: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v !== null && typeof v === 'object' ? roundAll(v as object) : v]));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
}

// ---- the table ----

export function formatTable(r: BenchResult): string {
  const rows = Object.values(r.figures).map((f) => [
    f.label,
    fmt(f.median),
    f.unit,
    f.repeats.map(fmt).join(' / '),
    f.target ? `${f.target.op} ${fmt(f.target.value)}` : '',
    f.met === null ? '' : f.met ? 'yes' : 'NO',
  ]);
  const header = ['figure', 'median', 'unit', 'repeats', 'target', 'met'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const d = r.data;
  const e = r.workload.ensemble;
  return [
    `Benchmark ${r.quick ? '(quick) ' : ''}${r.date} · ${r.machine.cpus}× ${r.machine.cpuModel} · Node ${r.machine.node} · ${r.wallSeconds} s`,
    `Data: ${d.kind} ${d.source}: ${d.symbols.length} symbols, ${d.bars.toLocaleString('en-US')} bars (loaded via ${d.load.via} in ${d.load.ms} ms). ` +
      `Pipeline replay: ${r.workload.pipeline.bars.toLocaleString('en-US')} bars from ${r.workload.replayFrom.slice(0, 10)} to ${r.workload.pipeline.replayTo.slice(0, 10)}, ${r.workload.repeats} repeat(s).`,
    ...(e
      ? [
          `Ensemble: ${e.models} models × ${e.inputs} inputs (set of ${e.modelSet}); replay ${e.pipeline.bars.toLocaleString('en-US')} bars to ${e.pipeline.replayTo.slice(0, 10)}; ` +
            `inference ${e.inference.callsPerRepeat.toLocaleString('en-US')} calls of ${e.inference.rows} × ${e.inference.inputs} per repeat on ` +
            (e.inference.batchSource === 'real' ? `real feature vectors (${e.inference.distinctBatches.toLocaleString('en-US')} distinct hours)` : 'random numbers') +
            '.',
        ]
      : []),
    '',
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    `Targets met: ${r.targets.met} of ${r.targets.total}.`,
    ...r.notes.map((n) => `Note: ${n}`),
  ].join('\n');
}

function fmt(x: number | null): string {
  if (x === null) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1_000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 0.01 || x === 0) return x.toFixed(2);
  return x.toExponential(2);
}
