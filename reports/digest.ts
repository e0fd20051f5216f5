/**
 * The daily digest and the weekly report, from the journal alone (see reports/stats.ts for how periods and
 * timestamps work). The day is the 24 hours ending at the newest equity snapshot (at or before `nowTs`): its
 * trades, risk events and calls are the rows with end − 24 h < ts ≤ end (the '1d' stats window when the journal
 * covers a whole day). Positions come from the `positions` table (the engine rewrites it at every fill, so it is
 * the latest book, not the book as of `nowTs`), valued at each symbol's latest unflagged close at or before the
 * end, unless the caller passes the live positions. Evidence lines are copied verbatim from the decisions
 * (number-free by construction, engine/signals/evidence.ts); every other line may carry numbers.
 */
import type { PositionView } from '../engine/api.js';
import { formatPct, formatQty, formatUsd } from '../engine/money.js';
import type { Db } from '../src/store/database.js';
import { attributeRealized, type Attribution, type Bucket } from './attribution.js';
import type { EquityPoint } from './performance.js';
import { lowerBoundByTs } from '../engine/market/feed.js';
import { closesAt, equityRows, ratioText, fillsBetween, HOUR_MS, statsFor, statsSnapshot, utcDate, utcLabel, type Period, type StatsReport, type StatsSnapshot } from './stats.js';

export interface DigestOptions {
  /** the digest ends at the newest equity snapshot with ts ≤ nowTs (market time); default the newest */
  readonly nowTs?: number;
  /** fee per side for the buy-and-hold benchmark; default 0.0025 */
  readonly feeRate?: number;
  /** a call is judged by the first bar at or after its ts + this; default 72 */
  readonly horizonHours?: number;
  /** one line on the agent's health, shown as is */
  readonly health?: string;
  /** the live risk usage against the limits (the lines /limits shows), placed before the health line */
  readonly riskUsage?: string;
  /** the live positions (e.g. StatusView.positions); default the `positions` table */
  readonly positions?: ReadonlyArray<Pick<PositionView, 'symbol' | 'qty' | 'avgCost'> & Partial<Pick<PositionView, 'price' | 'value' | 'unrealizedPnl'>>>;
  /** which period the chart shows; default '7d' */
  readonly chartPeriod?: Period;
  /** bar length, ms; default one hour */
  readonly barMs?: number;
}

export interface DigestPosition {
  readonly symbol: string;
  readonly qty: number;
  /** USD per unit, including buy fees */
  readonly avgCost: number;
  /** USD; null without a close */
  readonly price: number | null;
  readonly valueUsd: number | null;
  readonly unrealizedPnlUsd: number | null;
}

export interface DigestTrade {
  readonly ts: number;
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly qty: number;
  readonly price: number;
  readonly feeUsd: number;
  readonly realizedPnlUsd: number;
}

export interface DigestRiskEvent {
  readonly ts: number;
  readonly kind: string;
  readonly symbol: string | null;
  readonly reason: string;
}

export interface JudgedCall {
  readonly ts: number;
  readonly symbol: string;
  readonly direction: 'up' | 'down';
  readonly confidence: number | null;
  readonly entryClose: number;
  /** the close it is judged by, and that bar's open time */
  readonly exitClose: number;
  readonly exitTs: number;
  /** true when judged at the horizon; false: the move so far (the horizon has not passed yet) */
  readonly atHorizon: boolean;
  /** exitClose / entryClose − 1 */
  readonly move: number;
  /** the move in the call's favour: `move` for up calls, −`move` for down calls */
  readonly favourable: number;
  /** verbatim, split at '; ' as the strategy joined them */
  readonly evidence: readonly string[];
}

export interface RegimeRow {
  readonly symbol: string;
  readonly volatility: string;
  readonly trend: string;
  readonly momentum: string;
}

