/** Metrics against values worked out by hand on tiny fixtures (the arithmetic is in the comments). */
import { describe, expect, it } from 'vitest';
import { forecastQuality, calibrationCsv } from './forecast.js';
import { computeMetrics, drawdown, sharpe, sortino } from './performance.js';

const H = 3_600_000;
const curve = (values: number[], exposure?: number[]) => values.map((equity, i) => ({ ts: i * H, equity, ...(exposure ? { exposure: exposure[i]! } : {}) }));

describe('performance metrics', () => {
  // equity 100 → 110 → 99 → 108.9: returns +10%, −10%, +10%
  const c = curve([100, 110, 99, 108.9]);

  it('Sharpe: mean / sample stdev × √8760', () => {
    // mean = 0.1/3 = 0.033333; deviations 0.066667, −0.133333, 0.066667; Σd² = 0.026667; /2 = 0.013333; sd = 0.115470
    // 0.033333 / 0.115470 = 0.288675 → × 93.594872 = 27.018512
    expect(sharpe(c)).toBeCloseTo(27.018512, 5);
  });

  it('Sortino: mean / √(mean of squared negative returns) × √8760', () => {
    // downside: (0 + 0.01 + 0) / 3 = 0.003333; √ = 0.057735; 0.033333 / 0.057735 = 0.577350 → × 93.594872 = 54.037024
    expect(sortino(c)).toBeCloseTo(54.037024, 5);
  });

  it('max drawdown and its duration: from the peak until equity is back at it', () => {
    // peak 110 at t1, trough 99 at t2: 10%; back above 110? never (108.9) → to the end of the last bar: t3 + 1 h − t1 = 3 h
    expect(drawdown(c)).toEqual({ depth: expect.closeTo(0.1, 12), hours: 3 });
    // recovers at t4 (=110): 4 − 1 = 3 h
    const r = drawdown(curve([100, 110, 99, 105, 110, 90]));
    // the larger fall is 110 → 90 at the end (18.18%), from the peak at t4 (an equal high resets the peak), unrecovered: 5 + 1 − 4 = 2 h
    expect(r.depth).toBeCloseTo(1 - 90 / 110, 12);
    expect(r.hours).toBe(2);
    expect(drawdown(curve([100, 101, 102]))).toEqual({ depth: 0, hours: 0 });
    const recovered = drawdown(curve([100, 120, 90, 100, 121, 119]));
    // 120 → 90 (25%), back above 120 at t4: 4 − 1 = 3 h
    expect(recovered).toEqual({ depth: 0.25, hours: 3 });
  });

  it('win rate and profit factor over closing sells; exposure, turnover and fees', () => {
    const trades = [
      { side: 'buy' as const, qty: 1, price: 50, fee: 0.125, realizedPnl: 0 },
      { side: 'sell' as const, qty: 1, price: 60, fee: 0.15, realizedPnl: 30 },
      { side: 'sell' as const, qty: 1, price: 40, fee: 0.1, realizedPnl: -10 },
      { side: 'sell' as const, qty: 1, price: 45, fee: 0.1125, realizedPnl: -5 },
    ];
    const m = computeMetrics({ curve: curve([100, 100, 100, 100], [0, 50, 100, 0]), initialEquity: 100, finalEquity: 100, trades });
    expect(m.winRate).toBeCloseTo(1 / 3, 12); // one of three sells made money
    expect(m.profitFactor).toBeCloseTo(30 / 15, 12); // +30 against −10 − 5
    expect(m.exposure).toBeCloseTo((0 + 0.5 + 1 + 0) / 4, 12);
    expect(m.turnover).toBeCloseTo((50 + 60 + 40 + 45) / 100, 12);
    expect(m.feesPaid).toBeCloseTo(0.4875, 12);
    expect(m.tradeCount).toBe(4);
    const none = computeMetrics({ curve: curve([100, 100]), initialEquity: 100, finalEquity: 100, trades: [] });
    expect(none.winRate).toBeNull();
    expect(none.profitFactor).toBeNull();
  });

  it('total return and CAGR from the final (liquidation) value over the span of the curve', () => {
    // one year of hourly points (8766 h = 365.25 days), 100 → 121 liquidation value: CAGR 21%
    const points = Array.from({ length: 8_766 }, (_, i) => ({ ts: i * H, equity: 100 + (21 * i) / 8_765 }));
    const m = computeMetrics({ curve: points, initialEquity: 100, finalEquity: 121, trades: [] });
    expect(m.totalReturn).toBeCloseTo(0.21, 12);
    expect(m.cagr).toBeCloseTo(0.21, 9);
  });
});

describe('forecast quality', () => {
  it('Brier score, log-loss and base rate by hand', () => {
    const q = forecastQuality([
      { p: 0.8, win: true }, // (0.2)² = 0.04; −ln 0.8 = 0.223144
      { p: 0.6, win: false }, // 0.36; −ln 0.4 = 0.916291
      { p: 0.5, win: true }, // 0.25; −ln 0.5 = 0.693147
    ]);
    expect(q.brier).toBeCloseTo((0.04 + 0.36 + 0.25) / 3, 12);
    expect(q.logLoss).toBeCloseTo((0.223144 + 0.916291 + 0.693147) / 3, 6);
    expect(q.baseRate).toBeCloseTo(2 / 3, 12);
    expect(q.bins.find((b) => b.count === 1 && b.lo === 0.8)).toBeDefined();
    expect(forecastQuality([]).brier).toBeNull();
  });

  it('writes the bins as CSV with a header', () => {
    const csv = calibrationCsv([{ strategy: 'confidence', quality: forecastQuality([{ p: 0.55, win: true }, { p: 0.58, win: false }]) }]);
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('strategy,bin_lo,bin_hi,calls,mean_predicted,observed_rate');
    expect(lines).toContain('confidence,0.50,0.60,2,0.565000,0.500000');
    expect(lines).toHaveLength(11);
  });
});
