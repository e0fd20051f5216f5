/**
 * The measurements. Each one builds its engines from scratch (bench/rig.ts) on the bars loaded once by
 * bench/data.ts, and returns raw per-repeat numbers; bench/run.ts turns them into figures.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Actor } from '../bot/registry.js';
import type { SimVenueState } from '../engine/broker/sim-broker.js';
import { FeatureVectorizer } from '../engine/ensemble/features.js';
import type { EnsembleRunner } from '../engine/ensemble/onnx-runner.js';
import { HotModelSource } from '../engine/ensemble/source.js';
import { QTY_EPSILON } from '../engine/ledger.js';
import { floorToIncrement } from '../engine/money.js';
import type { Symbol } from '../engine/types.js';
import { startAgent } from '../src/app.js';
import { loadTransportEnv, type Config } from '../src/config.js';
import type { Logger } from '../src/logger.js';
import { openDatabase } from '../src/store/database.js';
import { SqliteStateStore } from '../src/store/sqlite-journal.js';
import type { BenchData } from './data.js';
import { BENCH_OPERATOR, buildRig, type Rig, type RigStrategy } from './rig.js';
import { maxOf, memoryPoint, percentile, sleep, type MemoryPoint } from './stats.js';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const VIEWER: Actor = { transport: 'bench', id: 'viewer', role: 'viewer' };

export interface Context {
  readonly config: Config;
  readonly data: BenchData;
  readonly log: Logger;
  /** warm-up batches before the replayed window */
  readonly primeBatches: number;
  /** first bar open time of every replay */
  readonly fromTs: number;
}

/** The window's first batch: every symbol trades, and there are `prime` batches before it to warm up on. */
export function replayStart(data: BenchData, prime: number): number {
  const times = [...new Set([...data.series.values()].flatMap((bars) => bars.map((b) => b.ts)))].sort((a, b) => a - b);
  const allFrom = times.findIndex((ts) => ts >= data.allSymbolsFromTs);
  return times[Math.min(times.length - 1, Math.max(allFrom, prime))]!;
}

function rig(ctx: Context, mode: 'backtest' | 'sim', maxBatches: number, venue?: SimVenueState, strategy?: RigStrategy): Promise<Rig> {
  return buildRig({ config: ctx.config, data: ctx.data, mode, log: ctx.log, primeBatches: ctx.primeBatches, fromTs: ctx.fromTs, maxBatches, ...(venue ? { venue } : {}), ...(strategy ? { strategy } : {}) });
}

// ---- 1. replay throughput of the full pipeline ----

export interface PipelineRepeat {
  readonly batches: number;
  readonly bars: number;
  readonly seconds: number;
  readonly barsPerSecond: number;
  readonly setupMs: number;
  /** open time of the last batch replayed */
  readonly lastTs: number;
  /** after ~10% of the replay, and at its end (both after a full GC; the GC is not timed) */
  readonly memoryAtMark: MemoryPoint & { readonly bars: number };
  readonly memoryAtEnd: MemoryPoint;
}

/**
 * One backtest-mode replay from the window start, as fast as the runner goes, until `maxBatches` or `budgetMs`
 * of replay time. Memory is sampled once `markAfterMs` of replay time has passed, and at the end. The strategy is
 * the confidence strategy unless `strategy` names another (the ensemble, with its model set).
 */
export async function pipelineRepeat(ctx: Context, maxBatches: number, budgetMs: number, markAfterMs: number, strategy?: RigStrategy): Promise<PipelineRepeat> {
  const r = await rig(ctx, 'backtest', maxBatches, undefined, strategy);
  const abort = new AbortController();
  let excluded = 0;
  let mark: (MemoryPoint & { bars: number }) | undefined;
  let lastTs = Number.NaN;
  const started = performance.now();
  await r.run({
    barsPerSecond: 0,
    signal: abort.signal,
    afterBatch: (batch) => {
      lastTs = batch.ts;
      const elapsed = performance.now() - started - excluded;
      if (!mark && elapsed >= markAfterMs) {
        const t = performance.now();
        mark = { ...memoryPoint(), bars: r.feed.bars };
        excluded += performance.now() - t;
      }
      if (elapsed >= budgetMs) abort.abort();
    },
  });
  const seconds = (performance.now() - started - excluded) / 1000;
  const end = memoryPoint();
  await r.close();
  return {
    batches: r.feed.batches,
    bars: r.feed.bars,
    seconds,
    barsPerSecond: r.feed.bars / seconds,
    setupMs: r.setupMs,
    lastTs,
    memoryAtMark: mark ?? { ...end, bars: r.feed.bars },
    memoryAtEnd: end,
  };
}

