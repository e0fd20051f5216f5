/** Command-line arguments of `npm run backtest` (ARCHITECTURE.md §3), validated with zod. */
import { z } from 'zod';
import { STRATEGY_NAMES, sixtyFortyWeights } from '../engine/strategy/index.js';
import type { BacktestRequest } from './backtest.js';
import { parseFlags, symbolList } from './cli-flags.js';

export class CliError extends Error {}

/** The out-of-sample window of ../shared/data/README.md: everything before it is for tuning and training. */
export const DEFAULT_EVALUATION = { from: '2023-01-01', to: '2024-04-18' } as const;

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'use YYYY-MM-DD')
  .transform((s) => Date.parse(`${s}T00:00:00Z`))
  .refine((ms) => Number.isFinite(ms), 'not a real date');

const strategyName = z.string().transform((name, ctx) => {
  if ((STRATEGY_NAMES as readonly string[]).includes(name)) return name as (typeof STRATEGY_NAMES)[number];
  ctx.addIssue({
    code: 'custom',
    message: `unknown strategy "${name}"; available: ${STRATEGY_NAMES.join(', ')}`,
  });
  return z.NEVER;
});

const backtestSchema = z
  .object({
    data: z.string().min(1, 'is required (a directory of BTCUSD.csv, ETHUSD.csv, …)'),
    symbols: symbolList,
    from: day,
    to: day,
    strategy: strategyName,
    compare: z
      .string()
      .optional()
      .transform((s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []))
      .pipe(z.array(strategyName)),
    json: z.string().optional(),
    equity: z.coerce.number().positive('must be a positive number of USD').optional(),
    'walk-forward': z.boolean().optional(),
    'train-days': z.coerce.number().int('must be a whole number of days').min(1).max(3_650).optional(),
    'test-days': z.coerce.number().int('must be a whole number of days').min(1).max(3_650).optional(),
  })
  .refine((a) => a.from <= a.to, { message: '--from must not be after --to', path: ['from'] })
  .superRefine((a, ctx) => {
    // 6040 holds BTC/USD and ETH/USD: refuse a universe with neither before any bar is read.
    if (![a.strategy, ...a.compare].includes('6040')) return;
    try {
      sixtyFortyWeights(a.symbols);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['symbols'], message: (error as Error).message });
    }
  });

export interface BacktestCli {
  readonly request: Omit<BacktestRequest, 'equity'> & { equity: number | undefined };
  readonly json: string | undefined;
}

export function parseBacktestArgs(argv: readonly string[]): BacktestCli {
  const options = {
    data: { type: 'string' },
    symbols: { type: 'string', default: 'BTC/USD,ETH/USD,SOL/USD,LINK/USD' },
    from: { type: 'string', default: DEFAULT_EVALUATION.from },
    to: { type: 'string', default: DEFAULT_EVALUATION.to },
    strategy: { type: 'string', default: 'buyhold' },
    compare: { type: 'string' },
    json: { type: 'string' },
    equity: { type: 'string' },
    'walk-forward': { type: 'boolean' },
    'train-days': { type: 'string' },
    'test-days': { type: 'string' },
  } as const;
  const a = parseFlags(argv, options, backtestSchema, BACKTEST_USAGE, (m) => new CliError(m));
  if (!a['walk-forward'] && (a['train-days'] !== undefined || a['test-days'] !== undefined)) throw new CliError(`--train-days and --test-days need --walk-forward\n${BACKTEST_USAGE}`);
  const walkForward = a['walk-forward'] ? { trainDays: a['train-days'] ?? 180, testDays: a['test-days'] ?? 30 } : undefined;
  return {
    request: {
      data: a.data,
      symbols: a.symbols,
      from: a.from,
      to: a.to,
      strategies: [a.strategy, ...a.compare.filter((s) => s !== a.strategy)],
      equity: a.equity,
      ...(walkForward ? { walkForward } : {}),
    },
    json: a.json,
  };
}

export const BACKTEST_USAGE =
  'usage: npm run backtest -- --data DIR [--from 2023-01-01] [--to 2024-04-18] [--symbols BTC/USD,ETH/USD] [--strategy buyhold] [--compare a,b] [--walk-forward [--train-days 180] [--test-days 30]] [--equity 10000] [--json OUT]';
