/**
 * The Ollama advisor behind `/advise [question]`: a short answer grounded in a snapshot of the same numbers `/stats`
 * shows. It is read-only and never on the order path: it sees only the snapshot the caller hands it (no engine,
 * no broker, no tools) and writes only to the `advice` table.
 *
 * - With OLLAMA_MODEL set, the model answers through a streamed `/api/chat` (temperature 0.2, no tools); `onText`
 *   gets the accumulated text as chunks arrive.
 * - Time is bounded three ways, each aborting the HTTP request: a total budget (default 30 s), the first chunk
 *   (default 10 s) and the gap between chunks (default 10 s). `advise` never hangs and never throws for LLM problems.
 * - Anything wrong (no model configured, server down, model not pulled, a timeout, a stream that breaks off, an empty
 *   answer) gives `fallbackSummary(snapshot, question)`, a plain deterministic summary, with a one-line `note` saying why.
 * - A partial answer that broke off is NOT presented as the answer (it may be cut mid-sentence or mid-number): the
 *   caller gets the fallback summary. The partial is kept for the record in the saved row's `note`, after the
 *   one-line reason: `<reason> | partial answer discarded: "<partial, JSON-quoted>"`. The saved `answer` is always
 *   exactly what was returned. (`onText` has already shown the partial; the caller replaces it with the answer.)
 * - Post-check: numbers in the model's answer that are not in the snapshot get a one-line caution appended (see
 *   `unsupportedNumbers` for the rule).
 * - Every answer is saved to `advice` (actor, question, snapshot JSON, prompt JSON, answer, source, model, note)
 *   before `advise` returns. A failing insert is logged, not thrown: the user still gets the answer.
 */
import { Ollama } from 'ollama';
import { z } from 'zod';
import type { Db } from '../src/store/database.js';

export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434';
export const DEFAULT_QUESTION = 'What is going on?';
/** Longer questions are cut to this many characters before they reach the prompt or the table. */
export const MAX_QUESTION_CHARS = 1_000;

// ---------------------------------------------------------------------------------------------------------------
// The snapshot

const label = z.string().min(1);
const finite = z.number(); // zod 4 rejects NaN and ±Infinity
const regimeValue = z.union([finite, z.string(), z.null()]).optional();

export const advisorSnapshotSchema = z.object({
  /** backtest | sim | paper | live */
  mode: label,
  /** ISO 8601 time the numbers were taken */
  asOf: z.iso.datetime({ offset: true }),
  /** the /stats numbers; keys carry their units, e.g. returnPct, equityUsd, maxDrawdownPct */
  stats: z.record(z.string(), z.union([finite, z.string(), z.null()])),
  positions: z.array(z.object({ symbol: label, qty: finite, valueUsd: finite, unrealizedPnlUsd: finite })),
  recentTrades: z.array(z.object({ ts: z.string().min(1), symbol: label, side: label, qty: finite, priceUsd: finite })),
  riskEvents: z.array(z.object({ ts: z.string().min(1), kind: label, symbol: label.optional(), reason: z.string() })),
  regime: z.array(z.object({ symbol: label, volatility: regimeValue, trend: regimeValue, momentum: regimeValue })),
  /** e.g. normal | cautious | halted */
  riskState: label,
});

export type AdvisorSnapshot = z.infer<typeof advisorSnapshotSchema>;

/** The snapshot, validated; throws an Error listing the problems if it is not a valid AdvisorSnapshot. */
export function parseAdvisorSnapshot(input: unknown): AdvisorSnapshot {
  const r = advisorSnapshotSchema.safeParse(input);
  if (!r.success) throw new Error(`invalid advisor snapshot:\n${z.prettifyError(r.error)}`);
  return r.data;
}

// ---------------------------------------------------------------------------------------------------------------
// The prompt

export const SYSTEM_PROMPT = [
  'You are a read-only assistant for a crypto trading agent. You explain its state; you cannot act on it.',
  'Answer briefly: a few short lines that read well on a phone, no tables, no headings.',
  'Quote ONLY numbers that are present in the JSON snapshot in the user message; do not compute, estimate or invent new ones.',
  'Never suggest that you can place, change or cancel orders, or change any setting.',
  'If the snapshot cannot answer the question, say so plainly.',
].join(' ');

