import { describe, expect, it } from 'vitest';
import { buildFeatureMatrix, HOUR_MS } from '../../engine/ensemble/dataset.js';
import { FEATURE_KEYS } from '../../engine/ensemble/features.js';
import type { Bar } from '../../engine/types.js';
import { openDatabase } from '../store/database.js';
import { modelFromJson } from './model-json.js';
import { mulberry32 } from '../../engine/rng.js';
import { DEFAULT_SEARCH, DEFAULT_SPACE, runSearch, sampleParams, trialFeatureKeys, type SearchConfig, type TrialParams } from './search.js';

const T0 = Date.UTC(2021, 0, 1);

/** Hourly bars with a little momentum, so there is something to learn. */
function bars(n: number, seed: number, start: number): Bar[] {
  const rng = mulberry32(seed);
  const out: Bar[] = [];
  let close = start;
  let drift = 0;
  for (let i = 0; i < n; i++) {
    drift = 0.97 * drift + 0.0008 * rng.normal();
    const open = close;
    close = open * Math.exp(drift + 0.006 * rng.normal());
    out.push({ ts: T0 + i * HOUR_MS, open, high: Math.max(open, close) * (1 + 0.002 * rng.next()), low: Math.min(open, close) * (1 - 0.002 * rng.next()), close, volume: 100 + 50 * rng.next() });
  }
  return out;
}

const matrix = buildFeatureMatrix(
  new Map([
    ['AAA/USD', bars(60 * 24, 1, 100)],
    ['BBB/USD', bars(60 * 24, 2, 3)],
  ]),
);

const OK: TrialParams = { lookback: 6, width: 8, depth: 2, learningRate: 3e-3, l2: 1e-4, horizonBars: 6 };
/** No bar is 5000 hours after another in 60 days of data: nothing to train on, so the trial fails. */
const FAILS: TrialParams = { ...OK, horizonBars: 5000 };

const tiny: SearchConfig = { ...DEFAULT_SEARCH, trials: 2, seed: 5, folds: 2, trainDays: 20, validDays: 5, maxEpochs: 3, params: [OK, FAILS] };

describe('runSearch', () => {
  it('records every trial, the failed one too, in the trials table', () => {
    const db = openDatabase(':memory:');
    const lines: string[] = [];
    const result = runSearch(matrix, tiny, { db, runId: 'test-run', log: (l) => lines.push(l), context: { symbols: ['AAA/USD', 'BBB/USD'] } });
    expect(result.trials.map((t) => t.status)).toEqual(['ok', 'failed']);
    expect(result.best?.index).toBe(1);

    const rows = db.prepare('SELECT * FROM trials ORDER BY id').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    const [ok, failed] = rows as [Record<string, unknown>, Record<string, unknown>];
    expect(ok).toMatchObject({ run_id: 'test-run', status: 'ok', error: null, seed: result.trials[0]!.seed });
    expect(ok.id).toBe(result.trials[0]!.id);
    expect(typeof ok.created_at).toBe('number');
    expect(ok.duration_ms as number).toBeGreaterThanOrEqual(0);
    const params = JSON.parse(ok.params as string);
    expect(params).toMatchObject({ ...OK, hidden: [8, 8], folds: 2, trainDays: 20, validDays: 5, stride: 3, cost: 0.005, symbols: ['AAA/USD', 'BBB/USD'] });
    const metrics = JSON.parse(ok.metrics as string);
    for (const k of ['brier', 'brierSkill', 'logLoss', 'auc', 'accuracy', 'sharpe', 'holdSharpe', 'exposure', 'trades']) expect(Number.isFinite(metrics[k]), k).toBe(true);
    expect(metrics.brier).toBeGreaterThan(0);
    expect(metrics.brier).toBeLessThan(0.5);
    expect(metrics.folds).toHaveLength(2);
    expect(metrics.folds[0].validTo).toBe(metrics.folds[1].validFrom);
    const model = modelFromJson(ok.model as string);
    expect(model.featureKeys).toEqual(trialFeatureKeys(6));
    expect(model.featureKeys).toHaveLength(FEATURE_KEYS.length - 42);
    expect(model.horizonBars).toBe(6);
    expect(model.layers.map((l) => l.outputs)).toEqual([8, 8, 1]);

    expect(failed).toMatchObject({ run_id: 'test-run', status: 'failed', model: null, metrics: '{}' });
    expect(failed.error).toMatch(/fold 1\/2 .*too few labelled training rows/);
    expect(JSON.parse(failed.params as string).horizonBars).toBe(5000);

    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^trial 1\/2 h=6 lookback=6 hidden=2x8 .* brierSkill=.* \| best #1 .* \| ETA /);
    expect(lines[1]).toMatch(/^trial 2\/2 .* FAILED: fold 1\/2/);
    db.close();
  });

  it('is reproducible for a seed, and draws random trials inside the space', () => {
    const a = runSearch(matrix, { ...tiny, params: undefined, trials: 2, maxEpochs: 1, space: { ...DEFAULT_SPACE, horizons: [6, 12], width: [4, 8] } }, { log: () => {} });
    const b = runSearch(matrix, { ...tiny, params: undefined, trials: 2, maxEpochs: 1, space: { ...DEFAULT_SPACE, horizons: [6, 12], width: [4, 8] } }, { log: () => {} });
    expect(a.trials.map((t) => t.params)).toEqual(b.trials.map((t) => t.params));
    expect(a.trials.map((t) => t.metrics)).toEqual(b.trials.map((t) => t.metrics));
    expect(a.trials.every((t) => t.status === 'ok' && t.id === undefined)).toBe(true);

    const rng = mulberry32(3);
    for (let i = 0; i < 500; i++) {
      const p = sampleParams(rng);
      expect(p.lookback).toBeGreaterThanOrEqual(6);
      expect(p.lookback).toBeLessThanOrEqual(48);
      expect(p.width).toBeGreaterThanOrEqual(8);
      expect(p.width).toBeLessThanOrEqual(64);
      expect([1, 2]).toContain(p.depth);
      expect(p.learningRate).toBeGreaterThanOrEqual(1e-4);
      expect(p.learningRate).toBeLessThanOrEqual(1e-2);
      expect(p.l2).toBeGreaterThanOrEqual(1e-6);
      expect(p.l2).toBeLessThanOrEqual(1e-2);
      expect([6, 12, 24, 72]).toContain(p.horizonBars);
    }
  });
});