export interface DigestNumbers {
  /** UTC date of the digest's last bar; null without data */
  readonly date: string | null;
  readonly endBarTs: number | null;
  readonly day: StatsSnapshot;
  readonly week: StatsSnapshot;
  readonly sinceStart: StatsSnapshot;
  readonly equityUsd: number | null;
  readonly cashUsd: number | null;
  readonly positions: readonly DigestPosition[];
  readonly trades: readonly DigestTrade[];
  readonly tradeFeesUsd: number;
  readonly realizedPnlUsd: number;
  readonly riskEventsByKind: Readonly<Record<string, number>>;
  readonly riskEvents: readonly DigestRiskEvent[];
  /** the confidence strategy's directional calls of the day that could be judged */
  readonly calls: number;
  readonly bestCall: JudgedCall | null;
  readonly worstCall: JudgedCall | null;
  readonly regimes: readonly RegimeRow[];
}

export interface Digest {
  readonly text: string;
  readonly chart: { readonly strategy: readonly EquityPoint[]; readonly benchmark: readonly EquityPoint[] };
  readonly numbers: DigestNumbers;
}

const DAY_MS = 24 * HOUR_MS;
const MAX_TRADE_LINES = 8;
const MAX_RISK_LINES = 5;
const MAX_REASON = 70;

/** four significant digits: enough to recognise a trade on a phone (the exact qty is in /trades) */
const compactQty = (qty: number) => formatQty(Number(qty.toPrecision(4)));
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const short = (text: string, max = MAX_REASON) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The window (fromExclusive, toInclusive] of a period's events: the stats window, or end − length when the journal is shorter. */
function eventWindow(r: StatsReport, lengthMs: number): { from: number; to: number } | null {
  if (!r.period) return null;
  return { from: r.period.partial || r.period.startBarTs === r.period.endBarTs ? r.period.endBarTs - lengthMs : r.period.startBarTs, to: r.period.endBarTs };
}

function pnlLine(name: string, r: StatsReport): string {
  if (!r.enough || !r.strategy) return `  ${name}: not enough data`;
  const h = r.period!.hours;
  const label = r.period!.partial ? `${name} (${h < 48 ? `${Math.round(h)}h` : `${Math.round(h / 24)}d`})` : name;
  const b = r.benchmark ? formatPct(r.benchmark.metrics.totalReturn) : 'n/a';
  return `  ${label} ${formatUsd(r.pnl!)} ${formatPct(r.strategy.totalReturn)} · b&h ${b}`;
}

