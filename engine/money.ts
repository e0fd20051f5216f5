/** Helpers for amounts and quantities. Floats are never compared for equality anywhere else. */

/** Tolerance for USD amounts: a hundredth of a cent. */
export const USD_EPSILON = 1e-4;

/** Round `value` down to a whole number of `increment`s, without float noise such as 0.30000000000000004. */
export function floorToIncrement(value: number, increment: number): number {
  if (!(increment > 0)) throw new RangeError(`increment must be positive, got ${increment}`);
  const decimals = Math.max(0, Math.ceil(-Math.log10(increment)));
  // Division can land a hair under a whole step (0.108839363 / 1e-9 = 108839362.99999999): a value within a
  // millionth of a step (more for huge step counts, where doubles are coarser) is that step; otherwise round down.
  const exact = value / increment;
  const nearest = Math.round(exact);
  const steps = Math.abs(exact - nearest) < 1e-6 + Math.abs(exact) * 1e-12 ? nearest : Math.floor(exact);
  return Number((steps * increment).toFixed(Math.min(decimals, 15)));
}

/** True when `a` exceeds `b` by more than `epsilon`. */
export function greaterThan(a: number, b: number, epsilon: number): boolean {
  return a - b > epsilon;
}

/** True when |a| is within `epsilon` of zero. */
export function isZero(a: number, epsilon: number): boolean {
  return Math.abs(a) <= epsilon;
}

/** `1234.5` → `$1,234.50`; signs kept so P&L reads naturally. */
export function formatUsd(amount: number): string {
  const sign = amount < 0 ? '-' : '';
  return `${sign}$${Math.abs(amount).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** `0.0123` → `+1.23%`. */
export function formatPct(fraction: number, digits = 2): string {
  const pct = fraction * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(digits)}%`;
}

/** Quantities print with up to 9 decimals (the finest crypto increment), trailing zeros trimmed. */
export function formatQty(qty: number): string {
  return Number(qty.toFixed(9)).toString();
}
