/**
 * The health monitor: database, broker, data-feed freshness (and the dead-man switch), chat delivery, Ollama
 * (optional), memory, event-loop lag and disk, checked every `health.intervalSeconds`. /health renders the
 * latest report and GET /healthz serves it (503 when critical). A check that changes status is alerted once:
 * critical as a critical alert (it reaches the phone whatever the verbosity), warnings and recoveries as info.
 */
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { EngineApi } from '../engine/api.js';
import type { BreakerState } from '../engine/broker/circuit-breaker.js';
import type { NotificationKind } from '../engine/ports.js';
import type { Config } from './config.js';

export type HealthStatus = 'ok' | 'warn' | 'critical';

export interface HealthCheck {
  readonly name: string;
  readonly status: HealthStatus;
  readonly detail: string;
}

export interface HealthReport {
  /** the worst status of the checks */
  readonly status: HealthStatus;
  /** wall-clock ms */
  readonly checkedAt: number;
  readonly checks: readonly HealthCheck[];
}

/** Where the bars come from, as far as freshness is concerned. */
export interface FeedState {
  /** false before the market began and after a replay ran out of bars: no bars are expected then */
  readonly running: boolean;
  /** wall-clock ms between bars: 1 h live, 1000 / barsPerSecond in sim */
  readonly barIntervalMs: number;
  /** why the market loop stopped on its own (an error), if it did: no more bars will come until a restart */
  readonly failure?: string;
}

export interface ChannelState {
  readonly channel: string;
  /** consecutive failed sends; 0 = delivering */
  readonly failures: number;
  readonly queued: number;
  /** when the oldest undelivered message was written (wall-clock ms) */
  readonly oldestQueuedAt: number | undefined;
}

export interface HealthSources {
  readonly dbPath: string;
  readonly engine: EngineApi;
  readonly feed: () => FeedState;
  readonly breakers: () => ReadonlyArray<{ readonly group: string; readonly state: BreakerState }>;
  readonly channels: () => readonly ChannelState[];
  /** set when the Ollama check is on */
  readonly ollamaHost?: string;
  readonly alert: (kind: NotificationKind, text: string) => void;
  readonly now?: () => number;
  /** bytes; default process.memoryUsage.rss */
  readonly rss?: () => number;
  /** free bytes on the file system of `dir` */
  readonly diskFree?: (dir: string) => Promise<number>;
}

/** The dead-man switch never fires sooner than this: a fast sim replay's bar interval is well under a second. */
const DEAD_MAN_FLOOR_MS = 60_000;
/** A chat channel failing with a message older than this waiting is critical: the phone is not being told. */
const UNDELIVERED_CRITICAL_MS = 15 * 60_000;
const DB_PROBE_TIMEOUT_MS = 250;
const OLLAMA_TIMEOUT_MS = 2_000;
const MB = 1024 * 1024;
/** A warning or a recovery is alerted once it held this many checks in a row (critical goes at once). */
export const CONFIRM_CHECKS = 3;
const RANK: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