export function buildDigest(db: Db, opts: DigestOptions = {}): Digest {
  const statsOpts = { nowTs: opts.nowTs, feeRate: opts.feeRate, barMs: opts.barMs };
  const day = statsFor(db, '1d', statsOpts);
  const week = statsFor(db, '7d', statsOpts);
  const all = statsFor(db, 'all', statsOpts);
  const chartStats = opts.chartPeriod === '1d' ? day : opts.chartPeriod === 'all' ? all : opts.chartPeriod === '30d' ? statsFor(db, '30d', statsOpts) : week;
  const chart = { strategy: chartStats.curves.strategy, benchmark: chartStats.curves.benchmark };
  const window = eventWindow(day, DAY_MS);
  if (!window) {
    const head = opts.nowTs !== undefined ? `Daily digest ${utcDate(opts.nowTs)} (UTC)` : 'Daily digest (UTC)';
    const lines = [head, 'No data yet: the journal has no equity snapshots.', 'Start the agent and let it see a few bars.'];
    if (opts.health) lines.push(`Health: ${opts.health}`);
    return {
      text: lines.join('\n'),
      chart,
      numbers: {
        date: null,
        endBarTs: null,
        day: statsSnapshot(day),
        week: statsSnapshot(week),
        sinceStart: statsSnapshot(all),
        equityUsd: null,
        cashUsd: null,
        positions: [],
        trades: [],
        tradeFeesUsd: 0,
        realizedPnlUsd: 0,
        riskEventsByKind: {},
        riskEvents: [],
        calls: 0,
        bestCall: null,
        worstCall: null,
        regimes: [],
      },
    };
  }
  const end = window.to;
  const last = equityRows(db, end).at(-1)!;
  const positions = digestPositions(db, end, opts.positions);
  const trades: DigestTrade[] = fillsBetween(db, window.from, end).map((f) => ({ ts: f.ts, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, feeUsd: f.fee, realizedPnlUsd: f.realized_pnl }));
  const riskEvents = db
    .prepare('SELECT ts, kind, symbol, reason FROM risk_events WHERE ts > ? AND ts <= ? ORDER BY ts, id')
    .all(window.from, end) as DigestRiskEvent[];
  const riskEventsByKind: Record<string, number> = {};
  for (const e of riskEvents) riskEventsByKind[e.kind] = (riskEventsByKind[e.kind] ?? 0) + 1;
  const calls = judgeCalls(db, window.from, end, (opts.horizonHours ?? 72) * HOUR_MS);
  const ranked = [...calls.judged].sort((a, b) => b.favourable - a.favourable || a.ts - b.ts);
  const bestCall = ranked[0] ?? null;
  const worstCall = ranked.length > 1 ? ranked[ranked.length - 1]! : null;
  const regimes = latestRegimes(db, end);

  const lines = [`Daily digest ${utcDate(end)} (UTC)`, `As of ${utcLabel(end + (opts.barMs ?? HOUR_MS))}`, `Equity ${formatUsd(last.equity)} · cash ${formatUsd(last.cash)}`];
  lines.push('P&L vs buy & hold:', pnlLine('24 h', day), pnlLine('7 days', week), pnlLine('Since start', all));
  if (week.strategy) {
    const w = week.strategy;
    lines.push(`7 days: Sharpe ${ratioText(w.sharpe, week.points)} · max DD ${(w.maxDrawdown * 100).toFixed(1)}%`);
  }
  if (positions.length === 0) lines.push('Positions: none');
  else {
    lines.push(`Positions (${positions.length}):`);
    for (const p of positions) {
      lines.push(`  ${p.symbol} ${compactQty(p.qty)} · ${p.valueUsd === null ? 'n/a' : formatUsd(p.valueUsd)} · P&L ${p.unrealizedPnlUsd === null ? 'n/a' : formatUsd(p.unrealizedPnlUsd)}`);
    }
  }
  if (trades.length === 0) lines.push('Trades today: none');
  else {
    const realized = trades.reduce((s, t) => s + (t.side === 'sell' ? t.realizedPnlUsd : 0), 0);
    lines.push(`Trades today (${trades.length}) · realized ${formatUsd(realized)}:`);
    for (const t of trades.slice(-MAX_TRADE_LINES)) {
      lines.push(`  ${hhmm(t.ts)} ${t.side.toUpperCase()} ${t.symbol} ${compactQty(t.qty)} @ ${formatUsd(t.price)}${t.side === 'sell' ? ` · ${formatUsd(t.realizedPnlUsd)}` : ''}`);
    }
    if (trades.length > MAX_TRADE_LINES) lines.push(`  … ${trades.length - MAX_TRADE_LINES} earlier`);
  }
  if (riskEvents.length === 0) lines.push('Risk events today: none');
  else {
    lines.push(`Risk events today (${riskEvents.length}):`, `  ${Object.entries(riskEventsByKind).map(([k, n]) => `${k} ${n}`).join(' · ')}`);
    for (const e of riskEvents.slice(-MAX_RISK_LINES)) lines.push(`  ${hhmm(e.ts)} ${e.kind}${e.symbol ? ` ${e.symbol}` : ''}: ${short(e.reason)}`);
    if (riskEvents.length > MAX_RISK_LINES) lines.push(`  … ${riskEvents.length - MAX_RISK_LINES} earlier`);
  }
  if (calls.note) lines.push(`Calls: ${calls.note}`);
  else {
    lines.push(...callLines('Best call', bestCall!));
    if (worstCall) lines.push(...callLines('Worst call', worstCall));
  }
  if (regimes.length === 0) lines.push('Regime: n/a (no decisions yet)');
  else {
    lines.push('Regime:');
    for (const r of regimes) {
      lines.push(r.volatility === 'n/a' && r.trend === 'n/a' && r.momentum === 'n/a' ? `  ${r.symbol} n/a` : `  ${r.symbol} vol ${r.volatility} · trend ${r.trend} · mom ${r.momentum}`);
    }
  }
  if (opts.riskUsage) lines.push(opts.riskUsage);
  if (opts.health) lines.push(`Health: ${opts.health}`);
  return {
    text: lines.join('\n'),
    chart,
    numbers: {
      date: utcDate(end),
      endBarTs: end,
      day: statsSnapshot(day),
      week: statsSnapshot(week),
      sinceStart: statsSnapshot(all),
      equityUsd: last.equity,
      cashUsd: last.cash,
      positions,
      trades,
      tradeFeesUsd: trades.reduce((s, t) => s + t.feeUsd, 0),
      realizedPnlUsd: trades.reduce((s, t) => s + (t.side === 'sell' ? t.realizedPnlUsd : 0), 0),
      riskEventsByKind,
      riskEvents,
      calls: calls.judged.length,
      bestCall,
      worstCall,
      regimes,
    },
  };
}

