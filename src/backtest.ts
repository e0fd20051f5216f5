/**
 * `npm run backtest`: replay CSV bars through the same engine, venue and gate as sim, as fast as possible.
 * Baselines run under the `benchmark` risk profile, the agent's strategies under `full`; the output says which.
 */
import { SimClock } from '../engine/clock.js';
import { loadCsvDirectory } from '../engine/market/csv.js';
import { DAY_MS, HOUR_MS, lowerBoundByTs } from '../engine/market/feed.js';
import { ReplayFeed } from '../engine/market/replay-feed.js';
import type { RiskProfile } from '../engine/risk/gate.js';
import { runFeed } from '../engine/runner.js';
import { BENCHMARK_STRATEGIES, type StrategyName } from '../engine/strategy/index.js';
import type { Bar, Symbol } from '../engine/types.js';
import { forecastQuality, type ForecastQuality, type ProbabilityCall } from '../reports/forecast.js';
import { computeMetrics, type PerformanceMetrics } from '../reports/performance.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { openDatabase } from './store/database.js';
import { SqliteJournal, SqliteStateStore } from './store/sqlite-journal.js';
import { HotModelSource, type ModelSource } from '../engine/ensemble/source.js';
import { buildSimEngine } from './engine-factory.js';
import { walkForwardWindows, type WalkForwardSpec, type WalkForwardWindow } from './walk-forward.js';


export interface BacktestRequest {
  readonly data: string;
  readonly symbols: readonly Symbol[];
  /** ms UTC, first bar open included */
  readonly from: number;
  /** ms UTC, start of the last day included */
  readonly to: number;
  readonly strategies: readonly StrategyName[];
  readonly equity: number;
  /** rolling train/test windows; only the test windows are reported */
  readonly walkForward?: WalkForwardSpec;
}

type TradeRow = { ts: number; symbol: Symbol; side: 'buy' | 'sell'; qty: number; price: number; fee: number; realizedPnl: number };

export interface BacktestRun {
  readonly strategy: StrategyName;
  readonly profile: RiskProfile;
  readonly metrics: PerformanceMetrics;
  /** probability calls judged against the bars that followed; null for strategies that make none */
  readonly forecast: ForecastQuality | null;
  /** equity at each bar's close, labelled with the bar's open time (ms UTC), USD */
  readonly equityCurve: Array<{ ts: number; equity: number }>;
  readonly trades: TradeRow[];
  /** the walk-forward test windows, each with its own figures; absent for a single run */
  readonly windows?: Array<WalkForwardWindow & { startEquity: number; finalEquity: number; trades: number }>;
}

export class BacktestError extends Error {}

/** Bars of history a single run warms up on (the strategy learns from them, it never trades on them). */
const HISTORY_BARS = 2_000;

export async function runBacktest(req: BacktestRequest, config: Config, log: Logger): Promise<BacktestRun[]> {
  const models = req.strategies.includes('ensemble') ? await loadModels(config) : undefined;
  try {
    return await runAll(req, config, log, models);
  } finally {
    await models?.close();
  }
}

/** The deployed model set, loaded once for the run (a backtest does not reload). */
async function loadModels(config: Config): Promise<HotModelSource> {
  const source = new HotModelSource(config.strategy.ensemble.modelsDir, { loaded: () => undefined, refused: () => undefined });
  await source.ready();
  if (!source.current()) throw new BacktestError(`the ensemble strategy has no model set: ${source.problem}`);
  return source;
}

async function runAll(req: BacktestRequest, config: Config, log: Logger, models: ModelSource | undefined): Promise<BacktestRun[]> {
  const series = loadCsvDirectory(req.data, req.symbols);
  const toExclusive = req.to + DAY_MS;
  const probe = new ReplayFeed(series, `CSV replay of ${req.data}`, { from: req.from, toExclusive });
  if (probe.length < 2) throw new BacktestError(`no bars (or only one) in ${req.data} between ${iso(req.from)} and ${iso(req.to)} for ${req.symbols.join(', ')}`);
  const runs: BacktestRun[] = [];
  for (const strategy of req.strategies) {
    const started = performance.now();
    const profile: RiskProfile = BENCHMARK_STRATEGIES.has(strategy) ? 'benchmark' : 'full';
    const segments = req.walkForward
      ? walkForwardWindows(req.from, toExclusive, req.walkForward).map((w) => ({ window: w, from: w.testFrom, to: w.testTo, historyBars: Math.round((w.trainTo - w.trainFrom) / HOUR_MS) }))
      : [{ window: undefined, from: req.from, to: toExclusive, historyBars: HISTORY_BARS }];
    let equity = req.equity;
    const curve: Array<{ ts: number; equity: number; exposure: number }> = [];
    const trades: TradeRow[] = [];
    const calls: ProbabilityCall[] = [];
    const windows: NonNullable<BacktestRun['windows']> = [];
    for (const segment of segments) {
      const feed = new ReplayFeed(series, `CSV replay of ${req.data}`, { from: segment.from, toExclusive: segment.to });
      if (feed.length === 0) continue;
      const result = await runSegment(feed, segment.historyBars, strategy, profile, equity, req, config, log, models);
      curve.push(...result.curve);
      trades.push(...result.trades);
      calls.push(...judgeCalls(result.calls, series, config.strategy.confidence, toExclusive));
      if (segment.window) windows.push({ ...segment.window, startEquity: equity, finalEquity: result.finalEquity, trades: result.trades.length });
      equity = result.finalEquity;
    }
    const metrics = computeMetrics({ curve, initialEquity: req.equity, finalEquity: equity, trades });
    log.debug({ strategy, bars: curve.length, ms: Math.round(performance.now() - started) }, 'backtest run done');
    runs.push({
      strategy,
      profile,
      metrics,
      forecast: strategy === 'confidence' ? forecastQuality(calls) : null,
      equityCurve: curve.map(({ ts, equity: e }) => ({ ts, equity: e })),
      trades,
      ...(req.walkForward ? { windows } : {}),
    });
  }
  return runs;
}

