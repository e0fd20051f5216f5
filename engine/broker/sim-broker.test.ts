import { describe, expect, it } from 'vitest';
import { Ledger } from '../ledger.js';
import type { Bar, BarBatch, Fill, OrderRequest } from '../types.js';
import type { BrokerEvent } from './broker.js';
import { SimBroker, type SimBrokerConfig, type SimVenueState } from './sim-broker.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** A coarse increment makes the flooring visible; fee and slippage as in config/default.yaml. */
const CONFIG: SimBrokerConfig = { feeRate: 0.0025, slippageBps: 5, minNotional: 1, qtyIncrement: 0.001 };
const SLIP = CONFIG.slippageBps / 10_000;
const FEE = CONFIG.feeRate;

function bar(ts: number, open: number, close = open): Bar {
  return { ts, open, high: Math.max(open, close) * 1.01, low: Math.min(open, close) * 0.99, close, volume: 10 };
}

function batch(ts: number, prices: Record<string, number>): BarBatch {
  return { ts, bars: new Map(Object.entries(prices).map(([symbol, open]) => [symbol, bar(ts, open)])) };
}

function buy(id: string, symbol: string, notional: number): OrderRequest {
  return { clientOrderId: id, symbol, side: 'buy', notional };
}

function sell(id: string, symbol: string, qty: number): OrderRequest {
  return { clientOrderId: id, symbol, side: 'sell', qty };
}

function fillsOf(events: readonly BrokerEvent[]): Fill[] {
  return events.flatMap((e) => (e.type === 'fill' ? [e.fill] : []));
}

/** Independent floor to a whole number of increments (integer arithmetic on the step count). */
function floorSteps(value: number, increment: number): number {
  return Math.floor(value / increment) * increment;
}

