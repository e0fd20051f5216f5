import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildSimEngine } from '../../src/engine-factory.js';
import { openDatabase, type Db } from '../../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../../src/store/sqlite-journal.js';
import { SimClock } from '../clock.js';
import type { NotificationKind } from '../ports.js';
import type { Bar, BarBatch, RiskState, Symbol } from '../types.js';
import { RISK_STATE_KEY } from './gate.js';
import type { RiskLimits } from './limits.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** midnight UTC, 1 March 2024 */
const D = Date.UTC(2024, 2, 1);
const EQUITY = 10_000;
const BASE: Config = loadConfig({}).config;
const SLIP = BASE.broker.slippageBps / 10_000;
const FEE = BASE.broker.feeRate;
const BTC = 'BTC/USD';

/**
 * Only the loss limits may act: buy-and-hold goes all in (per-trade and per-asset caps lifted), and the
 * protections that would sell first are pushed out of the way (stop-loss at its 50% maximum, no ATR brackets,
 * portfolio trailing stop at 50%, no profit-take). The loss limits keep their defaults: 5% a day, 10% in total.
 */
const LOSS_ONLY: Partial<RiskLimits> = {
  maxTradeUsd: 1_000_000,
  maxAssetFraction: 1,
  stopLoss: 0.5,
  atrBrackets: 0,
  portfolioTrailingStop: 0.5,
  profitTakeFraction: 0,
};

function configWith(limits: Partial<RiskLimits>): Config {
  return { ...BASE, risk: { ...BASE.risk, limits: { ...BASE.risk.limits, ...limits } } };
}

interface Note {
  kind: NotificationKind;
  text: string;
}

function build(symbols: readonly Symbol[], limits: Partial<RiskLimits>) {
  const db = openDatabase(':memory:');
  let wall = Date.UTC(2025, 0, 1);
  const wallNow = () => (wall += 1);
  const journal = new SqliteJournal(db, wallNow);
  const state = new SqliteStateStore(db, wallNow);
  const notes: Note[] = [];
  const { engine, broker } = buildSimEngine({
    config: configWith(limits),
    mode: 'sim',
    symbols,
    strategy: 'buyhold',
    profile: 'full',
    startingEquity: EQUITY,
    venue: undefined,
    marketDescription: 'hand-made test bars',
    journal,
    state,
    notifier: { notify: (kind, text) => notes.push({ kind, text }) },
    clock: new SimClock(),
    wallNow,
    log: pino({ level: 'silent' }),
  });
  return { engine, broker, db, state, notes };
}

function bar(ts: number, open: number, close: number): Bar {
  return { ts, open, high: Math.max(open, close), low: Math.min(open, close), close, volume: 100 };
}

function batch(ts: number, prices: Record<Symbol, readonly [number, number]>): BarBatch {
  return { ts, bars: new Map(Object.entries(prices).map(([s, [o, c]]) => [s, bar(ts, o, c)])) };
}

/** Six days of flat hourly bars ending the hour before `start`: enough for the VaR check (5 days), with a VaR of 0. */
function flatHistory(start: number, symbols: readonly Symbol[]): BarBatch[] {
  return Array.from({ length: 6 * 24 }, (_, i) => batch(start - (6 * 24 - i) * HOUR, Object.fromEntries(symbols.map((s) => [s, [100, 100] as const]))));
}

/** Independently: an all-in notional buy of EQUITY filled at `open` (slippage up, fee inside the notional, qty floored to 1e-9). */
function allIn(open: number) {
  const price = open * (1 + SLIP);
  const qty = Math.floor((EQUITY / (price * (1 + FEE))) * 1e9) / 1e9;
  const cash = EQUITY - qty * price * (1 + FEE);
  return { qty, cash, equityAt: (close: number) => cash + qty * close, closeFor: (equity: number) => (equity - cash) / qty };
}

function rows<T>(db: Db, sql: string): T[] {
  return db.prepare(sql).all() as T[];
}

