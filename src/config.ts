/**
 * Configuration: config/default.yaml, optionally overlaid by the file in CE_CONFIG, then the environment.
 * A bad value stops start-up with the file, the key path, the value and the reason, never a stack trace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { LIMIT_SPECS, type RiskLimits } from '../engine/risk/limits.js';
import { STRATEGY_NAMES, sixtyFortyWeights } from '../engine/strategy/index.js';
import { validCron } from './report-schedule.js';

const positive = z.number().positive();
const fraction = z.number().min(0).lt(1);
const symbol = z.string().regex(/^[A-Z0-9]{2,10}\/USD$/, 'must look like BTC/USD');

/** Built from the same table /limits validates against, so the two ranges cannot differ. */
const limitsSchema = z.strictObject(
  Object.fromEntries(
    LIMIT_SPECS.map((spec) => {
      const base = z.number().min(spec.min).max(spec.max);
      return [spec.name, spec.integer ? base.int() : base];
    }),
  ) as Record<keyof RiskLimits, z.ZodNumber>,
);

const cronExpression = z.string().refine(validCron, 'must be a cron expression: minute hour day month weekday, e.g. "0 8 * * *"');
const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as UTC or Europe/Berlin');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');
/** A warning and a critical threshold; critical must be the worse one. */
function warnCritical(worse: 'above' | 'below', n: z.ZodNumber) {
  return z
    .strictObject({ warn: n, critical: n })
    .refine((t) => (worse === 'above' ? t.critical >= t.warn : t.critical <= t.warn), { message: `critical must be ${worse === 'above' ? 'at or above' : 'at or below'} warn`, path: ['critical'] });
}
const kinds = z.array(z.enum(['kill', 'critical', 'state', 'trade', 'risk', 'info', 'digest']));

