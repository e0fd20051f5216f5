/**
 * The supervisor's decisions, free of real processes and real time so that tests can drive them: start the
 * agent, watch its heartbeats, and after a crash, a stall or a suspected leak restart it with exponential
 * backoff, or give up when it keeps failing. src/supervisor-process.ts wires it to fork(), signals and the file.
 *
 * Exit semantics (the child's exit code, as src/main.ts sets it): 0 is a clean stop, so the supervisor stops
 * too; 2 is an operator error (bad config, a second instance …) that a restart cannot fix, so it alerts and
 * exits 2; anything else, or a signal, is a crash.
 */
import type { Config } from './config.js';
import { isHeartbeat, type RestartInfo } from './heartbeat.js';

export type SupervisorSettings = Config['supervisor'];

/** What the supervisor needs of a running agent. The real one wraps a ChildProcess; tests use EventEmitters. */
export interface SupervisedChild {
  readonly pid?: number | undefined;
  kill(signal: NodeJS.Signals): boolean;
  /** 'exit' must come once the child's output is read, so that `failure()` is complete */
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'message', listener: (message: unknown) => void): this;
  /** the child's own last word on why it failed (e.g. "Error: boom" from its stderr), if any */
  failure?(): string | undefined;
}

/** Starts an agent; `restart` is set for every start after the first. */
export type Spawner = (restart: RestartInfo | undefined) => SupervisedChild;

/** Injected time, so tests can run the backoff sequence without waiting. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What is persisted after each start and exit (src/supervisor-state.ts adds the supervisor's pid and times). */
export interface SupervisorSnapshot {
  readonly childPid: number | null;
  readonly restarts: number;
  readonly lastExit: { readonly at: number; readonly reason: string } | null;
}

export interface SupervisorDeps {
  readonly spawn: Spawner;
  /** sends an alert to the operator; never throws */
  readonly alert: (text: string) => void;
  readonly persist?: (snapshot: SupervisorSnapshot) => void;
  readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  readonly timers?: Timers;
  /** restarts counted by earlier supervisor runs (from the persisted state) */
  readonly restartsBefore?: number;
}

/** How long a stopping agent gets before it is killed. */
export const STOP_GRACE_MS = 20_000;
/** The first heartbeat may take this long (module loading); stallSeconds applies after it, if longer. */
export const FIRST_HEARTBEAT_GRACE_MS = 30_000;
/** RSS above maxRssMb in this many heartbeats in a row is treated as a leak. */
export const RSS_STRIKES = 3;
/** This many crashes in a row without a healthy run is called a crash loop in the alert. */
export const CRASH_LOOP = 3;

/** Why the supervisor killed the agent itself. */
interface KillCause {
  readonly kind: 'stalled' | 'leak';
  readonly detail: string;
}

