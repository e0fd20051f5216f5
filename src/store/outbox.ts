import type { NotificationImage, NotificationKind } from '../../engine/ports.js';
import type { Outbox, OutboxRow } from '../../bot/notifier.js';
import type { Db } from './database.js';

export class SqliteOutbox implements Outbox {
  private readonly findSame;
  private readonly bump;
  private readonly insert;
  private readonly selectPending;
  private readonly sent;
  private readonly failed;

  constructor(private readonly db: Db, private readonly wallNow: () => number = Date.now) {
    this.findSame = db.prepare("SELECT id FROM outbox WHERE channel = ? AND kind = ? AND text = ? AND status = 'pending' LIMIT 1");
    this.bump = db.prepare('UPDATE outbox SET repeats = repeats + 1 WHERE id = ?');
    this.insert = db.prepare('INSERT INTO outbox (created_at, channel, priority, kind, text, image, image_name) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.selectPending = db.prepare(`SELECT id, channel, kind, text, created_at AS createdAt, attempts, repeats, image, image_name AS imageName FROM outbox
      WHERE channel = ? AND status = 'pending' ORDER BY priority, id LIMIT ?`);
    this.sent = db.prepare("UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?");
    this.failed = db.prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?');
  }

  enqueue(channel: string, kind: NotificationKind, priority: number, text: string, image?: NotificationImage): void {
    this.db.transaction(() => {
      const same = image ? undefined : (this.findSame.get(channel, kind, text) as { id: number } | undefined);
      if (same) this.bump.run(same.id);
      else {
        this.insert.run(this.wallNow(), channel, priority, kind, text, image ? Buffer.from(image.png) : null, image?.filename ?? null);
      }
    })();
  }

  pending(channel: string, limit: number): OutboxRow[] {
    const rows = this.selectPending.all(channel, limit) as Array<Omit<OutboxRow, 'image'> & { image: Buffer | null; imageName: string | null }>;
    return rows.map(({ image, imageName, ...row }) => (image ? { ...row, image: { png: image, filename: imageName ?? 'image.png' } } : row));
  }

  markSent(id: number, now: number): void {
    this.sent.run(now, id);
  }

  markFailed(id: number, error: string): void {
    this.failed.run(error.slice(0, 500), id);
  }
}
