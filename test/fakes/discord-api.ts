/**
 * A fake Discord on 127.0.0.1 that speaks the real protocols discord.js 14 uses, on one port:
 * - REST under `/api/v10/...` (with `rest.api` = `http://127.0.0.1:PORT/api`, @discordjs/rest appends `/v10`):
 *   bot-token auth, JSON bodies, Discord's length limits (2000-character content, 4096-character embed
 *   descriptions, 6000 characters of embeds per message), the 3-second interaction acknowledgement window and
 *   "already acknowledged" errors, and 429s with `retry_after` and the X-RateLimit headers discord.js honours.
 * - the gateway (WebSocket, v10, JSON, uncompressed): HELLO, HEARTBEAT/ACK, IDENTIFY → READY + GUILD_CREATE,
 *   RESUME → RESUMED, close code 4004 for a bad token; INTERACTION_CREATE is dispatched on demand.
 * Faults: `setDown(true)` drops every connection and every new request, like an outage; `rateLimit(...)`.
 * Every REST call is recorded with its JSON body.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface RestCall {
  readonly method: string;
  /** the path after `/api/v10`, without the query */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly status: number;
  readonly at: number;
}

/** A message as the fake stores it: channel messages, interaction replies and follow-ups alike. */
export interface FakeMessage {
  readonly id: string;
  readonly channelId: string;
  /** the interaction this message answers, if any */
  readonly interactionId?: string;
  readonly kind: 'channel' | 'original' | 'followup';
  content: string;
  embeds: Array<{ description?: string; title?: string; color?: number }>;
  components: Array<{ type: number; components: Array<{ type: number; custom_id?: string; label?: string; style?: number }> }>;
  flags: number;
  deleted: boolean;
  readonly at: number;
  /** files uploaded with the message (multipart/form-data, files[n]) */
  attachments: Array<{ filename: string; bytes: Buffer }>;
}

interface InteractionRecord {
  readonly id: string;
  readonly token: string;
  readonly userId: string;
  readonly channelId: string;
  readonly createdAt: number;
  /** InteractionResponseType of the first callback, once acknowledged */
  ack?: number;
  ackFlags?: number;
  originalId?: string;
}

interface RateLimitFault {
  readonly method: string | undefined;
  readonly path: RegExp;
  readonly retryAfter: number;
  readonly global: boolean;
}

interface Session {
  readonly id: string;
  seq: number;
  socket: WebSocket | undefined;
}

const DISCORD_EPOCH = 1_420_070_400_000n;
const EPHEMERAL = 1 << 6;
const MESSAGE_LIMIT = 2_000;
const EMBED_DESCRIPTION_LIMIT = 4_096;
const EMBED_TOTAL_LIMIT = 6_000;
const ACK_WINDOW_MS = 3_000;

export class FakeDiscord {
  readonly token = 'MTEwMDAwMDAwMDAwMDAwMDAwMw.fake.discord-bot-token';
  readonly appId = '1100000000000000003';
  readonly guildId = '1100000000000000001';
  readonly channelId = '1100000000000000002';
  readonly calls: RestCall[] = [];
  readonly messages: FakeMessage[] = [];
  /** every IDENTIFY the gateway received: the intents and whether the token was right */
  readonly identifies: Array<{ intents: number; ok: boolean; at: number }> = [];
  /** gateway connections accepted so far */
  connections = 0;
  /** When true, IDENTIFY is refused with close code 4004 even for the right token (a token revoked mid-flight). */
  rejectIdentify = false;
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<Socket>();
  private readonly interactions = new Map<string, InteractionRecord>();
  private readonly sessions = new Map<string, Session>();
  private readonly commandIds = new Map<string, string>();
  private faults: RateLimitFault[] = [];
  private isDown = false;
  private gatewayDown = false;
  private snowflakeSeq = 0n;
  private readonly botUser = { id: '1100000000000000003', username: 'confidence-engine', discriminator: '0', global_name: null, avatar: null, bot: true, flags: 0 };