describe('SimBroker', () => {
  it('fills a notional buy at the next bar open of its symbol plus slippage, fee included in the spend', async () => {
    const config: SimBrokerConfig = { ...CONFIG, qtyIncrement: 1e-6 };
    const broker = SimBroker.fresh(config, 10_000);
    const notional = 2_500;
    const accepted = await broker.submit(buy('b1', 'BTC/USD', notional));
    expect(accepted.status).toBe('accepted');
    // Nothing happens at submit time: no cash moves until a bar arrives.
    expect((await broker.account()).cash).toBe(10_000);
    expect(await broker.openOrders()).toHaveLength(1);

    const open = 41_234.5;
    const events = broker.onMarketData(batch(T0 + HOUR, { 'BTC/USD': open, 'ETH/USD': 2_000 }));
    const [fill] = fillsOf(events);
    expect(events).toHaveLength(1);
    expect(fill).toBeDefined();

    const price = open * (1 + SLIP);
    const qty = floorSteps(notional / (price * (1 + FEE)), config.qtyIncrement);
    expect(qty).toBeGreaterThan(0);
    expect(fill!.symbol).toBe('BTC/USD');
    expect(fill!.side).toBe('buy');
    expect(fill!.ts).toBe(T0 + HOUR);
    expect(fill!.price).toBeCloseTo(price, 8);
    expect(fill!.qty).toBeCloseTo(qty, 12);
    expect(fill!.fee).toBeCloseTo(qty * price * FEE, 8);
    // The spend never exceeds the notional, and is within one increment of it.
    expect(fill!.qty * fill!.price + fill!.fee).toBeLessThanOrEqual(notional + 1e-9);
    expect(notional - (fill!.qty * fill!.price + fill!.fee)).toBeLessThan(config.qtyIncrement * price * (1 + FEE));

    const account = await broker.account();
    expect(account.cash).toBeCloseTo(10_000 - qty * price * (1 + FEE), 6);
    expect(account.positions).toHaveLength(1);
    expect(account.positions[0]!.symbol).toBe('BTC/USD');
    expect(account.positions[0]!.qty).toBeCloseTo(qty, 12);
    expect(await broker.openOrders()).toHaveLength(0);
    expect((await broker.findByClientId('b1'))?.status).toBe('filled');
  });

  it('sizes a notional buy with its fee inside and floors the quantity to the increment', async () => {
    const config: SimBrokerConfig = { ...CONFIG, qtyIncrement: 0.01 };
    const broker = SimBroker.fresh(config, 1_000);
    await broker.submit(buy('b1', 'ETH/USD', 1_000));
    const [fill] = fillsOf(broker.onMarketData(batch(T0, { 'ETH/USD': 333 })));
    const price = 333 * (1 + SLIP);
    const wanted = 1_000 / (price * (1 + FEE));
    // Without the fee it would be ≥ 3 units (and cost more than the cash); with it ≈ 2.994 → 2.99 (not 3, not 2.994).
    expect(1_000 / price).toBeGreaterThan(3);
    expect(wanted).toBeGreaterThan(2.99);
    expect(wanted).toBeLessThan(3);
    expect(fill).toBeDefined();
    expect(fill!.qty).toBeCloseTo(2.99, 12);
    expect((await broker.account()).cash).toBeCloseTo(1_000 - 2.99 * price * (1 + FEE), 9);
  });

  it('fills a sell at the next open minus slippage and deducts the fee from the proceeds', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    await broker.submit(buy('b1', 'ETH/USD', 5_000));
    const [bought] = fillsOf(broker.onMarketData(batch(T0, { 'ETH/USD': 2_000 })));
    const cashAfterBuy = (await broker.account()).cash;

    await broker.submit(sell('s1', 'ETH/USD', bought!.qty));
    const open = 2_200;
    const [sold] = fillsOf(broker.onMarketData(batch(T0 + HOUR, { 'ETH/USD': open })));
    const price = open * (1 - SLIP);
    expect(sold!.side).toBe('sell');
    expect(sold!.qty).toBeCloseTo(bought!.qty, 12);
    expect(sold!.price).toBeCloseTo(price, 8);
    expect(sold!.fee).toBeCloseTo(bought!.qty * price * FEE, 8);
    const account = await broker.account();
    expect(account.cash).toBeCloseTo(cashAfterBuy + bought!.qty * price * (1 - FEE), 6);
    expect(account.positions).toHaveLength(0);
  });

  it('keeps an order open while its symbol is missing from the batch, and fills it on that symbol\'s next bar', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    await broker.submit(buy('b1', 'SOL/USD', 1_000));
    expect(broker.onMarketData(batch(T0, { 'BTC/USD': 40_000, 'ETH/USD': 2_000 }))).toEqual([]);
    expect((await broker.openOrders()).map((o) => o.clientOrderId)).toEqual(['b1']);
    expect((await broker.account()).cash).toBe(10_000);

    const events = broker.onMarketData(batch(T0 + HOUR, { 'BTC/USD': 40_100, 'SOL/USD': 95 }));
    const [fill] = fillsOf(events);
    expect(fill!.symbol).toBe('SOL/USD');
    expect(fill!.ts).toBe(T0 + HOUR);
    expect(fill!.price).toBeCloseTo(95 * (1 + SLIP), 10);
    expect(await broker.openOrders()).toEqual([]);
  });

  it('rejects a buy bigger than the cash with "insufficient buying power" and leaves cash unchanged', async () => {
    const broker = SimBroker.fresh(CONFIG, 1_000);
    const accepted = await broker.submit(buy('big', 'BTC/USD', 5_000));
    expect(accepted.status).toBe('accepted');
    const events = broker.onMarketData(batch(T0, { 'BTC/USD': 40_000 }));
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event.type).toBe('rejected');
    if (event.type !== 'rejected') return;
    expect(event.clientOrderId).toBe('big');
    expect(event.reason).toContain('insufficient buying power');
    const account = await broker.account();
    expect(account.cash).toBe(1_000);
    expect(account.positions).toEqual([]);
    expect(await broker.openOrders()).toEqual([]);
    const known = await broker.findByClientId('big');
    expect(known?.status).toBe('rejected');
    expect(known?.rejectReason).toContain('insufficient buying power');
  });

  it('rejects selling more than is held, flat or partly held', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    await broker.submit(sell('s0', 'BTC/USD', 0.1));
    const flat = broker.onMarketData(batch(T0, { 'BTC/USD': 40_000 }));
    expect(flat.map((e) => e.type)).toEqual(['rejected']);

    await broker.submit(buy('b1', 'BTC/USD', 4_000));
    const [bought] = fillsOf(broker.onMarketData(batch(T0 + HOUR, { 'BTC/USD': 40_000 })));
    const cash = (await broker.account()).cash;
    await broker.submit(sell('s1', 'BTC/USD', bought!.qty + 0.01));
    const events = broker.onMarketData(batch(T0 + 2 * HOUR, { 'BTC/USD': 41_000 }));
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('rejected');
    if (events[0]!.type === 'rejected') expect(events[0]!.reason).toContain('insufficient quantity');
    const account = await broker.account();
    expect(account.cash).toBe(cash);
    expect(account.positions[0]!.qty).toBeCloseTo(bought!.qty, 12);
  });

  it('a duplicate client_order_id returns the order the venue has, open or final, and places nothing', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    const first = await broker.submit(buy('dup', 'BTC/USD', 1_000));
    expect(first.status).toBe('accepted');
    const second = await broker.submit(buy('dup', 'BTC/USD', 2_000));
    expect(second).toEqual(first);
    expect(await broker.openOrders()).toHaveLength(1);

    const events = broker.onMarketData(batch(T0, { 'BTC/USD': 40_000 }));
    expect(fillsOf(events)).toHaveLength(1);
    // The first order's state is not overwritten by the duplicate.
    expect((await broker.findByClientId('dup'))?.status).toBe('filled');

    const third = await broker.submit(buy('dup', 'BTC/USD', 1_000));
    expect(third.status).toBe('filled');
    expect(third.notional).toBe(1_000);
    expect(await broker.openOrders()).toHaveLength(0);
    expect(broker.onMarketData(batch(T0 + HOUR, { 'BTC/USD': 40_000 }))).toEqual([]);
  });

  it('reports its state after every change, and does not trade a bar it has already traded', async () => {
    const saved: SimVenueState[] = [];
    const broker = SimBroker.fresh(CONFIG, 10_000, (state) => saved.push(JSON.parse(JSON.stringify(state)) as SimVenueState));
    await broker.submit(buy('b1', 'BTC/USD', 1_000));
    expect(saved.at(-1)!.open.map((o) => o.clientOrderId)).toEqual(['b1']);
    await broker.submit(buy('b2', 'ETH/USD', 1_000));
    await broker.cancel('b2');
    expect(saved.at(-1)!.recent.map((o) => [o.clientOrderId, o.status])).toEqual([['b2', 'canceled']]);
    const bar = batch(T0, { 'BTC/USD': 40_000 });
    expect(fillsOf(broker.onMarketData(bar))).toHaveLength(1);
    expect(saved).toHaveLength(4);
    expect(saved.at(-1)!.lastTs).toBe(T0);

    // A restart from the last saved state replays that bar: nothing fills again, the account is unchanged.
    const restored = new SimBroker(CONFIG, saved.at(-1)!);
    await restored.submit(buy('b3', 'SOL/USD', 500)); // placed on the replayed bar: fills on the next one
    expect(restored.onMarketData(bar)).toEqual([]);
    expect((await restored.account()).positions).toEqual((await broker.account()).positions);
    expect(fillsOf(restored.onMarketData(batch(T0 + HOUR, { 'BTC/USD': 40_000, 'SOL/USD': 100 }))).map((f) => f.clientOrderId)).toEqual(['b3']);
  });

  it('cancel removes an open order so it never fills', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    await broker.submit(buy('keep', 'BTC/USD', 1_000));
    await broker.submit(buy('drop', 'ETH/USD', 1_000));
    const canceled = await broker.cancel('drop');
    expect(canceled?.status).toBe('canceled');
    expect((await broker.openOrders()).map((o) => o.clientOrderId)).toEqual(['keep']);
    const fills = fillsOf(broker.onMarketData(batch(T0, { 'BTC/USD': 40_000, 'ETH/USD': 2_000 })));
    expect(fills.map((f) => f.clientOrderId)).toEqual(['keep']);
    expect((await broker.findByClientId('drop'))?.status).toBe('canceled');
    // Cancelling something already final changes nothing.
    expect((await broker.cancel('keep'))?.status).toBe('filled');
    expect(await broker.cancel('never-sent')).toBeUndefined();
  });

  it('saveState() and new SimBroker(config, state) round-trip cash, positions and open orders', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    await broker.submit(buy('b1', 'BTC/USD', 3_000));
    await broker.submit(buy('b2', 'ETH/USD', 2_000));
    broker.onMarketData(batch(T0, { 'BTC/USD': 40_000, 'ETH/USD': 2_000 }));
    await broker.submit(sell('s1', 'ETH/USD', 0.5));
    await broker.submit(buy('b3', 'SOL/USD', 500));

    // Through JSON, as the sim persists it in SQLite.
    const saved = JSON.parse(JSON.stringify(broker.saveState())) as SimVenueState;
    const restored = new SimBroker(CONFIG, saved);

    expect(await restored.account()).toEqual(await broker.account());
    expect(await restored.openOrders()).toEqual(await broker.openOrders());
    expect((await restored.openOrders()).map((o) => o.clientOrderId)).toEqual(['s1', 'b3']);
    expect((await restored.findByClientId('b1'))?.status).toBe('filled');
    expect((await restored.submit(buy('b1', 'BTC/USD', 100))).status).toBe('filled');

    // Both venues then behave identically on the same bar.
    const next = batch(T0 + HOUR, { 'BTC/USD': 40_500, 'ETH/USD': 2_100, 'SOL/USD': 100 });
    expect(restored.onMarketData(next)).toEqual(broker.onMarketData(next));
    expect(await restored.account()).toEqual(await broker.account());
  });
});

