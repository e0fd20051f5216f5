/**
 * Paper trading on Alpaca under faults, end to end: the real agent and the real SDK (REST + both streams)
 * against the project's fake Alpaca, with the fake's fault knobs. Nothing in the SDK is mocked.
 *
 * Every scenario ends with the same check: no order was placed twice at the broker (each client_order_id and
 * each decision is at most one broker order), the journal agrees with the broker about every order, and our
 * positions and cash equal the broker's book (a reconciliation finds nothing left to fix).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineApi } from '../engine/api.js';
import { startAgent } from '../src/app.js';
import { loadConfig, loadTransportEnv, type Config } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { AgentProcess } from './agent-process.js';
import { FakeAlpaca, type AlpacaOrderJson, type FakeAlpacaOptions, type FakeBarInput } from './fakes/alpaca.js';
import { startTestAgent, until } from './harness.js';

const HOUR = 3_600_000;
const SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD'];
const START_PRICE: Record<string, number> = { 'BTC/USD': 60_000, 'ETH/USD': 3_000, 'SOL/USD': 150, 'LINK/USD': 15 };
/** The REST history ends here; streamed hours follow it without a gap. */
const HISTORY_END_HOURS_AGO = 30;
const FEE = 0.0025;
const TERMINAL = new Set(['filled', 'canceled', 'expired', 'rejected']);

/** What the tests need from an agent, in-process or not. */
interface Agent {
  readonly dbPath: string;
  readonly engine: EngineApi;
  readonly console: { output(): string; send(line: string): void };
  stop(reason: string): Promise<void>;
}

let fake: FakeAlpaca | undefined;
let agent: Agent | undefined;
const children: AgentProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
  await agent?.stop('test over');
  agent = undefined;
  await fake?.stop();
  fake = undefined;
});

// ---------------------------------------------------------------------------------------------------------
// The market: a noisy hourly history over REST, then streamed hours in which the leader rotates
// ---------------------------------------------------------------------------------------------------------

let nowHour = 0;
/** hours ago of the next hour to publish */
let nextHoursAgo = 0;
let rotation = 0;
let lastLeader: string | undefined;
/** whether the feed holds a published hour it has not emitted yet (the next published hour closes it) */
let hourOpen = false;
/** per symbol: the hourly bars Alpaca's REST serves (history + every hour published so far) */
const restBars = new Map<string, FakeBarInput[]>();

function history(symbol: string, hours: number, seed: number): FakeBarInput[] {
  const end = nowHour - HISTORY_END_HOURS_AGO * HOUR;
  let price = START_PRICE[symbol]!;
  let x = seed;
  const bars: FakeBarInput[] = [];
  for (let i = hours - 1; i >= 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const r = ((x / 2 ** 31) - 0.5) * 0.01 + 0.0004 * (seed % 3);
    const open = price;
    price = price * (1 + r);
    bars.push({ t: end - i * HOUR, o: open, h: Math.max(open, price) * 1.001, l: Math.min(open, price) * 0.999, c: price, v: 10 });
  }
  return bars;
}

async function setup(options: FakeAlpacaOptions = {}): Promise<FakeAlpaca> {
  nowHour = Math.floor(Date.now() / HOUR) * HOUR;
  nextHoursAgo = HISTORY_END_HOURS_AGO - 1;
  rotation = 0;
  lastLeader = undefined;
  hourOpen = false;
  restBars.clear();
  fake = await new FakeAlpaca({ cash: 10_000, feeBps: FEE * 10_000, ...options }).start();
  SYMBOLS.forEach((s, i) => {
    const bars = history(s, 600, i + 1);
    restBars.set(s, bars);
    fake!.loadBars(s, bars, '1Hour');
    fake!.setAsset(s, { min_order_size: '0.0001', min_trade_increment: '0.000000001' });
  });
  return fake;
}

type Published = Array<{ symbol: string; bar: FakeBarInput }>;

/**
 * Stream the next hour (three minute bars per symbol). The next symbol in turn jumps 6%, the previous leader
 * drops 7%, so momentum top-1 rotates every hour (a sell and a buy). Unless `rest` is false, the hour is also
 * served over REST as an hourly bar, as Alpaca does.
 */
