import { describe, expect, it } from 'vitest';
import type { StateStore } from '../ports.js';
import type { OrderIntent, Position, Symbol } from '../types.js';
import { DEFAULT_LIMITS, type RiskLimits } from './limits.js';
import { Protections, type ProtectionView } from './protections.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 2, 1);

/** A StateStore that keeps JSON text, like the SQLite one: a new reader never shares objects with an old one. */
class MemoryStore implements StateStore {
  readonly data = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const raw = this.data.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }
  set(key: string, value: unknown): void {
    this.data.set(key, JSON.stringify(value));
  }
}

interface Bars {
  high: number[];
  low: number[];
  close: number[];
}

/**
 * Bars with a true range of 20 each (high − low = 20 around 100): an ATR of 20, so the default ATR bracket
 * (stop 3 ATR below, take 6 ATR above) sits far outside every price these tests use unless a test says otherwise.
 */
const WIDE: Bars = { high: Array(30).fill(110), low: Array(30).fill(90), close: Array(30).fill(100) };

interface ViewSpec {
  ts?: number;
  equity: number;
  positions: readonly Position[];
  prices?: Record<Symbol, number>;
  bars?: Record<Symbol, Bars>;
}

function view(spec: ViewSpec): ProtectionView {
  return {
    ts: spec.ts ?? T0,
    equity: spec.equity,
    positions: spec.positions,
    price: (s) => spec.prices?.[s],
    bars: (s, n) => {
      const b = spec.bars?.[s] ?? WIDE;
      const tail = (xs: number[]) => xs.slice(Math.max(0, xs.length - n));
      return { high: tail(b.high), low: tail(b.low), close: tail(b.close) };
    },
  };
}

function setup(overrides: Partial<RiskLimits> = {}, store: StateStore = new MemoryStore()) {
  let limits: RiskLimits = { ...DEFAULT_LIMITS, ...overrides };
  const protections = new Protections(() => limits, store);
  return {
    protections,
    store,
    setLimits: (more: Partial<RiskLimits>) => {
      limits = { ...limits, ...more };
    },
  };
}

const pos = (symbol: Symbol, qty: number, avgCost: number): Position => ({ symbol, qty, avgCost });

/** The intents as (symbol, qty, first word of the reason), for compact assertions. */
const summary = (intents: readonly OrderIntent[]) =>
  intents.map((i) => {
    if (i.side !== 'sell') throw new Error('protections only sell');
    expect(i.source).toBe('protection');
    return { symbol: i.symbol, qty: i.qty, rule: i.reason.split(':')[0] };
  });

describe('Protections: the cycle', () => {
  it('opens on the first fills that go from flat to holding, with the equity before the fills as its start', () => {
    const { protections } = setup();
    expect(protections.cycle).toBeUndefined();
    // Fills that leave the book flat (an order that did nothing lasting) do not open a cycle.
    protections.afterFills(view({ equity: 10_000, positions: [] }), 10_000);
    expect(protections.cycle).toBeUndefined();

    protections.afterFills(view({ ts: T0 + HOUR, equity: 9_990, positions: [pos('A', 10, 100)], prices: { A: 99 } }), 10_000);
    expect(protections.cycle).toEqual({ startEquity: 10_000, peakEquity: 10_000, profitTaken: false, startedAt: T0 + HOUR });

    // More fills while invested do not restart it.
    protections.afterFills(view({ ts: T0 + 2 * HOUR, equity: 10_050, positions: [pos('A', 10, 100), pos('B', 1, 50)], prices: { A: 100, B: 50 } }), 10_040);
    expect(protections.cycle).toMatchObject({ startEquity: 10_000, startedAt: T0 + HOUR });

    // Flat again: the cycle ends.
    protections.afterFills(view({ ts: T0 + 3 * HOUR, equity: 10_060, positions: [] }), 10_060);
    expect(protections.cycle).toBeUndefined();
  });

  it('does nothing without a cycle or without positions', () => {
    const { protections } = setup();
    // Holding a position that crashed, but no cycle was ever opened (no afterFills): nothing to go on.
    expect(protections.evaluate(view({ equity: 5_000, positions: [pos('A', 10, 100)], prices: { A: 10 } }))).toEqual({ intents: [], trailingStopFired: false });
  });
});

