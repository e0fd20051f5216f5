/** Risk measures on price history: returns, correlation, historical VaR, ATR, Kelly. Pure functions. */

/** Simple returns of consecutive closes. */
export function returns(closes: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < closes.length; i++) out.push(closes[i]! / closes[i - 1]! - 1);
  return out;
}

/** Pearson correlation of the last common `n` values; undefined with fewer than 10 points or no variance. */
export function correlation(a: readonly number[], b: readonly number[]): number | undefined {
  const n = Math.min(a.length, b.length);
  if (n < 10) return undefined;
  const x = a.slice(a.length - n);
  const y = b.slice(b.length - n);
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  // Rounding leaves a residue (~n²ε² of Σx²) in Σ(x − x̄)² for a constant series: that is no variance, not a signal.
  const flat = (ss: number, xs: readonly number[]) => !(ss > 1e-20 * xs.reduce((s, v) => s + v * v, 0));
  return flat(sxx, x) || flat(syy, y) ? undefined : sxy / Math.sqrt(sxx * syy);
}

/**
 * Historical 1-day VaR at 95% of a portfolio, as a fraction of equity. `weights` are position values over
 * equity; `closes` are hourly closes per symbol (aligned at the end). Daily returns come from rolling 24-hour
 * windows. Undefined when there is less than `minDays` of history.
 */
export function historicalVar95(weights: ReadonlyMap<string, number>, closes: ReadonlyMap<string, readonly number[]>, days: number, minDays = 5): number | undefined {
  const symbols = [...weights.keys()].filter((s) => (weights.get(s) ?? 0) !== 0);
  if (symbols.length === 0) return 0;
  const hours = Math.min(days * 24, ...symbols.map((s) => (closes.get(s)?.length ?? 0) - 1));
  if (hours < minDays * 24) return undefined;
  const pnl: number[] = [];
  for (let end = 0; end + 24 <= hours; end++) {
    let total = 0;
    for (const s of symbols) {
      const c = closes.get(s)!;
      const last = c.length - 1 - end;
      total += weights.get(s)! * (c[last]! / c[last - 24]! - 1);
    }
    pnl.push(total);
  }
  pnl.sort((a, b) => a - b);
  const q = pnl[Math.floor(0.05 * (pnl.length - 1))]!;
  return Math.max(0, -q);
}

/** Average true range over `period` bars (simple mean), from highs, lows and closes aligned at the end. */
export function averageTrueRange(high: readonly number[], low: readonly number[], close: readonly number[], period: number): number | undefined {
  const n = Math.min(high.length, low.length, close.length);
  if (n < period + 1) return undefined;
  const [h, l, c] = [high.slice(-n), low.slice(-n), close.slice(-n)];
  let sum = 0;
  for (let i = n - period; i < n; i++) {
    const prevClose = c[i - 1]!;
    sum += Math.max(h[i]! - l[i]!, Math.abs(h[i]! - prevClose), Math.abs(l[i]! - prevClose));
  }
  return sum / period;
}

/**
 * Kelly fraction of equity for a bet won with probability `p` that pays `payoff` per unit risked, scaled by
 * `fraction` (0.5 = half-Kelly) and shrunk linearly to zero as `drawdown` reaches `drawdownFloor`.
 * Zero when there is no edge.
 */
export function kellySize(p: number, payoff: number, fraction: number, drawdown: number, drawdownFloor: number): number {
  if (!(payoff > 0) || !(p > 0) || p >= 1) return p >= 1 && payoff > 0 ? fraction : 0;
  const full = p - (1 - p) / payoff;
  const scale = Math.max(0, 1 - Math.max(0, drawdown) / drawdownFloor);
  return Math.max(0, full) * fraction * scale;
}
