/**
 * A small journal for the report tests: four days of hourly bars for two symbols, a consistent book (fills,
 * equity snapshots, the positions table), risk events and confidence decisions with number-free evidence.
 * Imported by stats.test.ts and digest.test.ts; its own sanity checks run only when this file is the test file.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/store/database.js';

export const H = 3_600_000;
/** 2024-03-02 00:00 UTC: the first bar's open */
export const T0 = Date.UTC(2024, 2, 2);
export const BARS = 96;
export const FEE = 0.0025;
export const SYMBOLS = ['BTC/USD', 'ETH/USD'] as const;

export const EVIDENCE = {
  up: [
    'price action leans up; both timeframes agree',
    'momentum is rising on both timeframes',
    'a clear uptrend is in place',
    'volume is heavy',
    'the narrative view is absent: no news input in this mode',
    'this pattern is still too new to judge',
  ].join('; '),
  down: [
    'price action leans down; the timeframes disagree',
    'momentum is falling on the hourly chart but rising on the four-hour chart',
    'the trend points down',
    'volatility is higher than usual',
    'the narrative view is absent: no news input in this mode',
    'this pattern has usually failed before',
    'calibration is still learning, so confidence is held at even odds',
  ].join('; '),
  flat: ['price action has no clear lean; the four-hour chart leans the same way', 'price is range-bound without a clear trend', 'headlines are neutral'].join('; '),
};

export interface FixtureBar {
  symbol: string;
  ts: number;
  open: number;
  close: number;
}
export interface FixtureFill {
  ts: number;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  fee: number;
  realizedPnl: number;
}
export interface FixtureDecision {
  ts: number;
  symbol: string;
  signal: Record<string, string | number | boolean | null>;
}
export interface Journal {
  bars: FixtureBar[];
  fills: FixtureFill[];
  decisions: FixtureDecision[];
  lastTs: number;
  /** the buys' decisions: confidence and volatility label at entry, by fill bar index */
  entries: Record<number, { confidence: number; volatility: string }>;
}

export function closeOf(symbol: string, i: number): number {
  return symbol === 'BTC/USD' ? 60_000 * (1 + 0.03 * Math.sin(i / 5) + 0.001 * i) : 3_000 * (1 + 0.04 * Math.cos(i / 7) - 0.0007 * i);
}

/** Trades: [bar index, symbol, buy notional USD | 'sell all' | 'sell half']. */
const TRADES: Array<[number, string, number | 'all' | 'half']> = [
  [10, 'BTC/USD', 3_000],
  [30, 'BTC/USD', 'all'],
  [50, 'ETH/USD', 4_000],
  [74, 'ETH/USD', 'half'],
  [76, 'BTC/USD', 2_500],
  [80, 'ETH/USD', 'all'],
  [90, 'ETH/USD', 1_000],
  [93, 'ETH/USD', 'all'],
];
const ENTRIES: Record<number, { confidence: number; volatility: string }> = {
  10: { confidence: 0.62, volatility: 'high' },
  50: { confidence: 0.57, volatility: 'low' },
  76: { confidence: 0.52, volatility: 'medium' },
  90: { confidence: 0.58, volatility: 'extreme' },
};
const VOL = ['low', 'medium', 'high', 'extreme'];
const TREND = ['up', 'sideways', 'down'];
const MOM = ['rising', 'flat', 'falling'];

