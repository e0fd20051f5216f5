/**
 * The advisor through the real `ollama` client over real HTTP against the fake Ollama server: a streamed answer,
 * and every failure (model not pulled, server down, slow start, stall, total timeout, a stream that breaks off)
 * ending in the plain summary with a one-line note, never an error or a hang. Every answer lands in `advice`.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Advisor, fallbackSummary, type AdvisorOptions, type AdvisorSnapshot } from '../reports/advisor.js';
import { openDatabase, type Db } from '../src/store/database.js';
import { FakeOllama } from './fakes/ollama.js';

const MODEL = 'llama3.2:3b';

const SNAPSHOT: AdvisorSnapshot = {
  mode: 'paper',
  asOf: '2024-01-10T12:00:00.000Z',
  stats: { equityUsd: 10_234.56, returnPct: 2.35, maxDrawdownPct: 1.2, trades: 14 },
  positions: [{ symbol: 'BTC/USD', qty: 0.015, valueUsd: 690.45, unrealizedPnlUsd: 12.3 }],
  recentTrades: [{ ts: '2024-01-10T10:00:00.000Z', symbol: 'BTC/USD', side: 'buy', qty: 0.015, priceUsd: 45_210 }],
  riskEvents: [{ ts: '2024-01-10T11:00:00.000Z', kind: 'size-capped', symbol: 'BTC/USD', reason: 'order cut to the 5% position cap' }],
  regime: [{ symbol: 'BTC/USD', volatility: 0.031, trend: 'up' }],
  riskState: 'normal',
};
const FALLBACK = fallbackSummary(SNAPSHOT, 'How are we doing?');

interface AdviceRow {
  id: number;
  created_at: number;
  actor: string;
  question: string;
  snapshot: string;
  prompt: string;
  answer: string;
  source: string;
  model: string | null;
  note: string | null;
}

let fake: FakeOllama;
let host: string;
let db: Db;

beforeAll(async () => {
  fake = new FakeOllama({ models: [MODEL] });
  host = await fake.start();
});
afterAll(async () => {
  await fake.stop();
});
beforeEach(() => {
  db = openDatabase(':memory:');
});
afterEach(() => {
  fake.reset();
  db.close();
});

/** Generous limits by default, so a loaded CI box does not trip them; each timeout test shortens the one it tests. */
function advisor(opts: Partial<AdvisorOptions> = {}): Advisor {
  return new Advisor({ host, model: MODEL, timeoutMs: 10_000, firstTokenTimeoutMs: 5_000, idleTimeoutMs: 5_000, db, now: () => 1_700_000_000_000, ...opts });
}

function rows(): AdviceRow[] {
  return db.prepare('SELECT * FROM advice ORDER BY id').all() as AdviceRow[];
}

async function ask(a: Advisor, question = 'How are we doing?') {
  const texts: string[] = [];
  const r = await a.advise({ actor: 'telegram:42', question, snapshot: SNAPSHOT, onText: (t) => texts.push(t) });
  return { r, texts };
}

/** The plain summary answered, with this note, and the saved row says the same. */
function expectFallback(r: Awaited<ReturnType<Advisor['advise']>>, note: RegExp): AdviceRow {
  expect(r.source).toBe('fallback');
  expect(r.answer).toBe(FALLBACK);
  expect(r.note).toMatch(note);
  expect(r.note).not.toContain('\n');
  const saved = rows();
  expect(saved).toHaveLength(1);
  expect(saved[0]).toMatchObject({ actor: 'telegram:42', question: 'How are we doing?', answer: FALLBACK, source: 'fallback' });
  // The saved note is the returned one, plus the discarded partial answer when there was one.
  expect(saved[0]!.note === r.note || saved[0]!.note!.startsWith(`${r.note} | partial answer discarded: "`)).toBe(true);
  return saved[0]!;
}

