/**
 * News for the confidence strategy's narrative, end to end: the real agent in paper mode and the real SDK against
 * the fake Alpaca (`GET /v1beta1/news`), and optionally the real `ollama` client against the fake Ollama. What is
 * checked is what the strategy actually used: the `narrative` and `divergence` stored in each decision's signal.
 * Expected narratives are recomputed from the decision's time and the article's time, so the tests do not depend on
 * when in the hour they run.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scoreHeadline } from '../engine/signals/news/lexicon.js';
import type { Config } from '../src/config.js';
import { FakeAlpaca, type FakeBarInput, type FakeNewsArticle } from './fakes/alpaca.js';
import { fakePolarity, FakeOllama, numberedHeadlines } from './fakes/ollama.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const HOUR = 3_600_000;
const SYMBOLS = ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD'];
const START_PRICE: Record<string, number> = { 'BTC/USD': 60_000, 'ETH/USD': 3_000, 'SOL/USD': 150, 'LINK/USD': 15 };
const MODEL = 'llama3.2:3b';
/** The lexicon and the fake LLM disagree on it (0.93 against 0.7), so the scorer that was used is observable. */
const BTC_HEADLINE = 'Bitcoin surges on ETF approval';
const SOL_HEADLINE = 'Solana rallies as inflows return';

let fake: FakeAlpaca;
let ollama: FakeOllama | undefined;
let agent: TestAgent | undefined;

function hourStart(hoursAgo: number): number {
  return Math.floor(Date.now() / HOUR) * HOUR - hoursAgo * HOUR;
}

/** A noisy hourly history ending `endHoursAgo` hours before now. */
function history(symbol: string, hours: number, endHoursAgo: number, seed: number): FakeBarInput[] {
  const end = hourStart(endHoursAgo);
  let price = START_PRICE[symbol]!;
  let x = seed;
  const bars: FakeBarInput[] = [];
  for (let i = hours; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const r = (x / 2 ** 31 - 0.5) * 0.01 + 0.0004 * (seed % 3);
    const open = price;
    price = price * (1 + r);
    bars.push({ t: end - i * HOUR, o: open, h: Math.max(open, price) * 1.001, l: Math.min(open, price) * 0.999, c: price, v: 10 });
  }
  return bars;
}

/** Minute bars for one past hour; the hour is emitted (and decided on) when a later hour's first minute arrives. */
function streamHour(hoursAgo: number, drift = 0.002): void {
  const hour = hourStart(hoursAgo);
  for (const s of SYMBOLS) {
    const p = fake.price(s)! * (1 + drift);
    for (const minute of [0, 30, 59]) fake.pushBar(s, { t: hour + minute * 60_000, o: p, h: p * 1.0005, l: p * 0.9995, c: p, v: 1 });
  }
}

function article(id: number, createdAt: number, headline: string, symbols: string[]): FakeNewsArticle {
  const at = new Date(createdAt).toISOString();
  return { id, headline, author: 'Fake Newswire', created_at: at, updated_at: at, summary: '', content: '', url: `https://example.invalid/news/${id}`, images: [], symbols, source: 'benzinga' };
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
  await ollama?.stop();
  ollama = undefined;
  await fake.stop();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    APCA_API_KEY_ID: 'FAKEKEYID',
    APCA_API_SECRET_KEY: 'FAKESECRET',
    ALPACA_TRADING_URL: fake.tradingUrl,
    ALPACA_DATA_URL: fake.dataUrl,
    ALPACA_DATA_STREAM_URL: fake.dataStreamUrl,
    ALPACA_TRADING_STREAM_URL: fake.tradingStreamUrl,
    ...extra,
  };
}

/** The confidence strategy; `pollSeconds` below the schema's floor of 30 only to keep the tests short. */
function confidence(pollSeconds = 300): (c: Config) => Config {
  return (c) => ({ ...c, strategy: { ...c.strategy, name: 'confidence' }, news: { ...c.news, pollSeconds } });
}

async function startPaper(overrides: (c: Config) => Config, extraEnv: Record<string, string> = {}): Promise<TestAgent> {
  agent = await startTestAgent(env(extraEnv), overrides, undefined, 'paper');
  await fake.waitForSubscription('BTC/USD');
  return agent;
}

interface Decision {
  readonly id: number;
  readonly ts: number;
  readonly symbol: string;
  readonly signal: Record<string, unknown>;
}

function decisions(symbol: string): Decision[] {
  const db = new Database(agent!.dbPath, { readonly: true });
  try {
    const rows = db.prepare('SELECT id, ts, symbol, signal FROM decisions WHERE symbol = ? ORDER BY id').all(symbol) as Array<{ id: number; ts: number; symbol: string; signal: string }>;
    return rows.map((r) => ({ ...r, signal: JSON.parse(r.signal) as Record<string, unknown> }));
  } finally {
    db.close();
  }
}

