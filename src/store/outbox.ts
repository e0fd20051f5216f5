import type { NotificationKind } from '../../engine/ports.js';
import type { Outbox, OutboxRow } from '../../bot/notifier.js';
import type { Db } from './database.js';

export class SqliteOutbox implements Outbox {
  private readonly insert;
  private readonly selectDue;
  private readonly sent;
  private readonly failed;

  constructor(db: Db, private readonly wallNow: () => number = Date.now) {
    this.insert = db.prepare('INSERT INTO outbox (created_at, channel, priority, kind, text, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.selectDue = db.prepare(`SELECT id, channel, kind, text, created_at AS createdAt, attempts FROM outbox
      WHERE channel = ? AND status = 'pending' AND next_attempt_at <= ? ORDER BY priority, id LIMIT ?`);
    this.sent = db.prepare("UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?");
    this.failed = db.prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?');
  }

  enqueue(channel: string, kind: NotificationKind, priority: number, text: string): void {
    const now = this.wallNow();
    this.insert.run(now, channel, priority, kind, text, now);
  }

  due(channel: string, now: number, limit: number): OutboxRow[] {
    return this.selectDue.all(channel, now, limit) as OutboxRow[];
  }

  markSent(id: number, now: number): void {
    this.sent.run(now, id);
  }

  markFailed(id: number, error: string, retryAt: number): void {
    this.failed.run(error.slice(0, 500), retryAt, id);
  }
}
