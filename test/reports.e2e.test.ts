/**
 * /stats, /digest and /advise through the real agent: the console, Telegram (grammY against the fake Bot API)
 * and Discord (discord.js against the fake gateway and REST), with the advisor talking to the fake Ollama.
 * Charts must arrive as real PNG uploads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDiscord } from './fakes/discord-api.js';
import { FakeOllama } from './fakes/ollama.js';
import { FakeTelegram } from './fakes/telegram-api.js';
import { startTestAgent, until, type TestAgent } from './harness.js';

const OPERATOR = 1001;
const D_OPERATOR = '200000000000000001';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function agentWith(env: Record<string, string>): Promise<TestAgent> {
  const agent = await startTestAgent(env, (c) => ({ ...c, sim: { ...c.sim, barsPerSecond: 50 } }));
  cleanups.push(() => agent.stop('test over'));
  await until(() => agent.engine.status().health.barsProcessed >= 3, 'a few bars');
  return agent;
}

function decodes(png: Buffer): { width: number; height: number } {
  const image = PNG.sync.read(png);
  return { width: image.width, height: image.height };
}

async function ask(agent: TestAgent, line: string, pattern: RegExp): Promise<string> {
  const from = agent.console.output().length;
  agent.console.send(line);
  return (await until(() => agent.console.output().slice(from).match(pattern), `reply to ${line} matching ${pattern}`))[0];
}

describe('reports in the console', () => {
  it('/stats and /digest answer with text and save a chart that decodes; /advise without a model gives the plain summary', async () => {
    const agent = await agentWith({});
    const stats = await ask(agent, '/stats 1d', /\[SIM\][\s\S]*?chart: (\S+\.png)/);
    const statsPng = stats.match(/chart: (\S+\.png)/)![1]!;
    expect(existsSync(statsPng)).toBe(true);
    expect(decodes(readFileSync(statsPng))).toEqual({ width: 800, height: 400 });
    expect(stats).toMatch(/Buy & hold /);

    const digest = await ask(agent, '/digest', /\[SIM\] Daily digest[\s\S]*?chart: (\S+\.png)/);
    expect(digest).toMatch(/Risk: exposure [\d.]+% · largest asset [\s\S]*?VaR 95% 1d/);
    expect(decodes(readFileSync(digest.match(/chart: (\S+\.png)/)![1]!))).toEqual({ width: 1000, height: 700 });

    await ask(agent, '/advise how are we doing?', /\[SIM\] Thinking…[\s\S]*?\(no OLLAMA_MODEL configured; plain summary instead\)/);
    await ask(agent, '/stats yearly', /Bad period "yearly" for \/stats: must be 1d, 7d, 30d or all/);
  });
});

describe('reports on Telegram', () => {
  it('/digest uploads the chart as a photo and sends the text; /advise streams the answer into an edited message', async () => {
    const telegram = new FakeTelegram();
    await telegram.start();
    cleanups.push(() => telegram.stop());
    const ollama = new FakeOllama();
    await ollama.start();
    cleanups.push(() => ollama.stop());
    ollama.streamChunks = ['Equity is ', 'flat this week; ', 'no risk events.'];
    ollama.chunkDelayMs = 40;
    const agent = await agentWith({
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      TELEGRAM_CHAT_ID: '-500',
      TELEGRAM_OPERATORS: String(OPERATOR),
      OLLAMA_HOST: ollama.host,
      OLLAMA_MODEL: 'llama3.2:3b',
    });
    await telegram.waitFor(() => telegram.calls.some((c) => c.method === 'setMyCommands'), 10_000, 'setMyCommands');

    telegram.sendText(OPERATOR, '/digest');
    const photo = await telegram.waitFor(() => telegram.photos(OPERATOR)[0], 15_000, 'the digest photo');
    expect(photo.caption).toMatch(/^\[SIM\] Daily digest/);
    expect(photo.file.filename).toBe('digest.png');
    expect(decodes(photo.file.bytes)).toEqual({ width: 1000, height: 700 });
    const digestText = await telegram.waitFor(() => telegram.messages(OPERATOR).find((m) => /Daily digest/.test(m.text)), 10_000, 'the digest text');
    expect(digestText.text).toMatch(/P&amp;L vs buy &amp; hold:/); // HTML-escaped for Telegram
    expect(digestText.text).toMatch(/Health: /);

    telegram.sendText(OPERATOR, '/advise what is going on');
    await telegram.waitFor(() => telegram.messages(OPERATOR).find((m) => m.text === '[SIM] Thinking…'), 10_000, 'the placeholder');
    const edit = await telegram.waitFor(() => telegram.edits().find((e) => e.text === '[SIM] Equity is flat this week; no risk events.'), 15_000, 'the final edit');
    expect(edit.chat_id).toBe(OPERATOR);
    const chat = ollama.requests.find((r) => r.path === '/api/chat');
    expect(chat?.body).toMatchObject({ model: 'llama3.2:3b', stream: true });

    // what the daily schedule posts: the digest with its chart, to TELEGRAM_CHAT_ID
    const png = readFileSync('docs/sample-digest.png');
    agent.notifier.notify('digest', 'Daily digest (scheduled)', { png, filename: 'digest.png' });
    const posted = await telegram.waitFor(() => telegram.photos(-500)[0], 10_000, 'the scheduled digest photo');
    expect(posted.caption).toBe('[SIM] Daily digest (scheduled)');
    expect(posted.file.bytes.equals(png)).toBe(true);
  });
});

describe('reports on Discord', () => {
  it('/stats attaches the chart to the reply; /advise falls back to the summary when Ollama is down', async () => {
    const discord = new FakeDiscord();
    await discord.start();
    cleanups.push(() => discord.stop());
    const agent = await agentWith({
      DISCORD_BOT_TOKEN: discord.token,
      DISCORD_API_BASE: discord.apiBase,
      DISCORD_CHANNEL_ID: discord.channelId,
      DISCORD_GUILD_ID: discord.guildId,
      DISCORD_OPERATORS: D_OPERATOR,
      OLLAMA_HOST: 'http://127.0.0.1:9', // nothing listens there
      OLLAMA_MODEL: 'llama3.2:3b',
    });
    await discord.waitFor(() => discord.gatewayConnected, 10_000, 'gateway');

    const stats = discord.invokeSlash(D_OPERATOR, 'stats', { period: '1d' });
    const reply = await discord.waitFor(() => discord.visibleReplies(stats).find((m) => m.attachments.length > 0), 15_000, 'the /stats attachment');
    expect(reply.attachments[0]!.filename).toBe('stats-1d.png');
    expect(decodes(reply.attachments[0]!.bytes)).toEqual({ width: 800, height: 400 });
    expect(FakeDiscord.text(reply)).toMatch(/^\[SIM\] /);

    const digest = discord.invokeSlash(D_OPERATOR, 'digest');
    const digestReply = await discord.waitFor(() => discord.visibleReplies(digest).find((m) => m.attachments.length > 0), 15_000, 'the /digest attachment');
    expect(decodes(digestReply.attachments[0]!.bytes)).toEqual({ width: 1000, height: 700 });
    expect(FakeDiscord.text(digestReply)).toMatch(/^\[SIM\] Daily digest/);

    const advise = discord.invokeSlash(D_OPERATOR, 'advise', { question: 'anything to worry about' });
    const answer = await discord.waitFor(() => discord.visibleReplies(advise).find((m) => /Ollama unreachable/.test(FakeDiscord.text(m))), 20_000, 'the fallback answer');
    expect(FakeDiscord.text(answer)).toMatch(/^\[SIM\] /);

    // what the daily schedule posts to the feed channel: text with the chart attached
    const png = readFileSync('docs/sample-digest.png');
    agent.notifier.notify('digest', 'Daily digest (scheduled)', { png, filename: 'digest.png' });
    const posted = await discord.waitFor(() => discord.channelMessages().find((m) => m.attachments.length > 0), 10_000, 'the scheduled digest in the feed');
    expect(posted.content).toBe('[SIM] Daily digest (scheduled)');
    expect(posted.attachments[0]!.bytes.equals(png)).toBe(true);
  });
});
