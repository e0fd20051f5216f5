/**
 * The real `ollama` client, over real HTTP, against the fake Ollama server: the LLM scores headlines when it is
 * healthy, and every kind of failure ends in the lexicon's answer instead of an error.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Ollama } from 'ollama';
import type { NewsItem } from '../engine/market/alpaca-news.js';
import { scoreHeadline } from '../engine/signals/news/lexicon.js';
import { NewsNarrative } from '../engine/signals/news/news-narrative.js';
import { FallbackScorer, lexiconScorer } from '../engine/signals/news/scorer.js';
import { headlineScorerFromEnv, OllamaHeadlineScorer } from '../src/ollama-scorer.js';
import { defaultReply, fakePolarity, FakeOllama, numberedHeadlines } from './fakes/ollama.js';

const MODEL = 'llama3.2:3b';
const HEADLINES = ['Bitcoin surges on ETF approval', 'Exchange hacked, funds stolen', 'Bitcoin miners meet in Austin'];
const LEXICON = HEADLINES.map((h) => scoreHeadline(h).score);
const LLM = HEADLINES.map(fakePolarity);

let fake: FakeOllama;
let host: string;

beforeAll(async () => {
  fake = new FakeOllama({ models: [MODEL] });
  host = await fake.start();
});
afterAll(async () => {
  await fake.stop();
});
afterEach(() => {
  fake.reply = defaultReply;
  fake.delayMs = 0;
  fake.malformed = false;
  fake.requests.length = 0;
});

function scorer(timeoutMs = 2_000, model = MODEL): { llm: OllamaHeadlineScorer; s: FallbackScorer; reasons: string[] } {
  const reasons: string[] = [];
  const llm = new OllamaHeadlineScorer({ host, model, timeoutMs });
  return { llm, s: new FallbackScorer(llm, lexiconScorer, { timeoutMs, onFallback: (r) => reasons.push(r) }), reasons };
}

describe('OllamaHeadlineScorer through the fake Ollama server', () => {
  it('sanity: the LLM and the lexicon disagree on the test headlines, so the source is observable', () => {
    expect(LLM).not.toEqual(LEXICON);
  });

  it('scores come from the LLM when it is healthy', async () => {
    const { s, reasons } = scorer();
    expect(await s.score(HEADLINES)).toEqual(LLM);
    expect(s.lastSource).toBe('primary');
    expect(reasons).toEqual([]);

    const [req] = fake.chats();
    expect(req).toBeDefined();
    expect(req!.model).toBe(MODEL);
    expect(req!.stream).toBe(false);
    expect(req!.options).toMatchObject({ temperature: 0 });
    expect(req!.format).toMatchObject({ type: 'object', required: ['scores'], properties: { scores: { type: 'array', minItems: 3, maxItems: 3 } } });
    expect(req!.messages[0]!.role).toBe('system');
    expect(numberedHeadlines(req!)).toEqual(HEADLINES);
  });

  it('clamps the model’s numbers to −1..1', async () => {
    fake.reply = () => JSON.stringify({ scores: [2, -5, 0.25] });
    const { s } = scorer();
    expect(await s.score(HEADLINES)).toEqual([1, -1, 0.25]);
    expect(s.lastSource).toBe('primary');
  });

  it('a delay beyond the timeout gives the lexicon answer, and the hung request is aborted', async () => {
    fake.delayMs = 5_000;
    const { s, reasons } = scorer(300);
    const started = Date.now();
    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    expect(Date.now() - started).toBeLessThan(4_000); // well before the server would have answered
    expect(s.lastSource).toBe('fallback');
    expect(reasons[0]).toMatch(/300 ms/);
    // The client gave up on the request rather than leaving it open.
    await fake.waitFor(() => fake.requests.find((r) => r.path === '/api/chat')?.aborted, 3_000, 'the chat request to be aborted');
  });

  it('HTTP 500 falls back', async () => {
    fake.failWith(500, 1);
    const { s, reasons } = scorer();
    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    expect(s.lastSource).toBe('fallback');
    expect(reasons[0]).toMatch(/llama runner process has terminated/);
  });

  it('a model that is not pulled (404) falls back', async () => {
    const { s } = scorer(2_000, 'no-such-model');
    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    expect(s.lastError).toMatch(/not found/);
  });

  it.each(['not-json', 'wrong-shape', 'bad-body'] as const)('malformed content (%s) falls back', async (mode) => {
    fake.malformed = mode;
    const { s, llm } = scorer();
    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    expect(s.lastSource).toBe('fallback');
    await expect(llm.score(HEADLINES)).rejects.toThrow(/ollama:llama3\.2:3b/);
  });

  it('the wrong number of scores falls back', async () => {
    fake.reply = () => JSON.stringify({ scores: [0.5, 0.5] });
    const { s, llm } = scorer();
    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    expect(s.lastError).toMatch(/2 scores for 3 headlines/);
    await expect(llm.score(HEADLINES)).rejects.toThrow('2 scores for 3 headlines');
  });

  it('a server that is down falls back, then the cool-down keeps it from being hit again', async () => {
    fake.setDown(true);
    try {
      const { s } = scorer();
      expect(await s.score(HEADLINES)).toEqual(LEXICON);
      const before = fake.requests.length;
      expect(await s.score(HEADLINES)).toEqual(LEXICON);
      expect(s.lastError).toMatch(/cooling down/);
      expect(fake.requests.length).toBe(before);
    } finally {
      fake.setDown(false);
    }
  });

  it('headlineScorerFromEnv: lexicon without OLLAMA_MODEL, the LLM with fallback otherwise', async () => {
    expect(headlineScorerFromEnv({})).toBe(lexiconScorer);
    const warnings: unknown[] = [];
    const log = { info: () => undefined, warn: (obj: object) => warnings.push(obj) };
    const s = headlineScorerFromEnv({ OLLAMA_HOST: host, OLLAMA_MODEL: MODEL }, log);
    expect(s).toBeInstanceOf(FallbackScorer);
    expect(s.name).toBe(`ollama:${MODEL} or lexicon`);
    expect(await s.score(HEADLINES)).toEqual(LLM);
    fake.failWith(503, 1, 'server busy');
    const bad = headlineScorerFromEnv({ OLLAMA_HOST: host, OLLAMA_MODEL: MODEL }, log);
    expect(await bad.score(HEADLINES)).toEqual(LEXICON);
    expect(warnings).toEqual([expect.objectContaining({ model: MODEL, reason: expect.stringContaining('server busy') })]);
  });
});

describe('the fake speaks the rest of the protocol (for the advisor)', () => {
  it('tags, version, free-form and streamed chat', async () => {
    const client = new Ollama({ host });
    expect((await client.version()).version).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await client.list()).models.map((m) => m.name)).toEqual([MODEL]);
    const r = await client.chat({ model: MODEL, stream: false, messages: [{ role: 'user', content: 'How did we do today?' }] });
    expect(r.done).toBe(true);
    expect(r.message.content).toContain('How did we do today?');
    fake.reply = () => 'Up 1.2% today, two trades.';
    let text = '';
    let chunks = 0;
    for await (const part of await client.chat({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'summary?' }] })) {
      text += part.message.content;
      chunks++;
      if (part.done) expect(part.done_reason).toBe('stop');
    }
    expect(text).toBe('Up 1.2% today, two trades.');
    expect(chunks).toBeGreaterThan(2);
  });
});

describe('NewsNarrative end to end with the LLM scorer', () => {
  const NOW = Date.UTC(2024, 0, 10, 12);
  const news = (id: number, headline: string, ageMs: number): NewsItem => ({ id, createdAt: NOW - ageMs, headline, summary: '', source: 'test', symbols: ['BTC/USD'] });

  it('a duplicate story with a different id counts once; no news gives null', async () => {
    const { s } = scorer();
    const n = new NewsNarrative(s);
    await n.ingest([news(101, 'Bitcoin surges on ETF approval', 60_000), news(102, 'BITCOIN SURGES ON ETF APPROVAL!', 30_000)]);
    expect(fake.chats()).toHaveLength(1);
    expect(n.scoreOf(101)).toEqual({ score: 0.7, scorer: `ollama:${MODEL}` });
    const r = n.narrative('BTC/USD', NOW);
    expect(r.articles).toBe(1);
    expect(r.reason).toContain('1 duplicate dropped');
    expect(r.score).not.toBeNull();
    expect(r.score!).toBeGreaterThanOrEqual(-1);
    expect(r.score!).toBeLessThanOrEqual(1);
    expect(r.score!).toBeCloseTo(0.7, 2);
    expect(n.narrative('ETH/USD', NOW)).toEqual({ score: null, articles: 0, reason: 'no news' });
    expect(n.hasNews).toBe(true);
    expect(n.statusLine()).toBe(`news: 2 articles scored (2 ollama:${MODEL})`);
    // Re-ingesting the same ids asks the LLM nothing.
    await n.ingest([news(101, 'Bitcoin surges on ETF approval', 60_000), news(102, 'BITCOIN SURGES ON ETF APPROVAL!', 30_000)]);
    expect(fake.chats()).toHaveLength(1);
  });
});
