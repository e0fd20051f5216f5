/**
 * Random hyper-parameter search for the ensemble's MLPs, every trial recorded in the `trials` table.
 *
 * A trial draws a lookback (how many lagged returns `ret_1…ret_k` the model sees, on top of every hourly and
 * 4-hour indicator key), a hidden width and depth, a learning rate, an L2 weight and a label horizon, then runs
 * walk-forward validation over the feature matrix (which must hold in-sample bars only):
 * - per fold, the training window (minus a gap of h bars before validation) is subsampled to every `stride`-th
 *   hour (UTC hours ≡ 0 mod stride, the same hours for every symbol) to keep the run short; its last
 *   `earlyStopFraction` (again after a gap of h bars) is held out for early stopping, so the validation window
 *   itself never steers training;
 * - the model is judged on every labelled hour of the validation window: Brier, Brier skill against the training
 *   base rate, log-loss, AUC, accuracy, and the Sharpe of the p > 0.5 policy with costs;
 * - metrics are means over the folds (per-fold values are kept too); the stored model is the last fold's, trained
 *   on the most recent data.
 * The best trial is the one with the highest mean Brier skill (comparable across horizons, whose base rates differ).
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';
import { featureIndices, H4_FEATURE_KEYS, HOURLY_FEATURE_KEYS, MAX_RETURN_LAG, returnKeys } from '../../engine/ensemble/features.js';
import { DAY_MS, DEFAULT_COST, HOUR_MS, labelRows, walkForwardSplits, type FeatureMatrix, type Labels } from '../../engine/ensemble/dataset.js';
import type { MlpModel } from '../../engine/ensemble/model.js';
import { predictProba, trainMlp } from './mlp-trainer.js';
import { policyMetrics, probabilityMetrics } from './metrics.js';
import { modelToJson } from './model-json.js';
import { deriveSeed, mulberry32, type Rng } from '../../engine/rng.js';

export interface TrialParams {
  /** number of lagged hourly returns the model uses (ret_1 … ret_lookback) */
  readonly lookback: number;
  readonly width: number;
  /** hidden layers, each `width` wide */
  readonly depth: number;
  readonly learningRate: number;
  readonly l2: number;
  readonly horizonBars: number;
}

export interface SearchSpace {
  readonly lookback: readonly [number, number];
  readonly width: readonly [number, number];
  readonly depth: readonly [number, number];
  /** log-uniform */
  readonly learningRate: readonly [number, number];
  /** log-uniform */
  readonly l2: readonly [number, number];
  readonly horizons: readonly number[];
}

export const DEFAULT_SPACE: SearchSpace = {
  lookback: [6, MAX_RETURN_LAG],
  width: [8, 64],
  depth: [1, 2],
  learningRate: [1e-4, 1e-2],
  l2: [1e-6, 1e-2],
  horizons: [6, 12, 24, 72],
};

function logUniform(rng: Rng, [lo, hi]: readonly [number, number]): number {
  return Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo)));
}

export function sampleParams(rng: Rng, space: SearchSpace = DEFAULT_SPACE): TrialParams {
  return {
    lookback: rng.int(space.lookback[0], space.lookback[1]),
    width: rng.int(space.width[0], space.width[1]),
    depth: rng.int(space.depth[0], space.depth[1]),
    learningRate: logUniform(rng, space.learningRate),
    l2: logUniform(rng, space.l2),
    horizonBars: space.horizons[rng.int(0, space.horizons.length - 1)]!,
  };
}

/** The model inputs of a trial: every hourly and 4-hour indicator key, then ret_1 … ret_lookback. */
export function trialFeatureKeys(lookback: number): string[] {
  return [...HOURLY_FEATURE_KEYS, ...H4_FEATURE_KEYS, ...returnKeys(lookback)];
}

