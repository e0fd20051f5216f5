/** Replays recorded bars, merged across symbols into one batch per timestamp. */
import type { Bar, BarBatch, Symbol } from '../types.js';
import { lowerBoundByTs, type MarketFeed } from './feed.js';

export interface ReplayWindow {
  /** first bar open time included, ms UTC */
  readonly from?: number;
  /** bars opening before this instant are included, ms UTC */
  readonly toExclusive?: number;
}

export class ReplayFeed implements MarketFeed {
  private readonly batches: BarBatch[];
  private readonly start: number;
  private readonly end: number;
  private position: number;

  constructor(
    series: ReadonlyMap<Symbol, readonly Bar[]>,
    readonly description: string,
    window: ReplayWindow = {},
  ) {
    this.batches = mergeByTimestamp(series);
    const from = window.from ?? Number.NEGATIVE_INFINITY;
    const to = window.toExclusive ?? Number.POSITIVE_INFINITY;
    this.start = lowerBoundByTs(this.batches, from);
    this.end = lowerBoundByTs(this.batches, to);
    this.position = this.start;
  }

  /** Number of batches inside the window. */
  get length(): number {
    return Math.max(0, this.end - this.start);
  }

  get cursor(): number {
    return this.position - this.start;
  }

  history(count: number): BarBatch[] {
    return this.batches.slice(Math.max(0, this.position - count), this.position);
  }

  next(): BarBatch | undefined {
    if (this.position >= this.end) return undefined;
    return this.batches[this.position++];
  }

  seek(cursor: number): void {
    this.position = Math.min(this.end, this.start + Math.max(0, cursor));
  }
}

function mergeByTimestamp(series: ReadonlyMap<Symbol, readonly Bar[]>): BarBatch[] {
  const byTs = new Map<number, Map<Symbol, Bar>>();
  for (const [symbol, bars] of series) {
    for (const bar of bars) {
      let batch = byTs.get(bar.ts);
      if (!batch) byTs.set(bar.ts, (batch = new Map()));
      batch.set(symbol, bar);
    }
  }
  return [...byTs.entries()].sort((a, b) => a[0] - b[0]).map(([ts, bars]) => ({ ts, bars }));
}
