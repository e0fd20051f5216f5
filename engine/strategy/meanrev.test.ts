import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { OrderIntent, Symbol } from '../types.js';
import { createStrategy } from './index.js';
import { MEANREV_DEFAULTS, MeanRevStrategy, zScore, type MeanRevParams } from './meanrev.js';
import type { StrategyContext, StrategyDecision } from './strategy.js';

const T0 = Date.UTC(2024, 0, 1);

/** A fake context: each symbol's closes (oldest first, the last is the bar just closed) and the book. */
function context(o: { closes: Record<Symbol, number[]>; held?: Record<Symbol, number>; cash: number; symbols?: Symbol[] }): StrategyContext {
  const symbols = o.symbols ?? Object.keys(o.closes);
  const held = (s: Symbol) => o.held?.[s] ?? 0;
  const price = (s: Symbol) => o.closes[s]?.at(-1);
  return {
    ts: T0,
    symbols,
    bar: () => undefined,
    closes: (s, n) => (o.closes[s] ?? []).slice(-n),
    price,
    held,
    equity: o.cash + symbols.reduce((a, s) => a + held(s) * (price(s) ?? 0), 0),
    cash: o.cash,
  };
}

function intents(decisions: readonly StrategyDecision[]): OrderIntent[] {
  return decisions.flatMap((d) => (d.intent ? [d.intent] : []));
}

const PARAMS: MeanRevParams = { lookbackBars: 4, entryZ: 1, exitZ: 0, rebalanceBars: 1 };
/** z = −√3 ≈ −1.73: an entry */
const DIP = [100, 100, 100, 90];
/** z = 0 */
const FLAT = [100, 100, 100, 100];
/** z = +√3: an exit */
const BOUNCE = [90, 90, 90, 95];
/** z = −√3 but for a holder: below the exit level, so it holds */
const STILL_LOW = [100, 100, 100, 95];

describe('zScore', () => {
  it('is (last − mean) / population sd, and 0 for a flat series', () => {
    expect(zScore([1, 2, 3, 4, 5])).toBeCloseTo(Math.SQRT2, 12);
    expect(zScore(DIP)).toBeCloseTo(-Math.sqrt(3), 12);
    expect(zScore(BOUNCE)).toBeCloseTo(Math.sqrt(3), 12);
    expect(zScore(FLAT)).toBe(0);
    expect(zScore([])).toBeUndefined();
  });
});

