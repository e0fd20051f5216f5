import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildSimEngine } from '../../src/engine-factory.js';
import { openDatabase } from '../../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../../src/store/sqlite-journal.js';
import { SimClock } from '../clock.js';
import { loadCsvDirectory } from '../market/csv.js';
import { ReplayFeed } from '../market/replay-feed.js';
import { runFeed } from '../runner.js';
import type { OrderIntent, Symbol } from '../types.js';
import { createStrategy } from './index.js';
import { MomentumStrategy, momentumWeights, rankByMomentum, type MomentumParams } from './momentum.js';
import type { StrategyContext, StrategyDecision } from './strategy.js';

const T0 = Date.UTC(2024, 0, 1);

/**
 * A small fake of what the engine hands a strategy: `closes` per symbol (oldest first), the price is the last
 * close, equity = cash + held × price.
 */
function context(o: { closes: Record<Symbol, number[]>; held?: Record<Symbol, number>; cash: number }): StrategyContext {
  const symbols = Object.keys(o.closes);
  const price = (s: Symbol) => o.closes[s]?.at(-1);
  const held = (s: Symbol) => o.held?.[s] ?? 0;
  return {
    ts: T0,
    symbols,
    bar: () => undefined,
    closes: (s, count) => (o.closes[s] ?? []).slice(-count),
    price,
    held,
    equity: o.cash + symbols.reduce((a, s) => a + held(s) * (price(s) ?? 0), 0),
    cash: o.cash,
  };
}

function intents(decisions: readonly StrategyDecision[]): OrderIntent[] {
  return decisions.flatMap((d) => (d.intent ? [d.intent] : []));
}

function of(decisions: readonly StrategyDecision[], symbol: Symbol): StrategyDecision {
  return decisions.find((d) => d.symbol === symbol)!;
}

const PARAMS: MomentumParams = { lookbackBars: 2, topK: 1, rebalanceBars: 4, cashBuffer: 0, rebalanceBand: 0.1 };

/** Decide `n` bars in a row on the same book, returning every intent seen. */
function quietBars(s: MomentumStrategy, n: number, book: Parameters<typeof context>[0]): OrderIntent[] {
  const seen: OrderIntent[] = [];
  for (let i = 0; i < n; i++) seen.push(...intents(s.decide(context(book))));
  return seen;
}

