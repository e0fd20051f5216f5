import { describe, expect, it } from 'vitest';
import { DEFAULT_SYMBOLS, parseTrainArgs } from './args.js';

describe('parseTrainArgs', () => {
  it('has defaults for everything', () => {
    const a = parseTrainArgs([]);
    expect(a).toMatchObject({ data: '../shared/data/binance-1h', trials: 30, seed: 1, db: 'data/engine.db', until: Date.UTC(2023, 0, 1), folds: 3, stride: 3 });
    expect(a.symbols).toEqual(DEFAULT_SYMBOLS);
  });

  it('reads the flags', () => {
    const a = parseTrainArgs(['--data', 'd', '--symbols', 'BTC/USD, ETH/USD', '--until', '2022-06-01', '--trials', '5', '--seed', '9', '--db', '/tmp/x.db', '--train-days', '200']);
    expect(a).toMatchObject({ data: 'd', symbols: ['BTC/USD', 'ETH/USD'], until: Date.UTC(2022, 5, 1), trials: 5, seed: 9, db: '/tmp/x.db', trainDays: 200 });
  });

  it('explains what is wrong', () => {
    expect(() => parseTrainArgs(['--until', '2023-06-01'])).toThrow(/--until: must not be after 2023-01-01: later data is the out-of-sample/);
    expect(() => parseTrainArgs(['--until', '2022-13-45'])).toThrow(/--until: not a real date/);
    expect(() => parseTrainArgs(['--until', 'June'])).toThrow(/--until: use YYYY-MM-DD/);
    expect(() => parseTrainArgs(['--trials', '0'])).toThrow(/--trials: must be at least 1/);
    expect(() => parseTrainArgs(['--trials', 'many'])).toThrow(/--trials: /);
    expect(() => parseTrainArgs(['--trials', '2.5'])).toThrow(/--trials: must be a whole number/);
    expect(() => parseTrainArgs(['--symbols', 'btc'])).toThrow(/--symbols: symbols look like BTC\/USD/);
    expect(() => parseTrainArgs(['--bogus'])).toThrow(/Unknown option '--bogus'[\s\S]*usage: npm run train/);
  });
});
