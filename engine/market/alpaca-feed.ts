/**
 * Live crypto bars from Alpaca: hourly history over REST at start-up, then the msgpack stream's minute bars
 * aggregated into hourly bars. A batch for an hour is emitted when the first minute of a later hour arrives.
 * After a dropped stream, the missing hours are fetched over REST before anything newer is emitted. Every bar
 * passes the data-quality gate; a failing bar is reported (stored with its reason) and never traded on.
 * Between bars, the latest quote mids go to the protections every `quotePollMs`: from the stream while it is up,
 * from REST while it is down, so stops do not wait for the hour to close.
 */
import { TimeFrame, type Alpaca } from '@alpacahq/alpaca-trade-api';
import { CircuitBreaker } from '../broker/circuit-breaker.js';
import { barSchema, parseAt } from '../broker/alpaca/schemas.js';
import { z } from 'zod';
import type { Bar, BarBatch, Symbol } from '../types.js';
import { HOUR_MS } from './feed.js';
import { QualityGate, type QualityFinding, type QualityOptions } from './quality.js';

const quotesSchema = z.object({ quotes: z.record(z.string(), z.object({ ap: z.number(), bp: z.number() })) });

/** The part of the SDK's crypto data stream the feed uses. */
export interface CryptoBarStream {
  onBar(listener: (bar: unknown) => void): unknown;
  onQuote(listener: (quote: unknown) => void): unknown;
  subscribeForQuotes(symbols: string[]): unknown;
  onConnect(listener: () => void): unknown;
  onDisconnect(listener: () => void): unknown;
  onReconnected(listener: () => void): unknown;
  subscribeForBars(symbols: string[]): unknown;
  connect(): unknown;
  disconnect(): unknown;
}

export interface AlpacaFeedOptions {
  readonly symbols: readonly Symbol[];
  readonly now?: () => number;
  /** each complete, checked hourly batch, in time order */
  readonly onBatch: (batch: BarBatch) => Promise<void>;
  /** the quality gate's thresholds (the `quality` block of the config); the feed adds the wall clock */
  readonly quality: Omit<QualityOptions, 'now' | 'barMs'>;
  /** what the quality gate found in one batch: flagged bars (never handed on) and gap notices */
  readonly onFindings: (findings: readonly QualityFinding[]) => void;
  /** the live stream went down (with why) or came back (undefined) */
  readonly onOutage: (reason: string | undefined) => void;
  /** latest quote mids between bars (from the stream, or over REST during an outage), for the protections */
  readonly onQuotes: (prices: ReadonlyMap<Symbol, number>) => Promise<void>;
  /** how often quote mids are handed on */
  readonly quotePollMs: number;
  readonly log: (msg: string, detail: Record<string, unknown>) => void;
}

export class AlpacaLiveFeed {
  readonly description = 'Alpaca crypto market data (live)';
  readonly breaker = new CircuitBreaker('alpaca data');
  private readonly buckets = new Map<Symbol, Bar>();
  private readonly gate: QualityGate;
  private lastEmitted = Number.NEGATIVE_INFINITY;
  private chain: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private quoteTimer: NodeJS.Timeout | undefined;
  private readonly streamQuotes = new Map<Symbol, number>();
  private down = false;

  constructor(
    private readonly alpaca: Alpaca,
    private readonly stream: CryptoBarStream,
    private readonly opts: AlpacaFeedOptions,
  ) {
    this.now = opts.now ?? Date.now;
    // A bar stamped after the wall clock is a bad bar here (unlike in a replay, whose market time runs ahead).
    this.gate = new QualityGate({ ...opts.quality, barMs: HOUR_MS, now: this.now });
  }

  /** Complete, checked hourly batches of the last `hours` hours, oldest first (for warm-up). */
  async history(hours: number): Promise<BarBatch[]> {
    const checked: BarBatch[] = [];
    for (const batch of await this.fetchHours(this.now() - hours * HOUR_MS)) {
      const good = this.check(batch);
      this.lastEmitted = batch.ts;
      if (good.bars.size > 0) checked.push(good);
    }
    return checked;
  }

  start(): void {
    this.stream.onBar((raw) => this.onMinuteBar(raw));
    this.stream.onQuote((raw) => {
      const q = raw as { symbol?: unknown; bidPrice?: unknown; askPrice?: unknown };
      const symbol = String(q.symbol ?? '');
      if (this.opts.symbols.includes(symbol)) this.rememberQuote(symbol, Number(q.bidPrice), Number(q.askPrice));
    });
    let connectedOnce = false;
    this.stream.onConnect(() => {
      this.stream.subscribeForBars([...this.opts.symbols]);
      this.stream.subscribeForQuotes([...this.opts.symbols]);
      if (!connectedOnce) this.opts.onOutage(undefined); // later connects are reconnects: lifted after the backfill
      connectedOnce = true;
    });
    this.stream.onDisconnect(() => {
      this.down = true;
      this.opts.onOutage('the Alpaca market data stream is disconnected');
    });
    this.stream.onReconnected(() => {
      // Entries resume only once the missed hours are in: trading a backlog in a burst on stale signals is not.
      this.enqueue(async () => {
        for (const batch of await this.fetchHours(this.lastEmitted + HOUR_MS)) await this.emit(batch);
        this.down = false;
        this.opts.onOutage(undefined);
      });
    });
    this.quoteTimer = setInterval(() => this.enqueue(() => this.handOnQuotes()), this.opts.quotePollMs);
    this.quoteTimer.unref();
    this.stream.connect();
  }