export function worst(statuses: readonly HealthStatus[]): HealthStatus {
  return statuses.reduce<HealthStatus>((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok');
}

export class HealthMonitor {
  private readonly lag = monitorEventLoopDelay({ resolution: 20 });
  private readonly now: () => number;
  private report: HealthReport | undefined;
  /** the status each check was last alerted with (ok until told otherwise) */
  private readonly told = new Map<string, HealthStatus>();
  /** each check's current status and for how many checks in a row it has held */
  private readonly streaks = new Map<string, { status: HealthStatus; count: number }>();
  private runningSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<HealthReport> | undefined;

  constructor(
    private readonly limits: Config['health'],
    private readonly sources: HealthSources,
  ) {
    this.now = sources.now ?? Date.now;
    this.lag.enable();
  }

  /** Check now, then every interval. */
  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.limits.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.lag.disable();
  }

  /** The latest report, if a check has finished. */
  current(): HealthReport | undefined {
    return this.report;
  }

  /** The latest report, or a fresh one before the first check finished. */
  async latest(): Promise<HealthReport> {
    return this.report ?? this.check();
  }

  /** Run every check (one round at a time), remember the report and alert the changes. */
  check(): Promise<HealthReport> {
    this.inFlight ??= this.runChecks().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async runChecks(): Promise<HealthReport> {
    const checks: HealthCheck[] = [
      this.database(),
      this.broker(),
      ...this.freshness(),
      ...this.channels(),
      this.memory(),
      this.loopLag(),
      await this.disk(),
      ...(this.sources.ollamaHost ? [await this.ollama(this.sources.ollamaHost)] : []),
    ];
    const report: HealthReport = { status: worst(checks.map((c) => c.status)), checkedAt: this.now(), checks };
    this.alertChanges(checks);
    this.report = report;
    return report;
  }

  /**
   * Alerts what the operator was not yet told. Critical goes at once; a warning or a recovery only once it held
   * for CONFIRM_CHECKS checks in a row, so a value hovering at a threshold (memory near 200 MB) does not flap.
   */
  private alertChanges(checks: readonly HealthCheck[]): void {
    for (const check of checks) {
      const told = this.told.get(check.name) ?? 'ok';
      const streak = this.streaks.get(check.name);
      const count = streak?.status === check.status ? streak.count + 1 : 1;
      this.streaks.set(check.name, { status: check.status, count });
      if (check.status === told) continue;
      if (check.status !== 'critical' && count < CONFIRM_CHECKS) continue;
      this.told.set(check.name, check.status);
      if (check.status === 'critical') this.sources.alert('critical', `Health CRITICAL: ${check.name}: ${check.detail}`);
      else if (check.status === 'warn') this.sources.alert('info', `Health warning: ${check.name}: ${check.detail}`);
      else this.sources.alert(told === 'critical' ? 'state' : 'info', `Health recovered: ${check.name}: ${check.detail}`);
    }
  }

  /** A real write through its own short-timeout connection: a locked, read-only, full or missing file fails it. */
  private database(): HealthCheck {
    const name = 'database';
    if (this.sources.dbPath === ':memory:') return { name, status: 'ok', detail: 'in memory' };
    let db: Database.Database | undefined;
    try {
      db = new Database(this.sources.dbPath, { fileMustExist: true, timeout: DB_PROBE_TIMEOUT_MS });
      db.prepare("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('health.probe', ?, ?, 'health') ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at").run(
        JSON.stringify(this.now()),
        this.now(),
      );
      return { name, status: 'ok', detail: 'writable' };
    } catch (error) {
      return { name, status: 'critical', detail: `cannot write ${this.sources.dbPath}: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      db?.close();
    }
  }

  private broker(): HealthCheck {
    const breakers = this.sources.breakers();
    if (breakers.length === 0) return { name: 'broker', status: 'ok', detail: `${this.sources.engine.status().broker} (no external API)` };
    const open = breakers.filter((b) => b.state !== 'closed');
    // Orders cannot reach the venue while the trading breaker is open; data and news have fallbacks.
    const status = worst(open.map((b) => (b.state === 'open' && /trading/.test(b.group) ? 'critical' : 'warn')));
    return { name: 'broker', status, detail: breakers.map((b) => `${b.group} ${b.state}`).join(', ') };
  }

  /** Feed freshness (a warning) and the dead-man switch: no decision for deadManBars intervals while running. */
  private freshness(): HealthCheck[] {
    const feed = this.sources.feed();
    const now = this.now();
    if (feed.failure !== undefined) {
      this.runningSince = undefined;
      return [
        { name: 'data feed', status: 'critical', detail: `the market loop stopped: ${feed.failure}; no bars until a restart` },
        { name: 'decisions', status: 'critical', detail: 'none: the market loop stopped' },
      ];
    }
    if (!feed.running) {
      this.runningSince = undefined;
      return [
        { name: 'data feed', status: 'ok', detail: 'not running (no bars expected)' },
        { name: 'decisions', status: 'ok', detail: 'not running' },
      ];
    }
    this.runningSince ??= now;
    const status = this.sources.engine.status();
    // Before the first bar, the clock starts when the feed started: a feed that never delivers is caught too.
    const last = status.health.lastBarWallTime ?? this.runningSince;
    const age = now - last;
    const staleAfter = this.limits.feedStaleBars * feed.barIntervalMs;
    const deadAfter = Math.max(this.limits.deadManBars * feed.barIntervalMs, DEAD_MAN_FLOOR_MS);
    const since = status.health.lastBarWallTime === undefined ? 'since the feed started' : 'since the last bar';
    return [
      age > staleAfter
        ? { name: 'data feed', status: 'warn', detail: `stale: no bar for ${duration(age)} ${since} (expected every ${duration(feed.barIntervalMs)})` }
        : { name: 'data feed', status: 'ok', detail: `last bar ${duration(age)} ago` },
      age > deadAfter
        ? { name: 'decisions', status: 'critical', detail: `dead-man switch: no decision for ${duration(age)} while the market is running (limit ${duration(deadAfter)})` }
        : { name: 'decisions', status: 'ok', detail: `last ${status.lastDecisionAt !== undefined ? `for market time ${new Date(status.lastDecisionAt).toISOString().slice(0, 16)}Z` : 'none yet'}` },
    ];
  }

  private channels(): HealthCheck[] {
    return this.sources.channels().map((c) => {
      const name = `${c.channel} delivery`;
      if (c.failures === 0) return { name, status: 'ok', detail: `delivering, ${c.queued} queued` };
      const waited = c.oldestQueuedAt !== undefined ? this.now() - c.oldestQueuedAt : 0;
      const status: HealthStatus = waited > UNDELIVERED_CRITICAL_MS ? 'critical' : 'warn';
      return { name, status, detail: `failing (${c.failures} tries), ${c.queued} queued${waited > 0 ? `, oldest ${duration(waited)} old` : ''}` };
    });
  }

  private memory(): HealthCheck {
    const mb = (this.sources.rss ?? process.memoryUsage.rss)() / MB;
    const { warn, critical } = this.limits.memoryMb;
    const status: HealthStatus = mb >= critical ? 'critical' : mb >= warn ? 'warn' : 'ok';
    return { name: 'memory', status, detail: `${mb.toFixed(0)} MB resident (warn ${warn} MB, critical ${critical} MB)` };
  }

  /** p99 event-loop delay since the previous check. */
  private loopLag(): HealthCheck {
    const ms = this.lag.count > 0 ? this.lag.percentile(99) / 1e6 : 0;
    this.lag.reset();
    const { warn, critical } = this.limits.loopLagMs;
    const status: HealthStatus = ms >= critical ? 'critical' : ms >= warn ? 'warn' : 'ok';
    return { name: 'event loop', status, detail: `lag p99 ${ms.toFixed(0)} ms (warn ${warn} ms, critical ${critical} ms)` };
  }

  private async disk(): Promise<HealthCheck> {
    const dir = this.sources.dbPath === ':memory:' ? process.cwd() : dirname(resolve(this.sources.dbPath));
    try {
      const free = (await (this.sources.diskFree ?? freeBytes)(dir)) / MB;
      const { warn, critical } = this.limits.diskFreeMb;
      const status: HealthStatus = free <= critical ? 'critical' : free <= warn ? 'warn' : 'ok';
      return { name: 'disk', status, detail: `${free.toFixed(0)} MB free in ${dir} (warn ${warn} MB, critical ${critical} MB)` };
    } catch (error) {
      return { name: 'disk', status: 'warn', detail: `cannot read free space of ${dir}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  /** Optional: the advisor and the headline scorer fall back without Ollama, so it is never worse than a warning. */
  private async ollama(host: string): Promise<HealthCheck> {
    try {
      const response = await fetch(new URL('/api/tags', host), { signal: AbortSignal.timeout(OLLAMA_TIMEOUT_MS) });
      if (!response.ok) return { name: 'ollama', status: 'warn', detail: `${host} answered HTTP ${response.status}; /advise falls back to a plain summary` };
      return { name: 'ollama', status: 'ok', detail: `${host} reachable` };
    } catch (error) {
      return { name: 'ollama', status: 'warn', detail: `${host} unreachable (${error instanceof Error ? error.message : String(error)}); /advise falls back to a plain summary` };
    }
  }
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** "45 s", "12 min", "3.0 h" */
export function duration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** For /health and the digest: the overall status, then one line per check. */
export function renderHealth(report: HealthReport, now: number = Date.now()): string {
  const label: Record<HealthStatus, string> = { ok: 'ok', warn: 'WARN', critical: 'CRITICAL' };
  return [
    `Health ${label[report.status]} (checked ${duration(Math.max(0, now - report.checkedAt))} ago)`,
    ...report.checks.map((c) => `  ${c.name}: ${label[c.status]}, ${c.detail}`),
  ].join('\n');
}

/** One line for the digest: "ok" or the checks that are not, worst first. */
export function summarizeHealth(report: HealthReport): string {
  const bad = report.checks.filter((c) => c.status !== 'ok').sort((a, b) => RANK[b.status] - RANK[a.status]);
  if (bad.length === 0) return `ok (${report.checks.length} checks)`;
  return bad.map((c) => `${c.status === 'critical' ? 'CRITICAL' : 'WARN'} ${c.name}: ${c.detail}`).join('; ');
}
