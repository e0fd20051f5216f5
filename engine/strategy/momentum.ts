/**
 * Momentum top-k: every `rebalanceBars` bars, hold the `topK` symbols with the best return over `lookbackBars`
 * (only those with a positive return), equally weighted; everything else goes to cash.
 */
import type { OrderIntent, Symbol } from '../types.js';
import type { Strategy, StrategyContext, StrategyDecision, Tunable } from './strategy.js';

export interface MomentumParams {
  readonly lookbackBars: number;
  readonly topK: number;
  readonly rebalanceBars: number;
  /** fraction of equity left in cash so fees and slippage never make a buy fail */
  readonly cashBuffer: number;
  /** a holding is resized only when it is off target by more than this fraction of the target */
  readonly rebalanceBand: number;
}

export class MomentumStrategy implements Strategy {
  readonly name = 'momentum';
  readonly warmupBars: number;
  readonly tunables: readonly Tunable[];
  private readonly params: { -readonly [K in keyof MomentumParams]: MomentumParams[K] };
  private barsSeen = 0;

  constructor(params: MomentumParams) {
    this.params = { ...params };
    // History is kept for the configured look-back, so /threshold may shorten it but not lengthen it.
    this.warmupBars = params.lookbackBars + 1;
    const tunable = (name: keyof MomentumParams, description: string, min: number, max: number, integer: boolean): Tunable => ({
      name,
      description,
      min,
      max,
      integer,
      get: () => this.params[name],
      set: (value) => {
        this.params[name] = value;
      },
    });
    this.tunables = [
      tunable('topK', 'how many top-ranked symbols to hold', 1, 20, true),
      tunable('lookbackBars', 'bars of return that rank the symbols', 2, params.lookbackBars, true),
      tunable('rebalanceBars', 'bars between rebalances', 1, 24 * 30, true),
      tunable('rebalanceBand', 'resize only when off target by more than this fraction', 0, 0.5, false),
      tunable('cashBuffer', 'fraction of equity kept in cash', 0, 0.5, false),
    ];
  }

  decide(ctx: StrategyContext): StrategyDecision[] {
    const rebalance = this.barsSeen % this.params.rebalanceBars === 0;
    this.barsSeen += 1;
    const scores = new Map<Symbol, number | null>();
    for (const symbol of ctx.symbols) {
      const closes = ctx.closes(symbol, this.params.lookbackBars + 1);
      scores.set(symbol, closes.length > this.params.lookbackBars ? closes[closes.length - 1]! / closes[0]! - 1 : null);
    }
    const ranked = [...scores.entries()]
      .filter((e): e is [Symbol, number] => e[1] !== null)
      .sort((a, b) => b[1] - a[1]);
    const chosen = new Set(ranked.slice(0, this.params.topK).filter(([, r]) => r > 0).map(([s]) => s));
    const warm = ranked.length === ctx.symbols.length;
    const target = (ctx.equity * (1 - this.params.cashBuffer)) / this.params.topK;

    const decisions = ctx.symbols.map((symbol): StrategyDecision => {
      const rank = ranked.findIndex(([s]) => s === symbol);
      return {
        symbol,
        features: { momentum: scores.get(symbol) ?? null },
        signal: { rank: rank < 0 ? null : rank + 1, selected: chosen.has(symbol), rebalance: rebalance && warm },
        intent: rebalance && warm ? this.intentFor(ctx, symbol, chosen.has(symbol), target) : null,
      };
    });
    // Sells first: the simulated and real venues fill in submission order.
    return decisions.sort((a, b) => rankSide(a.intent) - rankSide(b.intent));
  }

  private intentFor(ctx: StrategyContext, symbol: Symbol, selected: boolean, target: number): OrderIntent | null {
    const price = ctx.price(symbol);
    const held = ctx.held(symbol);
    if (price === undefined) return null;
    if (!selected) {
      return held > 0 ? { symbol, side: 'sell', qty: held, source: 'strategy', reason: 'dropped out of the top momentum ranks' } : null;
    }
    const delta = target - held * price;
    if (Math.abs(delta) <= this.params.rebalanceBand * target) return null;
    if (delta > 0) return { symbol, side: 'buy', notional: delta, source: 'strategy', reason: held > 0 ? 'top-k momentum, topping up to target' : 'entered the top momentum ranks' };
    return { symbol, side: 'sell', qty: Math.min(held, -delta / price), source: 'strategy', reason: 'top-k momentum, trimming to target' };
  }
}

function rankSide(intent: OrderIntent | null): number {
  return intent === null ? 2 : intent.side === 'sell' ? 0 : 1;
}