export class Supervisor {
  private readonly timers: Timers;
  private child: SupervisedChild | undefined;
  /** crashes since the last healthy run: the next delay is initialSeconds · 2^failures */
  private failures = 0;
  /** when each restart of this run happened, for the give-up window */
  private restartTimes: number[] = [];
  private restarts: number;
  private lastExit: SupervisorSnapshot['lastExit'] = null;
  private stopping = false;
  private killCause: KillCause | undefined;
  private rssStrikes = 0;
  private stallTimer: unknown;
  private healthyTimer: unknown;
  private restartTimer: unknown;
  private forceTimer: unknown;
  private finished = false;
  private resolveDone!: (code: number) => void;
  private readonly done = new Promise<number>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly settings: SupervisorSettings,
    private readonly deps: SupervisorDeps,
  ) {
    this.timers = deps.timers ?? realTimers;
    this.restarts = deps.restartsBefore ?? 0;
  }

  /** Starts the agent; resolves with the supervisor's exit code once it is done (0, 1 after giving up, or 2). */
  run(): Promise<number> {
    this.start(undefined);
    return this.done;
  }

  /** Stops the agent (SIGTERM, SIGKILL after STOP_GRACE_MS) and never restarts it again; `run()` then resolves 0. */
  stop(why: string): void {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    this.deps.log.info({ why }, 'supervisor stopping: stopping the agent');
    this.clear('restartTimer');
    const child = this.child;
    if (!child) return this.finish(0);
    child.kill('SIGTERM');
    this.forceTimer = this.timers.setTimeout(() => {
      this.deps.log.warn({ agentPid: child.pid, graceMs: STOP_GRACE_MS }, 'the agent did not stop in time; killing it');
      child.kill('SIGKILL');
    }, STOP_GRACE_MS);
  }

  /** The delay before restart number `failures + 1` of a crash series, in ms. */
  static delayMs(settings: SupervisorSettings, failures: number): number {
    const { initialSeconds, maxSeconds } = settings.backoff;
    return Math.min(initialSeconds * 2 ** failures, maxSeconds) * 1000;
  }

  private start(restart: RestartInfo | undefined): void {
    const child = this.deps.spawn(restart);
    this.child = child;
    this.rssStrikes = 0;
    this.killCause = undefined;
    this.deps.log.info({ agentPid: child.pid, restart }, 'agent process started');
    this.persist();
    child.on('message', (message) => {
      if (child === this.child && isHeartbeat(message)) this.heartbeat(child, message.lagMs, message.rssMb);
    });
    child.on('exit', (code, signal) => {
      if (child === this.child) this.exited(child, code, signal);
    });
    const firstMs = Math.max(this.settings.stallSeconds * 1000, FIRST_HEARTBEAT_GRACE_MS);
    this.watchStall(child, firstMs, `no heartbeat within ${seconds(firstMs)} of starting`);
  }

  private watchStall(child: SupervisedChild, ms: number, detail: string): void {
    this.clear('stallTimer');
    this.stallTimer = this.timers.setTimeout(() => this.kill(child, { kind: 'stalled', detail }), ms);
  }

  private heartbeat(child: SupervisedChild, lagMs: number, rssMb: number): void {
    if (this.killCause || this.stopping) return;
    const s = this.settings;
    this.watchStall(child, s.stallSeconds * 1000, `no heartbeat for ${seconds(s.stallSeconds * 1000)}`);
    // The first heartbeat starts the healthy clock; a crash series ends once it runs out without trouble.
    this.healthyTimer ??= this.timers.setTimeout(() => {
      if (this.failures > 0) this.deps.log.info({ healthySeconds: s.backoff.healthySeconds }, 'agent healthy: restart delay reset');
      this.failures = 0;
    }, s.backoff.healthySeconds * 1000);
    if (lagMs > s.maxLoopLagMs) return this.kill(child, { kind: 'stalled', detail: `event-loop lag ${lagMs} ms, above ${s.maxLoopLagMs} ms` });
    this.rssStrikes = rssMb > s.maxRssMb ? this.rssStrikes + 1 : 0;
    if (this.rssStrikes >= RSS_STRIKES) {
      this.kill(child, { kind: 'leak', detail: `RSS ${rssMb} MB, above ${s.maxRssMb} MB in ${RSS_STRIKES} heartbeats in a row` });
    }
  }

  private kill(child: SupervisedChild, cause: KillCause): void {
    if (this.killCause || this.stopping || child !== this.child) return;
    this.killCause = cause;
    this.clear('stallTimer');
    this.clear('healthyTimer'); // a stalled run was not a healthy one
    this.deps.log.error({ agentPid: child.pid, cause: cause.kind, detail: cause.detail }, 'killing the agent');
    child.kill('SIGKILL');
  }

  private exited(child: SupervisedChild, code: number | null, signal: NodeJS.Signals | null): void {
    this.child = undefined;
    this.clear('stallTimer');
    this.clear('healthyTimer');
    this.clear('forceTimer');
    const cause = this.killCause;
    this.killCause = undefined;
    this.deps.log.info({ agentPid: child.pid, code, signal, cause: cause?.kind }, 'agent exited');
    if (this.stopping) {
      this.persist();
      return this.finish(0);
    }
    const failure = child.failure?.();
    if (!cause && code === 0) {
      this.deps.log.info({}, 'the agent stopped cleanly; the supervisor stops too');
      this.persist();
      return this.finish(0);
    }
    if (!cause && code === 2) {
      const reason = `exit code 2${failure ? `: ${failure}` : ''}`;
      this.record(reason);
      this.deps.alert(`Agent cannot start (${reason}). Not restarting: a restart cannot fix this; fix it and start the agent again.`);
      return this.finish(2);
    }
    const reason = cause ? `${cause.kind === 'stalled' ? 'stalled' : 'suspected memory leak'}: ${cause.detail}` : exitReason(code, signal, failure);
    this.crashed(cause, reason);
  }

  private crashed(cause: KillCause | undefined, reason: string): void {
    const now = this.timers.now();
    this.record(reason);
    const { giveUp } = this.settings;
    const windowMs = giveUp.windowMinutes * 60_000;
    this.restartTimes = this.restartTimes.filter((t) => now - t < windowMs);
    const what = !cause ? `Agent crashed (${reason}).` : `Agent ${cause.kind === 'stalled' ? 'stalled' : 'suspected of a memory leak'} (${cause.detail}): killed it.`;
    if (this.restartTimes.length >= giveUp.restarts) {
      this.deps.alert(
        `${what} Giving up: ${this.restartTimes.length} restarts within ${giveUp.windowMinutes} min. The agent stays DOWN until someone starts it again.`,
      );
      return this.finish(1);
    }
    const delay = Supervisor.delayMs(this.settings, this.failures);
    this.failures += 1;
    const loop = this.failures >= CRASH_LOOP ? ` Crash loop: ${this.failures} failures without ${this.settings.backoff.healthySeconds} s of healthy running.` : '';
    this.deps.alert(`${what} Restarting in ${seconds(delay)} (restart ${this.restarts + 1}).${loop}`);
    this.restartTimer = this.timers.setTimeout(() => {
      this.restartTimer = undefined;
      this.restartTimes.push(this.timers.now());
      this.restarts += 1;
      this.start({ count: this.restarts, reason });
    }, delay);
  }

  private record(reason: string): void {
    this.lastExit = { at: this.timers.now(), reason };
    this.persist();
  }

  private persist(): void {
    try {
      this.deps.persist?.({ childPid: this.child?.pid ?? null, restarts: this.restarts, lastExit: this.lastExit });
    } catch (error) {
      // The file is informational: failing to write it must not stop supervision.
      this.deps.log.warn({ err: error }, 'could not save the supervisor state');
    }
  }

  private clear(name: 'stallTimer' | 'healthyTimer' | 'restartTimer' | 'forceTimer'): void {
    if (this[name] !== undefined) this.timers.clearTimeout(this[name]);
    this[name] = undefined;
  }

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    for (const name of ['stallTimer', 'healthyTimer', 'restartTimer', 'forceTimer'] as const) this.clear(name);
    this.resolveDone(code);
  }
}

