/** Performance figures from an equity curve. Pure functions: the same numbers for backtests, /stats and digests. */

export interface EquityPoint {
  readonly ts: number;
  readonly equity: number;
}

export interface PerformanceMetrics {
  /** final / initial − 1, with the final value net of exit fees */
  readonly totalReturn: number;
  readonly cagr: number;
  /** mean / stdev of hourly returns × √8760 (crypto trades every hour of the year) */
  readonly sharpe: number;
  /** largest peak-to-trough fall, as a positive fraction */
  readonly maxDrawdown: number;
  readonly tradeCount: number;
  readonly initialEquity: number;
  readonly finalEquity: number;
}

export const HOURS_PER_YEAR = 24 * 365;
const YEAR_MS = 365.25 * 24 * 3_600_000;

export function computeMetrics(curve: readonly EquityPoint[], initialEquity: number, finalEquity: number, tradeCount: number, barMs = 3_600_000): PerformanceMetrics {
  const totalReturn = finalEquity / initialEquity - 1;
  const span = curve.length > 0 ? curve[curve.length - 1]!.ts - curve[0]!.ts + barMs : 0;
  const years = span / YEAR_MS;
  const cagr = years > 0 && finalEquity > 0 ? (finalEquity / initialEquity) ** (1 / years) - 1 : 0;
  return { totalReturn, cagr, sharpe: sharpe(curve), maxDrawdown: maxDrawdown(curve), tradeCount, initialEquity, finalEquity };
}

export function sharpe(curve: readonly EquityPoint[]): number {
  const returns: number[] = [];
  for (let i = 1; i < curve.length; i++) returns.push(curve[i]!.equity / curve[i - 1]!.equity - 1);
  if (returns.length < 2) return 0;
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const variance = returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (returns.length - 1);
  const sd = Math.sqrt(variance);
  return sd > 0 ? (mean / sd) * Math.sqrt(HOURS_PER_YEAR) : 0;
}

export function maxDrawdown(curve: readonly EquityPoint[]): number {
  let peak = Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (const { equity } of curve) {
    peak = Math.max(peak, equity);
    worst = Math.max(worst, 1 - equity / peak);
  }
  return worst;
}