export interface AdvisorPrompt {
  /** null when no model is configured (the prompt is saved anyway, for the record). */
  readonly model: string | null;
  readonly options: { readonly temperature: number };
  readonly messages: ReadonlyArray<{ readonly role: 'system' | 'user'; readonly content: string }>;
}

/** The exact chat request body (minus `stream`) for a question and a snapshot. Pure. */
export function buildPrompt(model: string | null, question: string, snapshot: AdvisorSnapshot): AdvisorPrompt {
  return {
    model,
    options: { temperature: 0.2 },
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: `Question: ${question}\n\nSnapshot (JSON):\n${JSON.stringify(snapshot)}` },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The plain summary

/**
 * A plain, deterministic summary of the snapshot in short lines: the header (mode, time, risk state), the stats
 * (return-like keys first), positions, the last 3 trades, the last 3 risk events and the regime. The same snapshot
 * and question always give the same text; numbers are printed as in the snapshot (non-integers to 4 significant
 * digits, or 2 decimals from 100 up), so they pass the number post-check.
 */
export function fallbackSummary(snapshot: AdvisorSnapshot, question?: string): string {
  const s = snapshot;
  const lines: string[] = [];
  lines.push(`${s.mode} · as of ${shortTime(s.asOf)} · risk: ${s.riskState}`);

  const statKeys = Object.keys(s.stats);
  const ordered = [...statKeys.filter((k) => /return/i.test(k)), ...statKeys.filter((k) => !/return/i.test(k))];
  if (ordered.length > 0) lines.push(`Stats: ${ordered.map((k) => `${k} ${fmtValue(s.stats[k] ?? null)}`).join(', ')}`);
  else lines.push('Stats: none yet');

  if (s.positions.length === 0) lines.push('Positions: none (flat)');
  else {
    lines.push(`Positions (${s.positions.length}):`);
    for (const p of s.positions) {
      lines.push(`• ${p.symbol} ${fmtNum(p.qty)} = ${usd(p.valueUsd)}, unrealized ${signedUsd(p.unrealizedPnlUsd)}`);
    }
  }

  lines.push(...lastOf('Recent trades', s.recentTrades, (t) => `• ${shortTime(t.ts)} ${t.side} ${fmtNum(t.qty)} ${t.symbol} @ ${usd(t.priceUsd)}`, 'Recent trades: none'));
  lines.push(...lastOf('Risk events', s.riskEvents, (e) => `• ${shortTime(e.ts)} ${e.kind}${e.symbol ? ` ${e.symbol}` : ''}: ${oneLine(e.reason)}`, 'Risk events: none'));

  if (s.regime.length > 0) {
    const parts = s.regime.map((r) => {
      const bits = (['volatility', 'trend', 'momentum'] as const)
        .filter((k) => r[k] !== undefined && r[k] !== null)
        .map((k) => `${k} ${fmtValue(r[k] ?? null)}`);
      return `${r.symbol}${bits.length ? ` ${bits.join(', ')}` : ''}`;
    });
    lines.push(`Regime: ${parts.join('; ')}`);
  }

  const q = question?.trim();
  if (q && q !== DEFAULT_QUESTION) lines.push(`(Plain summary; your question “${oneLine(q).slice(0, 120)}” was not interpreted.)`);
  return lines.join('\n');
}

function lastOf<T>(title: string, items: readonly T[], line: (item: T) => string, none: string): string[] {
  if (items.length === 0) return [none];
  const shown = items.slice(-3);
  const more = items.length - shown.length;
  return [`${title} (${items.length}${more > 0 ? `, last ${shown.length}` : ''}):`, ...shown.map(line)];
}

/** "2024-01-10T12:34:56.000Z" → "2024-01-10 12:34 UTC"; anything unparsable as given. */
function shortTime(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function fmtNum(n: number): string {
  if (Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(2);
  return String(Number(n.toPrecision(4)));
}

function fmtValue(v: number | string | null): string {
  if (v === null) return 'n/a';
  return typeof v === 'number' ? fmtNum(v) : v;
}

function usd(n: number): string {
  return `${n < 0 ? '-' : ''}$${fmtNum(Math.abs(n))}`;
}

function signedUsd(n: number): string {
  return n > 0 ? `+${usd(n)}` : usd(n);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------------------------
// The number post-check

/** Every number in the snapshot: numeric fields, digits inside strings (dates, times), and the list lengths. */
export function snapshotNumbers(snapshot: AdvisorSnapshot): number[] {
  const out: number[] = [snapshot.positions.length, snapshot.recentTrades.length, snapshot.riskEvents.length, snapshot.regime.length];
  const walk = (v: unknown): void => {
    if (typeof v === 'number') out.push(v);
    // Any digit run inside a string counts, glued to letters or not ("2024-01-10T12:00:00Z" gives 12 and 00 too).
    else if (typeof v === 'string') for (const m of v.matchAll(/\d+(?:\.\d+)?/g)) out.push(Number(m[0]));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(snapshot);
  return out;
}

interface FoundNumber {
  readonly text: string;
  /** absolute value */
  readonly value: number;
  readonly decimals: number;
}

/** Numbers written in text, as absolute values: "-$1,234.5" → 1234.5; digits right after a letter (llama3, BTC2) are skipped. */
function numbersIn(text: string): FoundNumber[] {
  const out: FoundNumber[] = [];
  for (const m of text.matchAll(/(?<![\p{L}\d_.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\d,]\d)/gu)) {
    const digits = m[1]!.replace(/,/g, '');
    const frac = m[2] ?? '';
    out.push({ text: m[0], value: Number(frac ? `${digits}.${frac}` : digits), decimals: frac.length });
  }
  return out;
}

/**
 * The numbers in `answer` that the snapshot does not support. The rule, deliberately simple:
 * - numbers are compared as absolute values ("down 2.3%" matches -2.3), thousands separators and "$" ignored;
 * - a number written with d decimals matches a snapshot number v when they differ by at most one unit in its last
 *   written digit (10^-d): rounding and truncation both pass; a non-integer v between -1 and 1 also matches as
 *   v × 100 (a fraction shown as a percentage: 0.031 → 3.1%);
 * - single-digit integers (0–9) are not checked: counts, list numbering and "1 position" are too common to flag;
 * - digits right after a letter (llama3, BTC2) are not numbers; a unit after them is ignored ("24h", "12k" check 24, 12);
 * - the snapshot's numbers are every numeric field, every digit run inside its strings (dates, times) and the
 *   lengths of its lists.
 * Returns the offending numbers as written, in order, without repeats.
 */
export function unsupportedNumbers(answer: string, snapshot: AdvisorSnapshot): string[] {
  const known = snapshotNumbers(snapshot).map(Math.abs);
  const percents = known.filter((v) => v < 1 && !Number.isInteger(v)).map((v) => v * 100);
  const bad: string[] = [];
  for (const n of numbersIn(answer)) {
    if (n.decimals === 0 && n.value < 10) continue;
    const tol = 10 ** -n.decimals + 1e-9;
    const ok = known.some((v) => Math.abs(n.value - v) <= tol) || percents.some((v) => Math.abs(n.value - v) <= tol);
    if (!ok && !bad.includes(n.text)) bad.push(n.text);
  }
  return bad;
}

/** The one-line caution appended to an LLM answer with unsupported numbers (at most 5 listed). */
export function numberCaution(bad: readonly string[]): string {
  const shown = bad.slice(0, 5).join(', ');
  return `⚠️ Not in the data, check before relying on: ${shown}${bad.length > 5 ? ` (+${bad.length - 5} more)` : ''}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The advisor

export interface AdvisorLog {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface AdvisorOptions {
  /** Ollama server. Default http://127.0.0.1:11434. */
  readonly host?: string;
  /** The model; undefined or empty = no LLM, always the plain summary. */
  readonly model?: string;
  /** Whole LLM call, connect to last chunk. Default 30 s. */
  readonly timeoutMs?: number;
  /** From the request to the first streamed chunk (includes loading the model). Default 10 s. */
  readonly firstTokenTimeoutMs?: number;
  /** Longest gap between two chunks. Default 10 s. */
  readonly idleTimeoutMs?: number;
  /** Where answers are saved (the `advice` table, migration 5). */
  readonly db: Db;
  /** Clock for `created_at` (ms). Default Date.now. */
  readonly now?: () => number;
  readonly log?: AdvisorLog;
  /** Underlying fetch (tests, proxies). Default the global fetch. */
  readonly fetch?: typeof fetch;
}

export interface AdviseRequest {
  /** Who asked, e.g. "telegram:12345"; saved with the answer. */
  readonly actor: string;
  /** Empty or missing = "What is going on?". */
  readonly question?: string;
  /** Validated here; an invalid snapshot is the only thing `advise` throws for. */
  readonly snapshot: AdvisorSnapshot;
  /** Called with the accumulated text after each streamed chunk (the caller throttles its message edits). */
  readonly onText?: (soFar: string) => void;
}

export interface AdviseResult {
  readonly answer: string;
  readonly source: 'ollama' | 'fallback';
  /** One line: why the fallback answered, or the caution about unsupported numbers. */
  readonly note?: string;
  /** The configured model, if any (also on fallback answers). */
  readonly model?: string;
}

type Outcome =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly note: string; readonly partial: string };

export class Advisor {
  readonly host: string;
  readonly model: string | undefined;
  readonly timeoutMs: number;
  readonly firstTokenTimeoutMs: number;
  readonly idleTimeoutMs: number;
  private readonly db: Db;
  private readonly now: () => number;
  private readonly log: AdvisorLog | undefined;
  private readonly baseFetch: typeof fetch;

  constructor(opts: AdvisorOptions) {
    this.host = opts.host?.trim() || DEFAULT_OLLAMA_HOST;
    this.model = opts.model?.trim() || undefined;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.firstTokenTimeoutMs = opts.firstTokenTimeoutMs ?? 10_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 10_000;
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.baseFetch = opts.fetch ?? fetch;
  }

  async advise(req: AdviseRequest): Promise<AdviseResult> {
    const snapshot = parseAdvisorSnapshot(req.snapshot);
    const question = oneLineQuestion(req.question);
    const model = this.model;
    const prompt = buildPrompt(model ?? null, question, snapshot);

    let result: AdviseResult;
    let savedNote: string | undefined;
    if (model === undefined) {
      result = { answer: fallbackSummary(snapshot, question), source: 'fallback', note: 'no OLLAMA_MODEL configured; plain summary instead' };
      savedNote = result.note;
    } else {
      const outcome = await this.ask(model, prompt, req.onText);
      if (outcome.ok) {
        const bad = unsupportedNumbers(outcome.text, snapshot);
        const note = bad.length > 0 ? numberCaution(bad) : undefined;
        result = { answer: note ? `${outcome.text}\n${note}` : outcome.text, source: 'ollama', model, ...(note ? { note } : {}) };
        savedNote = note;
      } else {
        result = { answer: fallbackSummary(snapshot, question), source: 'fallback', note: outcome.note, model };
        savedNote = outcome.partial ? `${outcome.note} | partial answer discarded: ${JSON.stringify(outcome.partial)}` : outcome.note;
        this.log?.warn({ model, host: this.host, reason: outcome.note }, 'advisor: ollama failed, plain summary instead');
      }
    }
    this.save(req.actor, question, snapshot, prompt, result, savedNote);
    return result;
  }

  /** One streamed chat, bounded in time. Never throws, never hangs past the total timeout. */
  private async ask(model: string, prompt: AdvisorPrompt, onText: ((soFar: string) => void) | undefined): Promise<Outcome> {
    const ctl = new AbortController();
    const base = this.baseFetch;
    const client = new Ollama({
      host: this.host,
      fetch: (input, init) => base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, ctl.signal]) : ctl.signal }),
    });

    let why: string | undefined;
    // Rejects when any of the timers fires, so no await below can outlive an abort the client does not honour.
    const aborted = new Promise<never>((_, reject) => {
      ctl.signal.addEventListener('abort', () => reject(new Error(why ?? 'aborted')), { once: true });
    });
    aborted.catch(() => undefined);
    const abort = (reason: string): void => {
      if (ctl.signal.aborted) return;
      why = reason;
      ctl.abort(new Error(reason));
    };
    const total = setTimeout(() => abort(`the model took longer than ${secs(this.timeoutMs)} in total`), this.timeoutMs);
    let idle = setTimeout(() => abort(`the model took longer than ${secs(this.firstTokenTimeoutMs)} to start answering`), this.firstTokenTimeoutMs);
    const stopTimers = (): void => {
      clearTimeout(total);
      clearTimeout(idle);
    };

    let text = '';
    let phase: 'connect' | 'stream' = 'connect';
    let iterator: AsyncIterator<{ message?: { content?: string }; done?: boolean }> | undefined;
    try {
      const stream = await Promise.race([
        client.chat({ model, stream: true, messages: prompt.messages.map((m) => ({ ...m })), options: { ...prompt.options } }),
        aborted,
      ]);
      phase = 'stream';
      iterator = stream[Symbol.asyncIterator]();
      ctl.signal.addEventListener('abort', () => stream.abort(), { once: true });
      for (;;) {
        const step = await Promise.race([iterator.next(), aborted]);
        if (step.done) break;
        clearTimeout(idle);
        idle = setTimeout(() => abort(`the answer stalled for more than ${secs(this.idleTimeoutMs)} mid-stream`), this.idleTimeoutMs);
        const piece = step.value.message?.content ?? '';
        if (piece) {
          text += piece;
          try {
            onText?.(text);
          } catch (err) {
            this.log?.warn({ err: errorText(err) }, 'advisor: onText threw; streaming on');
          }
        }
        // No break on done: the client's iterator ends itself right after the done chunk, releasing the request.
      }
      stopTimers();
      const answer = text.trim();
      if (!answer) return { ok: false, note: `model ${model} returned an empty answer; plain summary instead`, partial: '' };
      return { ok: true, text: answer };
    } catch (err) {
      stopTimers();
      if (!ctl.signal.aborted) ctl.abort(new Error('advisor gave up'));
      if (iterator?.return) void iterator.return(undefined).catch(() => undefined);
      return { ok: false, note: why ?? this.describe(err, model, phase, text), partial: text.trim() };
    }
  }

  private describe(err: unknown, model: string, phase: 'connect' | 'stream', text: string): string {
    const status = (err as { status_code?: unknown } | null)?.status_code;
    if (typeof status === 'number') {
      if (status === 404) return `model ${model} is not installed (404); plain summary instead`;
      return `Ollama answered ${status}: ${oneLine(errorText(err)).slice(0, 160)}; plain summary instead`;
    }
    if (phase === 'connect') {
      const code = causeCode(err);
      return `Ollama unreachable at ${this.host}${code ? ` (${code})` : ''}; plain summary instead`;
    }
    const msg = oneLine(errorText(err)).slice(0, 160);
    return text ? `the answer broke off mid-stream: ${msg}` : `the model failed before answering: ${msg}`;
  }

  private save(actor: string, question: string, snapshot: AdvisorSnapshot, prompt: AdvisorPrompt, result: AdviseResult, note: string | undefined): void {
    try {
      this.db
        .prepare(
          `INSERT INTO advice (created_at, actor, question, snapshot, prompt, answer, source, model, note)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(this.now(), actor, question, JSON.stringify(snapshot), JSON.stringify(prompt), result.answer, result.source, this.model ?? null, note ?? null);
    } catch (err) {
      this.log?.warn({ err: errorText(err) }, 'advisor: could not save the answer to the advice table');
    }
  }
}

function oneLineQuestion(q: string | undefined): string {
  const t = oneLine(q ?? '');
  return t ? t.slice(0, MAX_QUESTION_CHARS) : DEFAULT_QUESTION;
}

/** 300 → "300 ms", 10000 → "10 s", 1500 → "1.5 s". */
function secs(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${Number((ms / 1_000).toFixed(1))} s`;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause && cause !== err.message ? `${err.message} (${cause})` : err.message;
}

/** ECONNREFUSED and friends, from fetch's error cause (undici nests them). */
function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) e = errors[0];
    else e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
