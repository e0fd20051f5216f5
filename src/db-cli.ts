/**
 * `npm run db -- backup | restore [FILE] | vacuum | export [--out DIR]`: operate on the journal database (CE_DB, else
 * `store.path` in config; `--db FILE` overrides both).
 * - backup: online copy into <db folder>/backups (safe while the agent runs), rotated to `store.backupKeep`.
 * - restore: put a backup (default: the newest) in place; refused while the agent runs; the old database is kept.
 * - vacuum: compact the file; refused while the agent runs.
 * - export: every table as CSV into a folder (default <db folder>/export-<time>/); safe while the agent runs.
 * Exit codes: 0 done, 1 refused or failed, 2 bad arguments.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';
import { InstanceLockedError } from './instance-lock.js';
import { liveSupervisorPid } from './supervisor-state.js';
import { backupFile, fileTimestamp, formatBytes, restoreBackup, rotateBackups, vacuumFile } from './store/backup.js';
import { exportCsv } from './store/export.js';

const USAGE = 'usage: npm run db -- backup | restore [FILE] | vacuum | export [--out DIR]   (all take [--db FILE]; default CE_DB or store.path)';

const argsSchema = z
  .object({
    command: z.enum(['backup', 'restore', 'vacuum', 'export'], 'the first word must be backup, restore, vacuum or export'),
    file: z.string().min(1).optional(),
    out: z.string().min(1, '--out needs a folder').optional(),
    db: z.string().min(1, '--db needs a file'),
    extra: z.array(z.string()).max(0, 'too many arguments'),
  })
  .superRefine((a, ctx) => {
    if (a.file !== undefined && a.command !== 'restore') ctx.addIssue({ code: 'custom', message: `${a.command} takes no file argument (got "${a.file}")` });
    if (a.out !== undefined && a.command !== 'export') ctx.addIssue({ code: 'custom', message: '--out is only for export' });
  });

type Args = z.output<typeof argsSchema>;

class UsageError extends Error {}

function parse(argv: readonly string[], defaultDb: string): Args {
  let values: { out?: string | undefined; db?: string | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { out: { type: 'string' }, db: { type: 'string' } } }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const [command, file, ...extra] = positionals;
  const parsed = argsSchema.safeParse({ command, file, out: values.out, db: values.db ?? defaultDb, extra });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  return parsed.data;
}

async function main(argv: readonly string[]): Promise<number> {
  let defaultDb: string;
  try {
    defaultDb = loadConfig().config.store.path;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  let a: Args;
  try {
    a = parse(argv, defaultDb);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  try {
    return await run(a, out);
  } catch (error) {
    const refused = error instanceof InstanceLockedError ? `${a.command} refused: ` : `${a.command} failed: `;
    process.stderr.write(`${refused}${(error as Error).message}\n`);
    return 1;
  }
}

async function run(a: Args, out: (line: string) => void): Promise<number> {
  const needsDb = a.command !== 'restore';
  if (needsDb && !existsSync(a.db)) {
    process.stderr.write(`${a.command} failed: no database at ${a.db} (set CE_DB or --db)\n`);
    return 1;
  }
  const supervisor = a.command === 'restore' || a.command === 'vacuum' ? liveSupervisorPid(a.db) : undefined;
  if (supervisor !== undefined) {
    process.stderr.write(
      `${a.command} refused: a supervisor (pid ${supervisor}) is running for ${a.db} and would start the agent on it again. Stop it first (Ctrl-C on npm start, or systemctl stop confidence-engine).\n`,
    );
    return 1;
  }
  switch (a.command) {
    case 'backup': {
      const { config } = loadConfig();
      const b = await backupFile(a.db);
      out(`Backup written: ${b.path} (${formatBytes(b.size)}, ${(b.durationMs / 1000).toFixed(2)} s, integrity ok)`);
      for (const f of rotateBackups(a.db, config.store.backupKeep)) out(`Deleted old backup ${f.name} (keeping ${config.store.backupKeep})`);
      return 0;
    }
    case 'restore': {
      const r = await restoreBackup(a.db, a.file);
      out(`Restored ${r.restored} (${formatBytes(r.size)}, integrity ok) to ${a.db}, mode 0600.`);
      if (r.kept.length === 0) out('There was no database there before; nothing else changed.');
      else out(`The previous database is kept: ${r.kept.join(', ')}`);
      return 0;
    }
    case 'vacuum': {
      const v = vacuumFile(a.db);
      out(`Vacuumed ${a.db}: ${formatBytes(v.before)} → ${formatBytes(v.after)} (database + WAL)`);
      return 0;
    }
    case 'export': {
      const dir = a.out ?? join(dirname(resolve(a.db)), `export-${fileTimestamp(Date.now())}`);
      const e = exportCsv(a.db, dir);
      const total = e.tables.reduce((s, t) => s + t.size, 0);
      out(`Exported ${e.tables.length} tables to ${e.dir} (${formatBytes(total)}, ${(e.durationMs / 1000).toFixed(2)} s):`);
      const width = Math.max(...e.tables.map((t) => t.table.length));
      for (const t of e.tables) out(`  ${t.table.padEnd(width)} ${t.rows.toLocaleString('en-US').padStart(10)} rows`);
      return 0;
    }
  }
}

process.exit(await main(process.argv.slice(2)));
