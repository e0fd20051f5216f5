/**
 * Sim: the embedded (or a CSV) market replayed at `sim.barsPerSecond` on the simulated broker. The venue saves its
 * state whenever it changes (its fills in the transaction that books them), and the market cursor is saved after
 * every bar: a restart replays at most the bar it died in, which the venue does not trade twice.
 * Every batch, warm-up history included, passes the data-quality gate first: only its good bars reach the
 * engine; flagged bars are stored and alerted (see QualityAlerts).
 */
import type { SimVenueState } from '../engine/broker/sim-broker.js';
import { SimClock } from '../engine/clock.js';
import { loadCsvDirectory } from '../engine/market/csv.js';
import { EmbeddedMarket } from '../engine/market/embedded-market.js';
import type { MarketFeed } from '../engine/market/feed.js';
import { QualityGate } from '../engine/market/quality.js';
import { ReplayFeed } from '../engine/market/replay-feed.js';
import type { BarBatch } from '../engine/types.js';
import { runFeed } from '../engine/runner.js';
import type { Config } from './config.js';
import { buildSimEngine } from './engine-factory.js';
import { START_EQUITY_KEY, type MarketContext, type RunningMarket } from './market.js';
import { QualityAlerts } from './quality-alerts.js';

const CURSOR_KEY = 'sim.cursor';
const VENUE_KEY = 'sim.venue';

function createFeed(config: Config): MarketFeed {
  if (config.sim.market === 'embedded') return new EmbeddedMarket(config.universe, config.sim.seed, Math.max(config.sim.historyBars, 1_000));
  return new ReplayFeed(loadCsvDirectory(config.sim.market, config.universe), `CSV replay of ${config.sim.market}`);
}

export function createSimMarket({ config, mode, journal, state, notifier, log, models }: MarketContext): RunningMarket {
  const feed = createFeed(config);
  feed.seek(state.get<number>(CURSOR_KEY) ?? config.sim.historyBars);
  const startingEquity = state.get<number>(START_EQUITY_KEY) ?? config.sim.equity;
  state.set(START_EQUITY_KEY, startingEquity, 'system');
  const { engine } = buildSimEngine({
    config,
    mode,
    symbols: config.universe,
    strategy: config.strategy.name,
    profile: config.risk.profile,
    startingEquity,
    venue: state.get<SimVenueState>(VENUE_KEY),
    saveVenue: (venue) => state.set(VENUE_KEY, venue, 'engine'),
    marketDescription: feed.description,
    journal,
    state,
    notifier,
    clock: new SimClock(),
    wallNow: Date.now,
    log,
    ...(models ? { models } : {}),
  });
  // No wall clock for the future check: a replay's market time may run ahead of it at many bars a second.
  const gate = new QualityGate(config.quality);
  const qualityAlerts = new QualityAlerts({ journal, notifier, log: (msg, detail) => log.warn(detail, msg) });
  /** The good bars of a batch (possibly none); what the gate found is stored and alerted. */
  const screen = (batch: BarBatch): BarBatch => {
    const { good, findings } = gate.check(batch);
    qualityAlerts.report(findings);
    return good;
  };
  const abort = new AbortController();
  let running: Promise<void> = Promise.resolve();
  // Bars are expected from begin() until the replay ends, fails (alerted on its own) or is stopped.
  let feeding = false;
  let failure: string | undefined;
  let reportFailure: (reason: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => (reportFailure = resolve));
  return {
    engine,
    health: () => `market: ${feed.description}, cursor ${feed.cursor}`,
    feedState: () => ({ running: feeding, barIntervalMs: 1000 / config.sim.barsPerSecond, ...(failure !== undefined ? { failure } : {}) }),
    breakers: () => [],
    failed,
    async begin() {
      await engine.start();
      engine.prime(feed.history(config.sim.historyBars).map(screen).filter((b) => b.bars.size > 0));
      // A batch with no good bar is skipped, but the cursor still moves past it (afterBatch).
      const handle = async (batch: BarBatch) => {
        const good = screen(batch);
        if (good.bars.size > 0) await engine.handleBars(good);
      };
      feeding = true;
      running = runFeed(feed, handle, {
        barsPerSecond: config.sim.barsPerSecond,
        signal: abort.signal,
        afterBatch: () => state.set(CURSOR_KEY, feed.cursor, 'engine'),
      }).then(
        (how) => {
          feeding = false;
          if (how === 'ended') notifier.notify('info', 'The replay reached the end of its data. No more bars; commands still work.');
        },
        (error: unknown) => {
          feeding = false;
          failure = error instanceof Error ? error.message : String(error);
          reportFailure(failure);
          log.error({ err: error }, 'market loop failed');
          notifier.notify('critical', `Market loop stopped: ${error instanceof Error ? error.message : String(error)}. Commands still work.`);
        },
      );
    },
    async stop() {
      feeding = false;
      abort.abort();
      await running;
      qualityAlerts.flush();
    },
  };
}