  stop(): Promise<void> {
    clearInterval(this.quoteTimer);
    this.stream.disconnect();
    return this.chain;
  }

  private rememberQuote(symbol: Symbol, bid: number, ask: number): void {
    if (bid > 0 && ask >= bid && Number.isFinite(ask)) this.streamQuotes.set(symbol, (bid + ask) / 2);
  }

  /** The quote mids since the last hand-on: from the stream, or over REST while the stream is down. */
  private async handOnQuotes(): Promise<void> {
    if (this.down) {
      const raw = await this.breaker.run(() => this.alpaca.marketData.crypto.cryptoLatestQuotes({ loc: 'us', symbols: this.opts.symbols.join(',') } as never));
      const { quotes } = parseAt(quotesSchema, raw, 'GET latest quotes');
      for (const symbol of this.opts.symbols) {
        const q = quotes[symbol];
        if (q) this.rememberQuote(symbol, q.bp, q.ap);
      }
    }
    if (this.streamQuotes.size === 0) return;
    const prices = new Map(this.streamQuotes);
    this.streamQuotes.clear();
    await this.opts.onQuotes(prices);
  }

  private onMinuteBar(raw: unknown): void {
    let bar: Bar;
    let symbol: Symbol;
    try {
      const parsed = parseAt(barSchema, raw, 'crypto bar stream');
      symbol = String((raw as { symbol?: unknown }).symbol ?? '');
      if (!this.opts.symbols.includes(symbol)) return;
      bar = { ts: parsed.timestamp, open: parsed.open, high: parsed.high, low: parsed.low, close: parsed.close, volume: parsed.volume };
    } catch (error) {
      this.opts.log('ignored a malformed bar from the stream', { error: (error as Error).message });
      return;
    }
    const hour = Math.floor(bar.ts / HOUR_MS) * HOUR_MS;
    if (hour <= this.lastEmitted) return; // that hour is already closed (a late minute)
    // The first minute of a later hour closes every earlier hour.
    const due = [...this.buckets.values()].filter((b) => b.ts < hour);
    if (due.length > 0) {
      const closedHour = Math.max(...due.map((b) => b.ts));
      const bars = new Map<Symbol, Bar>();
      for (const [s, b] of this.buckets) {
        if (b.ts <= closedHour) {
          bars.set(s, b);
          this.buckets.delete(s);
        }
      }
      this.enqueue(() => this.emit({ ts: closedHour, bars }));
    }
    const bucket = this.buckets.get(symbol);
    this.buckets.set(
      symbol,
      bucket && bucket.ts === hour
        ? { ts: hour, open: bucket.open, high: Math.max(bucket.high, bar.high), low: Math.min(bucket.low, bar.low), close: bar.close, volume: bucket.volume + bar.volume }
        : { ...bar, ts: hour },
    );
  }

  /** Run the quality gate and hand a batch on, once, in order. */
  private async emit(batch: BarBatch): Promise<void> {
    if (batch.ts <= this.lastEmitted) return;
    const good = this.check(batch);
    this.lastEmitted = batch.ts;
    if (good.bars.size > 0) await this.opts.onBatch(good);
  }

  /** The bars of `batch` that pass the quality gate; the findings are reported. Each bar is checked once. */
  private check(batch: BarBatch): BarBatch {
    const { good, findings } = this.gate.check(batch);
    if (findings.length > 0) this.opts.onFindings(findings);
    return good;
  }

  private enqueue(job: () => Promise<void>): void {
    this.chain = this.chain.then(job).catch((error: unknown) => this.opts.log('live feed step failed', { error: (error as Error).message }));
  }

  /** Complete hourly bars since `from` over REST, merged by hour (not yet checked). */
  private async fetchHours(from: number): Promise<BarBatch[]> {
    const start = Math.floor(from / HOUR_MS) * HOUR_MS;
    const currentHour = Math.floor(this.now() / HOUR_MS) * HOUR_MS;
    if (start >= currentHour) return [];
    const raw = await this.breaker.run(() =>
      this.alpaca.marketData.getCryptoBars({ loc: 'us', symbols: [...this.opts.symbols], timeframe: TimeFrame.Hour, start: new Date(start) } as never),
    );
    const byHour = new Map<number, Map<Symbol, Bar>>();
    for (const symbol of this.opts.symbols) {
      const list = (raw as Record<string, unknown[] | undefined>)[symbol] ?? [];
      for (const [i, item] of list.entries()) {
        const b = parseAt(barSchema, item, `crypto bars ${symbol} [${i}]`);
        if (b.timestamp >= currentHour || b.timestamp < start) continue; // the current hour is not complete yet
        const bars = byHour.get(b.timestamp) ?? new Map<Symbol, Bar>();
        bars.set(symbol, { ts: b.timestamp, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume });
        byHour.set(b.timestamp, bars);
      }
    }
    return [...byHour.entries()].sort((a, b) => a[0] - b[0]).map(([ts, bars]) => ({ ts, bars }));
  }
}
