import { describe, expect, it } from 'vitest';
import type { NotificationKind } from '../engine/ports.js';
import type { FlaggedBar, GapNotice, QualityFinding } from '../engine/market/quality.js';
import type { Bar } from '../engine/types.js';
import { QualityAlerts } from './quality-alerts.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 2, 1, 5);
const bar = (h: number, close = 100): Bar => ({ ts: T0 + h * HOUR, open: close, high: close, low: close, close, volume: 1 });
const jump = (symbol: string, h: number, sigmas = 14.23): FlaggedBar => ({ kind: 'jump', symbol, bar: bar(h, 130), reason: `close 130 moved +30.0%: ${sigmas.toFixed(1)}σ`, sigmas });
const stale = (symbol: string, h: number): FlaggedBar => ({ kind: 'stale', symbol, bar: bar(h), reason: 'frozen feed' });
const gap = (symbol: string, h: number, missingBars: number): GapNotice => ({ kind: 'gap', symbol, bar: bar(h), missingBars, reason: `${missingBars} bars missing` });

/** A QualityAlerts with a hand-moved clock, a recorded journal and notifier, and a timer the test fires. */
function rig(journalThrows = false) {
  let now = 1_000_000;
  const stored: Array<[string, number, string, boolean]> = [];
  const sent: Array<[NotificationKind, string]> = [];
  const logged: string[] = [];
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const alerts = new QualityAlerts({
    journal: {
      recordFlaggedBar(symbol, b, flag, inBars) {
        if (journalThrows) throw new Error('database is locked');
        stored.push([symbol, b.ts, flag, inBars]);
      },
    },
    notifier: { notify: (kind, text) => void sent.push([kind, text]) },
    wallNow: () => now,
    schedule: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return { cancel: () => void (t.cancelled = true) };
    },
    log: (msg) => void logged.push(msg),
  });
  return { alerts, stored, sent, logged, timers, advance: (ms: number) => void (now += ms) };
}

