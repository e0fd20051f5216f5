/**
 * The data-quality gate: bars that fail it are stored with the reason and never traded on.
 *
 * Two layers: `barFault` checks one bar on its own (pure, reusable), and `QualityGate` adds what needs the
 * symbol's history: time order, frozen feeds, gaps and price jumps measured in recent standard deviations.
 */
import type { Bar, BarBatch, Symbol } from '../types.js';
import { HOUR_MS } from './feed.js';

/** Why a bar is flagged. */
export type FlagKind = 'not-finite' | 'non-positive' | 'high-low' | 'off-grid' | 'future' | 'duplicate' | 'out-of-order' | 'stale' | 'jump';

/** A bar that failed the gate: it must be stored with `reason` and never reach the engine. */
export interface FlaggedBar {
  readonly kind: FlagKind;
  readonly symbol: Symbol;
  readonly bar: Bar;
  readonly reason: string;
  /** for a jump measured in standard deviations: how many */
  readonly sigmas?: number;
}

/** Bars missing before `bar` (a notice, not a flag: `bar` itself may be good and traded on). */
export interface GapNotice {
  readonly kind: 'gap';
  readonly symbol: Symbol;
  /** the first bar after the gap */
  readonly bar: Bar;
  /** bar intervals with no bar between the previous bar seen and `bar` */
  readonly missingBars: number;
  readonly reason: string;
}

export type QualityFinding = FlaggedBar | GapNotice;

/** True for a flagged bar, false for a gap notice. */
export function isFlagged(finding: QualityFinding): finding is FlaggedBar {
  return finding.kind !== 'gap';
}

/** What one batch came to: the bars that may be traded on, and what was found. */
export interface QualityResult {
  /** same `ts` as the input; only the bars that passed (possibly none) */
  readonly good: BarBatch;
  /** flagged bars and gap notices, in the batch's symbol order */
  readonly findings: readonly QualityFinding[];
}

/** The `quality` block of the config, plus what the venue decides. */
export interface QualityOptions {
  /** a log return beyond this many recent standard deviations is a jump */
  readonly maxSigmas: number;
  /** how many good log returns of the symbol the standard deviation is measured over */
  readonly sigmaWindowBars: number;
  /** more missing bars than this in a row are reported as a gap */
  readonly maxGapBars: number;
  /** bar interval; hourly by default */
  readonly barMs?: number;
  /**
   * Wall clock for the future-timestamp check. Leave it out for replays: a sim replays at many bars a second,
   * so its market time may legitimately run ahead of the wall clock.
   */
  readonly now?: () => number;
}

/** Returns needed before the sigma rule applies; until then a move of more than 50% in one bar is a jump. */
export const MIN_SIGMA_RETURNS = 24;
/** Floor on the per-bar standard deviation (0.1%): a flat series must not flag every tick. */
export const MIN_SIGMA = 0.001;
/** Before enough returns are known: a close more than 50% from the reference is a jump. */
const WARMUP_MAX_MOVE = 0.5;

const iso = (ts: number) => new Date(ts).toISOString();

/**
 * What is wrong with `bar` taken on its own, or undefined: non-finite values, non-positive prices or a
 * negative volume, high/low not bracketing open and close, a timestamp off the `barMs` grid, or (when `now` is
 * given) a bar opening in the future.
 */
export function barFault(bar: Bar, barMs: number, now?: number): { kind: FlagKind; reason: string } | undefined {
  const fields = ['open', 'high', 'low', 'close', 'volume', 'ts'] as const;
  for (const field of fields) {
    if (!Number.isFinite(bar[field])) return { kind: 'not-finite', reason: `${field} is ${bar[field]}, not a finite number` };
  }
  for (const field of ['open', 'high', 'low', 'close'] as const) {
    if (bar[field] <= 0) return { kind: 'non-positive', reason: `${field} is ${bar[field]}; prices must be positive` };
  }
  if (bar.volume < 0) return { kind: 'non-positive', reason: `volume is ${bar.volume}; it must not be negative` };
  if (bar.high < Math.max(bar.open, bar.close, bar.low) || bar.low > Math.min(bar.open, bar.close)) {
    return { kind: 'high-low', reason: `high ${bar.high} / low ${bar.low} do not bracket open ${bar.open} and close ${bar.close}` };
  }
  if (bar.ts % barMs !== 0) return { kind: 'off-grid', reason: `timestamp ${iso(bar.ts)} is not on the ${barMs / 60_000}-minute grid` };
  if (now !== undefined && bar.ts > now) return { kind: 'future', reason: `timestamp ${iso(bar.ts)} is in the future (now ${iso(now)})` };
  return undefined;
}

