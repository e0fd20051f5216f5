/**
 * Online backups of the SQLite journal with better-sqlite3's `db.backup()` (the SQLite backup API), into
 * `<database folder>/backups/<stem>-<UTC time>.db`, mode 0600. A backup is written under a temporary name,
 * checked (`PRAGMA integrity_check`), and only then given its final name, so a file with our name is always a
 * good copy; rotation keeps the newest N of those and never touches any other file. Restore and vacuum need the
 * agent stopped (the instance lock); restore keeps the replaced database under backups/pre-restore-<time>.db.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { acquireInstanceLock } from '../instance-lock.js';
import type { Db } from './database.js';
import { MIGRATIONS } from './migrations.js';

/** `<database folder>/backups` */
export function backupDir(dbPath: string): string {
  return join(dirname(resolve(dbPath)), 'backups');
}

/** 2026-11-22T03:15:00.123Z → "2026-11-22T031500Z" (UTC, no colons: safe in file names everywhere) */
export function fileTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-22T03:15:00.123Z
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** "data/engine.db" → "engine": backups are named after the database they copy. */
function stemOf(dbPath: string): string {
  const base = basename(dbPath);
  return base.slice(0, base.length - extname(base).length) || base;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Our backup names: `<stem>-YYYY-MM-DDTHHMMSSZ.db`, or `…Z-2.db` for a second one in the same second. */
function backupNamePattern(dbPath: string): RegExp {
  return new RegExp(`^${escapeRegExp(stemOf(dbPath))}-(\\d{4}-\\d{2}-\\d{2}T\\d{6}Z)(?:-(\\d+))?\\.db$`);
}

export interface BackupFile {
  readonly path: string;
  readonly name: string;
  /** bytes */
  readonly size: number;
}

/** Our backups of `dbPath`, oldest first (by the time in the name, then the same-second sequence). */
export function listBackups(dbPath: string): BackupFile[] {
  const dir = backupDir(dbPath);
  if (!existsSync(dir)) return [];
  const pattern = backupNamePattern(dbPath);
  const found: Array<BackupFile & { key: string; seq: number }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const m = pattern.exec(entry.name);
    if (!m || !entry.isFile()) continue;
    const path = join(dir, entry.name);
    found.push({ path, name: entry.name, size: statSync(path).size, key: m[1]!, seq: m[2] ? Number(m[2]) : 1 });
  }
  found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.seq - b.seq));
  return found.map(({ path, name, size }) => ({ path, name, size }));
}

/** A name in `dir` that does not exist yet: `<prefix>-<ts>.db`, then `<prefix>-<ts>-2.db`, … */
function freshName(dir: string, prefix: string, now: number): string {
  const ts = fileTimestamp(now);
  for (let seq = 1; ; seq++) {
    const name = `${prefix}-${ts}${seq === 1 ? '' : `-${seq}`}.db`;
    if (!existsSync(join(dir, name)) && !existsSync(join(dir, `${name}.partial`))) return name;
  }
}

export interface IntegrityResult {
  readonly ok: boolean;
  /** "ok", or the first problems SQLite reported */
  readonly detail: string;
  /** the file's schema version (PRAGMA user_version) */
  readonly schemaVersion: number;
}

/**
 * Open `file` read-only and run `PRAGMA integrity_check`. Never throws for a bad file: an unreadable or
 * non-SQLite file is `{ ok: false }` with the reason. A schema newer than this build knows is not ok either
 * (the agent would refuse to open it).
 */
export function checkIntegrity(file: string): IntegrityResult {
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    const detail = rows.map((r) => r.integrity_check).join('; ');
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    if (detail !== 'ok') return { ok: false, detail, schemaVersion };
    if (schemaVersion > MIGRATIONS.length) return { ok: false, detail: `schema version ${schemaVersion} is newer than this build knows (${MIGRATIONS.length})`, schemaVersion };
    return { ok: true, detail, schemaVersion };
  } catch (error) {
    return { ok: false, detail: (error as Error).message, schemaVersion: 0 };
  } finally {
    db?.close();
  }
}

export interface BackupOptions {
  /** wall clock, ms UTC (names the file) */
  readonly now?: number;
  /**
   * Pages copied per step. The default (100) yields to the event loop between steps: right for the agent's own
   * connection, whose writes SQLite carries into a running backup. A second connection (the CLI) should copy in
   * one step (`'all'`): another connection's write restarts the backup, so small steps could never finish while
   * the agent writes. In WAL mode that one step only holds a read snapshot, so the agent keeps writing.
   */
  readonly pagesPerStep?: number | 'all';
}

export interface BackupResult extends BackupFile {
  /** wall time the copy and the check took, ms */
  readonly durationMs: number;
}

/**
 * Copy the open database `db` (whose file is `dbPath`) to a new, verified backup file. Throws when the copy
 * fails or does not pass the integrity check; the partial file is removed then.
 */
