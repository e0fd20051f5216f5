/**
 * A fake Telegram Bot API server on 127.0.0.1 that speaks the real HTTP protocol grammY uses:
 * POST /bot<token>/<method> with JSON, `{ok, result}` answers, long-polling getUpdates with offsets, and
 * 409 when a second poller competes. Faults can be injected: 429 with retry_after, 5xx, or "down" (the
 * connection is dropped).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SentCall {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly at: number;
}

/** A file the bot uploaded (multipart/form-data, as grammY sends an InputFile). */
export interface UploadedFile {
  readonly field: string;
  readonly filename: string;
  readonly bytes: Buffer;
}

interface Fault {
  readonly method: string | undefined;
  readonly chatId?: number;
  readonly status: number;
  readonly retryAfter?: number;
  readonly description: string;
}

interface Poller {
  readonly res: ServerResponse;
  readonly offset: number;
  readonly timer: NodeJS.Timeout;
}

const BOT_USER = { id: 777000111, is_bot: true, first_name: 'Confidence Engine', username: 'confidence_engine_bot' };

export class FakeTelegram {
  readonly calls: SentCall[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private updates: Array<Record<string, unknown> & { update_id: number }> = [];
  private nextUpdateId = 1;
  private nextMessageId = 1;
  private poller: Poller | undefined;
  private faults: Fault[] = [];
  private isDown = false;

  constructor(readonly token = '123456:TEST-token') {
    this.server = createServer((req, res) => void this.route(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.apiRoot;
  }

  get apiRoot(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (this.poller) this.answerPoll([]);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A user sends a text message. Private chat when `chatId` equals the user id. */
  sendText(fromId: number, text: string, chatId = fromId): void {
    const command = text.match(/^\/\S+/);
    this.push({
      message: {
        message_id: this.nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        from: { id: fromId, is_bot: false, first_name: `user${fromId}` },
        chat: chatId === fromId ? { id: chatId, type: 'private', first_name: `user${fromId}` } : { id: chatId, type: 'group', title: 'ops' },
        text,
        ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] } : {}),
      },
    });
  }

  /** A user presses an inline button on a message the bot sent. */
  pressButton(fromId: number, data: string, chatId = fromId, messageId = 1): string {
    const id = `cb${this.nextUpdateId}`;
    this.push({
      callback_query: {
        id,
        from: { id: fromId, is_bot: false, first_name: `user${fromId}` },
        chat_instance: 'ci',
        data,
        message: { message_id: messageId, date: Math.floor(Date.now() / 1000), chat: { id: chatId, type: chatId === fromId ? 'private' : 'group' }, from: BOT_USER, text: '…' },
      },
    });
    return id;
  }

  /** The next `count` calls (to `method` and `chatId`, or any) fail with 429 and this retry_after. */
  failWith429(retryAfter: number, method?: string, count = 1, chatId?: number): void {
    for (let i = 0; i < count; i++) {
      this.faults.push({ method, status: 429, retryAfter, description: `Too Many Requests: retry after ${retryAfter}`, ...(chatId !== undefined ? { chatId } : {}) });
    }
  }

  failWith500(method?: string, count = 1): void {
    for (let i = 0; i < count; i++) this.faults.push({ method, status: 500, description: 'Internal Server Error' });
  }

  /** While down, every request's connection is dropped, like an outage. */
  setDown(down: boolean): void {
    this.isDown = down;
    if (down) {
      for (const s of this.sockets) s.destroy();
      this.poller = undefined;
    }
  }

  /** Photos the bot sent (sendPhoto), with the uploaded bytes. */
  photos(chatId?: number): Array<{ chat_id: number; caption?: string; file: UploadedFile; at: number }> {
    return this.calls
      .filter((c) => c.method === 'sendPhoto' && (chatId === undefined || Number(c.params.chat_id) === chatId))
      .map((c) => ({ chat_id: Number(c.params.chat_id), caption: c.params.caption as string | undefined, file: c.params.photo as UploadedFile, at: c.at }));
  }

  /** Edits of a message's text, in order. */
  edits(messageId?: number): Array<{ chat_id: number; message_id: number; text: string; at: number }> {
    return this.calls
      .filter((c) => c.method === 'editMessageText' && (messageId === undefined || Number(c.params.message_id) === messageId))
      .map((c) => ({ ...(c.params as { chat_id: number; message_id: number; text: string }), at: c.at }));
  }

  /** Messages the bot sent, in order. */
  messages(chatId?: number): Array<{ chat_id: number; text: string; reply_markup?: unknown; parse_mode?: string; at: number }> {
    return this.calls
      .filter((c) => c.method === 'sendMessage' && (chatId === undefined || Number(c.params.chat_id) === chatId))
      .map((c) => ({ ...(c.params as { chat_id: number; text: string }), at: c.at }));
  }

  async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`fake Telegram: timed out waiting for ${what}; calls so far: ${this.calls.map((c) => c.method).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private push(update: Record<string, unknown>): void {
    this.updates.push({ update_id: this.nextUpdateId++, ...update });
    if (this.poller) this.answerPoll(this.pending(this.poller.offset));
  }

  private pending(offset: number) {
    this.updates = this.updates.filter((u) => u.update_id >= offset);
    return this.updates;
  }

  private answerPoll(result: unknown[]): void {
    const poller = this.poller;
    if (!poller) return;
    this.poller = undefined;
    clearTimeout(poller.timer);
    json(poller.res, 200, { ok: true, result });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.isDown) {
      req.socket.destroy();
      return;
    }
    const match = req.url?.match(/^\/bot([^/]+)\/(\w+)/);
    const body = await readBody(req);
    if (!match) return json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    if (match[1] !== this.token) return json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = match[2]!;
    const params = parseParams(body, req.headers['content-type']);
    const faultIndex = this.faults.findIndex((f) => (f.method === undefined || f.method === method) && (f.chatId === undefined || Number(params.chat_id) === f.chatId));
    if (faultIndex >= 0 && method !== 'getUpdates') {
      const fault = this.faults.splice(faultIndex, 1)[0]!;
      this.calls.push({ method: `${method}:failed`, params, at: Date.now() });
      return json(res, fault.status, {
        ok: false,
        error_code: fault.status,
        description: fault.description,
        ...(fault.retryAfter !== undefined ? { parameters: { retry_after: fault.retryAfter } } : {}),
      });
    }
    if (method !== 'getUpdates') this.calls.push({ method, params, at: Date.now() });
    switch (method) {
      case 'getMe':
        return json(res, 200, { ok: true, result: BOT_USER });
      case 'deleteWebhook':
      case 'setMyCommands':
      case 'answerCallbackQuery':
      case 'close':
        return json(res, 200, { ok: true, result: true });
      case 'sendMessage':
        return json(res, 200, {
          ok: true,
          result: { message_id: this.nextMessageId++, date: Math.floor(Date.now() / 1000), chat: { id: params.chat_id, type: 'private' }, from: BOT_USER, text: params.text },
        });
      case 'editMessageText':
        return json(res, 200, {
          ok: true,
          result: { message_id: Number(params.message_id), date: Math.floor(Date.now() / 1000), edit_date: Math.floor(Date.now() / 1000), chat: { id: params.chat_id, type: 'private' }, from: BOT_USER, text: params.text },
        });
      case 'sendPhoto': {
        const photo = params.photo as UploadedFile | undefined;
        if (!photo || !Buffer.isBuffer(photo.bytes) || photo.bytes.length === 0) {
          return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: there is no photo in the request' });
        }
        return json(res, 200, {
          ok: true,
          result: {
            message_id: this.nextMessageId++,
            date: Math.floor(Date.now() / 1000),
            chat: { id: params.chat_id, type: 'private' },
            from: BOT_USER,
            photo: [{ file_id: `photo${this.nextMessageId}`, file_unique_id: `u${this.nextMessageId}`, width: 1000, height: 700, file_size: photo.bytes.length }],
            ...(params.caption ? { caption: params.caption } : {}),
          },
        });
      }
      case 'editMessageReplyMarkup':
        return json(res, 200, { ok: true, result: true });
      case 'getUpdates':
        return this.getUpdates(params, res);
      default:
        return json(res, 404, { ok: false, error_code: 404, description: `Not Found: method ${method}` });
    }
  }

  private getUpdates(params: Record<string, unknown>, res: ServerResponse): void {
    const offset = Number(params.offset ?? 0);
    const timeout = Math.min(Number(params.timeout ?? 0), 2); // keep polls short so tests stop quickly
    if (this.poller) {
      // Telegram ends the older request when a second poller appears.
      const older = this.poller;
      this.poller = undefined;
      clearTimeout(older.timer);
      json(older.res, 409, { ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
    }
    const ready = this.pending(offset);
    if (ready.length > 0 || timeout === 0) return json(res, 200, { ok: true, result: ready });
    const timer = setTimeout(() => this.answerPoll([]), timeout * 1000);
    this.poller = { res, offset, timer };
    res.on('close', () => {
      if (this.poller?.res === res) {
        clearTimeout(timer);
        this.poller = undefined;
      }
    });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * A lenient multipart/form-data reader, as lenient as Telegram's: grammY writes headers as
 * `content-disposition:form-data;name="x";filename=a.png` (no spaces, unquoted file name), which stricter
 * parsers such as undici's refuse.
 */
function multipartParts(body: Buffer, contentType: string): Array<{ name: string; filename?: string; data: Buffer }> {
  const boundary = contentType.match(/boundary="?([^";]+)"?/i)?.[1];
  if (!boundary) throw new Error('multipart without a boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ name: string; filename?: string; data: Buffer }> = [];
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2); // skip CRLF after the delimiter and before the next
    const split = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, split).toString('utf8');
    const name = headers.match(/name="?([^";\r\n]+)"?/i)?.[1];
    const filename = headers.match(/filename="?([^";\r\n]+)"?/i)?.[1];
    if (name) parts.push({ name, ...(filename !== undefined ? { filename } : {}), data: Buffer.from(part.subarray(split + 4)) });
    start = next;
  }
  return parts;
}

function jsonOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** JSON bodies, and multipart/form-data (uploads): string fields as strings, files as UploadedFile. */
function parseParams(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  if (body.length === 0) return {};
  if (!contentType?.startsWith('multipart/form-data')) return JSON.parse(body.toString()) as Record<string, unknown>;
  const params: Record<string, unknown> = {};
  for (const part of multipartParts(body, contentType)) {
    if (part.filename === undefined) {
      const value = part.data.toString('utf8');
      // grammY sends object parameters of a multipart request as JSON; text that merely starts with a bracket stays text
      params[part.name] = /^[[{]/.test(value) ? jsonOr(value) : value;
    } else {
      params[part.name] = { field: part.name, filename: part.filename, bytes: part.data } satisfies UploadedFile;
    }
  }
  // grammY names the file part by a random id and puts "attach://<id>" in the field
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string' && value.startsWith('attach://')) params[key] = params[value.slice('attach://'.length)];
  }
  return params;
}
