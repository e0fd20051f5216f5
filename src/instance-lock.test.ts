import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireInstanceLock, InstanceLockedError } from './instance-lock.js';

describe('instance lock', () => {
  it('creates the database folder on a fresh checkout (no data/ yet), holds our pid, and releases', () => {
    const db = join(mkdtempSync(join(tmpdir(), 'ce-lock-')), 'data', 'nested', 'engine.db');
    const release = acquireInstanceLock(db);
    expect(readFileSync(`${db}.lock`, 'utf8')).toBe(String(process.pid));
    expect(() => acquireInstanceLock(db)).toThrow(InstanceLockedError);
    release();
    expect(existsSync(`${db}.lock`)).toBe(false);
  });
});
