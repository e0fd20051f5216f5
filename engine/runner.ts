/**
 * Drives a feed through the engine. The same loop serves backtest (as fast as possible) and sim (paced):
 * it queues one batch at a time, so operator commands never wait behind a backlog of market data, and it
 * yields to the event loop regularly so `/status` and `/kill` are answered even mid-replay.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { MarketFeed } from './market/feed.js';
import type { BarBatch } from './types.js';

export interface RunOptions {
  /** bars per wall-clock second; 0 = as fast as possible */
  readonly barsPerSecond: number;
  readonly signal?: AbortSignal;
  /** called after each batch is processed (sim persists its venue and cursor here) */
  readonly afterBatch?: (batch: BarBatch) => void;
}

/**
 * An unpaced replay yields after this much work: a command then waits at most about this long behind market
 * data, whatever a batch costs (a fixed count of batches meant 100 ms and more with the confidence strategy).
 */
const YIELD_AFTER_MS = 4;

export async function runFeed(
  feed: MarketFeed,
  handle: (batch: BarBatch) => Promise<void>,
  options: RunOptions,
): Promise<'ended' | 'stopped'> {
  const intervalMs = options.barsPerSecond > 0 ? 1000 / options.barsPerSecond : 0;
  let nextAt = Date.now();
  let workSince = performance.now();
  while (!options.signal?.aborted) {
    const batch = feed.next();
    if (!batch) return 'ended';
    await handle(batch);
    options.afterBatch?.(batch);
    if (intervalMs > 0) {
      nextAt += intervalMs;
      await sleep(Math.max(0, nextAt - Date.now()), options.signal);
    } else if (performance.now() - workSince >= YIELD_AFTER_MS) {
      await yieldToEventLoop();
      workSince = performance.now();
    }
  }
  return 'stopped';
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
