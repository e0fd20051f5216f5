/**
 * Reads bar files in the shared format: header `timestamp,open,high,low,close,volume`, timestamp = bar open in
 * epoch ms UTC. Every problem is reported with the file and line, and nothing from a bad file is used.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bar, Symbol } from '../types.js';

export const CSV_HEADER = 'timestamp,open,high,low,close,volume';

export class MarketDataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.name = 'MarketDataError';
  }
}

/** `BTC/USD` → `BTCUSD.csv`, the naming of ../shared/data/binance-1h. */
export function csvFileFor(symbol: Symbol): string {
  return `${symbol.replace('/', '')}.csv`;
}

const FIELDS = ['timestamp', 'open', 'high', 'low', 'close', 'volume'] as const;

/** Parse one file's text. `file` is only used in messages. */
export function parseBarsCsv(text: string, file: string): Bar[] {
  const lines = text.split(/\r?\n/);
  if ((lines[0] ?? '').trim() !== CSV_HEADER) {
    throw new MarketDataError(file, 1, `expected header "${CSV_HEADER}", found "${(lines[0] ?? '').slice(0, 80)}"`);
  }
  const bars: Bar[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    if (raw.trim() === '') {
      if (lines.slice(i).every((l) => l.trim() === '')) break; // blank lines at the very end
      throw new MarketDataError(file, lineNo, 'empty line inside the data');
    }
    const cells = raw.split(',');
    if (cells.length !== FIELDS.length) {
      throw new MarketDataError(file, lineNo, `expected ${FIELDS.length} fields, found ${cells.length}: "${raw.slice(0, 80)}"`);
    }
    const values = cells.map((cell, k) => {
      const trimmed = cell.trim();
      const value = trimmed === '' ? Number.NaN : Number(trimmed);
      if (!Number.isFinite(value)) {
        throw new MarketDataError(file, lineNo, `${FIELDS[k]} is not a finite number: "${trimmed}"`);
      }
      return value;
    });
    const [ts, open, high, low, close, volume] = values as [number, number, number, number, number, number];
    if (!Number.isInteger(ts) || ts < 0) throw new MarketDataError(file, lineNo, `timestamp must be epoch milliseconds, got ${ts}`);
    if (open <= 0 || high <= 0 || low <= 0 || close <= 0) throw new MarketDataError(file, lineNo, 'prices must be positive');
    if (volume < 0) throw new MarketDataError(file, lineNo, `volume must not be negative, got ${volume}`);
    if (high < Math.max(open, close, low) || low > Math.min(open, close)) {
      throw new MarketDataError(file, lineNo, `inconsistent bar: high ${high} / low ${low} do not bracket open ${open} and close ${close}`);
    }
    const previous = bars[bars.length - 1];
    if (previous !== undefined) {
      if (ts === previous.ts) throw new MarketDataError(file, lineNo, `duplicate timestamp ${ts} (${new Date(ts).toISOString()})`);
      if (ts < previous.ts) {
        throw new MarketDataError(file, lineNo, `rows out of order: ${new Date(ts).toISOString()} comes after ${new Date(previous.ts).toISOString()}`);
      }
    }
    bars.push({ ts, open, high, low, close, volume });
  }
  if (bars.length === 0) throw new MarketDataError(file, undefined, 'no bars after the header');
  return bars;
}

/** Load one file per symbol from `dir`. A missing file is an error naming the file expected. */
export function loadCsvDirectory(dir: string, symbols: readonly Symbol[]): Map<Symbol, Bar[]> {
  const result = new Map<Symbol, Bar[]>();
  for (const symbol of symbols) {
    const file = join(dir, csvFileFor(symbol));
    if (!existsSync(file)) throw new MarketDataError(file, undefined, `no data file for ${symbol}`);
    result.set(symbol, parseBarsCsv(readFileSync(file, 'utf8'), file));
  }
  return result;
}
