/**
 * The benchmark's bars, loaded once: every CSV file of ../shared/data/binance-1h through the binary column
 * cache, or, when that folder is absent (or asked for), the embedded synthetic market for the same symbols.
 */
import { existsSync, readdirSync } from 'node:fs';
import { EmbeddedMarket } from '../engine/market/embedded-market.js';
import { barsToColumns, columnsToBars, defaultBarCacheDir, loadCsvDirectoryCached, type BarColumns } from '../engine/market/bar-cache.js';
import type { Bar, Symbol } from '../engine/types.js';

/** The symbols of the embedded market when there is no data folder: the nine of the shared data set. */
export const DEFAULT_SYMBOLS: readonly Symbol[] = ['AVAX/USD', 'BNB/USD', 'BTC/USD', 'DOGE/USD', 'ETH/USD', 'LINK/USD', 'MATIC/USD', 'NEAR/USD', 'SOL/USD'];

export interface BenchData {
  readonly kind: 'csv' | 'embedded';
  /** the folder, or the embedded market's description */
  readonly source: string;
  /** set for CSV data: where sim-mode agents read it from */
  readonly dir?: string;
  readonly symbols: readonly Symbol[];
  readonly series: ReadonlyMap<Symbol, readonly Bar[]>;
  readonly columns: ReadonlyMap<Symbol, BarColumns>;
  readonly bars: number;
  /** distinct bar open times (one batch each) */
  readonly batches: number;
  readonly firstTs: number;
  readonly lastTs: number;
  /** the first open time at which every symbol has a bar */
  readonly allSymbolsFromTs: number;
  readonly load: { readonly via: 'cache' | 'csv' | 'generated'; readonly ms: number; readonly cacheHits: number; readonly cacheMisses: number; readonly cacheDir?: string };
}

/** `BTCUSD.csv` → `BTC/USD`; files that do not look like a USD pair are skipped. */
export function symbolsInDirectory(dir: string): Symbol[] {
  return readdirSync(dir)
    .filter((f) => /^[A-Z0-9]{2,10}USD\.csv$/.test(f))
    .map((f) => `${f.slice(0, -'USD.csv'.length)}/USD`)
    .sort();
}

export function loadCsvData(dir: string, cacheDir = defaultBarCacheDir()): BenchData {
  const symbols = symbolsInDirectory(dir);
  if (symbols.length === 0) throw new Error(`no BASEUSD.csv files in ${dir}`);
  const started = performance.now();
  const loaded = loadCsvDirectoryCached(dir, symbols, { cacheDir });
  const series = new Map<Symbol, Bar[]>();
  for (const [symbol, c] of loaded.columns) series.set(symbol, columnsToBars(c));
  const ms = performance.now() - started;
  return describe('csv', dir, symbols, series, loaded.columns, { via: loaded.misses > 0 ? 'csv' : 'cache', ms, cacheHits: loaded.hits, cacheMisses: loaded.misses, cacheDir }, dir);
}

/** `batches` hourly batches of the seeded embedded market for `symbols`. */
export function embeddedData(symbols: readonly Symbol[], batches: number, seed = 42): BenchData {
  const started = performance.now();
  const market = new EmbeddedMarket(symbols, seed, 1);
  const series = new Map<Symbol, Bar[]>(symbols.map((s) => [s, []]));
  for (let i = 0; i < batches; i++) for (const [symbol, bar] of market.next().bars) series.get(symbol)!.push(bar);
  const columns = new Map<Symbol, BarColumns>([...series].map(([s, bars]) => [s, barsToColumns(bars)]));
  return describe('embedded', market.description, symbols, series, columns, { via: 'generated', ms: performance.now() - started, cacheHits: 0, cacheMisses: 0 });
}

function describe(
  kind: BenchData['kind'],
  source: string,
  symbols: readonly Symbol[],
  series: Map<Symbol, Bar[]>,
  columns: Map<Symbol, BarColumns>,
  load: BenchData['load'],
  dir?: string,
): BenchData {
  const times = new Set<number>();
  let bars = 0;
  let firstTs = Number.POSITIVE_INFINITY;
  let lastTs = Number.NEGATIVE_INFINITY;
  let allSymbolsFromTs = Number.NEGATIVE_INFINITY;
  for (const list of series.values()) {
    bars += list.length;
    for (const bar of list) times.add(bar.ts);
    if (list.length === 0) continue;
    firstTs = Math.min(firstTs, list[0]!.ts);
    lastTs = Math.max(lastTs, list[list.length - 1]!.ts);
    allSymbolsFromTs = Math.max(allSymbolsFromTs, list[0]!.ts);
  }
  return { kind, source, ...(dir ? { dir } : {}), symbols, series, columns, bars, batches: times.size, firstTs, lastTs, allSymbolsFromTs, load };
}

export function dataDirExists(dir: string): boolean {
  return existsSync(dir) && symbolsInDirectory(dir).length > 0;
}
