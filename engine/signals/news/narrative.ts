/**
 * Narrative signal: per-symbol news sentiment at a time `now`, from NewsItems scored offline by the lexicon
 * (or by an injected per-article score).
 * Each unique story counts once (novelty), its weight halves every `halfLifeMs`, and nothing published after
 * `now` is seen (no look-ahead). With no usable news the score is null — never a faked 0.
 */
import type { NewsItem } from '../../market/alpaca-news.js';
import type { Symbol } from '../../types.js';
import { scoreHeadline, tokenize } from './lexicon.js';

export interface NarrativeScore {
  /** −1..1, or null when there is no news to judge by. */
  readonly score: number | null;
  /** Unique (de-duplicated) articles that contributed. */
  readonly articles: number;
  readonly reason: string;
}

export interface NarrativeOptions {
  /** Age at which an article's weight has halved. Default 6 h. */
  readonly halfLifeMs?: number;
  /** Articles older than this are ignored entirely. Default 48 h. */
  readonly maxAgeMs?: number;
  /** Token-set Jaccard similarity at or above which two headlines are the same story. Default 0.8. */
  readonly duplicateJaccard?: number;
  /**
   * Polarity −1..1 of one article. Default: the offline lexicon on the headline. Injectable so scores computed
   * elsewhere (e.g. cached LLM scores, see NewsNarrative) can be used while scoring stays synchronous.
   */
  readonly scoreItem?: (item: NewsItem) => number;
}

/** The default per-article score: the offline lexicon on the headline. */
export const lexiconItemScore = (item: NewsItem): number => scoreHeadline(item.headline).score;

const HOUR = 3_600_000;

/** Weight of an article `ageMs` old: 1 when fresh, 0.5 at one half-life, 0.25 at two. */
export function decayWeight(ageMs: number, halfLifeMs: number): number {
  return Math.pow(0.5, Math.max(0, ageMs) / halfLifeMs);
}

/** Lower-case, strip punctuation and symbols, collapse whitespace. */
export function normalizeHeadline(text: string): string {
  return tokenize(text).join(' ');
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  for (const t of a) if (b.has(t)) inter++;
  return inter / (a.size + b.size - inter);
}

/** Keep the first report of each story (input is taken oldest first); drop exact and near duplicates. */
export function dedupe(items: readonly NewsItem[], threshold = 0.8): NewsItem[] {
  const kept: { item: NewsItem; norm: string; tokens: Set<string> }[] = [];
  const ids = new Set<number>();
  for (const item of [...items].sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)) {
    if (ids.has(item.id)) continue;
    const norm = normalizeHeadline(item.headline);
    const tokens = new Set(norm.split(' ').filter((t) => t.length > 0));
    if (kept.some((k) => k.norm === norm || jaccard(k.tokens, tokens) >= threshold)) continue;
    ids.add(item.id);
    kept.push({ item, norm, tokens });
  }
  return kept.map((k) => k.item);
}

export class NarrativeScorer {
  readonly halfLifeMs: number;
  readonly maxAgeMs: number;
  readonly duplicateJaccard: number;
  readonly scoreItem: (item: NewsItem) => number;

  constructor(opts: NarrativeOptions = {}) {
    this.halfLifeMs = opts.halfLifeMs ?? 6 * HOUR;
    this.maxAgeMs = opts.maxAgeMs ?? 48 * HOUR;
    this.duplicateJaccard = opts.duplicateJaccard ?? 0.8;
    this.scoreItem = opts.scoreItem ?? lexiconItemScore;
    if (!(this.halfLifeMs > 0)) throw new Error('halfLifeMs must be > 0');
  }

  /**
   * Score one symbol at `now`. The score is Σ wᵢ·sᵢ / max(1, Σ wᵢ): a weighted mean once there is at least one
   * fresh article's worth of weight, shrinking toward 0 when all the news is stale.
   */
  scoreSymbol(items: readonly NewsItem[], symbol: Symbol, now: number): NarrativeScore {
    const relevant = items.filter((a) => a.symbols.includes(symbol) && a.createdAt <= now && now - a.createdAt <= this.maxAgeMs);
    if (relevant.length === 0) return { score: null, articles: 0, reason: 'no news' };
    const unique = dedupe(relevant, this.duplicateJaccard);
    let num = 0;
    let den = 0;
    let top: { headline: string; contribution: number; score: number } | undefined;
    for (const a of unique) {
      const w = decayWeight(now - a.createdAt, this.halfLifeMs);
      const s = this.scoreItem(a);
      num += w * s;
      den += w;
      if (top === undefined || Math.abs(w * s) > Math.abs(top.contribution)) top = { headline: a.headline, contribution: w * s, score: s };
    }
    const score = Math.max(-1, Math.min(1, num / Math.max(1, den)));
    const dropped = relevant.length - unique.length;
    const parts = [`${unique.length} article${unique.length === 1 ? '' : 's'}`];
    if (dropped > 0) parts.push(`${dropped} duplicate${dropped === 1 ? '' : 's'} dropped`);
    if (top !== undefined && top.score !== 0) parts.push(`strongest: "${top.headline}" (${top.score >= 0 ? '+' : ''}${top.score.toFixed(2)})`);
    else parts.push('no sentiment words matched');
    return { score, articles: unique.length, reason: parts.join('; ') };
  }

  /** Score every symbol in `symbols` (default: every symbol mentioned in `items`). */
  score(items: readonly NewsItem[], now: number, symbols?: readonly Symbol[]): Map<Symbol, NarrativeScore> {
    const syms = symbols ?? [...new Set(items.flatMap((a) => a.symbols))];
    return new Map(syms.map((s) => [s, this.scoreSymbol(items, s, now)]));
  }
}