export const configSchema = z.strictObject({
  mode: z.enum(['auto', 'sim', 'paper', 'live']),
  universe: z.array(symbol).min(1).refine((list) => new Set(list).size === list.length, 'must not repeat a symbol'),
  strategy: z.strictObject({
    name: z.enum(STRATEGY_NAMES),
    momentum: z.strictObject({
      lookbackBars: z.number().int().min(2).max(2_000),
      topK: z.number().int().min(1),
      rebalanceBars: z.number().int().min(1),
      cashBuffer: fraction,
      rebalanceBand: fraction,
    }),
    buyhold: z.strictObject({
      rebalanceBars: z.number().int().min(1).max(24 * 30),
      rebalanceBand: z.number().min(0).max(0.5),
      cashBuffer: z.number().min(0).max(0.5),
    }),
    meanrev: z
      .strictObject({
        lookbackBars: z.number().int().min(2).max(2_000),
        entryZ: z.number().min(0.1).max(5),
        exitZ: z.number().min(-3).max(3),
        rebalanceBars: z.number().int().min(1).max(24 * 30),
      })
      .refine((m) => m.exitZ > -m.entryZ, { message: 'must be above -entryZ, or a position would exit as it enters', path: ['exitZ'] }),
    sixtyForty: z.strictObject({
      rebalanceBars: z.number().int().min(1).max(24 * 30),
      rebalanceBand: z.number().min(0).max(0.5),
    }),
    ensemble: z.strictObject({
      modelsDir: z.string().min(1),
      minProbability: z.number().min(0.5).max(1),
      exitProbability: z.number().min(0).max(0.5),
      positionFraction: z.number().min(0.01).max(1),
      winThreshold: z.number().min(0).max(0.1),
      vote: z.strictObject({ method: z.enum(['mean', 'median']), window: z.number().int().min(1), minActive: z.number().int().min(1) }),
    }),
    confidence: z.strictObject({
      minQuality: z.number().min(0).max(10),
      minConviction: z.number().min(0).max(10),
      minConfidence: z.number().min(0.5).max(1),
      positionFraction: z.number().min(0.01).max(1),
      horizonBars: z.number().int().min(1).max(24 * 30),
      winThreshold: z.number().min(0).max(0.1),
      calibration: z.strictObject({
        method: z.enum(['platt', 'isotonic', 'beta']),
        window: z.number().int().min(100).max(1_000_000),
        minSamples: z.number().int().min(20),
        refitEvery: z.number().int().min(1),
        eceThreshold: z.number().gt(0).lt(1),
      }),
      patternSampleFloor: z.number().int().min(1),
      conservativeMargin: z.number().min(0).max(0.2),
      policies: z.strictObject(
        Object.fromEntries(
          (['default', 'low', 'medium', 'high', 'extreme'] as const).map((k) => [
            k,
            z.strictObject({ sizeMultiplier: z.number().min(0).max(2), minConfidence: z.number().min(0).max(1) }),
          ]),
        ) as Record<'default' | 'low' | 'medium' | 'high' | 'extreme', z.ZodObject<{ sizeMultiplier: z.ZodNumber; minConfidence: z.ZodNumber }>>,
      ),
    }),
  }),
  sim: z.strictObject({
    equity: positive,
    market: z.string().min(1),
    seed: z.number().int().nonnegative(),
    barsPerSecond: z.number().positive().max(10_000),
    historyBars: z.number().int().min(0).max(100_000),
  }),
  broker: z.strictObject({
    feeRate: z.number().min(0).max(0.05),
    slippageBps: z.number().min(0).max(500),
    minNotional: z.number().nonnegative(),
    qtyIncrement: positive,
  }),
  risk: z.strictObject({
    profile: z.enum(['full', 'benchmark']),
    killWaitSeconds: positive.max(600),
    limits: limitsSchema,
  }),
  alpaca: z.strictObject({
    reconcileSeconds: z.number().int().min(10).max(86_400),
    requestTimeoutSeconds: z.number().min(1).max(300),
    quotePollSeconds: z.number().min(1).max(3_600),
  }),
  /** Headlines for the confidence strategy's narrative in paper and live (sim and backtest have no news input). */
  news: z.strictObject({
    /** at least 30 s: Alpaca's news changes slowly, and each poll may cost an LLM call */
    pollSeconds: z.number().int().min(30).max(86_400),
    halfLifeHours: z.number().positive().max(24 * 30),
    maxAgeHours: z.number().positive().max(24 * 30),
    llmTimeoutSeconds: z.number().min(1).max(300),
  }),
  store: z.strictObject({
    path: z.string().min(1),
    maintenanceCron: cronExpression,
    backupKeep: z.number().int().min(1).max(365),
    archiveAfterDays: z.number().int().min(1).max(3_650),
  }),
  quality: z.strictObject({
    maxSigmas: z.number().min(3).max(1_000),
    sigmaWindowBars: z.number().int().min(10).max(10_000),
    maxGapBars: z.number().int().min(0).max(10_000),
  }),
  supervisor: z.strictObject({
    heartbeatSeconds: z.number().min(0.1).max(300),
    stallSeconds: z.number().min(1).max(3_600),
    maxLoopLagMs: z.number().min(10).max(600_000),
    maxRssMb: z.number().min(64).max(1_000_000),
    backoff: z.strictObject({ initialSeconds: z.number().min(0.01).max(3_600), maxSeconds: z.number().min(0.01).max(86_400), healthySeconds: z.number().min(0.01).max(86_400) }),
    giveUp: z.strictObject({ restarts: z.number().int().min(1).max(10_000), windowMinutes: z.number().min(0.1).max(10_080) }),
  }).refine((s) => s.stallSeconds > s.heartbeatSeconds, { message: 'must be longer than heartbeatSeconds', path: ['stallSeconds'] })
    .refine((s) => s.backoff.maxSeconds >= s.backoff.initialSeconds, { message: 'must be at least initialSeconds', path: ['backoff', 'maxSeconds'] }),
  health: z.strictObject({
    intervalSeconds: z.number().min(0.1).max(3_600),
    memoryMb: warnCritical('above', z.number().positive()),
    loopLagMs: warnCritical('above', z.number().positive()),
    diskFreeMb: warnCritical('below', z.number().nonnegative()),
    deadManBars: z.number().min(1).max(1_000),
    feedStaleBars: z.number().min(1).max(1_000),
    checkOllama: z.boolean(),
  }),
  http: z.strictObject({
    host: z.string().min(1),
    port: z.coerce.number({ error: 'must be a port number from 0 (off) to 65535' }).int('must be a whole port number').min(0, 'must be a port number from 0 (off) to 65535').max(65_535, 'must be a port number from 0 (off) to 65535'),
  }),
  commands: z.strictObject({ confirmTtlSeconds: z.number().int().min(5).max(3_600) }),
  reports: z.strictObject({
    dailyCron: cronExpression,
    weeklyCron: cronExpression,
    timezone: timeZone,
    quietHours: z.strictObject({ start: hhmm, end: hhmm }),
    verbosity: z.strictObject({ telegram: kinds, discord: kinds }),
    advisor: z.strictObject({
      timeoutSeconds: z.number().min(1).max(600),
      firstTokenSeconds: z.number().min(1).max(600),
    }),
  }),
  log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']) }),
}).superRefine((c, ctx) => {
  // The 60/40 baseline holds BTC/USD and ETH/USD: an agent told to run it on a universe with neither is refused.
  if (c.strategy.name !== '6040') return;
  try {
    sixtyFortyWeights(c.universe);
  } catch (error) {
    ctx.addIssue({ code: 'custom', path: ['universe'], message: (error as Error).message });
  }
});

