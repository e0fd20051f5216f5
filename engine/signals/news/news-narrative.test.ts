import { describe, expect, it } from 'vitest';
import type { NewsItem } from '../../market/alpaca-news.js';
import { scoreHeadline } from './lexicon.js';
import { NarrativeScorer } from './narrative.js';
import { NewsNarrative } from './news-narrative.js';
import { FallbackScorer, type HeadlineScorer } from './scorer.js';

const H = 3_600_000;
const NOW = Date.UTC(2024, 0, 10, 12);
const POS = 'Bitcoin surges on ETF approval';
const NEG = 'Exchange hacked, funds stolen';

const item = (id: number, headline: string, ageMs: number, symbols: string[] = ['BTC/USD']): NewsItem => ({
  id,
  createdAt: NOW - ageMs,
  headline,
  summary: '',
  source: 'test',
  symbols,
});

/** A scorer that records every batch and answers a fixed value per headline keyword. */
function recording(name = 'fake'): HeadlineScorer & { batches: string[][] } {
  const s = {
    name,
    batches: [] as string[][],
    score(hs: readonly string[]): Promise<number[]> {
      s.batches.push([...hs]);
      return Promise.resolve(hs.map((h) => (/surge/i.test(h) ? 0.8 : /hack/i.test(h) ? -0.6 : 0)));
    },
  };
  return s;
}

