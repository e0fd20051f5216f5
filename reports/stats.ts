/**
 * `/stats` and the digests' figures from the journal alone: the metrics of reports/performance.ts over the
 * equity snapshots and fills of a period, next to the same metrics for equal-weight buy-and-hold over that
 * period, valued from the `bars` table. Pure functions over a better-sqlite3 handle; no engine needed.
 *
 * Time: `ts` of bars, decisions and equity snapshots is a bar's OPEN time in market time (ms UTC), and the
 * equity point at `ts` is marked at that bar's close. A period ends at the newest equity snapshot (at or before
 * `nowTs` when given), never at Date.now(): in sim the market clock runs ahead of the wall clock. A period of
 * length L ending at the point `end` starts at the last point at or before `end − L` (the first point of the
 * journal when it is shorter): that start point is the first point of the curve and its equity is the initial
 * equity, so '1d' over hourly bars is 25 points and 24 hourly returns. Fills and risk events "in" the period are
 * the ones with start < ts ≤ end (the start point's mark already includes fills stamped at its own bar).
 *
 * Final equity: the strategy's final equity is its last point, marked at the close (what /status shows). The
 * buy-and-hold benchmark pays its round trip: see `buyAndHold`.
 */
import { formatPct, formatUsd } from '../engine/money.js';
import type { Db } from '../src/store/database.js';
import { computeMetrics, type CurvePoint, type EquityPoint, type PerformanceMetrics, type TradeRecord } from './performance.js';

export type Period = '1d' | '7d' | '30d' | 'all';

export const HOUR_MS = 3_600_000;
export const DEFAULT_FEE_RATE = 0.0025;
const PERIOD_MS: Record<Exclude<Period, 'all'>, number> = { '1d': 24 * HOUR_MS, '7d': 7 * 24 * HOUR_MS, '30d': 30 * 24 * HOUR_MS };

export interface StatsOptions {
  /** the period ends at the newest equity snapshot with ts ≤ nowTs (market time); default the newest of all */
  readonly nowTs?: number;
  /** the benchmark's fee per side, as a fraction of the traded value; default 0.0025 */
  readonly feeRate?: number;
  /** bar length, ms; default one hour */
  readonly barMs?: number;
}

export interface PeriodWindow {
  readonly name: Period;
  /** open time of the bar whose close marks the start (the first curve point) */
  readonly startBarTs: number;
  /** open time of the bar whose close marks the end (the last curve point) */
  readonly endBarTs: number;
  /** ms UTC: the moments the start and end values were marked (the bar closes) */
  readonly fromMs: number;
  readonly toMs: number;
  /** `fromMs` and `toMs` as labels, e.g. "2024-03-05 00:00 UTC" */
  readonly from: string;
  readonly to: string;
  /** hours from `from` to `to` */
  readonly hours: number;
  /** true when the journal is shorter than the period asked for */
  readonly partial: boolean;
}

export interface BenchmarkResult {
  /** the symbols bought: those with an unflagged bar at the period's start bar */
  readonly symbols: readonly string[];
  readonly curve: readonly CurvePoint[];
  /** the opening buys (the exit fee is in `finalEquity`, not a trade) */
  readonly trades: readonly TradeRecord[];
  /** the last point's value net of the exit fee */
  readonly finalEquity: number;
  readonly metrics: PerformanceMetrics;
}

export interface StatsReport {
  readonly period: PeriodWindow | null;
  /** false with fewer than two equity points in the period: then `strategy` is null and `text` says so */
  readonly enough: boolean;
  readonly points: number;
  readonly strategy: PerformanceMetrics | null;
  /** null when there is not enough data or no symbol has a bar at the period's start */
  readonly benchmark: BenchmarkResult | null;
  /** USD, final − initial equity */
  readonly pnl: number | null;
  readonly curves: { readonly strategy: readonly EquityPoint[]; readonly benchmark: readonly EquityPoint[] };
  readonly text: string;
}

interface EquityRow {
  ts: number;
  equity: number;
  cash: number;
  exposure: number;
}

interface FillRow {
  ts: number;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  fee: number;
  realized_pnl: number;
}

