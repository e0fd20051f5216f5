/** The operator commands through the console transport of a real in-process agent. */
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceLockedError } from '../src/instance-lock.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const agents: TestAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop('test over');
});

async function start(dbPath?: string): Promise<TestAgent> {
  const agent = await startTestAgent({}, (c) => c, dbPath);
  agents.push(agent);
  return agent;
}

async function ask(agent: TestAgent, line: string, pattern: RegExp): Promise<string> {
  const from = agent.console.output().length;
  agent.console.send(line);
  return (await until(() => agent.console.output().slice(from).match(pattern), `reply to ${line} matching ${pattern}`))[0];
}

describe('operator commands', () => {
  it('/positions, /trades, /health and /audit report what the engine and the journal hold', async () => {
    const agent = await start();
    await until(() => agent.engine.status().positions.length > 0, 'first positions');
    const positions = await ask(agent, '/positions', /\[SIM\] [A-Z]+\/USD [\d.]+ @ avg \$[\d,.]+ [^\n]*of equity[^\n]*/);
    const held = agent.engine.status().positions.map((p) => p.symbol);
    expect(held.some((s) => positions.includes(s))).toBe(true);
    await ask(agent, '/trades 3', /\[SIM\] \d{4}-\d\d-\d\dT[^\n]* (BUY|SELL) [\d.]+ [A-Z]+\/USD @ \$/);
    const health = await ask(agent, '/health', /\[SIM\] Engine: \d+ bars processed[\s\S]*?Channels: [^\n]+/);
    expect(health).toMatch(/Risk state: ACTIVE/);
    expect(health).toMatch(/Channels: console ok, 0 queued/);
    // Newest first: this /audit, then the /health before it, then the /trades before that.
    const audit = await ask(agent, '/audit 4', /\[SIM\] [^\n]*\/audit 4 → requested[\s\S]*?\/trades 3 → ok/);
    expect(audit.split('\n').map((l) => l.replace(/^.*console:local /, ''))).toEqual(['/audit 4 → requested', '/health → ok', '/health → requested', '/trades 3 → ok']);
  });

  it('/threshold lists, validates ranges, shows old → new, and the value survives a restart', async () => {
    const first = await start();
    const list = await ask(first, '/threshold', /\[SIM\] topK = 2 \(1…20, whole number\)[\s\S]*?cashBuffer = [^\n]+/);
    expect(list).toMatch(/lookbackBars = 72/);
    await ask(first, '/threshold topK 99', /Not changed: topK must be between 1 and 20, got 99/);
    await ask(first, '/threshold topK 1.5', /Not changed: topK must be a whole number/);
    await ask(first, '/threshold nope 1', /Not changed: no threshold "nope" for strategy momentum; known: topK/);
    await ask(first, '/threshold topK abc', /Bad value "abc" for \/threshold/);
    await ask(first, '/threshold topK 3', /topK: 2 → 3\. Saved/);
    expect(first.engine.thresholds().find((t) => t.name === 'topK')!.value).toBe(3);
    await until(() => first.console.output().match(/\[SIM\] Threshold momentum\.topK: 2 → 3 \(by console:local\)/), 'change announced');
    const { dbPath } = first;
    await first.stop('restart');
    agents.splice(agents.indexOf(first), 1);

    const second = await start(dbPath);
    expect(second.engine.thresholds().find((t) => t.name === 'topK')!.value).toBe(3);
    expect(second.audit().filter((r) => r.command === 'threshold').map((r) => r.outcome)).toEqual([
      'requested', 'ok', 'requested', 'ok', 'requested', 'ok', 'requested', 'ok', 'invalid', 'requested', 'ok',
    ]);
  });

  it('refuses a second agent on the same database', async () => {
    const first = await start();
    await expect(startTestAgent({}, (c) => c, first.dbPath)).rejects.toThrow(InstanceLockedError);
    await expect(startTestAgent({}, (c) => c, first.dbPath)).rejects.toThrow(/another agent \(pid \d+\) is already running on .*engine\.db/);
    // The first one is untouched and still answers.
    await ask(first, '/status', /state running/);
  });
});
