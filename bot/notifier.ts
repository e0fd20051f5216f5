/**
 * The outbound notifier: every message is first written to the outbox (one row per channel), then delivered
 * by priority. A failing channel keeps its rows and retries with backoff; it never blocks the engine, because
 * `notify` only writes a row and schedules delivery.
 */
import type { NotificationKind, Notifier } from '../engine/ports.js';

export interface Channel {
  readonly name: string;
  send(text: string): Promise<void>;
}

export interface OutboxRow {
  readonly id: number;
  readonly channel: string;
  readonly kind: NotificationKind;
  readonly text: string;
  readonly createdAt: number;
  readonly attempts: number;
}

/** Persistence for the notifier; src/store implements it on the `outbox` table. */
export interface Outbox {
  enqueue(channel: string, kind: NotificationKind, priority: number, text: string): void;
  /** Pending rows due now, highest priority (lowest number) first, then oldest first. */
  due(channel: string, now: number, limit: number): OutboxRow[];
  markSent(id: number, now: number): void;
  markFailed(id: number, error: string, retryAt: number): void;
}

/** Kill and critical alerts first, then trades, risk events and state changes, then info, then digests. */
export const PRIORITY: Record<NotificationKind, number> = { kill: 0, critical: 0, state: 1, trade: 1, risk: 1, info: 2, digest: 3 };

const MAX_BACKOFF_MS = 5 * 60_000;

export class OutboxNotifier implements Notifier {
  private readonly channels: Channel[] = [];
  private scheduled = false;
  private draining: Promise<void> = Promise.resolve();

  constructor(
    private readonly outbox: Outbox,
    /** "[SIM]", "[PAPER]" or "[LIVE]": every message starts with it */
    private readonly tag: string,
    private readonly now: () => number = Date.now,
  ) {}

  addChannel(channel: Channel): void {
    this.channels.push(channel);
  }

  notify(kind: NotificationKind, text: string): void {
    for (const channel of this.channels) this.outbox.enqueue(channel.name, kind, PRIORITY[kind], `${this.tag} ${text}`);
    this.schedule();
  }

  /** Deliver what is due; resolves when this round is done (tests and shutdown wait on it). */
  flush(): Promise<void> {
    this.draining = this.draining.then(() => this.deliverDue());
    return this.draining;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async deliverDue(): Promise<void> {
    await Promise.all(
      this.channels.map(async (channel) => {
        for (const row of this.outbox.due(channel.name, this.now(), 100)) {
          const late = this.now() - row.createdAt > 60_000 ? ` (sent late; written ${new Date(row.createdAt).toISOString()})` : '';
          try {
            await channel.send(row.text + late);
            this.outbox.markSent(row.id, this.now());
          } catch (error) {
            const backoff = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** row.attempts);
            this.outbox.markFailed(row.id, error instanceof Error ? error.message : String(error), this.now() + backoff);
            break; // keep this channel's order: retry from here later
          }
        }
      }),
    );
  }
}
