/**
 * Retention for the decisions table: sim and paper decisions recorded (wall clock, `recorded_at`) more than
 * `archiveAfterDays` ago move to Parquet files under `<database folder>/archive/`, written with hyparquet-writer.
 * Each file is read back with hyparquet and compared row by row with what was selected BEFORE those rows are
 * deleted, in one transaction. Live decisions are kept forever; rows whose mode or recorded time is unknown
 * (NULL: written before migration 7, or by a journal without a mode) are kept too.
 *
 * The market timestamp `ts` is never used for age: sim replays years-old bars today.
 */
// The Parquet libraries are loaded when an archive is written or read (nightly), not with the agent.
import type { ColumnSource } from 'hyparquet-writer';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileTimestamp, fsyncPath } from './backup.js';
import type { Db } from './database.js';

/** The modes whose decisions are archived and pruned. Everything else (live, backtest, NULL) stays. */
export const ARCHIVED_MODES = ['sim', 'paper'] as const;
export type ArchivedMode = (typeof ARCHIVED_MODES)[number];

const DAY_MS = 86_400_000;

/** One decisions row as stored (and as archived: same column names). */
export interface DecisionRow {
  readonly id: number;
  readonly ts: number;
  readonly recorded_at: number;
  readonly mode: ArchivedMode;
  readonly symbol: string;
  readonly strategy: string;
  /** JSON text, exactly as stored */
  readonly features: string;
  readonly signal: string;
  readonly intent: string | null;
  readonly verdict: string;
  readonly reason: string | null;
}

const COLUMNS = ['id', 'ts', 'recorded_at', 'mode', 'symbol', 'strategy', 'features', 'signal', 'intent', 'verdict', 'reason'] as const;

/** `<database folder>/archive` */
export function archiveDir(dbPath: string): string {
  return join(dirname(resolve(dbPath)), 'archive');
}

export interface ArchiveOptions {
  readonly db: Db;
  /** the database file; the archive goes beside it */
  readonly dbPath: string;
  readonly archiveAfterDays: number;
  /** wall clock, ms UTC */
  readonly now: number;
  /**
   * rows per Parquet file; default 10,000. Each step on a file (select, write, read back, delete) holds the event
   * loop, so this bounds how long the agent's other work waits: about 0.1 s per step at 10,000 rows.
   */
  readonly rowsPerFile?: number;
  /** how a file is written; the default is hyparquet-writer's parquetWriteFile. A seam for failure tests. */
  readonly writeParquet?: (file: string, columnData: ColumnSource[]) => void | Promise<void>;
}

export interface ArchiveFile {
  readonly path: string;
  readonly rows: number;
  /** bytes */
  readonly size: number;
  /** recorded_at of the oldest and newest row in the file, ms UTC */
  readonly from: number;
  readonly to: number;
}

export interface ArchiveResult {
  /** decisions recorded before this (ms UTC) were eligible */
  readonly cutoff: number;
  readonly files: readonly ArchiveFile[];
  /** rows archived and deleted, in total and per mode */
  readonly archived: number;
  readonly byMode: Readonly<Record<ArchivedMode, number>>;
  readonly durationMs: number;
}

/**
 * Archive and prune old sim/paper decisions, one verified Parquet file per `rowsPerFile` rows. A file that fails
 * to write or to read back identically throws, and its rows stay in the database (files finished before it
 * keep theirs deleted: each file is its own unit).
 */
export async function archiveDecisions(options: ArchiveOptions): Promise<ArchiveResult> {
  const started = performance.now();
  const { db, archiveAfterDays, now } = options;
  if (!Number.isInteger(archiveAfterDays) || archiveAfterDays < 1) throw new Error(`archiveAfterDays must be a whole number ≥ 1, got ${archiveAfterDays}`);
  const rowsPerFile = options.rowsPerFile ?? 10_000;
  const write =
    options.writeParquet ??
    (async (filename, columnData) => (await import('hyparquet-writer')).parquetWriteFile({ filename, columnData, createdBy: 'confidence-engine retention' }));
  const cutoff = now - archiveAfterDays * DAY_MS;
  const modes = ARCHIVED_MODES.map((m) => `'${m}'`).join(', ');
  const select = db.prepare(`SELECT ${COLUMNS.join(', ')} FROM decisions
    WHERE mode IN (${modes}) AND recorded_at IS NOT NULL AND recorded_at < ? ORDER BY id LIMIT ?`);
  // The same conditions again on delete: only rows that are still eligible can go, whatever happened in between.
  const remove = db.prepare(`DELETE FROM decisions WHERE id = ? AND mode IN (${modes}) AND recorded_at < ?`);

  const files: ArchiveFile[] = [];
  const byMode: Record<ArchivedMode, number> = { sim: 0, paper: 0 };
  for (;;) {
    const rows = select.all(cutoff, rowsPerFile) as DecisionRow[];
    if (rows.length === 0) break;
    await yieldToEventLoop();
    const file = await writeVerified(options.dbPath, rows, write);
    await yieldToEventLoop();
    try {
      db.transaction(() => {
        let deleted = 0;
        for (const r of rows) deleted += remove.run(r.id, cutoff).changes;
        if (deleted !== rows.length) throw new Error(`expected to delete ${rows.length} archived decisions, matched ${deleted}; rolled back`);
      })();
    } catch (error) {
      rmSync(file.path, { force: true }); // the rows stay in the database: no half-archived state
      throw error;
    }
    files.push(file);
    for (const r of rows) byMode[r.mode] += 1;
    if (rows.length < rowsPerFile) break;
    await yieldToEventLoop();
  }
  return { cutoff, files, archived: byMode.sim + byMode.paper, byMode, durationMs: performance.now() - started };
}

