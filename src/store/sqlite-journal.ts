/** SQLite implementations of the engine's Journal and StateStore ports. Statements are prepared once. */
import type { Journal, StateStore } from '../../engine/ports.js';
import type { Bar, BarBatch, DecisionRecord, EquitySnapshot, Fill, Mode, OrderState, Position, RiskEvent } from '../../engine/types.js';
import type { Db } from './database.js';

/**
 * The engine's journal on SQLite. `wallNow` stamps rows with the wall clock (orders' updated_at, decisions'
 * recorded_at); `mode` tags every decision so retention can archive sim and paper ones and keep live ones forever.
 * Without a mode, decisions are stored with mode NULL, which retention treats as unknown and never archives.
 */
export class SqliteJournal implements Journal {
  private readonly insertBar;
  private readonly insertFlagged;
  private readonly insertFlaggedRaw;
  private readonly insertDecision;
  private readonly upsertOrder;
  private readonly insertFill;
  private readonly clearPositions;
  private readonly insertPosition;
  private readonly upsertEquity;
  private readonly insertRiskEvent;
  private readonly selectOpenOrders;
  private readonly selectRecentFills;

  constructor(private readonly db: Db, private readonly wallNow: () => number = Date.now, private readonly mode: Mode | null = null) {
    this.insertBar = db.prepare('INSERT OR REPLACE INTO bars (symbol, ts, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertFlagged = db.prepare('INSERT OR REPLACE INTO bars (symbol, ts, open, high, low, close, volume, flag) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertFlaggedRaw = db.prepare('INSERT INTO flagged_bars (recorded_at, symbol, ts, open, high, low, close, volume, raw, flag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertDecision = db.prepare('INSERT INTO decisions (ts, symbol, strategy, features, signal, intent, verdict, reason, mode, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.upsertOrder = db.prepare(`INSERT INTO orders (client_order_id, symbol, side, qty, notional, limit_price, status, reject_reason, submitted_at, updated_at)
      VALUES (@clientOrderId, @symbol, @side, @qty, @notional, @limitPrice, @status, @rejectReason, @submittedAt, @updatedAt)
      ON CONFLICT (client_order_id) DO UPDATE SET status = excluded.status, reject_reason = excluded.reject_reason, updated_at = excluded.updated_at`);
    this.insertFill = db.prepare('INSERT INTO fills (client_order_id, ts, symbol, side, qty, price, fee, realized_pnl) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.clearPositions = db.prepare('DELETE FROM positions');
    this.insertPosition = db.prepare('INSERT INTO positions (symbol, qty, avg_cost, updated_at) VALUES (?, ?, ?, ?)');
    this.upsertEquity = db.prepare('INSERT OR REPLACE INTO equity_snapshots (ts, equity, cash, exposure) VALUES (?, ?, ?, ?)');
    this.insertRiskEvent = db.prepare('INSERT INTO risk_events (ts, kind, symbol, reason, detail) VALUES (?, ?, ?, ?, ?)');
    this.selectOpenOrders = db.prepare("SELECT * FROM orders WHERE status IN ('new', 'accepted') ORDER BY submitted_at");
    this.selectRecentFills = db.prepare('SELECT * FROM fills ORDER BY id DESC LIMIT ?');
  }

  /** One transaction per batch: a commit per symbol costs more than the rows. */
  recordBars(batch: BarBatch): void {
    this.inTransaction(() => {
      for (const [symbol, b] of batch.bars) this.insertBar.run(symbol, b.ts, b.open, b.high, b.low, b.close, b.volume);
    });
  }

  /**
   * A bar that failed the data-quality gate, kept with why: always in `flagged_bars` as received; also in `bars`
   * with its flag (reports skip flagged rows) when `inBars` — not for a duplicate or out-of-order bar, whose
   * hour holds the bar that was traded on, nor for a non-finite one, which REAL NOT NULL columns refuse.
   */
  recordFlaggedBar(symbol: string, b: Bar, flag: string, inBars = true): void {
    const finite = (v: number) => (Number.isFinite(v) ? v : null);
    const raw = JSON.stringify(b, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
    this.inTransaction(() => {
      this.insertFlaggedRaw.run(this.wallNow(), symbol, b.ts, finite(b.open), finite(b.high), finite(b.low), finite(b.close), finite(b.volume), raw, flag);
      if (inBars) this.insertFlagged.run(symbol, b.ts, b.open, b.high, b.low, b.close, b.volume, flag);
    });
  }

  recordDecisions(decisions: readonly DecisionRecord[]): void {
    const recordedAt = this.wallNow();
    this.inTransaction(() => {
      for (const d of decisions) {
        this.insertDecision.run(d.ts, d.symbol, d.strategy, JSON.stringify(d.features), JSON.stringify(d.signal), d.intent ? JSON.stringify(d.intent) : null, d.verdict, d.reason, this.mode, recordedAt);
      }
    });
  }

  private inTransaction(work: () => void): void {
    this.db.transaction(work)();
  }

  recordOrder(o: OrderState): void {
    this.upsertOrder.run({
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      qty: o.qty ?? null,
      notional: o.notional ?? null,
      limitPrice: o.limitPrice ?? null,
      status: o.status,
      rejectReason: o.rejectReason ?? null,
      submittedAt: o.submittedAt,
      updatedAt: this.wallNow(),
    });
  }

  recordFill(f: Fill, realizedPnl: number): void {
    this.insertFill.run(f.clientOrderId, f.ts, f.symbol, f.side, f.qty, f.price, f.fee, realizedPnl);
  }

  recordPositions(positions: readonly Position[], ts: number): void {
    this.atomically(() => {
      this.clearPositions.run();
      for (const p of positions) this.insertPosition.run(p.symbol, p.qty, p.avgCost, ts);
    });
  }

  recordEquity(s: EquitySnapshot): void {
    this.upsertEquity.run(s.ts, s.equity, s.cash, s.exposure);
  }

  recordRiskEvent(e: RiskEvent): void {
    this.insertRiskEvent.run(e.ts, e.kind, e.symbol ?? null, e.reason, e.detail ? JSON.stringify(e.detail) : null);
  }

  openOrders(): OrderState[] {
    return (this.selectOpenOrders.all() as OrderRow[]).map(orderFromRow);
  }

  recentFills(limit: number): Array<Fill & { realizedPnl: number }> {
    return (this.selectRecentFills.all(limit) as FillRow[]).map((r) => ({
      clientOrderId: r.client_order_id,
      ts: r.ts,
      symbol: r.symbol,
      side: r.side,
      qty: r.qty,
      price: r.price,
      fee: r.fee,
      realizedPnl: r.realized_pnl,
    }));
  }

  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** The equity curve, oldest first (reports and backtest output). */
  equityCurve(): EquitySnapshot[] {
    return this.db.prepare('SELECT ts, equity, cash, exposure FROM equity_snapshots ORDER BY ts').all() as EquitySnapshot[];
  }

  fillsInOrder(): Array<Fill & { realizedPnl: number }> {
    return this.recentFills(Number.MAX_SAFE_INTEGER).reverse();
  }
}

interface OrderRow {
  client_order_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number | null;
  notional: number | null;
  limit_price: number | null;
  status: OrderState['status'];
  reject_reason: string | null;
  submitted_at: number;
}

interface FillRow {
  client_order_id: string;
  ts: number;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  fee: number;
  realized_pnl: number;
}

function orderFromRow(r: OrderRow): OrderState {
  return {
    clientOrderId: r.client_order_id,
    symbol: r.symbol,
    side: r.side,
    status: r.status,
    submittedAt: r.submitted_at,
    ...(r.qty !== null ? { qty: r.qty } : {}),
    ...(r.notional !== null ? { notional: r.notional } : {}),
    ...(r.limit_price !== null ? { limitPrice: r.limit_price } : {}),
    ...(r.reject_reason !== null ? { rejectReason: r.reject_reason } : {}),
  };
}

/** Settings table as the engine's StateStore: JSON values, with who set them and when. */
export class SqliteStateStore implements StateStore {
  private readonly select;
  private readonly upsert;

  constructor(db: Db, private readonly wallNow: () => number = Date.now) {
    this.select = db.prepare('SELECT value FROM settings WHERE key = ?');
    this.upsert = db.prepare(`INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`);
  }

  get<T>(key: string): T | undefined {
    const row = this.select.get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  set(key: string, value: unknown, by: string): void {
    this.upsert.run(key, JSON.stringify(value), this.wallNow(), by);
  }
}