// ---- 1b. the model ensemble: its model set, and inference per live decision ----

/**
 * The deployed model set as the product loads it (src/backtest.ts `loadModels`): a HotModelSource on the
 * models folder, not watched. Throws when no set could be loaded. The caller closes it.
 */
export async function loadModelSource(modelsDir: string): Promise<HotModelSource> {
  const source = new HotModelSource(modelsDir, { loaded: () => undefined, refused: () => undefined });
  await source.ready();
  if (!source.current()) {
    await source.close();
    throw new Error(`no model set in ${modelsDir}: ${source.problem ?? 'unknown reason'}`);
  }
  return source;
}

export interface EnsembleInputs {
  /** each one hour of every symbol: rows × inputs, row-major, rows in data.symbols order */
  readonly batches: readonly Float32Array[];
  readonly rows: number;
  readonly inputs: number;
  /** real: FeatureVectorizer over the loaded bars; random: standard normal numbers (no hour had every symbol's vector) */
  readonly source: 'real' | 'random';
  /** open times of the first and last real batch */
  readonly fromTs: number | null;
  readonly toTs: number | null;
}

const HOUR_MS = 3_600_000;

/**
 * Model inputs as the ensemble strategy builds them for one live decision: per hour, every symbol's
 * FeatureVectorizer vector, its `columns` picked in the model set's order. The vectorizers start `leadBars`
 * hours before `fromTs` (clamped to the data); hours where some symbol has no vector are skipped. At most
 * `wanted` batches. When there is no such hour at all, `wanted` batches of standard normal numbers stand in.
 */
export function ensembleInputs(data: BenchData, columns: Int32Array, fromTs: number, leadBars: number, wanted: number): EnsembleInputs {
  const rows = data.symbols.length;
  const inputs = columns.length;
  const series = data.symbols.map((s) => data.series.get(s) ?? []);
  const vectorizers = series.map(() => new FeatureVectorizer());
  const startTs = fromTs - leadBars * HOUR_MS;
  const at = series.map((bars) => {
    let i = 0;
    while (i < bars.length && bars[i]!.ts < startTs) i++;
    return i;
  });
  const batches: Float32Array[] = [];
  let firstTs: number | null = null;
  let lastTs: number | null = null;
  let batch = new Float32Array(rows * inputs);
  while (batches.length < wanted) {
    let ts = Number.POSITIVE_INFINITY;
    for (let r = 0; r < rows; r++) {
      const bar = series[r]![at[r]!];
      if (bar && bar.ts < ts) ts = bar.ts;
    }
    if (ts === Number.POSITIVE_INFINITY) break;
    let full = true;
    for (let r = 0; r < rows; r++) {
      const bar = series[r]![at[r]!];
      if (!bar || bar.ts !== ts) {
        full = false;
        continue;
      }
      at[r]! += 1;
      const vector = vectorizers[r]!.update(bar);
      if (!vector) {
        full = false;
        continue;
      }
      for (let c = 0; c < inputs; c++) batch[r * inputs + c] = vector[columns[c]!]!;
    }
    if (!full) continue;
    batches.push(batch);
    firstTs ??= ts;
    lastTs = ts;
    batch = new Float32Array(rows * inputs);
  }
  if (batches.length > 0) return { batches, rows, inputs, source: 'real', fromTs: firstTs, toTs: lastTs };
  let seed = 42;
  const uniform = () => {
    seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
    return (seed + 0.5) / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const random = Array.from({ length: Math.max(1, wanted) }, () => Float32Array.from({ length: rows * inputs }, normal));
  return { batches: random, rows, inputs, source: 'random', fromTs: null, toTs: null };
}

export interface InferenceRepeat {
  readonly warmupCalls: number;
  readonly calls: number;
  /** µs per runner.run call */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly meanUs: number;
  /** sum of every output probability of the timed calls: proves the work was done */
  readonly checksum: number;
}

/**
 * `runner.run(batch, rows)` as the ensemble strategy calls it once per live decision (one hour of every symbol),
 * `warmup` untimed calls then `calls` timed ones, one after the other, cycling through `inputs.batches`.
 * Each call is timed from the call until its promise resolves.
 */
export async function inferenceRepeat(runner: EnsembleRunner, inputs: EnsembleInputs, warmup: number, calls: number): Promise<InferenceRepeat> {
  const { batches, rows } = inputs;
  let checksum = 0;
  for (let i = 0; i < warmup; i++) await runner.run(batches[i % batches.length]!, rows);
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const batch = batches[i % batches.length]!;
    const started = process.hrtime.bigint();
    const out = await runner.run(batch, rows);
    samples[i] = Number(process.hrtime.bigint() - started) / 1_000;
    for (const p of out) checksum += p;
  }
  let sum = 0;
  for (const s of samples) sum += s;
  const list = Array.from(samples);
  return { warmupCalls: warmup, calls, p50Us: percentile(list, 50), p99Us: percentile(list, 99), maxUs: maxOf(list), meanUs: sum / calls, checksum };
}

