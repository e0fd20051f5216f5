/**
 * The agent: SQLite, the notifier, the command core and its transports around one running market (sim, or
 * Alpaca paper/live). Everything it needs to continue after a restart is in SQLite.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { NotificationImage } from '../engine/ports.js';
import { ConsoleTransport } from '../bot/console.js';
import { buildCommands } from '../bot/commands.js';
import { CommandCore } from '../bot/dispatch.js';
import { OutboxNotifier, quietHours } from '../bot/notifier.js';
import type { EngineApi } from '../engine/api.js';
import { RoleDirectory } from '../bot/auth.js';
// Chat services, Alpaca and the ONNX runtime are imported only when configured (about 90 MB the default sim
// agent does not need): see startTelegram, startDiscord, assemble and openModelSet.
import type { TelegramTransport } from '../bot/telegram.js';
import type { DiscordTransport } from '../bot/discord.js';
import type { HotModelSource } from '../engine/ensemble/source.js';
import { ConfigError, modeTag, type Config, type ResolvedMode, type TransportEnv } from './config.js';
import { acquireInstanceLock } from './instance-lock.js';
import type { MarketContext, RunningMarket } from './market.js';
import { createSimMarket } from './sim-market.js';
import type { RestartInfo } from './heartbeat.js';
import { OperatorReports } from './operator-reports.js';
import { scheduleReports } from './report-schedule.js';
import type { Logger } from './logger.js';
import { HealthMonitor, renderHealth, summarizeHealth } from './health.js';
import { startHttpServer, type RunningHttpServer } from './http-server.js';
import { AgentMetrics } from './metrics.js';
import { SqliteAuditLog } from './store/audit.js';
import { scheduleMaintenance } from './store/maintenance.js';
import { openDatabase } from './store/database.js';
import { SqliteOutbox } from './store/outbox.js';
import { SqliteJournal, SqliteStateStore } from './store/sqlite-journal.js';

export interface RunningAgent {
  /** Stop trading, flush messages, close the database. Safe to call twice. */
  stop(reason: string): Promise<void>;
  readonly engine: EngineApi;
  readonly notifier: OutboxNotifier;
  /** resolves with the reason if the market loop stopped on an error: the agent still answers, but trades no more */
  readonly marketFailed: Promise<string>;
}

export interface AgentIo {
  readonly input: Readable;
  readonly output: Writable;
  readonly transports: TransportEnv;
  /** where Alpaca keys and URL overrides are read from (default process.env) */
  readonly env?: NodeJS.ProcessEnv;
  /** set when the supervisor restarted this agent after a crash (src/heartbeat.ts) */
  readonly restart?: RestartInfo;
}

/** What has been started so far, so a failed start can undo it. */
interface StartedParts {
  models?: HotModelSource;
  notifier?: OutboxNotifier;
  market?: RunningMarket;
  telegram?: TelegramTransport;
  discord?: DiscordTransport;
  monitor?: HealthMonitor;
  http?: RunningHttpServer;
}

export async function startAgent(config: Config, mode: ResolvedMode, io: AgentIo, log: Logger): Promise<RunningAgent> {
  const releaseLock = acquireInstanceLock(config.store.path);
  try {
    return await startLocked(config, mode, io, log, releaseLock);
  } catch (error) {
    releaseLock();
    throw error;
  }
}

async function startLocked(config: Config, mode: ResolvedMode, io: AgentIo, log: Logger, releaseLock: () => void): Promise<RunningAgent> {
  const db = openDatabase(config.store.path);
  const parts: StartedParts = {};
  try {
    return await assemble(config, mode, io, log, releaseLock, db, parts);
  } catch (error) {
    // A failed start leaves nothing running: no feed, no poller, no open database.
    parts.monitor?.stop();
    await parts.http?.close();
    await parts.market?.stop().catch(() => undefined);
    await parts.models?.close();
    parts.notifier?.close();
    await parts.telegram?.stop();
    await parts.discord?.stop();
    db.close();
    throw error;
  }
}