function publishHour(opts: { rest?: boolean } = {}): Published {
  const f = fake!;
  const hour = nowHour - nextHoursAgo * HOUR;
  nextHoursAgo -= 1;
  const leader = SYMBOLS[rotation++ % SYMBOLS.length]!;
  const sent: Published = [];
  for (const s of SYMBOLS) {
    const p = f.price(s)! * (1 + (s === leader ? 0.06 : s === lastLeader ? -0.07 : 0));
    for (const minute of [0, 30, 59]) {
      const bar = { t: hour + minute * 60_000, o: p, h: p * 1.0005, l: p * 0.9995, c: p, v: 1 };
      f.pushBar(s, bar);
      sent.push({ symbol: s, bar });
    }
    restBars.get(s)!.push({ t: hour, o: p, h: p * 1.0005, l: p * 0.9995, c: p, v: 3 });
    if (opts.rest !== false) f.loadBars(s, restBars.get(s)!, '1Hour');
  }
  lastLeader = leader;
  hourOpen = true;
  return sent;
}

/** Everything quiet: no bar in flight, no order open on either side. */
async function settled(a: Agent, what = 'orders settled', timeoutMs = 15_000): Promise<void> {
  await until(
    () => a.engine.status().health.inboxDepth === 0 && a.engine.status().openOrders === 0 && fake!.orders().every((o) => TERMINAL.has(o.status)),
    what,
    timeoutMs,
  );
}

/** Publish `n` hours; after each closed hour wait for the engine to process it and its orders to settle. */
async function tradeHours(a: Agent, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const before = a.engine.status().health.barsProcessed;
    const closes = hourOpen;
    publishHour();
    if (closes) await until(() => a.engine.status().health.barsProcessed > before, 'the closed hour processed');
    await settled(a);
  }
}

function env(f = fake!): Record<string, string> {
  return {
    APCA_API_KEY_ID: f.keyId,
    APCA_API_SECRET_KEY: f.secret,
    ALPACA_TRADING_URL: f.tradingUrl,
    ALPACA_DATA_URL: f.dataUrl,
    ALPACA_DATA_STREAM_URL: f.dataStreamUrl,
    ALPACA_TRADING_STREAM_URL: f.tradingStreamUrl,
  };
}

/**
 * Momentum top-1, rebalanced every bar (so every hour trades), with the given Alpaca settings. Half the equity
 * stays in cash so each hour's buy fits beside its sell on the same bar.
 */
function rotating(alpaca: Partial<Config['alpaca']> = {}): (c: Config) => Config {
  return (c) => ({
    ...c,
    strategy: { ...c.strategy, momentum: { ...c.strategy.momentum, topK: 1, rebalanceBars: 1, cashBuffer: 0.5 } },
    risk: { ...c.risk, limits: { ...c.risk.limits, maxTradesPerDay: 500 } },
    alpaca: { ...c.alpaca, ...alpaca },
  });
}

async function startPaper(overrides: (c: Config) => Config): Promise<Agent> {
  agent = await startTestAgent(env(), overrides, undefined, 'paper');
  await fake!.waitForSubscription('BTC/USD');
  await fake!.waitForTradingListener(1);
  return agent;
}

/** Like the harness's agent, but the log (warn and up) is kept, so tests can read what it says. */
async function startPaperWithLog(overrides: (c: Config) => Config): Promise<Agent & { log(): string }> {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'ce-faults-')), 'engine.db');
  const base = loadConfig({}).config;
  const config = overrides({ ...base, store: { ...base.store, path: dbPath }, http: { ...base.http, port: 0 } });
  const input = new PassThrough();
  let text = '';
  let logText = '';
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const logSink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  const e = env();
  const running = await startAgent(config, 'paper', { input, output, transports: loadTransportEnv(e), env: e }, createLogger('warn', logSink));
  const a = { ...running, dbPath, console: { output: () => text, send: (line: string) => void input.write(`${line}\n`) }, log: () => logText };
  agent = a;
  await fake!.waitForSubscription('BTC/USD');
  await fake!.waitForTradingListener(1);
  return a;
}

async function ask(a: Agent, line: string, pattern: RegExp): Promise<string> {
  const from = a.console.output().length;
  a.console.send(line);
  return (await until(() => a.console.output().slice(from).match(pattern), `reply to ${line} matching ${pattern}`))[0];
}

// ---------------------------------------------------------------------------------------------------------
// The shared end check
// ---------------------------------------------------------------------------------------------------------

interface OrderRow {
  client_order_id: string;
  status: string;
  reject_reason: string | null;
}
interface FillRow {
  client_order_id: string;
  qty: number;
  side: string;
}

