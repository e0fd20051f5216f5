/** Test helpers for the store: temp databases, a journal with rows in every table, and a full dump to compare. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecisionRecord, Mode } from '../engine/types.js';
import { SqliteAuditLog } from '../src/store/audit.js';
import type { Db } from '../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';

/** `<new temp folder>/data/engine.db` (not created) */
export function tempDbPath(prefix = 'ce-store-'): string {
  return join(mkdtempSync(join(tmpdir(), prefix)), 'data', 'engine.db');
}

export function decision(i: number, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    ts: Date.UTC(2020, 0, 1) + i * 3_600_000,
    symbol: ['BTC/USD', 'ETH/USD', 'SOL/USD'][i % 3]!,
    strategy: i % 2 ? 'confidence' : 'momentum',
    features: { rsi: 30 + (i % 40), regime: i % 5 ? 'trend' : 'chop, "quoted"\nnext line', atr: i % 7 ? 0.1 * i : null },
    signal: { quality: i % 11, conviction: (i * 7) % 11, long: i % 2 === 0, note: 'ünïcødé ✓' },
    intent: i % 4 === 0 ? { symbol: 'BTC/USD', side: 'buy', notional: 100 + i, source: 'strategy', reason: 'tier 2' } : null,
    verdict: i % 4 === 0 ? 'approved' : i % 4 === 1 ? 'denied' : 'none',
    reason: i % 4 === 1 ? `max positions, "3" reached, row ${i}` : null,
    ...overrides,
  };
}

/** Rows in every table of the journal (decisions tagged `mode`, recorded at `wallNow`). */
export function populate(db: Db, options: { decisions?: number; mode?: Mode | null; wallNow?: () => number } = {}): void {
  const wallNow = options.wallNow ?? (() => Date.UTC(2026, 10, 1));
  const journal = new SqliteJournal(db, wallNow, options.mode ?? 'sim');
  const n = options.decisions ?? 50;
  journal.recordDecisions(Array.from({ length: n }, (_, i) => decision(i)));
  journal.recordBars({ ts: Date.UTC(2020, 0, 1), bars: new Map([['BTC/USD', { ts: Date.UTC(2020, 0, 1), open: 7195.24, high: 7255, low: 7175.15, close: 7200.85, volume: 16792.388165 }]]) });
  journal.recordFlaggedBar('ETH/USD', { ts: Date.UTC(2020, 0, 1), open: 129, high: 1290, low: 128, close: 130, volume: 1 }, 'bad print: 12σ');
  journal.recordOrder({ clientOrderId: 'ce-1', symbol: 'BTC/USD', side: 'buy', notional: 500, status: 'filled', submittedAt: Date.UTC(2020, 0, 1) });
  journal.recordOrder({ clientOrderId: 'ce-2', symbol: 'ETH/USD', side: 'sell', qty: 0.5, limitPrice: 131.5, status: 'rejected', rejectReason: 'insufficient, "qty"', submittedAt: Date.UTC(2020, 0, 2) });
  journal.recordFill({ clientOrderId: 'ce-1', symbol: 'BTC/USD', side: 'buy', qty: 0.0694, price: 7201.1, fee: 1.25, ts: Date.UTC(2020, 0, 1) }, 0);
  journal.recordPositions([{ symbol: 'BTC/USD', qty: 0.0694, avgCost: 7219.1 }], Date.UTC(2020, 0, 1));
  for (let i = 0; i < 5; i++) journal.recordEquity({ ts: Date.UTC(2020, 0, 1) + i * 3_600_000, equity: 10_000 + i * 3.3, cash: 9_500, exposure: 500 + i * 3.3 });
  journal.recordRiskEvent({ ts: Date.UTC(2020, 0, 1), kind: 'denied', symbol: 'SOL/USD', reason: 'correlation 0.82 > 0.7', detail: { with: 'BTC/USD' } });
  new SqliteStateStore(db, wallNow).set('risk.state', { state: 'ACTIVE', since: 1, by: 'operator', reason: 'resume, "now"' }, 'telegram:1');
  new SqliteAuditLog(db, wallNow).append({ transport: 'telegram', actorId: '42', chatId: '-100', command: '/pause', args: ['2h'], outcome: 'ok', detail: 'line one\r\nline two' });
  db.prepare('INSERT INTO outbox (created_at, channel, priority, kind, text, image, image_name) VALUES (?, ?, ?, ?, ?, ?, ?)').run(wallNow(), 'telegram', 2, 'digest', '<b>Daily</b>, +1.2%', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]), 'equity.png');
  db.prepare('INSERT INTO advice (created_at, actor, question, snapshot, prompt, answer, source) VALUES (?, ?, ?, ?, ?, ?, ?)').run(wallNow(), 'telegram:42', 'why?', '{}', 'p', 'because', 'fallback');
  db.prepare("INSERT INTO trials (created_at, run_id, seed, params, metrics, duration_ms, status) VALUES (?, 'r1', 1, '{}', '{\"brier\":0.24}', 1200, 'ok')").run(wallNow());
}

/** Every table's rows, in a total order (by every column), keyed by table name. */
export function dumpTables(db: Db): Record<string, unknown[]> {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
  const dump: Record<string, unknown[]> = {};
  for (const t of tables) {
    const columns = (db.prepare(`PRAGMA table_info("${t}")`).all() as Array<{ name: string }>).map((c) => `"${c.name}"`);
    dump[t] = db.prepare(`SELECT * FROM "${t}" ORDER BY ${columns.join(', ')}`).all();
  }
  return dump;
}
