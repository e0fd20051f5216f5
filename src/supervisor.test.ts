/**
 * The supervisor's decisions under a controlled clock, with fake children: the backoff sequence and its cap,
 * the reset after a healthy run, giving up, stalls, leaks, and the exits that are not crashes.
 */
import { FakeDiscord } from '../test/fakes/discord-api.js';
import { FakeTelegram } from '../test/fakes/telegram-api.js';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { RestartInfo } from './heartbeat.js';
import { DirectAlerts } from './supervisor-alerts.js';
import { exitReason, failureFromStderr, FIRST_HEARTBEAT_GRACE_MS, STOP_GRACE_MS, Supervisor, type SupervisorSettings, type SupervisorSnapshot, type Timers } from './supervisor.js';

/** Timers that only move when the test says so. */
class FakeClock implements Timers {
  private t = 1_000_000;
  private nextId = 1;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.due.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing each timer that falls due, in order, at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.due.entries()].filter(([, d]) => d.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) break;
      this.due.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }

  get pending(): number {
    return this.due.size;
  }
}

class FakeChild extends EventEmitter {
  readonly signals: NodeJS.Signals[] = [];
  lastWord: string | undefined;
  constructor(readonly pid: number) {
    super();
  }
  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    return true;
  }
  failure(): string | undefined {
    return this.lastWord;
  }
  beat(lagMs = 1, rssMb = 100): void {
    this.emit('message', { type: 'ce.heartbeat', lagMs, rssMb });
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.emit('exit', code, signal);
  }
}

const SETTINGS: SupervisorSettings = {
  heartbeatSeconds: 5,
  stallSeconds: 60,
  maxLoopLagMs: 5_000,
  maxRssMb: 1_500,
  backoff: { initialSeconds: 5, maxSeconds: 300, healthySeconds: 60 },
  giveUp: { restarts: 10, windowMinutes: 30 },
};

function rig(settings: SupervisorSettings = SETTINGS, restartsBefore = 0) {
  const clock = new FakeClock();
  const children: FakeChild[] = [];
  const spawns: Array<{ at: number; restart: RestartInfo | undefined }> = [];
  const alerts: string[] = [];
  const snapshots: SupervisorSnapshot[] = [];
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const supervisor = new Supervisor(settings, {
    spawn: (restart) => {
      const child = new FakeChild(100 + children.length);
      children.push(child);
      spawns.push({ at: clock.now(), restart });
      return child;
    },
    alert: (text) => alerts.push(text),
    persist: (s) => snapshots.push(s),
    log: quiet,
    timers: clock,
    restartsBefore,
  });
  let code: number | undefined;
  void supervisor.run().then((c) => (code = c));
  const current = () => children.at(-1)!;
  return { clock, children, spawns, alerts, snapshots, supervisor, current, exitCode: async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return code;
  } };
}

