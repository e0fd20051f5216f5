import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildSimEngine, confidenceParams } from '../../src/engine-factory.js';
import { openDatabase } from '../../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../../src/store/sqlite-journal.js';
import { SimClock } from '../clock.js';
import { EmbeddedMarket } from '../market/embedded-market.js';
import type { Bar, BarBatch, Symbol } from '../types.js';
import { ConfidenceStrategy } from './confidence.js';
import type { StrategyContext, StrategyDecision } from './strategy.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const BASE: Config = loadConfig({}).config;

/** Thresholds at their floors: any up call with confidence at one half (uncalibrated) meets them. */
const OPEN_THRESHOLDS = { ...confidenceParams(BASE), minQuality: 0, minConviction: 0, minConfidence: 0.5 };

function ctxFor(ts: number, bars: ReadonlyMap<Symbol, Bar>, held: Record<string, number> = {}): StrategyContext {
  return {
    ts,
    symbols: [...bars.keys()],
    bar: (s) => bars.get(s),
    closes: () => [],
    price: (s) => bars.get(s)?.close,
    held: (s) => held[s] ?? 0,
    equity: 10_000,
    cash: 10_000,
  };
}

/** A steady trend of `n` hourly bars from `start`, `drift` per bar, with a small zig-zag so oscillators move. */
function trend(n: number, startTs: number, startPrice: number, drift: number): Bar[] {
  const bars: Bar[] = [];
  let price = startPrice;
  for (let i = 0; i < n; i++) {
    const open = price;
    price = price * (1 + drift + (i % 2 === 0 ? 0.001 : -0.0005));
    bars.push({ ts: startTs + i * HOUR, open, high: Math.max(open, price) * 1.001, low: Math.min(open, price) * 0.999, close: price, volume: 100 + (i % 5) });
  }
  return bars;
}

describe('confidence strategy', () => {
  it('enters only on the second consecutive qualifying scan, and exits on the second down scan', () => {
    const strategy = new ConfidenceStrategy(OPEN_THRESHOLDS, null, 'tests have no news');
    const up = trend(120, T0, 100, 0.003);
    const decided: Array<{ d: StrategyDecision; ts: number }> = [];
    for (const b of up) decided.push({ ts: b.ts, d: strategy.decide(ctxFor(b.ts, new Map([['BTC/USD', b]])))[0]! });
    const firstUp = decided.findIndex(({ d }) => d.signal.direction === 'up');
    expect(firstUp).toBeGreaterThan(0); // warming up first
    expect(decided.slice(0, firstUp).every(({ d }) => d.intent === null)).toBe(true);
    expect(decided[firstUp]!.d.intent).toBeNull(); // one scan is not enough
    expect(decided[firstUp + 1]!.d.signal.direction).toBe('up');
    const entry = decided[firstUp + 1]!.d.intent;
    expect(entry).toMatchObject({ side: 'buy', source: 'strategy' });
    expect(entry?.side === 'buy' ? entry.edge?.winProbability : undefined).toBe(0.5);

    // now holding; the market turns
    const last = up[up.length - 1]!;
    const down = trend(80, last.ts + HOUR, last.close, -0.004);
    const exits: Array<{ d: StrategyDecision }> = [];
    for (const b of down) exits.push({ d: strategy.decide(ctxFor(b.ts, new Map([['BTC/USD', b]]), { 'BTC/USD': 1 }))[0]! });
    const firstDown = exits.findIndex(({ d }) => d.signal.direction === 'down');
    expect(firstDown).toBeGreaterThan(0);
    expect(exits[firstDown]!.d.intent).toBeNull();
    expect(exits[firstDown + 1]!.d.intent).toMatchObject({ side: 'sell', qty: 1, reason: 'confidence: a down signal held for two scans' });
  });

  it('says the narrative is absent instead of inventing one, and keeps every number in the decision record', () => {
    const strategy = new ConfidenceStrategy(OPEN_THRESHOLDS, null, 'tests have no news');
    let d: StrategyDecision | undefined;
    for (const b of trend(100, T0, 100, 0.002)) d = strategy.decide(ctxFor(b.ts, new Map([['ETH/USD', b]])))[0];
    expect(d!.signal).toMatchObject({ divergence: 'absent', narrative: null });
    expect(typeof d!.signal.quality).toBe('number');
    expect(typeof d!.signal.rawScore).toBe('number');
    expect(Object.keys(d!.features).length).toBeGreaterThan(50);
    const view = strategy.signals();
    expect(view.note).toMatch(/narrative absent \(tests have no news\)/);
    expect(view.signals[0]!.evidence).toContain('the narrative view is absent: tests have no news');
    for (const line of view.signals[0]!.evidence) expect(line).not.toMatch(/\d/);
  });

  it('uses a narrative source when there is one, at the bar close and not later', () => {
    const asked: number[] = [];
    const strategy = new ConfidenceStrategy(OPEN_THRESHOLDS, { narrative: (_s, now) => (asked.push(now), -0.8) });
    let d: StrategyDecision | undefined;
    const bars = trend(100, T0, 100, 0.003);
    for (const b of bars) d = strategy.decide(ctxFor(b.ts, new Map([['BTC/USD', b]])))[0];
    expect(d!.signal).toMatchObject({ direction: 'up', divergence: 'divergent', narrative: -0.8 });
    expect(asked.at(-1)).toBe(bars.at(-1)!.ts + HOUR);
  });
});

