/**
 * Paper trading end to end: the real agent and the real Alpaca SDK (REST + msgpack data stream + trade-updates
 * stream) against the project's fake Alpaca. Nothing in the SDK is mocked.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAlpaca, type FakeBarInput } from './fakes/alpaca.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const HOUR = 3_600_000;
const SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD'];
const START_PRICE: Record<string, number> = { 'BTC/USD': 60_000, 'ETH/USD': 3_000, 'SOL/USD': 150, 'LINK/USD': 15 };

let fake: FakeAlpaca;
let agent: TestAgent | undefined;

/** A gently trending, noisy hourly history ending `endHoursAgo` hours before now. */
function history(symbol: string, hours: number, endHoursAgo: number, seed: number): FakeBarInput[] {
  const end = Math.floor(Date.now() / HOUR) * HOUR - endHoursAgo * HOUR;
  let price = START_PRICE[symbol]!;
  let x = seed;
  const bars: FakeBarInput[] = [];
  for (let i = hours; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const r = ((x / 2 ** 31) - 0.5) * 0.01 + 0.0004 * (seed % 3);
    const open = price;
    price = price * (1 + r);
    bars.push({ t: end - i * HOUR, o: open, h: Math.max(open, price) * 1.001, l: Math.min(open, price) * 0.999, c: price, v: 10 });
  }
  return bars;
}

beforeEach(async () => {
  fake = await new FakeAlpaca({ cash: 10_000, feeBps: 25 }).start();
  SYMBOLS.forEach((s, i) => {
    fake.loadBars(s, history(s, 600, 6, i + 1), '1Hour');
    fake.setAsset(s, { min_order_size: '0.0001', min_trade_increment: '0.000000001' });
  });
});

afterEach(async () => {
  await agent?.stop('test over');
  agent = undefined;
  await fake.stop();
});

function env(): Record<string, string> {
  return {
    APCA_API_KEY_ID: 'FAKEKEYID',
    APCA_API_SECRET_KEY: 'FAKESECRET',
    ALPACA_TRADING_URL: fake.tradingUrl,
    ALPACA_DATA_URL: fake.dataUrl,
    ALPACA_DATA_STREAM_URL: fake.dataStreamUrl,
    ALPACA_TRADING_STREAM_URL: fake.tradingStreamUrl,
  };
}

/** Stream minute bars for one past hour (`hoursAgo`), for every symbol. */
function streamHour(hoursAgo: number, drift: number): void {
  const hour = Math.floor(Date.now() / HOUR) * HOUR - hoursAgo * HOUR;
  for (const s of SYMBOLS) {
    const p = fake.price(s)! * (1 + drift);
    for (const minute of [0, 30, 59]) fake.pushBar(s, { t: hour + minute * 60_000, o: p, h: p * 1.0005, l: p * 0.9995, c: p, v: 1 });
  }
}

describe('paper trading on Alpaca', () => {
  it('starts from the broker book, trades on streamed bars, and /status matches the broker', async () => {
    agent = await startTestAgent(env(), (c) => c, undefined, 'paper');
    await fake.waitForSubscription('BTC/USD');
    expect(agent.console.output()).toMatch(/\[PAPER\] Started \(paper\)\. State ACTIVE/);
    for (let h = 5; h >= 1; h--) streamHour(h, 0.002);
    await until(() => fake.orders().some((o) => o.status === 'filled'), 'a filled order at the broker');
    await until(() => agent!.engine.status().positions.length > 0 && agent!.engine.status().openOrders === 0, 'the fill in our book');
    const ours = agent.engine.status();
    for (const p of fake.positions()) {
      const mine = ours.positions.find((x) => x.symbol.replace('/', '') === p.symbol.replace('/', ''));
      expect(mine?.qty).toBeCloseTo(Number(p.qty), 9);
    }
    expect(ours.cash).toBeCloseTo(fake.cash(), 6);
    expect(await agent.engine.reconcile('test')).toEqual([]);
  });

  it('while the data stream is down, no entries, and the stop-loss still fires from polled quotes', async () => {
    agent = await startTestAgent(env(), (c) => ({ ...c, alpaca: { ...c.alpaca, quotePollSeconds: 1 } }), undefined, 'paper');
    await fake.waitForSubscription('BTC/USD');
    for (let h = 5; h >= 1; h--) streamHour(h, 0.002);
    await until(() => agent!.engine.status().positions.length > 0 && agent!.engine.status().openOrders === 0, 'positions held');
    const held = agent.engine.status().positions.map((p) => p.symbol);
    const ordersBefore = fake.orders().length;

    fake.refuseDataStream(true);
    await until(() => agent!.console.output().includes('[PAPER] Market data down'), 'the outage alert');
    // Prices fall 15% at the broker; no bar can tell the engine, only the quotes polled over REST.
    for (const s of held) fake.setPrice(s, fake.price(s)! * 0.85);
    await until(() => agent!.engine.status().positions.length === 0, 'every position sold by the stop-loss', 20_000);
    const sells = fake.orders().slice(ordersBefore);
    expect(sells.length).toBe(held.length);
    expect(sells.every((o) => o.side === 'sell' && o.client_order_id.includes('-protection-'))).toBe(true);
    expect(agent.console.output()).toMatch(/\[PAPER\] Protection [A-Z]+\/USD: stop-loss: 1[45]\.\d\d% below the average cost/);
    expect(await agent.engine.reconcile('test')).toEqual([]);
    fake.refuseDataStream(false);
  }, 60_000);

  it('between bars, a streamed quote far below cost triggers the stop-loss without waiting for the hour', async () => {
    agent = await startTestAgent(env(), (c) => ({ ...c, alpaca: { ...c.alpaca, quotePollSeconds: 1 } }), undefined, 'paper');
    await fake.waitForSubscription('BTC/USD');
    for (let h = 5; h >= 1; h--) streamHour(h, 0.002);
    await until(() => agent!.engine.status().positions.length > 0 && agent!.engine.status().openOrders === 0, 'positions held');
    const [position] = agent.engine.status().positions;
    const mid = position!.avgCost * 0.85;
    fake.setPrice(position!.symbol, mid); // where the market order for the stop will fill
    fake.pushQuote(position!.symbol, { bp: mid * 0.9995, bs: 1, ap: mid * 1.0005, as: 1 });
    await until(() => !agent!.engine.status().positions.some((p) => p.symbol === position!.symbol), 'the stop-loss sale');
    expect(agent.console.output()).toMatch(new RegExp(`Protection ${position!.symbol.replace('/', '\\/')}: stop-loss: 15\\.\\d\\d% below the average cost`));
    expect(await agent.engine.reconcile('test')).toEqual([]);
  }, 60_000);
});