function journal(dbPath: string): { orders: Map<string, OrderRow>; fills: FillRow[] } {
  const db = new Database(dbPath, { readonly: true });
  try {
    const orders = db.prepare('SELECT client_order_id, status, reject_reason FROM orders').all() as OrderRow[];
    const fills = db.prepare('SELECT client_order_id, qty, side FROM fills ORDER BY id').all() as FillRow[];
    return { orders: new Map(orders.map((o) => [o.client_order_id, o])), fills };
  } finally {
    db.close();
  }
}

function duplicates(values: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([v, n]) => `${v} ×${n}`);
}

/** Alpaca's order status as the journal must show it once the order is settled. */
function journalStatus(o: AlpacaOrderJson): string {
  if (o.status === 'filled') return 'filled';
  if (o.status === 'rejected') return 'rejected';
  if (o.status === 'canceled' || o.status === 'expired') return 'canceled';
  return 'accepted';
}

/** No order twice at the broker, and the journal agrees with it about every order. */
function expectNoDuplicateOrders(dbPath: string): void {
  const f = fake!;
  const orders = f.orders();
  const ids = orders.map((o) => o.client_order_id);
  // Every client_order_id we ever sent (resends included) names at most one order at the broker…
  const posted = new Set(f.requestsTo('POST', '/v2/orders').map((r) => (r.body as { client_order_id?: string }).client_order_id ?? '?'));
  for (const id of posted) expect(ids.filter((x) => x === id).length, `broker orders for ${id}`).toBeLessThanOrEqual(1);
  expect(duplicates(ids)).toEqual([]);
  // …every order at the broker is ours, and one decision (time, symbol, side, source) made at most one order.
  for (const id of ids) expect(id).toMatch(/^ce-[0-9a-z]+-[A-Z]+-(buy|sell)-[a-z]+-\d+$/);
  expect(duplicates(ids.map((id) => id.replace(/-\d+$/, '')))).toEqual([]);
  // The journal knows every broker order with the broker's status; what it calls rejected never reached the broker.
  const { orders: rows } = journal(dbPath);
  for (const o of orders) expect(rows.get(o.client_order_id)?.status, `journal status of ${o.client_order_id}`).toBe(journalStatus(o));
  for (const [id, row] of rows) if (!ids.includes(id)) expect(row.status, `journal status of ${id} (not at the broker)`).toBe('rejected');
}

/** Our positions and cash are the broker's, and a reconciliation finds nothing to fix. */
async function expectBookMatchesBroker(a: Agent): Promise<void> {
  const f = fake!;
  const ours = a.engine.status();
  const mine = new Map(ours.positions.filter((p) => p.qty > 1e-12).map((p) => [p.symbol.replace('/', ''), p.qty]));
  const theirs = new Map(f.positions().map((p) => [p.symbol, Number(p.qty)]));
  expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
  for (const [symbol, qty] of theirs) expect(mine.get(symbol), `${symbol} qty`).toBeCloseTo(qty, 9);
  expect(ours.cash).toBeCloseTo(f.cash(), 6);
  expect(ours.openOrders).toBe(f.orders().filter((o) => !TERMINAL.has(o.status)).length);
  expect(await a.engine.reconcile('end of test')).toEqual([]);
}

async function expectConsistent(a: Agent): Promise<void> {
  expectNoDuplicateOrders(a.dbPath);
  await expectBookMatchesBroker(a);
}

// ---------------------------------------------------------------------------------------------------------

