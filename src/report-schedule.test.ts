import { afterEach, describe, expect, it, vi } from 'vitest';
import { scheduleReports, validCron } from './report-schedule.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('report schedule', () => {
  it('fires the daily digest at 08:00 UTC and the weekly report on Monday, on a controlled clock', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 22, 7, 58, 0) }); // Sunday 22 Nov 2026, 07:58 UTC
    const fired: Array<{ job: string; at: string }> = [];
    const reports = scheduleReports(
      { daily: '0 8 * * *', weekly: '0 8 * * 1', timezone: 'UTC' },
      { daily: () => void fired.push({ job: 'daily', at: new Date().toISOString() }), weekly: () => void fired.push({ job: 'weekly', at: new Date().toISOString() }) },
      () => undefined,
    );
    expect(reports.next()).toEqual({ daily: Date.UTC(2026, 10, 22, 8, 0), weekly: Date.UTC(2026, 10, 23, 8, 0) });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fired).toEqual([]); // 07:59: not yet
    await vi.advanceTimersByTimeAsync(90_000);
    expect(fired.map((f) => f.job)).toEqual(['daily']);
    expect(fired[0]!.at.slice(0, 16)).toBe('2026-11-22T08:00');
    await vi.advanceTimersByTimeAsync(24 * 3_600_000);
    expect(fired.map((f) => `${f.job} ${f.at.slice(0, 16)}`)).toEqual(['daily 2026-11-22T08:00', 'daily 2026-11-23T08:00', 'weekly 2026-11-23T08:00']);
    await reports.stop();
    await vi.advanceTimersByTimeAsync(48 * 3_600_000);
    expect(fired).toHaveLength(3); // stopped: nothing more
  });

  it('honours the time zone', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 6, 1, 5, 0, 0) });
    const reports = scheduleReports({ daily: '0 8 * * *', weekly: '0 8 * * 1', timezone: 'Europe/Berlin' }, { daily: () => undefined, weekly: () => undefined }, () => undefined);
    // 08:00 in Berlin in July is 06:00 UTC
    expect(reports.next().daily).toBe(Date.UTC(2026, 6, 1, 6, 0));
    await reports.stop();
  });

  it('reports a failing job and keeps the schedule', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 22, 7, 59, 30) });
    const errors: string[] = [];
    let calls = 0;
    const reports = scheduleReports(
      { daily: '* * * * *', weekly: '0 8 * * 1', timezone: 'UTC' },
      {
        daily: () => {
          calls += 1;
          throw new Error('no data');
        },
        weekly: () => undefined,
      },
      (job, error) => errors.push(`${job}: ${(error as Error).message}`),
    );
    await vi.advanceTimersByTimeAsync(150_000);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toBe('daily: no data');
    await reports.stop();
  });

  it('validates expressions', () => {
    expect(validCron('0 8 * * *')).toBe(true);
    expect(validCron('61 8 * * *')).toBe(false);
    expect(validCron('every morning')).toBe(false);
  });
});
