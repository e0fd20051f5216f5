import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { OrderIntent, Symbol } from '../types.js';
import { BUYHOLD_DEFAULTS, BuyHoldStrategy, type BuyHoldParams } from './buyhold.js';
import { createStrategy } from './index.js';
import type { StrategyContext, StrategyDecision } from './strategy.js';

const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/** A small fake of what the engine hands a strategy: prices are the last closes, equity = cash + held × price. */
function context(o: { prices: Record<Symbol, number | undefined>; held?: Record<Symbol, number>; cash: number; bar?: number; symbols?: Symbol[] }): StrategyContext {
  const symbols = o.symbols ?? Object.keys(o.prices);
  const held = (s: Symbol) => o.held?.[s] ?? 0;
  return {
    ts: T0 + (o.bar ?? 0) * HOUR,
    symbols,
    bar: () => undefined,
    closes: (s) => (o.prices[s] === undefined ? [] : [o.prices[s]!]),
    price: (s) => o.prices[s],
    held,
    equity: o.cash + symbols.reduce((a, s) => a + held(s) * (o.prices[s] ?? 0), 0),
    cash: o.cash,
  };
}

function intents(decisions: readonly StrategyDecision[]): OrderIntent[] {
  return decisions.flatMap((d) => (d.intent ? [d.intent] : []));
}

const PARAMS: BuyHoldParams = { rebalanceBars: 168, rebalanceBand: 0.05, cashBuffer: 0 };
const PRICES = { 'BTC/USD': 40_000, 'ETH/USD': 2_000 };

/** Decide `n` bars in a row on the same book, returning every intent seen. */
function quietBars(s: BuyHoldStrategy, n: number, book: Parameters<typeof context>[0]): OrderIntent[] {
  const seen: OrderIntent[] = [];
  for (let i = 0; i < n; i++) seen.push(...intents(s.decide(context(book))));
  return seen;
}

