/**
 * The position rules the agent's own strategies share (confidence, ensemble): long-only, one position per
 * symbol; a sell when the exit tier counts, or when the horizon has passed without a fresh entry signal; a buy
 * when the entry tier counts, sized as a fraction of equity (never more than the cash on hand) and carrying the
 * calibrated edge for the risk gate's Kelly cap.
 */
import type { Edge, OrderIntent, Symbol } from '../types.js';
import type { StrategyContext } from './strategy.js';
import { HOUR_MS } from '../market/feed.js';


export interface Holding {
  /** open time of the bar of our last buy; undefined when not holding (or not known, after a restart) */
  lastBuyTs: number | undefined;
}

export interface LongOnlyRule {
  readonly label: string;
  readonly entry: boolean;
  readonly exit: boolean;
  /** a position older than this without a fresh entry signal is closed */
  readonly horizonMs: number;
  /** fraction of equity for an entry (after any regime multiplier) */
  readonly fraction: number;
  readonly edge: Edge;
  readonly reasons: { readonly entry: string; readonly exit: string };
}

export function longOnlyIntent(ctx: StrategyContext, symbol: Symbol, holding: Holding, rule: LongOnlyRule): OrderIntent | null {
  const held = ctx.held(symbol);
  if (held > 0) {
    if (rule.exit) return { symbol, side: 'sell', qty: held, source: 'strategy', reason: `${rule.label}: ${rule.reasons.exit}` };
    const since = holding.lastBuyTs ?? (holding.lastBuyTs = ctx.ts);
    if (ctx.ts - since >= rule.horizonMs && !rule.entry) return { symbol, side: 'sell', qty: held, source: 'strategy', reason: `${rule.label}: the horizon passed without a fresh entry signal` };
    return null;
  }
  // a buy placed on a recent bar may still be on its way to the book
  if (holding.lastBuyTs !== undefined && ctx.ts - holding.lastBuyTs < 2 * HOUR_MS) return null;
  holding.lastBuyTs = undefined;
  if (!rule.entry || !(rule.fraction > 0)) return null;
  const notional = Math.min(ctx.equity * rule.fraction, ctx.cash * 0.99);
  if (!(notional > 0)) return null;
  holding.lastBuyTs = ctx.ts;
  return { symbol, side: 'buy', notional, source: 'strategy', reason: `${rule.label}: ${rule.reasons.entry}`, edge: rule.edge };
}