/**
 * A frozen feed repeating itself: open, high, low and close all equal to the previous bar's close, with zero
 * volume. Such a bar carries no information (a genuinely flat hour still trades, so it has volume).
 *
 * Deliberately NOT stale: a bar that is old compared with the wall clock. After a reconnect the live feed
 * backfills the missed hours over REST, and those are legitimately old; freshness of the feed as a whole is
 * the health monitor's job, not a per-bar verdict.
 */
export function isFrozen(bar: Bar, previous: Bar): boolean {
  const p = previous.close;
  return bar.volume === 0 && bar.open === p && bar.high === p && bar.low === p && bar.close === p;
}

/** Fixed-size window of log returns with a running sum and sum of squares. */
class ReturnWindow {
  private readonly values: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSq = 0;

  constructor(private readonly size: number) {}

  get count(): number {
    return this.values.length;
  }

  push(value: number): void {
    if (this.values.length < this.size) this.values.push(value);
    else {
      const old = this.values[this.next]!;
      this.sum -= old;
      this.sumSq -= old * old;
      this.values[this.next] = value;
      this.next = (this.next + 1) % this.size;
    }
    this.sum += value;
    this.sumSq += value * value;
  }

  /** Population standard deviation, floored at MIN_SIGMA. */
  sigma(): number {
    const n = this.values.length;
    const mean = this.sum / n;
    const variance = Math.max(0, this.sumSq / n - mean * mean);
    return Math.max(MIN_SIGMA, Math.sqrt(variance));
  }
}

interface SymbolState {
  /** the last bar that passed the gate */
  lastGood: Bar | undefined;
  /** the last bar seen with a sound shape and time (flagged as stale or a jump, or good): the order reference */
  lastSeen: Bar | undefined;
  /** per-bar log returns of good closes (a return over k bars is scaled by 1/√k) */
  returns: ReturnWindow;
}

/**
 * Stateful gate, one state per symbol. Feed it every batch in time order, including warm-up history, so its
 * return window and time order reflect what the engine saw. A bar is flagged when:
 * - `barFault` finds something wrong with it alone;
 * - its timestamp equals (duplicate) or precedes (out-of-order) the last bar seen for the symbol;
 * - it is a frozen repeat of the previous bar (stale, see `isFrozen`);
 * - it is a jump: the log return from the last good close exceeds `maxSigmas` standard deviations of the last
 *   `sigmaWindowBars` good returns (scaled by √bars for returns over several bars; until MIN_SIGMA_RETURNS
 *   returns are known, a move of more than 50%), AND the move from the previous bar seen is such a jump too.
 *   The second condition confirms a level change: after a genuine crash the next bar is near the flagged one
 *   and is accepted, while a single bad print flags only itself (the bar after it is back near the last good).
 * A gap longer than `maxGapBars` since the previous bar seen is reported as a notice; that bar is still judged
 * on its merits (and usually good).
 */
export class QualityGate {
  private readonly states = new Map<Symbol, SymbolState>();
  private readonly barMs: number;

  constructor(private readonly options: QualityOptions) {
    this.barMs = options.barMs ?? HOUR_MS;
  }

  /** Check one batch: the good bars, plus every flagged bar and gap notice. */
  check(batch: BarBatch): QualityResult {
    const good = new Map<Symbol, Bar>();
    const findings: QualityFinding[] = [];
    const now = this.options.now?.();
    for (const [symbol, bar] of batch.bars) {
      const state = this.state(symbol);
      const fault = barFault(bar, this.barMs, now) ?? this.orderFault(bar, state.lastSeen);
      if (fault) {
        findings.push({ ...fault, symbol, bar });
        continue;
      }
      const gap = this.gap(symbol, bar, state.lastSeen);
      if (gap) findings.push(gap);
      const flag = this.contentFault(bar, state);
      state.lastSeen = bar;
      if (flag) {
        findings.push({ ...flag, symbol, bar });
        continue;
      }
      if (state.lastGood) state.returns.push(this.perBarReturn(bar, state.lastGood));
      state.lastGood = bar;
      good.set(symbol, bar);
    }
    return { good: { ts: batch.ts, bars: good }, findings };
  }