describe('QualityAlerts', () => {
  it('stores each flagged bar with its kind and reason, and alerts a batch at once with the count', () => {
    const r = rig();
    r.alerts.report([jump('BTC/USD', 0), stale('SOL/USD', 0), gap('ETH/USD', 0, 3)]);
    expect(r.stored).toEqual([
      ['BTC/USD', T0, 'jump: close 130 moved +30.0%: 14.2σ', true],
      ['SOL/USD', T0, 'stale: frozen feed', true],
    ]);
    expect(r.sent).toEqual([
      ['risk', '2 bad bars (BTC/USD jump 14.2σ at 2024-03-01T05:00Z; SOL/USD stale at 2024-03-01T05:00Z). Stored, not traded on. 2 flagged since start.'],
      ['info', 'Market data gap: ETH/USD 3 hours missing before 2024-03-01T05:00Z. The bars after a gap are used. 1 gap since start.'],
    ]);
    expect(r.timers).toEqual([]);
    expect(r.alerts.flaggedSinceStart).toBe(2);
  });

  it('names the reason when a message is about one bar', () => {
    const r = rig();
    r.alerts.report([stale('SOL/USD', 0)]);
    expect(r.sent).toEqual([['risk', '1 bad bar (SOL/USD stale at 2024-03-01T05:00Z: frozen feed). Stored, not traded on. 1 flagged since start.']]);
  });

  it('within a minute of a message, stores at once but holds the alert, then sends one message for everything held', () => {
    const r = rig();
    r.alerts.report([jump('BTC/USD', 0)]);
    r.advance(10_000);
    r.alerts.report([jump('ETH/USD', 1, 20)]);
    r.advance(5_000);
    r.alerts.report([stale('SOL/USD', 2), gap('ETH/USD', 2, 4)]);
    expect(r.stored.map(([s, ts]) => [s, ts])).toEqual([['BTC/USD', T0], ['ETH/USD', T0 + HOUR], ['SOL/USD', T0 + 2 * HOUR]]);
    expect(r.sent).toHaveLength(1);
    // One timer, for the rest of the minute.
    expect(r.timers.map((t) => t.ms)).toEqual([50_000]);
    r.advance(45_000);
    r.timers[0]!.fn();
    expect(r.sent.slice(1)).toEqual([
      ['risk', '2 bad bars (ETH/USD jump 20.0σ at 2024-03-01T06:00Z; SOL/USD stale at 2024-03-01T07:00Z). Stored, not traded on. 3 flagged since start.'],
      ['info', 'Market data gap: ETH/USD 4 hours missing before 2024-03-01T07:00Z. The bars after a gap are used. 1 gap since start.'],
    ]);
    // The next finding within a minute of that message waits again; after the minute it goes at once.
    r.advance(30_000);
    r.alerts.report([stale('SOL/USD', 3)]);
    expect(r.sent).toHaveLength(3);
    expect(r.timers.map((t) => t.ms)).toEqual([50_000, 30_000]);
    r.advance(30_000);
    r.alerts.report([stale('SOL/USD', 4)]);
    expect(r.timers[1]!.cancelled).toBe(true);
    expect(r.sent.slice(3)).toEqual([
      ['risk', '2 bad bars (SOL/USD stale at 2024-03-01T08:00Z; SOL/USD stale at 2024-03-01T09:00Z). Stored, not traded on. 5 flagged since start.'],
    ]);
  });

  it('names five bars and counts the rest', () => {
    const r = rig();
    r.alerts.report(Array.from({ length: 7 }, (_, i) => stale('SOL/USD', i)));
    expect(r.sent[0]![1]).toBe(
      '7 bad bars (SOL/USD stale at 2024-03-01T05:00Z; SOL/USD stale at 2024-03-01T06:00Z; SOL/USD stale at 2024-03-01T07:00Z; SOL/USD stale at 2024-03-01T08:00Z; SOL/USD stale at 2024-03-01T09:00Z; and 2 more). Stored, not traded on. 7 flagged since start.',
    );
  });

  it('stores duplicates, out-of-order and non-finite bars only as received (the bars row of that hour holds the traded bar)', () => {
    const r = rig();
    const findings: QualityFinding[] = [
      { kind: 'duplicate', symbol: 'BTC/USD', bar: bar(0), reason: 'a second bar' },
      { kind: 'out-of-order', symbol: 'ETH/USD', bar: bar(0), reason: 'older' },
      { kind: 'not-finite', symbol: 'SOL/USD', bar: { ...bar(0), close: Number.NaN }, reason: 'close is NaN' },
    ];
    r.alerts.report(findings);
    expect(r.stored.map(([symbol, , flag, inBars]) => [symbol, flag, inBars])).toEqual([
      ['BTC/USD', 'duplicate: a second bar', false],
      ['ETH/USD', 'out-of-order: older', false],
      ['SOL/USD', 'not-finite: close is NaN', false],
    ]);
    expect(r.logged).toEqual([]);
    expect(r.sent[0]![1]).toMatch(/^3 bad bars \(BTC\/USD duplicate at 2024-03-01T05:00Z; ETH\/USD out-of-order at 2024-03-01T05:00Z; SOL\/USD [^)]*\)\. Stored, not traded on\. 3 flagged since start\.$/);
  });

  it('a bar the store refuses is logged and still alerted', () => {
    const r = rig(true);
    r.alerts.report([jump('BTC/USD', 0)]);
    expect(r.logged).toEqual(['could not store a flagged bar']);
    expect(r.sent).toEqual([['risk', '1 bad bar (BTC/USD jump 14.2σ at 2024-03-01T05:00Z: close 130 moved +30.0%: 14.2σ). Not traded on; not stored (see the log). 1 flagged since start.']]);
  });

  it('sends nothing for a batch without findings, and flush with nothing held is silent', () => {
    const r = rig();
    r.alerts.report([]);
    r.alerts.flush();
    expect(r.sent).toEqual([]);
    expect(r.timers).toEqual([]);
  });
});
