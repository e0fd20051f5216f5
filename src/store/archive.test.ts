import Database from 'better-sqlite3';
import { parquetWriteFile } from 'hyparquet-writer';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decision, tempDbPath } from '../../test/store-fixture.js';
import type { Mode } from '../../engine/types.js';
import { archiveDecisions, archiveDir, readArchive, type DecisionRow } from './archive.js';
import { openDatabase, schemaVersion, type Db } from './database.js';
import { MIGRATIONS } from './migrations.js';
import { SqliteJournal } from './sqlite-journal.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 22, 3, 15);

function record(db: Db, mode: Mode | null, recordedAt: number, from: number, count: number): void {
  new SqliteJournal(db, () => recordedAt, mode).recordDecisions(Array.from({ length: count }, (_, i) => decision(from + i)));
}

function allRows(db: Db): DecisionRow[] {
  return db.prepare('SELECT id, ts, recorded_at, mode, symbol, strategy, features, signal, intent, verdict, reason FROM decisions ORDER BY id').all() as DecisionRow[];
}

function setup(): { db: Db; path: string } {
  const path = tempDbPath('ce-archive-');
  return { db: openDatabase(path), path };
}

describe('decision mode and recorded time', () => {
  it('SqliteJournal stamps each decision with its mode and the wall clock; without a mode both are unknown to retention', () => {
    const { db } = setup();
    new SqliteJournal(db, () => 1_111, 'paper').recordDecisions([decision(0), decision(1)]);
    new SqliteJournal(db, () => 2_222).recordDecisions([decision(2)]);
    expect(db.prepare('SELECT ts, mode, recorded_at FROM decisions ORDER BY id').all()).toEqual([
      { ts: decision(0).ts, mode: 'paper', recorded_at: 1_111 },
      { ts: decision(1).ts, mode: 'paper', recorded_at: 1_111 },
      { ts: decision(2).ts, mode: null, recorded_at: 2_222 },
    ]);
    expect(() => db.prepare("INSERT INTO decisions (ts, symbol, strategy, features, signal, verdict, mode) VALUES (1, 'X', 's', '{}', '{}', 'none', 'nonsense')").run()).toThrow(/CHECK/);
    db.close();
  });

  it('migration 7 leaves existing decisions with mode and recorded_at NULL, and retention keeps them', async () => {
    const path = tempDbPath('ce-archive-');
    mkdirSync(dirname(path), { recursive: true });
    const v6 = new Database(path);
    for (let v = 1; v <= 6; v++) v6.exec(MIGRATIONS[v - 1]!);
    v6.pragma('user_version = 6');
    v6.prepare("INSERT INTO decisions (ts, symbol, strategy, features, signal, verdict) VALUES (1, 'BTC/USD', 'confidence', '{}', '{}', 'none')").run();
    v6.close();
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(db.prepare('SELECT id, mode, recorded_at FROM decisions').all()).toEqual([{ id: 1, mode: null, recorded_at: null }]);
    expect((await archiveDecisions({ db, dbPath: path, archiveAfterDays: 1, now: NOW })).archived).toBe(0);
    expect(db.prepare('SELECT count(*) AS n FROM decisions').get()).toEqual({ n: 1 });
    db.close();
  });
});