export async function backupDatabase(db: Db, dbPath: string, options: BackupOptions = {}): Promise<BackupResult> {
  const started = performance.now();
  const dir = backupDir(dbPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = freshName(dir, stemOf(dbPath), options.now ?? Date.now());
  const final = join(dir, name);
  const partial = `${final}.partial`;
  try {
    await copyDatabase(db, partial, options.pagesPerStep ?? 100);
    const check = checkIntegrity(partial);
    if (!check.ok) throw new Error(`backup failed its integrity check: ${check.detail}`);
    renameSync(partial, final);
  } catch (error) {
    removeWithSidecars(partial);
    throw error;
  }
  return { path: final, name, size: statSync(final).size, durationMs: performance.now() - started };
}

/**
 * Copy `db` into the new file `dest` (mode 0600) with the backup API, then switch the copy to a rollback journal
 * so it is one self-contained file: a WAL-mode copy would grow -wal/-shm files beside it as soon as anyone opened
 * it, even read-only, and a plain file copy would miss them.
 */
async function copyDatabase(db: Db, dest: string, pagesPerStep: number | 'all'): Promise<void> {
  // Create it empty with 0600 first: SQLite would create it with the umask's mode (often world-readable).
  closeSync(openSync(dest, 'wx', 0o600));
  await db.backup(dest, { progress: () => (pagesPerStep === 'all' ? 0x7fffffff : pagesPerStep) });
  const copy = new Database(dest, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
  chmodSync(dest, 0o600);
  fsyncPath(dest);
}

function removeWithSidecars(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(f, { force: true });
}

/** Open `dbPath` on a second connection and back it up (the CLI's case: the agent may be running and writing). */
export async function backupFile(dbPath: string, options: Omit<BackupOptions, 'pagesPerStep'> = {}): Promise<BackupResult> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return await backupDatabase(db, dbPath, { ...options, pagesPerStep: 'all' });
  } finally {
    db.close();
  }
}

/**
 * Delete our oldest backups beyond the newest `keep`. Only files matching our backup name pattern for this
 * database are considered; pre-restore copies, exports and anything else in the folder are never touched.
 * Returns the deleted files.
 */
export function rotateBackups(dbPath: string, keep: number): BackupFile[] {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`keep must be a whole number ≥ 1, got ${keep}`);
  const all = listBackups(dbPath);
  const doomed = all.slice(0, Math.max(0, all.length - keep));
  for (const f of doomed) rmSync(f.path);
  return doomed;
}

export interface RestoreResult {
  /** the backup that was put in place */
  readonly restored: string;
  /** bytes */
  readonly size: number;
  /** where the replaced database (and its -wal/-shm) went; empty when there was none */
  readonly kept: readonly string[];
}

/**
 * Replace the database at `dbPath` with the backup `file` (default: the newest of ours). Takes the instance
 * lock for the whole operation, so it refuses while the agent runs (InstanceLockedError) and no agent can start
 * half-way. The backup is checked before anything moves; the current database is kept, with its -wal and -shm,
 * as `backups/pre-restore-<time>.db` (renamed, not rewritten: nothing in it is lost or changed).
 */
export async function restoreBackup(dbPath: string, file?: string, now: number = Date.now()): Promise<RestoreResult> {
  const release = acquireInstanceLock(dbPath);
  try {
    const source = file ?? listBackups(dbPath).at(-1)?.path;
    if (source === undefined) throw new Error(`no backups of ${dbPath} in ${backupDir(dbPath)}`);
    if (!existsSync(source)) throw new Error(`${source} does not exist`);
    if (resolve(source) === resolve(dbPath)) throw new Error('cannot restore the database onto itself');
    const check = checkIntegrity(source);
    if (!check.ok) throw new Error(`${source} failed its integrity check, nothing changed: ${check.detail}`);

    // Stage the copy next to the database first: if copying fails, the current database is still in place.
    // Copied through SQLite, not byte by byte, so a source with a -wal of its own (a pre-restore copy) is whole.
    const staged = `${dbPath}.restoring`;
    removeWithSidecars(staged);
    const src = new Database(source, { readonly: true, fileMustExist: true });
    try {
      await copyDatabase(src, staged, 'all');
    } catch (error) {
      removeWithSidecars(staged);
      throw error;
    } finally {
      src.close();
    }

    const kept: string[] = [];
    if (existsSync(dbPath)) {
      const dir = backupDir(dbPath);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const keptMain = join(dir, freshName(dir, 'pre-restore', now));
      for (const suffix of ['', '-wal', '-shm']) {
        if (!existsSync(`${dbPath}${suffix}`)) continue;
        renameSync(`${dbPath}${suffix}`, `${keptMain}${suffix}`);
        kept.push(`${keptMain}${suffix}`);
      }
    }
    renameSync(staged, dbPath);
    fsyncPath(dirname(resolve(dbPath)));
    return { restored: source, size: statSync(dbPath).size, kept };
  } finally {
    release();
  }
}

export interface VacuumResult {
  /** database + WAL bytes before and after */
  readonly before: number;
  readonly after: number;
}

/** VACUUM the database at `dbPath`. Refuses while the agent runs (InstanceLockedError): VACUUM rewrites the file. */
export function vacuumFile(dbPath: string): VacuumResult {
  const release = acquireInstanceLock(dbPath);
  try {
    const before = onDiskSize(dbPath);
    const db = new Database(dbPath, { fileMustExist: true });
    try {
      db.exec('VACUUM');
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
    return { before, after: onDiskSize(dbPath) };
  } finally {
    release();
  }
}

/** bytes of the database file plus its WAL */
export function onDiskSize(dbPath: string): number {
  let total = 0;
  for (const f of [dbPath, `${dbPath}-wal`]) if (existsSync(f)) total += statSync(f).size;
  return total;
}

/** fsync a file or a folder (after a rename into it), so what follows can rely on it being on disk. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** 4_404_019 → "4.2 MB" (decimal units, one decimal) */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1_000;
  let unit = 0;
  while (value >= 1_000 && unit < units.length - 1) {
    value /= 1_000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