function callLines(label: string, c: JudgedCall): string[] {
  const conf = c.confidence === null ? '' : ` · conf ${(c.confidence * 100).toFixed(0)}%`;
  const how = c.atHorizon ? `at ${Math.round((c.exitTs - c.ts) / HOUR_MS)}h` : 'so far';
  return [`${label}: ${c.symbol} ${c.direction} at ${hhmm(c.ts)}${conf}`, `  price ${formatPct(c.move)} ${how}`, ...c.evidence.map((e) => `  • ${e}`)];
}

function digestPositions(db: Db, end: number, given: DigestOptions['positions']): DigestPosition[] {
  const closes = closesAt(db, end);
  const rows = given ?? (db.prepare('SELECT symbol, qty, avg_cost AS avgCost FROM positions WHERE qty > 0 ORDER BY symbol').all() as Array<{ symbol: string; qty: number; avgCost: number }>);
  return rows.map((p) => {
    const price = 'price' in p && p.price !== undefined ? p.price : closes.get(p.symbol)?.close ?? null;
    const value = 'value' in p && p.value !== undefined ? p.value : price === null ? null : p.qty * price;
    const unrealized = 'unrealizedPnl' in p && p.unrealizedPnl !== undefined ? p.unrealizedPnl : price === null ? null : (price - p.avgCost) * p.qty;
    return { symbol: p.symbol, qty: p.qty, avgCost: p.avgCost, price, valueUsd: value, unrealizedPnlUsd: unrealized };
  });
}

/**
 * The confidence strategy's directional calls with from < ts ≤ to, each judged like the tracker and the
 * backtest do: against the call bar's close, by the close of the first unflagged bar at or after ts + horizon
 * when the bars table has one, otherwise by the latest close at or before the end (the move so far). In a live
 * digest the horizon of the day's calls has not passed yet, so they rank by the move so far; a digest built for
 * a past `nowTs` may judge them with bars after it (labelled "at Nh"). `note` explains an empty result.
 */
function judgeCalls(db: Db, from: number, to: number, horizonMs: number): { judged: JudgedCall[]; note: string | null } {
  const rows = db
    .prepare("SELECT ts, symbol, signal FROM decisions WHERE strategy = 'confidence' AND ts > ? AND ts <= ? ORDER BY ts, id")
    .all(from, to) as Array<{ ts: number; symbol: string; signal: string }>;
  if (rows.length === 0) {
    const other = db.prepare('SELECT DISTINCT strategy FROM decisions WHERE ts > ? AND ts <= ?').all(from, to) as Array<{ strategy: string }>;
    return { judged: [], note: other.length > 0 ? `no calls (strategy ${other.map((o) => o.strategy).join(', ')} makes none)` : 'no calls today' };
  }
  const barStmt = db.prepare('SELECT ts, close FROM bars WHERE symbol = ? AND ts >= ? AND ts <= ? AND flag IS NULL AND close > 0 ORDER BY ts');
  const horizonStmt = db.prepare('SELECT ts, close FROM bars WHERE symbol = ? AND ts >= ? AND flag IS NULL AND close > 0 ORDER BY ts LIMIT 1');
  const barsBySymbol = new Map<string, Array<{ ts: number; close: number }>>();
  const barsOf = (symbol: string) => {
    let bars = barsBySymbol.get(symbol);
    if (!bars) barsBySymbol.set(symbol, (bars = barStmt.all(symbol, from, to) as Array<{ ts: number; close: number }>));
    return bars;
  };
  const judged: JudgedCall[] = [];
  for (const row of rows) {
    const s = parse(row.signal);
    if (s.direction !== 'up' && s.direction !== 'down') continue;
    const bars = barsOf(row.symbol);
    const i = lowerBoundByTs(bars, row.ts);
    const entry = bars[i];
    if (!entry || entry.ts !== row.ts) continue;
    const atHorizon = horizonStmt.get(row.symbol, row.ts + horizonMs) as { ts: number; close: number } | undefined;
    const exit = atHorizon ?? bars[bars.length - 1]!;
    if (exit.ts === entry.ts) continue;
    const move = exit.close / entry.close - 1;
    judged.push({
      ts: row.ts,
      symbol: row.symbol,
      direction: s.direction,
      confidence: typeof s.confidence === 'number' ? s.confidence : null,
      entryClose: entry.close,
      exitClose: exit.close,
      exitTs: exit.ts,
      atHorizon: atHorizon !== undefined,
      move,
      favourable: s.direction === 'up' ? move : -move,
      evidence: typeof s.evidence === 'string' && s.evidence.length > 0 ? s.evidence.split('; ') : [],
    });
  }
  return { judged, note: judged.length === 0 ? 'no calls today (no up or down signal)' : null };
}

