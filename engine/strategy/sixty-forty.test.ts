import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError, parseBacktestArgs } from '../../src/cli.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { OrderIntent, Symbol } from '../types.js';
import { createStrategy } from './index.js';
import { SIXTY_FORTY_DEFAULTS, SixtyFortyStrategy, SixtyFortyUniverseError, sixtyFortyWeights } from './sixty-forty.js';
import type { StrategyContext, StrategyDecision } from './strategy.js';

const T0 = Date.UTC(2024, 0, 1);

function context(o: { prices: Record<Symbol, number | undefined>; held?: Record<Symbol, number>; cash: number; symbols?: Symbol[] }): StrategyContext {
  const symbols = o.symbols ?? Object.keys(o.prices);
  const held = (s: Symbol) => o.held?.[s] ?? 0;
  return {
    ts: T0,
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

const PRICES = { 'BTC/USD': 40_000, 'ETH/USD': 2_000 };
const PARAMS = { rebalanceBars: 168, rebalanceBand: 0.05 };

describe('SixtyFortyStrategy (60% BTC/ETH, 40% cash)', () => {
  it('weights: 30%/30% with both, 60% with one, other symbols none; neither is refused, naming the problem', () => {
    expect([...sixtyFortyWeights(['BTC/USD', 'ETH/USD', 'SOL/USD'])]).toEqual([
      ['BTC/USD', 0.3],
      ['ETH/USD', 0.3],
    ]);
    expect([...sixtyFortyWeights(['SOL/USD', 'ETH/USD'])]).toEqual([['ETH/USD', 0.6]]);
    expect(() => sixtyFortyWeights(['SOL/USD', 'LINK/USD'])).toThrow(SixtyFortyUniverseError);
    expect(() => sixtyFortyWeights(['SOL/USD', 'LINK/USD'])).toThrow(
      'strategy 6040 holds BTC/USD and ETH/USD, but neither is in the universe (SOL/USD, LINK/USD); add BTC/USD or ETH/USD',
    );
  });

  it('a universe without BTC and ETH is an error at construction (or, without the universe, at the first decision)', () => {
    expect(() => new SixtyFortyStrategy(PARAMS, ['SOL/USD'])).toThrow(SixtyFortyUniverseError);
    expect(() => createStrategy('6040', { momentum: {} as never, confidence: {} as never, symbols: ['SOL/USD', 'LINK/USD'] })).toThrow(/neither is in the universe/);
    const late = new SixtyFortyStrategy(PARAMS);
    expect(() => late.decide(context({ prices: { 'SOL/USD': 100 }, cash: 1_000 }))).toThrow(SixtyFortyUniverseError);
  });

  it('the config refuses strategy.name 6040 on a universe without BTC and ETH; the CLI refuses such --symbols', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-6040-'));
    try {
      const file = join(dir, 'overlay.yaml');
      writeFileSync(file, 'universe: [SOL/USD, LINK/USD]\nstrategy: {name: "6040"}\n');
      expect(() => loadConfig({ CE_CONFIG: file })).toThrow(ConfigError);
      expect(() => loadConfig({ CE_CONFIG: file })).toThrow(/universe = \["SOL\/USD","LINK\/USD"\]: strategy 6040 holds BTC\/USD and ETH\/USD/);
      writeFileSync(file, 'universe: [SOL/USD, ETH/USD]\nstrategy: {name: "6040"}\n');
      expect(loadConfig({ CE_CONFIG: file }).config.strategy.name).toBe('6040');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const args = (symbols: string, extra: string[] = []) => ['--data', '/tmp/x', '--symbols', symbols, '--from', '2023-01-01', '--to', '2023-02-01', ...extra];
    expect(() => parseBacktestArgs(args('SOL/USD', ['--strategy', '6040']))).toThrow(CliError);
    expect(() => parseBacktestArgs(args('SOL/USD', ['--strategy', '6040']))).toThrow(/^--symbols: strategy 6040 holds BTC\/USD and ETH\/USD/);
    expect(() => parseBacktestArgs(args('SOL/USD', ['--strategy', 'buyhold', '--compare', '6040']))).toThrow(/neither is in the universe/);
    expect(parseBacktestArgs(args('ETH/USD', ['--strategy', '6040'])).request.strategies).toEqual(['6040']);
    expect(parseBacktestArgs(args('SOL/USD', ['--strategy', 'meanrev'])).request.strategies).toEqual(['meanrev']);
  });

  it('the first bar buys 30% of equity in each of BTC and ETH and keeps 40% in cash', () => {
    const s = new SixtyFortyStrategy(PARAMS, ['BTC/USD', 'ETH/USD']);
    const d = s.decide(context({ prices: PRICES, cash: 10_000 }));
    expect(d.map((x) => x.symbol)).toEqual(['BTC/USD', 'ETH/USD']);
    expect(intents(d)).toEqual([
      { symbol: 'BTC/USD', side: 'buy', notional: 3_000, source: 'strategy', reason: '60/40: entry' },
      { symbol: 'ETH/USD', side: 'buy', notional: 3_000, source: 'strategy', reason: '60/40: entry' },
    ]);
  });

  it('trades only on weekly bars, inside the band nothing, and a rebalance sells first and buys from the 40% cash at once', () => {
    const s = new SixtyFortyStrategy(PARAMS);
    s.decide(context({ prices: PRICES, cash: 10_000 }));
    // BTC up 20%, ETH down 10%: 3600 + 2700 + 4000 cash = 10300; targets 3090 each, band 154.5.
    const drifted = { symbols: ['ETH/USD', 'BTC/USD'], prices: { 'BTC/USD': 48_000, 'ETH/USD': 1_800 }, held: { 'BTC/USD': 0.075, 'ETH/USD': 1.5 }, cash: 4_000 };
    for (let i = 1; i < 168; i++) expect(intents(s.decide(context(drifted)))).toEqual([]);
    const d = s.decide(context(drifted));
    const [sell, buy] = intents(d) as [Extract<OrderIntent, { side: 'sell' }>, Extract<OrderIntent, { side: 'buy' }>];
    expect(intents(d).map((i) => [i.symbol, i.side])).toEqual([
      ['BTC/USD', 'sell'],
      ['ETH/USD', 'buy'],
    ]);
    expect(sell.qty).toBeCloseTo(510 / 48_000, 12);
    expect(buy.notional).toBeCloseTo(390, 8);
    // Next bar: no follow-up needed, nothing.
    expect(intents(s.decide(context(drifted)))).toEqual([]);

    // A drift inside the band at the next weekly point: BTC 3100 and ETH 3080 against targets of 3090 ± 154.5.
    const inside = { prices: { 'BTC/USD': 40_000, 'ETH/USD': 2_000 }, held: { 'BTC/USD': 0.0775, 'ETH/USD': 1.54 }, cash: 4_120 };
    for (let i = 170; i < 336; i++) s.decide(context(inside));
    expect(intents(s.decide(context(inside)))).toEqual([]);
  });

  it('sells a symbol outside BTC and ETH at the rebalance', () => {
    const s = new SixtyFortyStrategy({ ...PARAMS, rebalanceBars: 1 });
    const prices = { 'BTC/USD': 40_000, 'ETH/USD': 2_000, 'SOL/USD': 100 };
    s.decide(context({ prices, held: { 'SOL/USD': 10 }, cash: 9_000 })); // a restart: holds on its first bar
    const d = s.decide(context({ prices, held: { 'SOL/USD': 10 }, cash: 9_000 }));
    expect(intents(d).map((i) => [i.symbol, i.side, i.side === 'sell' ? i.qty : i.notional])).toEqual([
      ['SOL/USD', 'sell', 10],
      ['BTC/USD', 'buy', 3_000],
      ['ETH/USD', 'buy', 3_000],
    ]);
  });

  it('has tunables for the rebalance period and band only; defaults match config/default.yaml', () => {
    const s = new SixtyFortyStrategy(PARAMS);
    expect(s.tunables.map((t) => [t.name, t.get()])).toEqual([
      ['rebalanceBars', 168],
      ['rebalanceBand', 0.05],
    ]);
    expect(loadConfig({}).config.strategy.sixtyForty).toEqual(SIXTY_FORTY_DEFAULTS);
    expect(createStrategy('6040', { momentum: {} as never, confidence: {} as never }).tunables.map((t) => t.get())).toEqual([168, 0.05]);
  });
});
