/**
 * Leakage: the walk-forward windows never let training touch a test bar, and a strategy that peeks at the
 * future is caught. The check runs a strategy through the real engine twice, once on the true bars and once
 * with every bar after a cut-off replaced, and demands identical decisions up to the cut-off.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SimClock } from '../engine/clock.js';
import { DAY_MS } from '../engine/market/feed.js';
import { EmbeddedMarket } from '../engine/market/embedded-market.js';
import type { Strategy, StrategyContext, StrategyDecision } from '../engine/strategy/index.js';
import type { StrategyName } from '../engine/strategy/index.js';
import type { BarBatch, Symbol } from '../engine/types.js';
import { loadConfig, type Config } from '../src/config.js';
import { buildSimEngine } from '../src/engine-factory.js';
import { openDatabase } from '../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';
import { walkForwardWindows } from '../src/walk-forward.js';

const SYMBOLS: readonly Symbol[] = ['BTC/USD', 'ETH/USD', 'SOL/USD'];
const BASE: Config = loadConfig({}).config;
const HOUR = 3_600_000;

/** Buys whatever will be up a day later: it reads the future from the array it was handed. */
class PeekingStrategy implements Strategy {
  readonly name = 'peeking';
  readonly warmupBars = 0;
  readonly tunables = [];
  constructor(private readonly future: ReadonlyMap<number, BarBatch>) {}
  decide(ctx: StrategyContext): StrategyDecision[] {
    const later = this.future.get(ctx.ts + 24 * HOUR);
    return ctx.symbols.map((symbol) => {
      const now = ctx.price(symbol);
      const then = later?.bars.get(symbol)?.close;
      const up = now !== undefined && then !== undefined && then > now;
      return {
        symbol,
        features: {},
        signal: { up },
        intent: up && ctx.held(symbol) === 0 ? { symbol, side: 'buy', notional: ctx.equity * 0.2, source: 'strategy', reason: 'it knows' } : !up && ctx.held(symbol) > 0 ? { symbol, side: 'sell', qty: ctx.held(symbol), source: 'strategy', reason: 'it knows' } : null,
      };
    });
  }
}

type Rows = Array<{ ts: number; symbol: string; features: string; signal: string; intent: string | null; verdict: string }>;

async function decisions(series: readonly BarBatch[], primeBars: number, strategy: StrategyName | ((series: readonly BarBatch[]) => Strategy)): Promise<Rows> {
  const db = openDatabase(':memory:');
  let wall = 0;
  const { engine } = buildSimEngine({
    config: BASE,
    mode: 'backtest',
    symbols: SYMBOLS,
    strategy: typeof strategy === 'string' ? strategy : 'buyhold',
    ...(typeof strategy === 'string' ? {} : { strategyInstance: strategy(series) }),
    profile: typeof strategy === 'string' && strategy !== 'confidence' ? 'benchmark' : 'full',
    startingEquity: 10_000,
    venue: undefined,
    marketDescription: 'embedded',
    journal: new SqliteJournal(db, () => (wall += 1)),
    state: new SqliteStateStore(db, () => (wall += 1)),
    notifier: { notify: () => undefined },
    clock: new SimClock(),
    wallNow: () => (wall += 1),
    log: pino({ level: 'silent' }),
  });
  await engine.start();
  engine.prime(series.slice(0, primeBars));
  for (const batch of series.slice(primeBars)) await engine.handleBars(batch);
  const rows = db.prepare('SELECT ts, symbol, features, signal, intent, verdict FROM decisions ORDER BY id').all() as Rows;
  db.close();
  return rows;
}

/** Every bar after `cut` replaced by a different but valid bar. */
function perturbAfter(series: readonly BarBatch[], cut: number): BarBatch[] {
  return series.map((b, i) =>
    i <= cut
      ? b
      : { ts: b.ts, bars: new Map([...b.bars].map(([s, bar]) => { const k = i % 3 === 0 ? 1.08 : 0.93; return [s, { ...bar, open: bar.open * k, high: bar.high * k * 1.01, low: bar.low * k * 0.99, close: bar.close * k, volume: bar.volume * 2 }]; })) },
  );
}

/** The first decision at or before the cut-off that differs between the true and the perturbed future. */
async function findLeak(strategy: StrategyName | ((series: readonly BarBatch[]) => Strategy), series: readonly BarBatch[], primeBars: number, cut: number) {
  const t = series[cut]!.ts;
  const a = (await decisions(series, primeBars, strategy)).filter((r) => r.ts <= t);
  const b = (await decisions(perturbAfter(series, cut), primeBars, strategy)).filter((r) => r.ts <= t);
  expect(a.length).toBe((cut - primeBars + 1) * SYMBOLS.length);
  const i = a.findIndex((row, k) => JSON.stringify(row) !== JSON.stringify(b[k]));
  return i < 0 ? null : a[i]!;
}

const market = new EmbeddedMarket(SYMBOLS, 11, 3_000);
const SERIES: BarBatch[] = Array.from({ length: 1_500 }, () => market.next());

describe('leakage', () => {
  it('catches a strategy that peeks at the future', async () => {
    const leak = await findLeak((series) => new PeekingStrategy(new Map(series.map((b) => [b.ts, b]))), SERIES, 1_000, 1_300);
    expect(leak).not.toBeNull();
    // the first difference is no earlier than the first bar whose look a day ahead passes the cut-off
    expect(leak!.ts).toBeGreaterThanOrEqual(SERIES[1_300 - 23]!.ts);
    expect(leak!.ts).toBeLessThanOrEqual(SERIES[1_300]!.ts);
  });

  for (const name of ['buyhold', 'momentum', 'confidence'] as const) {
    it(`finds none in ${name}`, async () => {
      expect(await findLeak(name, SERIES, 1_000, 1_300)).toBeNull();
    });
  }
});

describe('walk-forward windows', () => {
  it('tile the evaluation span; each train window ends where its test window begins', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 1, max: 900 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 90 }), (startDay, spanDays, trainDays, testDays) => {
        const from = Date.UTC(2021, 0, 1) + startDay * DAY_MS;
        const to = from + spanDays * DAY_MS;
        const windows = walkForwardWindows(from, to, { trainDays, testDays });
        expect(windows[0]!.testFrom).toBe(from);
        expect(windows.at(-1)!.testTo).toBe(to);
        for (const [i, w] of windows.entries()) {
          expect(w.trainTo).toBe(w.testFrom);
          expect(w.trainTo - w.trainFrom).toBe(trainDays * DAY_MS);
          expect(w.testTo).toBeGreaterThan(w.testFrom);
          if (i > 0) expect(w.testFrom).toBe(windows[i - 1]!.testTo);
        }
      }),
    );
  });
});