async function assemble(
  config: Config,
  mode: ResolvedMode,
  io: AgentIo,
  log: Logger,
  releaseLock: () => void,
  db: ReturnType<typeof openDatabase>,
  parts: StartedParts,
): Promise<RunningAgent> {
  // Commands are known once built; until then (and for anything an unauthorized sender types) the name is "other".
  let commandNames = new Set<string>();
  const metrics = new AgentMetrics((name) => commandNames.has(name));
  const journal = metrics.watchJournal(new SqliteJournal(db, Date.now, mode));
  const state = new SqliteStateStore(db);
  const tag = modeTag(mode);
  const r = config.reports;
  const notifier = (parts.notifier = new OutboxNotifier(new SqliteOutbox(db), tag, Date.now, {
    kinds: { telegram: r.verbosity.telegram, discord: r.verbosity.discord },
    isQuiet: quietHours(r.quietHours.start, r.quietHours.end, r.timezone),
  }));
  const models = config.strategy.name === 'ensemble' ? await openModelSet(config.strategy.ensemble.modelsDir, notifier) : undefined;
  parts.models = models;
  const context: MarketContext = { config, mode, journal, state, notifier, log, env: io.env ?? process.env, ...(models ? { models } : {}) };

  const market = mode === 'sim' ? createSimMarket(context) : await (await import('./alpaca-market.js')).createAlpacaMarket(context);
  parts.market = market;
  const { engine } = market;

  const audit = new SqliteAuditLog(db);
  const monitor = (parts.monitor = new HealthMonitor(config.health, {
    dbPath: config.store.path,
    engine,
    feed: () => market.feedState(),
    breakers: () => market.breakers(),
    // The console is this process's own stdout: it cannot fail the way a chat service does.
    channels: () => notifier.channelStates().filter((c) => c.channel !== 'console'),
    ...(config.health.checkOllama ? { ollamaHost: (io.env ?? process.env).OLLAMA_HOST || 'http://127.0.0.1:11434' } : {}),
    alert: (kind, text) => notifier.notify(kind, text),
  }));
  const health = () => {
    const report = monitor.current();
    return [report ? renderHealth(report) : 'Health: first check not finished yet', `Channels: ${notifier.describe()}`, `Market: ${market.health()}`].join('\n');
  };
  const healthSummary = () => {
    const report = monitor.current();
    return report ? summarizeHealth(report) : 'first check not finished yet';
  };
  const reports = new OperatorReports({ db, engine, config, mode, health: () => `${healthSummary()}; ${notifier.describe()}`, env: io.env ?? process.env, log });
  const commands = buildCommands({ recentAudit: (n) => audit.recent(n), health, healthSummary, reports });
  commandNames = new Set(commands.map((c) => c.name));
  metrics.bind({ engine, queues: () => notifier.channelStates(), breakers: () => market.breakers(), restarts: io.restart?.count ?? 0 });
  const core = new CommandCore(engine, commands, metrics.watchAudit(audit), notifier, { confirmTtlMs: config.commands.confirmTtlSeconds * 1000 });
  const chat = new ConsoleTransport(core, tag, io.input, io.output, (image) => saveChart(config.store.path, image));
  notifier.addChannel(chat);
  const telegram = (parts.telegram = io.transports.TELEGRAM_BOT_TOKEN ? await startTelegram(io.transports, core, notifier, tag, log) : undefined);
  const discord = (parts.discord = io.transports.DISCORD_BOT_TOKEN ? await startDiscord(io.transports, core, notifier, tag, log) : undefined);

  await market.begin();
  monitor.start();
  const http = (parts.http = await startHealthHttp(config, monitor, metrics, notifier, log));
  if (io.restart) announceRestart(notifier, engine, io.restart);
  // Digests go to every channel that takes them (Telegram's TELEGRAM_CHAT_ID, the Discord feed, the console).
  const post = (report: { text: string; image?: NotificationImage }) => notifier.notify('digest', report.text, report.image);
  const schedule = scheduleReports(
    { daily: r.dailyCron, weekly: r.weeklyCron, timezone: r.timezone },
    { daily: () => post(reports.digest()), weekly: () => post(reports.weekly()) },
    (job, error) => {
      log.error({ err: error, job }, 'scheduled report failed');
      notifier.notify('critical', `The ${job} report failed: ${error instanceof Error ? error.message : String(error)}`);
    },
  );
  // Nightly: an online backup, then sim/paper decisions past the retention archived to Parquet and pruned.
  const maintenance = scheduleMaintenance(
    config,
    { db, log },
    (summary) => {
      log.info({ summary: summary.text }, 'nightly maintenance');
      notifier.notify(summary.ok ? 'info' : 'critical', `Nightly maintenance${summary.ok ? '' : ' had a problem'}: ${summary.text}`);
    },
    (error) => {
      log.error({ err: error }, 'nightly maintenance failed');
      notifier.notify('critical', `Nightly maintenance failed: ${error instanceof Error ? error.message : String(error)}. The journal is untouched.`);
    },
  );
  log.info({ mode, db: config.store.path, nextDigest: schedule.next(), nextMaintenance: maintenance.next() }, 'agent started');

  let stopped: Promise<void> | undefined;
  const stop = (reason: string) =>
    (stopped ??= (async () => {
      await schedule.stop();
      await maintenance.stop();
      monitor.stop();
      await http?.close();
      await market.stop();
      await models?.close();
      await engine.drain();
      notifier.notify('state', `Stopped (${reason}). State ${engine.status().risk.state} is saved and will be restored at the next start.`);
      // A dead chat service must not hold the shutdown: what is not delivered in 5 s waits in the outbox.
      await Promise.race([notifier.flush(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      notifier.close();
      await telegram?.stop();
      await discord?.stop();
      chat.stop();
      db.close();
      releaseLock();
      log.info({ reason }, 'agent stopped');
    })());

  chat.start({
    onEnd: () => log.info('console input closed; the agent keeps running (Ctrl-C or SIGTERM stops it)'),
  });
  return { stop, engine, notifier, marketFailed: market.failed };
}

/** After a crash the engine has reconciled and restored its risk state; the operator hears what it came back in. */
function announceRestart(notifier: OutboxNotifier, engine: EngineApi, restart: RestartInfo): void {
  const risk = engine.status().risk;
  const active = risk.state === 'ACTIVE';
  // As the engine's "Started" message: critical unless ACTIVE, and then its reason ("first start") says nothing.
  notifier.notify(active ? 'state' : 'critical', `Restarted after crash (${restart.reason}), state: ${risk.state}${active ? '' : ` (${risk.reason})`}.`);
}

/**
 * GET /healthz and /metrics (CE_HTTP_PORT, 0 = off). A port that cannot be bound does not stop trading — the
 * agent is more useful running unobserved than not running — but the operator is told at once.
 */
async function startHealthHttp(config: Config, monitor: HealthMonitor, metrics: AgentMetrics, notifier: OutboxNotifier, log: Logger): Promise<RunningHttpServer | undefined> {
  const { host, port } = config.http;
  if (port === 0) return undefined;
  try {
    const server = await startHttpServer(host, port, { health: () => monitor.latest(), metrics: () => metrics.metrics(), metricsContentType: metrics.contentType });
    log.info({ url: `http://${host}:${server.port}` }, 'health and metrics at /healthz and /metrics');
    return server;
  } catch (error) {
    log.error({ err: error, host, port }, 'health and metrics HTTP could not start');
    notifier.notify('critical', `Health and metrics HTTP could not listen on ${host}:${port} (${error instanceof Error ? error.message : String(error)}). Trading continues; /health still works. Set CE_HTTP_PORT to a free port, or 0 to turn it off.`);
    return undefined;
  }
}

/**
 * The ensemble's model set: loaded before trading, then reloaded whenever models/manifest.json changes. A set
 * that cannot be loaded at start stops start-up (an ensemble without models cannot trade); a refused reload is a
 * critical alert and the running set stays.
 */
async function openModelSet(modelsDir: string, notifier: OutboxNotifier): Promise<HotModelSource> {
  const { HotModelSource } = await import('../engine/ensemble/source.js');
  const source = new HotModelSource(modelsDir, {
    loaded: (set, first) => {
      if (!first) notifier.notify('state', `Model set reloaded: ${set.manifest.models.length} models deployed ${set.manifest.createdAt}.`);
    },
    refused: (reason) => notifier.notify('critical', `Model set refused: ${reason}. The set in use stays.`),
  });
  await source.ready();
  if (!source.current()) throw new ConfigError(`the ensemble strategy has no model set: ${source.problem}`);
  source.watch();
  return source;
}

/** Charts shown in the console are saved beside the database (charts/), where the operator can open them. */
function saveChart(dbPath: string, image: NotificationImage): string {
  const dir = join(dirname(resolve(dbPath)), 'charts');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, image.filename);
  writeFileSync(file, image.png);
  return file;
}

/**
 * Telegram is optional equipment: an unreachable Telegram never stops trading (its messages wait in the
 * outbox), but a rejected token or a second poller on the same token stops start-up with a clear message.
 */
async function startTelegram(env: TransportEnv, core: CommandCore, notifier: OutboxNotifier, tag: string, log: Logger): Promise<TelegramTransport> {
  const { TelegramConflictError, TelegramTransport } = await import('../bot/telegram.js');
  const { GrammyError } = await import('grammy');
  const telegram = new TelegramTransport(core, notifier, {
    token: env.TELEGRAM_BOT_TOKEN!,
    apiRoot: env.TELEGRAM_API_ROOT,
    chatId: env.TELEGRAM_CHAT_ID,
    roles: new RoleDirectory(new Set(env.TELEGRAM_OPERATORS), new Set(env.TELEGRAM_VIEWERS)),
    tag,
    log,
  });
  if (!env.TELEGRAM_CHAT_ID) log.warn({}, 'TELEGRAM_CHAT_ID is not set: alerts and digests will not go to Telegram (replies still do)');
  try {
    await telegram.start();
  } catch (error) {
    if (error instanceof TelegramConflictError) throw new ConfigError(`Telegram: ${error.message}`);
    if (error instanceof GrammyError && error.error_code === 401) throw new ConfigError('Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized). Check the token from @BotFather.');
    log.warn({ err: error }, 'Telegram is unreachable at start-up; retrying in the background, trading continues');
    void retryInBackground(telegram, notifier, log, (e) =>
      e instanceof TelegramConflictError ? `Telegram: ${e.message}` : e instanceof GrammyError && e.error_code === 401 ? 'Telegram rejected TELEGRAM_BOT_TOKEN (401).' : undefined,
    );
  }
  notifier.addChannel(telegram);
  return telegram;
}

interface Restartable {
  readonly name: string;
  readonly stopped: boolean;
  start(): Promise<void>;
}

/**
 * Keeps trying to start a chat transport that was unreachable at start-up, with backoff, until it starts, the
 * agent stops, or the service refuses us for good (`fatal` says why; the operator is alerted).
 */
async function retryInBackground(transport: Restartable, notifier: OutboxNotifier, log: Logger, fatal: (error: unknown) => string | undefined): Promise<void> {
  for (let wait = 5_000; !transport.stopped; wait = Math.min(wait * 2, 300_000)) {
    await new Promise((r) => setTimeout(r, wait).unref());
    if (transport.stopped) return;
    try {
      await transport.start();
      log.info({ transport: transport.name }, 'chat service reachable again; started');
      return;
    } catch (error) {
      if (transport.stopped) return;
      const reason = fatal(error);
      if (reason) {
        notifier.notify('critical', `${reason} ${transport.name} control is off; trading continues.`);
        return;
      }
      log.warn({ err: error, transport: transport.name }, 'chat service still unreachable');
    }
  }
}

/**
 * Discord, like Telegram, is optional equipment: an unreachable Discord never stops trading (its messages wait
 * in the outbox and it keeps trying to connect in the background), but a rejected token stops start-up.
 */
async function startDiscord(env: TransportEnv, core: CommandCore, notifier: OutboxNotifier, tag: string, log: Logger): Promise<DiscordTransport> {
  const { DiscordAuthError, DiscordTransport } = await import('../bot/discord.js');
  const discord = new DiscordTransport(core, notifier, {
    token: env.DISCORD_BOT_TOKEN!,
    apiBase: env.DISCORD_API_BASE,
    channelId: env.DISCORD_CHANNEL_ID,
    guildId: env.DISCORD_GUILD_ID,
    roles: new RoleDirectory(new Set(env.DISCORD_OPERATORS), new Set(env.DISCORD_VIEWERS)),
    tag,
    log,
  });
  if (!env.DISCORD_CHANNEL_ID) log.warn({}, 'DISCORD_CHANNEL_ID is not set: alerts and digests will not go to Discord (replies still do)');
  // Added first so that alerts raised while it starts (e.g. refused slash commands) reach the feed too; send()
  // throws until it is connected, so the outbox keeps them until then.
  notifier.addChannel(discord);
  try {
    await discord.start();
  } catch (error) {
    if (error instanceof DiscordAuthError) throw new ConfigError(error.message);
    log.warn({ err: error }, 'Discord is unreachable at start-up; retrying in the background, trading continues');
    void retryInBackground(discord, notifier, log, (e) => (e instanceof DiscordAuthError ? e.message : undefined));
  }
  return discord;
}
