import type { AuditEntry, AuditLog } from '../../bot/registry.js';
import type { Db } from './database.js';

/** The command audit on SQLite. The table's triggers refuse UPDATE and DELETE, so rows can only be added. */
export class SqliteAuditLog implements AuditLog {
  private readonly insert;

  constructor(private readonly db: Db, private readonly wallNow: () => number = Date.now) {
    this.insert = db.prepare('INSERT INTO audit (ts, transport, actor_id, chat_id, command, args, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  }

  append(e: AuditEntry): void {
    this.insert.run(this.wallNow(), e.transport, e.actorId, e.chatId ?? null, e.command, JSON.stringify(e.args), e.outcome, e.detail ?? null);
  }

  recent(limit: number): Array<AuditEntry & { ts: number }> {
    const rows = this.db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      ts: r.ts as number,
      transport: r.transport as string,
      actorId: r.actor_id as string,
      command: r.command as string,
      args: JSON.parse(r.args as string) as string[],
      outcome: r.outcome as string,
      ...(r.chat_id !== null ? { chatId: r.chat_id as string } : {}),
      ...(r.detail !== null ? { detail: r.detail as string } : {}),
    }));
  }
}