describe('Protections: per-position rules', () => {
  it('the stop-loss fires at exactly 10% below the average cost, not at 9.99%', () => {
    const { protections } = setup();
    const held = [pos('A', 10, 100)];
    protections.afterFills(view({ equity: 10_000, positions: held, prices: { A: 100 } }), 10_000);
    // Equity is held steady so no portfolio rule can interfere.
    expect(protections.evaluate(view({ equity: 10_000, positions: held, prices: { A: 90.01 } })).intents).toEqual([]);
    const out = protections.evaluate(view({ equity: 10_000, positions: held, prices: { A: 90 } }));
    expect(summary(out.intents)).toEqual([{ symbol: 'A', qty: 10, rule: 'stop-loss' }]);
    expect(out.intents[0]!.reason).toBe('stop-loss: 10.00% below the average cost');
    expect(out.trailingStopFired).toBe(false);
  });

  it('follows a tweaked stop-loss and sells only the position that hit it', () => {
    const { protections } = setup({ stopLoss: 0.05 });
    const held = [pos('A', 10, 100), pos('B', 4, 50)];
    protections.afterFills(view({ equity: 10_000, positions: held, prices: { A: 100, B: 50 } }), 10_000);
    expect(protections.evaluate(view({ equity: 10_000, positions: held, prices: { A: 95.01, B: 47.5 } })).intents.map((i) => i.symbol)).toEqual(['B']);
  });

  it('ATR bracket: stop at entry − atrStop·ATR and take at entry + atrTake·ATR, with the ATR of the bars at entry', () => {
    // Hand ATR over 3 bars, with gaps (the previous close decides): true ranges 3, 5, 4 → ATR 4.
    //   bar 1: max(102−99, |102−100|, |99−100|) = 3; bar 2 gaps up: max(106−104, |106−101|, |104−101|) = 5;
    //   bar 3 gaps down: max(104−101, |104−105|, |101−105|) = 4.
    // Earlier bars with a huge range must be ignored (only atrPeriod + 1 bars are read).
    const bars: Bars = { high: [500, 300, 102, 102, 106, 104], low: [1, 100, 98, 99, 104, 101], close: [200, 150, 100, 101, 105, 102] };
    const atr = (3 + 5 + 4) / 3;
    const entry = 100;
    const stop = entry - 1 * atr; // 96
    const take = entry + 2 * atr; // 108
    const { protections } = setup({ atrBrackets: 1, atrPeriod: 3, atrStop: 1, atrTake: 2 });
    const held = [pos('A', 10, entry)];
    protections.afterFills(view({ equity: 10_000, positions: held, prices: { A: 102 }, bars: { A: bars } }), 10_000);
    const at = (price: number) => protections.evaluate(view({ equity: 10_000, positions: held, prices: { A: price }, bars: { A: WIDE } })).intents;
    expect(at(stop + 0.01)).toEqual([]);
    expect(at(take - 0.01)).toEqual([]);
    expect(summary(at(stop))).toEqual([{ symbol: 'A', qty: 10, rule: 'ATR stop at $96.00' }]);
    expect(summary(at(take))).toEqual([{ symbol: 'A', qty: 10, rule: 'ATR take-profit at $108.00' }]);
  });

  it('the bracket is set once at entry: later bars and fills do not move it', () => {
    const calm: Bars = { high: [101, 101, 101, 101], low: [99, 99, 99, 99], close: [100, 100, 100, 100] }; // ATR 2
    const { protections } = setup({ atrBrackets: 1, atrPeriod: 3, atrStop: 1, atrTake: 2 });
    const held = [pos('A', 10, 100)];
    protections.afterFills(view({ equity: 10_000, positions: held, prices: { A: 100 }, bars: { A: calm } }), 10_000);
    // A later fill (another symbol) with wild bars for A: A's bracket (stop 98, take 104) stays.
    const more = [pos('A', 10, 100), pos('B', 1, 50)];
    protections.afterFills(view({ equity: 10_000, positions: more, prices: { A: 100, B: 50 }, bars: { A: WIDE } }), 10_000);
    const at = (price: number) => protections.evaluate(view({ equity: 10_000, positions: more, prices: { A: price, B: 50 } })).intents.map((i) => i.reason);
    expect(at(98.01)).toEqual([]);
    expect(at(98)).toEqual(['ATR stop at $98.00']);
    expect(at(104)).toEqual(['ATR take-profit at $104.00']);
  });

  it('no bracket when atrBrackets = 0, nor when the ATR is unknown', () => {
    const calm: Bars = { high: [101, 101, 101, 101], low: [99, 99, 99, 99], close: [100, 100, 100, 100] };
    const off = setup({ atrBrackets: 0, atrPeriod: 3, atrStop: 1, atrTake: 2 }).protections;
    const held = [pos('A', 10, 100)];
    off.afterFills(view({ equity: 10_000, positions: held, prices: { A: 100 }, bars: { A: calm } }), 10_000);
    for (const price of [98, 95, 104, 150]) expect(off.evaluate(view({ equity: 10_000, positions: held, prices: { A: price } })).intents).toEqual([]);
    // Brackets on, but only 3 bars of history for a 3-bar ATR (needs 4).
    const short = setup({ atrBrackets: 1, atrPeriod: 3, atrStop: 1, atrTake: 2 }).protections;
    short.afterFills(view({ equity: 10_000, positions: held, prices: { A: 100 }, bars: { A: { high: [101, 101, 101], low: [99, 99, 99], close: [100, 100, 100] } } }), 10_000);
    expect(short.evaluate(view({ equity: 10_000, positions: held, prices: { A: 95 } })).intents).toEqual([]);
  });

  it('the trailing stop is off by default and, when set, fires the fraction below the highest close since entry', () => {
    const held = [pos('A', 10, 100)];
    const path = [100, 120, 150, 140, 135.01, 135];
    const run = (p: Protections) => {
      p.afterFills(view({ equity: 10_000, positions: held, prices: { A: 100 } }), 10_000);
      return path.map((price) => p.evaluate(view({ equity: 10_000, positions: held, prices: { A: price } })).intents.map((i) => i.reason));
    };
    expect(run(setup().protections).every((r) => r.length === 0)).toBe(true);
    // 10% below the high of 150 is 135: not at 135.01, at 135.
    expect(run(setup({ trailingStop: 0.1 }).protections)).toEqual([[], [], [], [], [], ['trailing stop: 10.00% below the high since entry']]);
  });
});

