import type { BarBatch } from '../types.js';

/**
 * Where bars come from. Replay (CSV or the embedded market) and, later, Alpaca implement it; the engine
 * cannot tell them apart.
 */
export interface MarketFeed {
  /** One line for `/status`, e.g. "embedded synthetic market (seed 42), not real prices". */
  readonly description: string;
  /** Index of the next batch `next()` returns; persisted so a restarted sim resumes where it stopped. */
  readonly cursor: number;
  /** Up to `count` batches just before the cursor, oldest first, to warm up indicators. */
  history(count: number): BarBatch[];
  /** The next batch, or undefined when a finite replay has ended. */
  next(): BarBatch | undefined;
  /** Continue from a saved cursor. */
  seek(cursor: number): void;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Index of the first item whose `ts` is at or after `ts` (items sorted by `ts`); `items.length` when none is. */
export function lowerBoundByTs(items: ReadonlyArray<{ readonly ts: number }>, ts: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.ts < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
