import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../test/agent-process.js';
import { dumpTables, populate, tempDbPath } from '../test/store-fixture.js';
import { acquireInstanceLock } from './instance-lock.js';
import { supervisorStateFile, writeSupervisorState } from './supervisor-state.js';
import { checkIntegrity, listBackups } from './store/backup.js';
import { openDatabase } from './store/database.js';

/** `node --import tsx src/db-cli.ts …` with CE_DB set: the real CLI in a child process. */
function dbCli(dbPath: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/db-cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, CE_DB: dbPath, CE_CONFIG: '', LOG_LEVEL: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run db', () => {
  it('backup writes a verified 0600 copy while the agent has the database open, and prints the file and its size', () => {
    const path = tempDbPath('ce-dbcli-');
    const db = openDatabase(path); // "the agent", holding its connection and lock
    populate(db);
    const release = acquireInstanceLock(path);
    try {
      const r = dbCli(path, 'backup');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [backup] = listBackups(path);
      expect(backup).toBeDefined();
      expect(r.stdout).toContain(`Backup written: ${backup!.path} (`);
      expect(r.stdout).toMatch(/\(\d+\.\d kB, \d+\.\d\d s, integrity ok\)/);
      expect(statSync(backup!.path).mode & 0o777).toBe(0o600);
      expect(checkIntegrity(backup!.path).ok).toBe(true);
      const copy = new Database(backup!.path, { readonly: true });
      expect(dumpTables(copy)).toEqual(dumpTables(db));
      copy.close();
    } finally {
      release();
      db.close();
    }
  });

  it('bad arguments: one clear line, the usage, exit 2', () => {
    const path = tempDbPath('ce-dbcli-');
    for (const [args, message] of [
      [['frobnicate'], 'error: the first word must be backup, restore, vacuum or export'],
      [[], 'error: the first word must be backup, restore, vacuum or export'],
      [['backup', 'now'], 'error: backup takes no file argument (got "now")'],
      [['vacuum', '--out', 'x'], 'error: --out is only for export'],
      [['export', '--fast'], "error: Unknown option '--fast'"],
      [['restore', 'a.db', 'b.db'], 'error: too many arguments'],
    ] as const) {
      const r = dbCli(path, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toContain(message);
      expect(lines[1]).toMatch(/^usage: npm run db -- backup \| restore \[FILE\] \| vacuum \| export \[--out DIR\]/);
      expect(lines).toHaveLength(2);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(path)).toBe(false); // nothing was created
  });

  it('restore is refused while the agent runs; after it stops, restores the newest backup and keeps the old database', () => {
    const path = tempDbPath('ce-dbcli-');
    const db = openDatabase(path);
    populate(db);
    db.close();
    expect(dbCli(path, 'backup').code).toBe(0);
    const release = acquireInstanceLock(path);
    const refused = dbCli(path, 'restore');
    release();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^restore refused: another agent \(pid \d+\) is already running on /);

    const r = dbCli(path, 'restore');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Restored ${listBackups(path).at(-1)!.path}`);
    expect(r.stdout).toMatch(/The previous database is kept: .*\/backups\/pre-restore-\d{4}-\d\d-\d\dT\d{6}Z\.db/);
  });

  it('restore and vacuum are refused while a supervisor runs for the database (between two runs of its agent it is unlocked)', () => {
    const path = tempDbPath('ce-dbcli-');
    const db = openDatabase(path);
    populate(db);
    db.close();
    expect(dbCli(path, 'backup').code).toBe(0);
    const state = { childPid: null, restarts: 1, lastExit: { at: new Date().toISOString(), reason: 'signal SIGKILL' }, updatedAt: new Date().toISOString() };
    // This test process stands in for the running supervisor.
    writeSupervisorState(supervisorStateFile(path), { ...state, supervisorPid: process.pid });
    for (const command of ['restore', 'vacuum']) {
      const refused = dbCli(path, command);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`${command} refused: a supervisor (pid ${process.pid}) is running for ${path} and would start the agent on it again. Stop it first (Ctrl-C on npm start, or systemctl stop confidence-engine).\n`);
    }
    expect(dbCli(path, 'backup').code).toBe(0); // a backup is fine while it runs
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    writeSupervisorState(supervisorStateFile(path), { ...state, supervisorPid: gone });
    expect(dbCli(path, 'vacuum').code).toBe(0);
  });

  it('vacuum prints the size before and after; export writes CSV and prints the row counts', () => {
    const path = tempDbPath('ce-dbcli-');
    const db = openDatabase(path);
    populate(db, { decisions: 123 });
    db.close();
    const v = dbCli(path, 'vacuum');
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^Vacuumed .*engine\.db: \d+\.\d kB → \d+\.\d kB/);
    const out = join(dirname(path), 'csv');
    const e = dbCli(path, 'export', '--out', out);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/^Exported \d+ tables to .*csv/);
    expect(e.stdout).toMatch(/^ {2}decisions +123 rows$/m);
    expect(readFileSync(join(out, 'decisions.csv'), 'utf8').split('\r\n')[0]).toBe('id,ts,symbol,strategy,features,signal,intent,verdict,reason,mode,recorded_at');
  });
});
