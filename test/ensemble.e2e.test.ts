/**
 * The ensemble's life cycle through real files, onnxruntime and the engine: deploy the top trials, refuse a
 * corrupt set, roll back, hot-reload a running strategy without a gap in its decisions, and backtest it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SimClock } from '../engine/clock.js';
import { FEATURE_KEYS } from '../engine/ensemble/features.js';
import { loadModelSet, ModelSetError } from '../engine/ensemble/loader.js';
import { sha256 } from '../engine/ensemble/manifest.js';
import type { MlpModel } from '../engine/ensemble/model.js';
import { HotModelSource } from '../engine/ensemble/source.js';
import { EmbeddedMarket } from '../engine/market/embedded-market.js';
import { loadConfig, type Config } from '../src/config.js';
import { buildSimEngine } from '../src/engine-factory.js';
import { deployTopTrials, rollback } from '../src/ensemble-deploy.js';
import { openDatabase, type Db } from '../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';
import { modelToJson } from '../src/train/model-json.js';
import { mulberry32 } from '../engine/rng.js';

const BASE = loadConfig({}).config;
const SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD'];

/** A small random model over the first `inputs` feature keys (weights small, so probabilities stay near 0.5). */
function randomModel(seed: number, inputs = 40, hidden = 8): MlpModel {
  const r = mulberry32(seed).next;
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  return {
    featureKeys: FEATURE_KEYS.slice(0, inputs),
    mean: new Float32Array(inputs),
    std: Float32Array.from({ length: inputs }, () => 1),
    layers: [
      { inputs, outputs: hidden, weights: fill(inputs * hidden, 0.2), bias: fill(hidden, 0.1), activation: 'relu' },
      { inputs: hidden, outputs: 1, weights: fill(hidden, 0.5), bias: fill(1, 0.1), activation: 'sigmoid' },
    ],
    horizonBars: 6 + (seed % 3) * 6,
  };
}

function addTrials(db: Db, briers: readonly number[], seed0: number): number[] {
  const insert = db.prepare("INSERT INTO trials (created_at, run_id, seed, params, metrics, duration_ms, status, model) VALUES (?, 'test', ?, '{}', ?, 1, 'ok', ?)");
  return briers.map((brier, i) => Number(insert.run(Date.now(), seed0 + i, JSON.stringify({ brier, brierSkill: 0.25 - brier, sharpe: 0 }), JSON.stringify(modelToJson(randomModel(seed0 + i)))).lastInsertRowid));
}

const sources: HotModelSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.close();
});

describe('deploying the ensemble', () => {
  it('deploys the top N by validation Brier skill, refuses a set that is not better, and rolls back', async () => {
    const db = openDatabase(':memory:');
    const dir = mkdtempSync(join(tmpdir(), 'ce-models-'));
    const ids = addTrials(db, [0.26, 0.22, 0.24, 0.21, 0.3, 0.23], 1);
    const first = deployTopTrials(db, { modelsDir: dir, topN: 3, minImprovement: 0.001, reason: 'test' });
    expect(first.deployed).toBe(true);
    const m1 = first.deployed ? first.manifest : undefined!;
    expect(m1.models.map((m) => m.trialId)).toEqual([ids[3], ids[1], ids[5]]); // 0.21, 0.22, 0.23
    for (const f of [m1.ensemble, ...m1.models]) expect(sha256(readFileSync(join(dir, f.file)))).toBe(f.sha256);
    const set = await loadModelSet(dir);
    expect(set.manifest.models).toHaveLength(3);
    await set.runner.close();

    expect(deployTopTrials(db, { modelsDir: dir, topN: 3, minImprovement: 0.001, reason: 'again' })).toEqual({ deployed: false, reason: expect.stringMatching(/^no improvement: mean validation Brier skill 0\.0300 against 0\.0300 deployed/) });
    const better = addTrials(db, [0.18, 0.19, 0.2], 50);
    const second = deployTopTrials(db, { modelsDir: dir, topN: 3, minImprovement: 0.001, reason: 'better' });
    expect(second.deployed && second.manifest.models.map((m) => m.trialId)).toEqual(better);
    expect(db.prepare('SELECT status FROM model_deployments ORDER BY id').pluck().all()).toEqual(['superseded', 'active']);

    const back = rollback(db, dir);
    expect(back.deployed && back.manifest.models.map((m) => m.trialId)).toEqual([ids[3], ids[1], ids[5]]);
    expect(db.prepare('SELECT status FROM model_deployments ORDER BY id').pluck().all()).toEqual(['active', 'rolled-back']);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).models.map((m: { trialId: number }) => m.trialId)).toEqual([ids[3], ids[1], ids[5]]);
  });

  it('refuses a corrupt or mismatched set, and a running agent keeps the old one', async () => {
    const db = openDatabase(':memory:');
    const dir = mkdtempSync(join(tmpdir(), 'ce-models-'));
    addTrials(db, [0.2, 0.21, 0.22], 1);
    const deployed = deployTopTrials(db, { modelsDir: dir, topN: 3, minImprovement: 0, reason: 'test' });
    if (!deployed.deployed) throw new Error(deployed.reason);
    const events: string[] = [];
    const source = new HotModelSource(dir, { loaded: (s, first) => events.push(`${first ? 'first' : 'reloaded'} ${s.manifest.models.length}`), refused: (r) => events.push(`refused ${r}`) });
    sources.push(source);
    await source.ready();
    source.watch();
    const before = source.current()!;

    // flip a byte of the ensemble graph, then touch the manifest
    const graph = join(dir, deployed.manifest.ensemble.file);
    const bytes = readFileSync(graph);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    writeFileSync(graph, bytes);
    writeFileSync(join(dir, 'manifest.json'), readFileSync(join(dir, 'manifest.json')));
    await expect.poll(() => events.at(-1), { timeout: 5_000 }).toMatch(/^refused model file \S+ does not match its sha256/);
    expect(source.current()).toBe(before);
    await expect(loadModelSet(dir)).rejects.toThrow(ModelSetError);

    // a manifest listing features this build does not compute
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    writeFileSync(graph, bytes); // repaired
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, featureKeys: ['not_a_feature', ...manifest.featureKeys.slice(1)] }));
    await expect.poll(() => events.at(-1), { timeout: 5_000 }).toMatch(/^refused the manifest uses features this build does not compute: not_a_feature/);
    expect(source.current()).toBe(before);
    expect(events[0]).toBe('first 3');
  });
});

