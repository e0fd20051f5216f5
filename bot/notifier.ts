/**
 * The outbound notifier: every message is first written to the outbox (one row per channel), then delivered
 * by priority. `notify` only writes a row and schedules delivery, so a slow or dead chat service never
 * blocks the engine. A failing channel is backed off as a whole, so once it recovers its queue drains in
 * priority order; identical pending messages are merged into one with a count.
 */
import type { NotificationKind, Notifier } from '../engine/ports.js';

export interface Channel {
  readonly name: string;
  /**
   * When set, queued messages are combined (in priority order) into one send of at most this many
   * characters, so a burst of trades fits a chat service's rate limit.
   */
  readonly batchChars?: number;
  send(text: string): Promise<void>;
}

export interface OutboxRow {
  readonly id: number;
  readonly channel: string;
  readonly kind: NotificationKind;
  readonly text: string;
  readonly createdAt: number;
  readonly attempts: number;
  /** how many identical messages this row stands for */
  readonly repeats: number;
}

/** Persistence for the notifier; src/store implements it on the `outbox` table. */
export interface Outbox {
  /** Adds a row, or bumps the count of an identical pending one. */
  enqueue(channel: string, kind: NotificationKind, priority: number, text: string): void;
  /** Pending rows, highest priority (lowest number) first, then oldest first. */
  pending(channel: string, limit: number): OutboxRow[];
  markSent(id: number, now: number): void;
  markFailed(id: number, error: string): void;
}

/** Kill and critical alerts first, then trades, risk events and state changes, then info, then digests. */
export const PRIORITY: Record<NotificationKind, number> = { kill: 0, critical: 0, state: 1, trade: 1, risk: 1, info: 2, digest: 3 };

const MAX_BACKOFF_MS = 60_000;
/** A message delivered this much later than it was written says when it was written. */
const LATE_MS = 30_000;

interface ChannelHealth {
  failures: number;
  retryAt: number;
  timer?: NodeJS.Timeout;
}

export class OutboxNotifier implements Notifier {
  private readonly channels: Channel[] = [];
  private readonly health = new Map<string, ChannelHealth>();
  private scheduled = false;
  private closed = false;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly outbox: Outbox,
    /** "[SIM]", "[PAPER]" or "[LIVE]": every message starts with it */
    private readonly tag: string,
    private readonly now: () => number = Date.now,
  ) {}

  addChannel(channel: Channel): void {
    this.channels.push(channel);
    this.health.set(channel.name, { failures: 0, retryAt: 0 });
    this.schedule(); // rows left from before a restart
  }

  notify(kind: NotificationKind, text: string): void {
    if (this.closed) return; // after shutdown the store is gone; the stop message was the last one
    for (const channel of this.channels) this.outbox.enqueue(channel.name, kind, PRIORITY[kind], `${this.tag} ${text}`);
    this.schedule();
  }

  /** Deliver what can be delivered now; resolves when this round is done (tests and shutdown wait on it). */
  flush(): Promise<void> {
    this.draining = this.draining.then(() => this.deliver());
    return this.draining;
  }

  /** One line for /health: each channel, whether it is failing, and how much waits for it. */
  describe(): string {
    return this.channels
      .map((c) => {
        const h = this.health.get(c.name)!;
        const queued = this.outbox.pending(c.name, 1_000).length;
        return `${c.name} ${h.failures > 0 ? `FAILING (${h.failures} tries)` : 'ok'}, ${queued} queued`;
      })
      .join('; ');
  }

  /** No more writes or deliveries; pending rows stay in the outbox for the next start. */
  close(): void {
    this.closed = true;
    for (const h of this.health.values()) clearTimeout(h.timer);
  }

  private render(row: OutboxRow): string {
    const repeats = row.repeats > 1 ? ` (×${row.repeats})` : '';
    const late = this.now() - row.createdAt > LATE_MS ? ` (written ${new Date(row.createdAt).toISOString()})` : '';
    return row.text + repeats + late;
  }

  /** Consecutive rows that fit in `limit` characters together; every row alone when limit is 0. */
  private combine(rows: readonly OutboxRow[], limit: number): OutboxRow[][] {
    const groups: OutboxRow[][] = [];
    let size = 0;
    for (const row of rows) {
      const length = this.render(row).length + 1;
      const last = groups[groups.length - 1];
      if (last && limit > 0 && size + length <= limit) {
        last.push(row);
        size += length;
      } else {
        groups.push([row]);
        size = length;
      }
    }
    return groups;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async deliver(): Promise<void> {
    if (this.closed) return;
    await Promise.all(this.channels.map((channel) => this.deliverChannel(channel)));
  }

  private async deliverChannel(channel: Channel): Promise<void> {
    const health = this.health.get(channel.name)!;
    if (this.now() < health.retryAt) return;
    while (!this.closed) {
      const batch = this.outbox.pending(channel.name, 50);
      if (batch.length === 0) return;
      for (const group of this.combine(batch, channel.batchChars ?? 0)) {
        try {
          await channel.send(group.map((row) => this.render(row)).join('\n'));
          for (const row of group) this.outbox.markSent(row.id, this.now());
          health.failures = 0;
        } catch (error) {
          for (const row of group) this.outbox.markFailed(row.id, error instanceof Error ? error.message : String(error));
          health.failures += 1;
          const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (health.failures - 1));
          health.retryAt = this.now() + backoff;
          clearTimeout(health.timer);
          health.timer = setTimeout(() => void this.flush(), backoff);
          health.timer.unref();
          return;
        }
      }
    }
  }
}
