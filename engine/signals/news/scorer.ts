/**
 * The headline-scoring port. The narrative signal needs one polarity per headline; where it comes from is a
 * deployment choice: the offline lexicon (deterministic, always there, used in backtests) or an optional local
 * LLM. The LLM is an advisor that may be slow, down or wrong-shaped, so it is always wrapped in a
 * FallbackScorer: whatever happens, the caller gets a full, finite answer from the lexicon instead of an error.
 */
import { scoreHeadline } from './lexicon.js';

export interface HeadlineScorer {
  /** e.g. 'lexicon' or 'ollama:<model>' */
  readonly name: string;
  /** one polarity in −1..1 per headline, same order and length */
  score(headlines: readonly string[]): Promise<number[]>;
}

/** The offline lexicon behind the port. Never fails, so it is the fallback of last resort. */
export const lexiconScorer: HeadlineScorer = {
  name: 'lexicon',
  score: (headlines) => Promise.resolve(headlines.map((h) => scoreHeadline(h).score)),
};

export type ScoreSource = 'primary' | 'fallback';

/** One answer plus who gave it, so a cache can remember per headline which scorer produced the number. */
export interface SourcedScores {
  readonly scores: number[];
  readonly source: ScoreSource;
  /** Name of the scorer whose numbers these are. */
  readonly scorer: string;
  /** Why the primary was not used, when source is 'fallback'. */
  readonly error?: string;
}

export interface FallbackOptions {
  /** How long the primary gets per call before the fallback answers. Default 10 s. */
  readonly timeoutMs?: number;
  /** After a primary failure, go straight to the fallback for this long. Default 60 s. */
  readonly cooldownMs?: number;
  /** Clock for the cool-down (ms). Default Date.now; injectable for tests. */
  readonly now?: () => number;
  /** Called once per primary failure (not per skipped call during the cool-down), for logs and alerts. */
  readonly onFallback?: (reason: string) => void;
}

/**
 * Tries `primary` under a timeout and answers with `fallback` on timeout, rejection, non-finite values or a
 * wrong-length answer. Never throws. After a failure the primary is skipped for `cooldownMs` so a dead LLM is
 * not hit (and waited on for a full timeout) on every call; the first call after the cool-down retries it.
 */
export class FallbackScorer implements HeadlineScorer {
  readonly name: string;
  readonly timeoutMs: number;
  readonly cooldownMs: number;
  /** Who answered the last call. */
  lastSource: ScoreSource = 'primary';
  /** Why the last call fell back; undefined when the primary answered. */
  lastError: string | undefined;
  private skipUntil = -Infinity;
  private lastFailure = '';
  private readonly now: () => number;
  private readonly onFallback: ((reason: string) => void) | undefined;

  constructor(
    readonly primary: HeadlineScorer,
    readonly fallback: HeadlineScorer = lexiconScorer,
    opts: FallbackOptions = {},
  ) {
    this.name = `${primary.name} or ${fallback.name}`;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.cooldownMs = opts.cooldownMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.onFallback = opts.onFallback;
  }

  /** True while the primary is being skipped after a failure. */
  get coolingDown(): boolean {
    return this.now() < this.skipUntil;
  }

  async score(headlines: readonly string[]): Promise<number[]> {
    return (await this.scoreWithSource(headlines)).scores;
  }

  /** Like score(), plus which scorer answered; free of races between concurrent calls, unlike lastSource. */
  async scoreWithSource(headlines: readonly string[]): Promise<SourcedScores> {
    if (headlines.length === 0) return this.record({ scores: [], source: 'primary', scorer: this.primary.name });
    if (this.coolingDown) {
      return this.record(await this.useFallback(headlines, `primary cooling down after: ${this.lastFailure}`));
    }
    try {
      const raw = await withTimeout(() => this.primary.score(headlines), this.timeoutMs, `${this.primary.name} timed out after ${this.timeoutMs} ms`);
      const scores = checked(raw, headlines.length, this.primary.name);
      return this.record({ scores, source: 'primary', scorer: this.primary.name });
    } catch (err) {
      const reason = errorText(err);
      this.lastFailure = reason;
      this.skipUntil = this.now() + this.cooldownMs;
      try {
        this.onFallback?.(reason);
      } catch {
        // A broken logger must not turn a fallback into a failure.
      }
      return this.record(await this.useFallback(headlines, reason));
    }
  }

  private async useFallback(headlines: readonly string[], reason: string): Promise<SourcedScores> {
    try {
      const scores = checked(await this.fallback.score(headlines), headlines.length, this.fallback.name);
      return { scores, source: 'fallback', scorer: this.fallback.name, error: reason };
    } catch (err) {
      // A custom fallback failed too: the lexicon is pure and cannot, so it is the last resort.
      const scores = await lexiconScorer.score(headlines);
      return { scores, source: 'fallback', scorer: lexiconScorer.name, error: `${reason}; ${this.fallback.name} failed too: ${errorText(err)}` };
    }
  }

  private record(r: SourcedScores): SourcedScores {
    this.lastSource = r.source;
    this.lastError = r.error;
    return r;
  }
}

/** Same length, all finite, clamped to −1..1; throws otherwise. */
function checked(raw: unknown, expected: number, who: string): number[] {
  if (!Array.isArray(raw)) throw new Error(`${who} returned ${typeof raw}, not an array of scores`);
  if (raw.length !== expected) throw new Error(`${who} returned ${raw.length} scores for ${expected} headlines`);
  return raw.map((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${who} returned a non-finite score at ${i}: ${String(x)}`);
    return Math.max(-1, Math.min(1, x));
  });
}

/** Runs `fn` (sync throws become rejections) and rejects after `ms`. A late settle of `fn` is swallowed. */
function withTimeout<T>(fn: () => Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    let p: Promise<T>;
    try {
      p = Promise.resolve(fn());
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