describe('daily loss limit (engine, full profile)', () => {
  it('a 5% loss since the start of the UTC day pauses entries until the next UTC midnight; just under, nothing happens', async () => {
    const h = build([BTC], LOSS_ONLY);
    await h.engine.start();
    const start = D + 20 * HOUR;
    h.engine.prime(flatHistory(start, [BTC]));

    await h.engine.handleBars(batch(start, { [BTC]: [100, 100] })); // buy-and-hold decides: all in
    await h.engine.handleBars(batch(D + 21 * HOUR, { [BTC]: [100, 100] })); // the buy fills at this open
    const book = allIn(100);
    expect(h.engine.status().positions[0]?.qty).toBeCloseTo(book.qty, 9);
    expect(h.engine.status().cash).toBeCloseTo(book.cash, 6);

    // Up 10% by the last bar of day D: that equity is where day D+1 starts.
    await h.engine.handleBars(batch(D + 23 * HOUR, { [BTC]: [100, 110] }));
    const dayStart = book.equityAt(110);
    expect(h.engine.status().equity).toBeCloseTo(dayStart, 6);
    const threshold = dayStart * (1 - 0.05);

    // First bar of D+1: a cent a unit above the threshold → still ACTIVE.
    const justAbove = book.closeFor(threshold) + 0.01;
    await h.engine.handleBars(batch(D + DAY, { [BTC]: [110, justAbove] }));
    expect(h.engine.status().equity).toBeGreaterThan(threshold);
    expect(h.engine.status().dayPnl).toBeCloseTo(book.equityAt(justAbove) - dayStart, 6);
    expect(h.engine.status().risk.state).toBe('ACTIVE');
    expect(h.notes.filter((n) => n.kind === 'state').map((n) => n.text)).toEqual([expect.stringMatching(/^Started/)]);

    // A cent a unit below → REDUCING, by risk, until the next UTC midnight (market time). Still up overall.
    const justBelow = book.closeFor(threshold) - 0.01;
    await h.engine.handleBars(batch(D + DAY + HOUR, { [BTC]: [justAbove, justBelow] }));
    expect(h.engine.status().equity).toBeLessThan(threshold);
    expect(h.engine.status().equity).toBeGreaterThan(EQUITY);
    const reducing = h.engine.status().risk;
    expect(reducing).toMatchObject({ state: 'REDUCING', by: 'risk', untilMarket: D + 2 * DAY });
    expect(reducing.reason).toMatch(/^daily loss limit: -5\.0\d% today$/);
    expect(reducing.until).toBeUndefined();
    expect(h.state.get<RiskState>(RISK_STATE_KEY)).toMatchObject({ state: 'REDUCING', by: 'risk', untilMarket: D + 2 * DAY });
    expect(h.notes.some((n) => n.kind === 'state' && n.text.startsWith('Daily loss limit hit'))).toBe(true);
    // A daily loss only pauses entries: nothing is sold.
    expect(rows(h.db, "SELECT * FROM orders WHERE side = 'sell'")).toEqual([]);
    expect(h.engine.status().positions[0]?.qty).toBeCloseTo(book.qty, 9);

    // The last bar of D+1 is still paused; the first bar of D+2 lapses it.
    await h.engine.handleBars(batch(D + 2 * DAY - HOUR, { [BTC]: [justBelow, justBelow] }));
    expect(h.engine.status().risk.state).toBe('REDUCING');
    await h.engine.handleBars(batch(D + 2 * DAY, { [BTC]: [justBelow, justBelow] }));
    expect(h.engine.status().risk).toMatchObject({ state: 'ACTIVE', by: 'system' });
    expect(h.engine.status().risk.reason).toMatch(/: lapsed$/);
    expect(h.notes.filter((n) => n.kind === 'state').at(-1)?.text).toMatch(/trading is ACTIVE again\.$/);
    expect(rows(h.db, "SELECT * FROM orders WHERE side = 'sell'")).toEqual([]);
    h.db.close();
  });
});

