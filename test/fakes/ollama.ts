/**
 * A fake Ollama server on 127.0.0.1 that speaks the real HTTP protocol the `ollama` npm client uses:
 * POST /api/chat (one JSON object with stream:false, NDJSON chunks ending in done:true with stream:true),
 * GET /api/tags, GET /api/version, and `{"error": "..."}` bodies on failure (404 for a model that is not pulled).
 *
 * The assistant's content comes from `reply(request)`. The default reply answers headline-scoring requests
 * (those with a `format`) with `{"scores":[...]}` from a small keyword table, deliberately different from the
 * lexicon so tests can tell who answered, and free-form requests (e.g. an advisor question) with plain text.
 * Faults: `delayMs` (a slow or hung model), `failWith(status, times)`, `malformed` content or body, and `down`
 * (connections dropped). Every request is logged with its parsed body and whether the client gave up on it.
 *
 * Streaming knobs (stream:true only): `streamChunks` (the exact content pieces, instead of splitting the reply into
 * words), `firstChunkDelayMs` (headers go out at once, the first chunk after this: a model slow to start),
 * `chunkDelayMs` (gap before each later chunk: a stalled model), and `breakAfterChunks` + `breakMode` (after that
 * many content chunks the socket is destroyed, or an `{"error"}` line ends the stream, like a runner that crashed).
 * `reset()` puts every knob back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** The parts of a /api/chat body a reply handler usually needs; the full body is in `raw`. */
export interface ChatRequestBody {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly stream?: boolean;
  readonly format?: unknown;
  readonly options?: Record<string, unknown>;
  readonly raw: Record<string, unknown>;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  /** Parsed JSON body, or undefined for GETs and unparsable bodies. */
  readonly body: Record<string, unknown> | undefined;
  readonly at: number;
  /** HTTP status sent, once answered. */
  status?: number;
  /** The client closed the connection before the answer was sent (e.g. its timeout fired). */
  aborted: boolean;
  /** Streamed answers: content chunks written so far. */
  chunksSent?: number;
  /** The fake itself broke the stream (`breakAfterChunks`); then `aborted` stays false. */
  brokenByFake?: boolean;
}

/**
 * How a stream breaks after `breakAfterChunks`:
 * - 'destroy': the socket is destroyed mid-body (a crashed server, a dropped connection).
 * - 'error': an NDJSON `{"error": "..."}` line and the end of the body, as Ollama does when the runner fails.
 */
export type BreakMode = 'destroy' | 'error';

/**
 * - 'not-json': the content is prose, not JSON.
 * - 'wrong-shape': the content is JSON but not {"scores": number[]}.
 * - 'bad-body': the HTTP body itself is not JSON (a broken proxy, a truncated answer).
 */
export type MalformedMode = 'not-json' | 'wrong-shape' | 'bad-body';

export interface FakeOllamaOptions {
  /** Models that are "pulled"; chat with another model answers 404 like the real server. */
  readonly models?: readonly string[];
  readonly version?: string;
}

const POSITIVE = ['surge', 'soar', 'rally', 'rallies', 'approv', 'record high', 'all-time high', 'inflow', 'bullish', 'jump', 'gain', 'partnership', 'adopt', 'rebound', 'upgrade'];
const NEGATIVE = ['hack', 'crash', 'plunge', 'ban', 'sue', 'lawsuit', 'fraud', 'outflow', 'bearish', 'drop', 'fall', 'exploit', 'stolen', 'bankrupt', 'delist', 'tumble'];

/** Deterministic polarity of one headline: ±0.7 per keyword class present, so 0.7, −0.7 or 0. */
export function fakePolarity(headline: string): number {
  const h = headline.toLowerCase();
  const pos = POSITIVE.some((w) => h.includes(w)) ? 0.7 : 0;
  const neg = NEGATIVE.some((w) => h.includes(w)) ? -0.7 : 0;
  return Math.round((pos + neg) * 100) / 100;
}

/** The numbered headlines ("1. …") in the last user message, in order. */
export function numberedHeadlines(req: ChatRequestBody): string[] {
  const user = [...req.messages].reverse().find((m) => m.role === 'user');
  if (!user) return [];
  return user.content
    .split('\n')
    .map((line) => line.match(/^\s*\d+[.)]\s*(.*)$/)?.[1])
    .filter((h): h is string => h !== undefined);
}

