/**
 * Forecast quality of probability calls: Brier score, log-loss and calibration bins (also as CSV). A call is a
 * probability that something happens and whether it did; the backtest builds them from the confidence
 * strategy's decision records and the bars that followed.
 */
import { calibrationBins, type CalibrationBin } from '../engine/signals/calibration.js';

export interface ProbabilityCall {
  readonly p: number;
  readonly win: boolean;
}

export interface ForecastQuality {
  readonly calls: number;
  /** mean (p − y)²; 0.25 is what always saying one half scores */
  readonly brier: number | null;
  /** mean −[y ln p + (1 − y) ln(1 − p)], p clipped to [1e-6, 1 − 1e-6]; ln 2 ≈ 0.693 is the coin-flip score */
  readonly logLoss: number | null;
  /** the share of calls that won: the base rate a forecaster must beat */
  readonly baseRate: number | null;
  readonly bins: readonly CalibrationBin[];
}

const EPS = 1e-6;

export function forecastQuality(calls: readonly ProbabilityCall[], binCount = 10): ForecastQuality {
  if (calls.length === 0) return { calls: 0, brier: null, logLoss: null, baseRate: null, bins: [] };
  let brier = 0;
  let logLoss = 0;
  let wins = 0;
  for (const { p, win } of calls) {
    const y = win ? 1 : 0;
    wins += y;
    brier += (p - y) ** 2;
    const q = Math.min(1 - EPS, Math.max(EPS, p));
    logLoss -= y * Math.log(q) + (1 - y) * Math.log(1 - q);
  }
  return {
    calls: calls.length,
    brier: brier / calls.length,
    logLoss: logLoss / calls.length,
    baseRate: wins / calls.length,
    bins: calibrationBins(calls.map((c) => c.p), calls.map((c) => c.win), binCount),
  };
}

/** One row per bin, for a spreadsheet: strategy, bin edges, calls, mean predicted, observed win rate. */
export function calibrationCsv(rows: ReadonlyArray<{ strategy: string; quality: ForecastQuality }>): string {
  const lines = ['strategy,bin_lo,bin_hi,calls,mean_predicted,observed_rate'];
  for (const { strategy, quality } of rows) {
    for (const b of quality.bins) {
      lines.push([strategy, b.lo.toFixed(2), b.hi.toFixed(2), b.count, b.meanPredicted?.toFixed(6) ?? '', b.observedRate?.toFixed(6) ?? ''].join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}
