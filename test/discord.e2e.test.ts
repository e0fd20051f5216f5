/**
 * Discord end to end: the real agent and the real discord.js Client (gateway over WebSocket, REST over HTTP)
 * against the fake Discord in test/fakes. Nothing in discord.js is mocked.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RoleDirectory } from '../bot/auth.js';
import { DiscordAuthError, DiscordTransport } from '../bot/discord.js';
import type { CommandCore } from '../bot/dispatch.js';
import { ConfigError } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { FakeDiscord, type FakeMessage } from './fakes/discord-api.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const OPERATOR = '200000000000000001';
const VIEWER = '200000000000000002';
const STRANGER = '200000000000000003';
const OTHER_GUILD = '300000000000000009';

let fake: FakeDiscord;
let agent: TestAgent | undefined;
let transport: DiscordTransport | undefined;

beforeEach(async () => {
  fake = new FakeDiscord();
  await fake.start();
});

afterEach(async () => {
  await agent?.stop('test over');
  agent = undefined;
  await transport?.stop();
  transport = undefined;
  await fake.stop();
});

function discordEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DISCORD_BOT_TOKEN: fake.token,
    DISCORD_API_BASE: fake.apiBase,
    DISCORD_CHANNEL_ID: fake.channelId,
    DISCORD_GUILD_ID: fake.guildId,
    DISCORD_OPERATORS: OPERATOR,
    DISCORD_VIEWERS: VIEWER,
    ...overrides,
  };
}

async function start(): Promise<TestAgent> {
  agent = await startTestAgent(discordEnv());
  return agent;
}

const text = (m: FakeMessage) => FakeDiscord.text(m);

/** Run a slash command and wait for its answer: the deferred original edited into embeds. */
async function slash(user: string, name: string, options: Record<string, string> = {}): Promise<{ id: string; replies: FakeMessage[] }> {
  const id = fake.invokeSlash(user, name, options);
  const replies = await fake.waitFor(() => {
    const visible = fake.visibleReplies(id);
    return visible.some((m) => m.embeds.length > 0) ? visible : undefined;
  }, 10_000, `answer to /${name}`);
  return { id, replies };
}

function feed(pattern: RegExp): Promise<FakeMessage> {
  return fake.waitFor(() => fake.channelMessages().find((m) => pattern.test(m.content)), 15_000, `feed message matching ${pattern}`);
}

function expectFeedWellFormed(): void {
  for (const m of fake.channelMessages()) {
    expect(m.content.length).toBeLessThanOrEqual(2_000);
    for (const line of m.content.split('\n')) expect(line).toMatch(/^\[SIM\] /);
  }
}

