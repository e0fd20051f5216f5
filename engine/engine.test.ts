import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import { buildSimEngine } from '../src/engine-factory.js';
import { openDatabase, type Db } from '../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';
import type { SimVenueState } from './broker/sim-broker.js';
import { SimClock } from './clock.js';
import { EmbeddedMarket } from './market/embedded-market.js';
import type { MarketFeed } from './market/feed.js';
import { ReplayFeed } from './market/replay-feed.js';
import type { NotificationKind } from './ports.js';
import { RiskGate, RISK_STATE_KEY, type RiskProfile } from './risk/gate.js';
import { runFeed } from './runner.js';
import type { StrategyName } from './strategy/index.js';
import type { Bar, BarBatch, RiskState, Symbol } from './types.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 2, 1);
const BASE_CONFIG: Config = loadConfig({}).config;
const SLIP = BASE_CONFIG.broker.slippageBps / 10_000;
const FEE = BASE_CONFIG.broker.feeRate;
const EQUITY = 10_000;
const SYMBOLS = ['BTC/USD', 'ETH/USD'] as const;

interface Note {
  kind: NotificationKind;
  text: string;
}

interface Harness {
  engine: ReturnType<typeof buildSimEngine>['engine'];
  broker: ReturnType<typeof buildSimEngine>['broker'];
  db: Db;
  journal: SqliteJournal;
  state: SqliteStateStore;
  notes: Note[];
  config: Config;
}

function build(options: {
  strategy?: StrategyName;
  config?: Config;
  symbols?: readonly Symbol[];
  profile?: RiskProfile;
  db?: Db;
  venue?: SimVenueState;
}): Harness {
  const config = options.config ?? BASE_CONFIG;
  const db = options.db ?? openDatabase(':memory:');
  let wall = Date.UTC(2025, 0, 1);
  const wallNow = () => (wall += 1);
  const journal = new SqliteJournal(db, wallNow);
  const state = new SqliteStateStore(db, wallNow);
  const notes: Note[] = [];
  const { engine, broker } = buildSimEngine({
    config,
    mode: 'sim',
    symbols: options.symbols ?? SYMBOLS,
    strategy: options.strategy ?? 'buyhold',
    // Kernel mechanics (fill timing, states, kill) on few hand-made bars: the full profile's limits need weeks
    // of history for VaR and correlation and are tested in engine/risk/*.test.ts. States apply in both profiles.
    profile: options.profile ?? 'benchmark',
    startingEquity: EQUITY,
    venue: options.venue,
    marketDescription: 'hand-made test bars',
    journal,
    state,
    notifier: { notify: (kind, text) => notes.push({ kind, text }) },
    clock: new SimClock(),
    wallNow,
    log: pino({ level: 'silent' }),
  });
  return { engine, broker, db, journal, state, notes, config };
}

function bar(ts: number, open: number, close: number): Bar {
  return { ts, open, high: Math.max(open, close) * 1.002, low: Math.min(open, close) * 0.998, close, volume: 100 };
}

/** prices: symbol → [open, close] */
function batch(ts: number, prices: Record<string, readonly [number, number]>): BarBatch {
  return { ts, bars: new Map(Object.entries(prices).map(([s, [o, c]]) => [s, bar(ts, o, c)])) };
}

interface DecisionRow {
  ts: number;
  symbol: string;
  strategy: string;
  intent: string | null;
  verdict: string;
  reason: string | null;
}

function decisions(db: Db, ts?: number): DecisionRow[] {
  const sql = 'SELECT ts, symbol, strategy, intent, verdict, reason FROM decisions' + (ts === undefined ? '' : ' WHERE ts = ?') + ' ORDER BY id';
  return (ts === undefined ? db.prepare(sql).all() : db.prepare(sql).all(ts)) as DecisionRow[];
}

function rows<T>(db: Db, sql: string, ...params: unknown[]): T[] {
  return db.prepare(sql).all(...params) as T[];
}

function persistedRisk(db: Db): { state: RiskState; by: string } | undefined {
  const row = db.prepare('SELECT value, updated_by FROM settings WHERE key = ?').get(RISK_STATE_KEY) as { value: string; updated_by: string } | undefined;
  return row ? { state: JSON.parse(row.value) as RiskState, by: row.updated_by } : undefined;
}

