/**
 * The model set a strategy uses, kept current: loaded at start, reloaded when models/manifest.json changes. A
 * refused set (missing, corrupt, mismatched) is reported and the previous set stays in use.
 */
import type { FSWatcher } from 'node:fs';
import { loadModelSet, watchModelSet, type ModelSet } from './loader.js';

export interface ModelSource {
  /** the set in use, or undefined when none could be loaded */
  current(): ModelSet | undefined;
  /** why there is no set, when there is none */
  readonly problem: string | undefined;
}

export class HotModelSource implements ModelSource {
  private set: ModelSet | undefined;
  private watcher: FSWatcher | undefined;
  problem: string | undefined;
  private readonly first: Promise<void>;

  constructor(
    private readonly modelsDir: string,
    private readonly events: { loaded(set: ModelSet, first: boolean): void; refused(reason: string): void },
  ) {
    this.first = loadModelSet(modelsDir).then(
      (set) => this.swap(set, true),
      (error: unknown) => {
        this.problem = error instanceof Error ? error.message : String(error);
        events.refused(this.problem);
      },
    );
  }

  /** Resolves once the first load has succeeded or failed. */
  ready(): Promise<void> {
    return this.first;
  }

  /** Reload whenever the manifest changes (a running agent; backtests load once). */
  watch(): void {
    this.watcher ??= watchModelSet(this.modelsDir, (set) => this.swap(set, false), (reason) => this.events.refused(reason));
  }

  current(): ModelSet | undefined {
    return this.set;
  }

  async close(): Promise<void> {
    this.watcher?.close();
    await this.set?.runner.close();
  }

  private swap(set: ModelSet, first: boolean): void {
    const old = this.set;
    this.set = set; // the new set is fully loaded before it replaces the old one: no gap
    this.problem = undefined;
    this.events.loaded(set, first);
    // a decision may still be running on the old set: release it a little later
    if (old) setTimeout(() => void old.runner.close(), 5_000).unref();
  }
}
