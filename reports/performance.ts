/** Performance figures from an equity curve. Pure functions: the same numbers for backtests, /stats and digests. */
import { HOUR_MS } from '../engine/market/feed.js';

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
  /** mean / downside deviation of hourly returns × √8760; downside deviation = √(mean of min(r, 0)²) over all bars */
  readonly sortino: number;
  /** largest peak-to-trough fall, as a positive fraction */
  readonly maxDrawdown: number;
  /** hours from the peak before the largest fall until equity is back at that peak (or the end of the curve) */
  readonly maxDrawdownHours: number;
  readonly tradeCount: number;
  /** closing sells with a positive realized P&L (net of fees) / all closing sells; null without sells */
  readonly winRate: number | null;
  /** gross realized profit / gross realized loss over sells; null without a loss */
  readonly profitFactor: number | null;
  /** mean share of equity held in positions, bar by bar (0..1) */
  readonly exposure: number;
  /** traded value (buys and sells, USD) / mean equity over the run */
  readonly turnover: number;
  /** USD */
  readonly feesPaid: number;
  readonly initialEquity: number;
  readonly finalEquity: number;
}

export interface CurvePoint extends EquityPoint {
  /** USD value of positions at this point; absent = unknown (exposure counts it as 0) */
  readonly exposure?: number;
}

export interface TradeRecord {
  readonly side: 'buy' | 'sell';
  readonly qty: number;
  /** USD per unit */
  readonly price: number;
  /** USD */
  readonly fee: number;
  /** USD, net of fees; meaningful on sells */
  readonly realizedPnl: number;
}

export interface MetricsInput {
  readonly curve: readonly CurvePoint[];
  readonly initialEquity: number;
  readonly finalEquity: number;
  readonly trades: readonly TradeRecord[];
  /** bar length, ms; default one hour */
  readonly barMs?: number;
}

export const HOURS_PER_YEAR = 24 * 365;
const YEAR_MS = 365.25 * 24 * 3_600_000;

export function computeMetrics(input: MetricsInput): PerformanceMetrics {
  const { curve, initialEquity, finalEquity, trades } = input;
  const barMs = input.barMs ?? HOUR_MS;
  const totalReturn = finalEquity / initialEquity - 1;
  const span = curve.length > 0 ? curve[curve.length - 1]!.ts - curve[0]!.ts + barMs : 0;
  const years = span / YEAR_MS;
  const cagr = years > 0 && finalEquity > 0 ? (finalEquity / initialEquity) ** (1 / years) - 1 : 0;
  const sells = trades.filter((t) => t.side === 'sell');
  const gains = sells.reduce((sum, t) => sum + Math.max(0, t.realizedPnl), 0);
  const losses = sells.reduce((sum, t) => sum + Math.max(0, -t.realizedPnl), 0);
  const meanEquity = curve.length > 0 ? curve.reduce((sum, p) => sum + p.equity, 0) / curve.length : initialEquity;
  const { depth, hours } = drawdown(curve, barMs);
  return {
    totalReturn,
    cagr,
    sharpe: sharpe(curve),
    sortino: sortino(curve),
    maxDrawdown: depth,
    maxDrawdownHours: hours,
    tradeCount: trades.length,
    winRate: sells.length > 0 ? sells.filter((t) => t.realizedPnl > 0).length / sells.length : null,
    profitFactor: losses > 0 ? gains / losses : null,
    exposure: curve.length > 0 ? curve.reduce((sum, p) => sum + (p.equity > 0 ? (p.exposure ?? 0) / p.equity : 0), 0) / curve.length : 0,
    turnover: meanEquity > 0 ? trades.reduce((sum, t) => sum + t.qty * t.price, 0) / meanEquity : 0,
    feesPaid: trades.reduce((sum, t) => sum + t.fee, 0),
    initialEquity,
    finalEquity,
  };
}

function barReturns(curve: readonly EquityPoint[]): number[] {
  const returns: number[] = [];
  for (let i = 1; i < curve.length; i++) returns.push(curve[i]!.equity / curve[i - 1]!.equity - 1);
  return returns;
}

export function sortino(curve: readonly EquityPoint[]): number {
  const returns = barReturns(curve);
  if (returns.length < 2) return 0;
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const downside = Math.sqrt(returns.reduce((a, r) => a + Math.min(r, 0) ** 2, 0) / returns.length);
  return downside > 0 ? (mean / downside) * Math.sqrt(HOURS_PER_YEAR) : 0;
}

/** The largest fall and how long it lasted: from its peak to the first point back at that peak, or to the end. */
export function drawdown(curve: readonly EquityPoint[], barMs = HOUR_MS): { depth: number; hours: number } {
  let peak = Number.NEGATIVE_INFINITY;
  let peakTs = 0;
  let worst = 0;
  let worstPeakTs = 0;
  let worstPeak = 0;
  for (const { ts, equity } of curve) {
    if (equity >= peak) {
      peak = equity;
      peakTs = ts;
    }
    const fall = 1 - equity / peak;
    if (fall > worst) {
      worst = fall;
      worstPeak = peak;
      worstPeakTs = peakTs;
    }
  }
  if (worst === 0) return { depth: 0, hours: 0 };
  const recovered = curve.find((p) => p.ts > worstPeakTs && p.equity >= worstPeak);
  const endTs = recovered ? recovered.ts : curve[curve.length - 1]!.ts + barMs;
  return { depth: worst, hours: (endTs - worstPeakTs) / HOUR_MS };
}

export function sharpe(curve: readonly EquityPoint[]): number {
  const returns = barReturns(curve);
  if (returns.length < 2) return 0;
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const variance = returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (returns.length - 1);
  const sd = Math.sqrt(variance);
  return sd > 0 ? (mean / sd) * Math.sqrt(HOURS_PER_YEAR) : 0;
}
