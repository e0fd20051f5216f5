/**
 * A fake Alpaca (trading + crypto market data) on 127.0.0.1 that speaks exactly what the real v4 SDK
 * `@alpacahq/alpaca-trade-api` sends and parses, so tests run the real SDK over real HTTP and WebSockets.
 *
 * One HTTP server serves:
 *   - Trading REST       `/v2/account`, `/v2/positions[/{symbol}]`, `/v2/orders[...]`, `/v2/assets[/{symbol}]`, `/v2/clock`
 *   - Market-data REST   `/v1beta3/crypto/{loc}/bars`, `/latest/{quotes,bars,trades}`, `/v1beta1/news`
 *   - Crypto data stream `ws://…/v1beta3/crypto/{loc}` — msgpack when the client sends
 *                        `Content-Type: application/msgpack` on the upgrade (the SDK does), JSON text otherwise
 *   - Trading stream     `ws://…/stream` — JSON, sent as binary frames like Alpaca's paper endpoint
 *
 * Wire facts it mirrors (all checked against the SDK source in node_modules):
 *   - REST auth is the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` header pair; otherwise 401
 *     `{"code":40110000,"message":"request is not authorized"}`. Exception: `/v1beta3/crypto/*` is public on
 *     Alpaca and the SDK sends no key headers there, so anonymous requests are accepted (wrong keys are not).
 *   - Errors use Alpaca's `{code, message}` envelope (the SDK turns it into `ApiError.code/.message`).
 *   - Orders echo the crypto symbol with a slash (`BTC/USD`); POSITIONS use Alpaca's slash-less form
 *     (`BTCUSD`), like the real API. `/v2/positions/{sym}` and `/v2/assets/{sym}` accept both forms
 *     (the SDK URL-encodes the slash as `%2F`).
 *   - A new order answers `status: "pending_new"` (configurable), then the stream carries `new`, then
 *     `partial_fill`* / `fill` (or `canceled` / `rejected`). Events sent while a client is disconnected are
 *     lost, as on Alpaca (no replay).
 *   - Crypto `time_in_force` must be `gtc` or `ioc` (the SDK builders default to `day`, which Alpaca rejects
 *     with 422 `invalid crypto time_in_force`).
 *   - The data stream allows one connection per key (406 `connection limit exceeded`), like Alpaca.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { encode as msgpackEncode, decode as msgpackDecode } from '@msgpack/msgpack';
import { mulberry32 } from '../../engine/rng.js';

// ---------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------

export type FakeOrderStatus =
  | 'pending_new'
  | 'accepted'
  | 'new'
  | 'partially_filled'
  | 'filled'
  | 'pending_cancel'
  | 'canceled'
  | 'expired'
  | 'rejected';

/** An order exactly as it goes over the wire (Alpaca's snake_case JSON; amounts are strings). */
export interface AlpacaOrderJson {
  id: string;
  client_order_id: string;
  created_at: string;
  updated_at: string;
  submitted_at: string;
  filled_at: string | null;
  expired_at: string | null;
  canceled_at: string | null;
  failed_at: string | null;
  replaced_at: string | null;
  replaced_by: string | null;
  replaces: string | null;
  asset_id: string;
  symbol: string;
  asset_class: 'crypto';
  notional: string | null;
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  order_class: string;
  order_type: 'market' | 'limit';
  type: 'market' | 'limit';
  side: 'buy' | 'sell';
  position_intent?: string;
  time_in_force: string;
  limit_price: string | null;
  stop_price: string | null;
  status: FakeOrderStatus;
  extended_hours: boolean;
  legs: null;
  trail_percent: string | null;
  trail_price: string | null;
  hwm: string | null;
  subtag: string | null;
  source: string | null;
  expires_at: string | null;
}

/** A position exactly as it goes over the wire. */
export interface AlpacaPositionJson {
  asset_id: string;
  symbol: string;
  exchange: 'CRYPTO';
  asset_class: 'crypto';
  asset_marginable: boolean;
  qty: string;
  qty_available: string;
  avg_entry_price: string;
  side: 'long';
  market_value: string;
  cost_basis: string;
  unrealized_pl: string;
  unrealized_plpc: string;
  unrealized_intraday_pl: string;
  unrealized_intraday_plpc: string;
  current_price: string;
  lastday_price: string;
  change_today: string;
}

/** A bar as tests hand it in. `t` may be an ISO string, a Date or epoch ms. */
export interface FakeBarInput {
  t: string | Date | number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n?: number;
  vw?: number;
}

export interface FakeNewsArticle {
  id: number;
  headline: string;
  author: string;
  created_at: string;
  updated_at: string;
  summary: string;
  content: string;
  url: string;
  images: Array<{ size: string; url: string }>;
  symbols: string[];
  source: string;
}

export interface RecordedRequest {
  readonly method: string;
  /** Decoded pathname, e.g. `/v2/orders:by_client_order_id` or `/v2/positions/BTC/USD`. */
  readonly path: string;
  /** Raw pathname as sent (e.g. `/v2/positions/BTC%2FUSD`). */
  readonly rawPath: string;
  readonly query: Record<string, string>;
  /** Parsed JSON body (or the raw string when not JSON; undefined when empty). */
  readonly body: unknown;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly at: number;
  /** Status the fake answered (0 while unanswered or for a hung response). */
  status: number;
  /** Set when a fault rule answered instead of the normal handler. */
  fault?: string;
}

export interface TradeUpdateJson {
  event: string;
  timestamp: string;
  order: AlpacaOrderJson;
  execution_id?: string;
  price?: string;
  qty?: string;
  position_qty?: string;
}

export type FaultKind = '5xx' | '429' | 'drop';

export interface FaultFilter {
  /** Only requests with this HTTP method. */
  method?: string;
  /** Only requests whose decoded pathname equals this string, or matches this RegExp. */
  path?: string | RegExp;
  /**
   * Run the real handler first (state changes happen, e.g. the order is created), THEN answer with the fault.
   * Models an ambiguous failure. Default false (the request is rejected before anything happens).
   */
  processFirst?: boolean;
  /** For 429: send `Retry-After: <sec>` (the SDK honours it). Default: no Retry-After, only X-RateLimit-*. */
  retryAfterSec?: number;
  /** For 5xx: force this status instead of a seeded pick from 500/502/503/504. */
  status?: number;
}

export interface FakeAlpacaOptions {
  keyId?: string;
  secret?: string;
  /** Starting cash in USD. Default 100000. */
  cash?: number;
  /** Seed of the PRNG behind `faultRate`. Default 42. */
  seed?: number;
  /** Delay between the order's `new` event and its first fill. Default 5 ms. */
  fillDelayMs?: number;
  /** Delay between successive partial fills. Default 5 ms. */
  partialFillIntervalMs?: number;
  /** Status of the order in the POST response. Alpaca answers crypto orders with `pending_new`. */
  initialOrderStatus?: 'pending_new' | 'accepted' | 'new';
  /** Crypto fee in basis points, deducted from what you receive (the asset on a buy, USD on a sell). Default 0. */
  feeBps?: number;
  /** Spread around the last price used for quotes. Default 2 bps (1 bp each side). */
  quoteSpreadBps?: number;
  /** Enforce Alpaca's one-data-stream-connection-per-key limit (406). Default true. */
  dataConnectionLimit?: boolean;
  /** Send trading-stream frames as binary (like paper-api) instead of text. Default true. */
  tradingStreamBinary?: boolean;
  /** Clock used for timestamps and for the bars `start`/`end` defaults. Default: real time. */
  now?: () => Date;
}

