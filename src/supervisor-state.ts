/**
 * The supervisor's persisted state: a small JSON file beside the database with the restart count and the last
 * exit, so an operator (and the next supervisor) can see how the agent has been doing.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isAlive } from './instance-lock.js';

export interface SupervisorState {
  /** the supervisor's process id */
  readonly supervisorPid: number;
  /** the running agent's process id, or null while none runs */
  readonly childPid: number | null;
  /** restarts after a crash, stall or leak, counted across supervisor runs */
  readonly restarts: number;
  /** the last time the agent went down, and why */
  readonly lastExit: { readonly at: string; readonly reason: string } | null;
  readonly updatedAt: string;
}

/** `<database folder>/supervisor.json` */
export function supervisorStateFile(dbPath: string): string {
  return join(dirname(resolve(dbPath)), 'supervisor.json');
}

/** The saved state, or undefined when there is none or it cannot be read (it is informational only). */
export function readSupervisorState(file: string): SupervisorState | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<SupervisorState>;
    return typeof value.restarts === 'number' ? (value as SupervisorState) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid of a supervisor that is still running for the database at `dbPath`, if any. Between two runs of its
 * agent the database is unlocked, yet the supervisor is about to start the agent again on it.
 */
export function liveSupervisorPid(dbPath: string): number | undefined {
  if (dbPath === ':memory:') return undefined;
  const pid = readSupervisorState(supervisorStateFile(dbPath))?.supervisorPid;
  return pid !== undefined && pid !== process.pid && isAlive(pid) ? pid : undefined;
}

/** Written to a temporary file and renamed over the old one, so a reader never sees half a file; mode 0600. */
export function writeSupervisorState(file: string, state: SupervisorState): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600); // the mode above only applies when the file is created (and is masked by the umask)
  renameSync(temp, file);
}
