import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineApi, KillReport, SignalsView, StatusView } from '../engine/api.js';
import type { NotificationKind, Notifier } from '../engine/ports.js';
import type { RiskState, RiskStateName } from '../engine/types.js';
import { SqliteAuditLog } from '../src/store/audit.js';
import { openDatabase, type Db } from '../src/store/database.js';
import { buildCommands } from './commands.js';
import { CommandCore, type DispatchOptions } from './dispatch.js';
import type { Actor, Reply } from './registry.js';

const operator: Actor = { transport: 'test', id: 'op1', role: 'operator' };
const otherOperator: Actor = { transport: 'test', id: 'op2', role: 'operator' };
const viewer: Actor = { transport: 'test', id: 'v1', role: 'viewer' };
const stranger: Actor = { transport: 'test', id: 'x9', chatId: 'chat7', role: null };

const TTL_MS = 60_000;

interface AuditRow {
  readonly command: string;
  readonly actorId: string;
  readonly args: string[];
  readonly outcome: string;
  readonly detail: string | null;
}

function auditRows(db: Db): AuditRow[] {
  const rows = db.prepare('SELECT command, actor_id, args, outcome, detail FROM audit ORDER BY id').all() as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    command: r.command as string,
    actorId: r.actor_id as string,
    args: JSON.parse(r.args as string) as string[],
    outcome: r.outcome as string,
    detail: r.detail as string | null,
  }));
}

/** An in-memory engine: a risk state the test can set, and every control call recorded with the audit as it was then. */
const USAGE = { exposure: 0, largestAsset: 0, openPositions: 0, var95: 0, maxCorrelation: undefined, dayPnlFraction: 0, totalPnlFraction: 0.05, drawdown: 0, tradesToday: 0, recentRiskEvents: [] };

const testDeps = { recentAudit: () => [], health: () => 'channels: console ok' };

class FakeEngine implements EngineApi {
  risk: RiskState = { state: 'ACTIVE', since: Date.UTC(2024, 0, 1), by: 'system', reason: 'start-up' };
  readonly pauses: Array<{ by: string; durationMs: number | undefined; auditAtCall: AuditRow[] }> = [];
  readonly resumes: Array<{ by: string; auditAtCall: AuditRow[] }> = [];
  readonly kills: Array<{ by: string; auditAtCall: AuditRow[] }> = [];

  constructor(private readonly db: Db) {}

  setState(state: RiskStateName): void {
    this.risk = { ...this.risk, state, reason: `set to ${state} by the test` };
  }

  models(): string {
    return 'The momentum strategy uses no models.';
  }

  signals(): SignalsView {
    return { strategy: 'momentum', signals: null, note: 'the momentum strategy makes no confidence signals' };
  }

  status(): StatusView {
    return {
      mode: 'sim',
      risk: this.risk,
      market: 'embedded synthetic market',
      broker: 'sim venue',
      strategy: 'momentum',
      marketTime: undefined,
      equity: 10_500,
      cash: 10_500,
      startingEquity: 10_000,
      dayPnl: 25,
      positions: [],
      openOrders: 0,
      lastDecisionAt: undefined,
      health: { inboxDepth: 0, barsProcessed: 7, lastBarWallTime: undefined },
      riskUsage: USAGE,
    };
  }

  limits() {
    return { profile: 'full' as const, limits: [], usage: USAGE };
  }

  setLimit() {
    return { ok: false as const, reason: 'no limits in this fake' };
  }

  async reconcile() {
    return [];
  }

  pause(by: string, durationMs?: number) {
    this.pauses.push({ by, durationMs, auditAtCall: auditRows(this.db) });
    if (this.risk.state === 'HALTED') return { ok: false as const, reason: 'HALTED; /resume first' };
    this.risk = { ...this.risk, state: 'REDUCING', by, reason: `paused by ${by}` };
    return { ok: true as const, state: this.risk };
  }

  resume(by: string) {
    this.resumes.push({ by, auditAtCall: auditRows(this.db) });
    this.risk = { ...this.risk, state: 'ACTIVE', by, reason: `resumed by ${by}` };
    return { ok: true as const, state: this.risk };
  }

  async kill(by: string): Promise<KillReport> {
    this.kills.push({ by, auditAtCall: auditRows(this.db) });
    const alreadyHalted = this.risk.state === 'HALTED';
    this.risk = { ...this.risk, state: 'HALTED', by, reason: 'kill switch' };
    return { alreadyHalted, canceled: [], closes: [], remaining: [] };
  }