// ---- 2. the reference loop ----

export interface ReferenceRepeat {
  readonly bars: number;
  readonly passes: number;
  readonly seconds: number;
  readonly barsPerSecond: number;
  /** final equity summed over symbols (1 USD each at the start): proves the work was done */
  readonly checksum: number;
}

/** Close prices of every symbol inside [fromTs, toTs], as typed arrays. */
export function referenceCloses(data: BenchData, fromTs: number, toTs: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (const c of data.columns.values()) {
    let lo = 0;
    while (lo < c.length && c.ts[lo]! < fromTs) lo++;
    let hi = lo;
    while (hi < c.length && c.ts[hi]! <= toTs) hi++;
    if (hi > lo) out.push(c.close.subarray(lo, hi));
  }
  return out;
}

/** Long when SMA(10) is above SMA(30), flat otherwise; all-in at the close. Returns the final equity from 1. */
export function smaCrossover(close: Float64Array): number {
  let s10 = 0;
  let s30 = 0;
  let cash = 1;
  let qty = 0;
  const n = close.length;
  for (let i = 0; i < n; i++) {
    const c = close[i]!;
    s10 += c;
    s30 += c;
    if (i >= 10) s10 -= close[i - 10]!;
    if (i >= 30) s30 -= close[i - 30]!;
    if (i < 29) continue;
    const fast = s10 / 10;
    const slow = s30 / 30;
    if (fast > slow) {
      if (qty === 0) {
        qty = cash / c;
        cash = 0;
      }
    } else if (qty > 0) {
      cash = qty * c;
      qty = 0;
    }
  }
  return n > 0 ? cash + qty * close[n - 1]! : cash;
}

/** Whole passes over the closes until at least `minMs` has passed. */
export function referenceRepeat(closes: readonly Float64Array[], minMs: number): ReferenceRepeat {
  const bars = closes.reduce((n, c) => n + c.length, 0);
  let passes = 0;
  let checksum = 0;
  const started = performance.now();
  do {
    checksum = 0;
    for (const c of closes) checksum += smaCrossover(c);
    passes += 1;
  } while (performance.now() - started < minMs);
  const seconds = (performance.now() - started) / 1000;
  return { bars, passes, seconds, barsPerSecond: (bars * passes) / seconds, checksum };
}

// ---- 3. per-bar decision latency in sim mode ----

export interface LatencyRepeat {
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly setupMs: number;
}

/** Sim-mode engine, replayed as fast as possible; each batch timed from handleBars to its promise resolving. */
export async function decisionRepeat(ctx: Context, maxBatches: number, budgetMs: number): Promise<LatencyRepeat> {
  const r = await rig(ctx, 'sim', maxBatches);
  const samples: number[] = [];
  const abort = new AbortController();
  const started = performance.now();
  await r.run({
    barsPerSecond: 0,
    signal: abort.signal,
    timed: (ms) => samples.push(ms),
    afterBatch: () => {
      if (performance.now() - started >= budgetMs) abort.abort();
    },
  });
  await r.close();
  return { samples: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: maxOf(samples), setupMs: r.setupMs };
}

// ---- 4. /status through the command core during a replay, and event-loop lag ----

export interface StatusRepeat {
  readonly requests: number;
  /** arrival → reply, ms */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** time inside CommandCore.handle only, ms */
  readonly serviceP50: number;
  readonly serviceP99: number;
  /** perf_hooks.monitorEventLoopDelay, resolution 1 ms subtracted, ms */
  readonly loopLagP50: number;
  readonly loopLagP99: number;
  readonly loopLagMax: number;
  readonly batchesReplayed: number;
  readonly badReplies: number;
}