describe('decision archive', () => {
  it('writes old sim/paper decisions to Parquet that reads back with the same rows, then prunes them', async () => {
    const { db, path } = setup();
    record(db, 'sim', NOW - 100 * DAY, 0, 40);
    record(db, 'paper', NOW - 91 * DAY, 40, 20);
    const expected = allRows(db);
    expect(expected.some((r) => r.intent !== null) && expected.some((r) => r.intent === null)).toBe(true);
    expect(expected.some((r) => r.reason !== null && r.reason.includes('"'))).toBe(true);

    const result = await archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW });
    expect(result.archived).toBe(60);
    expect(result.byMode).toEqual({ sim: 40, paper: 20 });
    expect(result.files).toHaveLength(1);
    const file = result.files[0]!;
    expect(file.path).toBe(`${archiveDir(path)}/decisions-2026-08-14T031500Z-2026-08-23T031500Z.parquet`);
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(archiveDir(path))).toEqual([file.path.split('/').at(-1)]); // no .partial left
    expect(await readArchive(file.path)).toEqual(expected); // ids, ts, symbol, strategy, verdict, reason, features, signal, intent, mode, recorded_at
    expect(allRows(db)).toEqual([]);
    db.close();
  });

  it('keeps live rows, rows of unknown mode or time, and rows younger than the cutoff', async () => {
    const { db, path } = setup();
    const cutoff = NOW - 90 * DAY;
    record(db, 'live', NOW - 400 * DAY, 0, 5); // live: forever
    record(db, null, NOW - 400 * DAY, 5, 5); // a journal without a mode: unknown
    record(db, 'backtest', NOW - 400 * DAY, 10, 2); // not a mode retention knows to drop
    db.prepare("INSERT INTO decisions (ts, symbol, strategy, features, signal, verdict, mode, recorded_at) VALUES (1, 'BTC/USD', 'x', '{}', '{}', 'none', 'sim', NULL)").run(); // before migration 7-style: no time
    db.prepare("INSERT INTO decisions (ts, symbol, strategy, features, signal, verdict) VALUES (1, 'BTC/USD', 'x', '{}', '{}', 'none')").run(); // pre-migration row
    record(db, 'sim', cutoff, 20, 3); // exactly at the cutoff: not older, stays
    record(db, 'sim', NOW - DAY, 30, 3); // sim replaying 2020 bars yesterday: market ts is old, but it is young
    record(db, 'paper', NOW, 40, 3);
    const kept = allRows(db);
    record(db, 'sim', cutoff - 1, 50, 4); // one ms too old: goes
    record(db, 'paper', NOW - 365 * DAY, 60, 4);

    const result = await archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW });
    expect(result.archived).toBe(8);
    expect(allRows(db)).toEqual(kept);
    expect(kept.filter((r) => r.ts < Date.UTC(2021, 0, 1)).length).toBeGreaterThan(10); // old market times were kept: age is wall clock
    const archived = await readArchive(result.files[0]!.path);
    expect(archived.map((r) => r.mode).sort()).toEqual(['paper', 'paper', 'paper', 'paper', 'sim', 'sim', 'sim', 'sim']);
    expect(await archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW })).toMatchObject({ archived: 0, files: [] });
    db.close();
  });

  it('a failed archive write deletes nothing', async () => {
    const { db, path } = setup();
    record(db, 'sim', NOW - 200 * DAY, 0, 30);
    const before = allRows(db);
    // the archive folder cannot be made: a file is in its place
    mkdirSync(dirname(archiveDir(path)), { recursive: true });
    writeFileSync(archiveDir(path), 'in the way');
    await expect(archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW })).rejects.toThrow();
    expect(allRows(db)).toEqual(before);
    db.close();
  });

  it('a file that does not read back identically deletes nothing and is removed', async () => {
    const { db, path } = setup();
    record(db, 'sim', NOW - 200 * DAY, 0, 30);
    const before = allRows(db);
    // a writer that silently drops the last row
    const dropsOne = (filename: string, columnData: Parameters<typeof parquetWriteFile>[0]['columnData']) =>
      parquetWriteFile({ filename, columnData: columnData.map((c) => ({ ...c, data: (c.data as unknown[]).slice(0, -1) })) });
    await expect(archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW, writeParquet: dropsOne })).rejects.toThrow(/29 rows instead of 30\); nothing deleted/);
    // a writer that changes one field
    const edits = (filename: string, columnData: Parameters<typeof parquetWriteFile>[0]['columnData']) =>
      parquetWriteFile({ filename, columnData: columnData.map((c) => (c.name === 'verdict' ? { ...c, data: (c.data as string[]).map((v, i) => (i === 7 ? 'approved!' : v)) } : c)) });
    await expect(archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW, writeParquet: edits })).rejects.toThrow(/row 7 .* column verdict/);
    // a writer that throws
    const throws = () => {
      throw new Error('disk full');
    };
    await expect(archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW, writeParquet: throws })).rejects.toThrow('disk full');
    expect(allRows(db)).toEqual(before);
    expect(readdirSync(archiveDir(path))).toEqual([]);
    db.close();
  });

  it('splits a large backlog into several verified files', async () => {
    const { db, path } = setup();
    for (let day = 0; day < 5; day++) record(db, day % 2 ? 'paper' : 'sim', NOW - (100 + day) * DAY, day * 5, 5);
    const expected = allRows(db);
    const result = await archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW, rowsPerFile: 10 });
    expect(result.files.map((f) => f.rows)).toEqual([10, 10, 5]);
    const back = (await Promise.all(result.files.map((f) => readArchive(f.path)))).flat();
    expect(back).toEqual(expected);
    expect(allRows(db)).toEqual([]);
    expect(result.files.every((f) => existsSync(f.path))).toBe(true);
    db.close();
  });

  it('never overwrites an existing archive file', async () => {
    const { db, path } = setup();
    record(db, 'sim', NOW - 100 * DAY, 0, 3);
    const first = await archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW });
    record(db, 'sim', NOW - 100 * DAY, 3, 2); // same recorded time: same name
    const second = await archiveDecisions({ db, dbPath: path, archiveAfterDays: 90, now: NOW });
    expect(second.files[0]!.path).toBe(first.files[0]!.path.replace('.parquet', '-2.parquet'));
    expect((await readArchive(first.files[0]!.path)).length).toBe(3);
    expect((await readArchive(second.files[0]!.path)).length).toBe(2);
    db.close();
  });
});
