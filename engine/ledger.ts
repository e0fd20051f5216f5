/**
 * Cash and positions, changed only by fills. The simulated broker keeps one as the venue's account and the
 * engine keeps one as its portfolio; both use this one implementation so they cannot disagree.
 */
import type { Fill, Position, Symbol } from './types.js';

/** Quantities below this are dust and count as flat (finer than any broker increment). */
export const QTY_EPSILON = 1e-10;

export interface LedgerSnapshot {
  readonly cash: number;
  readonly positions: readonly Position[];
  readonly realizedPnl: number;
}

export class Ledger {
  private cashUsd: number;
  private readonly held = new Map<Symbol, { qty: number; avgCost: number }>();
  private realized = 0;

  constructor(snapshot: LedgerSnapshot) {
    this.cashUsd = snapshot.cash;
    this.realized = snapshot.realizedPnl;
    for (const p of snapshot.positions) this.held.set(p.symbol, { qty: p.qty, avgCost: p.avgCost });
  }

  get cash(): number {
    return this.cashUsd;
  }

  get realizedPnl(): number {
    return this.realized;
  }

  qty(symbol: Symbol): number {
    return this.held.get(symbol)?.qty ?? 0;
  }

  positions(): Position[] {
    return [...this.held.entries()].map(([symbol, p]) => ({ symbol, qty: p.qty, avgCost: p.avgCost }));
  }

  /**
   * Apply a fill. Buys fold their fee into the average cost, so the realized P&L of a sell is net of
   * both sides' fees. Returns the P&L this fill realized (0 for buys), in USD.
   */
  apply(fill: Fill): number {
    const current = this.held.get(fill.symbol) ?? { qty: 0, avgCost: 0 };
    if (fill.side === 'buy') {
      const qty = current.qty + fill.qty;
      const avgCost = (current.qty * current.avgCost + fill.qty * fill.price + fill.fee) / qty;
      this.held.set(fill.symbol, { qty, avgCost });
      this.cashUsd -= fill.qty * fill.price + fill.fee;
      return 0;
    }
    const pnl = fill.qty * (fill.price - current.avgCost) - fill.fee;
    const qty = current.qty - fill.qty;
    if (qty <= QTY_EPSILON) this.held.delete(fill.symbol);
    else this.held.set(fill.symbol, { qty, avgCost: current.avgCost });
    this.cashUsd += fill.qty * fill.price - fill.fee;
    this.realized += pnl;
    return pnl;
  }

  /** Cash plus every position marked at `prices` (USD). A position without a price is valued at cost. */
  equity(prices: ReadonlyMap<Symbol, number>): number {
    return this.cashUsd + this.exposure(prices);
  }

  exposure(prices: ReadonlyMap<Symbol, number>): number {
    let total = 0;
    for (const [symbol, p] of this.held) total += p.qty * (prices.get(symbol) ?? p.avgCost);
    return total;
  }

  snapshot(): LedgerSnapshot {
    return { cash: this.cashUsd, positions: this.positions(), realizedPnl: this.realized };
  }
}