/** "exit code 1: Error: boom", "signal SIGKILL" */
export function exitReason(code: number | null, signal: NodeJS.Signals | null, failure: string | undefined): string {
  const how = signal ? `signal ${signal}` : `exit code ${code ?? 'unknown'}`;
  return failure ? `${how}: ${failure}` : how;
}

/**
 * The child's last word from the tail of its stderr: the last "fatal: …" or "error: …" line that src/main.ts
 * prints (prefix dropped), or the header of an uncaught exception ("Error: boom", "TypeError: …"). Stack lines
 * are indented and pino's JSON lines start with "{", so neither matches.
 */
export function failureFromStderr(tail: string): string | undefined {
  const lines = tail.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trimEnd();
    const said = line.match(/^(?:fatal|error): (.+)$/);
    if (said) return clipLine(said[1]!);
    if (/^[A-Z]\w*(Error|Exception)(\s*\[[\w]+\])?: /.test(line)) return clipLine(line);
  }
  return undefined;
}

function clipLine(line: string): string {
  return line.length <= 300 ? line : `${line.slice(0, 299)}…`;
}

/** "5 s", "0.5 s", "2 min" */
function seconds(ms: number): string {
  const s = ms / 1000;
  if (s >= 120 && s % 60 === 0) return `${s / 60} min`;
  return `${Number.isInteger(s) ? s : Number(s.toFixed(2))} s`;
}
