import { describe, expect, it } from 'vitest';
import { auc, policyMetrics, probabilityMetrics } from './metrics.js';

const H = 3_600_000;

describe('probabilityMetrics', () => {
  it('computes Brier, skill against the reference rate, log-loss, AUC and accuracy', () => {
    const p = [0.9, 0.8, 0.3, 0.2];
    const y = [1, 0, 1, 0];
    const m = probabilityMetrics(p, y, 0.5);
    expect(m.brier).toBeCloseTo((0.01 + 0.64 + 0.49 + 0.04) / 4, 12);
    expect(m.brierRef).toBeCloseTo(0.25, 12);
    expect(m.brierSkill).toBeCloseTo(1 - m.brier / 0.25, 12);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.2) + Math.log(0.3) + Math.log(0.8)) / 4, 9);
    expect(m.accuracy).toBe(0.5);
    expect(m.baseRate).toBe(0.5);
    expect(m.auc).toBe(0.75);
  });

  it('AUC: 1 when perfectly ranked, 0.5 with ties or one class only', () => {
    expect(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0])).toBe(0);
    expect(auc([0.5, 0.5, 0.5], [0, 1, 1])).toBe(0.5);
    expect(auc([0.1, 0.2], [1, 1])).toBe(0.5);
  });
});

describe('policyMetrics', () => {
  it('holds while p > 0.5, pays half the round trip on each entry and exit, splits the hour over the symbols', () => {
    // one symbol: in for two hours (+1 %, +2 %), out for one, exit charged at the change
    const rows = { ts: [0, H, 2 * H], symbol: [0, 0, 0], nextReturn: [0.01, 0.02, -0.05] };
    const m = policyMetrics(rows, [0.6, 0.7, 0.4], 0.004, 1);
    expect(m.trades).toBe(2);
    expect(m.totalReturn).toBeCloseTo((1 - 0.002 + 0.01) * 1.02 * (1 - 0.002) - 1, 12);
    expect(m.exposure).toBeCloseTo(2 / 3, 12);
    expect(m.hours).toBe(3);
    // two symbols in the same hour: half each; still held at the end → charged the exit
    const two = policyMetrics({ ts: [0, 0], symbol: [0, 1], nextReturn: [0.02, -0.02] }, [0.9, 0.1], 0.004, 2);
    expect(two.trades).toBe(2);
    expect(two.totalReturn).toBeCloseTo((1 + 0.5 * 0.02 - 0.5 * 0.002) * (1 - 0.5 * 0.002) - 1, 12);
  });
});
