/**
 * The outbound notifier: every message is first written to the outbox (one row per channel), then delivered
 * by priority. `notify` only writes a row and schedules delivery, so a slow or dead chat service never
 * blocks the engine. A failing channel is backed off as a whole, so once it recovers its queue drains in
 * priority order; identical pending messages are merged into one with a count.
 */
import type { NotificationImage, NotificationKind, Notifier } from '../engine/ports.js';

export interface Channel {
  readonly name: string;
  /**
   * When set, queued messages are combined (in priority order) into one send of at most this many
   * characters, so a burst of trades fits a chat service's rate limit.
   */
  readonly batchChars?: number;
  /** chat services that respect quiet hours (the console does not: whoever watches it asked to) */
  readonly quiet?: boolean;
  send(text: string, image?: NotificationImage): Promise<void>;
}

/** What each channel receives, and when non-critical messages wait. */
export interface NotifyPolicy {
  /** kinds each channel receives, by channel name; a channel not listed receives everything */
  readonly kinds?: Readonly<Record<string, readonly NotificationKind[]>>;
  /** while it returns true, chat channels hold everything but kill and critical alerts */
  readonly isQuiet?: (now: number) => boolean;
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
  readonly image?: NotificationImage;
}

/** Persistence for the notifier; src/store implements it on the `outbox` table. */
export interface Outbox {
  /** Adds a row, or bumps the count of an identical pending one (never for a row with an image). */
  enqueue(channel: string, kind: NotificationKind, priority: number, text: string, image?: NotificationImage): void;
  /** Pending rows, highest priority (lowest number) first, then oldest first. */
  pending(channel: string, limit: number): OutboxRow[];
  markSent(id: number, now: number): void;
  markFailed(id: number, error: string): void;
}

/** Kill and critical alerts first, then trades, risk events and state changes, then info, then digests. */
export const PRIORITY: Record<NotificationKind, number> = { kill: 0, critical: 0, state: 1, trade: 1, risk: 1, info: 2, digest: 3 };

const MAX_BACKOFF_MS = 60_000;
/** how often held messages are looked at again during quiet hours */
const QUIET_RECHECK_MS = 60_000;
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
  /** messages the outbox could not store, kept in memory and sent first; lost only if the process dies too */
  private readonly unstored: Array<{ channel: string; kind: NotificationKind; text: string; image: NotificationImage | undefined; createdAt: number; error: string }> = [];
  private scheduled = false;
  private closed = false;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly outbox: Outbox,
    /** "[SIM]", "[PAPER]" or "[LIVE]": every message starts with it */
    private readonly tag: string,
    private readonly now: () => number = Date.now,
    private readonly policy: NotifyPolicy = {},
  ) {}

  addChannel(channel: Channel): void {
    this.channels.push(channel);
    this.health.set(channel.name, { failures: 0, retryAt: 0 });
    this.schedule(); // rows left from before a restart
  }

  notify(kind: NotificationKind, text: string, image?: NotificationImage): void {
    if (this.closed) return; // after shutdown the store is gone; the stop message was the last one
    for (const channel of this.channels) {
      const kinds = this.policy.kinds?.[channel.name];
      // kill and critical alerts reach every channel, whatever its verbosity
      if (kinds && PRIORITY[kind] !== 0 && !kinds.includes(kind)) continue;
      try {
        this.outbox.enqueue(channel.name, kind, PRIORITY[kind], `${this.tag} ${text}`, image);
      } catch (error) {
        // The database cannot be written (locked, full, gone): the alert that says so must still go out.
        this.unstored.push({ channel: channel.name, kind, text: `${this.tag} ${text}`, image, createdAt: this.now(), error: error instanceof Error ? error.message : String(error) });
      }
    }
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

  /** Per channel: consecutive failed sends, messages waiting and when the oldest was written (health, metrics). */
  channelStates(): Array<{ channel: string; failures: number; queued: number; oldestQueuedAt: number | undefined }> {
    return this.channels.map((c) => {
      const rows = this.outbox.pending(c.name, 1_000);
      return {
        channel: c.name,
        failures: this.health.get(c.name)!.failures,
        queued: rows.length,
        oldestQueuedAt: rows.length > 0 ? Math.min(...rows.map((r) => r.createdAt)) : undefined,
      };
    });
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
      // a message with a picture goes alone
      if (last && limit > 0 && size + length <= limit && !row.image && !last[0]!.image) {
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
    const quiet = channel.quiet === true && (this.policy.isQuiet?.(this.now()) ?? false);
    if (!(await this.deliverUnstored(channel, health, quiet))) return;
    while (!this.closed) {
      let batch: OutboxRow[];
      try {
        batch = this.outbox.pending(channel.name, 50);
      } catch {
        this.retryLater(health); // the outbox cannot be read now; what is in memory went out above
        return;
      }
      if (quiet) {
        // quiet hours: only kill and critical alerts go out; the rest waits, in order, until they end
        const held = batch.length;
        batch = batch.filter((row) => PRIORITY[row.kind] === 0);
        if (batch.length < held) this.recheckLater(health);
      }
      if (batch.length === 0) return;
      for (const group of this.combine(batch, channel.batchChars ?? 0)) {
        try {
          await channel.send(group.map((row) => this.render(row)).join('\n'), group[0]!.image);
          health.failures = 0;
        } catch (error) {
          health.failures += 1;
          this.retryLater(health);
          try {
            for (const row of group) this.outbox.markFailed(row.id, error instanceof Error ? error.message : String(error));
          } catch {
            // the attempt count is bookkeeping; the rows stay pending either way
          }
          return;
        }
        try {
          for (const row of group) this.outbox.markSent(row.id, this.now());
        } catch {
          // Sent but not marked: the rows stay pending and go again later (a repeat beats a loss). Back off so
          // this does not spin while the database cannot be written.
          this.retryLater(health, 5_000);
          return;
        }
      }
      if (quiet) return; // what is left is held until the quiet hours end
    }
  }

  /** Sends the in-memory messages of `channel`, oldest first; false when the channel failed (retry later). */
  private async deliverUnstored(channel: Channel, health: ChannelHealth, quiet: boolean): Promise<boolean> {
    for (const item of this.unstored.filter((u) => u.channel === channel.name && (!quiet || PRIORITY[u.kind] === 0))) {
      try {
        await channel.send(`${item.text} (not saved in the outbox: ${item.error})`, item.image);
        this.unstored.splice(this.unstored.indexOf(item), 1);
        health.failures = 0;
      } catch {
        health.failures += 1;
        this.retryLater(health);
        return false;
      }
    }
    return true;
  }

  private retryLater(health: ChannelHealth, backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (health.failures - 1))): void {
    health.retryAt = this.now() + backoff;
    clearTimeout(health.timer);
    health.timer = setTimeout(() => void this.flush(), backoff);
    health.timer.unref();
  }

  private recheckLater(health: ChannelHealth): void {
    clearTimeout(health.timer);
    health.timer = setTimeout(() => void this.flush(), QUIET_RECHECK_MS);
    health.timer.unref();
  }
}

/**
 * Quiet hours as "HH:MM" start and end in an IANA time zone; a span past midnight (22:00 to 07:00) wraps.
 * Equal start and end mean no quiet hours.
 */
export function quietHours(start: string, end: string, timeZone: string): (now: number) => boolean {
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const from = minutes(start);
  const to = minutes(end);
  const clock = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return (now) => {
    if (from === to) return false;
    const [h, m] = clock.format(now).split(':').map(Number);
    const t = h! * 60 + m!;
    return from < to ? t >= from && t < to : t >= from || t < to;
  };
}