function latestRegimes(db: Db, end: number): RegimeRow[] {
  const rows = db
    .prepare('SELECT symbol, signal FROM decisions WHERE id IN (SELECT MAX(id) FROM decisions WHERE ts <= ? GROUP BY symbol) ORDER BY symbol')
    .all(end) as Array<{ symbol: string; signal: string }>;
  const label = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : 'n/a');
  return rows.map((r) => {
    const s = parse(r.signal);
    return { symbol: r.symbol, volatility: label(s.volatility), trend: label(s.trend), momentum: label(s.momentum) };
  });
}

function parse(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface WeeklyReportOptions {
  readonly nowTs?: number;
  readonly feeRate?: number;
  readonly barMs?: number;
}

export interface WeeklyReport {
  readonly text: string;
  readonly chart: { readonly strategy: readonly EquityPoint[]; readonly benchmark: readonly EquityPoint[] };
  readonly numbers: { readonly week: StatsSnapshot; readonly attribution: Attribution | null };
}

/** The week's return against buy-and-hold, and its realized P&L by symbol, by signal tier and by regime at entry. */
export function buildWeeklyReport(db: Db, opts: WeeklyReportOptions = {}): WeeklyReport {
  const week = statsFor(db, '7d', opts);
  const chart = { strategy: week.curves.strategy, benchmark: week.curves.benchmark };
  const window = eventWindow(week, 7 * DAY_MS);
  if (!window) {
    return { text: 'Weekly report (UTC)\nNo data yet: the journal has no equity snapshots.', chart, numbers: { week: statsSnapshot(week), attribution: null } };
  }
  const a = attributeRealized(db, window.from, window.to);
  const lines = [`Weekly report ${utcDate(week.period!.fromMs)} → ${utcDate(window.to)} (UTC)`, pnlLine('Week', week).trim()];
  if (a.sells.length === 0) lines.push('Realized P&L: no closing sells this week');
  else {
    const wins = a.sells.filter((s) => s.realizedPnl > 0).length;
    lines.push(`Realized ${formatUsd(a.totalRealizedUsd)} · ${a.sells.length} sell${a.sells.length === 1 ? '' : 's'}, ${wins} won`);
    const section = (title: string, buckets: readonly Bucket[]) => {
      lines.push(title);
      for (const b of buckets) lines.push(`  ${b.key} ${formatUsd(b.realizedUsd)} · ${b.sells} sell${b.sells === 1 ? '' : 's'}, ${b.wins} won`);
    };
    section('By symbol:', a.bySymbol);
    section('By tier (signal at entry):', a.byTier);
    section('By regime (volatility at entry):', a.byRegime);
  }
  return { text: lines.join('\n'), chart, numbers: { week: statsSnapshot(week), attribution: a } };
}