/** Write `rows` to a new Parquet file (via a .partial name), read it back, compare, then give it its final name. */
async function writeVerified(dbPath: string, rows: readonly DecisionRow[], write: NonNullable<ArchiveOptions['writeParquet']>): Promise<ArchiveFile> {
  const dir = archiveDir(dbPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const from = rows.reduce((m, r) => Math.min(m, r.recorded_at), Infinity);
  const to = rows.reduce((m, r) => Math.max(m, r.recorded_at), -Infinity);
  const final = freshName(dir, `decisions-${fileTimestamp(from)}-${fileTimestamp(to)}`);
  const partial = `${final}.partial`;
  try {
    closeSync(openSync(partial, 'wx', 0o600)); // the writer keeps the mode of an existing file: 0600, not the umask's
    await write(partial, toColumns(rows));
    chmodSync(partial, 0o600);
    await yieldToEventLoop();
    const back = await readArchive(partial);
    const mismatch = firstMismatch(rows, back);
    if (mismatch) throw new Error(`archive ${final} did not read back identically (${mismatch}); nothing deleted`);
    // on disk before any row is deleted: a crash after the delete must not lose both copies
    fsyncPath(partial);
    renameSync(partial, final);
    fsyncPath(dir);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  return { path: final, rows: rows.length, size: statSync(final).size, from, to };
}

/** Let the engine's queued work run between the long synchronous steps. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function freshName(dir: string, stem: string): string {
  for (let seq = 1; ; seq++) {
    const path = join(dir, `${stem}${seq === 1 ? '' : `-${seq}`}.parquet`);
    if (!existsSync(path) && !existsSync(`${path}.partial`)) return path;
  }
}

function toColumns(rows: readonly DecisionRow[]): ColumnSource[] {
  const col = <K extends (typeof COLUMNS)[number]>(name: K) => rows.map((r) => r[name]);
  const int64 = (name: 'id' | 'ts' | 'recorded_at') => rows.map((r) => BigInt(r[name])); // the writer wants bigint for INT64
  const required = { nullable: false } as const;
  // Every column typed explicitly: auto-detection would guess from values (and fails on an all-null column).
  // JSON columns are kept as STRING, not JSON, so the text reads back byte for byte.
  return [
    { name: 'id', data: int64('id'), type: 'INT64', ...required },
    { name: 'ts', data: int64('ts'), type: 'INT64', ...required },
    { name: 'recorded_at', data: int64('recorded_at'), type: 'INT64', ...required },
    { name: 'mode', data: col('mode'), type: 'STRING', ...required },
    { name: 'symbol', data: col('symbol'), type: 'STRING', ...required },
    { name: 'strategy', data: col('strategy'), type: 'STRING', ...required },
    { name: 'features', data: col('features'), type: 'STRING', ...required },
    { name: 'signal', data: col('signal'), type: 'STRING', ...required },
    { name: 'intent', data: col('intent'), type: 'STRING' },
    { name: 'verdict', data: col('verdict'), type: 'STRING', ...required },
    { name: 'reason', data: col('reason'), type: 'STRING' },
  ];
}

/** Read an archive file back into decisions rows (INT64 columns as numbers, missing values as null). */
export async function readArchive(file: string): Promise<DecisionRow[]> {
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const objects = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
  const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));
  const opt = (v: unknown): string | null => (v === undefined || v === null ? null : (v as string));
  return objects.map((o) => ({
    id: num(o.id),
    ts: num(o.ts),
    recorded_at: num(o.recorded_at),
    mode: o.mode as ArchivedMode,
    symbol: o.symbol as string,
    strategy: o.strategy as string,
    features: o.features as string,
    signal: o.signal as string,
    intent: opt(o.intent),
    verdict: o.verdict as string,
    reason: opt(o.reason),
  }));
}

/** The first difference between what was selected and what was read back, or null when identical. */
function firstMismatch(expected: readonly DecisionRow[], actual: readonly DecisionRow[]): string | null {
  if (actual.length !== expected.length) return `${actual.length} rows instead of ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    for (const c of COLUMNS) {
      if (a[c] !== e[c]) return `row ${i} (id ${e.id}) column ${c}`;
    }
  }
  return null;
}