  thresholds() {
    return [];
  }

  setThreshold() {
    return { ok: false as const, reason: 'no thresholds in this fake' };
  }

  recentTrades() {
    return [];
  }
}

class CollectingNotifier implements Notifier {
  readonly sent: Array<{ kind: NotificationKind; text: string }> = [];
  notify(kind: NotificationKind, text: string): void {
    this.sent.push({ kind, text });
  }
}

let db: Db;
let engine: FakeEngine;
let alerts: CollectingNotifier;
let clock: number;
let core: CommandCore;

function makeCore(options: Partial<DispatchOptions> = {}): CommandCore {
  return new CommandCore(engine, buildCommands(testDeps), new SqliteAuditLog(db), alerts, { confirmTtlMs: TTL_MS, now: () => clock, ...options });
}

beforeEach(() => {
  db = openDatabase(':memory:');
  engine = new FakeEngine(db);
  alerts = new CollectingNotifier();
  clock = 1_000_000;
  core = makeCore();
});
afterEach(() => {
  db.close();
});

async function send(actor: Actor, text: string): Promise<Reply> {
  const reply = await core.handle({ actor, text });
  if (reply === undefined) throw new Error(`no reply to ${actor.id}: ${text}`);
  return reply;
}

const outcomes = () => auditRows(db).map((r) => `${r.command}:${r.outcome}`);

