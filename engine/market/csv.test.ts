import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CSV_HEADER, MarketDataError, csvFileFor, loadCsvDirectory, parseBarsCsv } from './csv.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** A consistent row for hour `i`: open 100+i, high +2, low -2, close +1, volume 10+i. */
function row(i: number): string {
  const open = 100 + i;
  return [T0 + i * H, open, open + 2, open - 2, open + 1, 10 + i].join(',');
}

function csv(...rows: string[]): string {
  return [CSV_HEADER, ...rows].join('\n');
}

/** Parse and return the MarketDataError it throws (failing the test if it throws anything else or nothing). */
function parseError(text: string, file: string): MarketDataError {
  try {
    parseBarsCsv(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(MarketDataError);
    return error as MarketDataError;
  }
  throw new Error(`expected parseBarsCsv to throw for ${JSON.stringify(text)}`);
}

describe('parseBarsCsv', () => {
  const file = '/data/BTCUSD.csv';

  it('parses a good file with a trailing newline into bars with the right values', () => {
    const bars = parseBarsCsv(`${csv(row(0), row(1), row(2))}\n`, file);
    expect(bars).toHaveLength(3);
    expect(bars[0]).toEqual({ ts: T0, open: 100, high: 102, low: 98, close: 101, volume: 10 });
    expect(bars[2]).toEqual({ ts: T0 + 2 * H, open: 102, high: 104, low: 100, close: 103, volume: 12 });
  });

  it('parses CRLF line endings and a file without a trailing newline', () => {
    expect(parseBarsCsv(csv(row(0), row(1)).replace(/\n/g, '\r\n'), file)).toHaveLength(2);
    expect(parseBarsCsv(csv(row(0)), file)).toEqual([{ ts: T0, open: 100, high: 102, low: 98, close: 101, volume: 10 }]);
  });

  it('rejects a wrong header on line 1', () => {
    const error = parseError(`ts,o,h,l,c,v\n${row(0)}\n`, file);
    expect(error.message).toContain(`${file}:1: expected header "${CSV_HEADER}"`);
    expect(error.message).toContain('found "ts,o,h,l,c,v"');
    expect(error.line).toBe(1);
  });

  it('rejects a row with the wrong number of fields, naming the line', () => {
    const bad = `${T0 + 2 * H},102,104,100,103`;
    const error = parseError(csv(row(0), row(1), bad, row(3)), file);
    expect(error.message).toBe(`${file}:4: expected 6 fields, found 5: "${bad}"`);
    expect(error.file).toBe(file);
    expect(error.line).toBe(4);
  });

  it('rejects an empty field', () => {
    const error = parseError(csv(row(0), `${T0 + H},101,,99,102,11`), file);
    expect(error.message).toBe(`${file}:3: high is not a finite number: ""`);
  });

  it('rejects a literal NaN', () => {
    const error = parseError(csv(`${T0},100,102,98,NaN,10`, row(1)), file);
    expect(error.message).toBe(`${file}:2: close is not a finite number: "NaN"`);
  });

  it('rejects a non-numeric value', () => {
    const error = parseError(csv(row(0), row(1), row(2), `${T0 + 3 * H},103,105,101,104,lots`), file);
    expect(error.message).toBe(`${file}:5: volume is not a finite number: "lots"`);
  });

  it('rejects a duplicate timestamp', () => {
    const error = parseError(csv(row(0), row(1), row(1)), file);
    expect(error.message).toContain(`${file}:4: duplicate timestamp ${T0 + H}`);
    expect(error.message).toContain(new Date(T0 + H).toISOString());
  });

  it('rejects rows out of order', () => {
    const error = parseError(csv(row(0), row(2), row(1)), file);
    expect(error.message).toContain(`${file}:4: rows out of order`);
    expect(error.message).toContain(`${new Date(T0 + H).toISOString()} comes after ${new Date(T0 + 2 * H).toISOString()}`);
  });

  it('rejects a bar whose high is below its close', () => {
    const error = parseError(csv(row(0), `${T0 + H},100,101,99,105,10`), file);
    expect(error.message).toBe(`${file}:3: inconsistent bar: high 101 / low 99 do not bracket open 100 and close 105`);
  });

  it('rejects a negative volume', () => {
    const error = parseError(csv(row(0), row(1), `${T0 + 2 * H},102,104,100,103,-5`), file);
    expect(error.message).toBe(`${file}:4: volume must not be negative, got -5`);
  });

  it('rejects an empty line inside the data but not a trailing newline', () => {
    const error = parseError(`${csv(row(0), '', row(1))}\n`, file);
    expect(error.message).toBe(`${file}:3: empty line inside the data`);
  });

  it('accepts blank lines at the very end of the file', () => {
    expect(parseBarsCsv(`${csv(row(0), row(1))}\n\n\r\n`, file)).toHaveLength(2);
  });

  it('rejects a file with only a header', () => {
    const error = parseError(`${CSV_HEADER}\n`, file);
    expect(error.message).toBe(`${file}: no bars after the header`);
    expect(error.line).toBeUndefined();
  });
});

describe('loadCsvDirectory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ce-csv-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(symbol: string, text: string): string {
    const file = join(dir, csvFileFor(symbol));
    writeFileSync(file, text);
    return file;
  }

  function loadError(symbols: string[]): MarketDataError {
    try {
      loadCsvDirectory(dir, symbols);
    } catch (error) {
      expect(error).toBeInstanceOf(MarketDataError);
      return error as MarketDataError;
    }
    throw new Error('expected loadCsvDirectory to throw');
  }

  it('loads one file per symbol, named like BTCUSD.csv', () => {
    write('BTC/USD', `${csv(row(0), row(1))}\n`);
    write('ETH/USD', `${csv(row(0), row(1), row(2))}\n`);
    const series = loadCsvDirectory(dir, ['BTC/USD', 'ETH/USD']);
    expect([...series.keys()]).toEqual(['BTC/USD', 'ETH/USD']);
    expect(series.get('BTC/USD')).toHaveLength(2);
    expect(series.get('ETH/USD')?.[2]?.close).toBe(103);
  });

  it('names the expected file when a symbol has none', () => {
    write('BTC/USD', `${csv(row(0))}\n`);
    const error = loadError(['BTC/USD', 'ETH/USD']);
    expect(error.message).toBe(`${join(dir, 'ETHUSD.csv')}: no data file for ETH/USD`);
    expect(error.file).toBe(join(dir, 'ETHUSD.csv'));
  });

  it('throws, returning nothing, when one file is good and the next is bad', () => {
    write('BTC/USD', `${csv(row(0), row(1))}\n`);
    const bad = write('ETH/USD', `${csv(row(0), `${T0 + H},101,103,99,102,-1`)}\n`);
    let result: unknown = 'not assigned';
    const error = (() => {
      try {
        result = loadCsvDirectory(dir, ['BTC/USD', 'ETH/USD']);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(result).toBe('not assigned');
    expect(error).toBeInstanceOf(MarketDataError);
    expect((error as Error).message).toBe(`${bad}:3: volume must not be negative, got -1`);
  });
});
