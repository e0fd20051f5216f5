/**
 * One agent per database: a lock file beside the SQLite file, holding the owner's pid. A lock left by a dead
 * process is taken over; a live owner makes start-up fail with a clear message.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class InstanceLockedError extends Error {}

export function acquireInstanceLock(dbPath: string): () => void {
  if (dbPath === ':memory:') return () => undefined;
  const lockPath = `${dbPath}.lock`;
  // a fresh checkout has no data/ folder yet: the lock is the first file written there
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = liveLockOwner(dbPath);
      if (owner !== undefined) {
        throw new InstanceLockedError(`another agent (pid ${owner}) is already running on ${dbPath}. Stop it first, or set CE_DB to another file.`);
      }
      rmSync(lockPath, { force: true }); // stale: its owner is gone
    }
  }
  throw new InstanceLockedError(`could not take the lock ${lockPath}`);
}

/** The pid holding the lock of `dbPath`, if that process is alive. */
export function liveLockOwner(dbPath: string): number | undefined {
  if (dbPath === ':memory:') return undefined;
  let owner: number;
  try {
    owner = Number(readFileSync(`${dbPath}.lock`, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(owner) && owner > 0 && isAlive(owner) ? owner : undefined;
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
