import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpTables, populate, tempDbPath } from '../../test/store-fixture.js';
import { openDatabase } from './database.js';
import { csvField, exportCsv } from './export.js';

/** A strict RFC 4180 reader (for the test only): quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = [];
  let row: Array<string | null> = [];
  let i = 0;
  while (i < text.length) {
    let field: string | null;
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quote');
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      field = value;
    } else {
      const end = text.slice(i).search(/,|\r\n/);
      const raw = end < 0 ? text.slice(i) : text.slice(i, i + end);
      if (/["\r\n]/.test(raw)) throw new Error(`bare quote or line break in an unquoted field: ${JSON.stringify(raw)}`);
      field = raw === '' ? null : raw; // an empty unquoted field is NULL; "" is the empty string
      i += raw.length;
    }
    row.push(field);
    if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else if (text[i] === ',') {
      i++;
    } else if (i < text.length) {
      throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`);
    }
  }
  if (row.length) throw new Error('last line without CRLF');
  return rows;
}

function asText(v: unknown): string | null {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return String(v);
}

describe('CSV export', () => {
  it('quotes per RFC 4180', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rlf')).toBe('"cr\rlf"');
    expect(csvField('')).toBe('""');
    expect(csvField(null)).toBe('');
    expect(csvField(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(csvField(Buffer.from('hi'))).toBe('aGk=');
  });

  it('round-trips every table, with quotes, commas and line breaks inside fields', () => {
    const path = tempDbPath('ce-export-');
    const db = openDatabase(path);
    populate(db, { decisions: 40 });
    db.prepare('INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)').run('tricky', 'a,b "c"\r\nd\ne\r', 1, '');
    const dump = dumpTables(db);
    const out = join(dirname(path), 'export');
    const result = exportCsv(path, out); // read-only connection, while ours stays open
    db.close();

    expect(result.tables.map((t) => t.table)).toEqual(Object.keys(dump));
    for (const t of result.tables) {
      expect(statSync(t.file).mode & 0o777).toBe(0o600);
      const [header, ...rows] = parseCsv(readFileSync(t.file, 'utf8'));
      const source = dump[t.table] as Array<Record<string, unknown>>;
      expect(t.rows, t.table).toBe(source.length);
      const columns = header!.map(String);
      if (source[0]) expect(columns, t.table).toEqual(Object.keys(source[0]));
      // the same rows, as text (compared as sorted lists: the export has no ORDER BY)
      const expected = source.map((r) => JSON.stringify(columns.map((c) => asText(r[c])))).sort();
      expect(rows.map((r) => JSON.stringify(r)).sort(), t.table).toEqual(expected);
    }
    const settings = parseCsv(readFileSync(join(out, 'settings.csv'), 'utf8'));
    expect(settings.find((r) => r[0] === 'tricky')).toEqual(['tricky', 'a,b "c"\r\nd\ne\r', '1', '']);
    const decisions = parseCsv(readFileSync(join(out, 'decisions.csv'), 'utf8'));
    expect(decisions.length).toBe(41);
    expect(decisions.some((r) => r.some((f) => f?.includes('chop, \\"quoted')))).toBe(true); // JSON with commas and quotes inside
  });

  it('never overwrites an existing file', () => {
    const path = tempDbPath('ce-export-');
    openDatabase(path).close();
    const out = join(dirname(path), 'export');
    exportCsv(path, out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    expect(() => exportCsv(path, out)).toThrow(/EEXIST/);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
