/**
 * NewsNarrative: the stateful side of the narrative signal. Scoring a headline may be slow (a local LLM), but the
 * engine asks for the narrative synchronously on every tick, so the two are split: `ingest()` scores new articles
 * once, asynchronously and in one batch, and caches the result per article id; `narrative()` only reads that
 * cache. An article that has not been scored yet is simply not counted (never guessed). Memory is bounded: only
 * articles young enough to matter (NarrativeScorer.maxAgeMs before the newest `now` seen) are kept, capped at
 * `maxItems`.
 */
import type { NewsItem } from '../../market/alpaca-news.js';
import type { Symbol } from '../../types.js';
import { NarrativeScorer, type NarrativeOptions, type NarrativeScore } from './narrative.js';
import { FallbackScorer, lexiconScorer, type HeadlineScorer } from './scorer.js';

export interface CachedScore {
  /** −1..1 */
  readonly score: number;
  /** Name of the scorer that produced it ('lexicon', 'ollama:<model>', ...). */
  readonly scorer: string;
}

export interface NewsNarrativeOptions extends Omit<NarrativeOptions, 'scoreItem'> {
  /** Hard cap on stored articles; the oldest go first. Default 2000. */
  readonly maxItems?: number;
}

export class NewsNarrative {
  readonly narrativeScorer: NarrativeScorer;
  readonly maxItems: number;
  private readonly items = new Map<number, NewsItem>();
  private readonly cache = new Map<number, CachedScore>();
  /** Ids handed to the scorer and not yet answered, so overlapping ingests do not score them twice. */
  private readonly inFlight = new Set<number>();
  /** The newest `now` seen; articles older than this minus maxAgeMs can never count again. */
  private watermark = -Infinity;
  /** How many times the scorer was called; for tests and status. */
  scorerCalls = 0;
  /** Error of the last failed ingest, cleared by the next successful one. */
  lastError: string | undefined;

  constructor(
    readonly scorer: HeadlineScorer = lexiconScorer,
    opts: NewsNarrativeOptions = {},
  ) {
    this.narrativeScorer = new NarrativeScorer({ ...opts, scoreItem: (a) => this.cache.get(a.id)?.score ?? 0 });
    this.maxItems = opts.maxItems ?? 2000;
  }

  /**
   * Store new articles and score the ones not scored yet, in one scorer call. `now` (optional) advances the
   * pruning clock, so stale articles are neither stored nor sent to the scorer. Rejects only when the scorer
   * itself fails or answers wrongly (a FallbackScorer never does); the articles then stay unscored and are
   * retried by the next ingest.
   */
  async ingest(items: readonly NewsItem[], now?: number): Promise<void> {
    if (now !== undefined) this.advance(now);
    const cutoff = this.watermark - this.narrativeScorer.maxAgeMs;
    for (const item of items) {
      if (this.items.has(item.id) || item.createdAt < cutoff) continue;
      this.items.set(item.id, item);
    }
    this.prune();
    const pending = [...this.items.values()].filter((a) => !this.cache.has(a.id) && !this.inFlight.has(a.id));
    if (pending.length === 0) return;
    for (const a of pending) this.inFlight.add(a.id);
    try {
      this.scorerCalls++;
      const headlines = pending.map((a) => a.headline);
      const answer =
        this.scorer instanceof FallbackScorer
          ? await this.scorer.scoreWithSource(headlines)
          : { scores: await this.scorer.score(headlines), scorer: this.scorer.name };
      if (answer.scores.length !== pending.length) {
        throw new Error(`${answer.scorer} returned ${answer.scores.length} scores for ${pending.length} headlines`);
      }
      const bad = answer.scores.findIndex((s) => !Number.isFinite(s));
      if (bad >= 0) throw new Error(`${answer.scorer} returned a non-finite score for article ${pending[bad]!.id}`);
      pending.forEach((a, i) => {
        // Only cache articles still stored: one may have been pruned while the scorer was busy.
        if (this.items.has(a.id)) this.cache.set(a.id, { score: Math.max(-1, Math.min(1, answer.scores[i]!)), scorer: answer.scorer });
      });
      this.lastError = undefined;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      for (const a of pending) this.inFlight.delete(a.id);
    }
  }

  /** Narrative for `symbol` at `now` from cached scores only: synchronous, no look-ahead, null without news. */
  narrative(symbol: Symbol, now: number): NarrativeScore {
    this.advance(now);
    this.prune();
    const scored = [...this.items.values()].filter((a) => this.cache.has(a.id));
    return this.narrativeScorer.scoreSymbol(scored, symbol, now);
  }

  /** The cached score of one article, if it has been scored. */
  scoreOf(id: number): CachedScore | undefined {
    return this.cache.get(id);
  }

  /** True when at least one stored article has a score, i.e. narrative() can say something. */
  get hasNews(): boolean {
    return this.cache.size > 0;
  }

  /** Stored articles, scored or not. */
  get articleCount(): number {
    return this.items.size;
  }

  get scoredCount(): number {
    return this.cache.size;
  }

  /** Stored articles still waiting for a score (e.g. the scorer failed, or is busy). */
  get pendingCount(): number {
    return this.items.size - this.cache.size;
  }

  /** Scored articles per scorer name, e.g. { 'ollama:llama3.2': 10, lexicon: 2 }. */
  scoredBy(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.cache.values()) out[c.scorer] = (out[c.scorer] ?? 0) + 1;
    return out;
  }

  /** One line for a status command, e.g. "news: 12 articles scored (10 ollama:llama3.2, 2 lexicon), 1 pending". */
  statusLine(): string {
    if (this.items.size === 0) return 'news: none';
    const by = Object.entries(this.scoredBy())
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${n} ${name}`)
      .join(', ');
    const parts = [`news: ${this.scoredCount} article${this.scoredCount === 1 ? '' : 's'} scored${by ? ` (${by})` : ''}`];
    if (this.pendingCount > 0) parts.push(`${this.pendingCount} pending`);
    if (this.lastError !== undefined) parts.push(`last error: ${this.lastError}`);
    return parts.join(', ');
  }

  private advance(now: number): void {
    if (now > this.watermark) this.watermark = now;
  }

  /** Drop articles too old to ever count again, then the oldest beyond maxItems; their scores go with them. */
  private prune(): void {
    const cutoff = this.watermark - this.narrativeScorer.maxAgeMs;
    for (const [id, a] of this.items) if (a.createdAt < cutoff) this.drop(id);
    if (this.items.size <= this.maxItems) return;
    const byAge = [...this.items.values()].sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
    for (const a of byAge.slice(0, this.items.size - this.maxItems)) this.drop(a.id);
  }

  private drop(id: number): void {
    this.items.delete(id);
    this.cache.delete(id);
  }
}
