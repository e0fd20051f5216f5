/**
 * Smoke test: the REAL `@alpacahq/alpaca-trade-api` v4 SDK against the fake, over HTTP and WebSockets.
 *
 * How the SDK is pointed at the fake (v4 has no baseUrl option on `Alpaca`):
 *   - REST: `fetchApi` that rewrites the origin of `https://paper-api.alpaca.markets` and
 *     `https://data.alpaca.markets` to the fake. It runs inside the SDK transport, so retries, the rate
 *     limiter, `timeoutMs` and the typed errors all stay in play.
 *   - Streams: the `url` option of `trading.stream()` and `marketData.cryptoStream()`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Alpaca,
  ApiError,
  FetchError,
  TimeFrame,
  ValidationError,
  streaming,
  type AlpacaClientOptions,
} from '@alpacahq/alpaca-trade-api';
import { FakeAlpaca } from './alpaca.js';

const TRADING_HOST = 'paper-api.alpaca.markets';
const DATA_HOST = 'data.alpaca.markets';

/** `fetchApi` that sends SDK requests for Alpaca's hosts to the fake instead. */
function fetchVia(fake: FakeAlpaca): NonNullable<AlpacaClientOptions['fetchApi']> {
  return (url, init) => {
    const u = new URL(url);
    const origin = u.host === DATA_HOST ? fake.dataUrl : u.host === TRADING_HOST ? fake.tradingUrl : undefined;
    if (origin === undefined) return Promise.reject(new Error(`unexpected host ${u.host}`));
    return fetch(origin + u.pathname + u.search, init);
  };
}

function client(fake: FakeAlpaca, extra: Partial<AlpacaClientOptions> = {}): Alpaca {
  return new Alpaca({
    keyId: fake.keyId,
    secret: fake.secret,
    paper: true,
    fetchApi: fetchVia(fake),
    timeoutMs: 5_000,
    retry: { maxRetries: 2, retryDelayMs: 20, maxDelayMs: 200 },
    ...extra,
  });
}

function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = (): void => {
      const v = probe();
      if (v !== undefined) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1, 0, 0, 0);

