/**
 * The report schedule: the daily digest and the weekly report at cron times in a time zone (node-cron). A job
 * that throws is logged and alerted; the schedule keeps running. Timers are unref'd: a schedule never keeps the
 * process alive on its own.
 */
import cron, { type ScheduledTask } from 'node-cron';

export interface ReportJobs {
  daily(): Promise<void> | void;
  weekly(): Promise<void> | void;
}

export interface ReportSchedule {
  /** cron expressions (minute hour day month weekday), e.g. "0 8 * * *" */
  readonly daily: string;
  readonly weekly: string;
  /** IANA time zone, e.g. "UTC" or "Europe/Berlin" */
  readonly timezone: string;
}

export interface ScheduledReports {
  stop(): Promise<void>;
  /** the next time each job fires, ms UTC (null when it never will) */
  next(): { daily: number | null; weekly: number | null };
}

/** Whether `expression` is a cron expression node-cron accepts (for config validation). */
export function validCron(expression: string): boolean {
  return cron.validate(expression);
}

export function scheduleReports(schedule: ReportSchedule, jobs: ReportJobs, onError: (job: string, error: unknown) => void): ScheduledReports {
  const run = (job: 'daily' | 'weekly') => async () => {
    try {
      await jobs[job]();
    } catch (error) {
      onError(job, error);
    }
  };
  const options = { timezone: schedule.timezone, noOverlap: true, unref: true, suppressMissedWarning: true };
  const tasks: Record<'daily' | 'weekly', ScheduledTask> = {
    daily: cron.schedule(schedule.daily, run('daily'), { ...options, name: 'daily digest' }),
    weekly: cron.schedule(schedule.weekly, run('weekly'), { ...options, name: 'weekly report' }),
  };
  return {
    async stop() {
      await tasks.daily.destroy();
      await tasks.weekly.destroy();
    },
    next: () => ({ daily: tasks.daily.getNextRun()?.getTime() ?? null, weekly: tasks.weekly.getNextRun()?.getTime() ?? null }),
  };
}