/** The equity snapshots up to `nowTs` (all when undefined), oldest first. */
export function equityRows(db: Db, nowTs?: number): EquityRow[] {
  const sql = 'SELECT ts, equity, cash, exposure FROM equity_snapshots WHERE ts <= ? ORDER BY ts';
  return db.prepare(sql).all(nowTs ?? Number.MAX_SAFE_INTEGER) as EquityRow[];
}

/** The fills with fromExclusive < ts ≤ toInclusive, in the order they happened. */
export function fillsBetween(db: Db, fromExclusive: number, toInclusive: number): FillRow[] {
  return db
    .prepare('SELECT ts, symbol, side, qty, price, fee, realized_pnl FROM fills WHERE ts > ? AND ts <= ? ORDER BY ts, id')
    .all(fromExclusive, toInclusive) as FillRow[];
}

export function tradeRecord(f: FillRow): TradeRecord {
  return { side: f.side, qty: f.qty, price: f.price, fee: f.fee, realizedPnl: f.realized_pnl };
}

/** Index of the period's start point in `rows` (oldest first, non-empty). */
function startIndex(rows: readonly EquityRow[], period: Period): number {
  if (period === 'all') return 0;
  const from = rows[rows.length - 1]!.ts - PERIOD_MS[period];
  let idx = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]!.ts <= from) idx = i;
    else break;
  }
  return idx;
}

