/**
 * `npm run backtest`: replay CSV bars through the same engine, venue and gate as sim, as fast as possible.
 * Baselines run under the `benchmark` risk profile, the agent's strategies under `full`; the output says which.
 */
import { SimClock } from '../engine/clock.js';
import { loadCsvDirectory } from '../engine/market/csv.js';
import { DAY_MS } from '../engine/market/feed.js';
import { ReplayFeed } from '../engine/market/replay-feed.js';
import type { RiskProfile } from '../engine/risk/gate.js';
import { runFeed } from '../engine/runner.js';
import { BENCHMARK_STRATEGIES, type StrategyName } from '../engine/strategy/index.js';
import type { Symbol } from '../engine/types.js';
import { computeMetrics, type PerformanceMetrics } from '../reports/performance.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { openDatabase } from './store/database.js';
import { SqliteJournal, SqliteStateStore } from './store/sqlite-journal.js';
import { buildSimEngine } from './engine-factory.js';

export interface BacktestRequest {
  readonly data: string;
  readonly symbols: readonly Symbol[];
  /** ms UTC, first bar open included */
  readonly from: number;
  /** ms UTC, start of the last day included */
  readonly to: number;
  readonly strategies: readonly StrategyName[];
  readonly equity: number;
}

export interface BacktestRun {
  readonly strategy: StrategyName;
  readonly profile: RiskProfile;
  readonly metrics: PerformanceMetrics;
  /** equity at each bar's close, labelled with the bar's open time (ms UTC), USD */
  readonly equityCurve: Array<{ ts: number; equity: number }>;
  readonly trades: Array<{ ts: number; symbol: Symbol; side: 'buy' | 'sell'; qty: number; price: number; fee: number; realizedPnl: number }>;
}

export class BacktestError extends Error {}

export async function runBacktest(req: BacktestRequest, config: Config, log: Logger): Promise<BacktestRun[]> {
  const series = loadCsvDirectory(req.data, req.symbols);
  const runs: BacktestRun[] = [];
  for (const strategy of req.strategies) {
    const feed = new ReplayFeed(series, `CSV replay of ${req.data}`, { from: req.from, toExclusive: req.to + DAY_MS });
    if (feed.length < 2) throw new BacktestError(`no bars (or only one) in ${req.data} between ${iso(req.from)} and ${iso(req.to)} for ${req.symbols.join(', ')}`);
    const db = openDatabase(':memory:');
    const journal = new SqliteJournal(db);
    const clock = new SimClock();
    const profile: RiskProfile = BENCHMARK_STRATEGIES.has(strategy) ? 'benchmark' : 'full';
    const { engine } = buildSimEngine({
      config,
      mode: 'backtest',
      symbols: req.symbols,
      strategy,
      profile,
      startingEquity: req.equity,
      venue: undefined,
      marketDescription: feed.description,
      journal,
      state: new SqliteStateStore(db, () => clock.now()),
      notifier: { notify: () => undefined },
      clock,
      wallNow: () => clock.now(),
      log,
    });
    await engine.start();
    engine.prime(feed.history(2_000));
    const started = performance.now();
    await runFeed(feed, (batch) => engine.handleBars(batch), { barsPerSecond: 0 });
    const trades = journal.fillsInOrder().map(({ clientOrderId: _id, ...t }) => t);
    const equityCurve = journal.equityCurve().map(({ ts, equity }) => ({ ts, equity }));
    const metrics = computeMetrics({ curve: journal.equityCurve(), initialEquity: req.equity, finalEquity: engine.liquidationValue(config.broker.feeRate), trades });
    log.debug({ strategy, bars: feed.length, ms: Math.round(performance.now() - started) }, 'backtest run done');
    db.close();
    runs.push({ strategy, profile, metrics, equityCurve, trades });
  }
  return runs;
}

export function formatResultsTable(runs: readonly BacktestRun[]): string {
  const header = ['strategy', 'profile', 'total return', 'CAGR', 'Sharpe', 'max DD', 'trades', 'final equity'];
  const rows = runs.map((r) => [
    r.strategy,
    r.profile,
    pct(r.metrics.totalReturn),
    pct(r.metrics.cagr),
    r.metrics.sharpe.toFixed(2),
    pct(-r.metrics.maxDrawdown),
    String(r.metrics.tradeCount),
    `$${r.metrics.finalEquity.toFixed(2)}`,
  ]);
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