describe('BuyHoldStrategy (equal weight, weekly rebalance)', () => {
  it('the first bar buys equity / N of each priced symbol, with one decision per symbol', () => {
    const s = new BuyHoldStrategy(PARAMS);
    const d = s.decide(context({ prices: PRICES, cash: 10_000 }));
    expect(d.map((x) => x.symbol)).toEqual(['BTC/USD', 'ETH/USD']);
    expect(intents(d)).toEqual([
      { symbol: 'BTC/USD', side: 'buy', notional: 5_000, source: 'strategy', reason: 'equal-weight buy-and-hold: entry' },
      { symbol: 'ETH/USD', side: 'buy', notional: 5_000, source: 'strategy', reason: 'equal-weight buy-and-hold: entry' },
    ]);
    expect(d[0]!.signal).toMatchObject({ phase: 'rebalance' });
  });

  it('trades nothing between rebalance points, however far the weights drift', () => {
    const s = new BuyHoldStrategy(PARAMS);
    s.decide(context({ prices: PRICES, cash: 10_000 }));
    // Filled; then BTC doubles: far outside the band, but not a rebalance bar.
    const drifted = { prices: { 'BTC/USD': 80_000, 'ETH/USD': 2_000 }, held: { 'BTC/USD': 0.125, 'ETH/USD': 2.5 }, cash: 0 };
    expect(quietBars(s, 167, drifted)).toEqual([]);
    // Bar 168 is the weekly point: equity 15000, target 7500 each; BTC 10000 → sell 2500 of it; ETH 5000 → buy 2500.
    const d = s.decide(context(drifted));
    expect(intents(d)).toEqual([{ symbol: 'BTC/USD', side: 'sell', qty: 2_500 / 80_000, source: 'strategy', reason: 'equal-weight buy-and-hold: trimming to target' }]);
    expect(d.find((x) => x.symbol === 'ETH/USD')!.signal).toMatchObject({ phase: 'rebalance', waitingForSells: true });
  });

  it('a rebalance selling with too little cash buys on the next bar, capped at the cash then on hand', () => {
    const s = new BuyHoldStrategy(PARAMS);
    s.decide(context({ prices: PRICES, cash: 10_000 }));
    const drifted = { prices: { 'BTC/USD': 80_000, 'ETH/USD': 2_000 }, held: { 'BTC/USD': 0.125, 'ETH/USD': 2.5 }, cash: 0 };
    quietBars(s, 167, drifted);
    expect(intents(s.decide(context(drifted))).map((i) => i.side)).toEqual(['sell']);
    // The sell filled: 0.09375 BTC left, 2490 USD of proceeds after fee and slippage; ETH moved to 1990.
    const after = { prices: { 'BTC/USD': 80_000, 'ETH/USD': 1_990 }, held: { 'BTC/USD': 0.09375, 'ETH/USD': 2.5 }, cash: 2_490 };
    const equity = 2_490 + 0.09375 * 80_000 + 2.5 * 1_990;
    const shortfall = equity / 2 - 2.5 * 1_990;
    expect(shortfall).toBeGreaterThan(2_490); // more than the cash: scaled to the cash
    const d = s.decide(context(after));
    expect(intents(d)).toEqual([
      { symbol: 'ETH/USD', side: 'buy', notional: 2_490, source: 'strategy', reason: 'equal-weight buy-and-hold: topping up to target after the sells filled, scaled to the cash on hand' },
    ]);
    // And then quiet again until the next weekly point.
    expect(quietBars(s, 166, after)).toEqual([]);
  });

  it('respects the band: off target by less than 5% of the target trades nothing, beyond it trades', () => {
    const s = new BuyHoldStrategy({ ...PARAMS, rebalanceBars: 1 });
    // The first bar of a strategy that finds positions holds (a restart); every later bar is a rebalance point.
    expect(intents(s.decide(context({ prices: PRICES, held: { 'BTC/USD': 0.1 }, cash: 6_000 })))).toEqual([]);
    // Equity 10000, target 5000, band 250: BTC at 5249 and ETH at 4751 are inside it.
    expect(intents(s.decide(context({ prices: PRICES, held: { 'BTC/USD': 5_249 / 40_000, 'ETH/USD': 4_751 / 2_000 }, cash: 0 })))).toEqual([]);
    const beyond = intents(s.decide(context({ prices: PRICES, held: { 'BTC/USD': 5_260 / 40_000, 'ETH/USD': 4_740 / 2_000 }, cash: 0 })));
    expect(beyond.map((i) => [i.symbol, i.side])).toEqual([['BTC/USD', 'sell']]);
    expect((beyond[0] as { qty: number }).qty).toBeCloseTo(260 / 40_000, 12);
  });

  it('lists sells before buys when the cash covers the buys on the same bar', () => {
    const s = new BuyHoldStrategy({ ...PARAMS, rebalanceBars: 1, cashBuffer: 0.2 });
    s.decide(context({ prices: PRICES, held: { 'ETH/USD': 1 }, cash: 1 })); // restart bar: holds
    // Universe order puts ETH (a buy) before BTC (a sell). Equity 10000, target 10000 × 0.8 / 2 = 4000, band 200:
    // BTC 4400 is 400 over, ETH 3700 is 300 short, and the 1900 of cash covers the buy.
    const d = s.decide(context({ symbols: ['ETH/USD', 'BTC/USD'], prices: PRICES, held: { 'ETH/USD': 1.85, 'BTC/USD': 0.11 }, cash: 1_900 }));
    const [sell, buy] = intents(d) as [Extract<OrderIntent, { side: 'sell' }>, Extract<OrderIntent, { side: 'buy' }>];
    expect(intents(d).map((i) => [i.symbol, i.side])).toEqual([
      ['BTC/USD', 'sell'],
      ['ETH/USD', 'buy'],
    ]);
    expect(sell.qty).toBeCloseTo(400 / 40_000, 12);
    expect(buy.notional).toBeCloseTo(300, 8);
    expect(d.map((x) => x.symbol)).toEqual(['BTC/USD', 'ETH/USD']);
  });

  it('without sells, buys are scaled down to the cash on hand, and left out when too small to be worth the fee', () => {
    const s = new BuyHoldStrategy({ ...PARAMS, rebalanceBars: 1 });
    s.decide(context({ prices: PRICES, held: { 'BTC/USD': 0.1 }, cash: 6_000 })); // restart bar: holds
    // Target 5000, band 250: BTC 5240 is inside the band (no sell), ETH 4400 is 600 short, but only 360 is cash.
    const scaled = intents(s.decide(context({ prices: PRICES, held: { 'BTC/USD': 5_240 / 40_000, 'ETH/USD': 2.2 }, cash: 360 })));
    expect(scaled).toHaveLength(1);
    expect(scaled[0]).toMatchObject({ symbol: 'ETH/USD', side: 'buy', reason: 'equal-weight buy-and-hold: topping up to target, scaled to the cash on hand' });
    expect((scaled[0] as { notional: number }).notional).toBeCloseTo(360, 8);
    // With 200 of cash the buy would not move ETH by more than the band: nothing.
    expect(intents(s.decide(context({ prices: PRICES, held: { 'BTC/USD': 5_240 / 40_000, 'ETH/USD': 2.28 }, cash: 200 })))).toEqual([]);
  });

  it('splits equally among the symbols that have a price', () => {
    const s = new BuyHoldStrategy(PARAMS);
    const d = s.decide(context({ prices: { 'BTC/USD': 40_000, 'ETH/USD': 2_000, 'SOL/USD': undefined }, cash: 9_000 }));
    expect(intents(d).map((i) => [i.symbol, (i as { notional: number }).notional])).toEqual([
      ['BTC/USD', 4_500],
      ['ETH/USD', 4_500],
    ]);
    expect(d).toHaveLength(3);
  });

  it('a restart that finds positions keeps holding and rebalances at the next weekly point', () => {
    const s = new BuyHoldStrategy(PARAMS);
    const book = { prices: { 'BTC/USD': 80_000, 'ETH/USD': 2_000 }, held: { 'BTC/USD': 0.125, 'ETH/USD': 2.5 }, cash: 0 };
    const first = s.decide(context(book));
    expect(intents(first)).toEqual([]);
    expect(first[0]!.signal).toMatchObject({ phase: 'restart-hold' });
    expect(quietBars(s, 167, book)).toEqual([]);
    expect(intents(s.decide(context(book))).map((i) => [i.symbol, i.side])).toEqual([['BTC/USD', 'sell']]);
  });

  it('the cash buffer keeps part of equity out of the targets', () => {
    const s = new BuyHoldStrategy({ ...PARAMS, cashBuffer: 0.1 });
    expect(intents(s.decide(context({ prices: PRICES, cash: 10_000 }))).map((i) => (i as { notional: number }).notional)).toEqual([4_500, 4_500]);
  });

  it('has tunables for the rebalance period, band and cash buffer; a shorter period applies at once', () => {
    const s = new BuyHoldStrategy(PARAMS);
    expect(s.tunables.map((t) => [t.name, t.get(), t.min, t.max, t.integer])).toEqual([
      ['rebalanceBars', 168, 1, 720, true],
      ['rebalanceBand', 0.05, 0, 0.5, false],
      ['cashBuffer', 0, 0, 0.5, false],
    ]);
    s.decide(context({ prices: PRICES, cash: 10_000 }));
    s.tunables[0]!.set(2);
    const drifted = { prices: { 'BTC/USD': 80_000, 'ETH/USD': 2_000 }, held: { 'BTC/USD': 0.125, 'ETH/USD': 2.5 }, cash: 0 };
    expect(intents(s.decide(context(drifted)))).toEqual([]); // bar 1
    expect(intents(s.decide(context(drifted))).map((i) => i.side)).toEqual(['sell']); // bar 2
  });

  it('defaults match strategy.buyhold in config/default.yaml, and createStrategy uses them', () => {
    expect(loadConfig({}).config.strategy.buyhold).toEqual(BUYHOLD_DEFAULTS);
    const s = createStrategy('buyhold', { momentum: loadConfig({}).config.strategy.momentum, confidence: {} as never });
    expect(s.name).toBe('buyhold');
    expect(s.tunables.map((t) => t.get())).toEqual([168, 0.05, 0]);
  });
});