/** Decisions with a full signal (not warming up), for bars opening at `ts` or later. */
function scored(symbol: string, fromTs = -Infinity): Decision[] {
  return decisions(symbol).filter((d) => d.ts >= fromTs && typeof d.signal.divergence === 'string');
}

/**
 * The narrative a single article gives at a decision: the strategy reads the news known at the bar's close
 * (ts + 1 h); the weight halves every 6 h (news.halfLifeHours) and is below 1, so the score is weight × polarity.
 */
function expectedNarrative(d: Decision, createdAt: number, polarity: number): number | null {
  const age = d.ts + HOUR - createdAt;
  if (age < 0 || age > 48 * HOUR) return null;
  return Math.pow(0.5, age / (6 * HOUR)) * polarity;
}

async function ask(line: string, pattern: RegExp): Promise<string> {
  const from = agent!.console.output().length;
  agent!.console.send(line);
  return (await until(() => agent!.console.output().slice(from).match(pattern), `reply to ${line} matching ${pattern}`))[0];
}

/** Ask /health until its news line contains `text`: the agent's own view of what has been scored. */
async function healthUntil(text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = await ask('/health', /news: [^\n]*/);
    if (line.includes(text)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for /health to show "${text}"; last: ${line}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('news narrative in paper mode', () => {
  it('backfills news at start; a symbol with news gets a numeric narrative, one without reads absent', async () => {
    const btcAt = hourStart(8);
    fake.setNews([article(1, btcAt, BTC_HEADLINE, ['BTCUSD'])]);
    const before = Date.now();
    await startPaper(confidence());

    const [first] = fake.requestsTo('GET', '/v1beta1/news');
    expect(first, 'a news request at start').toBeDefined();
    expect(first!.query.symbols).toBe(SYMBOLS.join(','));
    expect(first!.query.sort).toBe('asc');
    // the last news.maxAgeHours (48 h)
    expect(Date.parse(first!.query.start!)).toBeGreaterThanOrEqual(before - 48 * HOUR - 1_000);
    expect(Date.parse(first!.query.start!)).toBeLessThanOrEqual(Date.now() - 48 * HOUR);

    for (let h = 5; h >= 1; h--) streamHour(h);
    await until(() => scored('BTC/USD').length >= 2 && scored('SOL/USD').length >= 2, 'decisions with a signal');

    const lexicon = scoreHeadline(BTC_HEADLINE).score;
    for (const d of scored('BTC/USD')) {
      expect(d.signal.divergence).not.toBe('absent');
      expect(typeof d.signal.narrative).toBe('number');
      expect(d.signal.narrative as number).toBeCloseTo(expectedNarrative(d, btcAt, lexicon)!, 9);
    }
    for (const d of scored('SOL/USD')) {
      expect(d.signal.divergence).toBe('absent');
      expect(d.signal.narrative).toBeNull();
    }
    const health = await ask('/health', /alpaca news: closed; news: [^\n]*/);
    expect(health).toContain('news: 1 article scored (1 lexicon)');
  });

  it('polls for articles since the newest seen, and a new headline reaches the next decision', async () => {
    const btcAt = hourStart(8);
    fake.setNews([article(1, btcAt, BTC_HEADLINE, ['BTCUSD'])]);
    await startPaper(confidence(1));
    for (const h of [5, 4, 3]) streamHour(h);
    await until(() => scored('SOL/USD').some((d) => d.ts === hourStart(4)), 'the decision on the bar opening four hours ago');
    expect(scored('SOL/USD').every((d) => d.signal.divergence === 'absent')).toBe(true);

    // Published before the close of the bar opening three hours ago, which is not decided yet.
    const solAt = hourStart(3) + 30 * 60_000;
    fake.setNews([article(1, btcAt, BTC_HEADLINE, ['BTCUSD']), article(2, solAt, SOL_HEADLINE, ['SOLUSD'])]);
    await healthUntil('news: 2 articles scored');
    // Polls ask from the newest article seen minus a five-minute overlap, not from 48 h back again.
    const starts = fake.requestsTo('GET', '/v1beta1/news').map((r) => Date.parse(r.query.start!));
    expect(starts.slice(1)).toContain(btcAt - 5 * 60_000);

    for (const h of [2, 1]) streamHour(h);
    await until(() => scored('SOL/USD').some((d) => d.ts === hourStart(3)), 'the decision on the bar opening three hours ago');
    const lexicon = scoreHeadline(SOL_HEADLINE).score;
    for (const d of scored('SOL/USD', hourStart(3))) {
      expect(d.signal.divergence).not.toBe('absent');
      expect(d.signal.narrative as number).toBeCloseTo(expectedNarrative(d, solAt, lexicon)!, 9);
    }
  });

  it('with OLLAMA_MODEL set, the LLM scores the headlines and its scores are used', async () => {
    ollama = new FakeOllama({ models: [MODEL] });
    const host = await ollama.start();
    const btcAt = hourStart(8);
    fake.setNews([article(1, btcAt, BTC_HEADLINE, ['BTCUSD'])]);
    await startPaper(confidence(), { OLLAMA_HOST: host, OLLAMA_MODEL: MODEL });

    const chats = ollama.chats();
    expect(chats.length).toBe(1);
    expect(chats[0]!.model).toBe(MODEL);
    expect(numberedHeadlines(chats[0]!)).toEqual([BTC_HEADLINE]);

    for (let h = 5; h >= 1; h--) streamHour(h);
    await until(() => scored('BTC/USD').length >= 2, 'decisions with a signal');
    const llm = fakePolarity(BTC_HEADLINE);
    expect(llm).not.toBeCloseTo(scoreHeadline(BTC_HEADLINE).score, 2);
    for (const d of scored('BTC/USD')) expect(d.signal.narrative as number).toBeCloseTo(expectedNarrative(d, btcAt, llm)!, 9);
    expect(await ask('/health', /news: [^\n]*/)).toContain(`news: 1 article scored (1 ollama:${MODEL})`);
  });

  it('with the LLM failing, the agent keeps trading and the narrative comes from the lexicon', async () => {
    ollama = new FakeOllama({ models: [MODEL] });
    const host = await ollama.start();
    ollama.failWith(500, 5);
    const btcAt = hourStart(8);
    fake.setNews([article(1, btcAt, BTC_HEADLINE, ['BTCUSD'])]);
    await startPaper(confidence(), { OLLAMA_HOST: host, OLLAMA_MODEL: MODEL });

    // The LLM was asked and failed; the fallback answered, and the failed LLM did not stop the start.
    expect(ollama.requests.filter((r) => r.path === '/api/chat').map((r) => r.status)).toEqual([500]);
    for (let h = 5; h >= 1; h--) streamHour(h);
    await until(() => scored('BTC/USD').length >= 4, 'a decision on every streamed hour');
    await until(() => fake.orders().some((o) => o.side === 'buy' && o.status === 'filled'), 'a filled buy');
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');
    const lexicon = scoreHeadline(BTC_HEADLINE).score;
    for (const d of scored('BTC/USD')) expect(d.signal.narrative as number).toBeCloseTo(expectedNarrative(d, btcAt, lexicon)!, 9);
    expect(await ask('/health', /news: [^\n]*/)).toContain('news: 1 article scored (1 lexicon)');
  });

  it('a failing news endpoint does not stop the agent: one alert, trading on without a narrative, one alert on recovery', async () => {
    const btcAt = hourStart(8);
    fake.setNews([article(1, btcAt, BTC_HEADLINE, ['BTCUSD'])]);
    // Three 503s: the start-up fetch and the SDK's two retries of it; the first poll then succeeds.
    fake.failNext(3, '5xx', { path: '/v1beta1/news', status: 503 });
    await startPaper(confidence(1));
    expect(agent!.console.output()).toMatch(/\[PAPER\] Started \(paper\)/);
    await until(() => agent!.console.output().includes('News from Alpaca failed'), 'the failure alert');
    await until(() => agent!.console.output().includes('News from Alpaca works again'), 'the recovery alert', 10_000);
    expect(agent!.console.output().match(/News from Alpaca failed/g)).toHaveLength(1);
    expect(fake.requestsTo('GET', '/v1beta1/news').filter((r) => r.fault !== undefined)).toHaveLength(3);

    for (let h = 5; h >= 1; h--) streamHour(h);
    await until(() => scored('BTC/USD').length >= 2, 'decisions with a signal');
    const lexicon = scoreHeadline(BTC_HEADLINE).score;
    for (const d of scored('BTC/USD')) expect(d.signal.narrative as number).toBeCloseTo(expectedNarrative(d, btcAt, lexicon)!, 9);
  });

  it('while the news endpoint keeps failing, the agent keeps trading with the narrative absent', async () => {
    fake.setNews([article(1, hourStart(8), BTC_HEADLINE, ['BTCUSD'])]);
    fake.faultRate(1, '5xx', { path: '/v1beta1/news', status: 503 });
    await startPaper(confidence());
    await until(() => agent!.console.output().includes('News from Alpaca failed'), 'the failure alert');
    for (let h = 5; h >= 1; h--) streamHour(h);
    await until(() => scored('BTC/USD').length >= 4, 'a decision on every streamed hour');
    expect(scored('BTC/USD').every((d) => d.signal.divergence === 'absent' && d.signal.narrative === null)).toBe(true);
    await until(() => fake.orders().some((o) => o.side === 'buy' && o.status === 'filled'), 'a filled buy');
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');
  });

  it('other strategies fetch no news', async () => {
    await startPaper((c) => c); // momentum, the default
    for (let h = 5; h >= 1; h--) streamHour(h);
    await until(() => decisions('BTC/USD').length >= 2, 'decisions');
    expect(fake.requestsTo('GET', '/v1beta1/news')).toEqual([]);
  });
});