describe('Supervisor backoff', () => {
  it('waits 5, 10, 20, 40, 80, 160 s and then 300 s (capped) between restarts of an agent that keeps crashing', () => {
    const r = rig({ ...SETTINGS, giveUp: { restarts: 100, windowMinutes: 60 } });
    const waits = [5, 10, 20, 40, 80, 160, 300, 300, 300];
    for (const wait of waits) {
      const before = r.children.length;
      r.current().exit(1);
      expect(r.alerts.at(-1)).toContain(`Restarting in ${wait === 300 ? '5 min' : `${wait} s`}`);
      r.clock.advance(wait * 1000 - 1); // not a millisecond early
      expect(r.children.length).toBe(before);
      r.clock.advance(1);
      expect(r.children.length).toBe(before + 1);
    }
    expect(r.spawns.slice(1).map((s, i) => s.at - r.spawns[i]!.at)).toEqual(waits.map((w) => w * 1000));
    expect(r.spawns.map((s) => s.restart?.count)).toEqual([undefined, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('resets the delay to 5 s after 60 s of healthy running, counted from the first heartbeat', () => {
    const r = rig();
    r.current().exit(1); // 5 s
    r.clock.advance(5_000);
    r.current().exit(1); // 10 s
    r.clock.advance(10_000);
    r.current().exit(1); // 20 s
    expect(r.alerts.at(-1)).toMatch(/Restarting in 20 s/);
    r.clock.advance(20_000);

    // Up for 59 s after its first heartbeat: not yet healthy long enough, the series goes on.
    r.current().beat();
    r.clock.advance(59_000);
    r.current().exit(1);
    expect(r.alerts.at(-1)).toMatch(/Restarting in 40 s \(restart 4\)\. Crash loop: 4 failures without 60 s of healthy running\./);
    r.clock.advance(40_000);

    // Running without a heartbeat does not count as healthy.
    r.clock.advance(25_000);
    for (let i = 0; i < 12; i++) {
      r.current().beat();
      r.clock.advance(5_000);
    }
    r.current().exit(1, null);
    expect(r.alerts.at(-1)).toBe('Agent crashed (exit code 1). Restarting in 5 s (restart 5).');
  });

  it('gives up after 10 restarts within 30 minutes: alerts and exits 1', async () => {
    const r = rig({ ...SETTINGS, backoff: { initialSeconds: 1, maxSeconds: 2, healthySeconds: 60 } });
    for (let i = 0; i < 10; i++) {
      r.current().exit(1);
      r.clock.advance(2_000);
    }
    expect(r.children).toHaveLength(11);
    r.current().failure = () => 'Error: boom';
    r.current().exit(1);
    expect(r.alerts.at(-1)).toBe('Agent crashed (exit code 1: Error: boom). Giving up: 10 restarts within 30 min. The agent stays DOWN until someone starts it again.');
    expect(await r.exitCode()).toBe(1);
    r.clock.advance(3_600_000);
    expect(r.children).toHaveLength(11);
    expect(r.clock.pending).toBe(0);
  });

  it('does not give up when the restarts are spread beyond the window', async () => {
    const r = rig({ ...SETTINGS, giveUp: { restarts: 3, windowMinutes: 1 } });
    for (let i = 0; i < 6; i++) {
      r.current().exit(1);
      r.clock.advance(5_000); // each restart after 5 s
      r.current().beat();
      r.clock.advance(30_000);
      r.current().beat();
      r.clock.advance(30_000); // healthy: the delay stays 5 s, and older restarts leave the 1-minute window
    }
    expect(r.children).toHaveLength(7);
    expect(await r.exitCode()).toBeUndefined();
  });
});

describe('Supervisor stall and leak detection', () => {
  it('kills (SIGKILL) an agent whose heartbeats stop for stallSeconds and restarts it, saying why', () => {
    const r = rig();
    const first = r.current();
    first.beat();
    r.clock.advance(30_000);
    first.beat();
    r.clock.advance(59_999);
    expect(first.signals).toEqual([]);
    r.clock.advance(1);
    expect(first.signals).toEqual(['SIGKILL']);
    first.exit(null, 'SIGKILL');
    expect(r.alerts).toEqual(['Agent stalled (no heartbeat for 60 s): killed it. Restarting in 5 s (restart 1).']);
    r.clock.advance(5_000);
    expect(r.spawns.at(-1)!.restart).toEqual({ count: 1, reason: 'stalled: no heartbeat for 60 s' });
  });

  it('gives a starting agent 30 s for its first heartbeat', () => {
    const r = rig({ ...SETTINGS, stallSeconds: 2, heartbeatSeconds: 0.5 });
    r.clock.advance(FIRST_HEARTBEAT_GRACE_MS - 1);
    expect(r.current().signals).toEqual([]);
    r.clock.advance(1);
    expect(r.current().signals).toEqual(['SIGKILL']);
    r.current().exit(null, 'SIGKILL');
    expect(r.alerts[0]).toMatch(/^Agent stalled \(no heartbeat within 30 s of starting\): killed it\./);
  });

  it('kills an agent that reports an event-loop lag above maxLoopLagMs', () => {
    const r = rig();
    r.current().beat(5_000);
    expect(r.current().signals).toEqual([]);
    r.current().beat(5_001);
    expect(r.current().signals).toEqual(['SIGKILL']);
    r.current().beat(9_000); // a late heartbeat from the dying process changes nothing
    r.current().exit(null, 'SIGKILL');
    expect(r.alerts).toEqual(['Agent stalled (event-loop lag 5001 ms, above 5000 ms): killed it. Restarting in 5 s (restart 1).']);
  });

  it('restarts as a suspected leak after 3 heartbeats in a row above maxRssMb, not after 2', () => {
    const r = rig();
    const child = r.current();
    child.beat(1, 1_600);
    child.beat(1, 1_600);
    child.beat(1, 1_400); // back under: the count starts again
    child.beat(1, 1_600);
    child.beat(1, 1_600);
    expect(child.signals).toEqual([]);
    child.beat(1, 1_601);
    expect(child.signals).toEqual(['SIGKILL']);
    child.exit(null, 'SIGKILL');
    expect(r.alerts).toEqual(['Agent suspected of a memory leak (RSS 1601 MB, above 1500 MB in 3 heartbeats in a row): killed it. Restarting in 5 s (restart 1).']);
    r.clock.advance(5_000);
    expect(r.spawns.at(-1)!.restart?.reason).toBe('suspected memory leak: RSS 1601 MB, above 1500 MB in 3 heartbeats in a row');
  });
});

describe('Supervisor exits that are not crashes', () => {
  it('exit 0 (the agent stopped cleanly): no restart, exits 0, no alert', async () => {
    const r = rig();
    r.current().beat();
    r.current().exit(0);
    r.clock.advance(3_600_000);
    expect(r.children).toHaveLength(1);
    expect(r.alerts).toEqual([]);
    expect(await r.exitCode()).toBe(0);
  });

  it('exit 2 (an operator error): no restart, alerts with the reason, exits 2', async () => {
    const r = rig();
    r.current().failure = () => 'Bad config in x.yaml: sim.barsPerSecond = -1';
    r.current().exit(2);
    r.clock.advance(3_600_000);
    expect(r.children).toHaveLength(1);
    expect(r.alerts).toEqual([
      'Agent cannot start (exit code 2: Bad config in x.yaml: sim.barsPerSecond = -1). Not restarting: a restart cannot fix this; fix it and start the agent again.',
    ]);
    expect(r.snapshots.at(-1)!.lastExit?.reason).toBe('exit code 2: Bad config in x.yaml: sim.barsPerSecond = -1');
    expect(await r.exitCode()).toBe(2);
  });

  it('stop: SIGTERM to the agent, SIGKILL after 20 s, exits 0 and never restarts, whatever the exit', async () => {
    const r = rig();
    const child = r.current();
    r.supervisor.stop('SIGINT');
    r.supervisor.stop('SIGTERM'); // a second signal adds nothing
    expect(child.signals).toEqual(['SIGTERM']);
    r.clock.advance(STOP_GRACE_MS - 1);
    expect(child.signals).toEqual(['SIGTERM']);
    r.clock.advance(1);
    expect(child.signals).toEqual(['SIGTERM', 'SIGKILL']);
    child.exit(null, 'SIGKILL');
    r.clock.advance(3_600_000);
    expect(r.children).toHaveLength(1);
    expect(r.alerts).toEqual([]);
    expect(await r.exitCode()).toBe(0);
  });

  it('stop while a restart is pending: no restart, exits 0', async () => {
    const r = rig();
    r.current().exit(1);
    r.supervisor.stop('SIGTERM');
    r.clock.advance(3_600_000);
    expect(r.children).toHaveLength(1);
    expect(await r.exitCode()).toBe(0);
  });
});

describe('Supervisor state and reasons', () => {
  it('persists the restart count (continuing from earlier runs), the child pid and the last exit', () => {
    const r = rig(SETTINGS, 7);
    expect(r.snapshots.at(-1)).toEqual({ childPid: 100, restarts: 7, lastExit: null });
    r.current().failure = () => 'Error: boom';
    r.current().exit(1);
    expect(r.snapshots.at(-1)).toMatchObject({ childPid: null, restarts: 7, lastExit: { reason: 'exit code 1: Error: boom' } });
    r.clock.advance(5_000);
    expect(r.snapshots.at(-1)).toMatchObject({ childPid: 101, restarts: 8 });
    expect(r.spawns.at(-1)!.restart).toEqual({ count: 8, reason: 'exit code 1: Error: boom' });
  });

  it('reads the last word from stderr: main.ts lines, uncaught exceptions, never stack or JSON log lines', () => {
    expect(failureFromStderr('{"level":30,"msg":"agent started"}\nfatal: Error: boom\n    at main (src/main.ts:1:1)\n')).toBe('Error: boom');
    expect(failureFromStderr('error: Bad config in a.yaml: x = 1: too small\n')).toBe('Bad config in a.yaml: x = 1: too small');
    expect(failureFromStderr('/x/y.ts:3\n  throw new TypeError("no");\n  ^\n\nTypeError: no\n    at f (/x/y.ts:3:9)\n\nNode.js v20.19.0\n')).toBe('TypeError: no');
    expect(failureFromStderr('{"level":50,"msg":"error: not this"}\n')).toBeUndefined();
    expect(exitReason(null, 'SIGKILL', undefined)).toBe('signal SIGKILL');
    expect(exitReason(1, null, 'Error: boom')).toBe('exit code 1: Error: boom');
  });
});

describe('DirectAlerts (the supervisor notifier)', () => {
  const env = {
    TELEGRAM_BOT_TOKEN: '123:abc',
    TELEGRAM_API_ROOT: 'http://tg.test',
    TELEGRAM_CHAT_ID: '42',
    TELEGRAM_OPERATORS: [],
    TELEGRAM_VIEWERS: [],
    DISCORD_BOT_TOKEN: 'dtoken',
    DISCORD_API_BASE: 'http://dc.test/api',
    DISCORD_CHANNEL_ID: '77',
    DISCORD_GUILD_ID: undefined,
    DISCORD_OPERATORS: [],
    DISCORD_VIEWERS: [],
  };

  function logs() {
    const warnings: Array<Record<string, unknown>> = [];
    return { warnings, log: { info: () => undefined, warn: (obj: object) => warnings.push(obj as Record<string, unknown>) } };
  }

  it('posts "[SIM] text" to Telegram sendMessage and Discord channel messages, each only when configured', async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const fetchStub = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response('{"ok":true}', { status: 200 });
    }) as unknown as typeof fetch;
    const { log, warnings } = logs();
    await new DirectAlerts(env, '[SIM]', log, { fetch: fetchStub }).send('Agent crashed (signal SIGKILL).');
    expect(calls.map((c) => [c.url, JSON.parse(String(c.init.body)), (c.init.headers as Record<string, string>).authorization])).toEqual([
      ['http://tg.test/bot123:abc/sendMessage', { chat_id: '42', text: '[SIM] Agent crashed (signal SIGKILL).' }, undefined],
      ['http://dc.test/api/v10/channels/77/messages', { content: '[SIM] Agent crashed (signal SIGKILL).' }, 'Bot dtoken'],
    ]);
    expect(warnings).toEqual([]);

    calls.length = 0;
    const telegramOnly = new DirectAlerts({ ...env, DISCORD_BOT_TOKEN: undefined, TELEGRAM_CHAT_ID: '42' }, '[PAPER]', log, { fetch: fetchStub });
    expect(telegramOnly.channels).toEqual(['telegram']);
    expect(new DirectAlerts({ ...env, TELEGRAM_CHAT_ID: undefined, DISCORD_CHANNEL_ID: undefined }, '[SIM]', log, { fetch: fetchStub }).channels).toEqual([]);
  });

  it('reaches the fake Telegram Bot API and the fake Discord REST API over real HTTP', async () => {
    const telegram = new FakeTelegram();
    const discord = new FakeDiscord();
    await telegram.start();
    await discord.start();
    try {
      const real = { ...env, TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot, TELEGRAM_CHAT_ID: '42', DISCORD_BOT_TOKEN: discord.token, DISCORD_API_BASE: discord.apiBase, DISCORD_CHANNEL_ID: discord.channelId };
      const { log, warnings } = logs();
      await new DirectAlerts(real, '[LIVE]', log).send('Agent crashed (exit code 1: Error: boom). Restarting in 5 s (restart 1).');
      expect(warnings).toEqual([]);
      expect(telegram.messages(42).map((m) => m.text)).toEqual(['[LIVE] Agent crashed (exit code 1: Error: boom). Restarting in 5 s (restart 1).']);
      expect(discord.channelMessages().map((m) => m.content)).toEqual(['[LIVE] Agent crashed (exit code 1: Error: boom). Restarting in 5 s (restart 1).']);
    } finally {
      await telegram.stop();
      await discord.stop();
    }
  });

  it('logs refusals, network errors and timeouts, never throws, and never logs the token', async () => {
    const fetchStub = (async (url: string, init: RequestInit) => {
      if (url.includes('tg.test')) return new Response('{"ok":false,"description":"Forbidden"}', { status: 403 });
      // Discord hangs until the timeout aborts the request.
      return new Promise<Response>((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)));
    }) as unknown as typeof fetch;
    const { log, warnings } = logs();
    const alerts = new DirectAlerts(env, '[SIM]', log, { fetch: fetchStub, timeoutMs: 50 });
    await expect(alerts.send('down')).resolves.toBeUndefined();
    await alerts.idle();
    expect(warnings.map((w) => w.channel).sort()).toEqual(['discord', 'telegram']);
    expect(warnings.find((w) => w.channel === 'telegram')).toMatchObject({ status: 403 });
    expect(String(warnings.find((w) => w.channel === 'discord')?.error)).toMatch(/timeout|abort/i);
    expect(JSON.stringify(warnings)).not.toContain('123:abc');

    const throwing = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    await expect(new DirectAlerts(env, '[SIM]', log, { fetch: throwing }).send('down')).resolves.toBeUndefined();
  });
});
