/**
 * Discord transport (discord.js 14): a gateway Client with the Guilds intent only, slash commands registered
 * in DISCORD_GUILD_ID, replies as embeds split at 2000 characters, button confirmations, and the monitoring
 * feed posted to DISCORD_CHANNEL_ID. It turns interactions into Invocations for the command core and renders
 * Replies; it decides nothing itself.
 */
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  DiscordjsErrorCodes,
  EmbedBuilder,
  Events,
  GatewayIntentBits,
  MessageFlags,
  Routes,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { NotificationImage, Notifier } from '../engine/ports.js';
import type { RoleDirectory } from './auth.js';
import type { CommandCore } from './dispatch.js';
import type { Channel } from './notifier.js';
import type { Actor, CommandDef, Reply } from './registry.js';
import { splitForLimit } from './render.js';

/** Message content is limited to 2000 characters; replies use the same limit per embed (ARCHITECTURE.md §2). */
export const DISCORD_LIMIT = 2_000;
const DESCRIPTION_LIMIT = 100;
/** Gateway close code for a rejected token. */
const AUTHENTICATION_FAILED = 4004;

export interface DiscordOptions {
  readonly token: string;
  /** REST base, e.g. https://discord.com/api; the SDK appends /v10. The gateway URL comes from GET /gateway/bot. */
  readonly apiBase: string;
  /** the feed channel: alerts, trades and digests go here */
  readonly channelId: string | undefined;
  /** where slash commands are registered, and the one guild commands are accepted from */
  readonly guildId: string | undefined;
  readonly roles: RoleDirectory;
  /** "[SIM]" etc., prefixed to every reply */
  readonly tag: string;
  /** how long start() waits for the gateway to be ready */
  readonly readyTimeoutMs?: number;
  readonly log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/** Discord rejected the bot token (401 from REST, or gateway close code 4004). Retrying cannot help. */
export class DiscordAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiscordAuthError';
  }
}

export class DiscordTransport implements Channel {
  readonly name = 'discord';
  /** Combined outbox messages stay under one 2000-character message with room for the "(×n)" suffixes. */
  readonly batchChars = 1_900;
  readonly quiet = true;
  /** The current client; undefined before the first start, after a failed login, and after stop. */
  private client: Client | undefined;
  /** The current client's login: resolves once it is ready, rejects when its login failed. */
  private connecting: Promise<void> | undefined;
  private isStopped = false;
  private warnedRoles = false;

  constructor(
    private readonly core: CommandCore,
    private readonly alerts: Notifier,
    private readonly opts: DiscordOptions,
  ) {}

  get stopped(): boolean {
    return this.isStopped;
  }

