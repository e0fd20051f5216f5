/**
 * What happens to the data-quality gate's findings in sim, paper and live: every flagged bar is stored with its
 * reason at once, and the operator hears about them with counts, without a message per bar. A batch with
 * findings sends one message (flagged bars as 'risk', gaps as 'info') unless one went out less than
 * `minIntervalMs` ago; then the findings are held and sent together when the interval is over.
 */
import type { Notifier } from '../engine/ports.js';
import { describeFinding, isFlagged, type FlaggedBar, type GapNotice, type QualityFinding } from '../engine/market/quality.js';
import type { Bar } from '../engine/types.js';

/** At most one message of each kind per minute of wall time. */
export const QUALITY_ALERT_INTERVAL_MS = 60_000;
/** Findings named in one message; the rest are counted. */
const NAMED = 5;

export interface QualityAlertsOptions {
  readonly journal: { recordFlaggedBar(symbol: string, bar: Bar, flag: string, inBars: boolean): void };
  readonly notifier: Notifier;
  readonly wallNow?: () => number;
  readonly minIntervalMs?: number;
  /** runs `fn` after `ms` (tests pass their own); the default timer does not keep the process alive */
  readonly schedule?: (fn: () => void, ms: number) => { cancel(): void };
  readonly log?: (msg: string, detail: Record<string, unknown>) => void;
}

function defaultSchedule(fn: () => void, ms: number): { cancel(): void } {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
}

/** Stores flagged bars and sends throttled, counted alerts for them and for gaps. */
export class QualityAlerts {
  private flaggedTotal = 0;
  private gapsTotal = 0;
  private pendingFlagged: Array<{ finding: FlaggedBar; stored: boolean }> = [];
  private pendingGaps: GapNotice[] = [];
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: { cancel(): void } | undefined;
  private readonly wallNow: () => number;
  private readonly interval: number;
  private readonly schedule: (fn: () => void, ms: number) => { cancel(): void };

  constructor(private readonly opts: QualityAlertsOptions) {
    this.wallNow = opts.wallNow ?? Date.now;
    this.interval = opts.minIntervalMs ?? QUALITY_ALERT_INTERVAL_MS;
    this.schedule = opts.schedule ?? defaultSchedule;
  }

  /** Flagged bars since start (stored or not). */
  get flaggedSinceStart(): number {
    return this.flaggedTotal;
  }

  /** Store the flagged bars of one batch and alert (now, or with the next message when throttled). */
  report(findings: readonly QualityFinding[]): void {
    if (findings.length === 0) return;
    for (const finding of findings) {
      if (isFlagged(finding)) {
        const stored = this.store(finding);
        this.flaggedTotal += 1;
        this.pendingFlagged.push({ finding, stored });
      } else {
        this.gapsTotal += 1;
        this.pendingGaps.push(finding);
      }
    }
    const wait = this.lastSentAt + this.interval - this.wallNow();
    if (wait <= 0) this.flush();
    else this.timer ??= this.schedule(() => this.flush(), wait);
  }

  /** Send whatever is held now (also called at stop, so nothing found is left unsaid). */
  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.pendingFlagged.length === 0 && this.pendingGaps.length === 0) return;
    if (this.pendingFlagged.length > 0) this.opts.notifier.notify('risk', this.flaggedMessage(this.pendingFlagged));
    if (this.pendingGaps.length > 0) this.opts.notifier.notify('info', this.gapMessage(this.pendingGaps));
    this.pendingFlagged = [];
    this.pendingGaps = [];
    this.lastSentAt = this.wallNow();
  }

  /**
   * The flag is `kind: reason`. Every flagged bar is stored as received (flagged_bars); it also goes into the
   * bars table, flagged, unless it is a duplicate or out-of-order (its hour holds the bar that was traded on) or
   * holds a non-finite value. A bar the store refuses is logged and still alerted. Returns whether it was stored.
   */
  private store(finding: FlaggedBar): boolean {
    const b = finding.bar;
    const inBars = finding.kind !== 'duplicate' && finding.kind !== 'out-of-order' && [b.open, b.high, b.low, b.close, b.volume].every(Number.isFinite);
    try {
      this.opts.journal.recordFlaggedBar(finding.symbol, finding.bar, `${finding.kind}: ${finding.reason}`, inBars);
      return true;
    } catch (error) {
      this.opts.log?.('could not store a flagged bar', { symbol: finding.symbol, ts: finding.bar.ts, kind: finding.kind, error: (error as Error).message });
      return false;
    }
  }

  private flaggedMessage(flagged: ReadonlyArray<{ finding: FlaggedBar; stored: boolean }>): string {
    const n = flagged.length;
    const named = flagged.slice(0, NAMED).map(({ finding: f }) => (n === 1 ? `${describeFinding(f)}: ${f.reason}` : describeFinding(f)));
    const more = n > NAMED ? `; and ${n - NAMED} more` : '';
    const unstored = flagged.filter((f) => !f.stored).length;
    const fate = unstored === 0 ? 'Stored, not traded on.' : unstored === n ? 'Not traded on; not stored (see the log).' : `Not traded on; stored but for ${unstored} (see the log).`;
    return `${n} bad bar${n === 1 ? '' : 's'} (${named.join('; ')}${more}). ${fate} ${this.flaggedTotal} flagged since start.`;
  }

  private gapMessage(gaps: readonly GapNotice[]): string {
    const n = gaps.length;
    const named = gaps.slice(0, NAMED).map((g) => `${g.symbol} ${g.missingBars} hours missing before ${new Date(g.bar.ts).toISOString().replace(':00.000Z', 'Z')}`);
    const more = n > NAMED ? `; and ${n - NAMED} more` : '';
    return `Market data gap${n === 1 ? '' : 's'}: ${named.join('; ')}${more}. The bars after a gap are used. ${this.gapsTotal} gap${this.gapsTotal === 1 ? '' : 's'} since start.`;
  }
}
