/**
 * Writes the README's sample digest from a real run: the engine with the confidence strategy and the full risk
 * gate trades 30 days of the embedded synthetic market (after its warm-up history) into a SQLite journal, and
 * the digest and its chart are built from that journal exactly as the agent builds them.
 *   npx tsx reports/write-sample-digest.ts   → prints the digest (the README quotes it) and writes docs/sample-digest.png
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SimClock } from '../engine/clock.js';
import { EmbeddedMarket } from '../engine/market/embedded-market.js';
import { loadConfig } from '../src/config.js';
import { buildSimEngine } from '../src/engine-factory.js';
import { riskUsageLines } from '../src/operator-reports.js';
import { openDatabase } from '../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';
import { renderEquityChart } from './chart.js';
import { buildDigest } from './digest.js';

const config = loadConfig({}).config;
const symbols = config.universe;
const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'ce-sample-')), 'sample.db'));
const clock = new SimClock();
const market = new EmbeddedMarket(symbols, config.sim.seed, config.sim.historyBars);
const history = Array.from({ length: config.sim.historyBars }, () => market.next());
const { engine } = buildSimEngine({
  config,
  mode: 'sim',
  symbols,
  strategy: 'confidence',
  profile: 'full',
  startingEquity: config.sim.equity,
  venue: undefined,
  marketDescription: market.description,
  journal: new SqliteJournal(db, () => clock.now()),
  state: new SqliteStateStore(db, () => clock.now()),
  notifier: { notify: () => undefined },
  clock,
  wallNow: () => clock.now(),
  log: pino({ level: 'silent' }),
});
await engine.start();
engine.prime(history);
for (let i = 0; i < 30 * 24; i++) await engine.handleBars(market.next());

const digest = buildDigest(db, {
  feeRate: config.broker.feeRate,
  positions: engine.status().positions,
  horizonHours: config.strategy.confidence.horizonBars,
  riskUsage: riskUsageLines(engine),
  health: 'console ok, 0 queued',
});
const png = renderEquityChart({ title: 'Daily digest: equity and drawdown', subtitle: `SIM · confidence · ${market.description}`, strategy: digest.chart.strategy, benchmark: digest.chart.benchmark });
writeFileSync('docs/sample-digest.png', png);
process.stdout.write(`[SIM] ${digest.text}\nwrote docs/sample-digest.png\n`);
db.close();