describe('Alpaca paper trading under faults', () => {
  for (const { kind, processedFaults } of [
    { kind: '5xx', processedFaults: true },
    { kind: '429', processedFaults: false },
  ] as const) {
    it(`20% ${kind} on every REST call: trading continues, GETs are retried, ambiguous order sends are resolved by lookup`, async () => {
      await setup({ seed: 7 });
      if (processedFaults) {
        // A gateway error AFTER Alpaca created the order: the ambiguous case a lookup must resolve (no resend).
        fake!.faultRate(0.2, '5xx', { method: 'POST', path: '/v2/orders', processFirst: true });
      }
      fake!.faultRate(0.2, kind);
      const a = await startPaper(rotating());
      expect(a.console.output()).toMatch(/\[PAPER\] Started \(paper\)\. State ACTIVE/);
      await tradeHours(a, 12);

      const f = fake!;
      const faulted = f.requests.filter((r) => r.fault === kind);
      // Start-up and trading went through faulted GETs, which the SDK retried until they answered…
      const faultedGets = faulted.filter((r) => r.method === 'GET');
      const retried = faultedGets.filter((r) =>
        f.requests.some((q) => q.at >= r.at && q.method === 'GET' && q.path === r.path && JSON.stringify(q.query) === JSON.stringify(r.query) && !q.fault && q.status > 0),
      );
      expect(faultedGets.length).toBeGreaterThan(3);
      expect(retried).toHaveLength(faultedGets.length);
      // …and through faulted order POSTs, which the SDK never retries: every one was looked up by client_order_id.
      const faultedPosts = faulted.filter((r) => r.method === 'POST');
      expect(faultedPosts.length).toBeGreaterThan(1);
      const posts = f.requestsTo('POST', '/v2/orders');
      const idOf = (r: { body: unknown }) => (r.body as { client_order_id: string }).client_order_id;
      let resent = 0;
      let resolvedByLookup = 0;
      for (const r of faultedPosts) {
        const id = idOf(r);
        const lookedUp = f.requests.some((q) => q.path === '/v2/orders:by_client_order_id' && q.query.client_order_id === id && q.at >= r.at);
        expect(lookedUp, `lookup of ${id} after its failed POST`).toBe(true);
        const sameId = posts.filter((p) => idOf(p) === id);
        if (sameId.length > 1) resent += 1;
        else if (f.order(id)) resolvedByLookup += 1;
      }
      expect(resent).toBeGreaterThan(0);
      if (processedFaults) expect(resolvedByLookup).toBeGreaterThan(0);
      // Trading continued: most hours traded (a sell and a buy each) and filled.
      expect(f.orders().filter((o) => o.status === 'filled').length).toBeGreaterThanOrEqual(12);
      f.clearFaults();
      await expectConsistent(a);
    });
  }

  it('order POSTs that time out after Alpaca created the order: looked up, never sent twice, the fill lands once', async () => {
    await setup();
    const a = await startPaper(rotating({ requestTimeoutSeconds: 1 }));
    await tradeHours(a, 1); // warm: the next closed hour trades
    const f = fake!;

    // 1) The POST hangs; the order fills at once; after 1 s the SDK gives up and the lookup finds it filled.
    f.timeoutNextOrderPost();
    await tradeHours(a, 1);
    // 2) The answer comes only after the timeout, and the order is still waiting for its fill at lookup time.
    f.holdFills();
    f.timeoutNextOrderPost({ delayMs: 1_500 });
    const before = a.engine.status().health.barsProcessed;
    publishHour();
    await until(() => a.engine.status().health.barsProcessed > before && a.engine.status().health.inboxDepth === 0, 'the hour with the slow POST');
    const timedOut = f.requestsTo('POST', '/v2/orders').filter((r) => r.fault === 'timeout');
    expect(timedOut).toHaveLength(2);
    const heldId = (timedOut[1]!.body as { client_order_id: string }).client_order_id;
    expect(f.order(heldId)?.status).toBe('new');
    expect(a.engine.status().openOrders).toBeGreaterThan(0); // looked up as open, tracked until its fill
    f.releaseFills();
    await settled(a);

    const { fills, orders } = journal(a.dbPath);
    for (const r of timedOut) {
      const id = (r.body as { client_order_id: string }).client_order_id;
      expect(f.requestsTo('POST', '/v2/orders').filter((p) => (p.body as { client_order_id: string }).client_order_id === id), `POSTs of ${id}`).toHaveLength(1);
      expect(f.requests.some((q) => q.path === '/v2/orders:by_client_order_id' && q.query.client_order_id === id)).toBe(true);
      expect(f.order(id)?.status).toBe('filled');
      expect(orders.get(id)?.status).toBe('filled');
      const mine = fills.filter((x) => x.client_order_id === id);
      expect(mine, `fills journaled for ${id}`).toHaveLength(1);
      const filledQty = Number(f.order(id)!.filled_qty);
      expect(mine[0]!.qty).toBeCloseTo(mine[0]!.side === 'buy' ? filledQty * (1 - FEE) : filledQty, 8);
    }
    await expectConsistent(a);
  });

  it('fills lost while the trade-updates stream is down: the periodic reconciliation restores the book with a critical alert', async () => {
    await setup();
    const a = await startPaper(rotating({ reconcileSeconds: 10 }));
    await tradeHours(a, 3); // a position to rotate out of

    const f = fake!;
    f.holdFills();
    const before = a.engine.status().health.barsProcessed;
    publishHour();
    await until(() => a.engine.status().health.barsProcessed > before && a.engine.status().health.inboxDepth === 0, 'the hour processed');
    const pending = f.orders().filter((o) => !TERMINAL.has(o.status));
    expect(pending.length).toBeGreaterThan(0);
    // The stream drops; the fills happen while nobody listens, so their events are lost for good.
    f.dropTradingStream();
    f.releaseFills();
    for (const o of pending) expect(f.order(o.client_order_id)?.status).toBe('filled');
    await f.waitForTradingListener(1, 5_000); // the SDK reconnects…
    await new Promise((r) => setTimeout(r, 200));
    expect(a.engine.status().openOrders).toBe(pending.length); // …but nothing replays the lost fills
    const ourBook = a.engine.status().positions.map((p) => `${p.symbol} ${p.qty}`);
    expect(ourBook).not.toEqual(f.positions().map((p) => `${p.symbol.replace('USD', '/USD')} ${Number(p.qty)}`));

    const alert = (await until(() => a.console.output().match(/\[PAPER\] Reconciliation \(periodic\): the broker's book wins\. [^\n]*/), 'the periodic reconciliation alert', 15_000))[0];
    for (const o of pending) expect(alert).toContain(`order ${o.client_order_id}: we thought it open, the broker says filled`);
    for (const p of f.positions()) expect(alert).toMatch(new RegExp(`${p.symbol.replace('USD', '/USD')}: we had [\\d.]+, the broker has ${Number(p.qty)}`));
    expect(alert).toMatch(/cash: we had \$[\d,.]+, the broker has \$[\d,.]+/);
    await expectConsistent(a);
  });

  it('a dropped market-data stream: no entries while it is down, the gap is backfilled over REST after the reconnect', async () => {
    await setup();
    const a = await startPaper(rotating());
    await tradeHours(a, 3);
    const f = fake!;
    const barsBefore = a.engine.status().health.barsProcessed;
    const ordersBefore = f.orders().length;
    const droppedAt = Date.now();

    f.dropDataStream();
    await until(() => a.console.output().match(/\[PAPER\] Market data down: the Alpaca market data stream is disconnected\. No new entries until it is back; exits still run\./), 'the outage alert');
    // Three hours pass while nobody listens: each would rotate the book, but none reaches us.
    expect(f.dataStreamClientCount()).toBe(0);
    const openAtDrop = nowHour - (nextHoursAgo + 1) * HOUR; // published before the drop, not yet closed
    const gap = [publishHour(), publishHour(), publishHour()].map((sent) => Math.floor(Number(sent[0]!.bar.t) / HOUR) * HOUR);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.engine.status().health.barsProcessed).toBe(barsBefore);
    expect(f.orders()).toHaveLength(ordersBefore);

    await until(() => a.console.output().match(/\[PAPER\] Market data is back: entries allowed again\./), 'the end of the outage');
    // The hour that was open at the drop and the gap's hours come over REST, once each, in order.
    const missed = [openAtDrop, ...gap];
    await until(() => a.engine.status().health.barsProcessed >= barsBefore + missed.length, 'the gap backfilled');
    await settled(a);
    expect(a.engine.status().health.barsProcessed).toBe(barsBefore + missed.length);
    const backfill = f.requests.find((r) => r.method === 'GET' && r.path === '/v1beta3/crypto/us/bars' && r.at > droppedAt && r.status === 200);
    expect(backfill, 'a REST bars request after the reconnect').toBeDefined();
    expect(Date.parse(backfill!.query.start!)).toBe(openAtDrop);
    // No entry while it was down: every order since the drop came after the backfill.
    expect(f.orders().length).toBeGreaterThan(ordersBefore);
    for (const o of f.orders().slice(ordersBefore)) expect(Date.parse(o.created_at)).toBeGreaterThanOrEqual(backfill!.at);
    const db = new Database(a.dbPath, { readonly: true });
    try {
      for (const ts of missed) {
        const rows = db.prepare('SELECT symbol, flag FROM bars WHERE ts = ?').all(ts) as Array<{ symbol: string; flag: string | null }>;
        expect(rows.map((r) => r.symbol).sort(), `bars of ${new Date(ts).toISOString()}`).toEqual([...SYMBOLS].sort());
        expect(rows.every((r) => r.flag === null)).toBe(true);
      }
      const decided = db.prepare('SELECT ts FROM decisions WHERE ts >= ? ORDER BY id').all(openAtDrop) as Array<{ ts: number }>;
      expect([...new Set(decided.map((d) => d.ts))]).toEqual(missed);
      expect(decided).toHaveLength(missed.length * SYMBOLS.length);
    } finally {
      db.close();
    }
    // The live stream carries on after the backfill (which took every complete hour, so none is open).
    hourOpen = false;
    await tradeHours(a, 2);
    expect(a.engine.status().health.barsProcessed).toBeGreaterThanOrEqual(barsBefore + 5);
    await expectConsistent(a);
  });

  it('partial fills with every fill event sent twice: each execution counts once', async () => {
    await setup();
    const a = await startPaper(rotating());
    const f = fake!;
    f.fillInParts(3);
    f.duplicateFillEvents(true);
    f.holdFills();
    publishHour();
    publishHour(); // closes the first hour: one buy
    await until(() => f.heldOrderCount() === 1 && a.engine.status().openOrders === 1 && a.engine.status().health.inboxDepth === 0, 'the first buy waiting for its fill');
    const id = f.orders()[0]!.client_order_id;
    const symbol = f.orders()[0]!.symbol;
    for (let part = 1; part <= 3; part++) {
      f.releaseFills(); // one part fills…
      if (part < 3) f.holdFills(); // …and the next waits
      await until(() => f.tradeUpdates.filter((u) => u.order.client_order_id === id && /fill/.test(u.event)).length === part, `part ${part} at the broker`);
      const broker = f.positionQty(symbol);
      await until(() => Math.abs((a.engine.status().positions.find((p) => p.symbol === symbol)?.qty ?? 0) - broker) < 1e-9, `part ${part} in our book`);
      await new Promise((r) => setTimeout(r, 150)); // the duplicate of the event has arrived by now
      expect(a.engine.status().positions.find((p) => p.symbol === symbol)?.qty).toBeCloseTo(broker, 9);
      expect(a.engine.status().openOrders).toBe(part < 3 ? 1 : 0);
      expect(journal(a.dbPath).orders.get(id)?.status).toBe(part < 3 ? 'accepted' : 'filled');
      expect(journal(a.dbPath).fills.filter((x) => x.client_order_id === id)).toHaveLength(part);
    }
    // Two more hours: a sell and a buy each, all in parts, all events twice.
    await tradeHours(a, 2);
    const events = f.tradeUpdates.filter((u) => u.event === 'fill' || u.event === 'partial_fill');
    const { fills } = journal(a.dbPath);
    expect(f.orders().length).toBeGreaterThanOrEqual(5);
    expect(fills).toHaveLength(events.length);
    for (const o of f.orders()) {
      expect(events.filter((u) => u.order.client_order_id === o.client_order_id).map((u) => u.event)).toEqual(['partial_fill', 'partial_fill', 'fill']);
      const qty = fills.filter((x) => x.client_order_id === o.client_order_id).reduce((sum, x) => sum + x.qty, 0);
      expect(qty).toBeCloseTo(o.side === 'buy' ? Number(o.filled_qty) * (1 - FEE) : Number(o.filled_qty), 8);
    }
    await expectConsistent(a);
  });

  it('malformed Alpaca responses: an error naming the field, no crash, /status keeps answering', async () => {
    await setup();
    const a = await startPaperWithLog(rotating({ reconcileSeconds: 10 }));
    await tradeHours(a, 1);
    const f = fake!;

    // An order body with a string where a number belongs, then one without its id: the send is ambiguous, the
    // lookup by client_order_id resolves it, and the log says what was wrong.
    f.badResponse('/v2/orders', (body) => ({ ...(body as object), filled_qty: 'n/a' }), { method: 'POST', times: 1 });
    await tradeHours(a, 1);
    f.badResponse('/v2/orders', (body) => ({ ...(body as object), id: undefined }), { method: 'POST', times: 1 });
    await tradeHours(a, 1);
    expect(f.requests.filter((r) => r.fault === 'bad-response' && r.method === 'POST')).toHaveLength(2);
    const warnings = a
      .log()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string; error?: string; outcome?: string });
    const ambiguous = warnings.filter((w) => w.msg === 'order send was ambiguous; resolved by client_order_id lookup');
    expect(ambiguous.map((w) => [w.error, w.outcome])).toEqual([
      ['Alpaca POST /v2/orders: filledQty: expected a decimal number, got "n/a"', 'accepted'],
      ['Alpaca POST /v2/orders: id: Invalid input: expected string, received undefined', 'accepted'],
    ]);
    // Resolved by the lookup: no resend.
    expect(duplicates(f.requestsTo('POST', '/v2/orders').map((r) => (r.body as { client_order_id: string }).client_order_id))).toEqual([]);
    expectNoDuplicateOrders(a.dbPath);

    // The account: a string where a number belongs, then a missing field.
    f.badResponse('/v2/account', (body) => ({ ...(body as object), cash: 'plenty' }), { times: 1 });
    await expect(a.engine.reconcile('test')).rejects.toThrow('Alpaca GET /v2/account: cash: expected a decimal number, got "plenty"');
    f.badResponse('/v2/account', (body) => ({ ...(body as object), cash: undefined }));
    await expect(a.engine.reconcile('test')).rejects.toThrow('Alpaca GET /v2/account: cash: missing');
    // The periodic reconciliation fails the same way, and the operator is told.
    const alert = await until(() => a.console.output().match(/\[PAPER\] [^\n]*[Rr]econciliation[^\n]*failed[^\n]*/), 'an alert about the failing reconciliation', 15_000);
    expect(alert[0]).toContain('Alpaca GET /v2/account: cash: missing');
    const status = await ask(a, '/status', /\[PAPER\] Mode PAPER · state running \(ACTIVE\)[\s\S]*?health:[^\n]*\n/);
    expect(status).toMatch(/Equity \$[\d,]+\.\d\d/);
    expect(a.console.output().match(/[Rr]econciliation[^\n]*failed/g)).toHaveLength(1);

    // Alpaca answers properly again: trading and reconciliation carry on.
    f.clearFaults();
    await tradeHours(a, 1);
    await expectConsistent(a);
  });
});