/**
 * A sim-mode replay runs as fast as the runner goes while /status requests arrive every `intervalMs` (a fixed
 * grid, like messages from a transport: a request that arrives while the loop is busy waits, it is not lost).
 * Latency is from the request's arrival time to its reply.
 */
export async function statusRepeat(ctx: Context, maxBatches: number, budgetMs: number, intervalMs: number): Promise<StatusRepeat> {
  const r = await rig(ctx, 'sim', maxBatches);
  const core = r.core!;
  const latencies: number[] = [];
  const service: number[] = [];
  let badReplies = 0;
  const lag = monitorEventLoopDelay({ resolution: 1 });
  const abort = new AbortController();
  let stopping = false;
  const started = performance.now();
  let due = started + intervalMs;
  lag.enable();
  const prober = (async () => {
    while (!stopping) {
      await sleep(Math.max(0, due - performance.now()));
      while (!stopping && due <= performance.now()) {
        const t = performance.now();
        const reply = await core.handle({ actor: VIEWER, text: '/status' });
        const done = performance.now();
        if (!reply?.text.startsWith('Mode SIM')) badReplies += 1;
        latencies.push(done - due);
        service.push(done - t);
        due += intervalMs;
      }
    }
  })();
  await r.run({
    barsPerSecond: 0,
    signal: abort.signal,
    afterBatch: () => {
      if (performance.now() - started >= budgetMs) abort.abort();
    },
  });
  stopping = true;
  await prober;
  lag.disable();
  await r.close();
  const lagMs = (p: number) => Math.max(0, lag.percentile(p) / 1e6 - 1);
  return {
    requests: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: maxOf(latencies),
    serviceP50: percentile(service, 50),
    serviceP99: percentile(service, 99),
    loopLagP50: lagMs(50),
    loopLagP99: lagMs(99),
    loopLagMax: Math.max(0, lag.max / 1e6 - 1),
    batchesReplayed: r.feed.batches,
    badReplies,
  };
}

// ---- 5. /kill ----

export interface KillRepeat {
  /** confirmation → flat (no position left) and HALTED, ms */
  readonly flatMs: number;
  /** confirmation → the /confirm reply (the kill report), ms */
  readonly replyMs: number;
  readonly positionsBefore: number;
  readonly flat: boolean;
  readonly halted: boolean;
  readonly barsPerSecond: number;
}

/**
 * A venue holding half the equity spread over every symbol, as a restarted sim would have it. Quantities are
 * whole steps of the venue's increment, as its fills are.
 */
export function venueWithPositions(data: BenchData, fromTs: number, equity: number, qtyIncrement: number): SimVenueState {
  const per = equity / 2 / data.symbols.length;
  const positions = data.symbols.flatMap((symbol: Symbol) => {
    const bars = data.series.get(symbol) ?? [];
    const before = bars.filter((b) => b.ts < fromTs);
    const price = (before[before.length - 1] ?? bars[0])?.close;
    return price ? [{ symbol, qty: floorToIncrement(per / price, qtyIncrement), avgCost: price }] : [];
  });
  return { account: { cash: equity / 2, positions, realizedPnl: 0 }, open: [], recent: [] };
}

/**
 * A sim replay runs, paced at `barsPerSecond` (0 = as fast as possible). Right after batch `killAtBatch` an
 * operator sends /kill; the /confirm arrives `confirmDelayMs` later, on a timer like any message, so it waits
 * for the event loop like a real one. Measured from the confirmation's arrival until the book is flat and the
 * gate HALTED. The simulated broker fills the closing orders at the next bar's open, so a paced sim adds up to
 * one bar interval. The kill comes early in the replay, before the strategy's 72-bar horizon sells the
 * positions the venue started with.
 */