describe('Protections: portfolio rules', () => {
  const held = [pos('A', 50, 100), pos('B', 100, 50)];
  const prices = { A: 100, B: 50 };

  it('the portfolio trailing stop is not armed while the cycle peak is at or below its start', () => {
    const { protections } = setup();
    protections.afterFills(view({ equity: 10_000, positions: held, prices }), 10_000);
    for (const equity of [10_000, 9_500, 9_000, 9_999]) {
      expect(protections.evaluate(view({ equity, positions: held, prices }))).toEqual({ intents: [], trailingStopFired: false });
    }
    expect(protections.cycle?.peakEquity).toBe(10_000);
  });

  it('once the peak is above the start, it fires at 1.5% below the peak, selling everything', () => {
    const { protections } = setup();
    protections.afterFills(view({ equity: 9_900, positions: held, prices }), 9_900);
    // Up to a peak of 10,000 (+1.01%, short of the +3% profit-take).
    expect(protections.evaluate(view({ equity: 10_000, positions: held, prices })).intents).toEqual([]);
    expect(protections.cycle?.peakEquity).toBe(10_000);
    // 1.5% below 10,000 is 9,850.
    expect(protections.evaluate(view({ equity: 9_850.01, positions: held, prices }))).toEqual({ intents: [], trailingStopFired: false });
    const out = protections.evaluate(view({ equity: 9_850, positions: held, prices }));
    expect(out.trailingStopFired).toBe(true);
    expect(summary(out.intents)).toEqual([
      { symbol: 'A', qty: 50, rule: 'portfolio trailing stop' },
      { symbol: 'B', qty: 100, rule: 'portfolio trailing stop' },
    ]);
    expect(out.intents[0]!.reason).toBe('portfolio trailing stop: equity 1.50% below the cycle peak of $10000.00');
  });

  it('profit-take fires at +3% once per cycle, selling profitTakeFraction of each position, and again in a new cycle', () => {
    const { protections } = setup();
    protections.afterFills(view({ equity: 10_000, positions: held, prices }), 10_000);
    expect(protections.evaluate(view({ equity: 10_299.99, positions: held, prices })).intents).toEqual([]);
    const first = protections.evaluate(view({ equity: 10_300, positions: held, prices }));
    expect(first.trailingStopFired).toBe(false);
    expect(summary(first.intents)).toEqual([
      { symbol: 'A', qty: 25, rule: 'profit-take' },
      { symbol: 'B', qty: 50, rule: 'profit-take' },
    ]);
    expect(protections.cycle?.profitTaken).toBe(true);

    // After the partial sale, still in the same cycle and higher still: no second profit-take.
    const half = [pos('A', 25, 100), pos('B', 50, 50)];
    protections.afterFills(view({ equity: 10_310, positions: half, prices }), 10_300);
    expect(protections.evaluate(view({ equity: 10_500, positions: half, prices })).intents).toEqual([]);
    expect(protections.evaluate(view({ equity: 10_700, positions: half, prices })).intents).toEqual([]);

    // Flat, then a new entry: a new cycle starting at 10,700, whose +3% is 11,021.
    protections.afterFills(view({ equity: 10_700, positions: [] }), 10_700);
    expect(protections.cycle).toBeUndefined();
    protections.afterFills(view({ equity: 10_700, positions: held, prices }), 10_700);
    expect(protections.cycle).toMatchObject({ startEquity: 10_700, profitTaken: false });
    expect(protections.evaluate(view({ equity: 11_020.99, positions: held, prices })).intents).toEqual([]);
    expect(summary(protections.evaluate(view({ equity: 11_021, positions: held, prices })).intents).map((s) => s.rule)).toEqual(['profit-take', 'profit-take']);
  });

  it('profit-take follows its knobs: another fraction, and none at fraction 0', () => {
    const quarter = setup({ profitTakeFraction: 0.25, profitTakeAt: 0.1 }).protections;
    quarter.afterFills(view({ equity: 10_000, positions: held, prices }), 10_000);
    expect(quarter.evaluate(view({ equity: 10_999, positions: held, prices })).intents).toEqual([]);
    expect(summary(quarter.evaluate(view({ equity: 11_000, positions: held, prices })).intents).map((s) => s.qty)).toEqual([12.5, 25]);
    const off = setup({ profitTakeFraction: 0 }).protections;
    off.afterFills(view({ equity: 10_000, positions: held, prices }), 10_000);
    expect(off.evaluate(view({ equity: 10_300, positions: held, prices })).intents).toEqual([]);
  });

  it('portfolio rules pre-empt per-position rules on the same bar', () => {
    // A is at its stop-loss on the bar the profit-take fires: only the profit-take's half sale goes out.
    const { protections } = setup();
    protections.afterFills(view({ equity: 10_000, positions: held, prices }), 10_000);
    const crashed = { A: 90, B: 50 };
    const first = protections.evaluate(view({ equity: 10_300, positions: held, prices: crashed }));
    expect(summary(first.intents)).toEqual([
      { symbol: 'A', qty: 25, rule: 'profit-take' },
      { symbol: 'B', qty: 50, rule: 'profit-take' },
    ]);
    // The next bar the profit-take is spent and the stop-loss has its turn.
    expect(summary(protections.evaluate(view({ equity: 10_300, positions: held, prices: crashed })).intents)).toEqual([{ symbol: 'A', qty: 50, rule: 'stop-loss' }]);

    // The portfolio trailing stop likewise replaces the stop-loss's sale of A by its sale of everything.
    const other = setup().protections;
    other.afterFills(view({ equity: 9_900, positions: held, prices }), 9_900);
    other.evaluate(view({ equity: 10_000, positions: held, prices }));
    const out = other.evaluate(view({ equity: 9_800, positions: held, prices: crashed }));
    expect(out.trailingStopFired).toBe(true);
    expect(summary(out.intents).map((s) => s.rule)).toEqual(['portfolio trailing stop', 'portfolio trailing stop']);
  });
});

