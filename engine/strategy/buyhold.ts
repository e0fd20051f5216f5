/**
 * Buy-and-hold, equal weight: the honest baseline. Decides on the first bar it sees, splitting equity equally
 * across the universe, and never trades again. A restart that finds positions already held keeps holding.
 */
import type { Strategy, StrategyContext, StrategyDecision } from './strategy.js';

export class BuyHoldStrategy implements Strategy {
  readonly name = 'buyhold';
  readonly warmupBars = 0;
  readonly tunables = [];
  private invested = false;

  decide(ctx: StrategyContext): StrategyDecision[] {
    const first = !this.invested;
    if (first) this.invested = true;
    const priced = ctx.symbols.filter((s) => ctx.price(s) !== undefined);
    const alreadyHolding = ctx.symbols.some((s) => ctx.held(s) > 0);
    const buying = first && !alreadyHolding && priced.length > 0;
    const allocation = buying ? ctx.equity / priced.length : 0;
    return ctx.symbols.map((symbol) => ({
      symbol,
      features: { close: ctx.price(symbol) ?? null },
      signal: { hold: true },
      intent:
        buying && priced.includes(symbol)
          ? { symbol, side: 'buy', notional: allocation, source: 'strategy', reason: 'buy-and-hold entry, equal weight' }
          : null,
    }));
  }
}
