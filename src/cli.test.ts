import { describe, expect, it } from 'vitest';
import { CliError, parseBacktestArgs } from './cli.js';

describe('backtest arguments', () => {
  it('default to the out-of-sample window and a single run', () => {
    const { request } = parseBacktestArgs(['--data', 'd']);
    expect(new Date(request.from).toISOString()).toBe('2023-01-01T00:00:00.000Z');
    expect(new Date(request.to).toISOString()).toBe('2024-04-18T00:00:00.000Z');
    expect(request.walkForward).toBeUndefined();
    expect(request.strategies).toEqual(['buyhold']);
  });

  it('--walk-forward defaults to 180 training days and 30 test days; both can be set', () => {
    expect(parseBacktestArgs(['--data', 'd', '--walk-forward']).request.walkForward).toEqual({ trainDays: 180, testDays: 30 });
    expect(parseBacktestArgs(['--data', 'd', '--walk-forward', '--train-days', '90', '--test-days', '7']).request.walkForward).toEqual({ trainDays: 90, testDays: 7 });
  });

  it('--compare puts each strategy once after --strategy', () => {
    expect(parseBacktestArgs(['--data', 'd', '--strategy', 'confidence', '--compare', 'buyhold,confidence,momentum']).request.strategies).toEqual(['confidence', 'buyhold', 'momentum']);
  });

  it('says what is wrong', () => {
    expect(() => parseBacktestArgs(['--data', 'd', '--train-days', '90'])).toThrow(/--train-days and --test-days need --walk-forward/);
    expect(() => parseBacktestArgs(['--data', 'd', '--walk-forward', '--test-days', '1.5'])).toThrow(/--test-days: must be a whole number of days/);
    expect(() => parseBacktestArgs(['--data', 'd', '--strategy', 'ensembel'])).toThrow(/unknown strategy "ensembel"; available: buyhold, momentum, meanrev, 6040, confidence, ensemble/);
    expect(() => parseBacktestArgs(['--data', 'd', '--from', '2024-13-01'])).toThrow(CliError);
    expect(() => parseBacktestArgs(['--data', 'd', '--from', '2024-02-01', '--to', '2024-01-01'])).toThrow(/--from must not be after --to/);
  });
});