export interface SearchConfig {
  readonly trials: number;
  readonly seed: number;
  readonly folds: number;
  readonly trainDays: number;
  readonly validDays: number;
  /** train on every stride-th hour only */
  readonly stride: number;
  /** tail share of each training window held out for early stopping */
  readonly earlyStopFraction: number;
  readonly maxEpochs: number;
  readonly patience: number;
  readonly batchSize: number;
  /** round trip */
  readonly cost: number;
  readonly space: SearchSpace;
  /** explicit trials instead of random draws (trial k uses params[k]; draws continue after the list) */
  readonly params?: readonly TrialParams[];
}

export const DEFAULT_SEARCH: Omit<SearchConfig, 'trials' | 'seed'> = {
  folds: 3,
  trainDays: 365,
  validDays: 90,
  stride: 3,
  earlyStopFraction: 0.15,
  maxEpochs: 20,
  patience: 3,
  batchSize: 256,
  cost: DEFAULT_COST,
  space: DEFAULT_SPACE,
};

export interface FoldMetrics {
  readonly validFrom: string;
  readonly validTo: string;
  readonly trainRows: number;
  readonly earlyStopRows: number;
  readonly validRows: number;
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly brier: number;
  readonly brierRef: number;
  readonly brierSkill: number;
  readonly logLoss: number;
  readonly auc: number;
  readonly accuracy: number;
  readonly baseRate: number;
  readonly sharpe: number;
  readonly policyReturn: number;
  readonly exposure: number;
  /** entries + exits of the policy */
  readonly trades: number;
  readonly holdSharpe: number;
}

export type TrialMetrics = Omit<FoldMetrics, 'validFrom' | 'validTo'> & { readonly folds: readonly FoldMetrics[] };

export interface TrialOutcome {
  /** 1-based */
  readonly index: number;
  /** row id in `trials`, when a database was given */
  readonly id: number | undefined;
  readonly seed: number;
  readonly params: TrialParams;
  readonly status: 'ok' | 'failed';
  readonly error: string | undefined;
  readonly metrics: TrialMetrics | undefined;
  readonly model: MlpModel | undefined;
  readonly durationMs: number;
}

export interface SearchResult {
  readonly runId: string;
  readonly trials: readonly TrialOutcome[];
  /** the ok trial with the highest mean Brier skill */
  readonly best: TrialOutcome | undefined;
}

/** Rows × selected columns of the matrix. */
function gather(m: FeatureMatrix, rows: readonly number[] | Int32Array, cols: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * cols.length);
  for (let k = 0; k < rows.length; k++) {
    const base = rows[k]! * m.cols;
    const o = k * cols.length;
    for (let c = 0; c < cols.length; c++) out[o + c] = m.X[base + cols[c]!]!;
  }
  return out;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 16) + 'Z';

