/**
 * Validation metrics of a probability model: Brier score (and its skill against always predicting the training
 * base rate), log-loss, ROC AUC, accuracy at 0.5, and the Sharpe ratio of a simple policy: hold a symbol for the
 * next hour while p > 0.5, flat otherwise.
 */
import { forecastQuality } from '../../reports/forecast.js';
import { sharpe } from '../../reports/performance.js';
import { HOUR_MS } from '../../engine/market/feed.js';


export interface ProbabilityMetrics {
  readonly n: number;
  readonly brier: number;
  /** Brier of always predicting `reference` (the training base rate) */
  readonly brierRef: number;
  /** 1 − brier / brierRef: > 0 beats the base rate */
  readonly brierSkill: number;
  readonly logLoss: number;
  readonly auc: number;
  readonly accuracy: number;
  /** share of positive labels */
  readonly baseRate: number;
}

export function probabilityMetrics(p: ArrayLike<number>, y: ArrayLike<number>, reference: number): ProbabilityMetrics {
  const n = p.length;
  if (n === 0 || y.length !== n) throw new RangeError(`probabilityMetrics: need matching non-empty arrays, got ${n} and ${y.length}`);
  const calls = Array.from({ length: n }, (_, i) => ({ p: p[i]!, win: y[i]! > 0.5 }));
  const q = forecastQuality(calls, 10);
  let brierRef = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const yi = y[i]! > 0.5 ? 1 : 0;
    brierRef += (reference - yi) ** 2;
    if ((p[i]! > 0.5 ? 1 : 0) === yi) correct++;
  }
  brierRef /= n;
  return {
    n,
    brier: q.brier!,
    brierRef,
    brierSkill: brierRef > 0 ? 1 - q.brier! / brierRef : 0,
    logLoss: q.logLoss!,
    auc: auc(p, y),
    accuracy: correct / n,
    baseRate: q.baseRate!,
  };
}

/** ROC AUC by the Mann–Whitney statistic with average ranks for ties; 0.5 when one class is absent. */
export function auc(p: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = p.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a]! - p[b]!);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && p[order[j + 1]!]! === p[order[i]!]!) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (y[order[k]!]! > 0.5) {
        pos++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return 0.5;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface PolicyMetrics {
  /** annualised (√8760) Sharpe of the hourly portfolio returns */
  readonly sharpe: number;
  readonly totalReturn: number;
  /** share of (symbol, hour) slots held */
  readonly exposure: number;
  /** entries + exits */
  readonly trades: number;
  /** Sharpe of holding every symbol equally all the time, no costs: the reference */
  readonly holdSharpe: number;
  readonly hours: number;
}

/**
 * The p > 0.5 policy on rows ordered by time: each hour the portfolio splits equally over the symbols that have
 * a row that hour; a held symbol earns its next-hour return; every entry and every exit pays half the round-trip
 * cost on its sleeve, and positions still open at the end are charged their exit.
 */
export function policyMetrics(
  rows: { readonly ts: ArrayLike<number>; readonly symbol: ArrayLike<number>; readonly nextReturn: ArrayLike<number> },
  p: ArrayLike<number>,
  cost: number,
  symbolCount: number,
): PolicyMetrics {
  const n = p.length;
  const held = new Uint8Array(symbolCount);
  const policyCurve: { ts: number; equity: number }[] = [];
  const holdCurve: { ts: number; equity: number }[] = [];
  let equity = 1;
  let holdEquity = 1;
  let trades = 0;
  let heldSlots = 0;
  const half = cost / 2;
  for (let i = 0; i < n; ) {
    const t = rows.ts[i]!;
    let j = i;
    while (j < n && rows.ts[j]! === t) j++;
    const w = 1 / (j - i);
    let r = 0;
    let h = 0;
    for (let k = i; k < j; k++) {
      const s = rows.symbol[k]!;
      const next = Number.isFinite(rows.nextReturn[k]!) ? rows.nextReturn[k]! : 0;
      const want = p[k]! > 0.5 ? 1 : 0;
      if (want !== held[s]) {
        trades++;
        r -= w * half;
        held[s] = want;
      }
      if (want) {
        r += w * next;
        heldSlots++;
      }
      h += w * next;
    }
    if (i === 0) {
      policyCurve.push({ ts: t, equity });
      holdCurve.push({ ts: t, equity: holdEquity });
    }
    equity *= 1 + r;
    holdEquity *= 1 + h;
    // the point at the end of the hour held
    policyCurve.push({ ts: t + HOUR_MS, equity });
    holdCurve.push({ ts: t + HOUR_MS, equity: holdEquity });
    i = j;
  }
  let open = 0;
  for (let s = 0; s < symbolCount; s++) open += held[s]!;
  if (open > 0 && policyCurve.length > 0) {
    // exit what is still held, at the last hour's weights (approximately: an equal share of the symbols)
    trades += open;
    const last = policyCurve[policyCurve.length - 1]!;
    last.equity = equity * (1 - (open / Math.max(1, symbolCount)) * half);
    equity = last.equity;
  }
  return {
    sharpe: sharpe(policyCurve),
    totalReturn: equity - 1,
    exposure: n > 0 ? heldSlots / n : 0,
    trades,
    holdSharpe: sharpe(holdCurve),
    hours: Math.max(0, policyCurve.length - 1),
  };
}