describe('Ledger', () => {
  const fill = (side: 'buy' | 'sell', qty: number, price: number, fee: number): Fill => ({ clientOrderId: 'x', symbol: 'BTC/USD', side, qty, price, fee, ts: T0 });

  it('folds the buy fee into the average cost', () => {
    const ledger = new Ledger({ cash: 100_000, positions: [], realizedPnl: 0 });
    expect(ledger.apply(fill('buy', 0.5, 40_000, 50))).toBe(0);
    expect(ledger.positions()[0]!.avgCost).toBeCloseTo((0.5 * 40_000 + 50) / 0.5, 9);
    expect(ledger.cash).toBeCloseTo(100_000 - 20_000 - 50, 9);
    ledger.apply(fill('buy', 0.25, 44_000, 27.5));
    const expected = (0.5 * 40_000 + 50 + 0.25 * 44_000 + 27.5) / 0.75;
    expect(ledger.positions()[0]!.avgCost).toBeCloseTo(expected, 9);
    expect(ledger.qty('BTC/USD')).toBeCloseTo(0.75, 12);
  });

  it('realizes proceeds minus cost, both fees included, on a round trip', () => {
    const ledger = new Ledger({ cash: 10_000, positions: [], realizedPnl: 0 });
    const qty = 0.2;
    const buyPrice = 30_000;
    const sellPrice = 31_000;
    const buyFee = qty * buyPrice * 0.0025;
    const sellFee = qty * sellPrice * 0.0025;
    ledger.apply(fill('buy', qty, buyPrice, buyFee));
    const pnl = ledger.apply(fill('sell', qty, sellPrice, sellFee));
    const proceeds = qty * sellPrice - sellFee;
    const cost = qty * buyPrice + buyFee;
    expect(pnl).toBeCloseTo(proceeds - cost, 9);
    expect(ledger.realizedPnl).toBeCloseTo(proceeds - cost, 9);
    expect(ledger.cash).toBeCloseTo(10_000 + proceeds - cost, 9);
    expect(ledger.positions()).toEqual([]);
  });

  it('realizes a partial sell against the fee-inclusive average cost', () => {
    const ledger = new Ledger({ cash: 10_000, positions: [], realizedPnl: 0 });
    ledger.apply(fill('buy', 1, 1_000, 2.5));
    const pnl = ledger.apply(fill('sell', 0.4, 900, 0.9));
    expect(pnl).toBeCloseTo(0.4 * 900 - 0.9 - 0.4 * 1_002.5, 9);
    expect(ledger.qty('BTC/USD')).toBeCloseTo(0.6, 12);
    expect(ledger.positions()[0]!.avgCost).toBeCloseTo(1_002.5, 9);
    expect(ledger.equity(new Map([['BTC/USD', 950]]))).toBeCloseTo(ledger.cash + 0.6 * 950, 9);
  });
});
