/** Command-line arguments of `npm run train`, validated with zod. */
import { z } from 'zod';
import { parseFlags, symbolList } from '../cli-flags.js';
import { DEFAULT_SEARCH } from './search.js';

export class TrainCliError extends Error {}

/** Everything before this is in-sample (../shared/data/README.md): training and tuning must stop here. */
export const IN_SAMPLE_END = '2023-01-01';
export const DEFAULT_SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD', 'AVAX/USD', 'BNB/USD', 'DOGE/USD', 'MATIC/USD', 'NEAR/USD'];

export const TRAIN_USAGE =
  'usage: npm run train -- [--data ../shared/data/binance-1h] [--symbols BTC/USD,ETH/USD,…] [--until 2023-01-01] [--trials 30] [--seed 1] [--db data/engine.db]\n' +
  '                        [--folds 3] [--train-days 365] [--valid-days 90] [--stride 3] [--epochs 20] [--patience 3]';

const int = (what: string, min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int(what ? `must be a whole number of ${what}` : 'must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const schema = z.object({
  data: z.string().min(1, 'must name a directory of BTCUSD.csv, ETHUSD.csv, …'),
  symbols: symbolList,
  until: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'use YYYY-MM-DD')
    .transform((s) => Date.parse(`${s}T00:00:00Z`))
    .refine((ms) => Number.isFinite(ms), 'not a real date')
    .refine((ms) => ms <= Date.parse(`${IN_SAMPLE_END}T00:00:00Z`), `must not be after ${IN_SAMPLE_END}: later data is the out-of-sample evaluation window`),
  trials: int('trials', 1, 10_000),
  seed: int('', 0, 2 ** 31 - 1),
  db: z.string().min(1, 'must name a SQLite file (or :memory:)'),
  folds: int('folds', 1, 20),
  'train-days': int('days', 7, 3_650),
  'valid-days': int('days', 1, 3_650),
  stride: int('hours', 1, 24),
  epochs: int('epochs', 1, 1_000),
  patience: int('epochs', 1, 100),
});

export interface TrainArgs {
  readonly data: string;
  readonly symbols: string[];
  /** ms UTC, exclusive */
  readonly until: number;
  readonly trials: number;
  readonly seed: number;
  readonly db: string;
  readonly folds: number;
  readonly trainDays: number;
  readonly validDays: number;
  readonly stride: number;
  readonly epochs: number;
  readonly patience: number;
}

export function parseTrainArgs(argv: readonly string[]): TrainArgs {
  const options = {
    data: { type: 'string', default: '../shared/data/binance-1h' },
    symbols: { type: 'string', default: DEFAULT_SYMBOLS.join(',') },
    until: { type: 'string', default: IN_SAMPLE_END },
    trials: { type: 'string', default: '30' },
    seed: { type: 'string', default: '1' },
    db: { type: 'string', default: 'data/engine.db' },
    folds: { type: 'string', default: String(DEFAULT_SEARCH.folds) },
    'train-days': { type: 'string', default: String(DEFAULT_SEARCH.trainDays) },
    'valid-days': { type: 'string', default: String(DEFAULT_SEARCH.validDays) },
    stride: { type: 'string', default: String(DEFAULT_SEARCH.stride) },
    epochs: { type: 'string', default: String(DEFAULT_SEARCH.maxEpochs) },
    patience: { type: 'string', default: String(DEFAULT_SEARCH.patience) },
  } as const;
  const a = parseFlags(argv, options, schema, TRAIN_USAGE, (m) => new TrainCliError(m));
  return {
    data: a.data,
    symbols: a.symbols,
    until: a.until,
    trials: a.trials,
    seed: a.seed,
    db: a.db,
    folds: a.folds,
    trainDays: a['train-days'],
    validDays: a['valid-days'],
    stride: a.stride,
    epochs: a.epochs,
    patience: a.patience,
  };
}
