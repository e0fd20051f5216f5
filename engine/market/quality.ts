/** The data-quality gate: bars that fail it are stored with the reason and never traded on. */
import type { Bar } from '../types.js';

/** Why `bar` must not be traded on, or undefined. `previous` is the last good bar of the same symbol. */
export function barProblem(bar: Bar, previous: Bar | undefined, barMs: number, now: number): string | undefined {
  const values = [bar.open, bar.high, bar.low, bar.close, bar.volume];
  if (!values.every(Number.isFinite)) return 'a value is not a finite number';
  if (bar.open <= 0 || bar.high <= 0 || bar.low <= 0 || bar.close <= 0 || bar.volume < 0) return 'non-positive price or negative volume';
  if (bar.high < Math.max(bar.open, bar.close) || bar.low > Math.min(bar.open, bar.close)) return 'high/low do not bracket open and close';
  if (bar.ts % barMs !== 0) return `timestamp ${new Date(bar.ts).toISOString()} is not on the bar grid`;
  if (bar.ts > now) return `timestamp ${new Date(bar.ts).toISOString()} is in the future`;
  if (previous && bar.ts <= previous.ts) return `timestamp ${new Date(bar.ts).toISOString()} is not after the previous bar`;
  if (previous && Math.abs(bar.close / previous.close - 1) > 0.5) return `close moved ${((bar.close / previous.close - 1) * 100).toFixed(1)}% in one bar`;
  return undefined;
}