// ---------------------------------------------------------------------------------------------------------
// SIGKILL: the real CLI as a child process, killed at points in an order's life, restarted on the same database
// ---------------------------------------------------------------------------------------------------------

describe('SIGKILL during an order, then a restart on the same database', () => {
  function childEnv(dir: string): Record<string, string> {
    const overlay = join(dir, 'fast.yaml');
    // One symbol held at a time, so one decision makes one order.
    writeFileSync(overlay, 'strategy:\n  momentum:\n    topK: 1\n');
    return { ...env(), CE_MODE: 'paper', CE_DB: join(dir, 'engine.db'), CE_CONFIG: overlay, LOG_LEVEL: 'warn' };
  }

  async function spawn(e: Record<string, string>): Promise<AgentProcess> {
    const f = fake!;
    await f.waitFor(() => f.tradingListenerCount() === 0 && f.dataStreamClientCount() === 0, 5_000, 'the previous process gone');
    const child = new AgentProcess(['start', '--no-supervisor'], e);
    children.push(child);
    await child.waitFor(/\[PAPER\] Alpaca paper account: equity measured from/);
    await f.waitForSubscription('BTC/USD', 'bars', 10_000);
    await f.waitForTradingListener(1, 10_000);
    return child;
  }

  async function sigkill(child: AgentProcess): Promise<void> {
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await child.exit();
    expect(child.child.signalCode).toBe('SIGKILL');
  }

  function orderRow(dbPath: string, id: string): OrderRow | undefined {
    return journal(dbPath).orders.get(id);
  }

  /** Our book as the restarted agent reports it on /status. */
  async function statusOf(child: AgentProcess): Promise<{ positions: Map<string, number>; cash: number; openOrders: number }> {
    const text = (await child.ask('/status', /\[PAPER\] Mode PAPER[\s\S]*?health:[^\n]*\n/))[0];
    const positions = new Map([...text.matchAll(/^\s+([A-Z]+)\/USD ([\d.]+) @ avg/gm)].map((m) => [`${m[1]}USD`, Number(m[2])]));
    return { positions, cash: Number(text.match(/cash \$([\d,]+\.\d\d)/)![1]!.replace(/,/g, '')), openOrders: Number(text.match(/Open orders (\d+)/)![1]) };
  }

  function decisionsAt(dbPath: string, ts: number): number {
    const db = new Database(dbPath, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM decisions WHERE ts = ?').get(ts) as { n: number }).n;
    } finally {
      db.close();
    }
  }

  function replay(bars: Published): void {
    for (const { symbol, bar } of bars) fake!.pushBar(symbol, bar);
  }

  const POINTS = [
    { point: 'a', when: 'after the order is journaled, before Alpaca answers (the POST hangs; Alpaca has the order)' },
    { point: 'b', when: 'after Alpaca accepted the order, before the fill (it fills while the agent is dead)' },
    { point: 'c1', when: 'as the fill event goes out, before the agent books it' },
    { point: 'c2', when: 'after the fill event was sent and booked' },
  ] as const;

  for (const { point, when } of POINTS) {
    it(`killed ${point}: ${when}`, async () => {
      const f = await setup();
      const dir = mkdtempSync(join(tmpdir(), 'ce-sigkill-'));
      const e = childEnv(dir);
      const dbPath = e.CE_DB!;
      const first = await spawn(e);
      expect(first.stdout).toMatch(/\[PAPER\] Started \(paper\)\. State ACTIVE\. [^\n]*Cash \$10,000\.00, positions none, open orders 0\./);

      f.holdFills();
      if (point === 'a') f.timeoutNextOrderPost();
      // Two hours: the second closes the first, whose rebalance buys the leader. REST does not serve them yet
      // (Alpaca's hourly bars can lag), so the restarted agent sees the same hour live again.
      const hours = [publishHour({ rest: false }), publishHour({ rest: false })];
      const order = await until(() => f.orders()[0], 'the order at the broker');
      const id = order.client_order_id;
      if (point === 'a') {
        await until(() => f.requestsTo('POST', '/v2/orders').some((r) => r.fault === 'timeout') && orderRow(dbPath, id)?.status === 'new', 'the order journaled, its POST unanswered');
        await sigkill(first);
      } else {
        await until(() => orderRow(dbPath, id)?.status === 'accepted' && f.heldOrderCount() === 1, 'the order accepted and journaled');
        if (point === 'b') {
          await sigkill(first);
          f.releaseFills(); // nobody hears the fill event
        } else if (point === 'c1') {
          f.releaseFills(); // the fill event goes out…
          await sigkill(first); // …and the agent dies at once
        } else {
          f.releaseFills();
          await until(() => orderRow(dbPath, id)?.status === 'filled', 'the fill booked');
          await sigkill(first);
        }
      }
      expect(f.order(id)?.status).toBe(point === 'a' ? 'new' : 'filled');
      expect(f.tradeUpdates.filter((u) => u.event === 'fill')).toHaveLength(point === 'a' ? 0 : 1);
      const journaledAtDeath = orderRow(dbPath, id)?.status;
      if (point !== 'c1') expect(journaledAtDeath).toBe({ a: 'new', b: 'accepted', c2: 'filled' }[point]);

      // Restart on the same database, against the same Alpaca.
      const second = await spawn(e);
      const started = (await second.waitFor(/\[PAPER\] Started \(paper\)[^\n]*/))[0];
      if (point === 'a') {
        expect(started).toMatch(/positions none, open orders 1\./);
        expect(started).toContain(`Orders in flight at the last stop: ${id} is open at the broker.`);
      } else {
        expect(started).toContain(`positions ${Number(f.positions()[0]!.qty)} ${order.symbol}, open orders 0.`);
        // Unless the first agent booked the fill before it died, the start-up says what became of the order.
        if (journaledAtDeath === 'filled') expect(started).not.toContain('Orders in flight');
        else expect(started).toContain(`Orders in flight at the last stop: ${id} was filled at the broker.`);
      }

      // The restarted agent sees the same hour again and makes the same decision: Alpaca refuses the repeated
      // client_order_id, and the agent takes the order it already has instead of placing another.
      const decisionTs = Math.floor(Number(hours[0]![0]!.bar.t) / HOUR) * HOUR;
      const decidedBefore = decisionsAt(dbPath, decisionTs);
      replay(hours[0]!);
      replay(hours[1]!);
      await until(() => decisionsAt(dbPath, decisionTs) === decidedBefore + SYMBOLS.length, 'the replayed hour decided');
      const posts = f.requestsTo('POST', '/v2/orders');
      expect(posts.map((p) => (p.body as { client_order_id: string }).client_order_id)).toEqual([id, id]);
      expect(posts[1]!.status).toBe(422);
      if (point === 'a') f.releaseFills(); // now the fill reaches the restarted agent

      await until(() => orderRow(dbPath, id)?.status === 'filled' && f.orders().every((o) => TERMINAL.has(o.status)), 'the order final in the journal');
      expect(f.orders()).toHaveLength(1);
      expectNoDuplicateOrders(dbPath);
      // Booked exactly once by whichever agent heard the fill; a fill nobody heard is taken from Alpaca's book at start-up.
      const booked = journal(dbPath).fills.filter((x) => x.client_order_id === id);
      expect(booked).toHaveLength(point === 'a' || journaledAtDeath === 'filled' ? 1 : 0);
      const book = await statusOf(second);
      const theirs = new Map(f.positions().map((p) => [p.symbol, Number(p.qty)]));
      expect([...book.positions.keys()]).toEqual([...theirs.keys()]);
      for (const [symbol, qty] of theirs) expect(book.positions.get(symbol), `${symbol} qty`).toBeCloseTo(qty, 9);
      expect(Math.abs(book.cash - f.cash())).toBeLessThan(0.006);
      expect(book.openOrders).toBe(0);
    });
  }
});