describe('NewsNarrative', () => {
  it('caches scores: a second ingest of the same ids makes no scorer call', async () => {
    const scorer = recording();
    const n = new NewsNarrative(scorer);
    await n.ingest([item(1, POS, H), item(2, NEG, H), item(1, POS, H)]);
    expect(scorer.batches).toEqual([[POS, NEG]]); // one batched call, the repeated id once
    await n.ingest([item(1, POS, H), item(2, NEG, H)]);
    expect(scorer.batches).toHaveLength(1);
    expect(n.scorerCalls).toBe(1);
    // Only the new id is sent next time.
    await n.ingest([item(2, NEG, H), item(3, 'Ether rallies after network upgrade', 0)]);
    expect(scorer.batches[1]).toEqual(['Ether rallies after network upgrade']);
    expect(n.scoreOf(1)).toEqual({ score: 0.8, scorer: 'fake' });
    expect(n.scoredBy()).toEqual({ fake: 3 });
    await n.ingest([]);
    expect(scorer.batches).toHaveLength(2);
  });

  it('narrative() uses the cached scores with the same maths as NarrativeScorer', async () => {
    const n = new NewsNarrative(recording());
    await n.ingest([item(1, POS, 0), item(2, NEG, 6 * H)]);
    const r = n.narrative('BTC/USD', NOW);
    expect(r.articles).toBe(2);
    expect(r.score).toBeCloseTo((0.8 + 0.5 * -0.6) / 1.5, 12);
    expect(n.narrative('ETH/USD', NOW)).toEqual({ score: null, articles: 0, reason: 'no news' });
  });

  it('with the default lexicon scorer it agrees with the plain NarrativeScorer', async () => {
    const items = [item(1, POS, 0), item(2, NEG, 3 * H), item(3, 'Bitcoin miners meet in Austin', H)];
    const n = new NewsNarrative();
    await n.ingest(items);
    expect(n.narrative('BTC/USD', NOW)).toEqual(new NarrativeScorer().scoreSymbol(items, 'BTC/USD', NOW));
    expect(n.scoreOf(1)).toEqual({ score: scoreHeadline(POS).score, scorer: 'lexicon' });
  });

  it('does not look ahead: articles after now are not counted', async () => {
    const n = new NewsNarrative(recording());
    await n.ingest([item(1, POS, 0), item(2, NEG, -1)]);
    const r = n.narrative('BTC/USD', NOW);
    expect(r.articles).toBe(1);
    expect(r.score).toBeCloseTo(0.8, 12);
    // The future article is kept, and counts once time reaches it.
    expect(n.narrative('BTC/USD', NOW + 1).articles).toBe(2);
    expect(new NewsNarrative(recording()).narrative('BTC/USD', NOW)).toEqual({ score: null, articles: 0, reason: 'no news' });
  });

  it('prunes articles older than maxAge relative to the newest now seen', async () => {
    const scorer = recording();
    const n = new NewsNarrative(scorer, { maxAgeMs: 10 * H });
    await n.ingest([item(1, POS, 9 * H), item(2, NEG, 2 * H)]);
    expect(n.articleCount).toBe(2);
    expect(n.narrative('BTC/USD', NOW).articles).toBe(2);
    // Two hours later the first article is 11 h old: gone, with its score.
    expect(n.narrative('BTC/USD', NOW + 2 * H).articles).toBe(1);
    expect(n.articleCount).toBe(1);
    expect(n.scoreOf(1)).toBeUndefined();
    // An old `now` afterwards does not resurrect it, and stale articles are neither stored nor scored.
    await n.ingest([item(1, POS, 9 * H), item(4, POS, 20 * H)]);
    expect(n.articleCount).toBe(1);
    expect(scorer.batches).toHaveLength(1);
    // ingest(items, now) advances the same clock.
    await n.ingest([], NOW + 13 * H);
    expect(n.articleCount).toBe(0);
    expect(n.hasNews).toBe(false);
  });

  it('bounds memory with maxItems, dropping the oldest first', async () => {
    const n = new NewsNarrative(recording(), { maxItems: 3 });
    await n.ingest([item(1, 'a one', 5 * H), item(2, 'b two', 4 * H), item(3, 'c three', 3 * H), item(4, 'd four', 2 * H), item(5, 'e five', H)]);
    expect(n.articleCount).toBe(3);
    expect([1, 2, 3, 4, 5].map((id) => n.scoreOf(id) !== undefined)).toEqual([false, false, true, true, true]);
  });

  it('an unscored article is not counted, and a failed batch is retried by the next ingest', async () => {
    let fail = true;
    const calls: string[][] = [];
    const flaky: HeadlineScorer = {
      name: 'flaky',
      score: (hs) => {
        calls.push([...hs]);
        return fail ? Promise.reject(new Error('model crashed')) : Promise.resolve(hs.map(() => 0.4));
      },
    };
    const n = new NewsNarrative(flaky);
    await expect(n.ingest([item(1, POS, 0)])).rejects.toThrow('model crashed');
    expect(n.hasNews).toBe(false);
    expect(n.pendingCount).toBe(1);
    expect(n.narrative('BTC/USD', NOW)).toEqual({ score: null, articles: 0, reason: 'no news' });
    expect(n.statusLine()).toContain('1 pending');
    fail = false;
    await n.ingest([item(2, NEG, 0)]);
    expect(calls[1]).toEqual([POS, NEG]);
    expect(n.narrative('BTC/USD', NOW).articles).toBe(2);
    expect(n.statusLine()).toBe('news: 2 articles scored (2 flaky)');
  });

  it('rejects a scorer answer of the wrong length or with NaN, caching nothing', async () => {
    const short: HeadlineScorer = { name: 'short', score: () => Promise.resolve([0.1]) };
    const n = new NewsNarrative(short);
    await expect(n.ingest([item(1, POS, 0), item(2, NEG, 0)])).rejects.toThrow('1 scores for 2 headlines');
    const nan: HeadlineScorer = { name: 'nan', score: (hs) => Promise.resolve(hs.map(() => Number.NaN)) };
    const m = new NewsNarrative(nan);
    await expect(m.ingest([item(1, POS, 0)])).rejects.toThrow('non-finite');
    expect(n.scoredCount + m.scoredCount).toBe(0);
  });

  it('records which scorer answered when a FallbackScorer falls back', async () => {
    const dead: HeadlineScorer = { name: 'ollama:test', score: () => Promise.reject(new Error('ECONNREFUSED')) };
    const n = new NewsNarrative(new FallbackScorer(dead));
    await n.ingest([item(1, POS, 0)]);
    expect(n.scoreOf(1)).toEqual({ score: scoreHeadline(POS).score, scorer: 'lexicon' });
    expect(n.statusLine()).toBe('news: 1 article scored (1 lexicon)');
  });

  it('overlapping ingests do not score the same article twice', async () => {
    const scorer = recording();
    const n = new NewsNarrative(scorer);
    await Promise.all([n.ingest([item(1, POS, 0)]), n.ingest([item(1, POS, 0)])]);
    expect(scorer.batches).toEqual([[POS]]);
    expect(n.scoredCount).toBe(1);
  });
});