/** Walk-forward validation of one parameter set; throws when a fold has nothing to train or validate on. */
export function evaluateTrial(
  m: FeatureMatrix,
  labels: Labels,
  params: TrialParams,
  config: Omit<SearchConfig, 'trials' | 'seed' | 'space' | 'params'>,
  seed: number,
): { metrics: TrialMetrics; model: MlpModel } {
  const h = params.horizonBars;
  if (labels.horizonBars !== h) throw new Error(`labels are for horizon ${labels.horizonBars}, trial wants ${h}`);
  const featureKeys = trialFeatureKeys(params.lookback);
  const cols = featureIndices(featureKeys);
  const hidden = Array.from({ length: params.depth }, () => params.width);
  const splits = walkForwardSplits(m.ts, { trainDays: config.trainDays, validDays: config.validDays, folds: config.folds, gapBars: h });
  const folds: FoldMetrics[] = [];
  let model: MlpModel | undefined;
  splits.forEach((split, f) => {
    const esFrom = split.trainTo - config.earlyStopFraction * config.trainDays * DAY_MS;
    const fitTo = esFrom - h * HOUR_MS;
    const fit: number[] = [];
    const es: number[] = [];
    for (const r of split.train) {
      if (!labels.has[r]) continue;
      const t = m.ts[r]!;
      if (Math.floor(t / HOUR_MS) % config.stride !== 0) continue;
      if (t < fitTo) fit.push(r);
      else if (t >= esFrom) es.push(r);
    }
    const valid = Array.from(split.valid).filter((r) => labels.has[r] === 1);
    const where = `fold ${f + 1}/${splits.length} (validation ${isoDay(split.validFrom)} … ${isoDay(split.validTo)})`;
    if (fit.length < 2 || es.length < 1) throw new Error(`${where}: too few labelled training rows (${fit.length} to fit, ${es.length} for early stopping); is there ${config.trainDays} days of data before it?`);
    if (valid.length < 1) throw new Error(`${where}: no labelled validation rows`);
    const yOf = (rows: readonly number[]) => Uint8Array.from(rows, (r) => labels.y[r]!);
    const train = { X: gather(m, fit, cols), y: yOf(fit), rows: fit.length, cols: cols.length };
    const early = { X: gather(m, es, cols), y: yOf(es), rows: es.length, cols: cols.length };
    const result = trainMlp(train, early, {
      featureKeys,
      horizonBars: h,
      hidden,
      learningRate: params.learningRate,
      l2: params.l2,
      seed: deriveSeed(seed, f),
      maxEpochs: config.maxEpochs,
      patience: config.patience,
      batchSize: config.batchSize,
    });
    const Xv = gather(m, valid, cols);
    const p = predictProba(result.model, Xv, valid.length);
    const yv = yOf(valid);
    let positives = 0;
    for (let k = 0; k < train.rows; k++) positives += train.y[k]!;
    const pm = probabilityMetrics(p, yv, positives / train.rows);
    const policy = policyMetrics(
      { ts: Float64Array.from(valid, (r) => m.ts[r]!), symbol: Uint16Array.from(valid, (r) => m.symbol[r]!), nextReturn: Float64Array.from(valid, (r) => labels.nextReturn[r]!) },
      p,
      labels.cost,
      m.symbols.length,
    );
    folds.push({
      validFrom: isoDay(split.validFrom),
      validTo: isoDay(split.validTo),
      trainRows: fit.length,
      earlyStopRows: es.length,
      validRows: valid.length,
      epochs: result.epochs,
      bestEpoch: result.bestEpoch,
      brier: pm.brier,
      brierRef: pm.brierRef,
      brierSkill: pm.brierSkill,
      logLoss: pm.logLoss,
      auc: pm.auc,
      accuracy: pm.accuracy,
      baseRate: pm.baseRate,
      sharpe: policy.sharpe,
      policyReturn: policy.totalReturn,
      exposure: policy.exposure,
      trades: policy.trades,
      holdSharpe: policy.holdSharpe,
    });
    model = result.model;
  });
  const avg = (k: keyof Omit<FoldMetrics, 'validFrom' | 'validTo'>) => mean(folds.map((f) => f[k]));
  const metrics: TrialMetrics = {
    trainRows: avg('trainRows'),
    earlyStopRows: avg('earlyStopRows'),
    validRows: avg('validRows'),
    epochs: avg('epochs'),
    bestEpoch: avg('bestEpoch'),
    brier: avg('brier'),
    brierRef: avg('brierRef'),
    brierSkill: avg('brierSkill'),
    logLoss: avg('logLoss'),
    auc: avg('auc'),
    accuracy: avg('accuracy'),
    baseRate: avg('baseRate'),
    sharpe: avg('sharpe'),
    policyReturn: avg('policyReturn'),
    exposure: avg('exposure'),
    trades: avg('trades'),
    holdSharpe: avg('holdSharpe'),
    folds,
  };
  return { metrics, model: model! };
}