/** Every (ts, symbol) appears exactly once, and every bar has one row per symbol of the universe. */
function expectOneDecisionPerSymbolPerBar(db: Db, bars: number, symbols: readonly Symbol[]): void {
  const total = rows<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM decisions')[0]!.n;
  expect(total).toBe(bars * symbols.length);
  const dupes = rows(db, 'SELECT ts, symbol, COUNT(*) AS n FROM decisions GROUP BY ts, symbol HAVING n <> 1');
  expect(dupes).toEqual([]);
  const perTs = rows<{ ts: number; n: number }>(db, 'SELECT ts, COUNT(DISTINCT symbol) AS n FROM decisions GROUP BY ts');
  expect(perTs).toHaveLength(bars);
  expect(perTs.every((r) => r.n === symbols.length)).toBe(true);
  const others = rows(db, `SELECT symbol FROM decisions WHERE symbol NOT IN (${symbols.map(() => '?').join(',')})`, ...symbols);
  expect(others).toEqual([]);
}

/** Independent sizing of a notional buy: fill price with slippage, fee inside the notional, qty floored to 1e-9. */
function expectedBuy(notional: number, open: number) {
  const price = open * (1 + SLIP);
  const inc = BASE_CONFIG.broker.qtyIncrement;
  const qty = Math.floor(notional / (price * (1 + FEE)) / inc) * inc;
  return { price, qty, cost: qty * price * (1 + FEE) };
}