describe('Discord control', () => {
  it('registers the slash commands in the guild, identifies with the Guilds intent only, and announces start-up in the feed', async () => {
    await start();
    const put = fake.calls.find((c) => c.method === 'PUT' && c.path === `/applications/${fake.appId}/guilds/${fake.guildId}/commands`);
    expect(put?.status).toBe(200);
    const commands = put!.body as Array<{ name: string; description: string; options: Array<{ name: string; type: number; required: boolean }> }>;
    expect(commands.map((c) => c.name)).toEqual(expect.arrayContaining(['status', 'pause', 'resume', 'kill', 'trades', 'help', 'confirm']));
    expect(commands.find((c) => c.name === 'pause')!.options).toEqual([expect.objectContaining({ name: 'duration', type: 3, required: false })]);
    expect(commands.find((c) => c.name === 'confirm')!.options).toEqual([expect.objectContaining({ name: 'token', type: 3, required: true })]);
    for (const c of commands) expect(c.description.length).toBeLessThanOrEqual(100);
    expect(fake.identifies).toEqual([expect.objectContaining({ ok: true, intents: 1 })]);

    await feed(/^\[SIM\] Started \(sim\)/m);
    await feed(/^\[SIM\] (BUY|SELL) /m);
    expectFeedWellFormed();
  });

  it('answers an operator\'s /status with an embed, denies /kill to a viewer, and audits both', async () => {
    await start();
    const status = await slash(OPERATOR, 'status');
    expect(fake.acknowledgement(status.id)).toEqual({ type: 5, flags: 0 }); // deferred, public
    expect(status.replies).toHaveLength(1);
    expect(status.replies[0]!.content).toBe('');
    expect(status.replies[0]!.embeds[0]!.description).toMatch(/^\[SIM\] Mode SIM · state running/);

    const denied = await slash(VIEWER, 'kill');
    expect(text(denied.replies[0]!)).toMatch(/^\[SIM\] \/kill needs the operator role; you are a viewer\./);
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');

    // Options arrive as the command's arguments, validated by the core.
    const bad = await slash(OPERATOR, 'pause', { duration: 'soon' });
    expect(text(bad.replies[0]!)).toMatch(/Bad duration "soon" for \/pause/);

    expect(agent!.audit().filter((r) => r.transport === 'discord').map((r) => `${r.actor_id}:${r.command}:${r.outcome}`)).toEqual([
      `${OPERATOR}:status:requested`,
      `${OPERATOR}:status:ok`,
      `${VIEWER}:kill:denied`,
      `${OPERATOR}:pause:invalid`,
    ]);
  });

  it('gives a stranger no visible answer, audits the attempt and alerts the feed; a listed user in another guild is a stranger too', async () => {
    await start();
    const id = fake.invokeSlash(STRANGER, 'kill');
    const alert = await feed(new RegExp(`Unauthorized discord user ${STRANGER}`));
    expect(alert.content).toMatch(new RegExp(`^\\[SIM\\] Unauthorized discord user ${STRANGER} in chat ${fake.channelId} tried "/kill"\\. Ignored\\.`));
    // Acknowledged (ephemeral deferral), then deleted: nothing is left for them to see.
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'DELETE' && c.path.includes('/messages/@original')), 10_000, 'deleted deferral');
    expect(fake.acknowledgement(id)).toEqual({ type: 5, flags: 64 });
    expect(fake.visibleReplies(id)).toEqual([]);
    expect(agent!.audit().find((r) => r.actor_id === STRANGER)).toMatchObject({ transport: 'discord', command: 'kill', outcome: 'unauthorized' });

    const elsewhere = fake.invokeSlash(OPERATOR, 'status', {}, { guildId: OTHER_GUILD });
    await feed(new RegExp(`Unauthorized discord user ${OPERATOR}`));
    await fake.waitFor(() => fake.acknowledgement(elsewhere), 10_000, 'acknowledged');
    await fake.waitFor(() => fake.visibleReplies(elsewhere).length === 0, 10_000, 'no visible reply');
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');
  });

  it('/kill asks with buttons; another user\'s press is refused, a stranger\'s is silent, and the operator\'s halts', async () => {
    await start();
    const prompt = await slash(OPERATOR, 'kill');
    const message = prompt.replies[0]!;
    expect(text(message)).toMatch(/^\[SIM\] KILL: halt trading/);
    const buttons = message.components[0]!.components;
    expect(buttons.map((b) => b.label)).toEqual(['Confirm', 'Cancel']);
    const confirmId = buttons[0]!.custom_id!;
    expect(confirmId).toMatch(/^c:[0-9a-f]{8}$/);
    expect(buttons[1]!.custom_id).toBe(`x:${confirmId.slice(2)}`);

    const viewerPress = fake.pressButton(VIEWER, confirmId, message.id);
    const refusal = await fake.waitFor(() => fake.visibleReplies(viewerPress).find((m) => /belongs to someone else/.test(text(m))), 10_000, 'refusal');
    expect(text(refusal)).toMatch(/^\[SIM\] /);
    expect(fake.acknowledgement(viewerPress)).toEqual({ type: 6, flags: 0 });

    const strangerPress = fake.pressButton(STRANGER, confirmId, message.id);
    await fake.waitFor(() => fake.acknowledgement(strangerPress), 10_000, 'stranger press acknowledged');
    await feed(new RegExp(`Unauthorized discord user ${STRANGER}`));
    expect(fake.visibleReplies(strangerPress)).toEqual([]);
    expect(agent!.audit().find((r) => r.actor_id === STRANGER)).toMatchObject({ transport: 'discord', outcome: 'unauthorized' });
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');

    const press = fake.pressButton(OPERATOR, confirmId, message.id);
    const report = await fake.waitFor(() => fake.visibleReplies(press).find((m) => /^\[SIM\] HALTED\./.test(text(m))), 15_000, 'kill report');
    expect(text(report)).toMatch(/Flat: no positions remain\.|No positions to close\./);
    expect(agent!.engine.status().risk.state).toBe('HALTED');
    expect(agent!.engine.status().positions).toEqual([]);

    // Single use.
    const again = fake.pressButton(OPERATOR, confirmId, message.id);
    await fake.waitFor(() => fake.visibleReplies(again).find((m) => /unknown or expired/.test(text(m))), 10_000, 'reuse refused');
    expect(agent!.audit().filter((r) => r.command === 'kill').map((r) => `${r.actor_id}:${r.outcome}`)).toEqual([
      `${OPERATOR}:requested`,
      `${OPERATOR}:awaiting-confirmation`,
      `${VIEWER}:denied`,
      `${OPERATOR}:confirmed`,
      `${OPERATOR}:ok`,
    ]);
  });

  it('Cancel withdraws a pending /kill', async () => {
    await start();
    const message = (await slash(OPERATOR, 'kill')).replies[0]!;
    const cancel = message.components[0]!.components[1]!.custom_id!;
    const press = fake.pressButton(OPERATOR, cancel, message.id);
    await fake.waitFor(() => fake.visibleReplies(press).find((m) => /^\[SIM\] \/kill canceled\./.test(text(m))), 10_000, 'canceled');
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');
  });

  it('honours a 429 retry_after on the feed before sending again', async () => {
    const a = await start();
    await feed(/Started/);
    fake.rateLimit(/^\/channels\/\d+\/messages$/, 1.5, { method: 'POST' });
    a.console.send('/pause');
    const delivered = await feed(/Paused by console:local/);
    const limited = fake.calls.find((c) => c.status === 429)!;
    expect(limited.path).toBe(`/channels/${fake.channelId}/messages`);
    expect((limited.body as { content: string }).content).toBe(delivered.content);
    expect(delivered.at - limited.at).toBeGreaterThanOrEqual(1_450);
  });

  it('keeps trading while Discord is down, then delivers the queued notifications, kill first', async () => {
    const a = await start();
    await feed(/Started/);
    fake.setDown(true);
    const barsAtOutage = a.engine.status().health.barsProcessed;
    const sentAtOutage = fake.channelMessages().length;
    a.console.send('/pause');
    await until(() => a.engine.status().health.barsProcessed >= barsAtOutage + 40, 'engine keeps processing bars during the outage');
    a.console.send('/kill');
    const token = (await until(() => a.console.output().match(/\/confirm ([0-9a-f]{8})/), 'console kill prompt'))[1]!;
    a.console.send(`/confirm ${token}`);
    await until(() => a.engine.status().risk.state === 'HALTED', 'halted');
    expect(fake.channelMessages().length).toBe(sentAtOutage);

    fake.setDown(false);
    const delivered = await fake.waitFor(() => {
      const after = fake.channelMessages().slice(sentAtOutage);
      return after.some((m) => /Paused by console:local/.test(m.content)) && after.some((m) => /KILL by/.test(m.content)) ? after : undefined;
    }, 30_000, 'queued messages after recovery');
    const stream = delivered.map((m) => m.content).join('\n');
    expect(stream.indexOf('[SIM] KILL by console:local')).toBeLessThan(stream.indexOf('[SIM] Paused by console:local'));
    expect(stream).toMatch(/\[SIM\] (BUY|SELL) /);
    expectFeedWellFormed();

    // The gateway reconnects by itself and commands work again.
    await fake.waitFor(() => fake.gatewayConnected, 20_000, 'gateway reconnected');
    const status = await slash(OPERATOR, 'status');
    expect(text(status.replies[0]!)).toMatch(/^\[SIM\] Mode SIM · state halted/);
  });

  it('starts trading when Discord is unreachable at start-up and connects in the background', async () => {
    fake.setDown(true);
    const a = await start();
    const bars = a.engine.status().health.barsProcessed;
    await until(() => a.engine.status().health.barsProcessed >= bars + 20, 'trading without Discord');
    fake.setDown(false);
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'PUT' && c.path.endsWith('/commands') && c.status === 200), 20_000, 'commands registered after recovery');
    await feed(/^\[SIM\] Started \(sim\)/m);
    expectFeedWellFormed();
  });

  it('keeps the feed and alerts when Discord refuses the slash commands (wrong guild)', async () => {
    agent = await startTestAgent(discordEnv({ DISCORD_GUILD_ID: OTHER_GUILD }));
    expect(fake.calls.find((c) => c.method === 'PUT')?.status).toBe(403);
    const alert = await feed(/refused to register the slash commands/);
    expect(alert.content).toMatch(new RegExp(`^\\[SIM\\] Discord refused to register the slash commands in guild ${OTHER_GUILD} \\(403`));
    await feed(/^\[SIM\] Started \(sim\)/m);
  });

  it('refuses to start with a token Discord rejects', async () => {
    const failure = startTestAgent(discordEnv({ DISCORD_BOT_TOKEN: 'not.the.token' }));
    await expect(failure).rejects.toBeInstanceOf(ConfigError);
    await expect(failure).rejects.toThrow(/Discord rejected DISCORD_BOT_TOKEN \(401 Unauthorized\)/);
  });
});

