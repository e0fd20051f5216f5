/**
 * `npm run models -- deploy [--top 10] [--min-improvement 0.001] | rollback | list`: deploy the best training
 * trials from the journal's `trials` table as the ensemble's model set, roll back to the previous set, or list
 * the deployments. Running agents pick a change up by themselves (they watch models/manifest.json).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from './config.js';
import { deployTopTrials, rollback } from './ensemble-deploy.js';
import { openDatabase } from './store/database.js';

const USAGE = 'usage: npm run models -- deploy [--top 10] [--min-improvement 0.001] [--db FILE] | rollback [--db FILE] | list [--db FILE]';

const argsSchema = z.object({
  command: z.enum(['deploy', 'rollback', 'list'], `the first word must be deploy, rollback or list\n${USAGE}`),
  top: z.coerce.number().int().min(1).max(50),
  minImprovement: z.coerce.number().min(0).max(1),
  db: z.string().min(1),
});

function main(argv: readonly string[]): number {
  const { config } = loadConfig();
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { top: { type: 'string', default: '10' }, 'min-improvement': { type: 'string', default: '0.001' }, db: { type: 'string', default: config.store.path } },
  });
  const parsed = argsSchema.safeParse({ command: positionals[0], top: values.top, minImprovement: values['min-improvement'], db: values.db });
  if (!parsed.success) {
    process.stderr.write(`error: ${parsed.error.issues[0]!.message}\n`);
    return 2;
  }
  const a = parsed.data;
  const modelsDir = config.strategy.ensemble.modelsDir;
  const db = openDatabase(a.db);
  try {
    if (a.command === 'list') {
      const rows = db.prepare('SELECT id, created_at, status, trial_ids, reason FROM model_deployments ORDER BY id').all() as Array<{ id: number; created_at: number; status: string; trial_ids: string; reason: string }>;
      if (rows.length === 0) process.stdout.write('No deployments yet.\n');
      for (const r of rows) process.stdout.write(`#${r.id} ${new Date(r.created_at).toISOString()} ${r.status.padEnd(11)} trials ${r.trial_ids} (${r.reason})\n`);
      return 0;
    }
    const result = a.command === 'deploy' ? deployTopTrials(db, { modelsDir, topN: a.top, minImprovement: a.minImprovement, reason: 'npm run models -- deploy' }) : rollback(db, modelsDir);
    if (!result.deployed) {
      process.stderr.write(`not ${a.command === 'deploy' ? 'deployed' : 'rolled back'}: ${result.reason}\n`);
      return 1;
    }
    const m = result.manifest;
    process.stdout.write(`${a.command === 'deploy' ? 'Deployed' : 'Rolled back to'} ${m.models.length} models (${m.models.map((x) => x.id).join(', ')}) into ${modelsDir}/manifest.json; running agents reload it.\n`);
    return 0;
  } finally {
    db.close();
  }
}

process.exit(main(process.argv.slice(2)));
