/**
 * The engine against a venue that reports asynchronously (as a stream does): partial fills keep the order open,
 * a repeated execution counts once, and reconciliation adopts the broker's book and says what differed.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';
import type { Broker, BrokerAccount, BrokerEvent } from './broker/broker.js';
import { SimClock } from './clock.js';
import { Engine } from './engine.js';
import { Execution } from './execution.js';
import { RiskGate } from './risk/gate.js';
import { BuyHoldStrategy } from './strategy/buyhold.js';
import type { OrderRequest, OrderState } from './types.js';

/** A stand-in for a streaming venue: accepts orders, and lets the test emit events and edit the account. */
class StreamingVenue implements Broker {
  readonly name = 'streaming test venue';
  account_: { cash: number; positions: Array<{ symbol: string; qty: number; avgCost: number }> } = { cash: 10_000, positions: [] };
  orders = new Map<string, OrderState>();
  private listener: ((e: BrokerEvent) => void) | undefined;
  async submit(order: OrderRequest): Promise<OrderState> {
    const state: OrderState = { ...order, status: 'accepted', submittedAt: 0 };
    this.orders.set(order.clientOrderId, state);
    return state;
  }
  async findByClientId(id: string) {
    return this.orders.get(id);
  }
  async openOrders() {
    return [...this.orders.values()].filter((o) => o.status === 'accepted');
  }
  async cancel(id: string) {
    return this.orders.get(id);
  }
  async account(): Promise<BrokerAccount> {
    return { cash: this.account_.cash, positions: this.account_.positions };
  }
  onMarketData(): BrokerEvent[] {
    return [];
  }
  subscribe(listener: (e: BrokerEvent) => void): void {
    this.listener = listener;
  }
  emit(event: BrokerEvent): void {
    this.listener!(event);
  }
}

async function setup() {
  const config = loadConfig({}).config;
  const db = openDatabase(':memory:');
  const state = new SqliteStateStore(db);
  const journal = new SqliteJournal(db);
  const venue = new StreamingVenue();
  const notes: string[] = [];
  const engine = new Engine({
    mode: 'paper',
    symbols: ['BTC/USD'],
    strategy: new BuyHoldStrategy(),
    gate: new RiskGate('benchmark', config.broker, state, Date.now),
    broker: venue,
    execution: new Execution(venue, journal, () => undefined),
    journal,
    state,
    notifier: { notify: (_k, text) => notes.push(text) },
    clock: new SimClock(),
    wallNow: Date.now,
    marketDescription: 'test',
    startingEquity: 10_000,
    killWaitMs: 100,
    log: () => undefined,
  });
  await engine.start();
  await engine.handleBars({ ts: 0, bars: new Map([['BTC/USD', { ts: 0, open: 100, high: 100, low: 100, close: 100, volume: 1 }]]) });
  const [order] = await venue.openOrders();
  return { engine, venue, notes, order: order!, db, journal };
}

const fill = (clientOrderId: string, qty: number, price: number) => ({ clientOrderId, symbol: 'BTC/USD', side: 'buy' as const, qty, price, fee: 0, ts: 1 });

describe('engine with a streaming venue', () => {
  it('keeps an order open through partial fills and counts a repeated execution once', async () => {
    const { engine, venue, order } = await setup();
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 20, 100), complete: false, executionId: 'x1' });
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 20, 100), complete: false, executionId: 'x1' }); // duplicate
    await engine.drain();
    expect(engine.status().positions[0]?.qty).toBe(20);
    expect(engine.status().openOrders).toBe(1);
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 30, 101), complete: true, executionId: 'x2' });
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 30, 101), complete: true, executionId: 'x2' }); // duplicate
    await engine.drain();
    expect(engine.status().positions[0]?.qty).toBe(50);
    expect(engine.status().openOrders).toBe(0);
    expect(engine.status().cash).toBeCloseTo(10_000 - 20 * 100 - 30 * 101, 6);
  });

  it('a fill still in flight when reconciliation took the broker book is not counted twice', async () => {
    const { engine, venue, order } = await setup();
    // The broker has filled 50 units; the event saying so is still on its way.
    venue.orders.set(order.clientOrderId, { ...order, status: 'filled', filledQty: 50 });
    venue.account_ = { cash: 5_000, positions: [{ symbol: 'BTC/USD', qty: 50, avgCost: 100 }] };
    await engine.reconcile('periodic');
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 50, 100), complete: true, executionId: 'late', cumulativeQty: 50 });
    await engine.drain();
    expect(engine.status().positions[0]?.qty).toBe(50);
    expect(engine.status().cash).toBe(5_000);
    expect(await engine.reconcile('again')).toEqual([]);
  });

  it('a fill beyond what the adopted book contains is still counted', async () => {
    const { engine, venue, order } = await setup();
    venue.orders.set(order.clientOrderId, { ...order, status: 'accepted', filledQty: 20 });
    venue.account_ = { cash: 8_000, positions: [{ symbol: 'BTC/USD', qty: 20, avgCost: 100 }] };
    await engine.reconcile('periodic');
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 20, 100), complete: false, executionId: 'e1', cumulativeQty: 20 }); // inside the book
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 30, 100), complete: true, executionId: 'e2', cumulativeQty: 50 }); // new
    await engine.drain();
    expect(engine.status().positions[0]?.qty).toBe(50);
    expect(engine.status().cash).toBe(5_000);
  });

  it('a fill, its positions and its order status are journaled together or not at all, and the operator is told', async () => {
    const { engine, venue, order, db, journal, notes } = await setup();
    const recordOrder = journal.recordOrder.bind(journal);
    // The disk fails on the order's final status, after the fill row was written in the same transaction.
    journal.recordOrder = (o) => (o.status === 'filled' ? (() => { throw new Error('disk I/O error'); })() : recordOrder(o));
    venue.emit({ type: 'fill', fill: fill(order.clientOrderId, 50, 100), complete: true, executionId: 'x1' });
    await engine.drain();
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect(count('fills')).toBe(0);
    expect(count('positions')).toBe(0);
    expect((db.prepare('SELECT status FROM orders WHERE client_order_id = ?').get(order.clientOrderId) as { status: string }).status).toBe('accepted');
    expect(notes).toContain(`Broker fill for ${order.clientOrderId} could not be journaled (disk I/O error). The book in memory has it; the journal will after a restart.`);
    expect(engine.status().positions[0]?.qty).toBe(50);
  });

  it('reconciliation takes the broker book and reports each difference', async () => {
    const { engine, venue, order, notes } = await setup();
    expect(await engine.reconcile('check')).toEqual([]); // nothing differs: nothing reported
    // The fill happened at the broker, but its event was lost (e.g. the stream dropped).
    venue.orders.set(order.clientOrderId, { ...order, status: 'filled' });
    venue.account_ = { cash: 5_000, positions: [{ symbol: 'BTC/USD', qty: 49.5, avgCost: 101 }] };
    const differences = await engine.reconcile('periodic');
    expect(differences).toEqual([
      'BTC/USD: we had 0, the broker has 49.5',
      'cash: we had $10,000.00, the broker has $5,000.00',
      `order ${order.clientOrderId}: we thought it open, the broker says filled`,
    ]);
    expect(engine.status().positions).toMatchObject([{ symbol: 'BTC/USD', qty: 49.5 }]);
    expect(engine.status().cash).toBe(5_000);
    expect(engine.status().openOrders).toBe(0);
    expect(notes.some((n) => n.startsWith("Reconciliation (periodic): the broker's book wins."))).toBe(true);
  });
});