describe('Protections: persistence', () => {
  it('a new instance over the same store keeps the cycle (start, peak, profit taken) and the brackets', () => {
    const store = new MemoryStore();
    const calm: Bars = { high: [101, 101, 101, 101], low: [99, 99, 99, 99], close: [100, 100, 100, 100] }; // ATR 2
    const knobs = { atrBrackets: 1, atrPeriod: 3, atrStop: 1, atrTake: 10 };
    const held = [pos('A', 10, 100)];
    const first = setup(knobs, store).protections;
    first.afterFills(view({ ts: T0, equity: 10_000, positions: held, prices: { A: 100 }, bars: { A: calm } }), 10_000);
    // Profit-take spent and a peak of 10,400 reached, both in the first instance.
    expect(first.evaluate(view({ equity: 10_300, positions: held, prices: { A: 100 } })).intents).toHaveLength(1);
    first.evaluate(view({ equity: 10_400, positions: held, prices: { A: 100 } }));

    const second = setup(knobs, store).protections;
    expect(second.cycle).toEqual({ startEquity: 10_000, peakEquity: 10_400, profitTaken: true, startedAt: T0 });
    // No second profit-take after the restart.
    expect(second.evaluate(view({ equity: 10_390, positions: held, prices: { A: 100 } })).intents).toEqual([]);
    // The bracket from the first instance (stop 98) still holds, though the bars now say ATR 20.
    const third = setup(knobs, store).protections;
    third.afterFills(view({ equity: 10_390, positions: held, prices: { A: 100 }, bars: { A: WIDE } }), 10_390);
    expect(third.evaluate(view({ equity: 10_390, positions: held, prices: { A: 98 } })).intents.map((i) => i.reason)).toEqual(['ATR stop at $98.00']);
    // And the persisted peak arms the trailing stop: 1.5% below 10,400 is 10,244.
    const fourth = setup(knobs, store).protections;
    const out = fourth.evaluate(view({ equity: 10_244, positions: held, prices: { A: 100 } }));
    expect(out.trailingStopFired).toBe(true);
  });
});
