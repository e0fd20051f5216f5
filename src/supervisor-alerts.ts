/**
 * The supervisor's own alerts, for when the agent (and so its notifier and outbox) is down: one plain HTTP
 * request per chat service, no grammY or discord.js, no retries, no outbox. A failure is logged, never thrown:
 * an unreachable Telegram must not stop the supervisor from restarting the agent.
 */
import type { TransportEnv } from './config.js';
import type { Logger } from './logger.js';

type Fetch = typeof fetch;

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  body(text: string): unknown;
}

/** Telegram and Discord refuse longer messages. */
const TELEGRAM_LIMIT = 4_096;
const DISCORD_LIMIT = 2_000;

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** Sends "[SIM] text" (the agent's mode tag) to TELEGRAM_CHAT_ID and DISCORD_CHANNEL_ID, where configured. */
export class DirectAlerts {
  private readonly targets: Target[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(
    env: TransportEnv,
    private readonly tag: string,
    private readonly log: Pick<Logger, 'warn' | 'info'>,
    private readonly options: { readonly fetch?: Fetch; readonly timeoutMs?: number } = {},
  ) {
    if (env.TELEGRAM_BOT_TOKEN && env.TELEGRAM_CHAT_ID) {
      const chatId = env.TELEGRAM_CHAT_ID;
      this.targets.push({
        name: 'telegram',
        url: `${env.TELEGRAM_API_ROOT.replace(/\/$/, '')}/bot${env.TELEGRAM_BOT_TOKEN}/sendMessage`,
        headers: { 'content-type': 'application/json' },
        body: (text) => ({ chat_id: chatId, text: clip(text, TELEGRAM_LIMIT) }),
      });
    }
    if (env.DISCORD_BOT_TOKEN && env.DISCORD_CHANNEL_ID) {
      // DISCORD_API_BASE is discord.js's `rest.api` (https://discord.com/api), to which it appends the version.
      this.targets.push({
        name: 'discord',
        url: `${env.DISCORD_API_BASE.replace(/\/$/, '')}/v10/channels/${env.DISCORD_CHANNEL_ID}/messages`,
        headers: { 'content-type': 'application/json', authorization: `Bot ${env.DISCORD_BOT_TOKEN}` },
        body: (text) => ({ content: clip(text, DISCORD_LIMIT) }),
      });
    }
  }

  /** the chat services alerts go to */
  get channels(): readonly string[] {
    return this.targets.map((t) => t.name);
  }

  /** Sends to every configured service at once; resolves when all have answered, failed or timed out. */
  send(text: string): Promise<void> {
    const message = `${this.tag} ${text}`;
    this.log.info({ alert: message, channels: this.channels }, 'supervisor alert');
    const sending = Promise.all(this.targets.map((t) => this.post(t, message))).then(() => undefined);
    this.pending.add(sending);
    void sending.finally(() => this.pending.delete(sending));
    return sending;
  }

  /** Resolves once every alert sent so far is done (the supervisor waits for this before it exits). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async post(target: Target, text: string): Promise<void> {
    const doFetch = this.options.fetch ?? fetch;
    try {
      const response = await doFetch(target.url, {
        method: 'POST',
        headers: target.headers,
        body: JSON.stringify(target.body(text)),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      if (!response.ok) {
        const detail = (await response.text().catch(() => '')).slice(0, 200);
        this.log.warn({ channel: target.name, status: response.status, detail }, 'supervisor alert refused');
      }
    } catch (error) {
      // The URL carries the Telegram token: log the service's name and the error, never the URL.
      this.log.warn({ channel: target.name, error: error instanceof Error ? error.message : String(error) }, 'supervisor alert not delivered');
    }
  }
}
