/**
 * A binary column cache of CSV bar files: parsing ~300k CSV rows takes the better part of a second and leaves a
 * lot of garbage behind, while the same bars as six Float64Array columns load in milliseconds. The CSV stays the
 * source of truth: a cache entry is keyed by the file's absolute path, size and modification time, holds only
 * bars that already passed `parseBarsCsv`'s checks, and anything unexpected in it (wrong magic, wrong length,
 * unreadable) falls back to parsing the CSV. Writing the cache is best effort: a read-only disk only costs speed.
 *
 * File layout (little-endian): 8-byte magic `CEBARS01`, uint32 bar count, uint32 reserved (0), then the columns
 * ts, open, high, low, close, volume, each `count` float64 values.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bar, Symbol } from '../types.js';
import { csvFileFor, MarketDataError, parseBarsCsv } from './csv.js';

/** The bars of one symbol as columns, oldest first. `ts` is the bar open in epoch ms UTC. */
export interface BarColumns {
  readonly length: number;
  readonly ts: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

const MAGIC = 'CEBARS01';
const HEADER_BYTES = 16;
const COLUMNS = ['ts', 'open', 'high', 'low', 'close', 'volume'] as const;

export function barsToColumns(bars: readonly Bar[]): BarColumns {
  const n = bars.length;
  const c = { length: n, ts: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const b = bars[i]!;
    c.ts[i] = b.ts;
    c.open[i] = b.open;
    c.high[i] = b.high;
    c.low[i] = b.low;
    c.close[i] = b.close;
    c.volume[i] = b.volume;
  }
  return c;
}

export function columnsToBars(c: BarColumns): Bar[] {
  const bars: Bar[] = new Array(c.length);
  for (let i = 0; i < c.length; i++) bars[i] = { ts: c.ts[i]!, open: c.open[i]!, high: c.high[i]!, low: c.low[i]!, close: c.close[i]!, volume: c.volume[i]! };
  return bars;
}

/** `<repo>/node_modules/.cache/confidence-engine/bars` when node_modules exists (it is git-ignored), else under the OS temp dir. */
export function defaultBarCacheDir(): string {
  const repoModules = fileURLToPath(new URL('../../node_modules', import.meta.url));
  return existsSync(repoModules) ? join(repoModules, '.cache', 'confidence-engine', 'bars') : join(tmpdir(), 'confidence-engine-bars');
}

/** Where the cache entry of `file` lives; the name changes whenever the file's size or mtime does. */
export function cacheFileFor(file: string, cacheDir: string): string {
  return entryFor(file, cacheDir).path;
}

/** `prefix` names every entry of the same CSV file, whatever its size and mtime. */
function entryFor(file: string, cacheDir: string): { path: string; prefix: string } {
  const abs = resolve(file);
  const st = statSync(abs);
  const pathHash = createHash('sha256').update(abs).digest('hex').slice(0, 12);
  const prefix = `${basename(abs).replace(/[^A-Za-z0-9._]/g, '_')}-${pathHash}-`;
  return { path: join(cacheDir, `${prefix}${st.size}-${Math.floor(st.mtimeMs)}.bin`), prefix };
}

export function encodeColumns(c: BarColumns): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES + c.length * COLUMNS.length * 8);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(c.length, 8);
  buf.writeUInt32LE(0, 12);
  COLUMNS.forEach((name, k) => {
    const column = c[name];
    const offset = HEADER_BYTES + k * c.length * 8;
    for (let i = 0; i < c.length; i++) buf.writeDoubleLE(column[i]!, offset + i * 8);
  });
  return buf;
}

/** The columns in `buf`, or undefined when it is not a complete cache entry. */
export function decodeColumns(buf: Buffer): BarColumns | undefined {
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 8) !== MAGIC) return undefined;
  const n = buf.readUInt32LE(8);
  if (buf.length !== HEADER_BYTES + n * COLUMNS.length * 8 || n === 0 || !littleEndian()) return undefined;
  // One aligned copy of the payload: Float64Array views need 8-byte alignment, which a Buffer does not promise.
  const payload = new Float64Array(n * COLUMNS.length);
  new Uint8Array(payload.buffer).set(buf.subarray(HEADER_BYTES));
  const column = (k: number) => payload.subarray(k * n, (k + 1) * n);
  const c = { length: n, ts: column(0), open: column(1), high: column(2), low: column(3), close: column(4), volume: column(5) };
  return plausible(c) ? c : undefined;
}

/** A cheap check that a damaged entry is not used: times strictly increasing, prices positive, volume finite. */
function plausible(c: BarColumns): boolean {
  for (let i = 0; i < c.length; i++) {
    if (!(c.open[i]! > 0 && c.high[i]! > 0 && c.low[i]! > 0 && c.close[i]! > 0 && c.volume[i]! >= 0 && Number.isFinite(c.volume[i]!) && Number.isFinite(c.high[i]!))) return false;
    if (i > 0 && !(c.ts[i]! > c.ts[i - 1]!)) return false;
  }
  return Number.isInteger(c.ts[0]!);
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

export interface CachedLoad {
  readonly columns: Map<Symbol, BarColumns>;
  /** symbols read from the cache */
  readonly hits: number;
  /** symbols parsed from CSV (and then cached, if the cache was writable) */
  readonly misses: number;
}

export interface BarCacheOptions {
  /** default: defaultBarCacheDir() */
  readonly cacheDir?: string;
}

/**
 * Like `loadCsvDirectory`, as columns, through the cache. A missing or bad CSV file is the same MarketDataError
 * as without the cache.
 */
export function loadCsvDirectoryCached(dir: string, symbols: readonly Symbol[], options: BarCacheOptions = {}): CachedLoad {
  const cacheDir = options.cacheDir ?? defaultBarCacheDir();
  const columns = new Map<Symbol, BarColumns>();
  let hits = 0;
  let misses = 0;
  for (const symbol of symbols) {
    const file = join(dir, csvFileFor(symbol));
    if (!existsSync(file)) throw new MarketDataError(file, undefined, `no data file for ${symbol}`);
    const entry = entryFor(file, cacheDir);
    const cached = readEntry(entry.path);
    if (cached) {
      columns.set(symbol, cached);
      hits += 1;
      continue;
    }
    const parsed = barsToColumns(parseBarsCsv(readFileSync(file, 'utf8'), file));
    writeEntry(entry.path, entry.prefix, parsed);
    columns.set(symbol, parsed);
    misses += 1;
  }
  return { columns, hits, misses };
}

function readEntry(entry: string): BarColumns | undefined {
  try {
    return existsSync(entry) ? decodeColumns(readFileSync(entry)) : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic (temp file + rename), and it removes older entries of the same CSV file. Failures are ignored. */
function writeEntry(entry: string, prefix: string, c: BarColumns): void {
  try {
    const dir = resolve(entry, '..');
    mkdirSync(dir, { recursive: true });
    const tmp = `${entry}.${process.pid}.tmp`;
    writeFileSync(tmp, encodeColumns(c));
    renameSync(tmp, entry);
    const name = basename(entry);
    for (const other of readdirSync(dir)) {
      if (other !== name && other.startsWith(prefix) && other.endsWith('.bin')) unlinkSync(join(dir, other));
    }
  } catch {
    // the cache is an optimization only
  }
}