export interface AssetSpec {
  min_order_size: string;
  min_trade_increment: string;
  price_increment: string;
  tradable?: boolean;
  name?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------------------

interface StoredBar {
  tMs: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  vw: number;
}

interface OrderState {
  wire: AlpacaOrderJson;
  qty?: number; // requested qty (qty orders), or qty fixed at the first fill (notional orders)
  notional?: number;
  limit?: number;
  filled: number;
  filledValue: number;
  parts: number;
  partsDone: number;
  timer?: NodeJS.Timeout;
  waitingForPrice: boolean;
}

interface PositionState {
  assetId: string;
  qty: number;
  costBasis: number;
}

interface FaultRule {
  kind: FaultKind;
  p?: number;
  remaining?: number;
  filter: FaultFilter;
}

interface BadResponseRule {
  match: string | RegExp;
  method?: string;
  mutate: (body: unknown) => unknown;
  remaining: number;
}

interface HttpAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface DataClient {
  ws: WebSocket;
  codec: 'msgpack' | 'json';
  authed: boolean;
  subs: Record<DataChannel, Set<string>>;
}

interface TradingClientState {
  ws: WebSocket;
  authed: boolean;
  listening: boolean;
}

type DataChannel = 'trades' | 'quotes' | 'bars' | 'updatedBars' | 'dailyBars' | 'orderbooks';
const DATA_CHANNELS: DataChannel[] = ['trades', 'quotes', 'bars', 'updatedBars', 'dailyBars', 'orderbooks'];

const OPEN_STATUSES = new Set<FakeOrderStatus>(['pending_new', 'accepted', 'new', 'partially_filled', 'pending_cancel']);
const TERMINAL_STATUSES = new Set<FakeOrderStatus>(['filled', 'canceled', 'expired', 'rejected']);

const DEFAULT_ASSETS: Record<string, AssetSpec> = {
  'BTC/USD': { min_order_size: '0.0001', min_trade_increment: '0.000000001', price_increment: '1', name: 'Bitcoin / US Dollar' },
  'ETH/USD': { min_order_size: '0.001', min_trade_increment: '0.000000001', price_increment: '0.1', name: 'Ethereum / US Dollar' },
  'SOL/USD': { min_order_size: '0.01', min_trade_increment: '0.000000001', price_increment: '0.0025', name: 'Solana / US Dollar' },
  'LTC/USD': { min_order_size: '0.01', min_trade_increment: '0.000000001', price_increment: '0.005', name: 'Litecoin / US Dollar' },
  'DOGE/USD': { min_order_size: '1', min_trade_increment: '0.000000001', price_increment: '0.0000005', name: 'Dogecoin / US Dollar' },
};

const ERR = {
  unauthorized: { code: 40110000, message: 'request is not authorized' },
  notFound: (what: string) => ({ code: 40410000, message: what }),
  unprocessable: (message: string) => ({ code: 40010001, message }),
  invalidState: (message: string) => ({ code: 42210000, message }),
  forbidden: (message: string) => ({ code: 40310000, message }),
  badBody: { code: 40010000, message: 'request body format is invalid' },
  rateLimited: { code: 42910000, message: 'rate limit exceeded' },
  internal: { code: 50010000, message: 'internal server error occurred' },
};

/** Round to 9 decimals (Alpaca's crypto qty precision). */
function r9(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** Number → Alpaca-style decimal string: up to `dp` decimals, no trailing zeros, no exponent. */
export function dec(n: number, dp = 9): string {
  if (!Number.isFinite(n)) return String(n);
  let s = n.toFixed(dp);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/** RFC-3339 like Alpaca's market-data (`2024-01-02T03:00:00Z`, milliseconds only when non-zero). */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** `BTC/USD`, `BTCUSD`, `btc/usd` → `BTC/USD` (quote currencies USD, USDT, USDC, BTC). */
export function cryptoSymbol(raw: string): string {
  const s = raw.trim().toUpperCase();
  if (s.includes('/')) return s;
  for (const quote of ['USDT', 'USDC', 'USD', 'BTC']) {
    if (s.length > quote.length && s.endsWith(quote)) return `${s.slice(0, -quote.length)}/${quote}`;
  }
  return s;
}

/** `BTC/USD` → `BTCUSD` (the form Alpaca uses for crypto positions). */
function positionSymbol(symbol: string): string {
  return symbol.replace('/', '');
}

function parseNum(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

function toMs(t: string | Date | number): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return t;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new Error(`FakeAlpaca: bad bar timestamp ${t}`);
  return ms;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

// ---------------------------------------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------------------------------------

export class FakeAlpaca {
  /** Every REST request, in arrival order (faulted and unauthorized ones included). */
  readonly requests: RecordedRequest[] = [];
  /** Every trade update the fake emitted (once per event, even when duplicated on the wire). */
  readonly tradeUpdates: TradeUpdateJson[] = [];

  readonly keyId: string;
  readonly secret: string;

  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly dataWss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private dataRefused = false;
  private readonly tradingWss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly dataClients = new Set<DataClient>();
  private readonly tradingClients = new Set<TradingClientState>();
  private readonly hungResponses = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private readonly opts: Required<Omit<FakeAlpacaOptions, 'keyId' | 'secret' | 'now'>>;
  private readonly nowFn: () => Date;
  private rng: () => number;

  private cashBalance: number;
  private lastEquity: number;
  private accountId = randomUUID();
  private accountPatch: Record<string, unknown> = {};
  private readonly ordersById = new Map<string, OrderState>();
  private readonly orderSeq: OrderState[] = [];
  private readonly positionsBySymbol = new Map<string, PositionState>();
  private readonly prices = new Map<string, number>();
  private readonly lastdayPrices = new Map<string, number>();
  private readonly assets = new Map<string, AssetSpec & { id: string }>();
  private readonly bars = new Map<string, Map<string, StoredBar[]>>();
  private news: FakeNewsArticle[];

  private faults: FaultRule[] = [];
  private badResponses: BadResponseRule[] = [];
  private timeoutOrderPosts = 0;
  private timeoutOrderPostDelayMs: number | undefined;
  private held = false;
  private readonly heldOrders = new Set<OrderState>();
  private fillParts = 1;
  private duplicateFills = 0;
  private duplicateFillsForever = false;
  private rejectNext: string[] = [];
  private down = false;
  private port = 0;

  constructor(options: FakeAlpacaOptions = {}) {
    this.keyId = options.keyId ?? 'FAKEKEYID';
    this.secret = options.secret ?? 'FAKESECRET';
    this.nowFn = options.now ?? (() => new Date());
    this.opts = {
      cash: options.cash ?? 100_000,
      seed: options.seed ?? 42,
      fillDelayMs: options.fillDelayMs ?? 5,
      partialFillIntervalMs: options.partialFillIntervalMs ?? 5,
      initialOrderStatus: options.initialOrderStatus ?? 'pending_new',
      feeBps: options.feeBps ?? 0,
      quoteSpreadBps: options.quoteSpreadBps ?? 2,
      dataConnectionLimit: options.dataConnectionLimit ?? true,
      tradingStreamBinary: options.tradingStreamBinary ?? true,
    };
    this.rng = mulberry32(this.opts.seed).next;
    this.cashBalance = this.opts.cash;
    this.lastEquity = this.opts.cash;
    for (const [sym, spec] of Object.entries(DEFAULT_ASSETS)) this.assets.set(sym, { ...spec, id: randomUUID() });
    this.news = defaultNews(this.nowFn());

    this.server = createServer((req, res) => void this.onHttp(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.dataWss.on('connection', (ws, req) => this.onDataConnection(ws, req));
    this.tradingWss.on('connection', (ws) => this.onTradingConnection(ws));
  }

  // --- lifecycle ---------------------------------------------------------------------------------------

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const o of this.orderSeq) if (o.timer) clearTimeout(o.timer);
    for (const c of this.dataClients) c.ws.terminate();
    for (const c of this.tradingClients) c.ws.terminate();
    for (const res of this.hungResponses) res.destroy();
    this.hungResponses.clear();
    for (const s of this.sockets) s.destroy();
    this.dataWss.close();
    this.tradingWss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Origin for the trading REST API; the SDK appends `/v2/...`. */
  get tradingUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** Origin for the market-data REST API; the SDK appends `/v1beta3/crypto/us/...` and `/v1beta1/news`. */
  get dataUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** Pass as `cryptoStream({ url })`. */
  get dataStreamUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1beta3/crypto/us`;
  }
  /** Pass as `trading.stream({ url })`. */
  get tradingStreamUrl(): string {
    return `ws://127.0.0.1:${this.port}/stream`;
  }

  // --- state setup -------------------------------------------------------------------------------------

  /** Last trade price for a symbol; market orders fill here, limit orders are re-checked. */
  setPrice(symbol: string, price: number): void {
    const sym = cryptoSymbol(symbol);
    if (!this.lastdayPrices.has(sym)) this.lastdayPrices.set(sym, price);
    this.prices.set(sym, price);
    this.onPriceChange(sym);
  }

  price(symbol: string): number | undefined {
    return this.prices.get(cryptoSymbol(symbol));
  }

  setCash(cash: number): void {
    this.cashBalance = cash;
    this.lastEquity = this.equity();
  }

  /** Seed a position (e.g. state left by a previous run). `qty` 0 removes it. */
  setPosition(symbol: string, qty: number, avgEntryPrice: number): void {
    const sym = cryptoSymbol(symbol);
    if (qty <= 0) {
      this.positionsBySymbol.delete(sym);
      return;
    }
    const existing = this.positionsBySymbol.get(sym);
    this.positionsBySymbol.set(sym, { assetId: existing?.assetId ?? this.asset(sym)?.id ?? randomUUID(), qty: r9(qty), costBasis: qty * avgEntryPrice });
    if (!this.prices.has(sym)) this.setPrice(sym, avgEntryPrice);
  }

  /** Add or change a tradable crypto asset (`min_order_size` etc. as Alpaca's strings). */
  setAsset(symbol: string, spec: Partial<AssetSpec>): void {
    const sym = cryptoSymbol(symbol);
    const prev = this.assets.get(sym);
    this.assets.set(sym, {
      min_order_size: '0.000000001',
      min_trade_increment: '0.000000001',
      price_increment: '0.000000001',
      ...prev,
      ...spec,
      id: prev?.id ?? randomUUID(),
    });
  }

  /** Extra/overridden fields merged into `GET /v2/account` (e.g. `{ trading_blocked: true }`). */
  setAccount(patch: Record<string, unknown>): void {
    this.accountPatch = { ...this.accountPatch, ...patch };
  }

  /**
   * Load a bar series served by `GET /v1beta3/crypto/us/bars`. Without `timeframe` the series answers any
   * timeframe; with one it answers only that timeframe (e.g. '1Hour'). Replaces any previous series for the
   * key. Sets the symbol's last price to the last close when no price was set yet.
   */
  loadBars(symbol: string, bars: FakeBarInput[], timeframe?: string): void {
    const sym = cryptoSymbol(symbol);
    const byTf = this.bars.get(sym) ?? new Map<string, StoredBar[]>();
    const stored = bars.map(toStoredBar).sort((a, b) => a.tMs - b.tMs);
    byTf.set(timeframe ?? '*', stored);
    this.bars.set(sym, byTf);
    const last = stored.at(-1);
    if (last && !this.prices.has(sym)) this.setPrice(sym, last.c);
  }

  /** Replace the news articles served by `GET /v1beta1/news`. */
  setNews(articles: FakeNewsArticle[]): void {
    this.news = articles.map((a) => ({ ...a }));
  }

  // --- stream pushes -----------------------------------------------------------------------------------

  /**
   * Push a minute bar: it becomes the last price (limit orders re-checked), is appended to the symbol's
   * default REST series (unless `append: false`), and is sent as `[{T:'b',S,o,h,l,c,v,t,n,vw}]` to data-stream
   * clients subscribed to `bars` for the symbol (or `*`).
   */
  pushBar(symbol: string, bar: FakeBarInput, opts: { append?: boolean; type?: 'b' | 'u' | 'd' } = {}): void {
    const sym = cryptoSymbol(symbol);
    const b = toStoredBar(bar);
    if (opts.append !== false) {
      const byTf = this.bars.get(sym) ?? new Map<string, StoredBar[]>();
      const series = byTf.get('*') ?? [];
      const i = series.findIndex((x) => x.tMs === b.tMs);
      if (i >= 0) series[i] = b;
      else {
        series.push(b);
        series.sort((x, y) => x.tMs - y.tMs);
      }
      byTf.set('*', series);
      this.bars.set(sym, byTf);
    }
    const type = opts.type ?? 'b';
    const channel: DataChannel = type === 'b' ? 'bars' : type === 'u' ? 'updatedBars' : 'dailyBars';
    for (const c of this.dataClients) {
      if (!c.authed || !(c.subs[channel].has(sym) || c.subs[channel].has('*'))) continue;
      const frame = { T: type, S: sym, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v, t: c.codec === 'msgpack' ? new Date(b.tMs) : rfc3339(b.tMs), n: b.n, vw: b.vw };
      this.sendData(c, [frame]);
    }
    if (type === 'b') this.setPrice(sym, b.c);
  }

  /** Push a quote `[{T:'q',S,bp,bs,ap,as,t}]` to `quotes` subscribers. Does not move the last price. */
  pushQuote(symbol: string, q: { bp: number; bs: number; ap: number; as: number; t?: string | Date | number }): void {
    const sym = cryptoSymbol(symbol);
    const tMs = q.t === undefined ? this.nowFn().getTime() : toMs(q.t);
    for (const c of this.dataClients) {
      if (!c.authed || !(c.subs.quotes.has(sym) || c.subs.quotes.has('*'))) continue;
      this.sendData(c, [{ T: 'q', S: sym, bp: q.bp, bs: q.bs, ap: q.ap, as: q.as, t: c.codec === 'msgpack' ? new Date(tMs) : rfc3339(tMs) }]);
    }
  }

  /** Kill every data-stream socket abruptly (no close frame), like a network drop. */
  dropDataStream(): void {
    for (const c of this.dataClients) c.ws.terminate();
  }

  /** While on, the data stream is unreachable: current sockets are dropped and new upgrades refused. */
  refuseDataStream(on: boolean): void {
    this.dataRefused = on;
    if (on) this.dropDataStream();
  }

  /** Kill every trading-stream socket abruptly. Events emitted while nobody listens are lost. */
  dropTradingStream(): void {
    for (const c of this.tradingClients) c.ws.terminate();
  }

  // --- matching-engine knobs -----------------------------------------------------------------------------

  /** Subsequent orders fill in `n` equal parts (`partial_fill` × (n-1), then `fill`). `1` restores whole fills. */
  fillInParts(n: number): void {
    this.fillParts = Math.max(1, Math.floor(n));
  }

  /** Stop filling: orders reach `new` and wait (also between partial fills). */
  holdFills(): void {
    this.held = true;
  }

  /** Resume filling and process every held order. */
  releaseFills(): void {
    this.held = false;
    const pending = [...this.heldOrders];
    this.heldOrders.clear();
    for (const o of pending) this.tryFill(o);
  }

  /** Orders currently parked by `holdFills()`. */
  heldOrderCount(): number {
    return this.heldOrders.size;
  }

  /** The next `count` fill/partial_fill events are each sent twice on the trading stream. */
  duplicateNextFillEvents(count = 1): void {
    this.duplicateFills += count;
  }

  /** While on, every fill/partial_fill event is sent twice. */
  duplicateFillEvents(on: boolean): void {
    this.duplicateFillsForever = on;
  }

  /** The next accepted order is rejected asynchronously (POST succeeds, then a `rejected` event). */
  rejectNextOrder(reason = 'rejected by fake'): void {
    this.rejectNext.push(reason);
  }

  // --- fault injection ---------------------------------------------------------------------------------

  /** Each matching REST request fails with probability `p` (seeded PRNG → reproducible). */
  faultRate(p: number, kind: FaultKind, filter: FaultFilter = {}): void {
    this.faults.push({ kind, p, filter });
  }

  /** The next `count` matching REST requests fail (deterministic). */
  failNext(count: number, kind: FaultKind, filter: FaultFilter = {}): void {
    this.faults.push({ kind, remaining: count, filter });
  }

  /**
   * The next POST /v2/orders is accepted and the order recorded (it fills as usual), but the HTTP answer is
   * never sent (`delayMs` undefined) or sent only after `delayMs`, so the client times out while the order
   * exists.
   */
  timeoutNextOrderPost(opts: { delayMs?: number; count?: number } = {}): void {
    this.timeoutOrderPosts += opts.count ?? 1;
    this.timeoutOrderPostDelayMs = opts.delayMs;
  }

  /**
   * Malform the JSON body of responses whose decoded path equals `match` (or matches the RegExp):
   * `mutate(body)` returns the new body (return a string to send it verbatim, e.g. broken JSON).
   * Applies `times` times (default: until `clearFaults()`).
   */
  badResponse(match: string | RegExp, mutate: (body: unknown) => unknown, opts: { method?: string; times?: number } = {}): void {
    this.badResponses.push({ match, mutate, remaining: opts.times ?? Number.POSITIVE_INFINITY, ...(opts.method ? { method: opts.method.toUpperCase() } : {}) });
  }

  /** While down, every HTTP request's connection is destroyed (a network error for the client). */
  setDown(down: boolean): void {
    this.down = down;
  }

  clearFaults(): void {
    this.faults = [];
    this.badResponses = [];
    this.timeoutOrderPosts = 0;
    this.timeoutOrderPostDelayMs = undefined;
    this.duplicateFills = 0;
    this.duplicateFillsForever = false;
    this.rejectNext = [];
    this.rng = mulberry32(this.opts.seed).next;
  }

  // --- assertion helpers ---------------------------------------------------------------------------------

  /** The fake's order book (wire JSON, copies), oldest first. */
  orders(): AlpacaOrderJson[] {
    return this.orderSeq.map((o) => ({ ...o.wire }));
  }

  order(idOrClientOrderId: string): AlpacaOrderJson | undefined {
    const o = this.ordersById.get(idOrClientOrderId) ?? this.orderSeq.find((x) => x.wire.client_order_id === idOrClientOrderId);
    return o ? { ...o.wire } : undefined;
  }

  /** Positions as the API shows them (symbol `BTCUSD`). */
  positions(): AlpacaPositionJson[] {
    return [...this.positionsBySymbol.keys()].sort().map((s) => this.positionJson(s));
  }

  /** Position quantity by symbol (either form); 0 when flat. */
  positionQty(symbol: string): number {
    return this.positionsBySymbol.get(cryptoSymbol(symbol))?.qty ?? 0;
  }

  cash(): number {
    return this.cashBalance;
  }

  equity(): number {
    let mv = 0;
    for (const [sym, p] of this.positionsBySymbol) mv += p.qty * (this.prices.get(sym) ?? p.costBasis / p.qty);
    return this.cashBalance + mv;
  }

  /** Requests matching method and decoded path (string equality or RegExp). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method.toUpperCase() && (typeof path === 'string' ? r.path === path : path.test(r.path)));
  }

  /** Data-stream clients that are authenticated. */
  dataStreamClientCount(): number {
    return [...this.dataClients].filter((c) => c.authed).length;
  }

  /** Trading-stream clients that are authenticated and listening to trade_updates. */
  tradingListenerCount(): number {
    return [...this.tradingClients].filter((c) => c.authed && c.listening).length;
  }

  /** Resolve once an authenticated data client is subscribed to `channel` for `symbol`. */
  waitForSubscription(symbol: string, channel: DataChannel = 'bars', timeoutMs = 5_000): Promise<void> {
    const sym = cryptoSymbol(symbol);
    return this.waitFor(() => [...this.dataClients].some((c) => c.authed && (c.subs[channel].has(sym) || c.subs[channel].has('*'))), timeoutMs, `data subscription ${channel}:${sym}`);
  }

  /** Resolve once at least `n` trading-stream clients listen to trade_updates. */
  waitForTradingListener(n = 1, timeoutMs = 5_000): Promise<void> {
    return this.waitFor(() => this.tradingListenerCount() >= n, timeoutMs, `${n} trading listener(s)`);
  }

  async waitFor(probe: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`FakeAlpaca: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // =====================================================================================================
  // HTTP
  // =====================================================================================================

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readBody(req);
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const rec: RecordedRequest = { method, path, rawPath: url.pathname, query: Object.fromEntries(url.searchParams), body, headers: { ...req.headers }, at: Date.now(), status: 0 };
    this.requests.push(rec);

    if (this.down) {
      rec.fault = 'drop';
      req.socket.destroy();
      return;
    }

    // Crypto market data is public on Alpaca and the v4 SDK sends NO key headers for /v1beta3/crypto/*:
    // accept anonymous requests there, but reject wrong keys when they are sent.
    const keyHeader = headerValue(req, 'APCA-API-KEY-ID');
    const secretHeader = headerValue(req, 'APCA-API-SECRET-KEY');
    const anonymousOk = path.startsWith('/v1beta3/crypto/') && keyHeader === undefined && secretHeader === undefined;
    if (!anonymousOk && (keyHeader !== this.keyId || secretHeader !== this.secret)) {
      this.send(res, rec, { status: 401, body: ERR.unauthorized });
      return;
    }

    const fault = this.pickFault(method, path);
    if (fault && !fault.filter.processFirst) {
      this.answerFault(req, res, rec, fault);
      return;
    }

    let answer: HttpAnswer;
    try {
      answer = this.route(method, path, url.searchParams, raw, body);
    } catch (err) {
      answer = { status: 500, body: { code: 50010000, message: `fake error: ${err instanceof Error ? err.message : String(err)}` } };
    }

    if (fault) {
      this.answerFault(req, res, rec, fault);
      return;
    }

    if (method === 'POST' && path === '/v2/orders' && answer.status === 200 && this.timeoutOrderPosts > 0) {
      this.timeoutOrderPosts--;
      rec.fault = 'timeout';
      const delay = this.timeoutOrderPostDelayMs;
      if (delay === undefined) {
        this.hungResponses.add(res);
        res.on('close', () => this.hungResponses.delete(res));
        return;
      }
      this.later(delay, () => this.send(res, rec, answer));
      return;
    }

    this.send(res, rec, answer);
  }

  private pickFault(method: string, path: string): FaultRule | undefined {
    for (const rule of this.faults) {
      const f = rule.filter;
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (f.path !== undefined && (typeof f.path === 'string' ? f.path !== path : !f.path.test(path))) continue;
      if (rule.remaining !== undefined) {
        if (rule.remaining <= 0) continue;
        rule.remaining--;
        return rule;
      }
      if (rule.p !== undefined && this.rng() < rule.p) return rule;
    }
    return undefined;
  }

  private answerFault(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, rule: FaultRule): void {
    rec.fault = rule.kind;
    if (rule.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (rule.kind === '429') {
      const headers: Record<string, string> = {
        'X-RateLimit-Limit': '200',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': String(Math.ceil(Date.now() / 1000) + 1),
      };
      if (rule.filter.retryAfterSec !== undefined) headers['Retry-After'] = String(rule.filter.retryAfterSec);
      this.send(res, rec, { status: 429, body: ERR.rateLimited, headers });
      return;
    }
    const statuses = [500, 502, 503, 504];
    const status = rule.filter.status ?? statuses[Math.floor(this.rng() * statuses.length)] ?? 500;
    this.send(res, rec, { status, body: ERR.internal });
  }

  private send(res: ServerResponse, rec: RecordedRequest, answer: HttpAnswer): void {
    if (res.destroyed || res.writableEnded) return;
    rec.status = answer.status;
    let payload: string | undefined;
    if (answer.body !== undefined) {
      let body: unknown = answer.body;
      for (const rule of this.badResponses) {
        if (rule.remaining <= 0) continue;
        if (rule.method && rule.method !== rec.method) continue;
        if (typeof rule.match === 'string' ? rule.match !== rec.path : !rule.match.test(rec.path)) continue;
        rule.remaining--;
        body = rule.mutate(structuredClone(body));
        rec.fault = 'bad-response';
      }
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const headers: Record<string, string> = { 'X-Request-ID': randomUUID().replace(/-/g, ''), ...answer.headers };
    if (payload !== undefined) headers['Content-Type'] = 'application/json; charset=UTF-8';
    res.writeHead(answer.status, headers);
    res.end(payload);
  }

  // --- routing -------------------------------------------------------------------------------------------

  private route(method: string, path: string, q: URLSearchParams, raw: string, body: unknown): HttpAnswer {
    const parts = path.split('/').filter((p) => p !== '');
    // Trading
    if (method === 'GET' && path === '/v2/account') return { status: 200, body: this.accountJson() };
    if (method === 'GET' && path === '/v2/clock') return { status: 200, body: this.clockJson() };
    if (path === '/v2/positions') {
      if (method === 'GET') return { status: 200, body: this.positions() };
      if (method === 'DELETE') return this.closeAllPositions(q.get('cancel_orders') === 'true');
    }
    if (parts[0] === 'v2' && parts[1] === 'positions' && parts.length >= 3) {
      const sym = cryptoSymbol(parts.slice(2).join('/'));
      if (method === 'GET') {
        return this.positionsBySymbol.has(sym) ? { status: 200, body: this.positionJson(sym) } : { status: 404, body: ERR.notFound('position does not exist') };
      }
      if (method === 'DELETE') return this.closePosition(sym, q);
    }
    if (path === '/v2/orders') {
      if (method === 'POST') return this.postOrder(raw, body);
      if (method === 'GET') return this.listOrders(q);
      if (method === 'DELETE') return this.cancelAll();
    }
    if (method === 'GET' && path === '/v2/orders:by_client_order_id') {
      const coid = q.get('client_order_id') ?? '';
      const o = this.orderSeq.find((x) => x.wire.client_order_id === coid);
      return o ? { status: 200, body: { ...o.wire } } : { status: 404, body: ERR.notFound(`order not found for ${coid}`) };
    }
    if (parts[0] === 'v2' && parts[1] === 'orders' && parts.length === 3) {
      const id = parts[2] ?? '';
      const o = this.ordersById.get(id);
      if (method === 'GET') return o ? { status: 200, body: { ...o.wire } } : { status: 404, body: ERR.notFound('order not found') };
      if (method === 'DELETE') {
        if (!o) return { status: 404, body: ERR.notFound('order not found') };
        if (TERMINAL_STATUSES.has(o.wire.status)) return { status: 422, body: ERR.invalidState(`order is already in "${o.wire.status}" state`) };
        this.cancelOrder(o);
        return { status: 204 };
      }
    }
    if (method === 'GET' && path === '/v2/assets') {
      const cls = q.get('asset_class');
      if (cls && cls !== 'crypto') return { status: 200, body: [] };
      return { status: 200, body: [...this.assets.keys()].map((s) => this.assetJson(s)) };
    }
    if (method === 'GET' && parts[0] === 'v2' && parts[1] === 'assets' && parts.length >= 3) {
      const sym = cryptoSymbol(parts.slice(2).join('/'));
      return this.assets.has(sym) ? { status: 200, body: this.assetJson(sym) } : { status: 404, body: ERR.notFound('asset not found') };
    }
    // Market data
    if (method === 'GET' && parts[0] === 'v1beta3' && parts[1] === 'crypto' && parts.length >= 4) {
      const rest = parts.slice(3).join('/');
      if (rest === 'bars') return this.getBars(q);
      if (rest === 'latest/quotes') return this.latestQuotes(q);
      if (rest === 'latest/bars') return this.latestBars(q);
      if (rest === 'latest/trades') return this.latestTrades(q);
    }
    if (method === 'GET' && path === '/v1beta1/news') return this.getNews(q);
    return { status: 404, body: { code: 40410000, message: `fake Alpaca: no route for ${method} ${path}` } };
  }

  // --- trading handlers ------------------------------------------------------------------------------------

  private postOrder(raw: string, body: unknown): HttpAnswer {
    if (raw.length === 0 || typeof body !== 'object' || body === null || Array.isArray(body)) return { status: 400, body: ERR.badBody };
    const b = body as Record<string, unknown>;
    const bad = (message: string): HttpAnswer => ({ status: 422, body: ERR.unprocessable(message) });

    if (typeof b.symbol !== 'string' || b.symbol === '') return bad('symbol is required');
    const sym = cryptoSymbol(b.symbol);
    const asset = this.assets.get(sym);
    if (!asset) return bad(`asset "${b.symbol}" not found`);
    if (asset.tradable === false) return bad(`asset ${sym} is not tradable`);
    if (b.side !== 'buy' && b.side !== 'sell') return bad('invalid side');
    if (b.type !== 'market' && b.type !== 'limit') {
      return bad(typeof b.type === 'string' ? `fake Alpaca supports only market and limit orders (got ${b.type})` : 'invalid order type');
    }
    if (typeof b.time_in_force !== 'string') return bad('time_in_force is required');
    if (b.time_in_force !== 'gtc' && b.time_in_force !== 'ioc') return { status: 422, body: ERR.invalidState('invalid crypto time_in_force') };
    if (b.order_class !== undefined && b.order_class !== '' && b.order_class !== 'simple') return bad('crypto orders support only simple order class');

    const hasQty = b.qty !== undefined && b.qty !== null;
    const hasNotional = b.notional !== undefined && b.notional !== null;
    if (hasQty && hasNotional) return bad('only one of qty or notional is allowed');
    if (!hasQty && !hasNotional) return bad('qty or notional is required');
    const qty = hasQty ? parseNum(b.qty) : undefined;
    const notional = hasNotional ? parseNum(b.notional) : undefined;
    if (hasQty && (qty === undefined || qty <= 0)) return bad('qty must be > 0');
    if (hasNotional && (notional === undefined || notional <= 0)) return bad('notional must be > 0');
    if (hasNotional && b.type !== 'market') return bad('notional orders are only supported for market orders in the fake');

    let limit: number | undefined;
    if (b.type === 'limit') {
      limit = parseNum(b.limit_price);
      if (limit === undefined || limit <= 0) return bad('limit_price is required for limit orders');
    }

    let coid: string;
    if (b.client_order_id === undefined || b.client_order_id === null || b.client_order_id === '') coid = randomUUID();
    else if (typeof b.client_order_id !== 'string') return bad('client_order_id must be a string');
    else coid = b.client_order_id;
    if (coid.length > 128) return bad('client_order_id must be no more than 128 characters');
    if (this.orderSeq.some((o) => o.wire.client_order_id === coid)) return { status: 422, body: ERR.unprocessable('client_order_id must be unique') };

    const last = this.prices.get(sym);
    if (b.type === 'market' && last === undefined) {
      return { status: 422, body: ERR.invalidState(`fake Alpaca has no price for ${sym}; call setPrice or pushBar first`) };
    }
    const refPrice = limit ?? last ?? 0;

    if (qty !== undefined && qty < Number(asset.min_order_size)) return bad(`qty must be >= ${asset.min_order_size}`);
    if (notional !== undefined && notional < 1) return { status: 403, body: ERR.forbidden('cost basis must be >= minimal amount of order 1') };

    // Balance checks (Alpaca answers 403 "insufficient balance for <CCY>").
    const [base, quote] = sym.split('/') as [string, string];
    if (b.side === 'buy') {
      const cost = notional ?? (qty ?? 0) * refPrice;
      const available = this.availableCash();
      if (cost > available + 1e-9) {
        return { status: 403, body: ERR.forbidden(`insufficient balance for ${quote} (requested: ${dec(cost, 2)}, available: ${dec(available, 2)})`) };
      }
    } else {
      const wanted = qty ?? (notional ?? 0) / (last ?? refPrice);
      const available = this.availableQty(sym);
      if (wanted > available + 1e-12) {
        return { status: 403, body: ERR.forbidden(`insufficient balance for ${base} (requested: ${dec(wanted)}, available: ${dec(available)})`) };
      }
    }

    const now = this.nowIso();
    const wire: AlpacaOrderJson = {
      id: randomUUID(),
      client_order_id: coid,
      created_at: now,
      updated_at: now,
      submitted_at: now,
      filled_at: null,
      expired_at: null,
      canceled_at: null,
      failed_at: null,
      replaced_at: null,
      replaced_by: null,
      replaces: null,
      asset_id: asset.id,
      symbol: sym,
      asset_class: 'crypto',
      notional: notional !== undefined ? dec(notional) : null,
      qty: qty !== undefined ? dec(qty) : null,
      filled_qty: '0',
      filled_avg_price: null,
      order_class: '',
      order_type: b.type,
      type: b.type,
      side: b.side,
      ...(typeof b.position_intent === 'string' ? { position_intent: b.position_intent } : {}),
      time_in_force: b.time_in_force,
      limit_price: limit !== undefined ? dec(limit) : null,
      stop_price: null,
      status: this.opts.initialOrderStatus,
      extended_hours: false,
      legs: null,
      trail_percent: null,
      trail_price: null,
      hwm: null,
      subtag: null,
      source: null,
      expires_at: null,
    };
    const state: OrderState = {
      wire,
      ...(qty !== undefined ? { qty } : {}),
      ...(notional !== undefined ? { notional } : {}),
      ...(limit !== undefined ? { limit } : {}),
      filled: 0,
      filledValue: 0,
      parts: this.fillParts,
      partsDone: 0,
      waitingForPrice: false,
    };
    this.ordersById.set(wire.id, state);
    this.orderSeq.push(state);
    this.later(0, () => this.acceptOrder(state));
    return { status: 200, body: { ...wire } };
  }

  private listOrders(q: URLSearchParams): HttpAnswer {
    const status = q.get('status') ?? 'open';
    const limit = Math.min(Math.max(Number(q.get('limit') ?? 50) || 50, 1), 500);
    const direction = q.get('direction') ?? 'desc';
    const after = q.get('after');
    const until = q.get('until');
    const symbols = q.get('symbols')?.split(',').filter(Boolean).map(cryptoSymbol);
    const side = q.get('side');
    let list = this.orderSeq.filter((o) => {
      if (status === 'open' && !OPEN_STATUSES.has(o.wire.status)) return false;
      if (status === 'closed' && OPEN_STATUSES.has(o.wire.status)) return false;
      if (symbols && !symbols.includes(o.wire.symbol)) return false;
      if (side && o.wire.side !== side) return false;
      if (after && Date.parse(o.wire.submitted_at) <= Date.parse(after)) return false;
      if (until && Date.parse(o.wire.submitted_at) >= Date.parse(until)) return false;
      return true;
    });
    list = direction === 'asc' ? list : [...list].reverse();
    return { status: 200, body: list.slice(0, limit).map((o) => ({ ...o.wire })) };
  }

  private cancelAll(): HttpAnswer {
    const out: Array<{ id: string; status: number; body: AlpacaOrderJson }> = [];
    for (const o of this.orderSeq) {
      if (!OPEN_STATUSES.has(o.wire.status)) continue;
      this.cancelOrder(o, true);
      out.push({ id: o.wire.id, status: 200, body: { ...o.wire } });
    }
    return { status: 207, body: out };
  }

  private closeAllPositions(cancelOrders: boolean): HttpAnswer {
    if (cancelOrders) for (const o of this.orderSeq) if (OPEN_STATUSES.has(o.wire.status)) this.cancelOrder(o);
    const out: Array<{ symbol: string; status: number; body: AlpacaOrderJson | { code: number; message: string } }> = [];
    for (const sym of [...this.positionsBySymbol.keys()].sort()) {
      const qty = this.availableQty(sym);
      if (qty <= 0) {
        out.push({ symbol: positionSymbol(sym), status: 403, body: ERR.forbidden(`insufficient qty available for order (requested: ${dec(this.positionQty(sym))}, available: 0)`) });
        continue;
      }
      out.push({ symbol: positionSymbol(sym), status: 200, body: this.createCloseOrder(sym, qty) });
    }
    return { status: 207, body: out };
  }

  private closePosition(sym: string, q: URLSearchParams): HttpAnswer {
    const pos = this.positionsBySymbol.get(sym);
    if (!pos) return { status: 404, body: ERR.notFound('position does not exist') };
    let qty = this.availableQty(sym);
    const qParam = parseNum(q.get('qty') ?? undefined);
    const pct = parseNum(q.get('percentage') ?? undefined);
    if (qParam !== undefined) qty = Math.min(qty, qParam);
    else if (pct !== undefined) qty = r9((pos.qty * pct) / 100);
    if (qty <= 0) return { status: 403, body: ERR.forbidden('insufficient qty available for order') };
    return { status: 200, body: this.createCloseOrder(sym, qty) };
  }

  private createCloseOrder(sym: string, qty: number): AlpacaOrderJson {
    const now = this.nowIso();
    const asset = this.asset(sym);
    const wire: AlpacaOrderJson = {
      id: randomUUID(), client_order_id: randomUUID(), created_at: now, updated_at: now, submitted_at: now,
      filled_at: null, expired_at: null, canceled_at: null, failed_at: null, replaced_at: null, replaced_by: null, replaces: null,
      asset_id: asset?.id ?? randomUUID(), symbol: sym, asset_class: 'crypto', notional: null, qty: dec(qty), filled_qty: '0',
      filled_avg_price: null, order_class: '', order_type: 'market', type: 'market', side: 'sell', time_in_force: 'gtc',
      limit_price: null, stop_price: null, status: this.opts.initialOrderStatus, extended_hours: false, legs: null,
      trail_percent: null, trail_price: null, hwm: null, subtag: null, source: null, expires_at: null,
    };
    const state: OrderState = { wire, qty, filled: 0, filledValue: 0, parts: this.fillParts, partsDone: 0, waitingForPrice: false };
    this.ordersById.set(wire.id, state);
    this.orderSeq.push(state);
    this.later(0, () => this.acceptOrder(state));
    return { ...wire };
  }

  // --- matching engine -------------------------------------------------------------------------------------

  private acceptOrder(o: OrderState): void {
    if (TERMINAL_STATUSES.has(o.wire.status)) return;
    const reason = this.rejectNext.shift();
    if (reason !== undefined) {
      this.touch(o, { status: 'rejected', failed_at: this.nowIso() });
      this.emitUpdate('rejected', o);
      return;
    }
    this.touch(o, { status: 'new' });
    this.emitUpdate('new', o);
    o.timer = this.later(this.opts.fillDelayMs, () => this.tryFill(o));
  }

  private tryFill(o: OrderState): void {
    o.timer = undefined;
    if (TERMINAL_STATUSES.has(o.wire.status) || o.wire.status === 'pending_cancel') return;
    if (this.held) {
      this.heldOrders.add(o);
      return;
    }
    const sym = o.wire.symbol;
    const price = this.prices.get(sym);
    if (price === undefined) {
      o.waitingForPrice = true;
      return;
    }
    if (o.limit !== undefined) {
      const marketable = o.wire.side === 'buy' ? price <= o.limit : price >= o.limit;
      if (!marketable) {
        if (o.wire.time_in_force === 'ioc') {
          this.finishCancel(o);
          return;
        }
        o.waitingForPrice = true;
        return;
      }
    }
    o.waitingForPrice = false;
    this.fillPart(o, price);
  }

  private fillPart(o: OrderState, price: number): void {
    if (o.qty === undefined) {
      // Notional order: the quantity is fixed at the first fill, floored to 9 decimals.
      o.qty = Math.floor(((o.notional ?? 0) / price) * 1e9) / 1e9;
    }
    const total = o.qty;
    const remaining = r9(total - o.filled);
    const partsLeft = Math.max(1, o.parts - o.partsDone);
    let partQty = partsLeft === 1 ? remaining : r9(total / o.parts);
    if (partQty <= 0 || partQty > remaining) partQty = remaining;
    if (partQty <= 0) return;

    const sym = o.wire.symbol;
    const fee = this.opts.feeBps / 10_000;
    const value = partQty * price;
    const pos = this.positionsBySymbol.get(sym) ?? { assetId: o.wire.asset_id, qty: 0, costBasis: 0 };
    if (o.wire.side === 'buy') {
      this.cashBalance -= value;
      const received = r9(partQty * (1 - fee));
      pos.qty = r9(pos.qty + received);
      pos.costBasis += value;
    } else {
      this.cashBalance += value * (1 - fee);
      const before = pos.qty;
      pos.qty = r9(pos.qty - partQty);
      pos.costBasis = before > 0 ? pos.costBasis * (pos.qty / before) : 0;
    }
    this.cashBalance = Math.round(this.cashBalance * 1e9) / 1e9;
    if (pos.qty > 1e-12) this.positionsBySymbol.set(sym, pos);
    else this.positionsBySymbol.delete(sym);

    o.filled = r9(o.filled + partQty);
    o.filledValue += value;
    o.partsDone++;
    const done = o.filled >= total - 1e-12;
    const now = this.nowIso();
    this.touch(o, {
      filled_qty: dec(o.filled),
      filled_avg_price: dec(o.filledValue / o.filled),
      status: done ? 'filled' : 'partially_filled',
      ...(done ? { filled_at: now } : {}),
    });
    this.emitUpdate(done ? 'fill' : 'partial_fill', o, {
      execution_id: randomUUID(),
      price: dec(price),
      qty: dec(partQty),
      position_qty: dec(pos.qty > 1e-12 ? pos.qty : 0),
    });
    if (!done) o.timer = this.later(this.opts.partialFillIntervalMs, () => this.tryFill(o));
  }

  private onPriceChange(sym: string): void {
    for (const o of this.orderSeq) {
      if (o.waitingForPrice && o.wire.symbol === sym && !TERMINAL_STATUSES.has(o.wire.status) && !o.timer) {
        o.waitingForPrice = false;
        o.timer = this.later(0, () => this.tryFill(o));
      }
    }
  }

  private cancelOrder(o: OrderState, viaPendingCancel = false): void {
    if (o.timer) clearTimeout(o.timer);
    o.timer = undefined;
    this.heldOrders.delete(o);
    o.waitingForPrice = false;
    if (viaPendingCancel) {
      this.touch(o, { status: 'pending_cancel' });
      this.later(0, () => this.finishCancel(o));
    } else {
      this.finishCancel(o);
    }
  }

  private finishCancel(o: OrderState): void {
    if (o.wire.status === 'filled' || o.wire.status === 'canceled' || o.wire.status === 'rejected') return;
    this.touch(o, { status: 'canceled', canceled_at: this.nowIso() });
    this.emitUpdate('canceled', o);
  }

  private touch(o: OrderState, patch: Partial<AlpacaOrderJson>): void {
    Object.assign(o.wire, patch, { updated_at: this.nowIso() });
  }

  private availableCash(): number {
    let reserved = 0;
    for (const o of this.orderSeq) {
      if (!OPEN_STATUSES.has(o.wire.status) || o.wire.side !== 'buy') continue;
      const price = o.limit ?? this.prices.get(o.wire.symbol) ?? 0;
      if (o.qty !== undefined) reserved += (o.qty - o.filled) * price;
      else reserved += (o.notional ?? 0) - o.filledValue;
    }
    return this.cashBalance - reserved;
  }

  private availableQty(sym: string): number {
    let reserved = 0;
    for (const o of this.orderSeq) {
      if (!OPEN_STATUSES.has(o.wire.status) || o.wire.side !== 'sell' || o.wire.symbol !== sym) continue;
      reserved += (o.qty ?? 0) - o.filled;
    }
    return r9((this.positionsBySymbol.get(sym)?.qty ?? 0) - reserved);
  }

  // --- JSON shapes -------------------------------------------------------------------------------------------

  private accountJson(): Record<string, unknown> {
    let longMv = 0;
    for (const [sym, p] of this.positionsBySymbol) longMv += p.qty * (this.prices.get(sym) ?? p.costBasis / p.qty);
    const equity = this.cashBalance + longMv;
    const bp = Math.max(0, this.availableCash());
    return {
      id: this.accountId,
      account_number: 'PA3FAKE00001',
      status: 'ACTIVE',
      crypto_status: 'ACTIVE',
      options_approved_level: 0,
      options_trading_level: 0,
      currency: 'USD',
      buying_power: dec(bp, 2),
      regt_buying_power: dec(bp, 2),
      daytrading_buying_power: '0',
      effective_buying_power: dec(bp, 2),
      non_marginable_buying_power: dec(bp, 2),
      options_buying_power: dec(bp, 2),
      bod_dtbp: '0',
      cash: dec(this.cashBalance, 9),
      accrued_fees: '0',
      pending_transfer_in: '0',
      portfolio_value: dec(equity, 9),
      pattern_day_trader: false,
      trading_blocked: false,
      transfers_blocked: false,
      account_blocked: false,
      created_at: '2024-01-02T15:04:05.123456Z',
      trade_suspended_by_user: false,
      multiplier: '1',
      shorting_enabled: false,
      equity: dec(equity, 9),
      last_equity: dec(this.lastEquity, 9),
      long_market_value: dec(longMv, 9),
      short_market_value: '0',
      position_market_value: dec(longMv, 9),
      initial_margin: '0',
      maintenance_margin: '0',
      last_maintenance_margin: '0',
      sma: '0',
      daytrade_count: 0,
      balance_asof: this.nowIso().slice(0, 10),
      crypto_tier: 1,
      intraday_adjustments: '0',
      pending_reg_taf_fees: '0',
      ...this.accountPatch,
    };
  }

  private clockJson(): Record<string, unknown> {
    const now = this.nowFn();
    return { timestamp: now.toISOString(), is_open: true, next_open: now.toISOString(), next_close: new Date(now.getTime() + 86_400_000).toISOString() };
  }

  private positionJson(sym: string): AlpacaPositionJson {
    const p = this.positionsBySymbol.get(sym);
    if (!p) throw new Error(`no position ${sym}`);
    const avg = p.qty > 0 ? p.costBasis / p.qty : 0;
    const price = this.prices.get(sym) ?? avg;
    const lastday = this.lastdayPrices.get(sym) ?? price;
    const mv = p.qty * price;
    const upl = mv - p.costBasis;
    const intraday = (price - lastday) * p.qty;
    return {
      asset_id: p.assetId,
      symbol: positionSymbol(sym),
      exchange: 'CRYPTO',
      asset_class: 'crypto',
      asset_marginable: false,
      qty: dec(p.qty),
      qty_available: dec(Math.max(0, this.availableQty(sym))),
      avg_entry_price: dec(avg),
      side: 'long',
      market_value: dec(mv),
      cost_basis: dec(p.costBasis),
      unrealized_pl: dec(upl),
      unrealized_plpc: dec(p.costBasis > 0 ? upl / p.costBasis : 0, 16),
      unrealized_intraday_pl: dec(intraday),
      unrealized_intraday_plpc: dec(lastday > 0 ? (price - lastday) / lastday : 0, 16),
      current_price: dec(price),
      lastday_price: dec(lastday),
      change_today: dec(lastday > 0 ? (price - lastday) / lastday : 0, 16),
    };
  }

  private asset(sym: string): (AssetSpec & { id: string }) | undefined {
    return this.assets.get(sym);
  }

  private assetJson(sym: string): Record<string, unknown> {
    const a = this.assets.get(sym);
    if (!a) throw new Error(`no asset ${sym}`);
    return {
      id: a.id,
      class: 'crypto',
      exchange: 'CRYPTO',
      symbol: sym,
      name: a.name ?? sym,
      status: 'active',
      tradable: a.tradable ?? true,
      marginable: false,
      maintenance_margin_requirement: 100,
      margin_requirement_long: '100',
      margin_requirement_short: '100',
      shortable: false,
      easy_to_borrow: false,
      fractionable: true,
      attributes: [],
      min_order_size: a.min_order_size,
      min_trade_increment: a.min_trade_increment,
      price_increment: a.price_increment,
    };
  }

  // --- market-data handlers ------------------------------------------------------------------------------------

  private getBars(q: URLSearchParams): HttpAnswer {
    const symbolsParam = q.get('symbols');
    if (!symbolsParam) return { status: 400, body: { code: 40010001, message: 'missing symbols' } };
    const timeframe = q.get('timeframe');
    if (!timeframe || !/^([1-9]\d*)(Min|T|Hour|H|Day|D|Week|W|Month|M)$/.test(timeframe)) {
      return { status: 400, body: { code: 40010001, message: 'invalid timeframe' } };
    }
    const now = this.nowFn();
    const startMs = q.get('start') ? Date.parse(q.get('start') ?? '') : Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const endMs = q.get('end') ? Date.parse(q.get('end') ?? '') : now.getTime();
    if (Number.isNaN(startMs) || Number.isNaN(endMs)) return { status: 400, body: { code: 40010001, message: 'invalid start or end' } };
    const limitRaw = q.get('limit');
    const limit = limitRaw === null ? 1000 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return { status: 400, body: { code: 40010001, message: 'invalid limit' } };
    const sort = q.get('sort') === 'desc' ? 'desc' : 'asc';
    const symbols = [...new Set(symbolsParam.split(',').filter(Boolean).map(cryptoSymbol))].sort();

    const all: Array<{ sym: string; bar: StoredBar }> = [];
    for (const sym of symbols) {
      const byTf = this.bars.get(sym);
      const series = byTf?.get(timeframe) ?? byTf?.get('*') ?? [];
      let picked = series.filter((b) => b.tMs >= startMs && b.tMs <= endMs);
      if (sort === 'desc') picked = [...picked].reverse();
      for (const bar of picked) all.push({ sym, bar });
    }
    const offset = decodePageToken(q.get('page_token'));
    const page = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? encodePageToken(offset + limit) : null;
    const bars: Record<string, unknown[]> = {};
    for (const { sym, bar } of page) (bars[sym] ??= []).push(barJson(bar));
    return { status: 200, body: { bars, next_page_token: next } };
  }

  private latestQuotes(q: URLSearchParams): HttpAnswer {
    const quotes: Record<string, unknown> = {};
    const half = this.opts.quoteSpreadBps / 20_000;
    for (const sym of (q.get('symbols') ?? '').split(',').filter(Boolean).map(cryptoSymbol)) {
      const p = this.prices.get(sym);
      if (p === undefined) continue;
      quotes[sym] = { ap: r9(p * (1 + half)), as: 1.5, bp: r9(p * (1 - half)), bs: 1.5, t: this.nowIso() };
    }
    return { status: 200, body: { quotes } };
  }

  private latestBars(q: URLSearchParams): HttpAnswer {
    const bars: Record<string, unknown> = {};
    for (const sym of (q.get('symbols') ?? '').split(',').filter(Boolean).map(cryptoSymbol)) {
      const last = this.bars.get(sym)?.get('*')?.at(-1);
      if (last) bars[sym] = barJson(last);
    }
    return { status: 200, body: { bars } };
  }

  private latestTrades(q: URLSearchParams): HttpAnswer {
    const trades: Record<string, unknown> = {};
    for (const sym of (q.get('symbols') ?? '').split(',').filter(Boolean).map(cryptoSymbol)) {
      const p = this.prices.get(sym);
      if (p !== undefined) trades[sym] = { p, s: 0.01, t: this.nowIso(), i: 1, tks: 'B' };
    }
    return { status: 200, body: { trades } };
  }

  private getNews(q: URLSearchParams): HttpAnswer {
    const symbols = q.get('symbols')?.split(',').filter(Boolean).map((s) => positionSymbol(cryptoSymbol(s)));
    const start = q.get('start') ? Date.parse(q.get('start') ?? '') : undefined;
    const end = q.get('end') ? Date.parse(q.get('end') ?? '') : undefined;
    const limit = Math.min(Math.max(Number(q.get('limit') ?? 10) || 10, 1), 50);
    const sort = q.get('sort') === 'asc' ? 'asc' : 'desc';
    let list = this.news.filter((a) => {
      const t = Date.parse(a.created_at);
      if (start !== undefined && t < start) return false;
      if (end !== undefined && t > end) return false;
      if (symbols && !a.symbols.some((s) => symbols.includes(positionSymbol(cryptoSymbol(s))))) return false;
      return true;
    });
    list.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
    if (sort === 'desc') list = list.reverse();
    const offset = decodePageToken(q.get('page_token'));
    const page = list.slice(offset, offset + limit);
    const includeContent = q.get('include_content') === 'true';
    return {
      status: 200,
      body: {
        news: page.map((a) => ({ ...a, content: includeContent ? a.content : '' })),
        next_page_token: offset + limit < list.length ? encodePageToken(offset + limit) : null,
      },
    };
  }

  // =====================================================================================================
  // WebSockets
  // =====================================================================================================

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (this.down) {
      socket.destroy();
      return;
    }
    if (/^\/v1beta3\/crypto\/[^/]+\/?$/.test(path)) {
      if (this.dataRefused) {
        socket.destroy();
        return;
      }
      this.dataWss.handleUpgrade(req, socket, head, (ws) => this.dataWss.emit('connection', ws, req));
    } else if (path === '/stream') {
      this.tradingWss.handleUpgrade(req, socket, head, (ws) => this.tradingWss.emit('connection', ws, req));
    } else {
      socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      socket.destroy();
    }
  }

  // --- crypto data stream ----------------------------------------------------------------------------------

  private onDataConnection(ws: WebSocket, req: IncomingMessage): void {
    const ct = headerValue(req, 'content-type') ?? '';
    const client: DataClient = {
      ws,
      codec: ct.includes('msgpack') ? 'msgpack' : 'json',
      authed: false,
      subs: { trades: new Set(), quotes: new Set(), bars: new Set(), updatedBars: new Set(), dailyBars: new Set(), orderbooks: new Set() },
    };
    this.dataClients.add(client);
    ws.on('close', () => this.dataClients.delete(client));
    ws.on('error', () => this.dataClients.delete(client));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onDataMessage(client, data, isBinary));
    this.sendData(client, [{ T: 'success', msg: 'connected' }]);
  }

  private onDataMessage(c: DataClient, data: RawData, isBinary: boolean): void {
    let msg: unknown;
    try {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      msg = c.codec === 'msgpack' && isBinary ? msgpackDecode(buf) : JSON.parse(buf.toString('utf8'));
    } catch {
      this.sendData(c, [{ T: 'error', code: 400, msg: 'invalid syntax' }]);
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.sendData(c, [{ T: 'error', code: 400, msg: 'invalid syntax' }]);
      return;
    }
    const m = msg as Record<string, unknown>;
    if (m.action === 'auth') {
      if (c.authed) {
        this.sendData(c, [{ T: 'error', code: 403, msg: 'already authenticated' }]);
        return;
      }
      if (m.key !== this.keyId || m.secret !== this.secret) {
        this.sendData(c, [{ T: 'error', code: 402, msg: 'auth failed' }]);
        c.ws.close();
        return;
      }
      if (this.opts.dataConnectionLimit && [...this.dataClients].some((o) => o !== c && o.authed)) {
        this.sendData(c, [{ T: 'error', code: 406, msg: 'connection limit exceeded' }]);
        c.ws.close();
        return;
      }
      c.authed = true;
      this.sendData(c, [{ T: 'success', msg: 'authenticated' }]);
      return;
    }
    if (m.action === 'subscribe' || m.action === 'unsubscribe') {
      if (!c.authed) {
        this.sendData(c, [{ T: 'error', code: 401, msg: 'not authenticated' }]);
        return;
      }
      for (const ch of DATA_CHANNELS) {
        const list = m[ch];
        if (!Array.isArray(list)) continue;
        for (const s of list) {
          if (typeof s !== 'string') continue;
          const sym = s === '*' ? '*' : cryptoSymbol(s);
          if (m.action === 'subscribe') c.subs[ch].add(sym);
          else c.subs[ch].delete(sym);
        }
      }
      const ack: Record<string, unknown> = { T: 'subscription' };
      for (const ch of DATA_CHANNELS) ack[ch] = [...c.subs[ch]];
      this.sendData(c, [ack]);
      return;
    }
    this.sendData(c, [{ T: 'error', code: 400, msg: 'invalid syntax' }]);
  }

  private sendData(c: DataClient, frames: unknown[]): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.codec === 'msgpack') c.ws.send(msgpackEncode(frames), { binary: true });
    else c.ws.send(JSON.stringify(frames));
  }

  // --- trading stream ----------------------------------------------------------------------------------------

  private onTradingConnection(ws: WebSocket): void {
    const client: TradingClientState = { ws, authed: false, listening: false };
    this.tradingClients.add(client);
    ws.on('close', () => this.tradingClients.delete(client));
    ws.on('error', () => this.tradingClients.delete(client));
    ws.on('message', (data: RawData) => this.onTradingMessage(client, data));
  }

  private onTradingMessage(c: TradingClientState, data: RawData): void {
    let msg: unknown;
    try {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      msg = JSON.parse(buf.toString('utf8'));
    } catch {
      this.sendTrading(c, { action: 'error', data: { error_message: 'invalid syntax' } });
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as { action?: unknown; data?: Record<string, unknown>; key?: unknown; secret?: unknown };
    if (m.action === 'authenticate' || m.action === 'auth') {
      // v4 SDK: {action:'authenticate', data:{key_id, secret_key}}; Alpaca also accepts {action:'auth', key, secret}.
      const key = m.action === 'auth' ? m.key : m.data?.key_id;
      const secret = m.action === 'auth' ? m.secret : m.data?.secret_key;
      if (key === this.keyId && secret === this.secret) {
        c.authed = true;
        this.sendTrading(c, { stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } });
      } else {
        this.sendTrading(c, { stream: 'authorization', data: { status: 'unauthorized', action: 'authenticate' } });
        c.ws.close();
      }
      return;
    }
    if (m.action === 'listen') {
      if (!c.authed) {
        this.sendTrading(c, { stream: 'authorization', data: { status: 'unauthorized', action: 'listen' } });
        return;
      }
      const streams = Array.isArray(m.data?.streams) ? (m.data.streams as unknown[]).filter((s): s is string => s === 'trade_updates') : [];
      c.listening = streams.includes('trade_updates');
      this.sendTrading(c, { stream: 'listening', data: { streams } });
      return;
    }
    this.sendTrading(c, { action: 'error', data: { error_message: `unknown action ${String(m.action)}` } });
  }

  private sendTrading(c: TradingClientState, frame: unknown): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(frame);
    if (this.opts.tradingStreamBinary) c.ws.send(Buffer.from(text, 'utf8'), { binary: true });
    else c.ws.send(text);
  }

  private emitUpdate(event: string, o: OrderState, extra: Partial<TradeUpdateJson> = {}): void {
    const update: TradeUpdateJson = { event, timestamp: this.nowIso(), order: { ...o.wire }, ...extra };
    this.tradeUpdates.push(update);
    const isFill = event === 'fill' || event === 'partial_fill';
    let copies = 1;
    if (isFill && (this.duplicateFillsForever || this.duplicateFills > 0)) {
      copies = 2;
      if (!this.duplicateFillsForever) this.duplicateFills--;
    }
    for (const c of this.tradingClients) {
      if (!c.authed || !c.listening) continue;
      for (let i = 0; i < copies; i++) this.sendTrading(c, { stream: 'trade_updates', data: update });
    }
  }

  // --- misc --------------------------------------------------------------------------------------------------

  private nowIso(): string {
    return this.nowFn().toISOString();
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }
}

// ---------------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------------

function toStoredBar(b: FakeBarInput): StoredBar {
  const tMs = toMs(b.t);
  return { tMs, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v, n: b.n ?? 1, vw: b.vw ?? (b.o + b.h + b.l + b.c) / 4 };
}

function barJson(b: StoredBar): Record<string, unknown> {
  return { c: b.c, h: b.h, l: b.l, n: b.n, o: b.o, t: rfc3339(b.tMs), v: b.v, vw: b.vw };
}

function encodePageToken(offset: number): string {
  return Buffer.from(`fake:${offset}`).toString('base64');
}

function decodePageToken(token: string | null): number {
  if (!token) return 0;
  const m = /^fake:(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'));
  return m ? Number(m[1]) : 0;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

function defaultNews(now: Date): FakeNewsArticle[] {
  const at = (hoursAgo: number): string => new Date(now.getTime() - hoursAgo * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const mk = (id: number, hoursAgo: number, headline: string, symbols: string[]): FakeNewsArticle => ({
    id,
    headline,
    author: 'Fake Newswire',
    created_at: at(hoursAgo),
    updated_at: at(hoursAgo),
    summary: `${headline}.`,
    content: `<p>${headline}.</p>`,
    url: `https://example.invalid/news/${id}`,
    images: [],
    symbols,
    source: 'benzinga',
  });
  return [
    mk(9_000_003, 1, 'Bitcoin holds above key level as volumes thin', ['BTCUSD']),
    mk(9_000_002, 5, 'Ether network activity rises', ['ETHUSD']),
    mk(9_000_001, 26, 'Crypto markets drift ahead of macro data', ['BTCUSD', 'ETHUSD']),
  ];
}
