import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { SqliteJournal } from './sqlite-journal.js';

const HOUR = 3_600_000;
const good = { ts: 5 * HOUR, open: 100, high: 101, low: 99, close: 100.5, volume: 3 };

describe('SqliteJournal.recordFlaggedBar', () => {
  it('keeps every flagged bar as received, and never overwrites the traded bar of its hour', () => {
    const db = openDatabase(':memory:');
    const journal = new SqliteJournal(db, () => 42);
    journal.recordBars({ ts: good.ts, bars: new Map([['BTC/USD', good]]) });
    journal.recordFlaggedBar('BTC/USD', { ...good, close: 150 }, 'duplicate: a second bar for the hour', false);
    journal.recordFlaggedBar('ETH/USD', { ...good, close: Number.NaN, volume: Number.POSITIVE_INFINITY }, 'not-finite: close is NaN', false);
    journal.recordFlaggedBar('SOL/USD', { ...good, close: 180 }, 'jump: 40σ', true);

    expect(db.prepare('SELECT symbol, close, flag FROM bars ORDER BY symbol').all()).toEqual([
      { symbol: 'BTC/USD', close: 100.5, flag: null }, // the bar traded on is untouched
      { symbol: 'SOL/USD', close: 180, flag: 'jump: 40σ' },
    ]);
    const rows = db.prepare('SELECT recorded_at, symbol, ts, close, volume, raw, flag FROM flagged_bars ORDER BY id').all() as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.symbol, r.close, r.flag])).toEqual([
      ['BTC/USD', 150, 'duplicate: a second bar for the hour'],
      ['ETH/USD', null, 'not-finite: close is NaN'],
      ['SOL/USD', 180, 'jump: 40σ'],
    ]);
    expect(JSON.parse(rows[1]!.raw as string)).toEqual({ ts: good.ts, open: 100, high: 101, low: 99, close: 'NaN', volume: 'Infinity' });
    expect(rows.every((r) => r.recorded_at === 42 && r.ts === good.ts)).toBe(true);
  });
});
