import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decision, populate, tempDbPath } from '../../test/store-fixture.js';
import { archiveDir, readArchive } from './archive.js';
import { backupDir, listBackups } from './backup.js';
import { openDatabase, type Db } from './database.js';
import { runNightlyMaintenance, scheduleMaintenance, type MaintenanceSummary } from './maintenance.js';
import { SqliteJournal } from './sqlite-journal.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 22, 3, 15);

afterEach(() => {
  vi.useRealTimers();
});

function setup(): { db: Db; path: string } {
  const path = tempDbPath('ce-maint-');
  const db = openDatabase(path);
  populate(db, { decisions: 1_200, mode: 'sim', wallNow: () => NOW - 120 * DAY }); // old sim decisions
  new SqliteJournal(db, () => NOW - 120 * DAY, 'live').recordDecisions([decision(1), decision(2)]);
  return { db, path };
}

const count = (db: Db, where = '1') => (db.prepare(`SELECT count(*) AS n FROM decisions WHERE ${where}`).get() as { n: number }).n;

describe('nightly maintenance', () => {
  it('backs up, rotates, archives and prunes, and says so in one line with units', async () => {
    const { db, path } = setup();
    const deps = { db, dbPath: path, keep: 2, archiveAfterDays: 90 };
    const first = await runNightlyMaintenance({ ...deps, now: () => NOW });
    expect(first.ok).toBe(true);
    expect(first.text).toMatch(/^Backup engine-2026-11-22T031500Z\.db \d+\.\d kB in \d+\.\d s \(1 kept\); archived 1,200 sim decisions older than 90 days to archive\/decisions-2026-07-25T031500Z-2026-07-25T031500Z\.parquet \(\d+\.\d kB\), pruned them$/);
    expect(count(db)).toBe(2);
    expect(count(db, "mode = 'live'")).toBe(2);
    expect(first.archive.ok && (await readArchive(first.archive.value.files[0]!.path)).length).toBe(1_200);

    await runNightlyMaintenance({ ...deps, now: () => NOW + DAY });
    const third = await runNightlyMaintenance({ ...deps, now: () => NOW + 2 * DAY });
    expect(third.text).toBe(third.text.split('; ')[0] + '; no sim/paper decisions older than 90 days to archive');
    expect(third.text).toMatch(/\(2 kept, 1 older deleted\)/);
    expect(listBackups(path).map((f) => f.name)).toEqual(['engine-2026-11-23T031500Z.db', 'engine-2026-11-24T031500Z.db']);
    db.close();
  });

  it('a failing backup does not stop the archive', async () => {
    const { db, path } = setup();
    mkdirSync(dirname(backupDir(path)), { recursive: true });
    writeFileSync(backupDir(path), 'in the way');
    const s = await runNightlyMaintenance({ db, dbPath: path, keep: 3, archiveAfterDays: 90, now: () => NOW });
    expect(s.ok).toBe(false);
    expect(s.backup.ok).toBe(false);
    expect(s.archive.ok).toBe(true);
    expect(s.text).toMatch(/^Backup FAILED: .*; archived 1,200 sim decisions/);
    expect(count(db)).toBe(2);
    db.close();
  });

  it('a failing archive prunes nothing and does not stop the backup', async () => {
    const { db, path } = setup();
    mkdirSync(dirname(archiveDir(path)), { recursive: true });
    writeFileSync(archiveDir(path), 'in the way');
    const errors: string[] = [];
    const log = { info: () => undefined, error: (o: object) => void errors.push(JSON.stringify(o)) } as never;
    const s = await runNightlyMaintenance({ db, dbPath: path, keep: 3, archiveAfterDays: 90, now: () => NOW, log });
    expect(s.backup.ok).toBe(true);
    expect(s.archive.ok).toBe(false);
    expect(s.text).toMatch(/^Backup engine-.*\.db .* kB .*; archive FAILED, nothing pruned: /);
    expect(count(db)).toBe(1_202);
    expect(errors).toHaveLength(1);
    expect(listBackups(path)).toHaveLength(1);
    db.close();
  });

  it('runs at the cron time in the reports time zone, and stops', async () => {
    // only the clock and timers node-cron uses are faked: the backup API steps on setImmediate
    vi.useFakeTimers({ now: Date.UTC(2026, 6, 1, 0, 0), toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const { db, path } = setup();
    let resolveRun!: (s: MaintenanceSummary) => void;
    const ran = new Promise<MaintenanceSummary>((r) => (resolveRun = r));
    const results: MaintenanceSummary[] = [];
    const schedule = scheduleMaintenance(
      { store: { path, maintenanceCron: '15 3 * * *', backupKeep: 7, archiveAfterDays: 90 }, reports: { timezone: 'Europe/Berlin' } },
      { db },
      (s) => {
        results.push(s);
        resolveRun(s);
      },
      (e) => {
        throw e;
      },
    );
    expect(schedule.next()).toBe(Date.UTC(2026, 6, 1, 1, 15)); // 03:15 in Berlin in July is 01:15 UTC
    await vi.advanceTimersByTimeAsync(74 * 60_000); // 01:14 UTC: not yet
    expect(results).toEqual([]);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    const summary = await ran;
    expect(summary.backup.ok && summary.backup.value.name).toBe('engine-2026-07-01T011500Z.db');
    await schedule.stop();
    await vi.advanceTimersByTimeAsync(3 * DAY);
    expect(results).toHaveLength(1);
    db.close();
  });
});