  /**
   * Log in and wait (at most readyTimeoutMs) until the gateway is ready with the guild cached; the slash commands
   * are registered on ready. Throws DiscordAuthError for a rejected token; anything else is worth retrying.
   *
   * A client whose gateway is unreachable is never destroyed to retry: discord.js keeps reconnecting it by
   * itself, and calling start() again just waits for it once more. (Destroying a discord.js 14 client while
   * its shard sleeps before a reconnect does not stop the reconnect: the "destroyed" shard comes back and
   * identifies, a second session that could take interactions nobody answers. See stop().) Only a client
   * whose login failed outright (REST unreachable or the token rejected) is replaced by a new one, because
   * discord.js cannot log in again once a client was destroyed.
   */
  async start(): Promise<void> {
    if (this.isStopped) throw new Error('the Discord transport was stopped');
    if (this.opts.roles.isEmpty && !this.warnedRoles) {
      this.warnedRoles = true;
      this.opts.log.warn({}, 'Discord: DISCORD_OPERATORS and DISCORD_VIEWERS are empty, so nobody may use commands. Set them to numeric user ids (Developer Mode → right-click a user → Copy User ID).');
    }
    this.connecting ??= this.connect();
    const timeoutMs = this.opts.readyTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Discord gateway not ready within ${Math.round(timeoutMs / 1000)} s (still trying in the background)`)), timeoutMs);
    });
    try {
      await Promise.race([this.connecting, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Destroys the client. Its handlers are removed too: if discord.js revives a shard destroyed in the middle of
   * a reconnect (see start()), that session reaches none of our code.
   */
  async stop(): Promise<void> {
    this.isStopped = true;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await client.destroy();
    client.removeAllListeners();
    client.on(Events.Error, () => undefined);
  }

  /**
   * Alerts, trades and digests: plain messages (they show in phone notifications) to DISCORD_CHANNEL_ID, split
   * at 2000 characters, with mentions disabled (an alert can quote what a stranger typed). Throws when
   * Discord is unreachable or not logged in, so the outbox keeps the message and retries.
   */
  async send(text: string, image?: NotificationImage): Promise<void> {
    if (!this.opts.channelId) return;
    const client = this.client;
    if (!client?.isReady()) throw new Error('Discord is not connected');
    for (const [i, chunk] of splitForLimit(text, DISCORD_LIMIT).entries()) {
      // a picture rides on the first message
      const files = i === 0 && image ? [{ name: image.filename, data: Buffer.from(image.png) }] : undefined;
      await client.rest.post(Routes.channelMessages(this.opts.channelId), { body: { content: chunk, allowed_mentions: { parse: [] } }, ...(files ? { files } : {}) });
    }
  }

  /** One client's login, through to ready and the command registration. */
  private connect(): Promise<void> {
    const client = this.createClient();
    this.client = client;
    let closeCode: number | undefined;
    client.on(Events.ShardDisconnect, (event) => (closeCode = event.code));
    // login() resolves on READY; clientReady follows once the guild arrived (or after waitGuildTimeout).
    const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
    const attempt = client.login(this.opts.token).then(
      async () => {
        const readyClient = await ready;
        if (this.client === client) await this.registerCommands(readyClient);
      },
      (error: unknown) => {
        // login() has destroyed the client; the next start() makes a new one.
        if (this.client === client) {
          this.client = undefined;
          this.connecting = undefined;
        }
        const code = (error as { code?: unknown }).code;
        if (code === DiscordjsErrorCodes.TokenInvalid || closeCode === AUTHENTICATION_FAILED) {
          throw new DiscordAuthError(`Discord rejected DISCORD_BOT_TOKEN (${closeCode === AUTHENTICATION_FAILED ? 'gateway close 4004 Authentication failed' : '401 Unauthorized'}). Check the bot token in the Developer Portal.`);
        }
        throw error;
      },
    );
    // Nobody may be waiting when it settles (a start() that timed out); the next start() sees the outcome.
    attempt.catch(() => undefined);
    return attempt;
  }

  private createClient(): Client {
    const client = new Client({
      intents: [GatewayIntentBits.Guilds],
      rest: {
        api: this.opts.apiBase,
        // Like Telegram's auto-retry: wait out short rate limits, but hand long ones back to the caller (the
        // outbox retries them in priority order) rather than holding a send for minutes.
        rejectOnRateLimit: (info) => Math.max(info.retryAfter, info.timeToReset) > 60_000,
        retries: 2,
        timeout: 10_000,
      },
      // The READY packet lists our guild; if its GUILD_CREATE never comes, become ready anyway after 5 s.
      waitGuildTimeout: 5_000,
      allowedMentions: { parse: [] },
    });
    client.on(Events.InteractionCreate, (interaction) => {
      this.onInteraction(interaction).catch((error: unknown) => this.opts.log.error({ err: error, interaction: interaction.id }, 'discord interaction handler failed'));
    });
    // Without a listener an 'error' event would crash the process.
    client.on(Events.Error, (error) => this.opts.log.error({ err: error }, 'discord client error'));
    client.on(Events.ShardError, (error) => this.opts.log.warn({ err: error }, 'discord gateway connection error'));
    client.on(Events.ShardDisconnect, (event) => {
      // After ready, a 4004 means the token was revoked; discord.js does not reconnect from it.
      if (event.code === AUTHENTICATION_FAILED && client.readyAt !== null) {
        this.alerts.notify('critical', 'Discord rejected the bot token (gateway close 4004). Discord control is off; trading continues.');
      }
    });
    return client;
  }

  /** Every command in the registry, plus /confirm (the prompts name it), each parameter a STRING option. */
  private async registerCommands(client: Client<true>): Promise<void> {
    if (!this.opts.guildId) {
      this.opts.log.warn({}, 'DISCORD_GUILD_ID is not set: no slash commands are registered and Discord commands are refused (the feed still works)');
      return;
    }
    const commands = this.core.commands.map(toSlashCommand);
    const body = commands.some((c) => c.name === CONFIRM_COMMAND.name) ? commands : [...commands, CONFIRM_COMMAND];
    try {
      await client.application.commands.set(body, this.opts.guildId);
    } catch (error) {
      // Never fatal: the feed works without commands. A 4xx is configuration (wrong guild id, bot not invited
      // with the applications.commands scope, a command Discord refuses) that retrying cannot fix, so the
      // operator is told; otherwise the commands registered by an earlier run stay in effect.
      this.opts.log.error({ err: error }, 'Discord slash commands not registered');
      if (error instanceof DiscordAPIError && error.status < 500) {
        this.alerts.notify('critical', `Discord refused to register the slash commands in guild ${this.opts.guildId} (${error.status}: ${error.message}). Check DISCORD_GUILD_ID and that the bot was invited with the applications.commands scope. The feed still works; Discord commands do not.`);
      }
    }
  }

  private async onInteraction(interaction: Interaction): Promise<void> {
    if (interaction.isChatInputCommand()) return this.onSlashCommand(interaction);
    if (interaction.isButton()) return this.onButton(interaction);
  }

  private async onSlashCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    const actor = this.actorFor(interaction.user.id, interaction.channelId, interaction.guildId);
    const text = [`/${interaction.commandName}`, ...this.argsOf(interaction)].join(' ');
    if (actor.role === null) {
      // Someone on no list: the core audits and alerts; they must see nothing. Discord still needs an
      // acknowledgement within 3 s (else the client shows "The application did not respond", which invites
      // retries). An ephemeral deferral that is deleted at once is the least revealing acknowledgement: only
      // they ever see a brief "thinking…", and no text, not even a refusal, is ever shown to them.
      await this.core.handle({ actor, text });
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await interaction.deleteReply();
      return;
    }
    // Deferring first keeps us inside the 3-second window whatever the command takes (a /kill waits for the
    // broker). The command runs even when the acknowledgement fails: Discord delivered it, only the reply is lost.
    const acked = await interaction.deferReply().then(
      () => true,
      (error: unknown) => (this.opts.log.warn({ err: error }, 'could not acknowledge a Discord command; running it anyway'), false),
    );
    const reply = await this.core.handle({ actor, text });
    if (!acked) return;
    if (!reply) {
      await interaction.deleteReply();
      return;
    }
    if (reply.stream) return this.streamReply(interaction, reply);
    const [first, ...rest] = this.render(reply);
    const files = reply.image ? [new AttachmentBuilder(Buffer.from(reply.image.png), { name: reply.image.filename })] : [];
    await interaction.editReply({ ...first!, files });
    for (const message of rest) await interaction.followUp(message);
  }

  /** Show `text`, edit the reply as the answer grows (at most every 1.5 s), then edit in the final answer. */
  private async streamReply(interaction: ChatInputCommandInteraction, reply: Reply): Promise<void> {
    await interaction.editReply(this.render({ text: reply.text })[0]!);
    let shown = reply.text;
    let lastEdit = 0;
    let editing: Promise<unknown> = Promise.resolve();
    const edit = (text: string) => {
      editing = editing
        .then(() => interaction.editReply(this.render({ text })[0]!))
        .catch((error: unknown) => this.opts.log.warn({ err: error }, 'discord: could not edit a streamed reply'));
    };
    const final = await reply.stream!((soFar) => {
      const now = Date.now();
      if (soFar === shown || now - lastEdit < STREAM_EDIT_MS) return;
      shown = soFar;
      lastEdit = now;
      edit(soFar);
    });
    await editing;
    if (final !== shown) {
      edit(final);
      await editing;
    }
    // an answer longer than one message continues in follow-ups
    for (const message of this.render({ text: final }).slice(1)) await interaction.followUp(message);
  }

  /** Confirm (`c:<token>`) and Cancel (`x:<token>`): always acknowledged, so the button never spins. */
  private async onButton(interaction: ButtonInteraction): Promise<void> {
    // A deferred update changes nothing visible, which is also what someone on no list must get.
    const acked = await interaction.deferUpdate().then(
      () => true,
      (error: unknown) => (this.opts.log.warn({ err: error }, 'could not acknowledge a Discord button press'), false),
    );
    const [kind, token = ''] = interaction.customId.split(':');
    if (kind !== 'c' && kind !== 'x') return;
    const actor = this.actorFor(interaction.user.id, interaction.channelId, interaction.guildId);
    // The presser's own actor: the core refuses anyone but the person who asked.
    const reply = kind === 'c' ? await this.core.confirm(token, actor) : await this.core.cancel(token, actor);
    if (!reply || !acked) return;
    for (const message of this.render(reply)) await interaction.followUp(message);
  }

  /**
   * The options in parameter order, as the words of a text command. Discord lets users skip an optional option
   * and give a later one; the words then shift left and the core's zod parsing reports the mismatch.
   */
  private argsOf(interaction: ChatInputCommandInteraction): string[] {
    const command = this.core.commands.find((c) => c.name === interaction.commandName);
    const params = interaction.commandName === 'confirm' ? CONFIRM_PARAMS : (command?.params.map((p) => p.name) ?? []);
    return params.map((name) => interaction.options.getString(optionName(name))?.trim()).filter((v): v is string => v !== undefined && v !== '');
  }

  private actorFor(userId: string, channelId: string | null, guildId: string | null): Actor {
    // Commands count only in the configured guild; a listed user elsewhere is a stranger there.
    const allowed = this.opts.guildId !== undefined && guildId === this.opts.guildId;
    return { transport: 'discord', id: userId, ...(channelId ? { chatId: channelId } : {}), role: allowed ? this.opts.roles.roleOf(userId) : null };
  }

  /** One embed per 2000-character chunk, one message each; the confirmation buttons go on the last. */
  private render(reply: Reply): Array<{ embeds: EmbedBuilder[]; components: Array<ActionRowBuilder<ButtonBuilder>>; allowedMentions: { parse: [] } }> {
    const chunks = splitForLimit(`${this.opts.tag} ${reply.text}`, DISCORD_LIMIT);
    return chunks.map((chunk, i) => {
      const last = i === chunks.length - 1;
      const buttons =
        last && reply.confirmToken
          ? [
              new ActionRowBuilder<ButtonBuilder>().addComponents(
                new ButtonBuilder().setCustomId(`c:${reply.confirmToken}`).setLabel('Confirm').setStyle(ButtonStyle.Danger),
                new ButtonBuilder().setCustomId(`x:${reply.confirmToken}`).setLabel('Cancel').setStyle(ButtonStyle.Secondary),
              ),
            ]
          : [];
      return { embeds: [new EmbedBuilder().setDescription(chunk)], components: buttons, allowedMentions: { parse: [] } };
    });
  }
}

/** a streamed reply is edited at most this often */
const STREAM_EDIT_MS = 1_500;

const CONFIRM_PARAMS = ['token'];
const CONFIRM_COMMAND: RESTPostAPIChatInputApplicationCommandsJSONBody = {
  name: 'confirm',
  description: 'confirm a pending command with its token (or press its Confirm button)',
  options: [{ type: ApplicationCommandOptionType.String, name: 'token', description: 'the token from the prompt', required: true }],
};

/**
 * A registry command as a CHAT_INPUT command. Discord requires required options before optional ones, so a
 * parameter counts as required only while every parameter before it is required too.
 */
export function toSlashCommand(command: CommandDef): RESTPostAPIChatInputApplicationCommandsJSONBody {
  let allRequired = true;
  return {
    name: command.name,
    description: clip(command.description, DESCRIPTION_LIMIT),
    options: command.params.map((p) => {
      allRequired &&= !p.optional;
      return { type: ApplicationCommandOptionType.String, name: optionName(p.name), description: clip(`${p.optional ? 'optional ' : ''}${p.name}`, DESCRIPTION_LIMIT), required: allRequired };
    }),
  };
}

/** Discord option names are lowercase, 1–32 characters of letters, digits, "-" and "_". */
function optionName(param: string): string {
  return param.toLowerCase().replace(/[^-_\p{L}\p{N}]/gu, '_').slice(0, 32) || 'arg';
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
