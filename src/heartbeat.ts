/**
 * The agent's side of the supervisor protocol (src/supervisor.ts is the other side): heartbeats over IPC with
 * the event-loop lag and resident memory, the restart information the supervisor hands a restarted agent, and
 * a test hook that blocks the event loop.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** What the agent sends the supervisor every supervisor.heartbeatSeconds. */
export interface HeartbeatMessage {
  readonly type: 'ce.heartbeat';
  /** the longest event-loop delay since the previous heartbeat, ms */
  readonly lagMs: number;
  /** resident set size, MB */
  readonly rssMb: number;
}

/** Why the agent runs again: passed from the supervisor to the restarted agent in CE_SUPERVISOR_RESTART (JSON). */
export interface RestartInfo {
  /** restarts so far, this one included (persisted across supervisor runs) */
  readonly count: number;
  /** why the previous agent went down, e.g. "exit code 1: Error: boom" or "stalled: no heartbeat for 60 s" */
  readonly reason: string;
}

export const RESTART_ENV = 'CE_SUPERVISOR_RESTART';

export function isHeartbeat(message: unknown): message is HeartbeatMessage {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return m.type === 'ce.heartbeat' && typeof m.lagMs === 'number' && typeof m.rssMb === 'number';
}

/** The restart information in the environment, if any. A malformed value is ignored: it only words a message. */
export function readRestartInfo(env: NodeJS.ProcessEnv = process.env): RestartInfo | undefined {
  const raw = env[RESTART_ENV];
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<RestartInfo>;
    if (typeof value.count === 'number' && typeof value.reason === 'string') return { count: value.count, reason: value.reason };
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * Sends a heartbeat every `intervalMs` through `send` (process.send in a supervised agent). The lag is the
 * maximum over the interval rather than p99: one long block is exactly the stall the supervisor looks for.
 * Returns a function that stops it.
 */
export function startHeartbeat(intervalMs: number, send: (message: HeartbeatMessage) => void): () => void {
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const beat = () => {
    // An empty histogram reports max 0; the values are nanoseconds.
    const lagMs = Math.round(delay.max / 1e6);
    delay.reset();
    send({ type: 'ce.heartbeat', lagMs, rssMb: Math.round(process.memoryUsage.rss() / (1024 * 1024)) });
  };
  beat();
  // unref: the heartbeat never keeps a stopping agent alive
  const timer = setInterval(beat, intervalMs).unref();
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}

/** The IPC sender of a process forked with a channel, or undefined when there is none (or it is closed). */
export function ipcSender(proc: NodeJS.Process = process): ((message: HeartbeatMessage) => void) | undefined {
  if (!proc.send) return undefined;
  return (message) => {
    // A closed channel means the supervisor is gone; the 'disconnect' handler stops the agent.
    if (proc.connected) proc.send!(message, undefined, undefined, () => undefined);
  };
}

/**
 * TEST HOOK, for the supervisor's end-to-end tests only: with CE_TEST_STALL_FILE set, the agent checks every
 * 200 ms whether that file exists; when it does, the agent deletes it and then blocks its event loop forever
 * (a busy loop), like a real stall. Without the variable it does nothing. Returns a function that stops it.
 */
export function startStallTestHook(env: NodeJS.ProcessEnv = process.env): () => void {
  const file = env.CE_TEST_STALL_FILE;
  if (!file) return () => undefined;
  const timer = setInterval(() => {
    if (!existsSync(file)) return;
    unlinkSync(file);
    for (;;) {
      // spin: nothing else runs in this process again
    }
  }, 200).unref();
  return () => clearInterval(timer);
}