describe('CommandCore', () => {
  it('/status replies with the mode and state and audits requested then ok', async () => {
    const reply = await send(operator, '/status');
    expect(reply.text).toContain('Mode SIM');
    expect(reply.text).toContain('(ACTIVE)');
    expect(reply.confirmToken).toBeUndefined();
    expect(outcomes()).toEqual(['status:requested', 'status:ok']);
    expect(auditRows(db)[0]!.actorId).toBe('op1');
  });

  it('accepts the Telegram /cmd@Bot form and any case', async () => {
    engine.setState('HALTED');
    expect((await send(viewer, '/STATUS@MyBot')).text).toContain('state halted (HALTED)');
  });

  it('an unknown command is answered and audited as unknown', async () => {
    const reply = await send(operator, '/bogus now');
    expect(reply.text).toContain('Unknown command /bogus');
    expect(auditRows(db)).toEqual([{ command: 'bogus', actorId: 'op1', args: ['now'], outcome: 'unknown', detail: null }]);
  });

  it('text without a command gets a hint and runs nothing', async () => {
    expect((await send(operator, 'hello there')).text).toContain('Commands start with "/"');
    expect(engine.pauses).toEqual([]);
  });

  it('a bad argument names the parameter and the usage, is audited invalid, and runs nothing', async () => {
    const reply = await send(operator, '/pause xyz');
    expect(reply.text).toContain('Bad duration "xyz" for /pause');
    expect(reply.text).toContain('Usage: /pause [duration]');
    expect(engine.pauses).toEqual([]);
    const rows = auditRows(db);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ command: 'pause', args: ['xyz'], outcome: 'invalid', detail: reply.text });
  });

  it('an out-of-range duration is refused', async () => {
    expect((await send(operator, '/pause 31d')).text).toContain('must be between 1m and 30d');
    expect((await send(operator, '/pause 0m')).text).toContain('must be between 1m and 30d');
    expect(engine.pauses).toEqual([]);
  });

  it('too many arguments are refused with the usage', async () => {
    const reply = await send(operator, '/pause 2h 3h');
    expect(reply.text).toBe('Too many arguments for /pause. Usage: /pause [duration]');
    expect((await send(viewer, '/status now')).text).toBe('Too many arguments for /status. Usage: /status');
    expect(engine.pauses).toEqual([]);
    expect(outcomes()).toEqual(['pause:invalid', 'status:invalid']);
  });

  it('/pause 2h pauses for 7,200,000 ms, attributed to the actor', async () => {
    const reply = await send(operator, '/pause 2h');
    expect(engine.pauses.map(({ by, durationMs }) => ({ by, durationMs }))).toEqual([{ by: 'test:op1', durationMs: 7_200_000 }]);
    expect(reply.text).toContain('Paused: paused by test:op1');
    expect(outcomes()).toEqual(['pause:requested', 'pause:ok']);
  });

  it('/pause without a duration passes none', async () => {
    await send(operator, '/pause');
    expect(engine.pauses).toHaveLength(1);
    expect(engine.pauses[0]!.durationMs).toBeUndefined();
  });

  it('a viewer cannot /kill: denied, audited, nothing run and no token', async () => {
    const reply = await send(viewer, '/kill');
    expect(reply.text).toBe('/kill needs the operator role; you are a viewer.');
    expect(reply.confirmToken).toBeUndefined();
    expect(engine.kills).toEqual([]);
    expect(auditRows(db)).toEqual([{ command: 'kill', actorId: 'v1', args: [], outcome: 'denied', detail: 'needs operator role' }]);
  });

  it('an unauthorized actor gets no reply; the attempt is audited and alerted as critical', async () => {
    const reply = await core.handle({ actor: stranger, text: '/kill' });
    expect(reply).toBeUndefined();
    expect(engine.kills).toEqual([]);
    expect(auditRows(db)).toEqual([{ command: 'kill', actorId: 'x9', args: [], outcome: 'unauthorized', detail: '/kill' }]);
    expect(alerts.sent).toHaveLength(1);
    expect(alerts.sent[0]!.kind).toBe('critical');
    expect(alerts.sent[0]!.text).toContain('x9');
    expect(alerts.sent[0]!.text).toContain('chat7');
    expect(alerts.sent[0]!.text).toContain('"/kill"');
  });

  it('/kill asks for confirmation and kills only on /confirm from the same actor', async () => {
    const prompt = await send(operator, '/kill');
    const token = prompt.confirmToken;
    expect(token).toMatch(/^[0-9a-f]{8}$/);
    expect(prompt.text).toContain(`/confirm ${token}`);
    expect(prompt.text).toContain('Confirm within 60 s');
    expect(engine.kills).toEqual([]);

    const done = await send(operator, `/confirm ${token}`);
    expect(engine.kills.map((k) => k.by)).toEqual(['test:op1']);
    expect(done.text).toContain('HALTED.');
    expect(outcomes()).toEqual(['kill:requested', 'kill:awaiting-confirmation', 'kill:confirmed', 'kill:ok']);
  });

  it('a confirmation from another actor is refused and does not use up the token', async () => {
    const { confirmToken } = await send(operator, '/kill');
    const stolen = await send(otherOperator, `/confirm ${confirmToken}`);
    expect(stolen.text).toBe('This confirmation belongs to someone else.');
    expect(engine.kills).toEqual([]);
    const denied = auditRows(db).at(-1)!;
    expect(denied).toMatchObject({ command: 'kill', actorId: 'op2', outcome: 'denied', detail: 'confirmation belongs to test:op1' });

    await send(operator, `/confirm ${confirmToken}`);
    expect(engine.kills).toHaveLength(1);
  });

  it('a confirmation from the same id but a lost operator role is refused', async () => {
    const { confirmToken } = await send(operator, '/kill');
    const reply = await send({ ...operator, role: 'viewer' }, `/confirm ${confirmToken}`);
    expect(reply.text).toBe('/kill needs the operator role.');
    expect(engine.kills).toEqual([]);
  });

  it('an expired confirmation is refused', async () => {
    const { confirmToken } = await send(operator, '/kill');
    clock += TTL_MS + 1;
    const reply = await send(operator, `/confirm ${confirmToken}`);
    expect(reply.text).toBe('That confirmation is unknown or expired. Send the command again.');
    expect(engine.kills).toEqual([]);
    expect(auditRows(db).slice(-2)).toEqual([
      { command: 'kill', actorId: 'op1', args: [], outcome: 'expired', detail: `token ${confirmToken} not confirmed in time` },
      { command: 'confirm', actorId: 'op1', args: [confirmToken], outcome: 'expired', detail: 'no such pending confirmation' },
    ]);
  });

  it('a confirmation just inside the TTL still works', async () => {
    const { confirmToken } = await send(operator, '/kill');
    clock += TTL_MS - 1;
    await send(operator, `/confirm ${confirmToken}`);
    expect(engine.kills).toHaveLength(1);
  });

  it('a token can be used only once', async () => {
    const { confirmToken } = await send(operator, '/kill');
    await send(operator, `/confirm ${confirmToken}`);
    const again = await send(operator, `/confirm ${confirmToken}`);
    expect(again.text).toContain('unknown or expired');
    expect(engine.kills).toHaveLength(1);
  });

  it('an unknown token is refused', async () => {
    expect((await send(operator, '/confirm deadbeef')).text).toContain('unknown or expired');
    expect((await send(operator, '/confirm')).text).toContain('unknown or expired');
  });

  it('/resume runs at once unless HALTED, and asks for confirmation when HALTED', async () => {
    engine.setState('REDUCING');
    const direct = await send(operator, '/resume');
    expect(direct.confirmToken).toBeUndefined();
    expect(direct.text).toBe('Resumed: trading is ACTIVE.');
    expect(engine.resumes).toHaveLength(1);

    engine.setState('HALTED');
    const prompt = await send(operator, '/resume');
    expect(prompt.confirmToken).toBeDefined();
    expect(prompt.text).toContain('HALTED');
    expect(engine.resumes).toHaveLength(1);
    await send(operator, `/confirm ${prompt.confirmToken}`);
    expect(engine.resumes).toHaveLength(2);
    expect(engine.risk.state).toBe('ACTIVE');
  });

  it('writes the "requested" audit row before the command runs', async () => {
    await send(operator, '/pause 30m');
    const atPause = engine.pauses[0]!.auditAtCall;
    expect(atPause.map((r) => `${r.command}:${r.outcome}`)).toEqual(['pause:requested']);
    expect(atPause[0]!.args).toEqual(['30m']);

    const { confirmToken } = await send(operator, '/kill');
    await send(operator, `/confirm ${confirmToken}`);
    const atKill = engine.kills[0]!.auditAtCall.map((r) => `${r.command}:${r.outcome}`);
    expect(atKill).toEqual(['pause:requested', 'pause:ok', 'kill:requested', 'kill:awaiting-confirmation', 'kill:confirmed']);
    expect(outcomes().at(-1)).toBe('kill:ok');
  });

  it('reports a failing command as an error reply and audit row', async () => {
    engine.kill = async () => {
      throw new Error('broker unreachable');
    };
    const { confirmToken } = await send(operator, '/kill');
    const reply = await send(operator, `/confirm ${confirmToken}`);
    expect(reply.text).toBe('/kill failed: broker unreachable');
    expect(auditRows(db).at(-1)).toMatchObject({ command: 'kill', outcome: 'error', detail: 'broker unreachable' });
  });

  it('the audit table refuses UPDATE and DELETE', async () => {
    await send(operator, '/status');
    const before = auditRows(db);
    expect(before).toHaveLength(2);
    expect(() => db.prepare("UPDATE audit SET outcome = 'ok'").run()).toThrow(/audit is append-only/);
    expect(() => db.prepare('DELETE FROM audit').run()).toThrow(/audit is append-only/);
    expect(auditRows(db)).toEqual(before);
  });
});

