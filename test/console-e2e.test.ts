/**
 * The foundation's promise, end to end through the real CLI: start with no keys and no network, trade in
 * [SIM], answer /status, /pause, /kill with confirmation, exit cleanly on Ctrl-C, and come back HALTED.
 */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentProcess } from './agent-process.js';

const running: AgentProcess[] = [];
afterEach(() => {
  for (const agent of running.splice(0)) if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
});

function start(env: Record<string, string>): AgentProcess {
  const agent = new AgentProcess(['start', '--no-supervisor'], env);
  running.push(agent);
  return agent;
}

describe('npm start (sim on the embedded market, console chat)', () => {
  it('trades, pauses, kills with confirmation, exits cleanly and restores HALTED after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-e2e-'));
    const config = join(dir, 'fast.yaml');
    // Faster bars only to keep the test short; everything else is the shipped default.
    writeFileSync(config, 'sim:\n  barsPerSecond: 20\n');
    const env = { CE_DB: join(dir, 'engine.db'), CE_CONFIG: config };

    const agent = start(env);
    await agent.waitFor(/\[SIM\] Started \(sim\)\. State ACTIVE/);
    await agent.waitFor(/\[SIM\] BUY [\d.]+ [A-Z]+\/USD @ \$/);

    const status = (await agent.ask('/status', /\[SIM\] Mode SIM · state (\w+)[\s\S]*?health:[^\n]*\n/))[0];
    expect(status).toMatch(/state running \(ACTIVE\)/);
    expect(status).toMatch(/embedded synthetic market \(seed 42\), not real prices/);
    expect(status).toMatch(/Equity \$[\d,]+\.\d\d/);
    expect(status).toMatch(/cash \$[\d,]+\.\d\d/);
    expect(status).toMatch(/Positions \(\d\):\n\s+[A-Z]+\/USD/);

    await agent.ask('/pause', /Paused: paused by operator/);
    await agent.ask('/status', /state paused \(REDUCING\)/);

    const prompt = await agent.ask('/kill', /Confirm within 60 s with: \/confirm ([0-9a-f]+)/);
    expect(agent.stdout).not.toMatch(/HALTED\./); // nothing happens before the confirmation
    const killed = (await agent.ask(`/confirm ${prompt[1]}`, /\[SIM\] (HALTED|Already HALTED)[\s\S]*?(Flat: no positions remain\.|STILL HELD[^\n]*)/))[0];
    expect(killed).toMatch(/close [A-Z]+\/USD [\d.]+: filled @ \$/);
    expect(killed).toMatch(/Flat: no positions remain\./);
    const after = (await agent.ask('/status', /state halted \(HALTED\)[\s\S]*?health/))[0];
    expect(after).toMatch(/Positions: none/);

    agent.child.kill('SIGINT');
    expect(await agent.exit()).toBe(0);
    expect(agent.stdout).toMatch(/\[SIM\] Stopped \(Ctrl-C\)\. State HALTED is saved/);
    expect(statSync(env.CE_DB).mode & 0o777).toBe(0o600);

    const again = start(env);
    await again.waitFor(/\[SIM\] Started \(sim\)\. State HALTED restored: set [^\n]* by console:local \(kill switch\)[^\n]*Trading stays halted/);
    await again.ask('/status', /state halted \(HALTED\)/);
    await again.ask('/bogus', /Unknown command \/bogus\. Send \/help for the list\./);
    await again.ask('/pause soon', /Bad duration "soon" for \/pause: use a number and a unit/);
    again.child.kill('SIGTERM');
    expect(await again.exit()).toBe(0);

    // The audit trail recorded every command, in order, including the rejected ones.
    const db = new Database(env.CE_DB, { readonly: true });
    const outcomes = db.prepare('SELECT command, outcome FROM audit ORDER BY id').all() as Array<{ command: string; outcome: string }>;
    db.close();
    expect(outcomes.map((r) => `${r.command}:${r.outcome}`)).toEqual([
      'status:requested', 'status:ok',
      'pause:requested', 'pause:ok',
      'status:requested', 'status:ok',
      'kill:requested', 'kill:awaiting-confirmation', 'kill:confirmed', 'kill:ok',
      'status:requested', 'status:ok',
      'status:requested', 'status:ok',
      'bogus:unknown',
      'pause:invalid',
    ]);
  });
});
