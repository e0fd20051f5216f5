/**
 * The supervisor as a real process (what `npm start` runs): forks the agent (`start --supervised`), forwards its
 * stderr, relays SIGINT/SIGTERM, keeps the state file and sends the direct alerts. The decisions are in
 * src/supervisor.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Config, TransportEnv } from './config.js';
import { RESTART_ENV, type RestartInfo } from './heartbeat.js';
import { InstanceLockedError, liveLockOwner } from './instance-lock.js';
import type { Logger } from './logger.js';
import { failureFromStderr, Supervisor, type SupervisedChild } from './supervisor.js';
import { DirectAlerts } from './supervisor-alerts.js';
import { readSupervisorState, supervisorStateFile, writeSupervisorState } from './supervisor-state.js';

/** The internal `start` flag of a supervised agent: heartbeats over IPC, stops when the supervisor is gone. */
export const SUPERVISED_FLAG = '--supervised';

/** How much of the child's stderr is kept to find its last word. */
const STDERR_TAIL_CHARS = 16_384;

/** A forked agent: stdin and stdout shared with the supervisor (the console chat), stderr read and forwarded. */
class AgentChild extends EventEmitter implements SupervisedChild {
  private tail = '';

  constructor(private readonly proc: ChildProcess) {
    super();
    proc.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.tail = (this.tail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    proc.on('message', (message) => this.emit('message', message));
    // 'close' rather than 'exit': it comes after stderr is fully read, so the failure line is there.
    proc.on('close', (code, signal) => this.emit('exit', code, signal));
    proc.on('error', (error) => {
      // fork() itself failed (no process, so no 'close'), or a kill/send failed on a live one.
      if (proc.pid === undefined) {
        this.tail += `\nerror: could not start the agent: ${error.message}\n`;
        this.emit('exit', null, null);
      }
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  kill(signal: NodeJS.Signals): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null ? this.proc.kill(signal) : false;
  }

  failure(): string | undefined {
    return failureFromStderr(this.tail);
  }
}

function forkAgent(restart: RestartInfo | undefined): AgentChild {
  const env = { ...process.env };
  delete env[RESTART_ENV];
  if (restart) env[RESTART_ENV] = JSON.stringify(restart);
  // The agent's stderr is a pipe to us; it should still log readably when we write to a terminal.
  if (process.stderr.isTTY) env.CE_LOG_PRETTY = '1';
  // The same script and the same node flags (tsx's loader) as this process.
  const proc = fork(process.argv[1]!, ['start', SUPERVISED_FLAG], { execArgv: process.execArgv, env, stdio: ['inherit', 'inherit', 'pipe', 'ipc'] });
  return new AgentChild(proc);
}

/**
 * Runs the supervisor until the agent stops cleanly (0), cannot start (2) or keeps failing (1); resolves with
 * that exit code once the last alert is sent. `tag` is the agent's mode tag, e.g. "[SIM]".
 */
export async function runSupervisor(config: Config, tag: string, transports: TransportEnv, log: Logger): Promise<number> {
  // A second supervisor on a running database would overwrite the first one's state and alert for nothing.
  const owner = liveLockOwner(config.store.path);
  if (owner !== undefined) throw new InstanceLockedError(`another agent (pid ${owner}) is already running on ${config.store.path}. Stop it first, or set CE_DB to another file.`);
  // An in-memory database has no folder to keep the state beside.
  const file = config.store.path === ':memory:' ? undefined : supervisorStateFile(config.store.path);
  const alerts = new DirectAlerts(transports, tag, log);
  const supervisor = new Supervisor(config.supervisor, {
    spawn: forkAgent,
    alert: (text) => void alerts.send(text),
    persist: (s) => {
      if (!file) return;
      writeSupervisorState(file, {
        supervisorPid: process.pid,
        childPid: s.childPid,
        restarts: s.restarts,
        lastExit: s.lastExit && { at: new Date(s.lastExit.at).toISOString(), reason: s.lastExit.reason },
        updatedAt: new Date().toISOString(),
      });
    },
    log,
    restartsBefore: (file && readSupervisorState(file)?.restarts) || 0,
  });
  // Ctrl-C in a terminal reaches the agent too (same process group) and it stops on its own; the SIGTERM sent
  // here covers a signal aimed at the supervisor alone (systemd, kill). Further signals are ignored: the agent
  // is already stopping and is killed if it takes longer than 20 s.
  const onSignal = (signal: NodeJS.Signals) => supervisor.stop(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  log.info({ state: file, alerts: alerts.channels, settings: config.supervisor }, 'supervisor started');
  const code = await supervisor.run();
  await alerts.idle();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  log.info({ code }, 'supervisor exiting');
  return code;
}
