import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test/agent-process.js';
import { decision, dumpTables, populate, tempDbPath } from '../../test/store-fixture.js';
import { acquireInstanceLock, InstanceLockedError } from '../instance-lock.js';
import { backupDatabase, backupDir, backupFile, checkIntegrity, fileTimestamp, listBackups, restoreBackup, rotateBackups, vacuumFile } from './backup.js';
import { openDatabase, type Db } from './database.js';
import { SqliteJournal } from './sqlite-journal.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function readOnlyDump(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return dumpTables(db);
  } finally {
    db.close();
  }
}

function writerCount(db: Db): number {
  const row = db.prepare("SELECT value FROM settings WHERE key = 'writer.count'").get() as { value: string } | undefined;
  return row ? Number(row.value) : 0;
}

describe('backup and restore', () => {
  it('names backups by UTC time', () => {
    expect(fileTimestamp(Date.UTC(2026, 10, 22, 3, 15, 0, 999))).toBe('2026-11-22T031500Z');
  });

  it('backup then restore gives back every row of every table; the replaced database is kept whole', async () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db);
    const before = dumpTables(db);
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(13);
    for (const t of ['decisions', 'orders', 'fills', 'positions', 'equity_snapshots', 'risk_events', 'settings', 'audit', 'bars', 'outbox']) expect(before[t]!.length, t).toBeGreaterThan(0);

    const backup = await backupDatabase(db, path, { now: Date.UTC(2026, 10, 22, 3, 15) });
    expect(backup.name).toBe('engine-2026-11-22T031500Z.db');
    expect(statSync(backup.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(backupDir(path))).toEqual([backup.name]); // no -wal/-shm/.partial left beside it
    expect(checkIntegrity(backup.path)).toMatchObject({ ok: true, detail: 'ok' });
    expect(readOnlyDump(backup.path)).toEqual(before);

    // life goes on after the backup: new rows, changed rows
    new SqliteJournal(db, () => Date.UTC(2026, 10, 23), 'paper').recordDecisions([decision(999)]);
    db.prepare("UPDATE settings SET value = '\"changed\"'").run();
    const after = dumpTables(db);
    expect(after).not.toEqual(before);
    db.close();

    const restored = await restoreBackup(path, undefined, Date.UTC(2026, 10, 23, 9));
    expect(restored.restored).toBe(backup.path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readOnlyDump(path)).toEqual(before);
    const keptMain = join(backupDir(path), 'pre-restore-2026-11-23T090000Z.db');
    expect(restored.kept[0]).toBe(keptMain);
    expect(readOnlyDump(keptMain)).toEqual(after); // nothing lost: the replaced database, with its WAL, is intact

    // the restored file opens as the agent opens it, at the current schema
    const reopened = openDatabase(path);
    expect(dumpTables(reopened)).toEqual(before);
    reopened.close();
  });

  it('a backup from a second connection while another process keeps writing is a consistent snapshot', async () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db, { decisions: 2_000 });
    db.close();
    // A separate process writes as fast as it can: each transaction adds a decision and bumps a counter,
    // so a consistent snapshot has exactly `counter` writer rows.
    const writer = spawn(process.execPath, ['-e', `
      const Database = require('better-sqlite3');
      const db = new Database(process.env.WRITER_DB);
      db.pragma('busy_timeout = 5000');
      const ins = db.prepare("INSERT INTO decisions (ts, symbol, strategy, features, signal, verdict, mode, recorded_at) VALUES (?, 'BTC/USD', 'writer', ?, '{}', 'none', 'sim', ?)");
      const bump = db.prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('writer.count', ?, 0, 'writer') ON CONFLICT (key) DO UPDATE SET value = excluded.value");
      const tx = db.transaction((i) => { ins.run(i, 'x'.repeat(1500), Date.now()); bump.run(String(i)); });
      const stopAt = Date.now() + 60000;
      for (let i = 1; Date.now() < stopAt; i++) tx(i);
    `], { cwd: REPO_ROOT, env: { ...process.env, WRITER_DB: path }, stdio: 'ignore' });
    cleanups.push(() => writer.kill());
    const watcher = new Database(path, { readonly: true });
    cleanups.push(() => watcher.close());
    while (writerCount(watcher) < 300) await new Promise((r) => setTimeout(r, 20));

    const atStart = writerCount(watcher);
    const backup = await backupFile(path, { now: Date.UTC(2026, 10, 22, 3, 15) });
    const afterBackup = writerCount(watcher);
    expect(afterBackup).toBeGreaterThan(atStart); // the writer was not blocked

    expect(checkIntegrity(backup.path).ok).toBe(true);
    const copy = new Database(backup.path, { readonly: true });
    const counter = writerCount(copy);
    const rows = (copy.prepare("SELECT count(*) AS n, max(ts) AS last FROM decisions WHERE strategy = 'writer'").get() as { n: number; last: number });
    copy.close();
    expect(counter).toBeGreaterThanOrEqual(atStart);
    expect(rows).toEqual({ n: counter, last: counter });
  });

  it("a backup on the agent's own connection includes writes made between its steps", async () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db, { decisions: 3_000 });
    const journal = new SqliteJournal(db, () => Date.UTC(2026, 10, 1), 'sim');
    let writes = 0;
    let running = true;
    const writeLoop = () => {
      if (!running) return;
      journal.recordDecisions([decision(10_000 + writes)]);
      writes++;
      setImmediate(writeLoop);
    };
    setImmediate(writeLoop);
    const backup = await backupDatabase(db, path, { pagesPerStep: 10 });
    running = false;
    const writesDuring = writes;
    expect(writesDuring).toBeGreaterThan(0); // the steps really interleaved with writes
    expect(checkIntegrity(backup.path).ok).toBe(true);
    const copy = new Database(backup.path, { readonly: true });
    const copyCount = (copy.prepare('SELECT count(*) AS n FROM decisions').get() as { n: number }).n;
    copy.close();
    // everything written up to the last step is in the copy (SQLite carries the same connection's writes along)
    expect(copyCount).toBeGreaterThanOrEqual(3_000 + writesDuring - 1);
    expect(copyCount).toBeLessThanOrEqual(3_000 + writesDuring);
    db.close();
  });

  it('rotation keeps exactly the newest N of our backups and never touches other files', async () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db, { decisions: 5 });
    const made: string[] = [];
    for (let day = 1; day <= 6; day++) made.push((await backupDatabase(db, path, { now: Date.UTC(2026, 10, day, 3, 15) })).name);
    // two in the same second: the second is named …-2 and counts as newer
    made.push((await backupDatabase(db, path, { now: Date.UTC(2026, 10, 6, 3, 15) })).name);
    expect(made.at(-1)).toBe('engine-2026-11-06T031500Z-2.db');
    db.close();
    const dir = backupDir(path);
    const foreign = ['notes.txt', 'pre-restore-2026-10-01T000000Z.db', 'other-2026-10-01T000000Z.db', 'engine-2026-10-01T000000Z.db.partial', 'engine-latest.db', 'engine-2026-10-01T000000Z.db.bak'];
    for (const f of foreign) writeFileSync(join(dir, f), 'keep me');
    mkdirSync(join(dir, 'engine-2026-01-01T000000Z.db')); // a folder with our name pattern: not a backup file

    const deleted = rotateBackups(path, 3);
    expect(deleted.map((f) => f.name)).toEqual(made.slice(0, 4));
    expect(listBackups(path).map((f) => f.name)).toEqual(['engine-2026-11-05T031500Z.db', 'engine-2026-11-06T031500Z.db', 'engine-2026-11-06T031500Z-2.db']);
    for (const f of foreign) expect(readFileSync(join(dir, f), 'utf8')).toBe('keep me');
    expect(existsSync(join(dir, 'engine-2026-01-01T000000Z.db'))).toBe(true);
    expect(rotateBackups(path, 3)).toEqual([]);
    expect(() => rotateBackups(path, 0)).toThrow(/keep/);
  });

  it('restore is refused while the agent holds the lock, and the current database stays as it was', async () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db);
    await backupDatabase(db, path);
    new SqliteJournal(db, () => 1, 'live').recordDecisions([decision(7)]);
    const current = dumpTables(db);
    db.close();

    const release = acquireInstanceLock(path); // "the agent" (this process, alive)
    cleanups.push(release);
    await expect(restoreBackup(path)).rejects.toThrow(InstanceLockedError);
    await expect(restoreBackup(path)).rejects.toThrow(/already running/);
    expect(readOnlyDump(path)).toEqual(current);
    expect(readdirSync(backupDir(path)).filter((f) => f.startsWith('pre-restore'))).toEqual([]);
    expect(existsSync(`${path}.restoring`)).toBe(false);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid)); // the agent's lock is untouched

    release();
    await restoreBackup(path);
    expect(existsSync(`${path}.lock`)).toBe(false); // restore released its own lock
  });

  it("restore keeps a crashed agent's un-checkpointed WAL with the replaced database", async () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db, { decisions: 10 });
    await backupDatabase(db, path);
    db.close();
    // an agent that dies without closing: its last commits live only in engine.db-wal
    const crash = spawn(process.execPath, ['-e', `
      const Database = require('better-sqlite3');
      const db = new Database(process.env.CRASH_DB);
      db.pragma('wal_autocheckpoint = 0');
      db.prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('last.words', '42', 1, 'crash')").run();
      process.kill(process.pid, 'SIGKILL');
    `], { cwd: REPO_ROOT, env: { ...process.env, CRASH_DB: path }, stdio: ['ignore', 'ignore', 'inherit'] });
    await new Promise((r) => crash.on('exit', r));
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);

    const { kept } = await restoreBackup(path);
    expect(kept.some((f) => f.endsWith('.db-wal'))).toBe(true);
    const keptDb = new Database(kept[0]!, { readonly: true });
    expect(keptDb.prepare("SELECT value FROM settings WHERE key = 'last.words'").get()).toEqual({ value: '42' });
    keptDb.close();
    expect(readOnlyDump(path).settings!.some((r) => (r as { key: string }).key === 'last.words')).toBe(false);
  });

  it('restore refuses a backup that fails its integrity check, changing nothing', async () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db);
    const good = await backupDatabase(db, path);
    const current = dumpTables(db);
    db.close();
    const bad = join(backupDir(path), 'engine-2030-01-01T000000Z.db'); // the newest by name: the default choice
    const bytes = readFileSync(good.path);
    bytes.fill(0x5a, 4096 * 2, 4096 * 4); // corrupt two pages after the header
    writeFileSync(bad, bytes);
    await expect(restoreBackup(path)).rejects.toThrow(/integrity check, nothing changed/);
    await expect(restoreBackup(path, join(dirname(path), 'missing.db'))).rejects.toThrow(/does not exist/);
    expect(readOnlyDump(path)).toEqual(current);
    expect(readdirSync(backupDir(path)).some((f) => f.startsWith('pre-restore'))).toBe(false);
    // an explicit good file works
    await restoreBackup(path, good.path);
    expect(readOnlyDump(path)).toEqual(current);
  });

  it('vacuum is refused while the agent runs, and otherwise shrinks a file with free pages', () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    populate(db, { decisions: 5_000 });
    db.prepare('DELETE FROM decisions').run();
    db.close();
    const release = acquireInstanceLock(path);
    cleanups.push(release);
    expect(() => vacuumFile(path)).toThrow(InstanceLockedError);
    release();
    const v = vacuumFile(path);
    expect(v.after).toBeLessThan(v.before);
    expect(checkIntegrity(path).ok).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