export type Config = z.infer<typeof configSchema>;

export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../config/default.yaml', import.meta.url));

/** A configuration problem an operator can fix; printed as one line, without a stack trace. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Environment variables that override config keys (ARCHITECTURE.md §3). */
const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: readonly string[]; parse?: (raw: string) => unknown }> = [
  { env: 'CE_MODE', path: ['mode'] },
  { env: 'CE_DB', path: ['store', 'path'] },
  { env: 'LOG_LEVEL', path: ['log', 'level'] },
  { env: 'CE_HTTP_PORT', path: ['http', 'port'] },
];

export interface LoadedConfig {
  readonly config: Config;
  /** the files read, base first */
  readonly files: readonly string[];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const files = [DEFAULT_CONFIG_FILE];
  const base = readYaml(DEFAULT_CONFIG_FILE);
  let merged = base;
  let overlay: unknown;
  if (env.CE_CONFIG) {
    if (!existsSync(env.CE_CONFIG)) throw new ConfigError(`CE_CONFIG points to ${env.CE_CONFIG}, which does not exist`);
    overlay = readYaml(env.CE_CONFIG);
    merged = deepMerge(base, overlay);
    files.push(env.CE_CONFIG);
  }
  const fromEnv = new Map<string, string>();
  for (const { env: name, path } of ENV_OVERRIDES) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    merged = setPath(merged, path, raw);
    fromEnv.set(path.join('.'), name);
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keyPath = issue.path.map(String);
    const key = keyPath.join('.') || '(top level)';
    const envName = fromEnv.get(key);
    const source = envName ? `environment variable ${envName}` : overlay !== undefined && hasPath(overlay, keyPath) ? env.CE_CONFIG! : DEFAULT_CONFIG_FILE;
    if (issue.code === 'unrecognized_keys') {
      const unknown = issue.keys.map((k) => (key === '(top level)' ? k : `${key}.${k}`)).join(', ');
      throw new ConfigError(`Bad config in ${overlay !== undefined ? env.CE_CONFIG : DEFAULT_CONFIG_FILE}: unknown key ${unknown} (check the spelling against config/default.yaml)`);
    }
    const value = getPath(merged, keyPath);
    const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problem(s))` : '';
    throw new ConfigError(`Bad config in ${source}: ${key} = ${JSON.stringify(value) ?? 'missing'}: ${issue.message}${more}`);
  }
  return { config: parsed.data, files };
}

export type ResolvedMode = 'sim' | 'paper' | 'live';

/** "[SIM]", "[PAPER]" or "[LIVE]": every message to the operator starts with it (the supervisor's alerts too). */
export function modeTag(mode: string): string {
  return `[${mode.toUpperCase()}]`;
}

/**
 * `auto` means sim without Alpaca keys and paper with them. Live needs `mode: live` in config AND CE_LIVE=yes,
 * so that a stray environment variable alone can never put real money at risk.
 */
export function resolveMode(config: Config, env: NodeJS.ProcessEnv = process.env): ResolvedMode {
  const hasKeys = Boolean(env.APCA_API_KEY_ID && env.APCA_API_SECRET_KEY);
  const mode = config.mode === 'auto' ? (hasKeys ? 'paper' : 'sim') : config.mode;
  if (mode === 'live' && env.CE_LIVE !== 'yes') {
    throw new ConfigError('live mode is configured but CE_LIVE is not "yes": refusing to trade real money. Set CE_LIVE=yes to confirm, or use mode sim/paper.');
  }
  if ((mode === 'paper' || mode === 'live') && !hasKeys) {
    throw new ConfigError(`${mode} mode needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment (or set CE_MODE=sim for the simulator)`);
  }
  return mode;
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const doc = parseDocument(text);
  const problem = doc.errors[0];
  if (problem) {
    const where = problem.linePos?.[0] ? `${file}:${problem.linePos[0].line}:${problem.linePos[0].col}` : file;
    throw new ConfigError(`Config file ${where} is not valid YAML: ${problem.message.split('\n')[0]}`);
  }
  return doc.toJS() ?? {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: unknown, overlay: unknown): unknown {
  if (!isRecord(base) || !isRecord(overlay)) return overlay === undefined ? base : overlay;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overlay)) out[k] = deepMerge(base[k], v);
  return out;
}

function getPath(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, key) => (isRecord(node) || Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined), value);
}

function hasPath(value: unknown, path: readonly string[]): boolean {
  return getPath(value, path) !== undefined;
}

function setPath(value: unknown, path: readonly string[], leaf: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return leaf;
  const node = isRecord(value) ? value : {};
  return { ...node, [head]: setPath(node[head], rest, leaf) };
}

const blankIsUnset = (v: unknown) => (v === '' ? undefined : v);
const userIds = z.preprocess(
  blankIsUnset,
  z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []))
    .pipe(z.array(z.string().regex(/^\d{1,20}$/, 'must be numeric user ids separated by commas'))),
);
const optionalId = z.preprocess(blankIsUnset, z.string().regex(/^-?\d{1,20}$/, 'must be a numeric id').optional());
const optionalSecret = z.preprocess(blankIsUnset, z.string().optional());

/** Chat transports, from the environment only (tokens are secrets). */
const transportEnvSchema = z.object({
  TELEGRAM_BOT_TOKEN: optionalSecret,
  TELEGRAM_API_ROOT: z.preprocess(blankIsUnset, z.url().default('https://api.telegram.org')),
  TELEGRAM_CHAT_ID: optionalId,
  TELEGRAM_OPERATORS: userIds,
  TELEGRAM_VIEWERS: userIds,
  DISCORD_BOT_TOKEN: optionalSecret,
  DISCORD_API_BASE: z.preprocess(blankIsUnset, z.url().default('https://discord.com/api')),
  DISCORD_CHANNEL_ID: optionalId,
  DISCORD_GUILD_ID: optionalId,
  DISCORD_OPERATORS: userIds,
  DISCORD_VIEWERS: userIds,
});

export type TransportEnv = z.infer<typeof transportEnvSchema>;

export function loadTransportEnv(env: NodeJS.ProcessEnv = process.env): TransportEnv {
  const parsed = transportEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    const shown = /TOKEN/.test(name) ? '[redacted]' : JSON.stringify(env[name]);
    throw new ConfigError(`Bad environment variable ${name} = ${shown}: ${issue.message}`);
  }
  return parsed.data;
}
