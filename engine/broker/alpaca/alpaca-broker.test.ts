/** The Alpaca broker adapter alone, through the real SDK against the project's fake Alpaca. */
import { Alpaca } from '@alpacahq/alpaca-trade-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAlpaca } from '../../../test/fakes/alpaca.js';
import type { BrokerEvent } from '../broker.js';
import { AlpacaBroker } from './alpaca-broker.js';

let fake: FakeAlpaca;
let broker: AlpacaBroker;
let stream: ReturnType<Alpaca['trading']['stream']>;
const events: BrokerEvent[] = [];

beforeEach(async () => {
  fake = await new FakeAlpaca({ cash: 10_000, feeBps: 25 }).start();
  fake.setPrice('BTC/USD', 100);
  const fetchApi = (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    return fetch(`${url.host === 'data.alpaca.markets' ? fake.dataUrl : fake.tradingUrl}${url.pathname}${url.search}`, init);
  };
  const alpaca = new Alpaca({ keyId: 'FAKEKEYID', secret: 'FAKESECRET', paper: true, fetchApi } as ConstructorParameters<typeof Alpaca>[0]);
  stream = alpaca.trading.stream({ url: fake.tradingStreamUrl });
  broker = new AlpacaBroker(alpaca, stream, { paper: true, symbols: ['BTC/USD'], feeRate: 0.0025, log: () => undefined });
  events.length = 0;
  broker.subscribe((e) => events.push(e));
  stream.subscribeTradeUpdates();
  stream.connect();
  await stream.whenAuthenticated();
  await fake.waitForTradingListener();
  await broker.loadAssets();
});

afterEach(async () => {
  stream.disconnect();
  await fake.stop();
});

async function until(probe: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !probe(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!probe()) throw new Error(`timed out waiting for ${what}`);
}

describe('AlpacaBroker', () => {
  it('places a limit order that rests until the price trades through it, then reports the fill', async () => {
    const state = await broker.submit({ clientOrderId: 'ce-lim-1', symbol: 'BTC/USD', side: 'buy', qty: 2, limitPrice: 95 });
    expect(state).toMatchObject({ clientOrderId: 'ce-lim-1', status: 'accepted', limitPrice: 95, qty: 2 });
    expect(fake.order('ce-lim-1')).toMatchObject({ type: 'limit', limit_price: '95', time_in_force: 'gtc' });
    expect((await broker.openOrders()).map((o) => o.clientOrderId)).toEqual(['ce-lim-1']);
    fake.pushBar('BTC/USD', { t: Date.now() - 60_000, o: 96, h: 96, l: 94, c: 94.5, v: 1 });
    await until(() => events.some((e) => e.type === 'fill'), 'the fill event');
    const fill = events.find((e) => e.type === 'fill');
    expect(fill).toMatchObject({ type: 'fill', complete: true, fill: { clientOrderId: 'ce-lim-1', symbol: 'BTC/USD', side: 'buy' } });
    // Units received are net of Alpaca's fee, and match its book.
    expect(fill!.type === 'fill' && fill!.fill.qty).toBeCloseTo(fake.positionQty('BTC/USD'), 9);
  });

  it('cancels a resting order at the broker', async () => {
    await broker.submit({ clientOrderId: 'ce-lim-2', symbol: 'BTC/USD', side: 'buy', qty: 1, limitPrice: 50 });
    expect(await broker.cancel('ce-lim-2')).toMatchObject({ status: 'canceled' });
    expect(fake.order('ce-lim-2')?.status).toBe('canceled');
    expect(await broker.openOrders()).toEqual([]);
  });

  it('cancel-all cancels every open order at the broker, including ones placed elsewhere', async () => {
    await broker.submit({ clientOrderId: 'ce-a', symbol: 'BTC/USD', side: 'buy', qty: 1, limitPrice: 50 });
    await broker.submit({ clientOrderId: 'manual-b', symbol: 'BTC/USD', side: 'buy', qty: 1, limitPrice: 60 });
    expect((await broker.cancelAll()).sort()).toEqual(['ce-a', 'manual-b']);
    // Alpaca passes through pending_cancel on the way.
    await until(() => fake.orders().every((o) => o.status === 'canceled'), 'both canceled');
    expect(fake.orders()).toHaveLength(2);
  });

  it('a 4xx is a definite rejection with Alpaca’s reason; a repeated client_order_id returns the first order', async () => {
    const first = await broker.submit({ clientOrderId: 'ce-dup', symbol: 'BTC/USD', side: 'buy', qty: 1, limitPrice: 50 });
    const again = await broker.submit({ clientOrderId: 'ce-dup', symbol: 'BTC/USD', side: 'buy', qty: 1, limitPrice: 50 });
    expect(again.clientOrderId).toBe(first.clientOrderId);
    expect(fake.orders().filter((o) => o.client_order_id === 'ce-dup')).toHaveLength(1);
    const tooSmall = await broker.submit({ clientOrderId: 'ce-small', symbol: 'BTC/USD', side: 'sell', qty: 1e-12 });
    expect(tooSmall).toMatchObject({ status: 'rejected' });
    expect(tooSmall.rejectReason).toMatch(/minimum order size/);
  });
});
