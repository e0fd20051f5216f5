/** Starts the real agent in-process on a temp database, with chat transports pointed at fake servers. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { startAgent, type RunningAgent } from '../src/app.js';
import { loadConfig, loadTransportEnv, type Config, type ResolvedMode } from '../src/config.js';
import { createLogger } from '../src/logger.js';

export interface TestAgent extends RunningAgent {
  readonly dbPath: string;
  readonly console: { output(): string; send(line: string): void };
  /** rows of the audit table, oldest first */
  audit(): Array<{ transport: string; actor_id: string; command: string; outcome: string }>;
}

export async function startTestAgent(
  env: Record<string, string>,
  overrides: (c: Config) => Config = (c) => c,
  dbPath = join(mkdtempSync(join(tmpdir(), 'ce-agent-')), 'engine.db'),
  mode: ResolvedMode = 'sim',
): Promise<TestAgent> {
  const base = loadConfig({}).config;
  // No health HTTP by default: agents run in parallel and would contend for one port.
  const config = overrides({ ...base, store: { ...base.store, path: dbPath }, sim: { ...base.sim, barsPerSecond: 20 }, http: { ...base.http, port: 0 } });
  const input = new PassThrough();
  let text = '';
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = createLogger('fatal', new PassThrough());
  const agent = await startAgent(config, mode, { input, output, transports: loadTransportEnv(env), env }, log);
  return {
    ...agent,
    dbPath,
    console: { output: () => text, send: (line) => input.write(`${line}\n`) },
    audit: () => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return db.prepare('SELECT transport, actor_id, command, outcome FROM audit ORDER BY id').all() as Array<{ transport: string; actor_id: string; command: string; outcome: string }>;
      } finally {
        db.close();
      }
    },
  };
}

export async function until<T>(probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