/** "2024-03-05 13:00 UTC" */
export function utcLabel(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "2024-03-05" */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The latest unflagged close of each symbol at or before `ts`. */
export function closesAt(db: Db, ts: number): Map<string, { ts: number; close: number }> {
  const rows = db
    .prepare(
      `SELECT b.symbol, b.ts, b.close FROM bars b
       JOIN (SELECT symbol, MAX(ts) AS ts FROM bars WHERE ts <= ? AND flag IS NULL GROUP BY symbol) m ON m.symbol = b.symbol AND m.ts = b.ts`,
    )
    .all(ts) as Array<{ symbol: string; ts: number; close: number }>;
  return new Map(rows.map((r) => [r.symbol, { ts: r.ts, close: r.close }]));
}

/**
 * Equal-weight buy-and-hold over the curve's timestamps (oldest first). At the close of the first bar
 * (`timestamps[0]`) it spends `initialEquity / n` on each of the n symbols with an unflagged bar at exactly that
 * time, the buy fee included in that amount (qty = share / (close × (1 + feeRate)), as the sim broker fills a
 * notional buy). Each point is Σ qty × the symbol's latest unflagged close at or before the point (carried
 * forward over missing or flagged bars); flagged bars are never used. The final equity is the last point net of
 * one exit fee (× (1 − feeRate)), like the engine's liquidation value. Null without such a symbol.
 */
export function buyAndHold(db: Db, timestamps: readonly number[], initialEquity: number, feeRate = DEFAULT_FEE_RATE, barMs = HOUR_MS): BenchmarkResult | null {
  if (timestamps.length === 0) return null;
  const t0 = timestamps[0]!;
  const tn = timestamps[timestamps.length - 1]!;
  const first = db.prepare('SELECT symbol, close FROM bars WHERE ts = ? AND flag IS NULL AND close > 0 ORDER BY symbol').all(t0) as Array<{ symbol: string; close: number }>;
  if (first.length === 0 || !(initialEquity > 0)) return null;
  const share = initialEquity / first.length;
  const qty = new Map<string, number>();
  const last = new Map<string, number>();
  const trades: TradeRecord[] = [];
  for (const { symbol, close } of first) {
    const q = share / (close * (1 + feeRate));
    qty.set(symbol, q);
    last.set(symbol, close);
    trades.push({ side: 'buy', qty: q, price: close, fee: q * close * feeRate, realizedPnl: 0 });
  }
  const placeholders = first.map(() => '?').join(', ');
  const later = db
    .prepare(`SELECT symbol, ts, close FROM bars WHERE ts > ? AND ts <= ? AND flag IS NULL AND close > 0 AND symbol IN (${placeholders}) ORDER BY ts`)
    .all(t0, tn, ...first.map((f) => f.symbol)) as Array<{ symbol: string; ts: number; close: number }>;
  const curve: CurvePoint[] = [];
  let j = 0;
  for (const ts of timestamps) {
    while (j < later.length && later[j]!.ts <= ts) {
      last.set(later[j]!.symbol, later[j]!.close);
      j++;
    }
    let value = 0;
    for (const [symbol, q] of qty) value += q * last.get(symbol)!;
    curve.push({ ts, equity: value, exposure: value });
  }
  const finalEquity = curve[curve.length - 1]!.equity * (1 - feeRate);
  return { symbols: first.map((f) => f.symbol), curve, trades, finalEquity, metrics: computeMetrics({ curve, initialEquity, finalEquity, trades, barMs }) };
}

const PERIOD_WORD: Record<Period, string> = { '1d': 'day', '7d': 'week', '30d': '30 days', all: 'since start' };

/** The metrics of `period` against equal-weight buy-and-hold over the same bars. */
export function statsFor(db: Db, period: Period, opts: StatsOptions = {}): StatsReport {
  const barMs = opts.barMs ?? HOUR_MS;
  const feeRate = opts.feeRate ?? DEFAULT_FEE_RATE;
  const rows = equityRows(db, opts.nowTs);
  if (rows.length === 0) {
    return { period: null, enough: false, points: 0, strategy: null, benchmark: null, pnl: null, curves: { strategy: [], benchmark: [] }, text: `Stats ${period}: no data yet (no equity snapshots).` };
  }
  const start = startIndex(rows, period);
  const inPeriod = rows.slice(start);
  const first = inPeriod[0]!;
  const lastRow = inPeriod[inPeriod.length - 1]!;
  const window: PeriodWindow = {
    name: period,
    startBarTs: first.ts,
    endBarTs: lastRow.ts,
    fromMs: first.ts + barMs,
    toMs: lastRow.ts + barMs,
    from: utcLabel(first.ts + barMs),
    to: utcLabel(lastRow.ts + barMs),
    hours: (lastRow.ts - first.ts) / HOUR_MS,
    partial: period !== 'all' && lastRow.ts - first.ts < PERIOD_MS[period],
  };
  const strategyCurve = inPeriod.map((r) => ({ ts: r.ts, equity: r.equity }));
  if (inPeriod.length < 2 || !(first.equity > 0)) {
    return {
      period: window,
      enough: false,
      points: inPeriod.length,
      strategy: null,
      benchmark: null,
      pnl: null,
      curves: { strategy: strategyCurve, benchmark: [] },
      text: `Stats ${period}: not enough data yet (${inPeriod.length} equity point${inPeriod.length === 1 ? '' : 's'}, need 2).`,
    };
  }
  const trades = fillsBetween(db, first.ts, lastRow.ts).map(tradeRecord);
  const curve: CurvePoint[] = inPeriod.map((r) => ({ ts: r.ts, equity: r.equity, exposure: r.exposure }));
  const strategy = computeMetrics({ curve, initialEquity: first.equity, finalEquity: lastRow.equity, trades, barMs });
  const benchmark = buyAndHold(db, inPeriod.map((r) => r.ts), first.equity, feeRate, barMs);
  const report = {
    period: window,
    enough: true,
    points: inPeriod.length,
    strategy,
    benchmark,
    pnl: lastRow.equity - first.equity,
    curves: { strategy: strategyCurve, benchmark: benchmark ? benchmark.curve.map(({ ts, equity }) => ({ ts, equity })) : [] },
  };
  return { ...report, text: renderStats(report) };
}

const pct0 = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
const ratio = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));

/** Annualized ratios from under a day of hourly returns swing wildly (hundreds); they are shown as n/a. */
export const MIN_POINTS_FOR_RATIOS = 24;

export function ratioText(value: number, points: number): string {
  return points < MIN_POINTS_FOR_RATIOS ? 'n/a' : value.toFixed(2);
}

/** Short lines for a phone. */
function renderStats(r: Omit<StatsReport, 'text'>): string {
  const w = r.period!;
  const m = r.strategy!;
  const b = r.benchmark?.metrics;
  const lines = [
    `Stats ${w.name} (${PERIOD_WORD[w.name]})${w.partial ? ', partial' : ''}`,
    `${w.from.slice(5, 16)} → ${w.to.slice(5, 16)} UTC`,
    `Return ${formatPct(m.totalReturn)} (${formatUsd(r.pnl!)})`,
    `Buy & hold ${b ? formatPct(b.totalReturn) : 'n/a'}`,
    `Sharpe ${ratioText(m.sharpe, r.points)} · b&h ${b ? ratioText(b.sharpe, r.points) : 'n/a'}`,
    `Sortino ${ratioText(m.sortino, r.points)} · b&h ${b ? ratioText(b.sortino, r.points) : 'n/a'}`,
    `Max DD ${pct0(m.maxDrawdown)} (${Math.round(m.maxDrawdownHours)}h) · b&h ${b ? pct0(b.maxDrawdown) : 'n/a'}`,
    `Win rate ${m.winRate === null ? 'n/a' : pct0(m.winRate)} · PF ${ratio(m.profitFactor)}`,
    `Exposure ${pct0(m.exposure)} · ${m.tradeCount} trade${m.tradeCount === 1 ? '' : 's'}`,
    `Fees ${formatUsd(m.feesPaid)}`,
  ];
  return lines.join('\n');
}

