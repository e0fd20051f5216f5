/**
 * The deployed model set in a running agent: models/manifest.json, every file checked against its sha256,
 * the merged graph loaded into onnxruntime (one thread). `watch` reloads when the manifest changes: the new
 * set is loaded completely before it replaces the old one, so decisions never see a gap; a corrupt or
 * mismatched set is refused (reported through `onRefused`) and the old set stays.
 */
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE, manifestSchema, sha256, type Manifest } from './manifest.js';
import { EnsembleRunner } from './onnx-runner.js';
import { FEATURE_KEYS } from './features.js';

export type LoadedManifest = Manifest;

export interface ModelSet {
  readonly manifest: LoadedManifest;
  readonly runner: EnsembleRunner;
  /** positions of the manifest's feature keys in FEATURE_KEYS, to pick the inputs from a full vector */
  readonly columns: Int32Array;
  readonly loadedAt: number;
}

export class ModelSetError extends Error {}

export async function loadModelSet(modelsDir: string): Promise<ModelSet> {
  const path = join(modelsDir, MANIFEST_FILE);
  if (!existsSync(path)) throw new ModelSetError(`no model set: ${path} does not exist (run npm run train, then npm run models -- deploy)`);
  let manifest: LoadedManifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (error) {
    throw new ModelSetError(`${path} is not a valid manifest: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  for (const f of [manifest.ensemble, ...manifest.models]) {
    const file = join(modelsDir, f.file);
    if (!existsSync(file)) throw new ModelSetError(`model file ${f.file} is missing`);
    if (sha256(readFileSync(file)) !== f.sha256) throw new ModelSetError(`model file ${f.file} does not match its sha256 in the manifest (corrupt or replaced)`);
  }
  const unknown = manifest.featureKeys.filter((k) => !FEATURE_KEYS.includes(k));
  if (unknown.length > 0) throw new ModelSetError(`the manifest uses features this build does not compute: ${unknown.slice(0, 5).join(', ')}`);
  const columns = Int32Array.from(manifest.featureKeys.map((k) => FEATURE_KEYS.indexOf(k)));
  let runner: EnsembleRunner;
  try {
    runner = await EnsembleRunner.load(join(modelsDir, manifest.ensemble.file), { expectedInputs: manifest.featureKeys.length, expectedOutputs: manifest.models.length });
  } catch (error) {
    throw new ModelSetError(`the ensemble graph was refused: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { manifest, runner, columns, loadedAt: Date.now() };
}

/** Reload on manifest changes (debounced); `onLoaded` gets each new set, `onRefused` each refusal. */
export function watchModelSet(modelsDir: string, onLoaded: (set: ModelSet) => void, onRefused: (reason: string) => void): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  let loading = Promise.resolve();
  const watcher = watch(modelsDir, (_event, file) => {
    if (file !== MANIFEST_FILE) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      loading = loading.then(() =>
        loadModelSet(modelsDir).then(onLoaded, (error: unknown) => onRefused(error instanceof Error ? error.message : String(error))),
      );
    }, 200);
  });
  watcher.unref();
  return watcher;
}