describe('MeanRevStrategy (long-only z-score mean reversion)', () => {
  it('buys one slot (equity / N) of a symbol whose close falls below −entryZ, nothing for the others', () => {
    const s = new MeanRevStrategy(PARAMS);
    const d = s.decide(context({ closes: { 'BTC/USD': DIP, 'ETH/USD': FLAT }, cash: 10_000 }));
    expect(d.map((x) => x.symbol)).toEqual(['BTC/USD', 'ETH/USD']);
    expect(intents(d)).toEqual([{ symbol: 'BTC/USD', side: 'buy', notional: 5_000, source: 'strategy', reason: 'mean reversion entry: z -1.73 below -1' }]);
    expect(d[0]!.features.z).toBeCloseTo(-Math.sqrt(3), 12);
    expect(d[1]!.features.z).toBe(0);
  });

  it('scores nothing while warming up (fewer than lookbackBars closes)', () => {
    const s = new MeanRevStrategy(PARAMS);
    const d = s.decide(context({ closes: { 'BTC/USD': [100, 100, 90], 'ETH/USD': FLAT }, cash: 10_000 }));
    expect(intents(d)).toEqual([]);
    expect(d[0]!.features.z).toBeNull();
  });

  it('sells the whole position when z rises above exitZ, holds (no resizing) below it', () => {
    const s = new MeanRevStrategy(PARAMS);
    expect(intents(s.decide(context({ closes: { 'BTC/USD': STILL_LOW, 'ETH/USD': FLAT }, held: { 'BTC/USD': 0.3 }, cash: 100 })))).toEqual([]);
    const d = s.decide(context({ closes: { 'BTC/USD': BOUNCE, 'ETH/USD': FLAT }, held: { 'BTC/USD': 0.3 }, cash: 100 }));
    expect(intents(d)).toEqual([{ symbol: 'BTC/USD', side: 'sell', qty: 0.3, source: 'strategy', reason: 'mean reversion exit: z 1.73 above 0' }]);
  });

  it('lists sells before buys, whatever the universe order', () => {
    const s = new MeanRevStrategy(PARAMS);
    const d = s.decide(context({ closes: { 'BTC/USD': DIP, 'ETH/USD': BOUNCE }, held: { 'ETH/USD': 1 }, cash: 10_000 }));
    expect(intents(d).map((i) => [i.symbol, i.side])).toEqual([
      ['ETH/USD', 'sell'],
      ['BTC/USD', 'buy'],
    ]);
    expect(intents(d)[1]).toMatchObject({ notional: (10_000 + 95) / 2 });
  });

  it('an entry the cash cannot fund while the same bar sells waits one bar, then buys with the proceeds', () => {
    const s = new MeanRevStrategy(PARAMS);
    // BTC (held, 9500) exits; ETH dips, but its slot of 5000 needs more than the 500 of cash.
    const first = s.decide(context({ closes: { 'BTC/USD': BOUNCE, 'ETH/USD': DIP }, held: { 'BTC/USD': 100 }, cash: 500 }));
    expect(intents(first).map((i) => [i.symbol, i.side])).toEqual([['BTC/USD', 'sell']]);
    expect(first.find((x) => x.symbol === 'ETH/USD')!.signal).toMatchObject({ waitingForSells: true });
    // The sell filled. ETH has recovered a little (z −0.89, no longer an entry on its own) but the entry stands.
    const next = s.decide(context({ closes: { 'BTC/USD': [90, 90, 95, 95], 'ETH/USD': [100, 100, 90, 91] }, cash: 9_950 }));
    expect(intents(next)).toEqual([{ symbol: 'ETH/USD', side: 'buy', notional: 9_950 / 2, source: 'strategy', reason: 'mean reversion entry, after the sells filled' }]);
    // Then nothing more.
    expect(intents(s.decide(context({ closes: { 'BTC/USD': [90, 95, 95, 95], 'ETH/USD': [100, 90, 91, 92] }, held: { 'ETH/USD': 54 }, cash: 4_975 })))).toEqual([]);
  });

  it('without sells, an entry larger than the cash is scaled down to it', () => {
    const s = new MeanRevStrategy(PARAMS);
    // BTC is held (7000, still low: holds); ETH dips: slot 5000, cash 3000.
    const d = s.decide(context({ closes: { 'BTC/USD': STILL_LOW, 'ETH/USD': DIP }, held: { 'BTC/USD': 7_000 / 95 }, cash: 3_000 }));
    expect(intents(d)).toEqual([{ symbol: 'ETH/USD', side: 'buy', notional: 3_000, source: 'strategy', reason: 'mean reversion entry: z -1.73 below -1, scaled to the cash on hand' }]);
  });

  it('checks only every rebalanceBars bars', () => {
    const s = new MeanRevStrategy({ ...PARAMS, rebalanceBars: 3 });
    const book = { closes: { 'BTC/USD': DIP, 'ETH/USD': FLAT }, cash: 10_000 };
    expect(intents(s.decide(context({ ...book, closes: { 'BTC/USD': [100, 90], 'ETH/USD': FLAT } })))).toEqual([]); // bar 0: warming
    expect(intents(s.decide(context(book)))).toEqual([]); // bar 1
    expect(intents(s.decide(context(book)))).toEqual([]); // bar 2
    expect(intents(s.decide(context(book))).map((i) => [i.symbol, i.side])).toEqual([['BTC/USD', 'buy']]); // bar 3
  });

  it('reads what it holds from the book, so a restart keeps holding until the exit', () => {
    const s = new MeanRevStrategy(PARAMS);
    expect(intents(s.decide(context({ closes: { 'BTC/USD': STILL_LOW, 'ETH/USD': FLAT }, held: { 'BTC/USD': 1 }, cash: 0 })))).toEqual([]);
    expect(intents(s.decide(context({ closes: { 'BTC/USD': BOUNCE, 'ETH/USD': FLAT }, held: { 'BTC/USD': 1 }, cash: 0 }))).map((i) => i.side)).toEqual(['sell']);
  });

  it('refuses an exit level at or below −entryZ, in the constructor and in the config', () => {
    expect(() => new MeanRevStrategy({ ...PARAMS, entryZ: 2, exitZ: -2 })).toThrow(/exitZ \(-2\) must be above -entryZ/);
    const dir = mkdtempSync(join(tmpdir(), 'ce-meanrev-'));
    try {
      const file = join(dir, 'overlay.yaml');
      writeFileSync(file, 'strategy: {meanrev: {entryZ: 1, exitZ: -1.5}}\n');
      expect(() => loadConfig({ CE_CONFIG: file })).toThrow(ConfigError);
      expect(() => loadConfig({ CE_CONFIG: file })).toThrow(/strategy\.meanrev\.exitZ = -1\.5: must be above -entryZ/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has tunables; defaults match strategy.meanrev in config/default.yaml and createStrategy uses them', () => {
    const s = new MeanRevStrategy(PARAMS);
    expect(s.warmupBars).toBe(4);
    expect(s.tunables.map((t) => [t.name, t.get(), t.min, t.max, t.integer])).toEqual([
      ['lookbackBars', 4, 2, 4, true],
      ['entryZ', 1, 0.1, 5, false],
      ['exitZ', 0, -3, 3, false],
      ['rebalanceBars', 1, 1, 720, true],
    ]);
    s.tunables[1]!.set(2); // entryZ 2: the dip at −1.73 no longer enters
    expect(intents(s.decide(context({ closes: { 'BTC/USD': DIP, 'ETH/USD': FLAT }, cash: 10_000 })))).toEqual([]);
    // /threshold may set exitZ below −entryZ; an entry then also needs z ≤ exitZ, so it never exits on the next check.
    s.tunables[1]!.set(1);
    s.tunables[2]!.set(-2);
    expect(intents(s.decide(context({ closes: { 'BTC/USD': DIP, 'ETH/USD': FLAT }, cash: 10_000 })))).toEqual([]);
    s.tunables[2]!.set(-1.5);
    expect(intents(s.decide(context({ closes: { 'BTC/USD': DIP, 'ETH/USD': FLAT }, cash: 10_000 }))).map((i) => i.side)).toEqual(['buy']);
    expect(loadConfig({}).config.strategy.meanrev).toEqual(MEANREV_DEFAULTS);
    const made = createStrategy('meanrev', { momentum: {} as never, confidence: {} as never });
    expect(made.name).toBe('meanrev');
    expect(made.tunables.map((t) => t.get())).toEqual([72, 2, 0, 1]);
  });
});
