/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --data DIR|embedded] [-- --repeats N] [-- --seconds S]`
 *
 * Writes the JSON (default bench/results.json) and prints a table. `--quick` is the small run that `npm test`
 * uses so the benchmark cannot rot: the embedded market, a few thousand bars, one repeat.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, runBench, type BenchOptions } from './bench.js';

const DEFAULT_OUT = fileURLToPath(new URL('./results.json', import.meta.url));

class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): BenchOptions & { out: string } {
  let quick = false;
  let out = DEFAULT_OUT;
  let data: string | undefined;
  let repeats: number | undefined;
  let pipelineSeconds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    const positive = (name: string, v: string, integer: boolean) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${name} must be a positive ${integer ? 'whole ' : ''}number, got ${v}`);
      return n;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--out') out = resolve(value());
    else if (arg === '--data') data = value();
    else if (arg === '--repeats') repeats = positive('--repeats', value(), true);
    else if (arg === '--seconds') pipelineSeconds = positive('--seconds', value(), false);
    else throw new UsageError(`unknown argument ${arg}; use --quick, --out FILE, --data DIR|embedded, --repeats N, --seconds S`);
  }
  return { quick, out, ...(data !== undefined ? { data } : {}), ...(repeats !== undefined ? { repeats } : {}), ...(pipelineSeconds !== undefined ? { pipelineSeconds } : {}) };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const result = await runBench(options, (line) => process.stderr.write(`bench: ${line}\n`));
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${formatTable(result)}\nwrote ${options.out}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof UsageError ? error.message : error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
