/**
 * Headline polarity from a local Ollama model, behind the HeadlineScorer port. The LLM is an optional advisor and
 * never on the order path: anything unexpected (timeout, HTTP error, prose instead of JSON, the wrong number of
 * scores) is a thrown Error here, and the FallbackScorer built by headlineScorerFromEnv() answers with the
 * offline lexicon instead.
 */
import { Ollama } from 'ollama';
import { z } from 'zod';
import { FallbackScorer, lexiconScorer, type HeadlineScorer } from '../engine/signals/news/scorer.js';

export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434';

export interface OllamaScorerOptions {
  /** Ollama server, e.g. http://127.0.0.1:11434. */
  readonly host?: string;
  readonly model: string;
  /** Each HTTP request is aborted after this long, so a hung server does not collect open requests. Default 15 s. */
  readonly timeoutMs?: number;
  /** Underlying fetch (tests, proxies). Default the global fetch. */
  readonly fetch?: typeof fetch;
}

const SYSTEM_PROMPT = [
  'You rate crypto-market news headlines for a trading system.',
  'For each numbered headline, give its likely effect on the price of the crypto asset(s) it is about, as a polarity',
  'from -1 (very bearish) through 0 (neutral, unclear or irrelevant) to 1 (very bullish).',
  'Answer only with JSON of the form {"scores": [number, ...]}: exactly one number per headline, in the given order.',
].join(' ');

/** The model's content, once parsed: exactly one finite number per headline. */
const contentSchema = z.object({ scores: z.array(z.number()) });
/** The parts of Ollama's chat response we rely on. */
const chatResponseSchema = z.object({ message: z.object({ content: z.string() }) });

/** JSON schema for Ollama's structured output (`format`): constrains decoding to {scores: number[n]}. */
export function scoresFormat(n: number): Record<string, unknown> {
  return {
    type: 'object',
    properties: { scores: { type: 'array', items: { type: 'number', minimum: -1, maximum: 1 }, minItems: n, maxItems: n } },
    required: ['scores'],
  };
}

export class OllamaHeadlineScorer implements HeadlineScorer {
  readonly name: string;
  readonly host: string;
  readonly model: string;
  readonly timeoutMs: number;
  private readonly client: Ollama;

  constructor(opts: OllamaScorerOptions) {
    this.host = opts.host ?? DEFAULT_OLLAMA_HOST;
    this.model = opts.model;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.name = `ollama:${this.model}`;
    const base = opts.fetch ?? fetch;
    const timeoutMs = this.timeoutMs;
    // The client passes no AbortSignal for non-streamed requests, so the timeout is added here; it also covers
    // reading the body.
    const timedFetch: typeof fetch = (input, init) => {
      const timeout = AbortSignal.timeout(timeoutMs);
      return base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
    };
    this.client = new Ollama({ host: this.host, fetch: timedFetch });
  }

  async score(headlines: readonly string[]): Promise<number[]> {
    if (headlines.length === 0) return [];
    const n = headlines.length;
    let raw: unknown;
    try {
      raw = await this.client.chat({
        model: this.model,
        stream: false,
        format: scoresFormat(n),
        options: { temperature: 0 },
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: `${n} headline${n === 1 ? '' : 's'}:\n${headlines.map((h, i) => `${i + 1}. ${oneLine(h)}`).join('\n')}` },
        ],
      });
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw new Error(`${this.name}: no answer within ${this.timeoutMs} ms`);
      }
      throw new Error(`${this.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return this.parse(raw, n);
  }

  private parse(raw: unknown, n: number): number[] {
    const response = chatResponseSchema.safeParse(raw);
    if (!response.success) throw new Error(`${this.name}: unexpected chat response shape`);
    const content = response.data.message.content;
    let json: unknown;
    try {
      json = JSON.parse(content);
    } catch {
      throw new Error(`${this.name}: content is not JSON: ${preview(content)}`);
    }
    const parsed = contentSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${this.name}: content is not {"scores": number[]}: ${preview(content)}`);
    const scores = parsed.data.scores;
    if (scores.length !== n) throw new Error(`${this.name}: ${scores.length} scores for ${n} headlines`);
    return scores.map((s) => Math.max(-1, Math.min(1, s)));
  }
}

/** Headlines are numbered one per line, so a newline inside one would shift the numbering. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function preview(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

export interface ScorerLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface ScorerFromEnvOptions {
  /** Per-call budget for the LLM. Default 15 s. */
  readonly timeoutMs?: number;
  /** Skip the LLM for this long after a failure. Default 60 s. */
  readonly cooldownMs?: number;
}

/**
 * The lexicon when OLLAMA_MODEL is unset (the LLM is optional); otherwise the model at OLLAMA_HOST, falling back
 * to the lexicon and logging a warning whenever it fails.
 */
export function headlineScorerFromEnv(env: NodeJS.ProcessEnv = process.env, log?: ScorerLog, opts: ScorerFromEnvOptions = {}): HeadlineScorer {
  const model = env.OLLAMA_MODEL?.trim();
  if (!model) return lexiconScorer;
  const host = env.OLLAMA_HOST?.trim() || DEFAULT_OLLAMA_HOST;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const primary = new OllamaHeadlineScorer({ host, model, timeoutMs });
  log?.info({ host, model }, 'headline scorer: ollama, lexicon as fallback');
  return new FallbackScorer(primary, lexiconScorer, {
    timeoutMs,
    ...(opts.cooldownMs !== undefined ? { cooldownMs: opts.cooldownMs } : {}),
    onFallback: (reason) => log?.warn({ reason, model }, 'headline scorer: ollama failed, using the lexicon'),
  });
}