describe('the ensemble strategy', () => {
  function engineWith(models: HotModelSource, config: Config = BASE) {
    const db = openDatabase(':memory:');
    const clock = new SimClock();
    const { engine } = buildSimEngine({
      config,
      mode: 'backtest',
      symbols: SYMBOLS,
      strategy: 'ensemble',
      profile: 'full',
      startingEquity: 10_000,
      venue: undefined,
      marketDescription: 'embedded',
      journal: new SqliteJournal(db, () => clock.now()),
      state: new SqliteStateStore(db, () => clock.now()),
      notifier: { notify: () => undefined },
      clock,
      wallNow: () => clock.now(),
      log: pino({ level: 'silent' }),
      models,
    });
    return { engine, db };
  }

  it('hot-reloads a new set mid-run without a gap in decisions, and stores the votes', async () => {
    const trialsDb = openDatabase(':memory:');
    const dir = mkdtempSync(join(tmpdir(), 'ce-models-'));
    addTrials(trialsDb, [0.24, 0.25, 0.26, 0.27, 0.28, 0.29], 1);
    deployTopTrials(trialsDb, { modelsDir: dir, topN: 6, minImprovement: 0, reason: 'A' });
    const source = new HotModelSource(dir, { loaded: () => undefined, refused: () => undefined });
    sources.push(source);
    await source.ready();
    source.watch();
    const firstSet = source.current()!.manifest.createdAt;
    const { engine, db } = engineWith(source);
    await engine.start();
    const market = new EmbeddedMarket(SYMBOLS, 3, 1_000);
    engine.prime(Array.from({ length: 400 }, () => market.next()));
    for (let i = 0; i < 40; i++) await engine.handleBars(market.next());
    addTrials(trialsDb, [0.1, 0.11, 0.12, 0.13, 0.14], 100);
    const deployed = deployTopTrials(trialsDb, { modelsDir: dir, topN: 5, minImprovement: 0.001, reason: 'B', now: () => Date.now() + 1_000 });
    expect(deployed.deployed).toBe(true);
    let bars = 0;
    while (source.current()!.manifest.createdAt === firstSet && bars < 400) {
      await engine.handleBars(market.next());
      await new Promise((r) => setTimeout(r, 5));
      bars += 1;
    }
    for (let i = 0; i < 10; i++) await engine.handleBars(market.next());
    const rows = db.prepare('SELECT ts, signal FROM decisions ORDER BY id').all() as Array<{ ts: number; signal: string }>;
    const signals = rows.map((r) => JSON.parse(r.signal) as { probability?: number; modelSet?: string; votes?: string });
    // every bar of every symbol has a probability: no gap while the set changed
    expect(signals.every((s) => typeof s.probability === 'number')).toBe(true);
    const sets = [...new Set(signals.map((s) => s.modelSet))];
    expect(sets).toHaveLength(2);
    expect(JSON.parse(signals.at(-1)!.votes!)).toHaveLength(5);
    expect(JSON.parse(signals[0]!.votes!)).toHaveLength(6);
    expect(engine.models()).toMatch(/^Model set deployed [\s\S]*trial-\d+ \(\d+ h\): weight/);
  });
});

describe('the shipped model set', () => {
  it('loads, and backtests through the CLI path on CSV bars (embedded market, no shared data needed)', async () => {
    const { mkdtempSync: mk, writeFileSync: write } = await import('node:fs');
    const { csvFileFor } = await import('../engine/market/csv.js');
    const { runBacktest } = await import('../src/backtest.js');
    const dir = mk(join(tmpdir(), 'ce-ens-csv-'));
    const market = new EmbeddedMarket(SYMBOLS, 9, 10);
    const lines = new Map(SYMBOLS.map((s) => [s, ['timestamp,open,high,low,close,volume']]));
    for (let i = 0; i < 60 * 24; i++) for (const [s, b] of market.next().bars) lines.get(s)!.push([b.ts, b.open, b.high, b.low, b.close, b.volume].join(','));
    for (const [s, rows] of lines) write(join(dir, csvFileFor(s)), `${rows.join('\n')}\n`);
    const set = await loadModelSet(BASE.strategy.ensemble.modelsDir);
    expect(set.manifest.models.length).toBe(10);
    await set.runner.close();
    const from = Date.UTC(2024, 0, 1) + 45 * 86_400_000;
    const [run] = await runBacktest({ data: dir, symbols: SYMBOLS, from, to: from + 10 * 86_400_000, strategies: ['ensemble'], equity: 10_000 }, BASE, pino({ level: 'silent' }));
    expect(run!.strategy).toBe('ensemble');
    expect(run!.profile).toBe('full');
    expect(run!.equityCurve.length).toBe(11 * 24);
  });
});