  constructor(readonly heartbeatIntervalMs = 41_250) {
    this.server = createServer((req, res) => void this.route(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.isDown || this.gatewayDown) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGateway(ws, req));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.apiBase;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The value for DISCORD_API_BASE. */
  get apiBase(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * While down, every connection is dropped and new ones are cut at once, like an outage: REST and gateway
   * (`'all'`), or only the gateway (`'gateway'`: REST answers, WebSocket upgrades are cut).
   */
  setDown(down: boolean, part: 'all' | 'gateway' = 'all'): void {
    this.isDown = down && part === 'all';
    this.gatewayDown = down;
    if (down) {
      for (const ws of this.wss.clients) ws.terminate();
      if (part === 'all') for (const s of this.sockets) s.destroy();
    }
  }

  /**
   * The next `count` REST calls matching `method` and `path` (a RegExp on the path after /api/v10) get a 429
   * with this retry_after (seconds), in the body and in the Retry-After / X-RateLimit-* headers.
   */
  rateLimit(path: RegExp, retryAfterSeconds: number, { method, count = 1, global = false }: { method?: string; count?: number; global?: boolean } = {}): void {
    for (let i = 0; i < count; i++) this.faults.push({ method: method?.toUpperCase(), path, retryAfter: retryAfterSeconds, global });
  }

  /** A guild member runs a slash command. Returns the interaction id. */
  invokeSlash(userId: string, name: string, options: Record<string, string> = {}, where: { channelId?: string; guildId?: string } = {}): string {
    const opts = Object.entries(options).map(([n, value]) => ({ name: n, type: 3, value }));
    const guildId = where.guildId ?? this.guildId;
    return this.dispatchInteraction(userId, where.channelId ?? this.channelId, guildId, {
      type: 2,
      data: { id: this.commandIds.get(name) ?? this.snowflake(), name, type: 1, guild_id: guildId, ...(opts.length ? { options: opts } : {}) },
    });
  }

  /** A guild member presses a button on a message the bot sent. Returns the interaction id. */
  pressButton(userId: string, customId: string, messageId: string): string {
    const message = this.messages.find((m) => m.id === messageId);
    if (!message) throw new Error(`fake Discord: no message ${messageId}`);
    const hasButton = message.components.some((row) => row.components.some((c) => c.custom_id === customId));
    if (!hasButton) throw new Error(`fake Discord: message ${messageId} has no button ${customId}`);
    return this.dispatchInteraction(userId, message.channelId, this.guildId, {
      type: 3,
      data: { custom_id: customId, component_type: 2 },
      message: this.messageObject(message),
    });
  }

  /** Close every gateway connection with this close code (4004 makes discord.js give up for good). */
  closeGateway(code: number, reason = ''): void {
    for (const ws of this.wss.clients) ws.close(code, reason);
  }

  /** True while a gateway session is connected (identified or resumed), so interactions can be delivered. */
  get gatewayConnected(): boolean {
    return [...this.sessions.values()].some((s) => s.socket?.readyState === 1);
  }

  /** Messages posted to a channel with POST /channels/:id/messages (the feed). */
  channelMessages(channelId = this.channelId): FakeMessage[] {
    return this.messages.filter((m) => m.kind === 'channel' && m.channelId === channelId);
  }

  /** What the user who triggered this interaction can see: the original response and follow-ups, not deleted. */
  visibleReplies(interactionId: string): FakeMessage[] {
    return this.messages.filter((m) => m.interactionId === interactionId && !m.deleted);
  }

  /** The interaction's acknowledgement: the first callback's type and flags, if any. */
  acknowledgement(interactionId: string): { type: number; flags: number } | undefined {
    const record = [...this.interactions.values()].find((i) => i.id === interactionId);
    return record?.ack === undefined ? undefined : { type: record.ack, flags: record.ackFlags ?? 0 };
  }

  /** Plain text of a message: content and embed descriptions, one per line. */
  static text(message: FakeMessage): string {
    return [message.content, ...message.embeds.map((e) => e.description ?? '')].filter(Boolean).join('\n');
  }

  async waitFor<T>(probe: () => T | undefined | false | null, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false && value !== null) return value;
      if (Date.now() > deadline) {
        throw new Error(`fake Discord: timed out waiting for ${what}; calls so far: ${this.calls.map((c) => `${c.method} ${c.path} ${c.status}`).join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // ---------------------------------------------------------------- gateway

  private onGateway(ws: WebSocket, req: IncomingMessage): void {
    this.connections += 1;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('v') !== '10') {
      ws.close(4012, 'Invalid API version');
      return;
    }
    if (url.searchParams.get('encoding') !== 'json') {
      ws.close(4002, 'Decode error');
      return;
    }
    let session: Session | undefined;
    const send = (payload: object) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(payload));
    };
    const dispatch = (t: string, d: unknown) => {
      if (!session) return;
      session.seq += 1;
      send({ op: 0, t, s: session.seq, d });
    };
    send({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null });
    ws.on('message', (raw) => {
      let payload: { op: number; d: Record<string, unknown> | null };
      try {
        payload = JSON.parse(raw.toString()) as typeof payload;
      } catch {
        ws.close(4002, 'Decode error');
        return;
      }
      switch (payload.op) {
        case 1: // HEARTBEAT
          send({ op: 11, d: null, s: null, t: null });
          return;
        case 2: {
          // IDENTIFY
          const d = payload.d ?? {};
          const ok = d.token === this.token && !this.rejectIdentify;
          this.identifies.push({ intents: Number(d.intents), ok, at: Date.now() });
          if (!ok) {
            ws.close(4004, 'Authentication failed.');
            return;
          }
          if (session) {
            ws.close(4005, 'Already authenticated.');
            return;
          }
          session = { id: randomBytes(16).toString('hex'), seq: 0, socket: ws };
          this.sessions.set(session.id, session);
          dispatch('READY', {
            v: 10,
            user: this.botUser,
            guilds: [{ id: this.guildId, unavailable: true }],
            session_id: session.id,
            resume_gateway_url: this.gatewayUrl,
            session_type: 'normal',
            private_channels: [],
            presences: [],
            relationships: [],
            guild_join_requests: [],
            geo_ordered_rtc_regions: [],
            shard: [0, 1],
            application: { id: this.appId, flags: 0 },
            _trace: ['["fake-discord-gateway",{"micros":0}]'],
          });
          dispatch('GUILD_CREATE', this.guildObject());
          return;
        }
        case 6: {
          // RESUME
          const d = payload.d ?? {};
          const known = typeof d.session_id === 'string' ? this.sessions.get(d.session_id) : undefined;
          if (d.token !== this.token || !known) {
            send({ op: 9, d: false, s: null, t: null }); // INVALID SESSION, not resumable
            return;
          }
          if (known.socket && known.socket !== ws) known.socket.terminate();
          known.socket = ws;
          session = known;
          dispatch('RESUMED', {});
          return;
        }
        default:
          return; // presence updates, member requests: nothing to do here
      }
    });
    ws.on('close', () => {
      if (session?.socket === ws) session.socket = undefined;
    });
  }

  private dispatchInteraction(userId: string, channelId: string, guildId: string, body: Record<string, unknown>): string {
    const id = this.snowflake();
    const token = `itok.${randomBytes(24).toString('base64url')}`;
    this.interactions.set(token, { id, token, userId, channelId, createdAt: Date.now() });
    const payload = {
      id,
      application_id: this.appId,
      token,
      version: 1,
      guild_id: guildId,
      channel_id: channelId,
      channel: { id: channelId, type: 0, guild_id: guildId, name: 'trading-feed', position: 0, permission_overwrites: [], nsfw: false, parent_id: null, last_message_id: null, flags: 0 },
      member: {
        user: { id: userId, username: `user${userId.slice(-4)}`, discriminator: '0', global_name: null, avatar: null, public_flags: 0 },
        roles: [],
        joined_at: new Date(Date.UTC(2024, 0, 1)).toISOString(),
        premium_since: null,
        nick: null,
        avatar: null,
        deaf: false,
        mute: false,
        pending: false,
        flags: 0,
        permissions: '2248473465835073',
        communication_disabled_until: null,
      },
      app_permissions: '2248473465835073',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': guildId },
      context: 0,
      attachment_size_limit: 8_388_608,
      ...body,
    };
    // One live session gets the event, like a single-shard bot.
    const session = [...this.sessions.values()].find((s) => s.socket?.readyState === 1);
    if (!session?.socket) throw new Error('fake Discord: no gateway session to deliver the interaction to');
    session.seq += 1;
    session.socket.send(JSON.stringify({ op: 0, t: 'INTERACTION_CREATE', s: session.seq, d: payload }));
    return id;
  }

  private guildObject(): Record<string, unknown> {
    return {
      id: this.guildId,
      name: 'Confidence Ops',
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: '1100000000000000099',
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 1,
      explicit_content_filter: 0,
      roles: [{ id: this.guildId, name: '@everyone', color: 0, hoist: false, position: 0, permissions: '2248473465835073', managed: false, mentionable: false, flags: 0 }],
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: this.channelId,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
      joined_at: new Date(Date.UTC(2024, 0, 1)).toISOString(),
      large: false,
      unavailable: false,
      member_count: 4,
      voice_states: [],
      members: [],
      channels: [{ id: this.channelId, type: 0, guild_id: this.guildId, name: 'trading-feed', position: 0, permission_overwrites: [], nsfw: false, parent_id: null, last_message_id: null, rate_limit_per_user: 0, topic: null, flags: 0 }],
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  // ---------------------------------------------------------------- REST

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.isDown) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const rawBytes = await readBody(req);
    const method = req.method ?? 'GET';
    const match = url.pathname.match(/^\/api\/v(\d+)(\/.*)$/);
    const path = decodeURIComponent(match?.[2] ?? url.pathname);
    let body: unknown;
    const contentType = req.headers['content-type'] ?? '';
    if (contentType.startsWith('multipart/form-data')) {
      // discord.js sends files as multipart: the JSON body in payload_json, each file as files[n]
      const form = await new Response(rawBytes, { headers: { 'content-type': contentType } }).formData();
      const files: Array<{ filename: string; bytes: Buffer }> = [];
      let payload: Record<string, unknown> = {};
      for (const [field, value] of form.entries()) {
        if (field === 'payload_json' && typeof value === 'string') payload = JSON.parse(value) as Record<string, unknown>;
        else if (typeof value !== 'string') files.push({ filename: value.name, bytes: Buffer.from(await value.arrayBuffer()) });
      }
      body = { ...payload, [UPLOADS]: files };
    } else {
      const raw = rawBytes.toString();
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
    }
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      this.calls.push({ method, path, query: url.searchParams, body, status, at: Date.now() });
      if (res.writableEnded || res.destroyed) return;
      if (payload === undefined) {
        res.writeHead(status, headers);
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    if (!match) return reply(404, { message: '404: Not Found', code: 0 });
    if (match[1] !== '10') return reply(400, { message: `Invalid API version ${match[1]}`, code: 50041 });

    const fault = this.faults.findIndex((f) => (f.method === undefined || f.method === method) && f.path.test(path));
    if (fault >= 0) {
      const f = this.faults.splice(fault, 1)[0]!;
      const seconds = String(f.retryAfter);
      return reply(
        429,
        { message: 'You are being rate limited.', retry_after: f.retryAfter, global: f.global, code: 0 },
        {
          'retry-after': seconds,
          'x-ratelimit-limit': '5',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Date.now() / 1000 + f.retryAfter),
          'x-ratelimit-reset-after': seconds,
          'x-ratelimit-bucket': 'fakebucket' + randomBytes(4).toString('hex'),
          'x-ratelimit-scope': f.global ? 'global' : 'user',
          ...(f.global ? { 'x-ratelimit-global': 'true' } : {}),
        },
      );
    }

    // Interaction callbacks and interaction webhooks are authorized by their token, not the bot token.
    const interactionRoute = /^\/(interactions|webhooks)\//.test(path);
    if (!interactionRoute && req.headers.authorization !== `Bot ${this.token}`) return reply(401, { message: '401: Unauthorized', code: 0 });

    const parts = path.split('/').slice(1);
    const b = (body ?? {}) as Record<string, unknown>;
    // GET /gateway/bot, /gateway
    if (method === 'GET' && path === '/gateway/bot') {
      return reply(200, { url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } });
    }
    if (method === 'GET' && path === '/gateway') return reply(200, { url: this.gatewayUrl });
    if (method === 'GET' && path === '/users/@me') return reply(200, this.botUser);
    if (method === 'GET' && path === '/applications/@me') {
      return reply(200, { id: this.appId, name: 'Confidence Engine', icon: null, description: '', bot_public: false, bot_require_code_grant: false, verify_key: 'x', flags: 0, bot: this.botUser, owner: this.botUser });
    }
    // PUT /applications/:app/guilds/:guild/commands, PUT /applications/:app/commands
    if (method === 'PUT' && parts[0] === 'applications' && parts[parts.length - 1] === 'commands') {
      if (parts[1] !== this.appId) return reply(403, { message: 'Missing Access', code: 50001 });
      const guildId = parts[2] === 'guilds' ? parts[3] : undefined;
      if (guildId !== undefined && guildId !== this.guildId) return reply(403, { message: 'Missing Access', code: 50001 });
      if (!Array.isArray(body)) return reply(400, { message: 'Invalid Form Body', code: 50035 });
      const problem = (body as Array<Record<string, unknown>>).map(validateCommand).find(Boolean);
      if (problem) return reply(400, { message: `Invalid Form Body: ${problem}`, code: 50035 });
      const registered = (body as Array<Record<string, unknown>>).map((c) => {
        const id = this.commandIds.get(String(c.name)) ?? this.snowflake();
        this.commandIds.set(String(c.name), id);
        return { id, application_id: this.appId, version: this.snowflake(), type: 1, default_member_permissions: null, nsfw: false, options: [], ...(guildId ? { guild_id: guildId } : {}), ...c };
      });
      return reply(200, registered);
    }
    if (method === 'GET' && parts[0] === 'channels' && parts.length === 2) {
      if (parts[1] !== this.channelId) return reply(404, { message: 'Unknown Channel', code: 10003 });
      return reply(200, { id: this.channelId, type: 0, guild_id: this.guildId, name: 'trading-feed', position: 0, permission_overwrites: [], nsfw: false, parent_id: null, last_message_id: null, flags: 0 });
    }
    // POST /channels/:id/messages
    if (method === 'POST' && parts[0] === 'channels' && parts[2] === 'messages' && parts.length === 3) {
      if (parts[1] !== this.channelId) return reply(404, { message: 'Unknown Channel', code: 10003 });
      const problem = validateMessage(b);
      if (problem) return reply(400, { message: `Invalid Form Body: ${problem}`, code: 50035 });
      const message = this.store(b, parts[1]!, 'channel');
      return reply(200, this.messageObject(message));
    }
    // POST /interactions/:id/:token/callback
    if (method === 'POST' && parts[0] === 'interactions' && parts[3] === 'callback') {
      const record = this.interactions.get(parts[2] ?? '');
      if (!record || record.id !== parts[1]) return reply(404, { message: 'Unknown interaction', code: 10062 });
      if (record.ack !== undefined) return reply(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
      if (Date.now() - record.createdAt > ACK_WINDOW_MS) return reply(404, { message: 'Unknown interaction', code: 10062 });
      const type = Number(b.type);
      const data = (b.data ?? {}) as Record<string, unknown>;
      if (type === 4) {
        const problem = validateMessage(data);
        if (problem) return reply(400, { message: `Invalid Form Body: ${problem}`, code: 50035 });
      }
      if (![4, 5, 6, 7].includes(type)) return reply(400, { message: 'Invalid Form Body: type', code: 50035 });
      record.ack = type;
      record.ackFlags = Number(data.flags ?? 0);
      let message: FakeMessage | undefined;
      if (type === 4 || type === 5) {
        message = this.store(type === 4 ? data : { content: '', flags: record.ackFlags }, record.channelId, 'original', record.id);
        record.originalId = message.id;
      }
      if (url.searchParams.get('with_response') === 'true') {
        return reply(200, {
          interaction: { id: record.id, type: 2, activity_instance_id: null, response_message_id: message?.id ?? null, response_message_loading: type === 5, response_message_ephemeral: Boolean(record.ackFlags & EPHEMERAL) },
          resource: message ? { type, message: this.messageObject(message) } : { type },
        });
      }
      return reply(204);
    }
    // /webhooks/:app/:token[/messages/:id]
    if (parts[0] === 'webhooks') {
      const record = this.interactions.get(parts[2] ?? '');
      if (parts[1] !== this.appId || !record || record.ack === undefined) return reply(404, { message: 'Unknown Webhook', code: 10015 });
      if (parts.length === 3 && method === 'POST') {
        const problem = validateMessage(b);
        if (problem) return reply(400, { message: `Invalid Form Body: ${problem}`, code: 50035 });
        const message = this.store(b, record.channelId, 'followup', record.id);
        return url.searchParams.get('wait') === 'false' ? reply(204) : reply(200, this.messageObject(message));
      }
      if (parts[3] === 'messages' && parts[4]) {
        const id = parts[4] === '@original' ? record.originalId : parts[4];
        const message = this.messages.find((m) => m.id === id && m.interactionId === record.id && !m.deleted);
        if (!message) return reply(404, { message: 'Unknown Message', code: 10008 });
        if (method === 'GET') return reply(200, this.messageObject(message));
        if (method === 'DELETE') {
          message.deleted = true;
          return reply(204);
        }
        if (method === 'PATCH') {
          const merged = { content: message.content, embeds: message.embeds, components: message.components, ...b };
          const problem = validateMessage(merged as Record<string, unknown>);
          if (problem) return reply(400, { message: `Invalid Form Body: ${problem}`, code: 50035 });
          message.content = String(merged.content ?? '');
          message.embeds = (merged.embeds ?? []) as FakeMessage['embeds'];
          message.components = (merged.components ?? []) as FakeMessage['components'];
          message.attachments.push(...uploadsOf(b));
          return reply(200, this.messageObject(message));
        }
      }
    }
    return reply(404, { message: '404: Not Found', code: 0 });
  }

  private store(body: Record<string, unknown>, channelId: string, kind: FakeMessage['kind'], interactionId?: string): FakeMessage {
    const message: FakeMessage = {
      id: this.snowflake(),
      channelId,
      kind,
      ...(interactionId ? { interactionId } : {}),
      content: String(body.content ?? ''),
      embeds: (body.embeds ?? []) as FakeMessage['embeds'],
      components: (body.components ?? []) as FakeMessage['components'],
      flags: Number(body.flags ?? 0),
      deleted: false,
      at: Date.now(),
      attachments: uploadsOf(body),
    };
    this.messages.push(message);
    return message;
  }

  private messageObject(m: FakeMessage): Record<string, unknown> {
    return {
      id: m.id,
      type: m.kind === 'channel' ? 0 : 20,
      channel_id: m.channelId,
      guild_id: this.guildId,
      author: this.botUser,
      content: m.content,
      timestamp: new Date(m.at).toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: m.embeds.map((e) => ({ type: 'rich', ...e })),
      components: m.components,
      pinned: false,
      flags: m.flags,
      ...(m.interactionId ? { application_id: this.appId, webhook_id: this.appId } : {}),
    };
  }

  private snowflake(): string {
    this.snowflakeSeq += 1n;
    return String(((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (this.snowflakeSeq & 0xfffn));
  }
}

/** Discord's own limits on a message body; undefined when it is acceptable. */
function validateMessage(body: Record<string, unknown>): string | undefined {
  const content = typeof body.content === 'string' ? body.content : '';
  if (content.length > MESSAGE_LIMIT) return `content: Must be ${MESSAGE_LIMIT} or fewer in length.`;
  const embeds = Array.isArray(body.embeds) ? (body.embeds as Array<Record<string, unknown>>) : [];
  if (embeds.length > 10) return 'embeds: Must be 10 or fewer in length.';
  let total = 0;
  for (const e of embeds) {
    const description = typeof e.description === 'string' ? e.description : '';
    if (description.length > EMBED_DESCRIPTION_LIMIT) return `embeds.description: Must be ${EMBED_DESCRIPTION_LIMIT} or fewer in length.`;
    total += description.length + (typeof e.title === 'string' ? e.title.length : 0);
  }
  if (total > EMBED_TOTAL_LIMIT) return `embeds: total size must be ${EMBED_TOTAL_LIMIT} or fewer.`;
  const components = Array.isArray(body.components) ? (body.components as Array<{ type: number; components?: Array<{ custom_id?: string }> }>) : [];
  if (components.length > 5) return 'components: Must be 5 or fewer in length.';
  for (const row of components) {
    if (row.type !== 1 || !Array.isArray(row.components) || row.components.length === 0 || row.components.length > 5) return 'components: action rows hold 1 to 5 components.';
    for (const c of row.components) if (c.custom_id !== undefined && (c.custom_id.length === 0 || c.custom_id.length > 100)) return 'custom_id: Must be between 1 and 100 in length.';
  }
  if (content === '' && embeds.length === 0 && components.length === 0 && body.flags === undefined) return 'Cannot send an empty message';
  return undefined;
}

/** Discord's rules for a CHAT_INPUT command; undefined when it is acceptable. */
function validateCommand(c: Record<string, unknown>): string | undefined {
  const name = String(c.name ?? '');
  if (!/^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u.test(name)) return `name "${name}" is not a valid command name`;
  const description = String(c.description ?? '');
  if (description.length < 1 || description.length > 100) return `${name}.description: Must be between 1 and 100 in length.`;
  const options = Array.isArray(c.options) ? (c.options as Array<Record<string, unknown>>) : [];
  if (options.length > 25) return `${name}.options: Must be 25 or fewer in length.`;
  let seenOptional = false;
  for (const o of options) {
    if (!/^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u.test(String(o.name ?? ''))) return `${name}.options.name "${String(o.name)}" is not valid`;
    const d = String(o.description ?? '');
    if (d.length < 1 || d.length > 100) return `${name}.options.description: Must be between 1 and 100 in length.`;
    if (o.required) {
      if (seenOptional) return `${name}.options: Required options must be placed before non-required options`;
    } else seenOptional = true;
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

/** where a multipart request's uploaded files ride along in the parsed body */
const UPLOADS = Symbol('uploads');

function uploadsOf(body: Record<string | symbol, unknown>): Array<{ filename: string; bytes: Buffer }> {
  return (body[UPLOADS] as Array<{ filename: string; bytes: Buffer }> | undefined) ?? [];
}