describe('Engine on the simulated venue', () => {
  it('buy-and-hold decides on the first bar and its fills arrive on the second bar', async () => {
    const h = build({ strategy: 'buyhold' });
    await h.engine.start();
    const b0 = batch(T0, { 'BTC/USD': [40_000, 40_500], 'ETH/USD': [2_000, 2_010] });
    const b1 = batch(T0 + HOUR, { 'BTC/USD': [40_600, 41_000], 'ETH/USD': [2_020, 1_990] });
    const b2 = batch(T0 + 2 * HOUR, { 'BTC/USD': [41_000, 41_200], 'ETH/USD': [1_990, 2_000] });

    await h.engine.handleBars(b0);
    const first = decisions(h.db, T0);
    expect(first.map((d) => [d.symbol, d.verdict, d.strategy])).toEqual([
      ['BTC/USD', 'approved', 'buyhold'],
      ['ETH/USD', 'approved', 'buyhold'],
    ]);
    for (const d of first) {
      const intent = JSON.parse(d.intent!) as { side: string; notional: number };
      expect(intent.side).toBe('buy');
      expect(intent.notional).toBeCloseTo(EQUITY / 2, 9);
    }
    // Orders sent, nothing filled yet: fills come from the NEXT bar's open.
    expect(rows<{ status: string }>(h.db, 'SELECT status FROM orders').map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(rows(h.db, 'SELECT * FROM fills')).toEqual([]);
    expect(h.engine.status().cash).toBe(EQUITY);
    expect(h.engine.status().openOrders).toBe(2);
    expect(h.engine.status().positions).toEqual([]);

    await h.engine.handleBars(b1);
    const fills = rows<{ ts: number; symbol: string; side: string; qty: number; price: number; fee: number }>(h.db, 'SELECT * FROM fills ORDER BY id');
    expect(fills).toHaveLength(2);
    let cash = EQUITY;
    let marked = 0;
    for (const f of fills) {
      const open = b1.bars.get(f.symbol)!.open;
      const want = expectedBuy(EQUITY / 2, open);
      expect(f.ts).toBe(b1.ts);
      expect(f.side).toBe('buy');
      expect(f.price).toBeCloseTo(want.price, 8);
      expect(f.qty).toBeCloseTo(want.qty, 12);
      expect(f.fee).toBeCloseTo(want.qty * want.price * FEE, 8);
      cash -= want.cost;
      marked += want.qty * b1.bars.get(f.symbol)!.close;
    }
    const status = h.engine.status();
    expect(status.openOrders).toBe(0);
    expect(status.cash).toBeCloseTo(cash, 6);
    expect(status.equity).toBeCloseTo(cash + marked, 6);
    expect(status.positions.map((p) => p.symbol).sort()).toEqual(['BTC/USD', 'ETH/USD']);
    expect(rows<{ status: string }>(h.db, 'SELECT status FROM orders').map((r) => r.status)).toEqual(['filled', 'filled']);
    // The engine's portfolio and the venue's account agree.
    const account = await h.broker.account();
    expect(account.cash).toBeCloseTo(status.cash, 9);

    // Buy-and-hold never trades again.
    await h.engine.handleBars(b2);
    expect(rows(h.db, 'SELECT * FROM orders')).toHaveLength(2);
    const curve = h.journal.equityCurve();
    expect(curve.map((p) => p.ts)).toEqual([b0.ts, b1.ts, b2.ts]);
    expect(curve[0]!.equity).toBe(EQUITY);
    expectOneDecisionPerSymbolPerBar(h.db, 3, SYMBOLS);
    expect(h.notes.filter((n) => n.kind === 'trade')).toHaveLength(2);
  });

  it('while REDUCING (paused) a strategy buy is denied, recorded as a decision and a risk event', async () => {
    const h = build({ strategy: 'buyhold' });
    await h.engine.start();
    const submit = vi.spyOn(h.broker, 'submit');
    const paused = h.engine.pause('tester');
    expect(paused.ok).toBe(true);
    expect(persistedRisk(h.db)?.state.state).toBe('REDUCING');

    await h.engine.handleBars(batch(T0, { 'BTC/USD': [40_000, 40_100], 'ETH/USD': [2_000, 2_001] }));
    const rowsAtT0 = decisions(h.db, T0);
    expect(rowsAtT0).toHaveLength(2);
    for (const d of rowsAtT0) {
      expect(d.verdict).toBe('denied');
      expect(d.reason).toMatch(/REDUCING/);
      expect(JSON.parse(d.intent!).side).toBe('buy');
    }
    const denied = rows<{ kind: string; symbol: string; reason: string }>(h.db, "SELECT kind, symbol, reason FROM risk_events WHERE kind = 'denied' ORDER BY id");
    expect(denied.map((e) => e.symbol)).toEqual(['BTC/USD', 'ETH/USD']);
    expect(denied.every((e) => /REDUCING/.test(e.reason))).toBe(true);
    expect(submit).not.toHaveBeenCalled();
    expect(rows(h.db, 'SELECT * FROM orders')).toEqual([]);
    expect(h.engine.status().cash).toBe(EQUITY);
  });

  it('while REDUCING a strategy sell still runs and fills, while the buy in the same bar is denied', async () => {
    const config: Config = {
      ...BASE_CONFIG,
      // half the equity stays in cash, so the buy fits on the same bar as the sell (the strategy's buys wait a
      // bar for sells only when cash is short)
      strategy: { ...BASE_CONFIG.strategy, momentum: { lookbackBars: 2, topK: 1, rebalanceBars: 1, cashBuffer: 0.5, rebalanceBand: 0.1 } },
    };
    const h = build({ strategy: 'momentum', config });
    await h.engine.start();
    const at = (i: number) => T0 + i * HOUR;
    // BTC rises, ETH falls: momentum picks BTC once it has 3 closes (bar 2); it fills at bar 3's open.
    await h.engine.handleBars(batch(at(0), { 'BTC/USD': [100, 100], 'ETH/USD': [100, 100] }));
    await h.engine.handleBars(batch(at(1), { 'BTC/USD': [100, 102], 'ETH/USD': [100, 99] }));
    await h.engine.handleBars(batch(at(2), { 'BTC/USD': [102, 104], 'ETH/USD': [99, 98] }));
    const entry = decisions(h.db, at(2)).find((d) => d.symbol === 'BTC/USD')!;
    expect(entry.verdict).toBe('approved');
    expect(JSON.parse(entry.intent!).side).toBe('buy');
    await h.engine.handleBars(batch(at(3), { 'BTC/USD': [104, 105], 'ETH/USD': [98, 97] }));
    const held = h.engine.status().positions.find((p) => p.symbol === 'BTC/USD');
    expect(held?.qty).toBeGreaterThan(0);

    expect(h.engine.pause('tester').ok).toBe(true);
    // BTC collapses and ETH rallies: the strategy wants to rotate BTC → ETH.
    await h.engine.handleBars(batch(at(4), { 'BTC/USD': [105, 90], 'ETH/USD': [97, 110] }));
    const rotate = decisions(h.db, at(4));
    const btc = rotate.find((d) => d.symbol === 'BTC/USD')!;
    const eth = rotate.find((d) => d.symbol === 'ETH/USD')!;
    expect(btc.verdict).toBe('approved');
    expect(JSON.parse(btc.intent!)).toMatchObject({ side: 'sell', qty: held!.qty });
    expect(eth.verdict).toBe('denied');
    expect(JSON.parse(eth.intent!).side).toBe('buy');
    expect(eth.reason).toMatch(/REDUCING/);
    expect(rows(h.db, "SELECT * FROM risk_events WHERE kind = 'denied' AND symbol = 'ETH/USD'")).toHaveLength(1);

    const cashBefore = h.engine.status().cash;
    await h.engine.handleBars(batch(at(5), { 'BTC/USD': [91, 92], 'ETH/USD': [110, 111] }));
    const sold = rows<{ side: string; qty: number; price: number; fee: number }>(h.db, "SELECT * FROM fills WHERE side = 'sell'");
    expect(sold).toHaveLength(1);
    expect(sold[0]!.qty).toBeCloseTo(held!.qty, 12);
    expect(sold[0]!.price).toBeCloseTo(91 * (1 - SLIP), 9);
    expect(h.engine.status().positions).toEqual([]);
    expect(h.engine.status().cash).toBeCloseTo(cashBefore + held!.qty * 91 * (1 - SLIP) * (1 - FEE), 6);
    expect(rows(h.db, "SELECT * FROM fills WHERE symbol = 'ETH/USD'")).toEqual([]);
    expectOneDecisionPerSymbolPerBar(h.db, 6, SYMBOLS);
  });

  it('after a kill, HALTED denies strategy buys and refuses a pause', async () => {
    const h = build({ strategy: 'buyhold' });
    await h.engine.start();
    const report = await h.engine.kill('tester');
    expect(report).toEqual({ alreadyHalted: false, canceled: [], closes: [], remaining: [] });
    expect(h.engine.status().risk.state).toBe('HALTED');
    const submit = vi.spyOn(h.broker, 'submit');
    await h.engine.handleBars(batch(T0, { 'BTC/USD': [40_000, 40_100], 'ETH/USD': [2_000, 2_001] }));
    const ds = decisions(h.db, T0);
    expect(ds).toHaveLength(2);
    expect(ds.every((d) => d.verdict === 'denied' && /HALTED/.test(d.reason ?? ''))).toBe(true);
    expect(rows(h.db, "SELECT * FROM risk_events WHERE kind = 'denied'")).toHaveLength(2);
    expect(submit).not.toHaveBeenCalled();
    expect(h.engine.pause('tester').ok).toBe(false);
    expect(h.engine.status().risk.state).toBe('HALTED');
  });

  it('kill while holding: HALTED is persisted before any order goes out, open orders are canceled, positions closed', async () => {
    const h = build({ strategy: 'buyhold' });
    await h.engine.start();
    const b0 = batch(T0, { 'BTC/USD': [40_000, 40_500], 'ETH/USD': [2_000, 2_010] });
    // ETH has a data gap at bar 1: its buy stays open at the venue while BTC fills.
    const b1 = batch(T0 + HOUR, { 'BTC/USD': [40_600, 41_000] });
    const b2 = batch(T0 + 2 * HOUR, { 'BTC/USD': [41_100, 41_300], 'ETH/USD': [2_050, 2_060] });
    await h.engine.handleBars(b0);
    await h.engine.handleBars(b1);
    const before = h.engine.status();
    expect(before.positions.map((p) => p.symbol)).toEqual(['BTC/USD']);
    expect(before.openOrders).toBe(1);
    const btcQty = before.positions[0]!.qty;
    const ethOrder = (await h.broker.openOrders())[0]!;
    expect(ethOrder.symbol).toBe('ETH/USD');

    // Record what the settings table said at every moment an order was canceled, sent or journaled for the kill.
    const seen: Array<{ what: string; risk: string | undefined }> = [];
    const riskNow = () => persistedRisk(h.db)?.state.state;
    const cancel = h.broker.cancel.bind(h.broker);
    const submit = h.broker.submit.bind(h.broker);
    const cancelSpy = vi.spyOn(h.broker, 'cancel').mockImplementation(async (id) => {
      seen.push({ what: `cancel ${id}`, risk: riskNow() });
      return cancel(id);
    });
    const submitSpy = vi.spyOn(h.broker, 'submit').mockImplementation(async (order) => {
      seen.push({ what: `submit ${order.side} ${order.symbol}`, risk: riskNow() });
      return submit(order);
    });
    const recordOrder = h.journal.recordOrder.bind(h.journal);
    vi.spyOn(h.journal, 'recordOrder').mockImplementation((order) => {
      if (order.clientOrderId.includes('-kill-')) seen.push({ what: `journal ${order.status} ${order.symbol}`, risk: riskNow() });
      recordOrder(order);
    });

    const killing = h.engine.kill('tester');
    const nextBar = h.engine.handleBars(b2);
    const [report] = await Promise.all([killing, nextBar]);

    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen[0]!.what).toBe(`cancel ${ethOrder.clientOrderId}`);
    expect(seen.some((s) => s.what === 'submit sell BTC/USD')).toBe(true);
    expect(seen.every((s) => s.risk === 'HALTED')).toBe(true);
    const persisted = persistedRisk(h.db)!;
    expect(persisted.state).toMatchObject({ state: 'HALTED', by: 'tester' });
    expect(persisted.by).toBe('tester');

    expect(report.alreadyHalted).toBe(false);
    expect(report.canceled).toEqual([ethOrder.clientOrderId]);
    expect(report.closes).toHaveLength(1);
    const close = report.closes[0]!;
    expect(close.symbol).toBe('BTC/USD');
    expect(close.status).toBe('filled');
    expect(close.qty).toBeCloseTo(btcQty, 12);
    expect(close.price).toBeCloseTo(41_100 * (1 - SLIP), 8);
    expect(report.remaining).toEqual([]);

    expect(submitSpy).toHaveBeenCalledTimes(1);
    expect(cancelSpy).toHaveBeenCalledTimes(1);
    const orders = rows<{ symbol: string; side: string; status: string }>(h.db, 'SELECT symbol, side, status FROM orders ORDER BY submitted_at, client_order_id');
    expect(orders.filter((o) => o.symbol === 'ETH/USD')).toEqual([{ symbol: 'ETH/USD', side: 'buy', status: 'canceled' }]);
    expect(orders.filter((o) => o.side === 'sell')).toEqual([{ symbol: 'BTC/USD', side: 'sell', status: 'filled' }]);
    // The canceled ETH order never filled even though ETH's bar arrived.
    expect(rows(h.db, "SELECT * FROM fills WHERE symbol = 'ETH/USD'")).toEqual([]);
    const account = await h.broker.account();
    expect(account.positions).toEqual([]);
    expect(await h.broker.openOrders()).toEqual([]);
    expect(h.engine.status().positions).toEqual([]);
    expect(h.engine.status().openOrders).toBe(0);
    expect(h.notes.some((n) => n.kind === 'kill' && n.text.includes('HALTED'))).toBe(true);

    // A second kill is harmless: nothing to cancel, nothing to close, nothing sent.
    submitSpy.mockClear();
    cancelSpy.mockClear();
    const again = await h.engine.kill('tester');
    expect(again).toEqual({ alreadyHalted: true, canceled: [], closes: [], remaining: [] });
    expect(submitSpy).not.toHaveBeenCalled();
    expect(cancelSpy).not.toHaveBeenCalled();
    expect(h.engine.status().risk.state).toBe('HALTED');
    expect(h.notes.filter((n) => n.kind === 'kill')).toHaveLength(1);
    expectOneDecisionPerSymbolPerBar(h.db, 3, SYMBOLS);
  });

  it('kill and status are answered while a long unpaced replay is running', async () => {
    const TOTAL = 20_000;
    const h = build({ strategy: 'buyhold' });
    const market = new EmbeddedMarket(SYMBOLS, 42);
    let produced = 0;
    const feed: MarketFeed = {
      description: market.description,
      get cursor() {
        return market.cursor;
      },
      history: (n) => market.history(n),
      next: () => {
        if (produced >= TOTAL) return undefined;
        produced += 1;
        return market.next();
      },
      seek: (n) => market.seek(n),
    };
    await h.engine.start();
    let processed = 0;
    let finished = false;
    const replay = runFeed(feed, (b) => h.engine.handleBars(b), { barsPerSecond: 0, afterBatch: () => (processed += 1) }).finally(() => {
      finished = true;
    });

    // Wait on timers (macrotasks): this only works if the replay yields to the event loop.
    const deadline = Date.now() + 10_000;
    while (processed < 50 && !finished && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(finished).toBe(false);
    expect(processed).toBeGreaterThanOrEqual(50);

    const status = h.engine.status();
    const barsAtStatus = processed;
    expect(status.health.barsProcessed).toBeLessThan(TOTAL);
    expect(status.positions.map((p) => p.symbol).sort()).toEqual([...SYMBOLS].sort());

    const report = await h.engine.kill('tester');
    const barsAtKill = processed;
    const finishedAtKill = finished;
    expect(finishedAtKill).toBe(false);
    expect(barsAtKill).toBeLessThan(TOTAL);
    expect(barsAtKill).toBeGreaterThanOrEqual(barsAtStatus);
    expect(report.alreadyHalted).toBe(false);
    expect(report.closes.map((c) => [c.symbol, c.status]).sort()).toEqual([
      ['BTC/USD', 'filled'],
      ['ETH/USD', 'filled'],
    ]);
    expect(report.remaining).toEqual([]);

    expect(await replay).toBe('ended');
    expect(processed).toBe(TOTAL);
    expect(h.engine.status().risk.state).toBe('HALTED');
    expect(h.engine.status().positions).toEqual([]);
    expect(rows(h.db, 'SELECT * FROM fills')).toHaveLength(4);
    expectOneDecisionPerSymbolPerBar(h.db, TOTAL, SYMBOLS);
  });

  it('a restart restores HALTED from the settings table and announces it as critical', async () => {
    const db = openDatabase(':memory:');
    const first = build({ strategy: 'buyhold', db });
    await first.engine.start();
    await first.engine.handleBars(batch(T0, { 'BTC/USD': [40_000, 40_100], 'ETH/USD': [2_000, 2_001] }));
    const killing = first.engine.kill('tester');
    await first.engine.handleBars(batch(T0 + HOUR, { 'BTC/USD': [40_100, 40_200], 'ETH/USD': [2_001, 2_002] }));
    await killing;
    expect(first.engine.status().risk.state).toBe('HALTED');
    const venue = JSON.parse(JSON.stringify(first.broker.saveState())) as SimVenueState;

    // A new gate over the same store sees HALTED.
    const gate = new RiskGate('full', BASE_CONFIG.broker, new SqliteStateStore(db), () => Date.now());
    expect(gate.state.state).toBe('HALTED');
    expect(gate.state.by).toBe('tester');

    const second = build({ strategy: 'buyhold', db, venue });
    expect(second.engine.status().risk.state).toBe('HALTED');
    await second.engine.start();
    const critical = second.notes.filter((n) => n.kind === 'critical');
    expect(critical).toHaveLength(1);
    expect(critical[0]!.text).toContain('HALTED');
    expect(critical[0]!.text).toContain('restored');
    expect(critical[0]!.text).toContain('tester');

    // And it still refuses the strategy's entry.
    const submit = vi.spyOn(second.broker, 'submit');
    await second.engine.handleBars(batch(T0 + 2 * HOUR, { 'BTC/USD': [40_200, 40_300], 'ETH/USD': [2_002, 2_003] }));
    expect(decisions(db, T0 + 2 * HOUR).map((d) => d.verdict)).toEqual(['denied', 'denied']);
    expect(submit).not.toHaveBeenCalled();
    db.close();
  });

  it('a fresh start is announced as a plain state message, not critical', async () => {
    const h = build({ strategy: 'buyhold' });
    await h.engine.start();
    expect(h.notes.map((n) => n.kind)).toEqual(['state']);
    expect(h.notes[0]!.text).toContain('ACTIVE');
    expect(h.notes[0]!.text).not.toContain('restored');
  });

  it('replays hand-made bars through ReplayFeed with one decision row per symbol per bar, gaps included', async () => {
    const series = new Map<Symbol, Bar[]>([
      ['BTC/USD', [0, 1, 2, 3, 4, 5].map((i) => bar(T0 + i * HOUR, 40_000 + i * 10, 40_010 + i * 10))],
      // ETH misses bar 2
      ['ETH/USD', [0, 1, 3, 4, 5].map((i) => bar(T0 + i * HOUR, 2_000 + i, 2_001 + i))],
    ]);
    const feed = new ReplayFeed(series, 'hand-made');
    expect(feed.length).toBe(6);
    const h = build({ strategy: 'buyhold' });
    await h.engine.start();
    expect(await runFeed(feed, (b) => h.engine.handleBars(b), { barsPerSecond: 0 })).toBe('ended');
    expectOneDecisionPerSymbolPerBar(h.db, 6, SYMBOLS);
    expect(rows(h.db, 'SELECT * FROM fills')).toHaveLength(2);
  });
});
