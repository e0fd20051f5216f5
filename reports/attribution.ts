/**
 * Where realized P&L came from: each closing sell is traced to the buy that opened its position (walking every
 * fill of the symbol from the start of the journal) and to the decision behind that buy: the latest approved
 * buy decision for the symbol in the day before the opening fill (an order decided at bar t fills at bar t+1).
 * From that decision come the signal tier (the confidence strategy's calibrated confidence, bucketed; a
 * strategy's own `tier` or `rank` field otherwise) and the regime (the volatility label at entry). A sell
 * whose opening buy or decision is not in the journal counts under 'unknown'; a strategy without those fields
 * under 'n/a'.
 */
import type { Db } from '../src/store/database.js';
import { HOUR_MS } from '../engine/market/feed.js';

export interface AttributedSell {
  readonly ts: number;
  readonly symbol: string;
  readonly qty: number;
  readonly price: number;
  /** USD, net of fees, as the journal recorded it */
  readonly realizedPnl: number;
  /** ts of the fill that opened the position; null when it is not in the journal */
  readonly openTs: number | null;
  /** ts of the decision behind the opening buy; null when none was found */
  readonly decisionTs: number | null;
  readonly strategy: string | null;
  readonly tier: string;
  readonly regime: string;
}

export interface Bucket {
  readonly key: string;
  /** USD */
  readonly realizedUsd: number;
  readonly sells: number;
  /** sells with a positive realized P&L */
  readonly wins: number;
}

export interface Attribution {
  readonly sells: readonly AttributedSell[];
  readonly bySymbol: readonly Bucket[];
  readonly byTier: readonly Bucket[];
  readonly byRegime: readonly Bucket[];
  readonly totalRealizedUsd: number;
}

/** how far before the opening fill its decision may be */
const DECISION_LOOKBACK_MS = 24 * HOUR_MS;
const QTY_EPSILON = 1e-12;

export const TIER_ORDER = ['<0.50', '0.50–0.55', '0.55–0.60', '≥0.60'] as const;
const REGIME_ORDER = ['low', 'medium', 'normal', 'high', 'extreme'];

/** The confidence bucket of a calibrated win probability. */
export function confidenceTier(confidence: number): string {
  if (confidence >= 0.6) return '≥0.60';
  if (confidence >= 0.55) return '0.55–0.60';
  if (confidence >= 0.5) return '0.50–0.55';
  return '<0.50';
}

/** The tier of a decision's signal: confidence bucket, or the strategy's own tier/rank field, or 'n/a'. */
export function signalTier(signal: Record<string, unknown>): string {
  if (typeof signal.confidence === 'number' && Number.isFinite(signal.confidence)) return confidenceTier(signal.confidence);
  if (typeof signal.tier === 'string' || typeof signal.tier === 'number') return `tier ${signal.tier}`;
  if (typeof signal.rank === 'number') return `rank ${signal.rank}`;
  return 'n/a';
}

interface FillRow {
  ts: number;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  realized_pnl: number;
}

/** Every sell with fromExclusive < ts ≤ toInclusive, attributed to its entry. */
export function attributeRealized(db: Db, fromExclusive: number, toInclusive: number): Attribution {
  const fills = db.prepare('SELECT ts, symbol, side, qty, price, realized_pnl FROM fills WHERE ts <= ? ORDER BY ts, id').all(toInclusive) as FillRow[];
  const findDecision = db.prepare(
    `SELECT ts, strategy, signal FROM decisions
     WHERE symbol = ? AND ts < ? AND ts >= ? AND verdict = 'approved' AND json_extract(intent, '$.side') = 'buy'
     ORDER BY ts DESC, id DESC LIMIT 1`,
  );
  const held = new Map<string, { qty: number; openTs: number | null }>();
  const sells: AttributedSell[] = [];
  const entryCache = new Map<string, { decisionTs: number | null; strategy: string | null; tier: string; regime: string }>();
  const entryOf = (symbol: string, openTs: number | null) => {
    if (openTs === null) return { decisionTs: null, strategy: null, tier: 'unknown', regime: 'unknown' };
    const key = `${symbol}@${openTs}`;
    let entry = entryCache.get(key);
    if (!entry) {
      const row = findDecision.get(symbol, openTs, openTs - DECISION_LOOKBACK_MS) as { ts: number; strategy: string; signal: string } | undefined;
      if (!row) entry = { decisionTs: null, strategy: null, tier: 'unknown', regime: 'unknown' };
      else {
        const signal = parseSignal(row.signal);
        entry = { decisionTs: row.ts, strategy: row.strategy, tier: signalTier(signal), regime: typeof signal.volatility === 'string' ? signal.volatility : 'n/a' };
      }
      entryCache.set(key, entry);
    }
    return entry;
  };
  for (const f of fills) {
    const pos = held.get(f.symbol) ?? { qty: 0, openTs: null };
    if (f.side === 'buy') {
      if (pos.qty <= QTY_EPSILON) pos.openTs = f.ts;
      pos.qty += f.qty;
    } else {
      if (f.ts > fromExclusive) {
        const entry = entryOf(f.symbol, pos.qty > QTY_EPSILON ? pos.openTs : null);
        sells.push({ ts: f.ts, symbol: f.symbol, qty: f.qty, price: f.price, realizedPnl: f.realized_pnl, openTs: pos.qty > QTY_EPSILON ? pos.openTs : null, ...entry });
      }
      pos.qty -= f.qty;
      if (pos.qty <= QTY_EPSILON) {
        pos.qty = 0;
        pos.openTs = null;
      }
    }
    held.set(f.symbol, pos);
  }
  return {
    sells,
    bySymbol: buckets(sells, (s) => s.symbol, []),
    byTier: buckets(sells, (s) => s.tier, TIER_ORDER),
    byRegime: buckets(sells, (s) => s.regime, REGIME_ORDER),
    totalRealizedUsd: sells.reduce((sum, s) => sum + s.realizedPnl, 0),
  };
}

function parseSignal(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Buckets in `order` first, then the rest alphabetically, 'n/a' and 'unknown' last. */
function buckets(sells: readonly AttributedSell[], keyOf: (s: AttributedSell) => string, order: readonly string[]): Bucket[] {
  const map = new Map<string, { realizedUsd: number; sells: number; wins: number }>();
  for (const s of sells) {
    const key = keyOf(s);
    const b = map.get(key) ?? { realizedUsd: 0, sells: 0, wins: 0 };
    b.realizedUsd += s.realizedPnl;
    b.sells += 1;
    if (s.realizedPnl > 0) b.wins += 1;
    map.set(key, b);
  }
  const rank = (key: string) => {
    const i = order.indexOf(key);
    if (i >= 0) return i;
    return key === 'n/a' ? order.length + 1 : key === 'unknown' ? order.length + 2 : order.length;
  };
  return [...map.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([key, b]) => ({ key, ...b }));
}