describe('FakeAlpaca with the real v4 SDK', () => {
  const fake = new FakeAlpaca({ cash: 100_000 });
  let alpaca: Alpaca;
  const streams: Array<{ disconnect(): void }> = [];

  beforeAll(async () => {
    await fake.start();
    fake.loadBars(
      'BTC/USD',
      Array.from({ length: 5 }, (_, i) => ({ t: T0 + i * HOUR, o: 42_000 + i, h: 42_100 + i, l: 41_900 + i, c: 42_050 + i, v: 1.5 + i, n: 10 + i, vw: 42_010 + i })),
    );
    fake.setPrice('BTC/USD', 50_000);
    alpaca = client(fake);
  });

  afterEach(() => fake.clearFaults());

  afterAll(async () => {
    for (const s of streams) s.disconnect();
    await fake.stop();
  });

  it('REST + trading stream: account, market order, fill event, lookup by client id, duplicate id', async () => {
    const account = await alpaca.trading.account.getAccount();
    expect(account.status).toBe('ACTIVE');
    expect(account.cash).toBe('100000'); // money is a string
    expect(account.buyingPower).toBe('100000');
    expect(account.currency).toBe('USD');

    const asset = await alpaca.trading.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: 'BTC/USD' });
    expect(asset._class).toBe('crypto');
    expect(asset.minOrderSize).toBe('0.0001');
    expect(asset.fractionable).toBe(true);

    const updates: streaming.TradeUpdate[] = [];
    const ts = alpaca.trading.stream({ url: fake.tradingStreamUrl, pingIntervalMs: 0 });
    streams.push(ts);
    ts.onTradeUpdate((u) => updates.push(u));
    ts.subscribeTradeUpdates(); // sent right after auth
    ts.connect();
    expect((await ts.whenAuthenticated()).authenticated).toBe(true);
    await fake.waitForTradingListener();

    const placed = await alpaca.trading.orders.market({ symbol: 'BTC/USD', qty: '0.01', side: 'buy', timeInForce: 'gtc', clientOrderId: 'smoke-1' });
    expect(placed.status).toBe('pending_new');
    expect(placed.clientOrderId).toBe('smoke-1');
    expect(placed.symbol).toBe('BTC/USD');
    expect(placed.qty).toBe('0.01');
    expect(placed.filledQty).toBe('0');
    expect(placed.submittedAt).toBeInstanceOf(Date);

    const fill = await waitFor(() => updates.find((u) => u.event === 'fill' && u.order.clientOrderId === 'smoke-1'), 'fill update');
    expect(updates.map((u) => u.event)).toEqual(['new', 'fill']);
    expect(fill.price).toBe('50000');
    expect(fill.qty).toBe('0.01');
    expect(fill.positionQty).toBe('0.01');
    expect(fill.order.status).toBe('filled');
    expect(fill.order.filledAvgPrice).toBe('50000');
    expect(fill.timestamp).toBeInstanceOf(Date);

    const byCoid = await alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: 'smoke-1' });
    expect(byCoid.id).toBe(placed.id);
    expect(byCoid.status).toBe('filled');
    expect(byCoid.filledQty).toBe('0.01');

    const positions = await alpaca.trading.positions.getAllOpenPositions();
    expect(positions).toHaveLength(1);
    expect(positions[0]?.symbol).toBe('BTCUSD'); // Alpaca's crypto positions drop the slash
    expect(positions[0]?.qty).toBe('0.01');
    const one = await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'BTC/USD' });
    expect(one.avgEntryPrice).toBe('50000');
    expect(fake.cash()).toBeCloseTo(99_500, 6);

    const dup = await alpaca.trading.orders
      .market({ symbol: 'BTC/USD', qty: '0.01', side: 'buy', timeInForce: 'gtc', clientOrderId: 'smoke-1' })
      .catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ValidationError);
    expect((dup as ValidationError).status).toBe(422);
    expect((dup as ValidationError).code).toBe(40010001);
    expect((dup as ValidationError).message).toBe('client_order_id must be unique');

    // The SDK's builders default timeInForce to 'day', which Alpaca rejects for crypto.
    const dayTif = await alpaca.trading.orders.market({ symbol: 'BTC/USD', qty: '0.01', side: 'buy' }).catch((e: unknown) => e);
    expect(dayTif).toBeInstanceOf(ValidationError);
    expect((dayTif as ApiError).code).toBe(42210000);
  });

  it('market data: crypto bars over REST with paging, a pushed bar over the msgpack stream', async () => {
    const bars = await alpaca.marketData.getCryptoBars({ loc: 'us', symbols: ['BTC/USD'], timeframe: TimeFrame.Hour, start: new Date(T0), end: new Date(T0 + 10 * HOUR), limit: 2 });
    const btc = bars['BTC/USD'] ?? [];
    expect(btc).toHaveLength(5); // three pages of ≤2 followed via next_page_token
    expect(btc[0]).toMatchObject({ symbol: 'BTC/USD', open: 42_000, close: 42_050, volume: 1.5, tradeCount: 10, vwap: 42_010 });
    expect(btc[0]?.timestamp).toEqual(new Date(T0));
    expect(fake.requestsTo('GET', '/v1beta3/crypto/us/bars')).toHaveLength(3);

    const raw = await alpaca.marketData.crypto.cryptoBars({ loc: 'us', symbols: 'BTC/USD', timeframe: '1Hour', start: new Date(T0), limit: 1 });
    expect(raw.nextPageToken).toEqual(expect.any(String));
    expect(raw.bars['BTC/USD']?.[0]).toMatchObject({ o: 42_000, t: '2024-01-01T00:00:00Z' }); // raw map: t stays a string

    const quotes = await alpaca.marketData.crypto.cryptoLatestQuotes({ loc: 'us', symbols: 'BTC/USD' });
    expect(quotes.quotes['BTC/USD']?.bp).toBeLessThan(50_000);

    const news = await alpaca.marketData.news.news({ symbols: 'BTCUSD' });
    expect(news.news.length).toBeGreaterThan(0);

    const received: streaming.StreamBar[] = [];
    const cs = alpaca.marketData.cryptoStream({ url: fake.dataStreamUrl, pingIntervalMs: 0 });
    streams.push(cs);
    cs.onBar((b) => received.push(b));
    cs.subscribeForBars(['BTC/USD']);
    cs.connect();
    expect((await cs.whenAuthenticated()).authenticated).toBe(true);
    await fake.waitForSubscription('BTC/USD', 'bars');
    const t = Date.UTC(2024, 0, 2, 0, 1);
    fake.pushBar('BTC/USD', { t, o: 51_000, h: 51_500, l: 50_900, c: 51_200, v: 0.7, n: 4, vw: 51_100 });
    const bar = await waitFor(() => received[0], 'streamed bar');
    expect(bar).toMatchObject({ symbol: 'BTC/USD', open: 51_000, high: 51_500, low: 50_900, close: 51_200, volume: 0.7, tradeCount: 4, vwap: 51_100 });
    expect(bar.timestamp).toEqual(new Date(t));
    expect(fake.price('BTC/USD')).toBe(51_200);
  });

  it('a 429 on a GET is retried by the SDK; a 5xx on the order POST is not', async () => {
    const retries: number[] = [];
    const withHook = client(fake, { retry: { maxRetries: 2, retryDelayMs: 20, onRetry: (e) => retries.push(e.status ?? 0) } });
    fake.failNext(1, '429', { method: 'GET', path: '/v2/account' });
    const before = fake.requestsTo('GET', '/v2/account').length;
    const account = await withHook.trading.account.getAccount();
    expect(account.status).toBe('ACTIVE');
    expect(retries).toEqual([429]);
    const seen = fake.requestsTo('GET', '/v2/account').slice(before);
    expect(seen.map((r) => r.status)).toEqual([429, 200]);

    fake.failNext(1, '5xx', { method: 'POST', path: '/v2/orders', status: 503 });
    const posts = fake.requestsTo('POST', '/v2/orders').length;
    const ordersBefore = fake.orders().length;
    const err = await alpaca.trading.orders
      .market({ symbol: 'BTC/USD', qty: '0.01', side: 'buy', timeInForce: 'gtc', clientOrderId: 'smoke-5xx' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(503);
    expect(fake.requestsTo('POST', '/v2/orders').length).toBe(posts + 1); // exactly one attempt
    expect(fake.orders().length).toBe(ordersBefore); // rejected before the engine saw it
  });

  it('a timed-out order POST surfaces as FetchError(TimeoutError) while the order exists', async () => {
    const impatient = client(fake, { timeoutMs: 300 });
    fake.timeoutNextOrderPost();
    const err = await impatient.trading.orders
      .market({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', timeInForce: 'gtc', clientOrderId: 'smoke-timeout' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).cause.name).toBe('TimeoutError');
    const found = await alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: 'smoke-timeout' });
    expect(found.clientOrderId).toBe('smoke-timeout');
    await fake.waitFor(() => fake.order('smoke-timeout')?.status === 'filled');
  });

  it('badResponse malforms a body; the SDK passes it through unvalidated', async () => {
    fake.badResponse('/v2/account', (b) => ({ ...(b as object), cash: 12.5, equity: undefined }), { times: 1 });
    const account = await alpaca.trading.account.getAccount();
    expect(account.cash as unknown).toBe(12.5); // a number where a string belongs, no SDK error
    expect(account.equity).toBeUndefined();
  });
});