export async function killRepeat(ctx: Context, barsPerSecond: number, killAtBatch: number, confirmDelayMs: number): Promise<KillRepeat> {
  const r = await rig(ctx, 'sim', Number.MAX_SAFE_INTEGER, venueWithPositions(ctx.data, ctx.fromTs, ctx.config.sim.equity, ctx.config.broker.qtyIncrement));
  const core = r.core!;
  const abort = new AbortController();
  const held = () => r.engine.status().positions.filter((p) => p.qty > QTY_EPSILON).length;
  let kill: Promise<KillRepeat> | undefined;
  const killNow = async (): Promise<KillRepeat> => {
    try {
      const positionsBefore = held();
      const prompt = await core.handle({ actor: BENCH_OPERATOR, text: '/kill' });
      const token = prompt?.confirmToken;
      if (!token) throw new Error(`/kill asked for no confirmation: ${prompt?.text ?? '(no reply)'}`);
      const due = performance.now() + confirmDelayMs;
      await sleep(confirmDelayMs);
      const reply = await core.handle({ actor: BENCH_OPERATOR, text: `/confirm ${token}` });
      const replyMs = performance.now() - due;
      if (!reply?.text.includes('HALTED')) throw new Error(`unexpected /kill reply: ${reply?.text ?? '(none)'}`);
      const deadline = performance.now() + ctx.config.risk.killWaitSeconds * 1000 + 2_000;
      let flat = held() === 0;
      while (!flat && performance.now() < deadline) {
        await sleep(1);
        flat = held() === 0;
      }
      const flatMs = performance.now() - due;
      return { flatMs, replyMs, positionsBefore, flat, halted: r.engine.status().risk.state === 'HALTED', barsPerSecond };
    } finally {
      abort.abort();
    }
  };
  await r.run({
    barsPerSecond,
    signal: abort.signal,
    afterBatch: () => {
      if (r.feed.batches === killAtBatch) kill = killNow();
    },
  });
  if (!kill) throw new Error(`the replay ended before batch ${killAtBatch}`);
  const outcome = await kill;
  await r.close();
  return outcome;
}

// ---- 7. start-up time to ready ----

/** The config an agent uses to run this benchmark's market: the data's symbols, the confidence strategy, sim. */
export function agentConfig(ctx: Context, dbPath: string): Config {
  const { config, data } = ctx;
  return { ...config, store: { ...config.store, path: dbPath }, http: { ...config.http, port: 0 }, sim: { ...config.sim, market: data.dir ?? 'embedded' } };
}

const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

