import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from './database.js';
import { MIGRATIONS } from './migrations.js';
import { SqliteStateStore } from './sqlite-journal.js';

function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'ce-db-')), 'nested', 'engine.db');
}

describe('database', () => {
  it('creates the file with mode 0600, in WAL mode, at the latest schema version', () => {
    const path = tempDb();
    const db = openDatabase(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
    for (const t of ['bars', 'decisions', 'orders', 'fills', 'positions', 'equity_snapshots', 'risk_events', 'settings', 'audit', 'outbox']) expect(tables).toContain(t);
    db.close();
  });

  it('reopens without re-running migrations and keeps the data', () => {
    const path = tempDb();
    const first = openDatabase(path);
    new SqliteStateStore(first).set('risk.state', { state: 'HALTED' }, 'test');
    first.close();
    const second = openDatabase(path);
    expect(new SqliteStateStore(second).get('risk.state')).toEqual({ state: 'HALTED' });
    second.close();
  });

  it('refuses a database written by a newer build instead of guessing', () => {
    const path = tempDb();
    const db = openDatabase(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(path)).toThrow(/schema version \d+ is newer than this build knows/);
  });
});