  private state(symbol: Symbol): SymbolState {
    let s = this.states.get(symbol);
    if (!s) {
      s = { lastGood: undefined, lastSeen: undefined, returns: new ReturnWindow(this.options.sigmaWindowBars) };
      this.states.set(symbol, s);
    }
    return s;
  }

  private orderFault(bar: Bar, lastSeen: Bar | undefined): { kind: FlagKind; reason: string } | undefined {
    if (!lastSeen) return undefined;
    if (bar.ts === lastSeen.ts) return { kind: 'duplicate', reason: `a second bar for ${iso(bar.ts)}` };
    if (bar.ts < lastSeen.ts) return { kind: 'out-of-order', reason: `timestamp ${iso(bar.ts)} is older than the previous bar's ${iso(lastSeen.ts)}` };
    return undefined;
  }

  private gap(symbol: Symbol, bar: Bar, lastSeen: Bar | undefined): GapNotice | undefined {
    if (!lastSeen) return undefined;
    const missingBars = Math.round((bar.ts - lastSeen.ts) / this.barMs) - 1;
    if (missingBars <= this.options.maxGapBars) return undefined;
    return { kind: 'gap', symbol, bar, missingBars, reason: `${missingBars} bars missing between ${iso(lastSeen.ts)} and ${iso(bar.ts)}` };
  }

  /** Stale or jump, judged against the symbol's history. */
  private contentFault(bar: Bar, state: SymbolState): { kind: FlagKind; reason: string; sigmas?: number } | undefined {
    const { lastGood, lastSeen } = state;
    if (lastSeen && isFrozen(bar, lastSeen)) {
      return { kind: 'stale', reason: `frozen feed: open, high, low and close all equal the previous close ${lastSeen.close}, with zero volume` };
    }
    if (!lastGood || !lastSeen) return undefined;
    const fromGood = this.jump(bar, lastGood, state.returns);
    if (!fromGood) return undefined;
    // Confirmed only if it is also a jump from the bar just before (a level change's second bar is not).
    if (lastSeen !== lastGood && !this.jump(bar, lastSeen, state.returns)) return undefined;
    return { kind: 'jump', ...fromGood };
  }

  /** Why the move from `reference` to `bar` is a jump (and by how many σ), or undefined. */
  private jump(bar: Bar, reference: Bar, returns: ReturnWindow): { reason: string; sigmas?: number } | undefined {
    const move = bar.close / reference.close - 1;
    const pct = `${move >= 0 ? '+' : ''}${(move * 100).toFixed(1)}%`;
    const since = `the close ${reference.close} of ${iso(reference.ts)}`;
    if (returns.count < Math.min(MIN_SIGMA_RETURNS, this.options.sigmaWindowBars)) {
      if (Math.abs(move) <= WARMUP_MAX_MOVE) return undefined;
      return { reason: `close ${bar.close} moved ${pct} from ${since} (more than 50% before enough history for a volatility estimate)` };
    }
    const bars = Math.max(1, Math.round((bar.ts - reference.ts) / this.barMs));
    const sigma = returns.sigma();
    const sigmas = Math.abs(Math.log(bar.close / reference.close)) / (sigma * Math.sqrt(bars));
    if (sigmas <= this.options.maxSigmas) return undefined;
    return {
      reason: `close ${bar.close} moved ${pct} from ${since}: ${sigmas.toFixed(1)}σ (σ ${(sigma * 100).toFixed(2)}% per bar over the last ${returns.count} good bars; the limit is ${this.options.maxSigmas}σ)`,
      sigmas,
    };
  }

  private perBarReturn(bar: Bar, previous: Bar): number {
    const bars = Math.max(1, Math.round((bar.ts - previous.ts) / this.barMs));
    return Math.log(bar.close / previous.close) / Math.sqrt(bars);
  }
}

/** Short label of a finding for alerts, e.g. "BTC/USD jump 14.2σ at 2024-03-01T05:00Z". */
export function describeFinding(finding: QualityFinding): string {
  const at = iso(finding.bar.ts).replace(':00.000Z', 'Z');
  if (finding.kind === 'gap') return `${finding.symbol}: ${finding.missingBars} bars missing before ${at}`;
  const sigmas = finding.sigmas === undefined ? '' : ` ${finding.sigmas.toFixed(1)}σ`;
  return `${finding.symbol} ${finding.kind}${sigmas} at ${at}`;
}
