/**
 * Deploying the ensemble: the top N training trials (by validation Brier skill: 1 − Brier / Brier of always saying
 * the base rate, comparable across horizons whose base rates differ) are exported to ONNX, written
 * content-addressed into models/ (a file's name is its sha256, so an earlier set stays on disk for rollback),
 * and models/manifest.json is replaced atomically. Each deployment is a `model_deployments` row; rollback
 * re-activates the previous set. Running agents reload when the manifest changes (engine/ensemble/loader.ts).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportEnsemble, exportModel } from '../engine/ensemble/onnx-export.js';
import { FEATURE_KEYS } from '../engine/ensemble/features.js';
import { MANIFEST_FILE, manifestSchema, sha256, type Manifest } from '../engine/ensemble/manifest.js';
import type { MlpModel } from '../engine/ensemble/model.js';
import { modelFromJson } from './train/model-json.js';
import type { Db } from './store/database.js';

export interface DeployOptions {
  readonly modelsDir: string;
  /** how many trials to deploy */
  readonly topN: number;
  /** the new set's mean validation Brier skill must beat the active set's by at least this */
  readonly minImprovement: number;
  readonly reason: string;
  readonly now?: () => number;
}

export type DeployResult = { readonly deployed: true; readonly manifest: Manifest } | { readonly deployed: false; readonly reason: string };

interface TrialRow {
  id: number;
  metrics: string;
  model: string;
}

const meanSkill = (models: ReadonlyArray<{ metrics: Record<string, unknown> }>) =>
  models.reduce((s, m) => s + Number(m.metrics.brierSkill), 0) / models.length;

export function deployTopTrials(db: Db, o: DeployOptions): DeployResult {
  const rows = db.prepare("SELECT id, metrics, model FROM trials WHERE status = 'ok' AND model IS NOT NULL").all() as TrialRow[];
  const ranked = rows
    .map((r) => ({ id: r.id, metrics: JSON.parse(r.metrics) as Record<string, unknown>, model: r.model }))
    .filter((r) => typeof r.metrics.brierSkill === 'number' && Number.isFinite(r.metrics.brierSkill))
    .sort((a, b) => (b.metrics.brierSkill as number) - (a.metrics.brierSkill as number) || a.id - b.id)
    .slice(0, o.topN);
  if (ranked.length === 0) return { deployed: false, reason: 'no successful trials with a validation Brier skill' };
  const active = activeDeployment(db);
  if (active) {
    const current = meanSkill(active.manifest.models);
    const next = meanSkill(ranked);
    if (!(next - current >= o.minImprovement)) {
      return { deployed: false, reason: `no improvement: mean validation Brier skill ${next.toFixed(4)} against ${current.toFixed(4)} deployed (needs ${o.minImprovement} more)` };
    }
  }
  const models: MlpModel[] = ranked.map((r) => modelFromJson(r.model));
  const used = new Set(models.flatMap((m) => m.featureKeys));
  const featureKeys = FEATURE_KEYS.filter((k) => used.has(k));
  mkdirSync(o.modelsDir, { recursive: true });
  const write = (bytes: Uint8Array) => {
    const hash = sha256(bytes);
    const file = `${hash.slice(0, 16)}.onnx`;
    const path = join(o.modelsDir, file);
    if (!existsSync(path)) writeFileSync(path, bytes);
    return { file, sha256: hash };
  };
  const manifest: Manifest = {
    version: 1,
    createdAt: new Date((o.now ?? Date.now)()).toISOString(),
    featureKeys,
    ensemble: write(exportEnsemble(models, featureKeys)),
    models: ranked.map((r, i) => ({ id: `trial-${r.id}`, trialId: r.id, ...write(exportModel(models[i]!)), horizonBars: models[i]!.horizonBars, featureKeys: [...models[i]!.featureKeys], metrics: scalars(r.metrics) })),
  };
  activate(db, o.modelsDir, manifest, o.reason, o.now);
  return { deployed: true, manifest };
}

/** The summary metrics of a trial (per-fold details stay in the trials table). */
function scalars(metrics: Record<string, unknown>): Record<string, number | string | null> {
  const out: Record<string, number | string | null> = {};
  for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' || typeof v === 'string' || v === null) out[k] = v;
  return out;
}

/** Re-activate the set before the active one; the active one is marked rolled back. */
export function rollback(db: Db, modelsDir: string): DeployResult {
  const active = activeDeployment(db);
  if (!active) return { deployed: false, reason: 'nothing is deployed' };
  const previous = db.prepare("SELECT id, manifest FROM model_deployments WHERE status = 'superseded' AND id < ? ORDER BY id DESC LIMIT 1").get(active.id) as { id: number; manifest: string } | undefined;
  if (!previous) return { deployed: false, reason: 'no earlier deployment to roll back to' };
  const manifest = manifestSchema.parse(JSON.parse(previous.manifest));
  for (const f of [manifest.ensemble, ...manifest.models]) {
    const path = join(modelsDir, f.file);
    if (!existsSync(path) || sha256(readFileSync(path)) !== f.sha256) return { deployed: false, reason: `cannot roll back: ${f.file} is missing or changed` };
  }
  db.transaction(() => {
    db.prepare("UPDATE model_deployments SET status = 'rolled-back' WHERE id = ?").run(active.id);
    db.prepare("UPDATE model_deployments SET status = 'active' WHERE id = ?").run(previous.id);
  })();
  writeManifest(modelsDir, manifest);
  return { deployed: true, manifest };
}

export function activeDeployment(db: Db): { id: number; manifest: Manifest } | undefined {
  const row = db.prepare("SELECT id, manifest FROM model_deployments WHERE status = 'active' ORDER BY id DESC LIMIT 1").get() as { id: number; manifest: string } | undefined;
  return row ? { id: row.id, manifest: manifestSchema.parse(JSON.parse(row.manifest)) } : undefined;
}

function activate(db: Db, modelsDir: string, manifest: Manifest, reason: string, now: () => number = Date.now): void {
  const text = JSON.stringify(manifest, null, 1);
  db.transaction(() => {
    db.prepare("UPDATE model_deployments SET status = 'superseded' WHERE status = 'active'").run();
    db.prepare("INSERT INTO model_deployments (created_at, manifest_sha256, manifest, trial_ids, reason, status) VALUES (?, ?, ?, ?, ?, 'active')").run(
      now(),
      sha256(Buffer.from(text)),
      text,
      JSON.stringify(manifest.models.map((m) => m.trialId)),
      reason,
    );
  })();
  writeManifest(modelsDir, manifest);
}

/** Temp file and rename: a reader never sees half a manifest. */
function writeManifest(modelsDir: string, manifest: Manifest): void {
  const path = join(modelsDir, MANIFEST_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 1)}\n`);
  renameSync(tmp, path);
}