/**
 * Compact, JSON-able figures for the LLM advisor: a flat record of numbers, strings and nulls (so it fits the
 * advisor's `stats` record as is), units in the key names, rounded. `note` says when the figures are missing or
 * cover less than the period.
 */
export interface StatsSnapshot {
  readonly [key: string]: number | string | null;
  readonly period: Period;
  readonly note: string | null;
  /** ISO times of the start and end marks (bar closes); null without data */
  readonly fromIso: string | null;
  readonly toIso: string | null;
  readonly periodHours: number | null;
  readonly equityPoints: number;
  readonly startEquityUsd: number | null;
  readonly equityUsd: number | null;
  readonly pnlUsd: number | null;
  readonly returnPct: number | null;
  readonly buyHoldReturnPct: number | null;
  readonly excessReturnPct: number | null;
  readonly sharpe: number | null;
  readonly buyHoldSharpe: number | null;
  readonly sortino: number | null;
  readonly maxDrawdownPct: number | null;
  readonly maxDrawdownHours: number | null;
  readonly buyHoldMaxDrawdownPct: number | null;
  readonly winRatePct: number | null;
  readonly profitFactor: number | null;
  readonly exposurePct: number | null;
  readonly turnoverX: number | null;
  readonly feesUsd: number | null;
  readonly trades: number | null;
  /** comma-separated; null without a benchmark */
  readonly buyHoldSymbols: string | null;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const pct2 = (x: number | null | undefined) => (x === null || x === undefined ? null : round(x * 100, 2));

export function statsSnapshot(r: StatsReport): StatsSnapshot {
  const m = r.strategy;
  const b = r.benchmark?.metrics;
  const w = r.period;
  const note = !w
    ? 'no data yet'
    : !r.enough
      ? `not enough data (${r.points} equity point${r.points === 1 ? '' : 's'})`
      : w.partial
        ? `partial: the journal covers ${round(w.hours, 1)} h of the period`
        : null;
  return {
    period: w?.name ?? 'all',
    note,
    fromIso: w ? new Date(w.fromMs).toISOString() : null,
    toIso: w ? new Date(w.toMs).toISOString() : null,
    periodHours: w ? round(w.hours, 2) : null,
    equityPoints: r.points,
    startEquityUsd: m ? round(m.initialEquity, 2) : null,
    equityUsd: m ? round(m.finalEquity, 2) : null,
    pnlUsd: r.pnl === null ? null : round(r.pnl, 2),
    returnPct: pct2(m?.totalReturn),
    buyHoldReturnPct: pct2(b?.totalReturn),
    excessReturnPct: m && b ? round((m.totalReturn - b.totalReturn) * 100, 2) : null,
    sharpe: m ? round(m.sharpe, 2) : null,
    buyHoldSharpe: b ? round(b.sharpe, 2) : null,
    sortino: m ? round(m.sortino, 2) : null,
    maxDrawdownPct: pct2(m?.maxDrawdown),
    maxDrawdownHours: m ? round(m.maxDrawdownHours, 1) : null,
    buyHoldMaxDrawdownPct: pct2(b?.maxDrawdown),
    winRatePct: pct2(m?.winRate),
    profitFactor: m?.profitFactor == null ? null : round(m.profitFactor, 2),
    exposurePct: pct2(m?.exposure),
    turnoverX: m ? round(m.turnover, 2) : null,
    feesUsd: m ? round(m.feesPaid, 2) : null,
    trades: m ? m.tradeCount : null,
    buyHoldSymbols: r.benchmark ? r.benchmark.symbols.join(',') : null,
  };
}