export function buildJournal(db: Db): Journal {
  const bars: FixtureBar[] = [];
  const fills: FixtureFill[] = [];
  const decisions: FixtureDecision[] = [];
  const insertBar = db.prepare('INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insertFill = db.prepare('INSERT INTO fills (client_order_id, ts, symbol, side, qty, price, fee, realized_pnl) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertEquity = db.prepare('INSERT INTO equity_snapshots (ts, equity, cash, exposure) VALUES (?, ?, ?, ?)');
  const insertDecision = db.prepare('INSERT INTO decisions (ts, symbol, strategy, features, signal, intent, verdict, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertRisk = db.prepare('INSERT INTO risk_events (ts, kind, symbol, reason, detail) VALUES (?, ?, ?, ?, ?)');
  const book = new Map<string, { qty: number; cost: number }>();
  let cash = 10_000;
  db.transaction(() => {
    for (let i = 0; i < BARS; i++) {
      const ts = T0 + i * H;
      for (const symbol of SYMBOLS) {
        const close = closeOf(symbol, i);
        const open = i === 0 ? close : closeOf(symbol, i - 1);
        insertBar.run(symbol, ts, open, Math.max(open, close) * 1.001, Math.min(open, close) * 0.999, close, 100 + i);
        bars.push({ symbol, ts, open, close });
      }
      // fills at this bar's open
      for (const [at, symbol, what] of TRADES) {
        if (at !== i) continue;
        const price = closeOf(symbol, i - 1);
        const pos = book.get(symbol) ?? { qty: 0, cost: 0 };
        if (typeof what === 'number') {
          const qty = what / (price * (1 + FEE));
          const fee = qty * price * FEE;
          cash -= qty * price + fee;
          pos.qty += qty;
          pos.cost += qty * price + fee;
          fills.push({ ts, symbol, side: 'buy', qty, price, fee, realizedPnl: 0 });
        } else {
          const qty = what === 'all' ? pos.qty : pos.qty / 2;
          const fee = qty * price * FEE;
          const avg = pos.cost / pos.qty;
          const realizedPnl = qty * price - fee - qty * avg;
          cash += qty * price - fee;
          pos.cost -= qty * avg;
          pos.qty -= qty;
          fills.push({ ts, symbol, side: 'sell', qty, price, fee, realizedPnl });
        }
        book.set(symbol, pos);
        const f = fills[fills.length - 1]!;
        insertFill.run(`c-${i}-${symbol}`, f.ts, f.symbol, f.side, f.qty, f.price, f.fee, f.realizedPnl);
      }
      // decisions at this bar's close (the buy filled at i was decided at i − 1)
      SYMBOLS.forEach((symbol, k) => {
        const wave = Math.sin(i / 3 + k * 1.7);
        const direction = wave > 0.3 ? 'up' : wave < -0.3 ? 'down' : 'flat';
        const entry = ENTRIES[i + 1] && TRADES.some(([at, s]) => at === i + 1 && s === symbol) ? ENTRIES[i + 1]! : undefined;
        const signal = {
          direction: entry ? 'up' : direction,
          quality: 6,
          conviction: 5,
          calibrated: 0.55,
          confidence: entry ? entry.confidence : 0.5 + 0.05 * Math.abs(wave),
          pattern: `p${(i + k) % 5}`,
          volatility: entry ? entry.volatility : VOL[(i + k) % 4]!,
          trend: TREND[(i + k) % 3]!,
          momentum: MOM[(i + 2 * k) % 3]!,
          volume: 'normal',
          entryTier: Boolean(entry),
          evidence: EVIDENCE[entry ? 'up' : direction],
        };
        decisions.push({ ts, symbol, signal });
        const intent = entry ? { symbol, side: 'buy', notional: 1_000, source: 'strategy', reason: 'confidence: an up signal met every threshold for two scans' } : null;
        insertDecision.run(ts, symbol, 'confidence', '{}', JSON.stringify(signal), intent ? JSON.stringify(intent) : null, intent ? 'approved' : 'none', null);
      });
      let exposure = 0;
      for (const [symbol, pos] of book) exposure += pos.qty * closeOf(symbol, i);
      insertEquity.run(ts, cash + exposure, cash, exposure);
    }
    for (const [symbol, pos] of book) if (pos.qty > 1e-12) db.prepare('INSERT INTO positions (symbol, qty, avg_cost, updated_at) VALUES (?, ?, ?, ?)').run(symbol, pos.qty, pos.cost / pos.qty, T0 + 76 * H);
    insertRisk.run(T0 + 20 * H, 'denied', 'BTC/USD', 'max open positions reached (2 of 2)', null);
    insertRisk.run(T0 + 73 * H, 'denied', 'ETH/USD', 'max open positions reached (2 of 2)', null);
    insertRisk.run(T0 + 73 * H, 'resized', 'BTC/USD', 'trade above the $500 cap: resized to $500', '{"from":1000}');
    insertRisk.run(T0 + 85 * H, 'protection', 'ETH/USD', 'stop-loss at -5% of the entry', null);
    insertRisk.run(T0 + 88 * H, 'state-change', null, 'daily loss limit hit: paused until the next UTC day', null);
  })();
  return { bars, fills, decisions, lastTs: T0 + (BARS - 1) * H, entries: ENTRIES };
}

const isMain = fileURLToPath(import.meta.url) === expect.getState().testPath;

if (isMain) describe('report test journal', () => {
  it('is a consistent book: equity = cash + exposure, the held position in the positions table', () => {
    const db = openDatabase(':memory:');
    try {
      const j = buildJournal(db);
      const rows = db.prepare('SELECT equity, cash, exposure FROM equity_snapshots').all() as Array<{ equity: number; cash: number; exposure: number }>;
      expect(rows).toHaveLength(BARS);
      for (const r of rows) expect(r.equity).toBeCloseTo(r.cash + r.exposure, 9);
      expect(db.prepare('SELECT symbol FROM positions').all()).toEqual([{ symbol: 'BTC/USD' }]);
      expect(j.fills.filter((f) => f.side === 'sell')).toHaveLength(4);
      for (const d of j.decisions) expect(String(d.signal.evidence)).not.toMatch(/\d/);
    } finally {
      db.close();
    }
  });
});