describe('CommandCore fuzz', () => {
  it('never throws on 1,000 random messages; replies to everyone on a list and to no one else', async () => {
    const names = [...buildCommands(testDeps).map((c) => c.name), 'confirm', 'bogus'];
    const arg = fc.oneof(
      fc.constantFrom('2h', '30m', '1d', '0m', '31d', '9999d', '1', '100', '101', '-1', 'NaN', 'deadbeef', ''),
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    const commandLike = fc
      .tuple(fc.constantFrom(...names), fc.boolean(), fc.constantFrom('', '@MyBot', '@'), fc.array(arg, { maxLength: 4 }), fc.constantFrom(' ', '  ', '\t', '\n'))
      .map(([name, upper, suffix, args, sep]) => [`/${upper ? name.toUpperCase() : name}${suffix}`, ...args].join(sep));
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'binary-ascii', maxLength: 1_500 }),
      fc.string({ unit: 'grapheme' }).map((s) => `/${s}`),
      commandLike,
      commandLike,
    );
    const actor = fc.constantFrom(operator, otherOperator, viewer, stranger);

    let runs = 0;
    await fc.assert(
      fc.asyncProperty(actor, text, async (who, message) => {
        runs++;
        const reply = await core.handle({ actor: who, text: message });
        if (who.role === null) {
          expect(reply).toBeUndefined();
        } else {
          expect(reply).toBeDefined();
          expect(reply!.text.trim().length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1_000 },
    );
    expect(runs).toBeGreaterThanOrEqual(1_000);
    // No confirmation was ever given, so the kill switch never fired.
    expect(engine.kills).toEqual([]);
    expect(alerts.sent.every((a) => a.kind === 'critical' && a.text.includes('x9'))).toBe(true);
  });
});