describe('FakeAlpaca engine features through the SDK', () => {
  const fake = new FakeAlpaca({ cash: 10_000 });
  let alpaca: Alpaca;
  let ts: streaming.TradingStream;
  const updates: streaming.TradeUpdate[] = [];
  const events = (coid: string): string[] => updates.filter((u) => u.order.clientOrderId === coid).map((u) => u.event);

  beforeAll(async () => {
    await fake.start();
    fake.setPrice('ETH/USD', 2_000);
    alpaca = client(fake);
    ts = alpaca.trading.stream({ url: fake.tradingStreamUrl, pingIntervalMs: 0, initialReconnectMs: 50, reconnectJitter: 0 });
    ts.onTradeUpdate((u) => updates.push(u));
    ts.subscribeTradeUpdates();
    ts.connect();
    await fake.waitForTradingListener();
  });

  afterEach(() => {
    fake.clearFaults();
    fake.fillInParts(1);
    fake.releaseFills();
  });

  afterAll(async () => {
    ts.disconnect();
    await fake.stop();
  });

  it('partial fills, held fills and duplicated fill events', async () => {
    fake.fillInParts(3);
    fake.holdFills();
    await alpaca.trading.orders.market({ symbol: 'ETH/USD', qty: 1.5, side: 'buy', timeInForce: 'gtc', clientOrderId: 'parts' });
    await fake.waitFor(() => fake.heldOrderCount() === 1);
    expect(fake.order('parts')?.status).toBe('new');
    fake.duplicateNextFillEvents(1);
    fake.releaseFills();
    await waitFor(() => (events('parts').includes('fill') ? true : undefined), 'fill');
    expect(events('parts')).toEqual(['new', 'partial_fill', 'partial_fill', 'partial_fill', 'fill']); // first partial sent twice
    const partials = updates.filter((u) => u.order.clientOrderId === 'parts' && u.event !== 'new');
    expect(partials.map((u) => u.qty)).toEqual(['0.5', '0.5', '0.5', '0.5']);
    expect(partials.at(-1)?.positionQty).toBe('1.5');
    expect(fake.positionQty('ETH/USD')).toBe(1.5);
    expect(fake.cash()).toBeCloseTo(7_000, 6);
  });

  it('limit orders rest until the price crosses; cancel and cancel-all', async () => {
    const lim = await alpaca.trading.orders.limit({ symbol: 'ETH/USD', qty: 0.5, side: 'buy', limitPrice: 1_900, timeInForce: 'gtc', clientOrderId: 'lim-1' });
    await alpaca.trading.orders.limit({ symbol: 'ETH/USD', qty: 0.5, side: 'buy', limitPrice: 1_800, timeInForce: 'gtc', clientOrderId: 'lim-2' });
    await alpaca.trading.orders.limit({ symbol: 'ETH/USD', qty: 0.1, side: 'buy', limitPrice: 1_700, timeInForce: 'gtc', clientOrderId: 'lim-3' });
    await waitFor(() => (events('lim-3').includes('new') ? true : undefined), 'lim-3 new');
    const open = await alpaca.trading.orders.getAllOrders({ status: 'open' });
    expect(open.map((o) => o.clientOrderId).sort()).toEqual(['lim-1', 'lim-2', 'lim-3']);

    fake.setPrice('ETH/USD', 1_890);
    await waitFor(() => (events('lim-1').includes('fill') ? true : undefined), 'lim-1 fill');
    expect(fake.order('lim-2')?.status).toBe('new');

    await alpaca.trading.orders.deleteOrderByOrderID({ orderId: (await alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: 'lim-2' })).id as string });
    await waitFor(() => (events('lim-2').includes('canceled') ? true : undefined), 'lim-2 canceled');
    const again = await alpaca.trading.orders.deleteOrderByOrderID({ orderId: lim.id as string }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ValidationError); // 422: already filled

    const cancelled = await alpaca.trading.orders.deleteAllOrders();
    expect(cancelled).toEqual([{ id: fake.order('lim-3')?.id, status: 200 }]);
    await waitFor(() => (events('lim-3').includes('canceled') ? true : undefined), 'lim-3 canceled');
  });

  it('insufficient balance is a 403 PermissionError; close all positions sells everything', async () => {
    const err = await alpaca.trading.orders.market({ symbol: 'ETH/USD', qty: 100, side: 'buy', timeInForce: 'gtc' }).catch((e: unknown) => e);
    expect((err as ApiError).status).toBe(403);
    expect((err as ApiError).message).toMatch(/^insufficient balance for USD/);

    const closed = await alpaca.trading.closeAllPositions({ cancelOrders: true });
    expect(closed.map((c) => [c.symbol, c.status])).toEqual([['ETHUSD', 200]]);
    await fake.waitFor(() => fake.positions().length === 0);
  });

  it('events during a trading-stream drop are lost; the SDK reconnects and re-listens', async () => {
    fake.holdFills();
    await alpaca.trading.orders.market({ symbol: 'ETH/USD', qty: 0.01, side: 'buy', timeInForce: 'gtc', clientOrderId: 'lost' });
    await waitFor(() => (events('lost').includes('new') ? true : undefined), 'lost new');
    const reconnected = new Promise<void>((resolve) => ts.onReconnected(() => resolve()));
    fake.dropTradingStream();
    fake.releaseFills(); // fills while nobody is connected
    expect(fake.order('lost')?.status).toBe('filled');
    await reconnected;
    expect(events('lost')).toEqual(['new']); // the fill event is gone for good: reconcile over REST
    await fake.waitForTradingListener();
    await alpaca.trading.orders.market({ symbol: 'ETH/USD', qty: 0.01, side: 'buy', timeInForce: 'ioc', clientOrderId: 'after-reconnect' });
    await waitFor(() => (events('after-reconnect').includes('fill') ? true : undefined), 'fill after reconnect');
  });

  it('data stream: drop, SDK reconnects and resubscribes; a second connection hits the 406 limit', async () => {
    const got: streaming.StreamBar[] = [];
    const cs = alpaca.marketData.cryptoStream({ url: fake.dataStreamUrl, pingIntervalMs: 0, initialReconnectMs: 50, reconnectJitter: 0 });
    cs.onBar((b) => got.push(b));
    cs.subscribeForBars(['ETH/USD']);
    cs.connect();
    await fake.waitForSubscription('ETH/USD');

    const second = alpaca.marketData.cryptoStream({ url: fake.dataStreamUrl, pingIntervalMs: 0, reconnect: false });
    const errors: string[] = [];
    second.onError((m) => errors.push(m));
    second.connect();
    await waitFor(() => (errors.length > 0 ? true : undefined), '406');
    expect(errors[0]).toBe('connection limit exceeded');
    second.disconnect();

    const reconnected = new Promise<void>((resolve) => cs.onReconnected(() => resolve()));
    fake.dropDataStream();
    await reconnected;
    await fake.waitForSubscription('ETH/USD');
    fake.pushBar('ETH/USD', { t: '2024-01-02T00:00:00Z', o: 1, h: 2, l: 0.5, c: 1.5, v: 10 });
    await waitFor(() => got[0], 'bar after reconnect');
    cs.disconnect();
  });

  it('faultRate is reproducible for a seed', async () => {
    const run = async (): Promise<number[]> => {
      const f = new FakeAlpaca({ seed: 7 });
      await f.start();
      f.faultRate(0.5, '5xx');
      const c = client(f, { retry: false });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push(await c.trading.account.getAccount().then(() => 200, (e: ApiError) => e.status));
      await f.stop();
      return statuses;
    };
    const a = await run();
    expect(a).toEqual(await run());
    expect(a.some((s) => s >= 500)).toBe(true);
    expect(a.includes(200)).toBe(true);
  });
});
