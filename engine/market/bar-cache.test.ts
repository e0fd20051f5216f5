import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { barsToColumns, cacheFileFor, columnsToBars, decodeColumns, encodeColumns, loadCsvDirectoryCached } from './bar-cache.js';
import { CSV_HEADER, loadCsvDirectory, MarketDataError } from './csv.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** Awkward but valid values: fractions that are not exact in binary, a zero volume, a large timestamp. */
function rows(n: number, shift = 0): string[] {
  return Array.from({ length: n }, (_, i) => {
    const open = 0.1 + i * 1.37 + shift;
    return [T0 + i * H, open, open + 0.3, open - 0.05, open + 0.1, i === 3 ? 0 : 1234.5678 + i].join(',');
  });
}

function writeCsv(dir: string, name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${[CSV_HEADER, ...lines].join('\n')}\n`);
  return file;
}

describe('bar cache', () => {
  let data: string;
  let cache: string;

  beforeEach(() => {
    data = mkdtempSync(join(tmpdir(), 'bar-cache-data-'));
    cache = mkdtempSync(join(tmpdir(), 'bar-cache-'));
  });
  afterEach(() => {
    rmSync(data, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it('round-trips columns through the binary encoding bit for bit', () => {
    const bars = loadCsvDirectory(writeCsvDir(), ['BTC/USD']).get('BTC/USD')!;
    const decoded = decodeColumns(encodeColumns(barsToColumns(bars)));
    expect(decoded).toBeDefined();
    expect(columnsToBars(decoded!)).toEqual(bars);
  });

  it('parses on the first load, reads the cache on the second, and both equal loadCsvDirectory', () => {
    const dir = writeCsvDir();
    const expected = loadCsvDirectory(dir, ['BTC/USD', 'ETH/USD']);
    const first = loadCsvDirectoryCached(dir, ['BTC/USD', 'ETH/USD'], { cacheDir: cache });
    expect({ hits: first.hits, misses: first.misses }).toEqual({ hits: 0, misses: 2 });
    const second = loadCsvDirectoryCached(dir, ['BTC/USD', 'ETH/USD'], { cacheDir: cache });
    expect({ hits: second.hits, misses: second.misses }).toEqual({ hits: 2, misses: 0 });
    for (const symbol of ['BTC/USD', 'ETH/USD']) {
      expect(columnsToBars(first.columns.get(symbol)!)).toEqual(expected.get(symbol));
      expect(columnsToBars(second.columns.get(symbol)!)).toEqual(expected.get(symbol));
    }
  });

  it('misses when the CSV file changes, and keeps only the newest entry per file', () => {
    const file = writeCsv(data, 'BTCUSD.csv', rows(6));
    loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: cache });
    writeCsv(data, 'BTCUSD.csv', rows(6, 5)); // same size is possible: the mtime must count too
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    const again = loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: cache });
    expect(again.misses).toBe(1);
    expect(again.columns.get('BTC/USD')!.open[0]).toBeCloseTo(5.1, 12);
    expect(readdirSync(cache).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
  });

  it('ignores a damaged entry and parses the CSV instead', () => {
    const file = writeCsv(data, 'BTCUSD.csv', rows(6));
    loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: cache });
    const entry = cacheFileFor(file, cache);
    writeFileSync(entry, readFileSync(entry).subarray(0, 40)); // truncated
    const truncated = loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: cache });
    expect(truncated.misses).toBe(1);
    const damaged = readFileSync(entry);
    damaged.writeDoubleLE(-1, 16 + 6 * 8); // first open price negative
    writeFileSync(entry, damaged);
    const bad = loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: cache });
    expect(bad.misses).toBe(1);
    expect(columnsToBars(bad.columns.get('BTC/USD')!)).toEqual(loadCsvDirectory(data, ['BTC/USD']).get('BTC/USD'));
  });

  it('reports bad or missing CSV files exactly as the CSV loader does, and caches nothing for them', () => {
    writeCsv(data, 'BTCUSD.csv', [...rows(2), `${T0 + 2 * H},1,0.5,0.9,1,1`]);
    expect(() => loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: cache })).toThrow(MarketDataError);
    expect(() => loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: cache })).toThrow(/BTCUSD\.csv:4: inconsistent bar/);
    expect(() => loadCsvDirectoryCached(data, ['ETH/USD'], { cacheDir: cache })).toThrow(/no data file for ETH\/USD/);
    expect(readdirSync(cache)).toHaveLength(0);
  });

  it('still loads when the cache directory cannot be written', () => {
    writeCsv(data, 'BTCUSD.csv', rows(4));
    const blocked = join(cache, 'not-a-dir');
    writeFileSync(blocked, 'a file where the cache directory should be');
    const loaded = loadCsvDirectoryCached(data, ['BTC/USD'], { cacheDir: join(blocked, 'bars') });
    expect(loaded.columns.get('BTC/USD')!.length).toBe(4);
  });

  function writeCsvDir(): string {
    writeCsv(data, 'BTCUSD.csv', rows(50));
    writeCsv(data, 'ETHUSD.csv', rows(20, 3));
    return data;
  }
});