describe('MomentumStrategy (top-k by trailing return on the target-weight book)', () => {
  it('ranks by the return over the last lookbackBars bars only and buys the top k at 1/k of the investable equity', () => {
    const s = new MomentumStrategy({ ...PARAMS, topK: 2, cashBuffer: 0.01 });
    // A +10%, B +5%, C +20% over the last two bars; A's first close (1) is older than the look-back and ignored.
    const d = s.decide(context({ closes: { A: [1, 100, 105, 110], B: [100, 100, 105], C: [50, 55, 60] }, cash: 10_000 }));
    expect(d.map((x) => x.symbol).sort()).toEqual(['A', 'B', 'C']);
    expect(of(d, 'C').signal).toMatchObject({ rank: 1, selected: true, rebalance: true, phase: 'rebalance' });
    expect(of(d, 'A').signal).toMatchObject({ rank: 2, selected: true });
    expect(of(d, 'B').signal).toMatchObject({ rank: 3, selected: false });
    expect(of(d, 'A').features.momentum).toBeCloseTo(0.1, 12);
    expect(of(d, 'B').features.momentum).toBeCloseTo(0.05, 12);
    expect(of(d, 'C').features.momentum).toBeCloseTo(0.2, 12);
    expect(of(d, 'C').features).toMatchObject({ weight: 0.5, target: 4_950, close: 60, value: 0 });
    expect(of(d, 'B').features).toMatchObject({ weight: 0, target: 0 });
    expect(intents(d)).toEqual([
      { symbol: 'A', side: 'buy', notional: 4_950, source: 'strategy', reason: 'top-k momentum: entry' },
      { symbol: 'C', side: 'buy', notional: 4_950, source: 'strategy', reason: 'top-k momentum: entry' },
    ]);
  });

  it('ranking helpers: ties keep the universe order; only positive returns get a weight, the unused slots stay in cash', () => {
    const ranked = rankByMomentum(new Map([['A', 0.01], ['B', null], ['C', 0.03], ['D', 0.01], ['E', -0.2]]));
    expect(ranked).toEqual([['C', 0.03], ['A', 0.01], ['D', 0.01], ['E', -0.2]]);
    expect([...momentumWeights(ranked, 2)]).toEqual([['C', 0.5], ['A', 0.5]]);
    expect([...momentumWeights(ranked, 4)]).toEqual([['C', 0.25], ['A', 0.25], ['D', 0.25]]);
    expect([...momentumWeights([['E', -0.2], ['F', 0]] as Array<[Symbol, number]>, 2)]).toEqual([]);
  });

  it('positive-return filter: a flat or falling symbol is never bought, even with a free slot; holdings that turn negative are sold', () => {
    const s = new MomentumStrategy({ ...PARAMS, topK: 2 });
    // A +2%, B −3%, C 0%: only A is held, at half the equity (the second slot stays in cash).
    const d = s.decide(context({ closes: { A: [100, 101, 102], B: [100, 99, 97], C: [100, 100, 100] }, cash: 10_000 }));
    expect(intents(d)).toEqual([{ symbol: 'A', side: 'buy', notional: 5_000, source: 'strategy', reason: 'top-k momentum: entry' }]);
    expect(of(d, 'C').signal).toMatchObject({ rank: 2, selected: false });
    // Held; at the next rebalance point everything falls: A is sold in full, nothing is bought.
    const falling = { closes: { A: [102, 101, 100], B: [97, 96, 95], C: [100, 100, 99] }, held: { A: 5_000 / 102 }, cash: 5_000 };
    expect(quietBars(s, PARAMS.rebalanceBars - 1, falling)).toEqual([]);
    const down = s.decide(context(falling));
    expect(intents(down)).toEqual([{ symbol: 'A', side: 'sell', qty: 5_000 / 102, source: 'strategy', reason: 'top-k momentum: not in the target weights' }]);
    expect(down.every((x) => x.signal.selected === false)).toBe(true);
  });

  it('warm-up: nothing trades until every symbol has lookbackBars + 1 closes; the clock starts at the first warm bar', () => {
    const s = new MomentumStrategy({ ...PARAMS, lookbackBars: 3 });
    expect(s.warmupBars).toBe(4);
    // B has its four closes, A only three: warming, no intents, no rank for A.
    const cold = s.decide(context({ closes: { A: [100, 101, 102], B: [100, 101, 102, 103] }, cash: 10_000 }));
    expect(intents(cold)).toEqual([]);
    expect(of(cold, 'A').signal).toEqual({ phase: 'warming', rank: null, selected: false, rebalance: false });
    expect(of(cold, 'A').features.momentum).toBeNull();
    expect(of(cold, 'B').signal).toMatchObject({ phase: 'warming', rank: 1 });
    for (let i = 0; i < 5; i++) expect(intents(s.decide(context({ closes: { A: [101, 102], B: [100, 101, 102, 103] }, cash: 10_000 })))).toEqual([]);
    // First warm bar: the entry (a rebalance point), whatever the number of bars decided before it.
    const warm = { closes: { A: [100, 101, 102, 110], B: [100, 101, 102, 103] }, cash: 10_000 };
    const entry = s.decide(context(warm));
    expect(intents(entry)).toEqual([{ symbol: 'A', side: 'buy', notional: 10_000, source: 'strategy', reason: 'top-k momentum: entry' }]);
    // The next points are rebalanceBars after it.
    const rotated = { closes: { A: [110, 109, 108, 107], B: [103, 104, 105, 120] }, held: { A: 10_000 / 110 }, cash: 0 };
    expect(quietBars(s, PARAMS.rebalanceBars - 1, rotated)).toEqual([]);
    expect(intents(s.decide(context(rotated))).map((i) => [i.symbol, i.side])).toEqual([['A', 'sell']]);
  });

  it('trades only on rebalance points: a change of leader between them is recorded but not acted on', () => {
    const s = new MomentumStrategy(PARAMS);
    s.decide(context({ closes: { A: [100, 105, 110], B: [100, 100, 100] }, cash: 10_000 }));
    const flipped = { closes: { A: [110, 100, 90], B: [100, 110, 120] }, held: { A: 10_000 / 110 }, cash: 0 };
    for (let i = 1; i < PARAMS.rebalanceBars; i++) {
      const d = s.decide(context(flipped));
      expect(intents(d)).toEqual([]);
      // The record shows the new ranking, and the weights still held from the last point.
      expect(of(d, 'B').signal).toMatchObject({ rank: 1, selected: false, phase: 'hold', rebalance: false });
      expect(of(d, 'A').signal).toMatchObject({ rank: 2, selected: true });
    }
    const d = s.decide(context(flipped));
    expect(of(d, 'B').signal).toMatchObject({ rank: 1, selected: true, phase: 'rebalance', rebalance: true });
    expect(intents(d).map((i) => [i.symbol, i.side])).toEqual([['A', 'sell']]);
  });

  it('a rotation sells first and buys on the next bar, after the sells filled, toward the targets of the rebalance point', () => {
    const s = new MomentumStrategy({ ...PARAMS, cashBuffer: 0.01 });
    const entry = s.decide(context({ closes: { A: [100, 105, 110], B: [100, 100, 100] }, cash: 10_000 }));
    expect(intents(entry)).toEqual([{ symbol: 'A', side: 'buy', notional: 9_900, source: 'strategy', reason: 'top-k momentum: entry' }]);
    // Filled: 90 A at 110, 100 USD left.
    const flipped = { closes: { A: [110, 100, 100], B: [100, 110, 120] }, held: { A: 90 }, cash: 100 };
    quietBars(s, PARAMS.rebalanceBars - 1, flipped);
    const rebalance = s.decide(context(flipped));
    // B needs 0.99 × 9100 = 9009 with 100 in cash while A is being sold: B waits for the sell.
    expect(intents(rebalance)).toEqual([{ symbol: 'A', side: 'sell', qty: 90, source: 'strategy', reason: 'top-k momentum: not in the target weights' }]);
    expect(rebalance[0]!.symbol).toBe('A'); // sells listed first
    expect(of(rebalance, 'B').signal).toMatchObject({ phase: 'rebalance', selected: true, waitingForSells: true });
    // Next bar: A sold (8955 after costs), and A leads again: the follow-up still buys B, the target of the point.
    const sold = { closes: { A: [100, 100, 130], B: [110, 120, 118] }, cash: 100 + 8_955 };
    const follow = s.decide(context(sold));
    expect(of(follow, 'A').signal).toMatchObject({ rank: 1, selected: false, phase: 'follow-up' });
    expect(intents(follow)).toEqual([{ symbol: 'B', side: 'buy', notional: 0.99 * 9_055, source: 'strategy', reason: 'top-k momentum: entry after the sells filled' }]);
    // Then quiet until the next point.
    expect(quietBars(s, PARAMS.rebalanceBars - 2, { ...sold, held: { B: 75 }, cash: 200 })).toEqual([]);
  });

  it('a rebalance with cash enough for its buys places its sells and buys on the same bar; short of cash, the buys wait', () => {
    const entry = { closes: { A: [100, 99, 98], B: [100, 101, 102], C: [100, 99, 98] }, cash: 10_000 };
    // Only B rises: one slot of two is used, half the equity stays in cash.
    const rotate = (cash: number, heldB: number) => {
      const s = new MomentumStrategy({ ...PARAMS, topK: 2 });
      expect(intents(s.decide(context(entry)))).toEqual([{ symbol: 'B', side: 'buy', notional: 5_000, source: 'strategy', reason: 'top-k momentum: entry' }]);
      // Then B falls and C rises: B is sold, C gets half the equity.
      const book = { closes: { A: [100, 99, 98], B: [102, 101, 100], C: [98, 99, 100.5] }, held: { B: heldB }, cash };
      quietBars(s, PARAMS.rebalanceBars - 1, book);
      return s.decide(context(book));
    };
    // B 5000 + cash 5000: C's target 5000 is covered by the cash: sell and buy together, the sell listed first.
    expect(intents(rotate(5_000, 50))).toEqual([
      { symbol: 'B', side: 'sell', qty: 50, source: 'strategy', reason: 'top-k momentum: not in the target weights' },
      { symbol: 'C', side: 'buy', notional: 5_000, source: 'strategy', reason: 'top-k momentum: entry' },
    ]);
    // B 6000 + cash 4000: C needs 5000, more than the cash: only the sell now, C waits for it.
    const short = rotate(4_000, 60);
    expect(intents(short).map((i) => [i.symbol, i.side])).toEqual([['B', 'sell']]);
    expect(of(short, 'C').signal).toMatchObject({ waitingForSells: true, selected: true });
  });

  it('band: a holding within rebalanceBand of its target is left alone; outside it, it is trimmed or topped up', () => {
    const s = new MomentumStrategy({ ...PARAMS, topK: 2 });
    const closes = { A: [99, 100, 100], B: [90, 95, 100] };
    s.decide(context({ closes, cash: 10_000 }));
    // Equity 10000, targets 5000: A 5400 (+8%), B 4600 (−8%): inside the 10% band, nothing trades.
    const inside = { closes, held: { A: 54, B: 46 }, cash: 0 };
    expect(quietBars(s, PARAMS.rebalanceBars, inside)).toEqual([]);
    // Next point: A 5000, B 4400 (−12%) with 600 in cash: B is topped up at once.
    const short = { closes, held: { A: 50, B: 44 }, cash: 600 };
    quietBars(s, PARAMS.rebalanceBars - 1, short);
    expect(intents(s.decide(context(short)))).toEqual([{ symbol: 'B', side: 'buy', notional: 600, source: 'strategy', reason: 'top-k momentum: topping up to target' }]);
    // Next point: A 5600 (+12%), B 4400: A is trimmed by 6 units; B's 600 waits for that sell.
    const over = { closes, held: { A: 56, B: 44 }, cash: 0 };
    quietBars(s, PARAMS.rebalanceBars - 1, over);
    const d = s.decide(context(over));
    expect(intents(d)).toEqual([{ symbol: 'A', side: 'sell', qty: 6, source: 'strategy', reason: 'top-k momentum: trimming to target' }]);
    expect(of(d, 'B').signal).toMatchObject({ waitingForSells: true });
    // The follow-up: the sell brought 590; B's shortfall at the new equity (4995 − 4400 = 595) is capped at the 590 on hand.
    const after = { closes, held: { A: 50, B: 44 }, cash: 590 };
    expect(intents(s.decide(context(after)))).toEqual([
      { symbol: 'B', side: 'buy', notional: 590, source: 'strategy', reason: 'top-k momentum: topping up to target after the sells filled, scaled to the cash on hand' },
    ]);
  });

  it('a follow-up buy left under the band after scaling to the cash is not placed (not worth its fee)', () => {
    const s = new MomentumStrategy(PARAMS);
    s.decide(context({ closes: { A: [100, 105, 110], B: [100, 100, 100] }, cash: 10_000 }));
    const flipped = { closes: { A: [110, 100, 100], B: [100, 110, 120] }, held: { A: 100 }, cash: 0 };
    quietBars(s, PARAMS.rebalanceBars - 1, flipped);
    expect(intents(s.decide(context(flipped))).map((i) => i.side)).toEqual(['sell']);
    // Only 5 of the 100 A filled: the 500 in cash is 5% of B's 10000 target, under the 10% band.
    expect(intents(s.decide(context({ ...flipped, held: { A: 95 }, cash: 500 })))).toEqual([]);
  });

  it('a restart that finds positions rebalances on its first warm bar (no hold), then every rebalanceBars bars', () => {
    const s = new MomentumStrategy(PARAMS);
    // Held A, which now falls; B leads: A is sold at once and B waits for the proceeds.
    const book = { closes: { A: [110, 100, 90], B: [100, 110, 120] }, held: { A: 50 }, cash: 5_000 };
    const first = s.decide(context(book));
    expect(intents(first)).toEqual([{ symbol: 'A', side: 'sell', qty: 50, source: 'strategy', reason: 'top-k momentum: not in the target weights' }]);
    expect(of(first, 'B').signal).toMatchObject({ phase: 'rebalance', rank: 1, selected: true, waitingForSells: true });
    const after = { closes: book.closes, cash: 9_400 };
    expect(intents(s.decide(context(after)))).toEqual([{ symbol: 'B', side: 'buy', notional: 9_400, source: 'strategy', reason: 'top-k momentum: entry after the sells filled' }]);
    expect(quietBars(s, PARAMS.rebalanceBars - 2, { ...after, held: { B: 78 }, cash: 40 })).toEqual([]);
    // Still the leader and within the band at the next point: nothing to do.
    const d = s.decide(context({ ...after, held: { B: 78 }, cash: 40 }));
    expect(d[0]!.signal).toMatchObject({ phase: 'rebalance' });
    expect(intents(d)).toEqual([]);
  });

  it('tunables: topK, lookbackBars (only shorter), rebalanceBars, rebalanceBand, cashBuffer; changes apply at the next point', () => {
    const s = new MomentumStrategy({ ...PARAMS, lookbackBars: 3 });
    expect(s.tunables.map((t) => t.name)).toEqual(['topK', 'lookbackBars', 'rebalanceBars', 'rebalanceBand', 'cashBuffer']);
    const t = (name: string) => s.tunables.find((x) => x.name === name)!;
    expect(t('lookbackBars').max).toBe(3);
    const closes = { A: [100, 100, 104, 106], B: [100, 101, 103, 105], C: [100, 100, 100, 90] };
    expect(intents(s.decide(context({ closes, cash: 10_000 }))).map((i) => i.symbol)).toEqual(['A']);
    t('topK').set(2);
    t('cashBuffer').set(0.1);
    t('lookbackBars').set(2);
    t('rebalanceBars').set(2);
    // Held A (10000); one quiet bar, then the new 2-bar point: over 2 bars A +6%, B +3.96%, C −10%: A and B, 4500 each.
    const held = { closes, held: { A: 10_000 / 106 }, cash: 0 };
    expect(quietBars(s, 1, held)).toEqual([]);
    const d = s.decide(context(held));
    expect(of(d, 'A').features.momentum).toBeCloseTo(106 / 100 - 1, 12);
    expect(intents(d).map((i) => [i.symbol, i.side, i.reason])).toEqual([['A', 'sell', 'top-k momentum: trimming to target']]);
    expect((intents(d)[0] as { qty: number }).qty).toBeCloseTo(5_500 / 106, 12);
    expect(of(d, 'B').signal).toMatchObject({ selected: true, waitingForSells: true });
    expect(of(d, 'B').features.target).toBeCloseTo(4_500, 9);
  });

  it('is built from config/default.yaml by createStrategy', () => {
    const { config } = loadConfig({});
    const s = createStrategy('momentum', { momentum: config.strategy.momentum, confidence: {} as never });
    expect(s.name).toBe('momentum');
    expect(s.warmupBars).toBe(config.strategy.momentum.lookbackBars + 1);
    expect(Object.fromEntries(s.tunables.map((x) => [x.name, x.get()]))).toEqual({ ...config.strategy.momentum });
  });
});

