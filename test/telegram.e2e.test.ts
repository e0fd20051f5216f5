/**
 * Telegram control end to end: the real agent, real grammY (runner, auto-retry, throttler) over HTTP, against
 * the fake Bot API server in test/fakes. Nothing in grammY is mocked.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeTelegram } from './fakes/telegram-api.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const OPERATOR = 1001;
const VIEWER = 2002;
const STRANGER = 3003;
const OPS_CHAT = -500;

let fake: FakeTelegram;
let agent: TestAgent | undefined;

beforeEach(async () => {
  fake = new FakeTelegram();
  await fake.start();
});

afterEach(async () => {
  await agent?.stop('test over');
  agent = undefined;
  await fake.stop();
});

async function start(confirmTtlSeconds = 60): Promise<TestAgent> {
  agent = await startTestAgent(
    {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      TELEGRAM_CHAT_ID: String(OPS_CHAT),
      TELEGRAM_OPERATORS: String(OPERATOR),
      TELEGRAM_VIEWERS: String(VIEWER),
    },
    (c) => ({ ...c, commands: { confirmTtlSeconds } }),
  );
  await fake.waitFor(() => fake.calls.some((c) => c.method === 'setMyCommands'), 10_000, 'setMyCommands');
  return agent;
}

async function replyTo(chat: number, from: number, text: string, pattern: RegExp) {
  const before = fake.messages(chat).length;
  fake.sendText(from, text, chat);
  return fake.waitFor(() => fake.messages(chat).slice(before).find((m) => pattern.test(m.text)), 10_000, `reply matching ${pattern}`);
}

describe('Telegram control', () => {
  it('registers the commands and announces start-up in the ops chat with the mode tag', async () => {
    await start();
    const registered = fake.calls.find((c) => c.method === 'setMyCommands')!.params.commands as Array<{ command: string }>;
    expect(registered.map((c) => c.command)).toEqual(expect.arrayContaining(['status', 'pause', 'resume', 'kill', 'help']));
    await fake.waitFor(() => fake.messages(OPS_CHAT).find((m) => /^\[SIM\] Started \(sim\)/.test(m.text)), 10_000, 'start-up message');
    for (const m of fake.messages()) expect(m.text.startsWith('[SIM] ')).toBe(true);
  });

  it('answers an authorized /status in HTML, and denies /kill to a viewer', async () => {
    await start();
    const status = await replyTo(OPERATOR, OPERATOR, '/status', /Mode SIM/);
    expect(status.parse_mode).toBe('HTML');
    expect(status.text).toMatch(/^\[SIM\] Mode SIM · state running/);
    const denied = await replyTo(VIEWER, VIEWER, '/kill', /needs the operator role/);
    expect(denied.text).toContain('you are a viewer');
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');
    expect(agent!.audit().filter((r) => r.transport === 'telegram').map((r) => `${r.actor_id}:${r.command}:${r.outcome}`)).toEqual([
      `${OPERATOR}:status:requested`,
      `${OPERATOR}:status:ok`,
      `${VIEWER}:kill:denied`,
    ]);
  });

  it('ignores an unauthorized user, audits the attempt and alerts the operator chat', async () => {
    await start();
    fake.sendText(STRANGER, '/kill');
    const alert = await fake.waitFor(() => fake.messages(OPS_CHAT).find((m) => /Unauthorized telegram user 3003/.test(m.text)), 10_000, 'alert');
    expect(alert.text).toMatch(/^\[SIM\] Unauthorized telegram user 3003 in chat 3003 tried "\/kill"\. Ignored\./);
    expect(fake.messages(STRANGER)).toEqual([]);
    expect(agent!.audit().find((r) => r.actor_id === String(STRANGER))).toMatchObject({ command: 'kill', outcome: 'unauthorized' });
    // A listed operator writing from an unknown group is a stranger there too.
    fake.sendText(OPERATOR, '/status', -999);
    await fake.waitFor(() => fake.messages(OPS_CHAT).find((m) => /in chat -999/.test(m.text)), 10_000, 'alert for the unknown group');
    expect(fake.messages(-999)).toEqual([]);
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');
  });

  it('/kill needs the inline confirmation from the same operator; other users are refused', async () => {
    await start();
    const prompt = await replyTo(OPS_CHAT, OPERATOR, '/kill', /KILL: halt trading/);
    const keyboard = (prompt.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> }).inline_keyboard[0]!;
    expect(keyboard.map((b) => b.text)).toEqual(['Confirm', 'Cancel']);
    const confirm = keyboard[0]!.callback_data;

    const viewerPress = fake.pressButton(VIEWER, confirm, OPS_CHAT);
    await fake.waitFor(() => fake.calls.find((c) => c.method === 'answerCallbackQuery' && c.params.callback_query_id === viewerPress), 10_000, 'viewer press answered');
    await fake.waitFor(() => fake.messages(OPS_CHAT).find((m) => /belongs to someone else/.test(m.text)), 10_000, 'refusal');
    const strangerPress = fake.pressButton(STRANGER, confirm, OPS_CHAT);
    await fake.waitFor(() => fake.calls.find((c) => c.method === 'answerCallbackQuery' && c.params.callback_query_id === strangerPress), 10_000, 'stranger press answered');
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');

    const press = fake.pressButton(OPERATOR, confirm, OPS_CHAT);
    const report = await fake.waitFor(() => fake.messages(OPS_CHAT).find((m) => /^\[SIM\] HALTED\./.test(m.text)), 15_000, 'kill report');
    expect(report.text).toMatch(/Flat: no positions remain\.|No positions to close\./);
    expect(fake.calls.some((c) => c.method === 'answerCallbackQuery' && c.params.callback_query_id === press)).toBe(true);
    expect(agent!.engine.status().risk.state).toBe('HALTED');
    expect(agent!.engine.status().positions).toEqual([]);

    // The token is single use.
    fake.pressButton(OPERATOR, confirm, OPS_CHAT);
    await fake.waitFor(() => fake.messages(OPS_CHAT).find((m) => /unknown or expired/.test(m.text)), 10_000, 'reuse refused');
  });

  it('an expired confirmation does nothing', async () => {
    await start(5);
    const prompt = await replyTo(OPERATOR, OPERATOR, '/kill', /KILL/);
    const confirm = (prompt.reply_markup as { inline_keyboard: Array<Array<{ callback_data: string }>> }).inline_keyboard[0]![0]!.callback_data;
    await new Promise((r) => setTimeout(r, 5_200));
    fake.pressButton(OPERATOR, confirm);
    await fake.waitFor(() => fake.messages(OPERATOR).find((m) => /unknown or expired/.test(m.text)), 10_000, 'expiry refusal');
    expect(agent!.engine.status().risk.state).toBe('ACTIVE');
    expect(agent!.audit().some((r) => r.command === 'kill' && r.outcome === 'expired')).toBe(true);
  });

  it('honours 429 retry_after before sending again', async () => {
    await start();
    fake.failWith429(2, 'sendMessage', 1, OPERATOR);
    const before = fake.calls.length;
    const reply = await replyTo(OPERATOR, OPERATOR, '/status', /Mode SIM/);
    const failed = fake.calls.slice(before).find((c) => c.method === 'sendMessage:failed')!;
    expect(failed.params.chat_id).toBe(OPERATOR);
    expect(failed.params.text).toBe(reply.text);
    expect(reply.at - failed.at).toBeGreaterThanOrEqual(1_950);
  });

  it('keeps trading while Telegram is down, then delivers every queued message in priority order', async () => {
    const a = await start();
    await fake.waitFor(() => fake.messages(OPS_CHAT).find((m) => /Started/.test(m.text)), 10_000, 'start-up message');
    fake.setDown(true);
    const barsAtOutage = a.engine.status().health.barsProcessed;
    const sentAtOutage = fake.messages(OPS_CHAT).length;
    // Trades and a state change queue up; then the kill, which must jump the queue when Telegram returns.
    a.console.send('/pause');
    await until(() => a.engine.status().health.barsProcessed >= barsAtOutage + 40, 'engine keeps processing bars during the outage');
    a.console.send('/kill');
    const token = (await until(() => a.console.output().match(/\/confirm ([0-9a-f]{8})/), 'console kill prompt'))[1]!;
    a.console.send(`/confirm ${token}`);
    await until(() => a.engine.status().risk.state === 'HALTED', 'halted');
    expect(fake.messages(OPS_CHAT).length).toBe(sentAtOutage);

    fake.setDown(false);
    const delivered = await fake.waitFor(() => {
      const after = fake.messages(OPS_CHAT).slice(sentAtOutage);
      return after.some((m) => /Paused by console:local/.test(m.text)) && after.some((m) => /KILL by/.test(m.text)) ? after : undefined;
    }, 90_000, 'queued messages after recovery');
    // Queued messages may be combined into fewer sends; read them as one stream, in delivery order.
    const stream = delivered.map((m) => m.text).join('\n');
    const kill = stream.indexOf('[SIM] KILL by console:local');
    const pause = stream.indexOf('[SIM] Paused by console:local');
    expect(kill).toBeGreaterThanOrEqual(0);
    expect(kill).toBeLessThan(pause); // priority 0 before priority 1, though written later
    // Every queued line kept its mode tag, and the trades made during the outage all arrived.
    for (const line of stream.split('\n')) expect(line).toMatch(/^\[SIM\] /);
    expect(stream).toMatch(/\[SIM\] (BUY|SELL) /);
  }, 120_000);
});
