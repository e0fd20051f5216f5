/** Realized P&L traced to the entry behind it: hand-made fills and decisions. */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/store/database.js';
import { attributeRealized, confidenceTier, signalTier } from './attribution.js';

const H = 3_600_000;
const dbs: Db[] = [];
afterEach(() => {
  while (dbs.length) dbs.pop()!.close();
});

function journal() {
  const db = openDatabase(':memory:');
  dbs.push(db);
  const fill = (ts: number, symbol: string, side: 'buy' | 'sell', qty: number, pnl = 0) =>
    db.prepare('INSERT INTO fills (client_order_id, ts, symbol, side, qty, price, fee, realized_pnl) VALUES (?, ?, ?, ?, ?, 100, 0, ?)').run(`c${ts}${symbol}${side}`, ts, symbol, side, qty, pnl);
  const decide = (ts: number, symbol: string, strategy: string, signal: object, buy: boolean) =>
    db
      .prepare('INSERT INTO decisions (ts, symbol, strategy, features, signal, intent, verdict, reason) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)')
      .run(ts, symbol, strategy, '{}', JSON.stringify(signal), buy ? JSON.stringify({ symbol, side: 'buy', notional: 100 }) : null, buy ? 'approved' : 'none');
  return { db, fill, decide };
}

describe('attributeRealized', () => {
  it('traces each sell to the buy that opened the position and the approved buy decision before it', () => {
    const { db, fill, decide } = journal();
    decide(0, 'A', 'confidence', { confidence: 0.61, volatility: 'high' }, true);
    decide(1 * H, 'A', 'confidence', { confidence: 0.9, volatility: 'low' }, false); // no buy intent: not the entry
    fill(1 * H, 'A', 'buy', 2);
    fill(3 * H, 'A', 'buy', 1); // adds to the open position: same entry
    fill(5 * H, 'A', 'sell', 1.5, 10);
    fill(6 * H, 'A', 'sell', 1.5, -4); // flat
    decide(9 * H, 'A', 'confidence', { confidence: 0.51, volatility: 'medium' }, true);
    fill(10 * H, 'A', 'buy', 1);
    fill(12 * H, 'A', 'sell', 1, 3);
    fill(13 * H, 'B', 'sell', 1, 7); // a position from before the journal
    decide(14 * H, 'C', 'momentum', { rank: 2, selected: true }, true);
    fill(15 * H, 'C', 'buy', 1);
    fill(16 * H, 'C', 'sell', 1, -1);
    fill(40 * H, 'D', 'buy', 1); // its decision is more than a day old
    decide(10 * H, 'D', 'confidence', { confidence: 0.7, volatility: 'low' }, true);
    fill(41 * H, 'D', 'sell', 1, 2);
    const a = attributeRealized(db, 0, 100 * H);
    expect(a.sells.map((s) => [s.symbol, s.openTs, s.decisionTs, s.tier, s.regime])).toEqual([
      ['A', 1 * H, 0, '≥0.60', 'high'],
      ['A', 1 * H, 0, '≥0.60', 'high'],
      ['A', 10 * H, 9 * H, '0.50–0.55', 'medium'],
      ['B', null, null, 'unknown', 'unknown'],
      ['C', 15 * H, 14 * H, 'rank 2', 'n/a'],
      ['D', 40 * H, null, 'unknown', 'unknown'],
    ]);
    expect(a.totalRealizedUsd).toBe(17);
    expect(a.byTier).toEqual([
      { key: '0.50–0.55', realizedUsd: 3, sells: 1, wins: 1 },
      { key: '≥0.60', realizedUsd: 6, sells: 2, wins: 1 },
      { key: 'rank 2', realizedUsd: -1, sells: 1, wins: 0 },
      { key: 'unknown', realizedUsd: 9, sells: 2, wins: 2 },
    ]);
    expect(a.byRegime.map((b) => b.key)).toEqual(['medium', 'high', 'n/a', 'unknown']);
    // the window keeps only its sells, but entries are found before it
    expect(attributeRealized(db, 5 * H, 12 * H).sells.map((s) => [s.ts, s.tier])).toEqual([
      [6 * H, '≥0.60'],
      [12 * H, '0.50–0.55'],
    ]);
  });

  it('tiers', () => {
    expect([0.49, 0.5, 0.549, 0.55, 0.6, 0.8].map(confidenceTier)).toEqual(['<0.50', '0.50–0.55', '0.50–0.55', '0.55–0.60', '≥0.60', '≥0.60']);
    expect(signalTier({ tier: 'A' })).toBe('tier A');
    expect(signalTier({ phase: 'hold' })).toBe('n/a');
  });
});