const DATA_DIR = resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/data/binance-1h');
const RUNS = [['BTC/USD', 'ETH/USD'], ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD']] as const;
const missing = RUNS.flat().filter((s) => !existsSync(join(DATA_DIR, `${s.replace('/', '')}.csv`)));
if (missing.length > 0) console.warn(`momentum: the zero-denial check on real bars is skipped, market data not found at ${DATA_DIR} (${missing.join(', ')})`);

describe.skipIf(missing.length > 0)('momentum on real bars through the engine (2023-01-01..2024-04-18, default config)', () => {
  it.each(RUNS.map((symbols) => [symbols.join(','), symbols] as const))('%s: the risk gate denies nothing; every order fills', async (_name, symbols) => {
    const { config } = loadConfig({});
    const feed = new ReplayFeed(loadCsvDirectory(DATA_DIR, symbols), 'CSV replay', { from: Date.UTC(2023, 0, 1), toExclusive: Date.UTC(2024, 3, 19) });
    const db = openDatabase(':memory:');
    try {
      const clock = new SimClock();
      const { engine } = buildSimEngine({
        config,
        mode: 'backtest',
        symbols,
        strategy: 'momentum',
        profile: 'benchmark',
        startingEquity: 10_000,
        venue: undefined,
        marketDescription: feed.description,
        journal: new SqliteJournal(db),
        state: new SqliteStateStore(db, () => clock.now()),
        notifier: { notify: () => undefined },
        clock,
        wallNow: () => clock.now(),
        log: pino({ level: 'silent' }),
      });
      await engine.start();
      engine.prime(feed.history(2_000)); // as the backtest does
      await runFeed(feed, (batch) => engine.handleBars(batch), { barsPerSecond: 0 });
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      expect(count("SELECT count(*) AS n FROM risk_events WHERE kind = 'denied'")).toBe(0);
      expect(count("SELECT count(*) AS n FROM decisions WHERE verdict = 'denied'")).toBe(0);
      const placed = count("SELECT count(*) AS n FROM decisions WHERE verdict = 'approved'");
      expect(placed).toBeGreaterThan(20);
      expect(count("SELECT count(*) AS n FROM orders WHERE status = 'filled'")).toBe(placed);
      expect(count('SELECT count(*) AS n FROM orders')).toBe(placed);
    } finally {
      db.close();
    }
  }, 60_000);
});
