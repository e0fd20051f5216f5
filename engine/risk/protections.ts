/**
 * Protections: the rules that sell on their own, each bar, before the strategy decides. Portfolio rules run
 * first (trailing stop on equity, partial profit-take), then per-position rules (stop-loss, ATR bracket,
 * trailing stop). They only produce sell intents (source `protection`), which pass the gate like any other.
 *
 * A *cycle* starts when the book goes from flat to holding something and ends when it is flat again. The
 * cycle's start equity and peak equity drive the portfolio rules; the partial profit-take fires at most once
 * per cycle. The portfolio trailing stop is armed only once the cycle's peak is above its start (it protects
 * gains; losses are the stop-loss's and the loss limits' job).
 */
import { QTY_EPSILON } from '../ledger.js';
import type { StateStore } from '../ports.js';
import type { OrderIntent, Position, Symbol } from '../types.js';
import { averageTrueRange } from './measures.js';
import type { RiskLimits } from './limits.js';

interface Cycle {
  readonly startEquity: number;
  peakEquity: number;
  profitTaken: boolean;
  readonly startedAt: number;
}

interface Bracket {
  /** highest close since entry, for the trailing stop */
  peakPrice: number;
  /** ATR stop and take-profit prices set at entry, USD; undefined when brackets are off or ATR was unknown */
  stopPrice?: number;
  takePrice?: number;
}

interface SavedState {
  cycle?: Cycle;
  brackets: Record<Symbol, Bracket>;
}

export interface ProtectionView {
  readonly ts: number;
  readonly equity: number;
  readonly positions: readonly Position[];
  price(symbol: Symbol): number | undefined;
  /** aligned highs, lows and closes of the last `n` bars */
  bars(symbol: Symbol, n: number): { high: readonly number[]; low: readonly number[]; close: readonly number[] };
}

export interface ProtectionOutcome {
  readonly intents: OrderIntent[];
  /** whether the portfolio trailing stop fired on this bar (the engine may then move to cash) */
  readonly trailingStopFired: boolean;
}

const KEY = 'risk.protections';

export class Protections {
  private state: SavedState;

  constructor(
    private readonly limits: () => RiskLimits,
    private readonly store: StateStore,
  ) {
    this.state = store.get<SavedState>(KEY) ?? { brackets: {} };
  }

  /** The cycle as /status and /limits show it. */
  get cycle(): Readonly<Cycle> | undefined {
    return this.state.cycle;
  }

  /**
   * After fills: open or close the cycle, set brackets for new positions and drop those of closed ones.
   * `closedInFills` are symbols sold out during these fills (a re-buy is a new entry with new brackets);
   * `flatEquityInFills` is the equity at a moment within the fills when the book was flat (the cycle ended there).
   */
  afterFills(view: ProtectionView, equityBeforeFills: number, closedInFills: ReadonlySet<Symbol> = new Set(), flatEquityInFills?: number): void {
    const held = view.positions.filter((p) => p.qty > QTY_EPSILON);
    const limits = this.limits();
    if (held.length === 0 || flatEquityInFills !== undefined) this.state.cycle = undefined;
    const start = flatEquityInFills ?? equityBeforeFills;
    if (held.length > 0 && !this.state.cycle) this.state.cycle = { startEquity: start, peakEquity: start, profitTaken: false, startedAt: view.ts };
    const brackets: Record<Symbol, Bracket> = {};
    for (const p of held) {
      const existing = closedInFills.has(p.symbol) ? undefined : this.state.brackets[p.symbol];
      if (existing) {
        brackets[p.symbol] = existing;
        continue;
      }
      const { high, low, close } = view.bars(p.symbol, limits.atrPeriod + 1);
      const atr = limits.atrBrackets >= 1 ? averageTrueRange(high, low, close, limits.atrPeriod) : undefined;
      brackets[p.symbol] = {
        peakPrice: view.price(p.symbol) ?? p.avgCost,
        ...(atr !== undefined ? { stopPrice: p.avgCost - limits.atrStop * atr, takePrice: p.avgCost + limits.atrTake * atr } : {}),
      };
    }
    this.state.brackets = brackets;
    this.save();
  }

  /** The protective sells for this bar, portfolio rules first. */
  evaluate(view: ProtectionView): ProtectionOutcome {
    const limits = this.limits();
    const held = view.positions.filter((p) => p.qty > QTY_EPSILON);
    const cycle = this.state.cycle;
    if (held.length === 0 || !cycle) return { intents: [], trailingStopFired: false };
    cycle.peakEquity = Math.max(cycle.peakEquity, view.equity);
    for (const p of held) {
      const b = this.state.brackets[p.symbol];
      const price = view.price(p.symbol);
      if (b && price !== undefined) b.peakPrice = Math.max(b.peakPrice, price);
    }

    const sellAll = (reason: string) => held.map((p): OrderIntent => ({ symbol: p.symbol, side: 'sell', qty: p.qty, source: 'protection', reason }));
    const drop = cycle.peakEquity > 0 ? 1 - view.equity / cycle.peakEquity : 0;
    if (cycle.peakEquity > cycle.startEquity && drop >= limits.portfolioTrailingStop) {
      this.save();
      return { intents: sellAll(`portfolio trailing stop: equity ${pct(drop)} below the cycle peak of $${cycle.peakEquity.toFixed(2)}`), trailingStopFired: true };
    }
    const gain = view.equity / cycle.startEquity - 1;
    if (!cycle.profitTaken && limits.profitTakeFraction > 0 && gain >= limits.profitTakeAt) {
      cycle.profitTaken = true;
      this.save();
      return {
        intents: held.map((p) => ({ symbol: p.symbol, side: 'sell', qty: p.qty * limits.profitTakeFraction, source: 'protection', reason: `profit-take: equity ${pct(gain)} above the cycle start, selling ${pct(limits.profitTakeFraction)}` })),
        trailingStopFired: false,
      };
    }

    const intents: OrderIntent[] = [];
    for (const p of held) {
      const price = view.price(p.symbol);
      if (price === undefined) continue;
      const b = this.state.brackets[p.symbol];
      const reason =
        price <= p.avgCost * (1 - limits.stopLoss)
          ? `stop-loss: ${pct(1 - price / p.avgCost)} below the average cost`
          : b?.stopPrice !== undefined && price <= b.stopPrice
            ? `ATR stop at $${b.stopPrice.toFixed(2)}`
            : b?.takePrice !== undefined && price >= b.takePrice
              ? `ATR take-profit at $${b.takePrice.toFixed(2)}`
              : limits.trailingStop > 0 && b && price <= b.peakPrice * (1 - limits.trailingStop)
                ? `trailing stop: ${pct(1 - price / b.peakPrice)} below the high since entry`
                : undefined;
      if (reason) intents.push({ symbol: p.symbol, side: 'sell', qty: p.qty, source: 'protection', reason });
    }
    this.save();
    return { intents, trailingStopFired: false };
  }

  private save(): void {
    this.store.set(KEY, this.state, 'risk');
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
