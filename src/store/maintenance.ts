/**
 * The agent's nightly store maintenance: an online backup (verified, rotated to `store.backupKeep` copies), then
 * archiving and pruning old sim/paper decisions (`store.archiveAfterDays`). Each step reports its own failure and
 * the other still runs; the result carries a one-line summary for the operator's alert. Scheduled with node-cron
 * at `store.maintenanceCron` in `reports.timezone`.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { basename, dirname, relative, resolve } from 'node:path';
import type { Logger } from '../logger.js';
import { archiveDecisions, type ArchiveResult } from './archive.js';
import { backupDatabase, formatBytes, listBackups, rotateBackups, type BackupFile, type BackupResult } from './backup.js';
import type { Db } from './database.js';

export interface MaintenanceDeps {
  /** the agent's own connection: SQLite carries its writes into a running backup */
  readonly db: Db;
  /** the database file (`store.path`) */
  readonly dbPath: string;
  /** backups to keep (`store.backupKeep`) */
  readonly keep: number;
  /** sim/paper decisions recorded longer ago than this are archived (`store.archiveAfterDays`) */
  readonly archiveAfterDays: number;
  /** wall clock, ms UTC; default Date.now */
  readonly now?: () => number;
  readonly log?: Pick<Logger, 'info' | 'error'>;
}

export type StepOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface MaintenanceSummary {
  readonly backup: StepOutcome<BackupResult & { readonly kept: number; readonly deleted: readonly BackupFile[] }>;
  readonly archive: StepOutcome<ArchiveResult>;
  /** both steps succeeded */
  readonly ok: boolean;
  /** one line for the operator, with units */
  readonly text: string;
}

/** Back up, then archive and prune. Never throws: a failing step is reported in the summary. */
export async function runNightlyMaintenance(deps: MaintenanceDeps): Promise<MaintenanceSummary> {
  const now = deps.now ?? Date.now;
  if (deps.dbPath === ':memory:') {
    const skipped = { ok: false, error: 'in-memory database' } as const;
    return { backup: skipped, archive: skipped, ok: false, text: 'Maintenance skipped: the database is in memory (nothing to back up or archive)' };
  }
  const backup = await attempt(async () => {
    const result = await backupDatabase(deps.db, deps.dbPath, { now: now() });
    const deleted = rotateBackups(deps.dbPath, deps.keep);
    return { ...result, kept: listBackups(deps.dbPath).length, deleted }; // what is on disk now, ours only
  });
  if (backup.ok) deps.log?.info({ file: backup.value.path, bytes: backup.value.size, ms: Math.round(backup.value.durationMs), deleted: backup.value.deleted.map((f) => f.name) }, 'store backup written');
  else deps.log?.error({ error: backup.error }, 'store backup failed');

  const archive = await attempt(() => archiveDecisions({ db: deps.db, dbPath: deps.dbPath, archiveAfterDays: deps.archiveAfterDays, now: now() }));
  if (archive.ok) deps.log?.info({ rows: archive.value.archived, files: archive.value.files.map((f) => f.path), ms: Math.round(archive.value.durationMs) }, 'decisions archived and pruned');
  else deps.log?.error({ error: archive.error }, 'decision archive failed; nothing pruned from the failing file');

  return { backup, archive, ok: backup.ok && archive.ok, text: summaryLine(deps, backup, archive) };
}

async function attempt<T>(step: () => Promise<T>): Promise<StepOutcome<T>> {
  try {
    return { ok: true, value: await step() };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

const count = (n: number) => n.toLocaleString('en-US');

function summaryLine(deps: MaintenanceDeps, backup: MaintenanceSummary['backup'], archive: MaintenanceSummary['archive']): string {
  const parts: string[] = [];
  if (backup.ok) {
    const b = backup.value;
    const rotated = b.deleted.length > 0 ? `, ${b.deleted.length} older deleted` : '';
    parts.push(`Backup ${b.name} ${formatBytes(b.size)} in ${(b.durationMs / 1000).toFixed(1)} s (${b.kept} kept${rotated})`);
  } else {
    parts.push(`Backup FAILED: ${backup.error}`);
  }
  if (archive.ok) {
    const a = archive.value;
    if (a.archived === 0) {
      parts.push(`no sim/paper decisions older than ${deps.archiveAfterDays} days to archive`);
    } else {
      const modes = (['sim', 'paper'] as const).filter((m) => a.byMode[m] > 0).map((m) => `${count(a.byMode[m])} ${m}`).join(' + ');
      const base = dirname(resolve(deps.dbPath));
      const bytes = formatBytes(a.files.reduce((s, f) => s + f.size, 0));
      const first = a.files[0]!.path;
      const where = a.files.length === 1 ? `${relative(base, first)} (${bytes})` : `${relative(base, dirname(first))}/ (${a.files.length} files from ${basename(first)}, ${bytes})`;
      parts.push(`archived ${modes} decisions older than ${deps.archiveAfterDays} days to ${where}, pruned them`);
    }
  } else {
    parts.push(`archive FAILED, nothing pruned: ${archive.error}`);
  }
  return parts.join('; ');
}

export interface MaintenanceConfig {
  readonly store: { readonly path: string; readonly maintenanceCron: string; readonly backupKeep: number; readonly archiveAfterDays: number };
  readonly reports: { readonly timezone: string };
}

export interface ScheduledMaintenance {
  stop(): Promise<void>;
  /** the next run, ms UTC (null when it never will) */
  next(): number | null;
}

/**
 * Run `runNightlyMaintenance` at `store.maintenanceCron` in `reports.timezone`. `onResult` gets every summary
 * (also the partly failed ones: check `ok`); `onError` only gets what escaped it (a bug). The timer is unref'd
 * and runs never overlap.
 */
export function scheduleMaintenance(
  config: MaintenanceConfig,
  deps: Pick<MaintenanceDeps, 'db' | 'now' | 'log'> & { readonly dbPath?: string },
  onResult: (summary: MaintenanceSummary) => void,
  onError: (error: unknown) => void,
): ScheduledMaintenance {
  const run = async () => {
    try {
      onResult(await runNightlyMaintenance({ ...deps, dbPath: deps.dbPath ?? config.store.path, keep: config.store.backupKeep, archiveAfterDays: config.store.archiveAfterDays }));
    } catch (error) {
      onError(error);
    }
  };
  const task: ScheduledTask = cron.schedule(config.store.maintenanceCron, run, {
    timezone: config.reports.timezone,
    noOverlap: true,
    unref: true,
    suppressMissedWarning: true,
    name: 'store maintenance',
  });
  return {
    async stop() {
      await task.destroy();
    },
    next: () => task.getNextRun()?.getTime() ?? null,
  };
}