/** startAgent (sim) in this process, from the call until it resolves: database, market, engine start, warm-up, chat. */
export async function startupInProcess(ctx: Context): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ce-bench-start-'));
  try {
    const started = performance.now();
    const agent = await startAgent(agentConfig(ctx, join(dir, 'engine.db')), 'sim', { input: new PassThrough(), output: sink(), transports: loadTransportEnv({}), env: {} }, ctx.log);
    const ms = performance.now() - started;
    await agent.stop('benchmark');
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ProcessStartup {
  /** spawn → the "[SIM] Started" line, ms */
  readonly startedMs: number;
  /** spawn → the reply to a /status sent at spawn time (the console reads commands once the agent is ready), ms */
  readonly readyMs: number;
}

interface AgentChildOptions {
  /** sim.barsPerSecond; default the config's */
  readonly barsPerSecond?: number;
  /** a saved replay cursor to continue from (batches from the data's first bar), as after a restart */
  readonly cursor?: number;
}

/**
 * `src/main.ts start` as a child process, as `npm start` runs it (minus npm itself), in sim mode on this data
 * with a fresh database. Resolves once it answered the /status sent at spawn time.
 */
class AgentChild {
  readonly ready: Promise<ProcessStartup>;
  private stdout = '';
  private stderr = '';
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number | null>;

  constructor(
    ctx: Context,
    private readonly dir: string,
    options: AgentChildOptions = {},
    timeoutMs = 60_000,
  ) {
    const overlay = join(dir, 'bench.yaml');
    const c = agentConfig(ctx, join(dir, 'engine.db'));
    const sim = { market: c.sim.market, historyBars: c.sim.historyBars, ...(options.barsPerSecond !== undefined ? { barsPerSecond: options.barsPerSecond } : {}) };
    writeFileSync(overlay, `${JSON.stringify({ universe: c.universe, strategy: { name: c.strategy.name }, risk: { profile: c.risk.profile }, sim })}\n`);
    if (options.cursor !== undefined) {
      const db = openDatabase(c.store.path);
      new SqliteStateStore(db).set('sim.cursor', options.cursor, 'benchmark');
      db.close();
    }
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(CE_|APCA_|TELEGRAM_|DISCORD_|OLLAMA_|LOG_LEVEL$)/.test(k)) env[k] = v;
    Object.assign(env, { CE_CONFIG: overlay, CE_DB: c.store.path, CE_MODE: 'sim', LOG_LEVEL: 'error' });
    const started = performance.now();
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start', '--no-supervisor'], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    let startedMs = Number.NaN;
    this.ready = new Promise<ProcessStartup>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent not ready in ${timeoutMs} ms\n${this.stdout}\n${this.stderr}`)), timeoutMs);
      this.child.stdout.on('data', (d: Buffer) => {
        this.stdout += d.toString();
        if (Number.isNaN(startedMs) && /\[SIM\] Started \(sim\)/.test(this.stdout)) startedMs = performance.now() - started;
        if (/\[SIM\] Mode SIM/.test(this.stdout)) {
          clearTimeout(timer);
          resolve({ startedMs, readyMs: performance.now() - started });
        }
      });
      void this.exited.then((code) => reject(new Error(`agent exited with ${code} before it was ready\n${this.stdout}\n${this.stderr}`)));
    });
    this.ready.catch(() => undefined);
    this.child.stdin.write('/status\n');
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Send a command; resolves with the stdout that follows once `pattern` matches it. */
  async ask(line: string, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const from = this.stdout.length;
    this.child.stdin.write(`${line}\n`);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.slice(from).match(pattern);
      if (match) return match;
      if (performance.now() > deadline) throw new Error(`no reply matching ${pattern} to ${line}\n${this.stderr}`);
      await sleep(20);
    }
  }

  /** SIGTERM (the agent's graceful stop), SIGKILL after 10 s; then the temp dir goes. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startupProcess(ctx: Context): Promise<ProcessStartup> {
  const agent = new AgentChild(ctx, mkdtempSync(join(tmpdir(), 'ce-bench-proc-')));
  try {
    return await agent.ready;
  } finally {
    await agent.stop();
  }
}

// ---- 6. memory of the agent process ----

export interface AgentMemoryRun {
  /** VmHWM at the end of the run: the process's peak RSS, start-up included, MB */
  readonly peakRssMb: number;
  /** RSS once a quarter of the run had passed, MB */
  readonly rssAtQuarterMb: number;
  readonly rssAtEndMb: number;
  readonly samples: number;
  /** bar batches the agent processed during the run */
  readonly batches: number;
  readonly seconds: number;
}

/**
 * The real agent (a child process, sim mode, this data, the confidence strategy) continuing from the replay
 * window's start and replaying at `barsPerSecond` for `seconds`, its RSS sampled from /proc every 200 ms.
 */
export async function agentMemoryRun(ctx: Context, seconds: number, barsPerSecond: number): Promise<AgentMemoryRun> {
  const agent = new AgentChild(ctx, mkdtempSync(join(tmpdir(), 'ce-bench-mem-')), { barsPerSecond, cursor: batchIndexOf(ctx.data, ctx.fromTs) });
  try {
    await agent.ready;
    const before = Number((await agent.ask('/health', /Engine: (\d+) bars processed/))[1]);
    const samples: Array<{ at: number; rss: number }> = [];
    const started = performance.now();
    while (performance.now() - started < seconds * 1000) {
      const m = procMemory(agent.pid);
      if (m) samples.push({ at: performance.now() - started, rss: m.rss });
      await sleep(200);
    }
    const after = Number((await agent.ask('/health', /Engine: (\d+) bars processed/))[1]);
    const end = procMemory(agent.pid);
    if (!end || samples.length === 0) throw new Error('cannot read the agent process memory (needs /proc)');
    const quarter = samples.find((s) => s.at >= (seconds * 1000) / 4) ?? samples[0]!;
    return { peakRssMb: end.hwm, rssAtQuarterMb: quarter.rss, rssAtEndMb: end.rss, samples: samples.length, batches: after - before, seconds };
  } finally {
    await agent.stop();
  }
}

/** VmRSS and VmHWM of a Linux process, MB; undefined elsewhere. */
export function procMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    return Number.isFinite(rss) && Number.isFinite(hwm) ? { rss: rss / 1024, hwm: hwm / 1024 } : undefined;
  } catch {
    return undefined;
  }
}

/** Index of the batch at `ts` among all distinct bar open times: the sim's replay cursor. */
export function batchIndexOf(data: BenchData, ts: number): number {
  const times = [...new Set([...data.series.values()].flatMap((bars) => bars.map((b) => b.ts)))].sort((a, b) => a - b);
  return times.findIndex((t) => t >= ts);
}
