/**
 * Telegram transport (grammY): long polling with @grammyjs/runner, bounded auto-retry and a throttler on every
 * API call, HTML replies split at 4096 characters, inline-keyboard confirmations. It turns updates into
 * Invocations for the command core and renders Replies; it decides nothing itself.
 */
import { autoRetry } from '@grammyjs/auto-retry';
import { run, type RunnerHandle } from '@grammyjs/runner';
import { apiThrottler } from '@grammyjs/transformer-throttler';
import { Bot, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import type { NotificationImage, Notifier } from '../engine/ports.js';
import type { RoleDirectory } from './auth.js';
import type { CommandCore } from './dispatch.js';
import type { Channel } from './notifier.js';
import type { Actor, Reply } from './registry.js';
import { escapeHtml, splitForLimit } from './render.js';

export const TELEGRAM_LIMIT = 4096;
/** Telegram's photo caption limit */
const CAPTION_LIMIT = 1024;
/** a streamed reply is edited at most this often (Telegram rate-limits edits) */
const EDIT_EVERY_MS = 1_500;

export interface TelegramOptions {
  readonly token: string;
  readonly apiRoot: string;
  /** where alerts and digests go, and the one group chat commands are accepted from */
  readonly chatId: string | undefined;
  readonly roles: RoleDirectory;
  /** "[SIM]" etc., prefixed to every reply */
  readonly tag: string;
  /** long-poll timeout in seconds */
  readonly pollTimeoutSeconds?: number;
  readonly log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/** Another process polls the same bot token: two pollers silently steal each other's updates. */
export class TelegramConflictError extends Error {}

export class TelegramTransport implements Channel {
  readonly name = 'telegram';
  readonly batchChars = 3_500;
  readonly quiet = true;
  readonly bot: Bot;
  private runner: RunnerHandle | undefined;
  private isStopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly core: CommandCore,
    private readonly alerts: Notifier,
    private readonly opts: TelegramOptions,
  ) {
    this.bot = new Bot(opts.token, { client: { apiRoot: opts.apiRoot } });
    // The throttler paces requests; auto-retry honours 429 retry_after and retries 5xx a bounded number of
    // times. Network errors fail fast instead: the outbox retries them, always highest priority first, so a
    // message stuck in a long retry cannot overtake a kill alert written after it.
    this.bot.api.config.use(apiThrottler());
    this.bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: true }));
    this.bot.on('message:text', async (ctx) => {
      const actor = this.actorFor(ctx.from.id, ctx.chat.id, ctx.chat.type);
      const reply = await this.core.handle({ actor, text: ctx.message.text });
      if (reply) await this.reply(ctx.chat.id, reply);
    });
    this.bot.on('callback_query:data', async (ctx) => {
      let answered = false;
      try {
        const [kind, token = ''] = ctx.callbackQuery.data.split(':');
        const chat = ctx.callbackQuery.message?.chat;
        const actor = this.actorFor(ctx.from.id, chat?.id ?? ctx.from.id, chat?.type ?? 'private');
        const reply = kind === 'c' ? await this.core.confirm(token, actor) : await this.core.cancel(token, actor);
        await ctx.answerCallbackQuery(reply ? { text: reply.text.slice(0, 180) } : {});
        answered = true;
        if (reply && chat) await this.reply(chat.id, reply);
      } finally {
        // A callback query is always answered, or the user's button spins forever.
        if (!answered) await ctx.answerCallbackQuery().catch(() => undefined);
      }
    });
    this.bot.catch((err) => this.opts.log.error({ err: err.error, update: err.ctx.update.update_id }, 'telegram update handler failed'));
  }

  /**
   * Check the token, refuse to run beside another poller of the same token, register the commands, and start
   * polling. Throws TelegramConflictError when another instance is polling.
   */
  get stopped(): boolean {
    return this.isStopped;
  }

  async start(): Promise<void> {
    if (this.isStopped) throw new Error('the Telegram transport was stopped');
    await this.bot.init();
    try {
      // Never passes an offset, so it confirms (and loses) no update.
      await this.bot.api.getUpdates({ timeout: 2, limit: 1 });
    } catch (error) {
      if (error instanceof GrammyError && error.error_code === 409) {
        throw new TelegramConflictError('another process is already polling this Telegram bot token (409 Conflict). Stop it first: two pollers steal each other\'s updates.');
      }
      throw error;
    }
    await this.bot.api.setMyCommands(this.core.commands.map((c) => ({ command: c.name, description: c.description.slice(0, 256) })));
    if (this.opts.roles.isEmpty) {
      this.opts.log.warn({}, 'Telegram: TELEGRAM_OPERATORS and TELEGRAM_VIEWERS are empty, so nobody may use commands. Set them to numeric user ids (ask @userinfobot for yours).');
    }
    this.loop = this.pollLoop();
  }

  async stop(): Promise<void> {
    this.isStopped = true;
    await this.runner?.stop();
    await this.loop;
  }

  /** Alerts and digests: to TELEGRAM_CHAT_ID. Throws when Telegram is unreachable, so the outbox retries. */
  async send(text: string, image?: NotificationImage): Promise<void> {
    if (!this.opts.chatId) return;
    // the text already starts with the mode tag; the caption gets its first line
    if (image) await this.bot.api.sendPhoto(this.opts.chatId, new InputFile(image.png, image.filename), { caption: escapeHtml(text.split('\n')[0]!.slice(0, CAPTION_LIMIT)), parse_mode: 'HTML' });
    for (const chunk of splitForLimit(text, TELEGRAM_LIMIT, escapeHtml)) {
      await this.bot.api.sendMessage(this.opts.chatId, escapeHtml(chunk), { parse_mode: 'HTML' });
    }
  }

  private async pollLoop(): Promise<void> {
    while (!this.isStopped) {
      this.runner = run(this.bot, {
        runner: { silent: true, fetch: { timeout: this.opts.pollTimeoutSeconds ?? 30, allowed_updates: ['message', 'callback_query'] } },
      });
      try {
        await this.runner.task();
      } catch (error) {
        if (this.isStopped) break;
        if (error instanceof GrammyError && error.error_code === 409) {
          // Re-poll at once so a newly started duplicate sees the conflict and refuses to start.
          this.alerts.notify('critical', 'Another process polled this Telegram bot token. If this repeats, two instances are running: stop one.');
          await delay(100);
        } else if (error instanceof GrammyError && error.error_code === 401) {
          this.alerts.notify('critical', 'Telegram rejected the bot token (401). Telegram control is off; trading continues.');
          return;
        } else {
          this.opts.log.warn({ err: error }, 'telegram polling stopped; restarting in 5 s');
          await delay(5_000);
        }
      }
    }
  }

  private actorFor(userId: number, chatId: number, chatType: string): Actor {
    const id = String(userId);
    const chat = String(chatId);
    const allowedChat = chat === this.opts.chatId || (chatType === 'private' && chatId === userId);
    return { transport: 'telegram', id, chatId: chat, role: allowedChat ? this.opts.roles.roleOf(id) : null };
  }

  private async reply(chatId: number, reply: Reply): Promise<void> {
    if (reply.image) await this.sendPhoto(chatId, reply.image.png, reply.image.filename, reply.text.split('\n')[0]!);
    if (reply.stream) return this.streamReply(chatId, reply);
    await this.sendText(chatId, reply.text, reply.confirmToken);
  }

  /** A photo with a one-line caption; the full text follows as its own message. */
  private async sendPhoto(chatId: number | string, png: Uint8Array, filename: string, caption: string): Promise<void> {
    const text = `${this.opts.tag} ${caption}`.slice(0, CAPTION_LIMIT);
    await this.bot.api.sendPhoto(chatId, new InputFile(png, filename), { caption: escapeHtml(text), parse_mode: 'HTML' });
  }

  /** Send `text` first, edit it as the answer grows (at most every 1.5 s), then edit in the final answer. */
  private async streamReply(chatId: number, reply: Reply): Promise<void> {
    const first = await this.bot.api.sendMessage(chatId, escapeHtml(`${this.opts.tag} ${reply.text}`), { parse_mode: 'HTML' });
    let shown = reply.text;
    let lastEdit = 0;
    let editing: Promise<unknown> = Promise.resolve();
    const edit = (text: string) => {
      const chunk = splitForLimit(`${this.opts.tag} ${text}`, TELEGRAM_LIMIT, escapeHtml)[0]!;
      editing = editing
        .then(() => this.bot.api.editMessageText(chatId, first.message_id, escapeHtml(chunk), { parse_mode: 'HTML' }))
        .catch((error: unknown) => this.opts.log.warn({ err: error }, 'telegram: could not edit a streamed reply'));
    };
    const final = await reply.stream!((soFar) => {
      const now = Date.now();
      if (soFar === shown || now - lastEdit < EDIT_EVERY_MS) return;
      shown = soFar;
      lastEdit = now;
      edit(soFar);
    });
    await editing;
    const chunks = splitForLimit(`${this.opts.tag} ${final}`, TELEGRAM_LIMIT, escapeHtml);
    if (final !== shown) {
      edit(final);
      await editing;
    }
    // an answer longer than one message continues in new messages
    for (const chunk of chunks.slice(1)) await this.bot.api.sendMessage(chatId, escapeHtml(chunk), { parse_mode: 'HTML' });
  }

  private async sendText(chatId: number, text: string, confirmToken: string | undefined): Promise<void> {
    const chunks = splitForLimit(`${this.opts.tag} ${text}`, TELEGRAM_LIMIT, escapeHtml);
    for (const [i, chunk] of chunks.entries()) {
      const last = i === chunks.length - 1;
      const keyboard = last && confirmToken ? new InlineKeyboard().text('Confirm', `c:${confirmToken}`).text('Cancel', `x:${confirmToken}`) : undefined;
      await this.bot.api.sendMessage(chatId, escapeHtml(chunk), { parse_mode: 'HTML', ...(keyboard ? { reply_markup: keyboard } : {}) });
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
