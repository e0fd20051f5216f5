/** Limit orders on the simulated venue: rest until a bar trades through the limit, never fill beyond it. */
import { describe, expect, it } from 'vitest';
import type { Bar, BarBatch } from '../types.js';
import { SimBroker } from './sim-broker.js';

const CONFIG = { feeRate: 0.0025, slippageBps: 5, minNotional: 1, qtyIncrement: 1e-9 };
const at = (ts: number, o: number, h: number, l: number, c: number): BarBatch => ({ ts, bars: new Map<string, Bar>([['BTC/USD', { ts, open: o, high: h, low: l, close: c, volume: 1 }]]) });

describe('SimBroker limit orders', () => {
  it('a limit buy rests while the bar stays above the limit, then fills at no more than the limit', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    await broker.submit({ clientOrderId: 'b1', symbol: 'BTC/USD', side: 'buy', notional: 1_000, limitPrice: 99 });
    expect(broker.onMarketData(at(1, 101, 102, 100, 101))).toEqual([]); // low 100 > 99: not reached
    expect(await broker.openOrders()).toHaveLength(1);
    const [event] = broker.onMarketData(at(2, 100, 100.5, 98, 99.5)); // trades through 99
    expect(event?.type).toBe('fill');
    const fill = event!.type === 'fill' ? event!.fill : undefined;
    expect(fill!.price).toBe(99); // the open plus slippage (100.05) would be above the limit
    expect(fill!.qty * fill!.price * (1 + CONFIG.feeRate)).toBeLessThanOrEqual(1_000 + 1e-9);
  });

  it('a limit sell fills at no less than the limit, and gets the better open when it gaps through', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    await broker.submit({ clientOrderId: 'b', symbol: 'BTC/USD', side: 'buy', notional: 1_000 });
    broker.onMarketData(at(1, 100, 100, 100, 100));
    const held = (await broker.account()).positions[0]!.qty;
    await broker.submit({ clientOrderId: 's1', symbol: 'BTC/USD', side: 'sell', qty: held, limitPrice: 110 });
    expect(broker.onMarketData(at(2, 105, 109, 104, 108))).toEqual([]);
    const [event] = broker.onMarketData(at(3, 112, 113, 111, 112)); // gaps above the limit
    const fill = event!.type === 'fill' ? event!.fill : undefined;
    expect(fill!.price).toBeCloseTo(112 * (1 - CONFIG.slippageBps / 10_000), 9);
  });

  it('refuses a non-positive limit price', async () => {
    const broker = SimBroker.fresh(CONFIG, 10_000);
    const state = await broker.submit({ clientOrderId: 'x', symbol: 'BTC/USD', side: 'buy', notional: 100, limitPrice: 0 });
    expect(state).toMatchObject({ status: 'rejected', rejectReason: 'limit price must be a positive number' });
  });
});
