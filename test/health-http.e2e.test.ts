/**
 * The health monitor and the metrics of a real in-process agent, over HTTP: /healthz turns 503 when the
 * database cannot be written and comes back after; /metrics is valid Prometheus text with the agent's numbers;
 * /health in the chat shows the same checks; a taken port does not stop the agent.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeTelegram } from './fakes/telegram-api.js';
import { startTestAgent, until, type TestAgent } from './harness.js';
import { parsePrometheus, sampleValue } from './prometheus.js';

const agents: TestAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop('test over');
});

/** A port nobody listens on right now (the OS picks it; it is released before the agent binds it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function start(port: number, barsPerSecond = 20): Promise<TestAgent> {
  const agent = await startTestAgent({}, (c) => ({ ...c, sim: { ...c.sim, barsPerSecond }, http: { host: '127.0.0.1', port }, health: { ...c.health, intervalSeconds: 0.2 } }));
  agents.push(agent);
  return agent;
}

async function healthz(port: number): Promise<{ status: number; body: { status: string; checks: Array<{ name: string; status: string; detail: string }> } }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: (await response.json()) as never };
}

describe('GET /healthz and GET /metrics', () => {
  it('/healthz is 503 while the database cannot be written, 200 again after; the phone is told both', async () => {
    const port = await freePort();
    // A bar every 5 s: the agent's own writes rarely meet the lock below (when one does, it waits for it).
    const agent = await start(port, 0.2);
    await until(() => agent.engine.status().health.barsProcessed > 0, 'a first bar');
    const first = await healthz(port);
    expect(first.status).toBe(200);
    expect(first.body.checks.find((c) => c.name === 'database')).toEqual({ name: 'database', status: 'ok', detail: 'writable' });

    // Another process holds the write lock until told (or 4 s at most: less than the agent's 5 s busy timeout,
    // so an agent write that meets the lock waits and succeeds instead of failing).
    const blocker = spawn(
      process.execPath,
      ['-e', `const db = new (require('better-sqlite3'))(process.argv[1]); db.exec('BEGIN EXCLUSIVE'); console.log('locked');
        const release = () => { db.exec('ROLLBACK'); db.close(); process.exit(0); };
        setTimeout(release, 4000); process.stdin.on('data', release);`, agent.dbPath],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    await once(blocker.stdout!, 'data');
    let locked: Awaited<ReturnType<typeof healthz>> | undefined;
    for (let i = 0; i < 60 && locked?.status !== 503 && blocker.exitCode === null; i++) {
      locked = await healthz(port);
      await new Promise((r) => setTimeout(r, 50));
    }
    blocker.stdin!.end('release\n');
    await once(blocker, 'exit');
    expect(locked?.status).toBe(503);
    expect(locked?.body.status).toBe('critical');
    expect(locked?.body.checks.find((c) => c.name === 'database')?.detail).toMatch(/cannot write .*database is locked/);
    await until(async () => (await healthz(port)).status === 200, '/healthz 200 after the lock is gone');
    await until(() => /Health CRITICAL: database: cannot write/.test(agent.console.output()), 'the critical alert');
    await until(() => /Health recovered: database: writable/.test(agent.console.output()), 'the recovery');
  });

  it('/metrics parses as Prometheus text and counts bars, decisions, orders, fills and commands', async () => {
    const port = await freePort();
    const agent = await start(port);
    await until(() => agent.engine.status().positions.length > 0, 'a first position');
    agent.console.send('/status');
    await until(() => /Mode SIM/.test(agent.console.output()), '/status answered');
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await response.text());
    const v = (name: string, labels?: Record<string, string>) => sampleValue(families, name, labels);
    expect(v('ce_bars_processed_total', { symbol: 'BTC/USD' })).toBeGreaterThan(0);
    expect(v('ce_decisions_total', { verdict: 'approved' })).toBeGreaterThan(0);
    expect(v('ce_orders_total', { status: 'filled' })).toBeGreaterThan(0);
    expect(v('ce_fills_total', { side: 'buy' })).toBeGreaterThan(0);
    expect(v('ce_commands_total', { command: 'status', outcome: 'ok' })).toBe(1);
    expect(v('ce_risk_state', { state: 'ACTIVE' })).toBe(1);
    expect(v('ce_equity_usd')).toBeGreaterThan(0);
    expect(v('ce_notifier_queue_depth', { channel: 'console' })).toBeGreaterThanOrEqual(0);
    expect(v('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(families.some((f) => f.name === 'nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('a Telegram outage shows as failing delivery in /healthz, and its recovery too', async () => {
    const fake = new FakeTelegram();
    await fake.start();
    const port = await freePort();
    try {
      const agent = await startTestAgent(
        { TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, TELEGRAM_CHAT_ID: '777' },
        (c) => ({ ...c, http: { host: '127.0.0.1', port }, health: { ...c.health, intervalSeconds: 0.2 } }),
      );
      agents.push(agent);
      const delivery = async () => (await healthz(port)).body.checks.find((c) => c.name === 'telegram delivery');
      await until(async () => (await delivery())?.status === 'ok', 'telegram delivering');
      fake.setDown(true);
      const failing = await until(async () => {
        const check = await delivery();
        return check?.status === 'warn' ? check : undefined;
      }, 'telegram delivery failing');
      expect(failing.detail).toMatch(/^failing \(\d+ tries\), \d+ queued/);
      fake.setDown(false);
      await until(async () => (await delivery())?.status === 'ok', 'telegram delivering again');
      await until(() => /Health recovered: telegram delivery: delivering/.test(agent.console.output()), 'the recovery notice');
    } finally {
      for (const a of agents.splice(0)) await a.stop('test over');
      await fake.stop();
    }
  });

  it('/health in the chat shows every check; a port already taken is alerted and the agent trades on', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const agent = await start((taken.address() as { port: number }).port);
      await until(() => /Health and metrics HTTP could not listen on 127\.0\.0\.1:\d+ \(listen EADDRINUSE/.test(agent.console.output()), 'the port alert');
      await until(() => agent.engine.status().health.barsProcessed > 0, 'bars still processed');
      const from = agent.console.output().length;
      agent.console.send('/health');
      const reply = (await until(() => agent.console.output().slice(from).match(/Health (ok|WARN|CRITICAL) \(checked[\s\S]*?Market: [^\n]+/), '/health reply'))[0];
      for (const name of ['database', 'broker', 'data feed', 'decisions', 'memory', 'event loop', 'disk']) expect(reply).toMatch(new RegExp(`\\n\\s+${name}: (ok|WARN|CRITICAL), `));
      expect(reply).toMatch(/Channels: console ok, \d+ queued/);
      const at = agent.console.output().length;
      agent.console.send('/status');
      await until(() => /Health: (ok \(\d+ checks\)|(WARN|CRITICAL) [^\n]+) \(details: \/health\)/.test(agent.console.output().slice(at)), '/status with the health line');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
