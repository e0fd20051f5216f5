/**
 * `npm run train`: load the in-sample bars, build the feature matrix once, run the random search and record every
 * trial in the `trials` table. Progress goes to stderr; the run id and the best trial (as JSON) go to stdout.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildFeatureMatrix } from '../../engine/ensemble/dataset.js';
import { columnsToBars, loadCsvDirectoryCached } from '../../engine/market/bar-cache.js';
import type { Bar } from '../../engine/types.js';
import { openDatabase } from '../store/database.js';
import { parseTrainArgs, TrainCliError, type TrainArgs } from './args.js';
import { DEFAULT_SEARCH, runSearch, type SearchResult } from './search.js';

export function train(args: TrainArgs, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): SearchResult {
  const t0 = performance.now();
  const { columns } = loadCsvDirectoryCached(args.data, args.symbols);
  const bars = new Map<string, Bar[]>();
  for (const [symbol, c] of columns) bars.set(symbol, columnsToBars(c).filter((b) => b.ts < args.until));
  const matrix = buildFeatureMatrix(bars, { until: args.until });
  const until = new Date(args.until).toISOString().slice(0, 10);
  log(
    `features: ${matrix.rows} rows × ${matrix.cols} columns from ${args.symbols.length} symbols before ${until} in ${((performance.now() - t0) / 1000).toFixed(1)}s; ` +
      (args.stride > 1 ? `training rows subsampled to one hour in ${args.stride} (UTC hour ≡ 0 mod ${args.stride}) to keep the run short; ` : '') +
      'validation uses every hour',
  );
  const db = openDatabase(args.db);
  try {
    return runSearch(
      matrix,
      {
        ...DEFAULT_SEARCH,
        trials: args.trials,
        seed: args.seed,
        folds: args.folds,
        trainDays: args.trainDays,
        validDays: args.validDays,
        stride: args.stride,
        maxEpochs: args.epochs,
        patience: args.patience,
      },
      { db, log, context: { data: resolve(args.data), symbols: args.symbols, until } },
    );
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  let args: TrainArgs;
  try {
    args = parseTrainArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof TrainCliError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const started = Date.now();
  const result = train(args);
  const ok = result.trials.filter((t) => t.status === 'ok').length;
  process.stderr.write(`${result.trials.length} trials (${ok} ok, ${result.trials.length - ok} failed) in ${((Date.now() - started) / 1000).toFixed(0)}s, recorded in ${args.db} as run ${result.runId}\n`);
  const best = result.best;
  process.stdout.write(
    `${JSON.stringify(
      {
        runId: result.runId,
        best: best ? { trialId: best.id, index: best.index, params: best.params, metrics: { ...best.metrics, folds: undefined }, folds: best.metrics?.folds } : null,
      },
      null,
      2,
    )}\n`,
  );
  if (!best) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`train: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
