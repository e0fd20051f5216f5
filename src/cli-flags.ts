/** Shared by the command-line tools: flags read with node's parseArgs, validated with zod, one clear error line. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';

/** "BTC/USD,ETH/USD" → ['BTC/USD', 'ETH/USD'] */
export const symbolList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[A-Z0-9]{2,10}\/USD$/, 'symbols look like BTC/USD')).min(1, 'name at least one symbol'));

/**
 * Parse `argv` against `options`, then `schema`. Any problem throws `fail(message)` where the message names the
 * flag and ends with the usage line.
 */
export function parseFlags<S extends z.ZodType>(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>, schema: S, usage: string, fail: (message: string) => Error): z.output<S> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }));
  } catch (error) {
    throw fail(`${(error as Error).message.split('\n')[0]}\n${usage}`);
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = issue.path[0] !== undefined ? `--${String(issue.path[0])}` : 'arguments';
    throw fail(`${flag}: ${issue.message}\n${usage}`);
  }
  return parsed.data;
}