/** Inserts one trial row; returns its id. */
export function recordTrial(db: Db, runId: string, outcome: Omit<TrialOutcome, 'id'>, context: Record<string, unknown> = {}): number {
  const info = db
    .prepare('INSERT INTO trials (created_at, run_id, seed, params, metrics, duration_ms, status, error, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
    .run(
      Date.now(),
      runId,
      outcome.seed,
      JSON.stringify({ ...outcome.params, hidden: Array.from({ length: outcome.params.depth }, () => outcome.params.width), ...context }),
      JSON.stringify(outcome.metrics ?? {}),
      Math.round(outcome.durationMs),
      outcome.status,
      outcome.error ?? null,
      outcome.model ? JSON.stringify(modelToJson(outcome.model)) : null,
    );
  return Number(info.lastInsertRowid);
}

export interface SearchHooks {
  readonly db?: Db;
  readonly runId?: string;
  /** progress lines (default: stderr) */
  readonly log?: (line: string) => void;
  /** extra fields stored in every trial's params JSON (data, symbols, until, …) */
  readonly context?: Record<string, unknown>;
}

function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function describe(p: TrialParams): string {
  return `h=${p.horizonBars} lookback=${p.lookback} hidden=${p.depth}x${p.width} lr=${p.learningRate.toExponential(1)} l2=${p.l2.toExponential(1)}`;
}

export function runSearch(m: FeatureMatrix, config: SearchConfig, hooks: SearchHooks = {}): SearchResult {
  const log = hooks.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runId = hooks.runId ?? `train-${new Date().toISOString().replace(/[:.]/g, '-')}-s${config.seed}-${randomBytes(3).toString('hex')}`;
  const context = {
    folds: config.folds,
    trainDays: config.trainDays,
    validDays: config.validDays,
    stride: config.stride,
    earlyStopFraction: config.earlyStopFraction,
    maxEpochs: config.maxEpochs,
    patience: config.patience,
    batchSize: config.batchSize,
    cost: config.cost,
    ...hooks.context,
  };
  const rng = mulberry32(deriveSeed(config.seed, 0x5ea4c4));
  const labelCache = new Map<number, Labels>();
  const trials: TrialOutcome[] = [];
  let best: TrialOutcome | undefined;
  const started = Date.now();
  for (let k = 0; k < config.trials; k++) {
    const params = config.params?.[k] ?? sampleParams(rng, config.space);
    const seed = deriveSeed(config.seed, k + 1);
    const t0 = performance.now();
    let outcome: Omit<TrialOutcome, 'id'>;
    try {
      let labels = labelCache.get(params.horizonBars);
      if (!labels) {
        labels = labelRows(m, params.horizonBars, config.cost);
        labelCache.set(params.horizonBars, labels);
      }
      const { metrics, model } = evaluateTrial(m, labels, params, config, seed);
      outcome = { index: k + 1, seed, params, status: 'ok', error: undefined, metrics, model, durationMs: performance.now() - t0 };
    } catch (error) {
      outcome = { index: k + 1, seed, params, status: 'failed', error: (error as Error).message, metrics: undefined, model: undefined, durationMs: performance.now() - t0 };
    }
    const id = hooks.db ? recordTrial(hooks.db, runId, outcome, context) : undefined;
    const done: TrialOutcome = { ...outcome, id };
    trials.push(done);
    if (done.status === 'ok' && (!best || done.metrics!.brierSkill > best.metrics!.brierSkill)) best = done;
    const elapsed = Date.now() - started;
    const eta = (elapsed / (k + 1)) * (config.trials - k - 1);
    const result =
      done.status === 'ok'
        ? `brierSkill=${done.metrics!.brierSkill.toFixed(4)} brier=${done.metrics!.brier.toFixed(4)} auc=${done.metrics!.auc.toFixed(3)} sharpe=${done.metrics!.sharpe.toFixed(2)}`
        : `FAILED: ${done.error}`;
    const bestText = best ? `best #${best.index} brierSkill=${best.metrics!.brierSkill.toFixed(4)} sharpe=${best.metrics!.sharpe.toFixed(2)}` : 'best: none yet';
    log(`trial ${k + 1}/${config.trials} ${describe(params)}: ${result} (${fmtDuration(done.durationMs)}) | ${bestText} | ETA ${fmtDuration(eta)}`);
  }
  return { runId, trials, best };
}
