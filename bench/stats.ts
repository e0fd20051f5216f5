/** Small statistics and measurement helpers for the benchmark. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function maxOf(values: readonly number[]): number {
  let max = Number.NaN;
  for (const v of values) if (!(v <= max)) max = v;
  return max;
}

export const MB = 1024 * 1024;

/** Rounds for the JSON: enough digits to compare runs, no float noise. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

let gcFn: (() => void) | undefined | null;

/**
 * A full garbage collection, so that heap figures are the live set and not garbage waiting to be collected.
 * Works without `--expose-gc` on the command line; returns false when the runtime refuses.
 */
export function forceGc(): boolean {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}

export interface MemoryPoint {
  /** MB */
  readonly rss: number;
  /** MB, after a full GC when one could be forced */
  readonly heapUsed: number;
}

/** RSS and live heap now, in MB (forces a GC first). */
export function memoryPoint(): MemoryPoint {
  forceGc();
  const m = process.memoryUsage();
  return { rss: m.rss / MB, heapUsed: m.heapUsed / MB };
}

/** Peak resident set size of this process so far, MB. */
export function peakRssMb(): number {
  return (process.resourceUsage().maxRSS * 1024) / MB;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