describe('Advisor through the fake Ollama server', () => {
  it('streams the answer: onText sees growing text, the answer is the concatenation, the row is saved', async () => {
    const chunks = ['Paper account ', 'is up ', '2.35% ', 'with one BTC/USD position ', 'worth $690.45.'];
    fake.streamChunks = chunks;
    fake.chunkDelayMs = 10;
    const { r, texts } = await ask(advisor());
    expect(r).toEqual({ answer: chunks.join('').trim(), source: 'ollama', model: MODEL });
    expect(texts.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < texts.length; i++) {
      expect(texts[i]!.startsWith(texts[i - 1]!)).toBe(true);
      expect(texts[i]!.length).toBeGreaterThan(texts[i - 1]!.length);
    }
    expect(texts.at(-1)).toBe(chunks.join(''));

    const [req] = fake.chats();
    expect(req).toMatchObject({ model: MODEL, stream: true, options: { temperature: 0.2 } });
    expect(req!.raw.tools).toBeUndefined();
    expect(req!.format).toBeUndefined();
    expect(req!.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(req!.messages[0]!.content).toMatch(/read-only/);
    expect(req!.messages[1]!.content).toContain('How are we doing?');
    expect(req!.messages[1]!.content).toContain(JSON.stringify(SNAPSHOT));

    const [row] = rows();
    expect(row).toMatchObject({ created_at: 1_700_000_000_000, actor: 'telegram:42', question: 'How are we doing?', answer: r.answer, source: 'ollama', model: MODEL, note: null });
    expect(JSON.parse(row!.snapshot)).toEqual(SNAPSHOT);
    expect(JSON.parse(row!.prompt)).toEqual({ model: MODEL, options: { temperature: 0.2 }, messages: req!.messages.map(({ role, content }) => ({ role, content })) });
  });

  it('no question asks the default one', async () => {
    fake.streamChunks = ['All quiet.'];
    const r = await advisor().advise({ actor: 'discord:7', snapshot: SNAPSHOT });
    expect(r.answer).toBe('All quiet.');
    expect(fake.chats()[0]!.messages[1]!.content).toContain('What is going on?');
    expect(rows()[0]!.question).toBe('What is going on?');
  });

  it('numbers the snapshot does not have get a one-line caution', async () => {
    fake.streamChunks = ['Up 2.35% today; ', 'BTC/USD could reach $52,000 ', 'by 17:30.'];
    const { r } = await ask(advisor());
    expect(r.source).toBe('ollama');
    expect(r.note).toMatch(/^⚠️ .*52,000, 17, 30$/);
    expect(r.answer).toBe(`Up 2.35% today; BTC/USD could reach $52,000 by 17:30.\n${r.note}`);
    expect(rows()[0]!.note).toBe(r.note);
  });

  it('a model that is not pulled (404) gives the plain summary with a note', async () => {
    const { r } = await ask(advisor({ model: 'llama3' }));
    expectFallback(r, /^model llama3 is not installed \(404\); plain summary instead$/);
    expect(r.model).toBe('llama3');
    expect(fake.requests.find((q) => q.path === '/api/chat')?.status).toBe(404);
  });

  it('a server that is down (closed port) gives the plain summary with a note', async () => {
    const closed = await closedPortHost();
    const { r, texts } = await ask(advisor({ host: closed }));
    expectFallback(r, new RegExp(`^Ollama unreachable at ${closed.replace(/\./g, '\\.')} \\(ECONNREFUSED\\); plain summary instead$`));
    expect(texts).toEqual([]);
  });

  it('a server that drops connections gives the plain summary', async () => {
    fake.setDown(true);
    const { r } = await ask(advisor());
    expectFallback(r, /^Ollama unreachable at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('an HTTP 500 gives the plain summary with the server’s error', async () => {
    fake.failWith(500, 1, 'llama runner process has terminated');
    const { r } = await ask(advisor());
    expectFallback(r, /^Ollama answered 500: llama runner process has terminated; plain summary instead$/);
  });

  it('a slow server (no response within the first-token timeout) is aborted and gives the plain summary', async () => {
    fake.delayMs = 5_000;
    const { r } = await ask(advisor({ firstTokenTimeoutMs: 300 }));
    expectFallback(r, /^the model took longer than 300 ms to start answering$/);
    await fake.waitFor(() => fake.requests.find((q) => q.path === '/api/chat')?.aborted, 3_000, 'the chat request to be aborted');
  });

  it('headers at once but no first chunk within the timeout: aborted, plain summary', async () => {
    fake.firstChunkDelayMs = 5_000;
    fake.streamChunks = ['Too late.'];
    const { r, texts } = await ask(advisor({ firstTokenTimeoutMs: 300 }));
    expectFallback(r, /^the model took longer than 300 ms to start answering$/);
    expect(texts).toEqual([]);
    const chat = await fake.waitFor(() => fake.requests.find((q) => q.path === '/api/chat' && q.aborted), 3_000, 'the chat request to be aborted');
    expect(chat.status).toBe(200);
    expect(chat.chunksSent).toBe(0);
  });

  it('a stream that stalls between chunks is aborted; the partial is not the answer but is kept in the saved note', async () => {
    fake.streamChunks = ['BTC/USD is ', 'up 2.', '35%.'];
    fake.chunkDelayMs = 5_000;
    const { r, texts } = await ask(advisor({ idleTimeoutMs: 300 }));
    const row = expectFallback(r, /^the answer stalled for more than 300 ms mid-stream/);
    expect(texts).toEqual(['BTC/USD is ']);
    expect(r.note).toBe('the answer stalled for more than 300 ms mid-stream');
    expect(row.note).toBe('the answer stalled for more than 300 ms mid-stream | partial answer discarded: "BTC/USD is"');
    await fake.waitFor(() => fake.requests.find((q) => q.path === '/api/chat')?.aborted, 3_000, 'the chat request to be aborted');
  });

  it('a stream that keeps trickling past the total timeout is aborted', async () => {
    fake.streamChunks = Array.from({ length: 50 }, (_, i) => `word${i} `);
    fake.chunkDelayMs = 100;
    const { r } = await ask(advisor({ timeoutMs: 600 }));
    expectFallback(r, /^the model took longer than 600 ms in total$/);
    await fake.waitFor(() => fake.requests.find((q) => q.path === '/api/chat')?.aborted, 3_000, 'the chat request to be aborted');
  });

  it('a socket destroyed mid-stream gives the plain summary; the partial is kept in the saved note', async () => {
    fake.streamChunks = ['Paper account ', 'is up ', '2.35% ', 'today.'];
    fake.breakAfterChunks = 2;
    fake.breakMode = 'destroy';
    const { r, texts } = await ask(advisor());
    const row = expectFallback(r, /^the answer broke off mid-stream: terminated/);
    expect(texts.at(-1)).toBe('Paper account is up ');
    expect(row.note).toContain('| partial answer discarded: "Paper account is up"');
    expect(fake.requests.find((q) => q.path === '/api/chat')).toMatchObject({ chunksSent: 2, brokenByFake: true, aborted: false });
  });

  it('an {"error"} line mid-stream gives the plain summary with that error', async () => {
    fake.streamChunks = ['Paper account ', 'is up ', '2.35% ', 'today.'];
    fake.breakAfterChunks = 1;
    fake.breakMode = 'error';
    const { r } = await ask(advisor());
    const row = expectFallback(r, /^the answer broke off mid-stream: llama runner process has terminated: signal: killed$/);
    expect(row.note).toContain('partial answer discarded: "Paper account"');
  });

  it('an {"error"} line before any content: the model failed before answering', async () => {
    fake.streamChunks = ['never sent'];
    fake.breakAfterChunks = 0;
    fake.breakMode = 'error';
    const { r } = await ask(advisor());
    const row = expectFallback(r, /^the model failed before answering: llama runner process has terminated/);
    expect(row.note).not.toContain('partial');
  });

  it('an empty answer gives the plain summary', async () => {
    fake.streamChunks = ['  ', ''];
    const { r } = await ask(advisor());
    expectFallback(r, /^model llama3\.2:3b returned an empty answer; plain summary instead$/);
  });

  it('an onText callback that throws does not stop the answer', async () => {
    fake.streamChunks = ['Up ', '2.35%.'];
    const warnings: string[] = [];
    const a = advisor({ log: { warn: (_o, msg) => warnings.push(msg) } });
    const r = await a.advise({ actor: 'telegram:42', question: 'How are we doing?', snapshot: SNAPSHOT, onText: () => { throw new Error('edit failed'); } });
    expect(r).toEqual({ answer: 'Up 2.35%.', source: 'ollama', model: MODEL });
    expect(warnings.some((w) => w.includes('onText threw'))).toBe(true);
  });

  it('several questions in a row each get an answer and a row', async () => {
    const a = advisor();
    fake.streamChunks = ['First.'];
    expect((await a.advise({ actor: 'a', question: 'one', snapshot: SNAPSHOT })).source).toBe('ollama');
    fake.failWith(503, 1, 'server busy');
    expect((await a.advise({ actor: 'a', question: 'two', snapshot: SNAPSHOT })).source).toBe('fallback');
    fake.streamChunks = ['Third.'];
    expect((await a.advise({ actor: 'a', question: 'three', snapshot: SNAPSHOT })).answer).toBe('Third.');
    expect(rows().map((row) => [row.question, row.source])).toEqual([
      ['one', 'ollama'],
      ['two', 'fallback'],
      ['three', 'ollama'],
    ]);
  });
});

/** A host on 127.0.0.1 with nothing listening: bind a free port, then close it. */
async function closedPortHost(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