/** Default content: scores for structured (format) requests, a plain-text echo for free-form ones. */
export function defaultReply(req: ChatRequestBody): string {
  if (req.format !== undefined) return JSON.stringify({ scores: numberedHeadlines(req).map(fakePolarity) });
  const question = [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  return `Fake advisor answer to: ${question.slice(0, 200)}`;
}

export class FakeOllama {
  readonly requests: ReceivedRequest[] = [];
  /** Computes the assistant content for each chat request. */
  reply: (req: ChatRequestBody) => string = defaultReply;
  /** Delay before every /api/chat answer (ms). */
  delayMs = 0;
  /** Break the content or body of chat answers until set back to false. */
  malformed: MalformedMode | false = false;
  /** Streamed answers: these content pieces, in order, instead of the reply split into words. */
  streamChunks: readonly string[] | undefined = undefined;
  /** Streamed answers: headers go out at once; the first chunk after this many ms. */
  firstChunkDelayMs = 0;
  /** Streamed answers: wait this many ms before each chunk after the first. */
  chunkDelayMs = 0;
  /** Streamed answers: break the stream after this many content chunks (see `breakMode`). */
  breakAfterChunks: number | undefined = undefined;
  breakMode: BreakMode = 'destroy';
  /** The message of the `{"error"}` line for breakMode 'error'. */
  breakMessage = 'llama runner process has terminated: signal: killed';
  readonly models: string[];
  readonly version: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private faults: Array<{ status: number; message: string }> = [];
  private isDown = false;

  constructor(opts: FakeOllamaOptions = {}) {
    this.models = [...(opts.models ?? ['llama3.2:3b'])];
    this.version = opts.version ?? '0.12.6';
    this.server = createServer((req, res) => void this.route(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Starts listening on a free port; returns the host URL for OLLAMA_HOST / `new Ollama({host})`. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.host;
  }

  get host(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Every knob back to its default, pending faults dropped, the request log cleared. */
  reset(): void {
    this.reply = defaultReply;
    this.delayMs = 0;
    this.malformed = false;
    this.streamChunks = undefined;
    this.firstChunkDelayMs = 0;
    this.chunkDelayMs = 0;
    this.breakAfterChunks = undefined;
    this.breakMode = 'destroy';
    this.breakMessage = 'llama runner process has terminated: signal: killed';
    this.faults = [];
    this.isDown = false;
    this.requests.length = 0;
  }

  /** The next `times` chat requests fail with this HTTP status and an Ollama-style {"error"} body. */
  failWith(status: number, times = 1, message = status >= 500 ? 'llama runner process has terminated' : 'bad request'): void {
    for (let i = 0; i < times; i++) this.faults.push({ status, message });
  }

  /** While down, every connection is dropped, like a stopped server. */
  setDown(down: boolean): void {
    this.isDown = down;
    if (down) for (const s of this.sockets) s.destroy();
  }

  /** Received /api/chat requests, parsed. */
  chats(): ChatRequestBody[] {
    return this.requests.filter((r) => r.path === '/api/chat' && r.body !== undefined).map((r) => toChat(r.body!));
  }

  async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`fake Ollama: timed out waiting for ${what}; requests so far: ${this.requests.map((r) => `${r.method} ${r.path}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits `ms`, or less if the client goes away first (a closed response resolves it at once). */
  private sleep(ms: number, res: ServerResponse): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.timers.delete(t);
        res.off('close', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.timers.add(t);
      res.on('close', done);
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.isDown) {
      req.socket.destroy();
      return;
    }
    const text = await readBody(req);
    const path = (req.url ?? '/').split('?')[0]!;
    let body: Record<string, unknown> | undefined;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const entry: ReceivedRequest = { method: req.method ?? 'GET', path, body, at: Date.now(), aborted: false };
    this.requests.push(entry);
    res.on('close', () => {
      if (!res.writableFinished && !entry.brokenByFake) entry.aborted = true;
    });
    const send = (status: number, payload: unknown): void => {
      entry.status = status;
      json(res, status, payload);
    };

    if (req.method === 'GET' && (path === '/' || path === '')) {
      entry.status = 200;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Ollama is running');
      return;
    }
    if (req.method === 'GET' && path === '/api/version') return send(200, { version: this.version });
    if (req.method === 'GET' && path === '/api/tags') return send(200, { models: this.models.map(modelEntry) });
    if (req.method === 'POST' && path === '/api/chat') return this.chat(body, entry, res, send);
    return send(404, { error: `404 page not found` });
  }

  private async chat(
    body: Record<string, unknown> | undefined,
    entry: ReceivedRequest,
    res: ServerResponse,
    send: (status: number, payload: unknown) => void,
  ): Promise<void> {
    if (this.delayMs > 0) {
      await this.sleep(this.delayMs, res);
      if (res.destroyed || res.writableEnded) return;
    }
    const fault = this.faults.shift();
    if (fault) return send(fault.status, { error: fault.message });
    if (body === undefined) return send(400, { error: 'invalid character in request body' });
    const chatReq = toChat(body);
    if (!chatReq.model) return send(400, { error: 'model is required' });
    if (!this.models.includes(chatReq.model)) return send(404, { error: `model "${chatReq.model}" not found, try pulling it first` });

    if (this.malformed === 'bad-body') {
      entry.status = 200;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end('{"model":"' + chatReq.model + '","message":{"role":"assist');
      return;
    }
    const chunks = this.streamChunks;
    let content: string;
    if (chunks !== undefined && this.malformed === false) content = chunks.join('');
    else if (this.malformed === 'not-json') content = 'Sure! Here is my assessment: the first headline looks bullish, the rest are mixed.';
    else if (this.malformed === 'wrong-shape') content = JSON.stringify({ sentiment: 'bullish', confidence: 'high' });
    else {
      try {
        content = this.reply(chatReq);
      } catch (err) {
        // A throwing handler is a test bug; answer like a crashed runner rather than killing the fake.
        return send(500, { error: `fake reply handler threw: ${err instanceof Error ? err.message : String(err)}` });
      }
    }

    const created = (): string => new Date().toISOString();
    const stats = {
      total_duration: 123_456_789,
      load_duration: 1_234_567,
      prompt_eval_count: 42,
      prompt_eval_duration: 12_345_678,
      eval_count: Math.max(1, Math.ceil(content.length / 4)),
      eval_duration: 98_765_432,
    };
    if (chatReq.stream === false) {
      return send(200, { model: chatReq.model, created_at: created(), message: { role: 'assistant', content }, done: true, done_reason: 'stop', ...stats });
    }
    // Ollama streams by default: NDJSON, one line per token chunk, then a final done:true line with the stats.
    entry.status = 200;
    entry.chunksSent = 0;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    const pieces = chunks !== undefined && this.malformed === false ? chunks : (content.match(/\S+\s*|\s+/g) ?? []);
    const breakAfter = this.breakAfterChunks;
    for (const [i, piece] of pieces.entries()) {
      if (breakAfter !== undefined && i >= breakAfter) break;
      const wait = i === 0 ? this.firstChunkDelayMs : this.chunkDelayMs;
      if (wait > 0) await this.sleep(wait, res);
      if (res.destroyed || res.writableEnded) return;
      res.write(JSON.stringify({ model: chatReq.model, created_at: created(), message: { role: 'assistant', content: piece }, done: false }) + '\n');
      entry.chunksSent++;
    }
    if (breakAfter !== undefined && breakAfter < pieces.length) {
      if (this.breakMode === 'error') {
        res.end(JSON.stringify({ error: this.breakMessage }) + '\n');
        return;
      }
      entry.brokenByFake = true;
      // Give the written chunks a moment to reach the client, then cut the connection mid-body.
      await this.sleep(20, res);
      res.socket?.destroy();
      return;
    }
    if (pieces.length === 0 && this.firstChunkDelayMs > 0) await this.sleep(this.firstChunkDelayMs, res);
    if (res.destroyed || res.writableEnded) return;
    res.end(JSON.stringify({ model: chatReq.model, created_at: created(), message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', ...stats }) + '\n');
  }
}

function toChat(body: Record<string, unknown>): ChatRequestBody {
  const messages = Array.isArray(body.messages)
    ? body.messages.map((m: unknown) => {
        const r = (m ?? {}) as Record<string, unknown>;
        return { role: String(r.role ?? ''), content: String(r.content ?? '') };
      })
    : [];
  return {
    model: typeof body.model === 'string' ? body.model : '',
    messages,
    ...(typeof body.stream === 'boolean' ? { stream: body.stream } : {}),
    ...(body.format !== undefined ? { format: body.format } : {}),
    ...(body.options !== null && typeof body.options === 'object' ? { options: body.options as Record<string, unknown> } : {}),
    raw: body,
  };
}

function modelEntry(name: string): Record<string, unknown> {
  return {
    name,
    model: name,
    modified_at: '2025-01-01T00:00:00Z',
    size: 2_019_393_189,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk: Buffer) => (data += chunk.toString()));
    req.on('end', () => resolve(data));
    req.on('error', () => resolve(data));
  });
}
