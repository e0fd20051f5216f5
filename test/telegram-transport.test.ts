/** The Telegram transport alone (real grammY against the fake Bot API): long replies and duplicate pollers. */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RoleDirectory } from '../bot/auth.js';
import { CommandCore } from '../bot/dispatch.js';
import { defineCommand } from '../bot/registry.js';
import { TelegramConflictError, TelegramTransport } from '../bot/telegram.js';
import type { EngineApi } from '../engine/api.js';
import { createLogger } from '../src/logger.js';
import { SqliteAuditLog } from '../src/store/audit.js';
import { openDatabase } from '../src/store/database.js';
import { FakeTelegram } from './fakes/telegram-api.js';

const OPERATOR = 4242;
// Markup-significant characters on purpose: escaping must never be cut in half by a split.
const LONG = Array.from({ length: 250 }, (_, i) => `row ${String(i).padStart(3, '0')}: <BTC/USD> & "ETH" ${'∑'.repeat(i % 7)}`).join('\n').padEnd(10_000, '~');

let fake: FakeTelegram;
const transports: TelegramTransport[] = [];

beforeEach(async () => {
  fake = new FakeTelegram();
  await fake.start();
});

afterEach(async () => {
  for (const t of transports.splice(0)) await t.stop();
  await fake.stop();
});

function transport(): TelegramTransport {
  const commands = [defineCommand({ name: 'long', description: 'a very long reply', role: 'viewer', params: [], run: () => ({ text: LONG }) })];
  // The command never touches the engine; the core only passes it through.
  const core = new CommandCore({} as EngineApi, commands, new SqliteAuditLog(openDatabase(':memory:')), { notify: () => undefined }, { confirmTtlMs: 60_000 });
  const t = new TelegramTransport(core, { notify: () => undefined }, {
    token: fake.token,
    apiRoot: fake.apiRoot,
    chatId: undefined,
    roles: new RoleDirectory(new Set([String(OPERATOR)]), new Set()),
    tag: '[SIM]',
    pollTimeoutSeconds: 1,
    log: createLogger('fatal', new PassThrough()),
  });
  transports.push(t);
  return t;
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

describe('Telegram transport', () => {
  it('splits a 10,000-character reply into HTML messages of at most 4096 characters, in order, losing nothing', async () => {
    await transport().start();
    fake.sendText(OPERATOR, '/long');
    const parts = await fake.waitFor(() => {
      const sent = fake.messages(OPERATOR);
      return sent.map((m) => unescape(m.text)).join('\n').replace(/\n/g, '').length >= `[SIM] ${LONG}`.replace(/\n/g, '').length - 5 ? sent : undefined;
    }, 15_000, 'all parts');
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const p of parts) {
      expect(p.text.length).toBeLessThanOrEqual(4096);
      expect(p.parse_mode).toBe('HTML');
      expect(p.text).not.toMatch(/&(?!(lt|gt|amp);)/); // every & starts a whole entity
    }
    const strip = (s: string) => s.replace(/[\n ]/g, '');
    expect(strip(parts.map((p) => unescape(p.text)).join(''))).toBe(strip(`[SIM] ${LONG}`));
  });

  it('refuses to start beside another poller of the same token; the first keeps working', async () => {
    const first = transport();
    await first.start();
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'setMyCommands'), 5_000, 'first started');
    await expect(transport().start()).rejects.toThrow(TelegramConflictError);
    transports.pop(); // never started
    const before = fake.messages(OPERATOR).length;
    fake.sendText(OPERATOR, '/long');
    await fake.waitFor(() => fake.messages(OPERATOR).length > before, 15_000, 'first still answers');
  });
});