describe('DiscordTransport', () => {
  const log = createLogger('fatal', new PassThrough());
  const alerts = { notify: () => undefined };

  function makeTransport(core: Partial<CommandCore>, options: { roles?: RoleDirectory; readyTimeoutMs?: number; log?: typeof log } = {}): DiscordTransport {
    transport = new DiscordTransport({ commands: [], ...core } as unknown as CommandCore, alerts, {
      token: fake.token,
      apiBase: fake.apiBase,
      channelId: fake.channelId,
      guildId: fake.guildId,
      roles: options.roles ?? new RoleDirectory(new Set([OPERATOR]), new Set()),
      tag: '[SIM]',
      readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
      log: options.log ?? log,
    });
    return transport;
  }

  it('splits long replies into embeds of at most 2000 characters, tag first, buttons on the last', async () => {
    const long = Array.from({ length: 90 }, (_, i) => `line ${i} ${'x'.repeat(50)}`).join('\n');
    const t = makeTransport({ handle: async () => ({ text: long, confirmToken: 'abcd1234' }) });
    await t.start();
    const id = fake.invokeSlash(OPERATOR, 'status');
    const replies = await fake.waitFor(() => {
      const visible = fake.visibleReplies(id);
      return visible.length >= 3 && visible.every((m) => m.embeds.length > 0) ? visible : undefined;
    }, 10_000, 'all parts');
    expect(replies).toHaveLength(3);
    expect(text(replies[0]!)).toMatch(/^\[SIM\] line 0 /);
    for (const m of replies) expect(m.embeds.every((e) => (e.description ?? '').length <= 2_000)).toBe(true);
    expect(replies.map((m) => m.components.length)).toEqual([0, 0, 1]);
    expect(replies.map((m) => text(m)).join('\n')).toBe(`[SIM] ${long}`);
  });

  it('splits feed messages at 2000 characters and throws while Discord is unreachable', async () => {
    const t = makeTransport({});
    await t.start();
    const long = `[SIM] ${'y'.repeat(4_500)}`;
    await t.send(long);
    const parts = fake.channelMessages();
    expect(parts.length).toBe(3);
    for (const m of parts) expect(m.content.length).toBeLessThanOrEqual(2_000);
    expect(parts.map((m) => m.content).join('')).toBe(long);
    // An alert can quote what a stranger typed: "@everyone" in it must not ping anyone.
    for (const call of fake.calls.filter((c) => c.method === 'POST' && c.path.startsWith('/channels/'))) {
      expect((call.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [] });
    }
    fake.setDown(true);
    await expect(t.send('[SIM] during the outage')).rejects.toThrow();
  });

  it('reports gateway close code 4004 as a rejected token', async () => {
    fake.rejectIdentify = true;
    const t = makeTransport({});
    await expect(t.start()).rejects.toBeInstanceOf(DiscordAuthError);
    await expect(t.start()).rejects.toThrow(/gateway close 4004/);
  });

  it('times out when only the gateway is unreachable, keeps trying with the same client, and is ready once it is back', async () => {
    fake.setDown(true, 'gateway');
    const t = makeTransport({}, { readyTimeoutMs: 1_500 });
    const began = Date.now();
    await expect(t.start()).rejects.toThrow(/not ready within 2 s/);
    expect(Date.now() - began).toBeLessThan(5_000);
    await expect(t.send('[SIM] not connected')).rejects.toThrow(/not connected/);
    fake.setDown(false);
    await t.start();
    expect(fake.identifies).toHaveLength(1); // one client, one session
    expect(fake.calls.filter((c) => c.method === 'PUT' && c.path.endsWith('/commands'))).toHaveLength(1);
    await t.send('[SIM] connected');
    expect(fake.channelMessages().map((m) => m.content)).toEqual(['[SIM] connected']);
  });

  it('after stop() during an outage, no session it may leave behind reaches the command core', async () => {
    let handled = 0;
    const t = makeTransport({ handle: async () => ((handled += 1), { text: 'answered' }) });
    await t.start();
    fake.setDown(true, 'gateway');
    await new Promise((r) => setTimeout(r, 300)); // the shard is now between reconnect attempts
    await t.stop();
    fake.setDown(false);
    // discord.js 14 may revive a shard destroyed while it waited to reconnect; if it does, it must be inert.
    const revived = await fake.waitFor(() => fake.gatewayConnected, 3_000, 'a revived session').catch(() => false);
    if (revived) {
      const id = fake.invokeSlash(OPERATOR, 'status');
      await new Promise((r) => setTimeout(r, 1_000));
      expect(fake.acknowledgement(id)).toBeUndefined();
      fake.closeGateway(4004, 'Authentication failed.'); // ends the revived shard for good
    }
    expect(handled).toBe(0);
  });

  it('warns at start-up that nobody may use commands when both id lists are empty', async () => {
    const warnings: string[] = [];
    const capture = { ...log, warn: (_: object, msg: string) => void warnings.push(msg) };
    const t = makeTransport({}, { roles: new RoleDirectory(new Set(), new Set()), log: capture as typeof log });
    await t.start();
    expect(warnings.some((w) => /DISCORD_OPERATORS and DISCORD_VIEWERS are empty/.test(w))).toBe(true);
  });
});
