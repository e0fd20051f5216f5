/**
 * Export the journal as CSV: one file per table (`<table>.csv`), a header row, RFC 4180 quoting (fields with a
 * comma, quote, CR or LF are quoted, quotes doubled; lines end with CRLF). Read from a read-only connection in
 * one read transaction, so every table comes from the same snapshot while the agent keeps writing (WAL).
 *
 * Values: NULL is an empty field, the empty string is `""` (so the two stay apart), numbers as JavaScript prints
 * them (shortest round-trip form), BLOBs (digest images) as base64.
 */
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface ExportedTable {
  readonly table: string;
  readonly rows: number;
  readonly file: string;
  /** bytes */
  readonly size: number;
}

export interface ExportResult {
  readonly dir: string;
  readonly tables: readonly ExportedTable[];
  readonly durationMs: number;
}

/** One CSV field (RFC 4180). */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text: string;
  if (typeof value === 'string') {
    if (value === '') return '""';
    text = value;
  } else if (Buffer.isBuffer(value)) {
    text = value.toString('base64');
  } else {
    text = String(value);
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Write every table of the database at `dbPath` to `<outDir>/<table>.csv` (the folder is created, mode 0700;
 * files 0600 since the journal holds account data). Existing files are never overwritten: it throws instead.
 */
export function exportCsv(dbPath: string, outDir: string): ExportResult {
  const started = performance.now();
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
    const tables: ExportedTable[] = [];
    db.exec('BEGIN'); // one snapshot for every table
    try {
      const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
      for (const table of names) tables.push(exportTable(db, table, join(outDir, `${table}.csv`)));
    } finally {
      db.exec('COMMIT');
    }
    return { dir: outDir, tables, durationMs: performance.now() - started };
  } finally {
    db.close();
  }
}

function exportTable(db: Database.Database, table: string, file: string): ExportedTable {
  const stmt = db.prepare(`SELECT * FROM "${table.replaceAll('"', '""')}"`).raw(true);
  const fd = openSync(file, 'wx', 0o600);
  let rows = 0;
  try {
    let buffer = stmt.columns().map((c) => csvField(c.name)).join(',') + '\r\n';
    for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
      buffer += row.map(csvField).join(',') + '\r\n';
      rows++;
      if (buffer.length >= 1 << 20) {
        writeSync(fd, buffer);
        buffer = '';
      }
    }
    writeSync(fd, buffer);
  } finally {
    closeSync(fd);
  }
  return { table, rows, file, size: statSync(file).size };
}
