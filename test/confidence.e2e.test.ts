/** The confidence strategy in the running agent: /signals, and /threshold taking effect on the next bar and surviving a restart. */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const agents: TestAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop('test over');
});

const confidence = (c: Config): Config => ({ ...c, strategy: { ...c.strategy, name: 'confidence' } });

async function start(dbPath?: string): Promise<TestAgent> {
  const agent = await startTestAgent({}, confidence, dbPath);
  agents.push(agent);
  return agent;
}

async function ask(agent: TestAgent, line: string, pattern: RegExp): Promise<string> {
  const from = agent.console.output().length;
  agent.console.send(line);
  return (await until(() => agent.console.output().slice(from).match(pattern), `reply to ${line} matching ${pattern}`))[0];
}

interface Row {
  id: number;
  ts: number;
  symbol: string;
  signal: string;
}

function decisionsAfter(dbPath: string, id: number): Row[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT id, ts, symbol, signal FROM decisions WHERE id > ? ORDER BY id').all(id) as Row[];
  } finally {
    db.close();
  }
}

describe('confidence strategy in the agent', () => {
  it('/signals shows each symbol with number-free evidence lines and says the narrative is absent in sim', async () => {
    const agent = await start();
    await until(() => agent.engine.status().health.barsProcessed > 0, 'first bar');
    const reply = await ask(agent, '/signals', /\[SIM\] [\s\S]*?Narrative absent[^\n]*|\[SIM\][\s\S]*?narrative absent \(the simulated market has no news\)\./);
    for (const symbol of ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD']) expect(reply).toMatch(new RegExp(`${symbol.replace('/', '\\/')}: (up|down|flat|warming)`));
    const evidence = reply.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('• '));
    expect(evidence.length).toBeGreaterThan(8);
    // history enough for the regime: momentum and trend are described
    expect(reply).toMatch(/• momentum is (rising|falling|flat) on /);
    for (const line of evidence) expect(line).not.toMatch(/\d/);
    expect(reply).toMatch(/• the narrative view is absent: the simulated market has no news/);
  });

  it('/threshold minConfidence applies from the next bar and survives a restart', async () => {
    const first = await start();
    const list = await ask(first, '/threshold', /\[SIM\] minQuality = [\s\S]*?positionFraction = [^\n]+/);
    expect(list).toMatch(/minConfidence = 0\.5 \(0\.5…1\)/);
    await until(() => decisionsAfter(first.dbPath, 0).length > 0, 'a first decision');
    await ask(first, '/threshold minConfidence 0.7', /minConfidence: 0\.5 → 0\.7\. Saved/);
    // Decisions already on disk were made before the change; the first bar after it must use the new floor.
    const seen = decisionsAfter(first.dbPath, 0);
    const before = seen.at(-1)!;
    const after = await until(() => decisionsAfter(first.dbPath, before.id).find((r) => r.ts > before.ts && JSON.parse(r.signal).minConfidence !== undefined), 'a decision on the next bar');
    expect(after.ts).toBeGreaterThan(before.ts);
    expect(JSON.parse(after.signal).minConfidence).toBeGreaterThanOrEqual(0.7);
    expect(seen.some((r) => { const m = JSON.parse(r.signal).minConfidence; return m !== undefined && m < 0.7; })).toBe(true);
    const { dbPath } = first;
    await first.stop('restart');
    agents.splice(agents.indexOf(first), 1);

    const second = await start(dbPath);
    expect(second.engine.thresholds().find((t) => t.name === 'minConfidence')!.value).toBe(0.7);
    const last = decisionsAfter(dbPath, 0).at(-1)!;
    const resumed = await until(() => decisionsAfter(dbPath, last.id).find((r) => JSON.parse(r.signal).minConfidence !== undefined), 'a decision after the restart');
    expect(JSON.parse(resumed.signal).minConfidence).toBeGreaterThanOrEqual(0.7);
  });
});