describe('no look-ahead through the whole engine', () => {
  it('perturbing every bar after t leaves every decision up to t identical (and changes later ones)', async () => {
    const market = new EmbeddedMarket(['BTC/USD', 'ETH/USD', 'SOL/USD'], 7, 2_000);
    const batches: BarBatch[] = [];
    for (let i = 0; i < 1_400; i++) batches.push(market.next());
    const cut = 1_200;
    const perturbed = batches.map((b, i) =>
      i <= cut ? b : { ts: b.ts, bars: new Map([...b.bars].map(([s, bar]) => [s, { ...bar, open: bar.open * 1.07, high: bar.high * 1.2, low: bar.low * 0.9, close: bar.close * (i % 2 ? 1.1 : 0.92), volume: bar.volume * 3 }])) },
    );
    const decisionsOf = async (series: readonly BarBatch[]) => {
      const db = openDatabase(':memory:');
      let wall = T0;
      const clock = new SimClock();
      const config: Config = {
        ...BASE,
        strategy: { ...BASE.strategy, confidence: { ...BASE.strategy.confidence, minQuality: 0, minConviction: 0, minConfidence: 0.5, horizonBars: 6, winThreshold: 0, conservativeMargin: 0, calibration: { ...BASE.strategy.confidence.calibration, minSamples: 50, refitEvery: 20 } } },
      };
      const { engine } = buildSimEngine({
        config,
        mode: 'backtest',
        symbols: ['BTC/USD', 'ETH/USD', 'SOL/USD'],
        strategy: 'confidence',
        profile: 'full',
        startingEquity: 10_000,
        venue: undefined,
        marketDescription: 'embedded',
        journal: new SqliteJournal(db, () => (wall += 1)),
        state: new SqliteStateStore(db, () => (wall += 1)),
        notifier: { notify: () => undefined },
        clock,
        wallNow: () => (wall += 1),
        log: pino({ level: 'silent' }),
      });
      await engine.start();
      engine.prime(series.slice(0, 800));
      for (const b of series.slice(800)) await engine.handleBars(b);
      return db.prepare('SELECT ts, symbol, features, signal, intent, verdict, reason FROM decisions ORDER BY id').all() as Array<Record<string, unknown> & { ts: number; intent: string | null }>;
    };
    const a = await decisionsOf(batches);
    const b = await decisionsOf(perturbed);
    const t = batches[cut]!.ts;
    const upTo = (rows: typeof a) => rows.filter((r) => r.ts <= t);
    expect(upTo(a).length).toBe((cut - 800 + 1) * 3);
    expect(upTo(b)).toEqual(upTo(a));
    // the test has teeth: the run traded, and the perturbation changed what came after t
    expect(a.filter((r) => r.intent !== null).length).toBeGreaterThan(0);
    expect(a.some((r) => r.ts <= t && JSON.parse(r.signal as string).calibrated !== null)).toBe(true);
    expect(b.filter((r) => r.ts > t)).not.toEqual(a.filter((r) => r.ts > t));
  });
});