describe('total loss limit (engine, full profile)', () => {
  it('a 10% loss from the starting equity halts, notifies a kill and closes the positions on the next bar; just under, nothing happens', async () => {
    const h = build([BTC], LOSS_ONLY);
    await h.engine.start();
    h.engine.prime(flatHistory(D, [BTC]));
    await h.engine.handleBars(batch(D, { [BTC]: [100, 100] }));
    await h.engine.handleBars(batch(D + HOUR, { [BTC]: [100, 100] }));
    const book = allIn(100);
    expect(h.engine.status().positions[0]?.qty).toBeCloseTo(book.qty, 9);

    // Down in steps of less than 5% a day, so the daily limit (left at its default) never fires on the way.
    await h.engine.handleBars(batch(D + 2 * HOUR, { [BTC]: [100, book.closeFor(9_600)] })); // day D: −4.0%
    await h.engine.handleBars(batch(D + DAY, { [BTC]: [book.closeFor(9_600), book.closeFor(9_250)] })); // D+1: −3.6%
    expect(h.engine.status().risk.state).toBe('ACTIVE');

    // D+2, a cent a unit above 90% of the starting equity: nothing happens.
    const threshold = EQUITY * (1 - 0.1);
    const justAbove = book.closeFor(threshold) + 0.01;
    await h.engine.handleBars(batch(D + 2 * DAY, { [BTC]: [book.closeFor(9_250), justAbove] }));
    expect(h.engine.status().equity).toBeCloseTo(book.equityAt(justAbove), 6);
    expect(h.engine.status().equity).toBeGreaterThan(threshold);
    expect(h.engine.status().risk.state).toBe('ACTIVE');
    expect(h.notes.filter((n) => n.kind === 'kill')).toEqual([]);
    expect(rows(h.db, "SELECT * FROM orders WHERE side = 'sell'")).toEqual([]);

    // A cent a unit below: HALTED by risk, a kill notification, and a closing sell sent at once.
    const justBelow = book.closeFor(threshold) - 0.01;
    await h.engine.handleBars(batch(D + 2 * DAY + HOUR, { [BTC]: [justAbove, justBelow] }));
    expect(h.engine.status().equity).toBeLessThan(threshold);
    const halted = h.engine.status().risk;
    expect(halted).toMatchObject({ state: 'HALTED', by: 'risk' });
    expect(halted.reason).toMatch(/^total loss limit: equity \$8,99\d\.\d\d is -10\.0\d% from the start$/);
    expect(h.state.get<RiskState>(RISK_STATE_KEY)).toMatchObject({ state: 'HALTED', by: 'risk' });
    const kills = h.notes.filter((n) => n.kind === 'kill');
    expect(kills).toHaveLength(1);
    expect(kills[0]!.text).toMatch(/^KILL by risk \(total loss limit/);
    const sells = rows<{ client_order_id: string; qty: number; status: string }>(h.db, "SELECT client_order_id, qty, status FROM orders WHERE side = 'sell'");
    expect(sells).toHaveLength(1);
    expect(sells[0]!.client_order_id).toContain('-kill-');
    expect(sells[0]!.qty).toBeCloseTo(book.qty, 9);
    expect(sells[0]!.status).toBe('accepted');
    // Still held until the venue fills the sell on the next bar.
    expect(h.engine.status().positions[0]?.qty).toBeCloseTo(book.qty, 9);

    // Next bar: the sell fills at its open, the book is flat, and trading stays HALTED.
    const nextOpen = justBelow - 0.5;
    await h.engine.handleBars(batch(D + 2 * DAY + 2 * HOUR, { [BTC]: [nextOpen, nextOpen] }));
    expect(h.engine.status().positions).toEqual([]);
    const fill = rows<{ side: string; qty: number; price: number }>(h.db, "SELECT side, qty, price FROM fills WHERE side = 'sell'");
    expect(fill).toHaveLength(1);
    expect(fill[0]!.qty).toBeCloseTo(book.qty, 9);
    expect(fill[0]!.price).toBeCloseTo(nextOpen * (1 - SLIP), 9);
    expect(h.engine.status().cash).toBeCloseTo(book.cash + book.qty * nextOpen * (1 - SLIP) * (1 - FEE), 6);
    expect(h.engine.status().risk.state).toBe('HALTED');
    expect(rows(h.db, "SELECT * FROM orders WHERE side = 'sell'")).toHaveLength(1);
    h.db.close();
  });
});

describe('gate view wiring (engine, full profile)', () => {
  it('buys approved earlier in the same round count as open positions: the 4th new symbol is denied', async () => {
    const symbols = ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD'];
    const h = build(symbols, {});
    await h.engine.start();
    h.engine.prime(flatHistory(D, symbols));
    await h.engine.handleBars(batch(D, Object.fromEntries(symbols.map((s) => [s, [100, 100] as const]))));
    const decisions = rows<{ symbol: string; verdict: string; reason: string | null; intent: string }>(h.db, 'SELECT symbol, verdict, reason, intent FROM decisions ORDER BY id');
    expect(decisions.map((d) => [d.symbol, d.verdict])).toEqual([
      ['BTC/USD', 'approved'],
      ['ETH/USD', 'approved'],
      ['SOL/USD', 'approved'],
      ['LINK/USD', 'denied'],
    ]);
    // $10,000 / 4 = $2,500 each, cut to the $1,000 per-trade cap.
    for (const d of decisions.slice(0, 3)) expect(JSON.parse(d.intent)).toMatchObject({ side: 'buy', notional: 1_000 });
    expect(decisions[3]!.reason).toBe('position limit: already 3 of 3 open (BTC/USD, ETH/USD, SOL/USD)');
    // Nothing is held yet: all three are pending buys.
    expect(h.engine.status().positions).toEqual([]);
    expect(h.engine.status().openOrders).toBe(3);
    h.db.close();
  });
});
