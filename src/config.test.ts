import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineCounter, parse, parseDocument, isMap, isPair, isScalar, type Pair } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG_FILE, configSchema, loadConfig, resolveMode, type Config } from './config.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ce-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let overlayCount = 0;
function overlay(text: string): string {
  const file = join(dir, `overlay-${++overlayCount}.yaml`);
  writeFileSync(file, text);
  return file;
}

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected loadConfig to throw for ${JSON.stringify(env)}`);
}

const defaultsText = readFileSync(DEFAULT_CONFIG_FILE, 'utf8');

describe('loadConfig', () => {
  it('loads config/default.yaml unchanged without overlay or environment', () => {
    const { config, files } = loadConfig({});
    expect(files).toEqual([DEFAULT_CONFIG_FILE]);
    expect(config).toEqual(parse(defaultsText));
    expect(config.broker.feeRate).toBe(0.0025);
    expect(config.universe).toEqual(['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD']);
    expect(config.mode).toBe('auto');
  });

  it('an overlay changes one key; every other key keeps its default', () => {
    const file = overlay('sim:\n  barsPerSecond: 50\n');
    const { config, files } = loadConfig({ CE_CONFIG: file });
    expect(files).toEqual([DEFAULT_CONFIG_FILE, file]);
    expect(config.sim.barsPerSecond).toBe(50);
    const defaults = loadConfig({}).config;
    expect(config).toEqual({ ...defaults, sim: { ...defaults.sim, barsPerSecond: 50 } });
  });

  it('a bad value names the overlay file, the key path, the value and the reason', () => {
    const file = overlay('sim: {barsPerSecond: -1}\n');
    const { message } = configError({ CE_CONFIG: file });
    expect(message).toMatch(/^Bad config in /);
    expect(message).toContain(`Bad config in ${file}: sim.barsPerSecond = -1: `);
    expect(message).toMatch(/too small/i);
  });

  it('a wrong type names the key, the value and the expected type', () => {
    const file = overlay('broker:\n  feeRate: "cheap"\n');
    const { message } = configError({ CE_CONFIG: file });
    expect(message).toContain(`Bad config in ${file}: broker.feeRate = "cheap": `);
    expect(message).toMatch(/expected number, received string/);
  });

  it('an unknown key is named with its full path', () => {
    const file = overlay('sim: {spead: 3}\n');
    const { message } = configError({ CE_CONFIG: file });
    expect(message).toBe(`Bad config in ${file}: unknown key sim.spead (check the spelling against config/default.yaml)`);
  });

  it('an unknown top-level key is named without a prefix', () => {
    const file = overlay('verbose: true\n');
    expect(configError({ CE_CONFIG: file }).message).toContain(`Bad config in ${file}: unknown key verbose (`);
  });

  it('invalid YAML names the file and the line', () => {
    const file = overlay('sim:\n  seed: 1\n barsPerSecond: 3\n');
    const { message } = configError({ CE_CONFIG: file });
    expect(message).toMatch(new RegExp(`^Config file ${escape(file)}:3:\\d+ is not valid YAML: `));
  });

  it('CE_CONFIG pointing to a missing file is an error naming it', () => {
    const missing = join(dir, 'nope.yaml');
    expect(configError({ CE_CONFIG: missing }).message).toBe(`CE_CONFIG points to ${missing}, which does not exist`);
  });

  it('a bad environment override names the environment variable', () => {
    const { message } = configError({ CE_MODE: 'bogus' });
    expect(message).toContain('Bad config in environment variable CE_MODE: mode = "bogus": ');
  });

  it('environment overrides win over the overlay', () => {
    const file = overlay('mode: sim\nlog: {level: warn}\n');
    const { config } = loadConfig({ CE_CONFIG: file, CE_MODE: 'paper', LOG_LEVEL: 'debug', CE_DB: '/tmp/x.db' });
    expect(config.mode).toBe('paper');
    expect(config.log.level).toBe('debug');
    expect(config.store.path).toBe('/tmp/x.db');
  });

  it('CE_HTTP_PORT overrides http.port (0 = off) and is validated', () => {
    expect(loadConfig({}).config.http).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadConfig({ CE_HTTP_PORT: '0' }).config.http.port).toBe(0);
    expect(loadConfig({ CE_HTTP_PORT: '9100' }).config.http.port).toBe(9100);
    for (const bad of ['abc', '70000', '-1', '80.5']) {
      expect(configError({ CE_HTTP_PORT: bad }).message).toMatch(new RegExp(`^Bad config in environment variable CE_HTTP_PORT: http\\.port = "${bad.replace('.', '\\.')}": must be a (port number from 0 \\(off\\) to 65535|whole port number)$`));
    }
  });

  it('LOG_LEVEL overrides log.level and is validated', () => {
    expect(loadConfig({ LOG_LEVEL: 'trace' }).config.log.level).toBe('trace');
    expect(loadConfig({ LOG_LEVEL: '' }).config.log.level).toBe('info');
    expect(configError({ LOG_LEVEL: 'loud' }).message).toContain('Bad config in environment variable LOG_LEVEL: log.level = "loud": ');
  });
});

describe('resolveMode', () => {
  const base: Config = loadConfig({}).config;
  const keys = { APCA_API_KEY_ID: 'id', APCA_API_SECRET_KEY: 'secret' };

  function modeError(config: Config, env: NodeJS.ProcessEnv): ConfigError {
    try {
      resolveMode(config, env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error('expected resolveMode to throw');
  }

  it('auto without Alpaca keys is sim', () => {
    expect(resolveMode(base, {})).toBe('sim');
    expect(resolveMode(base, { APCA_API_KEY_ID: 'id' })).toBe('sim');
  });

  it('auto with both Alpaca keys means paper; paper without keys is refused with what to set', () => {
    expect(resolveMode(base, keys)).toBe('paper');
    const { message } = modeError({ ...base, mode: 'paper' }, {});
    expect(message).toMatch(/^paper mode needs APCA_API_KEY_ID and APCA_API_SECRET_KEY/);
    expect(message).toContain('CE_MODE=sim');
  });

  it('live without CE_LIVE=yes is refused, naming CE_LIVE', () => {
    const live = { ...base, mode: 'live' as const };
    expect(modeError(live, keys).message).toContain('CE_LIVE is not "yes"');
    expect(modeError(live, { ...keys, CE_LIVE: 'true' }).message).toContain('CE_LIVE');
    // Both switches: live.
    expect(resolveMode(live, { ...keys, CE_LIVE: 'yes' })).toBe('live');
  });

  it('explicit sim ignores the keys', () => {
    expect(resolveMode({ ...base, mode: 'sim' }, keys)).toBe('sim');
  });
});

describe('config/default.yaml documents every key', () => {
  /** Leaf key paths of a zod schema: objects are walked, anything else (including arrays) is a leaf. */
  function schemaLeaves(schema: z.ZodType, prefix: string[] = []): string[][] {
    if (schema instanceof z.ZodObject) {
      return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([k, v]) => schemaLeaves(v, [...prefix, k]));
    }
    return [prefix];
  }

  function objectLeaves(value: unknown, prefix: string[] = []): string[][] {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return Object.entries(value).flatMap(([k, v]) => objectLeaves(v, [...prefix, k]));
    }
    return [prefix];
  }

  it('has exactly the schema’s leaf keys, each on a line with a # comment', () => {
    const schemaPaths = schemaLeaves(configSchema).map((p) => p.join('.'));
    expect(schemaPaths.length).toBeGreaterThan(20);
    const defaults = parse(defaultsText) as unknown;
    expect(objectLeaves(defaults).map((p) => p.join('.')).sort()).toEqual([...schemaPaths].sort());

    const lineCounter = new LineCounter();
    const doc = parseDocument(defaultsText, { lineCounter });
    const lines = defaultsText.split('\n');
    const undocumented: string[] = [];
    for (const path of schemaLeaves(configSchema)) {
      const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
      expect(isMap(parent), `${path.join('.')}: parent is a map`).toBe(true);
      const leaf = path[path.length - 1]!;
      const pair = (parent as { items: Pair[] }).items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === leaf);
      expect(pair, `${path.join('.')} is in config/default.yaml`).toBeDefined();
      const offset = (pair!.key as { range: [number, number, number] }).range[0];
      const lineText = lines[lineCounter.linePos(offset).line - 1] ?? '';
      expect(lineText.trimStart().startsWith(`${leaf}:`), `line for ${path.join('.')}: ${lineText}`).toBe(true);
      if (!/\s#\s*\S/.test(lineText)) undocumented.push(`${path.join('.')} (line ${lineCounter.linePos(offset).line})`);
    }
    expect(undocumented).toEqual([]);
  });
});

describe('npm start with a bad config', () => {
  it('exits 2 with one "error: Bad config" line and no stack trace', () => {
    const file = overlay('sim: {barsPerSecond: -1}\n');
    const env: NodeJS.ProcessEnv = { ...process.env, CE_CONFIG: file, CE_DB: join(dir, 'db', 'engine.db') };
    for (const name of ['CE_MODE', 'LOG_LEVEL', 'CE_LIVE', 'APCA_API_KEY_ID', 'APCA_API_SECRET_KEY']) delete env[name];
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
      cwd: join(import.meta.dirname, '..'),
      env,
      encoding: 'utf8',
      timeout: 50_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(result.error).toBeUndefined();
    expect(result.stderr).toMatch(/^error: Bad config/);
    expect(result.stderr).toContain(`${file}: sim.barsPerSecond = -1: `);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.status).toBe(2);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