interface SegmentResult {
  readonly curve: Array<{ ts: number; equity: number; exposure: number }>;
  readonly trades: TradeRow[];
  readonly finalEquity: number;
  readonly calls: RawCall[];
}

/** One engine over one window: a fresh in-memory journal, warmed up on the bars before the window. */
async function runSegment(
  feed: ReplayFeed,
  historyBars: number,
  strategy: StrategyName,
  profile: RiskProfile,
  equity: number,
  req: BacktestRequest,
  config: Config,
  log: Logger,
  models: ModelSource | undefined,
): Promise<SegmentResult> {
  const db = openDatabase(':memory:');
  try {
    const journal = new SqliteJournal(db);
    const clock = new SimClock();
    const { engine } = buildSimEngine({
      config,
      mode: 'backtest',
      symbols: req.symbols,
      strategy,
      profile,
      startingEquity: equity,
      venue: undefined,
      marketDescription: feed.description,
      journal,
      state: new SqliteStateStore(db, () => clock.now()),
      notifier: { notify: () => undefined },
      clock,
      wallNow: () => clock.now(),
      log,
      ...(models ? { models } : {}),
    });
    await engine.start();
    engine.prime(feed.history(historyBars));
    await runFeed(feed, (batch) => engine.handleBars(batch), { barsPerSecond: 0 });
    return {
      curve: journal.equityCurve().map(({ ts, equity: e, exposure }) => ({ ts, equity: e, exposure })),
      trades: journal.fillsInOrder().map(({ clientOrderId: _id, ...t }) => t),
      finalEquity: engine.liquidationValue(config.broker.feeRate),
      calls: strategy === 'confidence' ? rawCalls(db) : [],
    };
  } finally {
    db.close();
  }
}

interface RawCall {
  readonly ts: number;
  readonly symbol: Symbol;
  readonly direction: 'up' | 'down';
  readonly p: number;
}

/** The calibrated calls the confidence strategy made: direction and confidence from each decision record. */
function rawCalls(db: ReturnType<typeof openDatabase>): RawCall[] {
  const rows = db.prepare("SELECT ts, symbol, signal FROM decisions WHERE strategy = 'confidence' ORDER BY id").all() as Array<{ ts: number; symbol: string; signal: string }>;
  const out: RawCall[] = [];
  for (const row of rows) {
    const s = JSON.parse(row.signal) as { direction?: string; calibrated?: number | null; confidence?: number };
    if ((s.direction === 'up' || s.direction === 'down') && typeof s.calibrated === 'number' && typeof s.confidence === 'number') {
      out.push({ ts: row.ts, symbol: row.symbol, direction: s.direction, p: s.confidence });
    }
  }
  return out;
}

/**
 * Judge each call the way the strategy's tracker does: by the close of the first bar at or after the horizon,
 * a win when the implied trade beats the round-trip cost. Calls whose horizon ends after the evaluation window
 * are left out.
 */
function judgeCalls(calls: readonly RawCall[], series: ReadonlyMap<Symbol, readonly Bar[]>, c: Config['strategy']['confidence'], toExclusive: number): ProbabilityCall[] {
  const out: ProbabilityCall[] = [];
  for (const call of calls) {
    const bars = series.get(call.symbol);
    if (!bars) continue;
    const entry = bars[lowerBoundByTs(bars, call.ts)];
    const exit = bars[lowerBoundByTs(bars, call.ts + c.horizonBars * HOUR_MS)];
    if (!entry || entry.ts !== call.ts || !exit || exit.ts >= toExclusive) continue;
    const move = exit.close / entry.close - 1;
    out.push({ p: call.p, win: (call.direction === 'up' ? move : -move) - c.winThreshold > 0 });
  }
  return out;
}

export function formatResultsTable(runs: readonly BacktestRun[]): string {
  const header = ['strategy', 'profile', 'return', 'CAGR', 'Sharpe', 'Sortino', 'max DD', 'DD days', 'win rate', 'PF', 'exposure', 'turnover', 'fees', 'trades', 'Brier', 'final equity'];
  const rows = runs.map((r) => {
    const m = r.metrics;
    return [
      r.strategy,
      r.profile,
      pct(m.totalReturn),
      pct(m.cagr),
      m.sharpe.toFixed(2),
      m.sortino.toFixed(2),
      pct(-m.maxDrawdown),
      (m.maxDrawdownHours / 24).toFixed(0),
      m.winRate === null ? 'n/a' : pct(m.winRate),
      m.profitFactor === null ? 'n/a' : m.profitFactor.toFixed(2),
      pct(m.exposure),
      `${m.turnover.toFixed(1)}x`,
      `$${m.feesPaid.toFixed(0)}`,
      String(m.tradeCount),
      r.forecast?.brier == null ? 'n/a' : r.forecast.brier.toFixed(4),
      `$${m.finalEquity.toFixed(2)}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
