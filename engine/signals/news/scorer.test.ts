import { describe, expect, it } from 'vitest';
import { scoreHeadline } from './lexicon.js';
import { FallbackScorer, lexiconScorer, type HeadlineScorer } from './scorer.js';

const HEADLINES = ['Bitcoin surges on ETF approval', 'Exchange hacked, funds stolen', 'Bitcoin miners meet in Austin'];
const LEXICON = HEADLINES.map((h) => scoreHeadline(h).score);

/** A primary whose behaviour each test sets; counts its calls. */
function primary(behave: (hs: readonly string[]) => Promise<number[]> | number[]): HeadlineScorer & { calls: number } {
  const s = {
    name: 'fake-llm',
    calls: 0,
    score(hs: readonly string[]): Promise<number[]> {
      s.calls++;
      return Promise.resolve().then(() => behave(hs));
    },
  };
  return s;
}
const healthy = (hs: readonly string[]): number[] => hs.map((_, i) => (i % 2 === 0 ? 0.5 : -0.5));

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('lexiconScorer', () => {
  it('wraps scoreHeadline, same order and length', async () => {
    expect(lexiconScorer.name).toBe('lexicon');
    expect(await lexiconScorer.score(HEADLINES)).toEqual(LEXICON);
    expect(await lexiconScorer.score([])).toEqual([]);
  });
});

describe('FallbackScorer', () => {
  it('uses the primary when it answers in time', async () => {
    const p = primary(healthy);
    const s = new FallbackScorer(p, lexiconScorer, { timeoutMs: 200 });
    expect(await s.score(HEADLINES)).toEqual([0.5, -0.5, 0.5]);
    expect(s.lastSource).toBe('primary');
    expect(s.lastError).toBeUndefined();
    expect(s.name).toBe('fake-llm or lexicon');
  });

  it('clamps out-of-range finite scores instead of failing', async () => {
    const s = new FallbackScorer(primary((hs) => hs.map(() => 3)), lexiconScorer);
    expect(await s.score(HEADLINES)).toEqual([1, 1, 1]);
    expect(s.lastSource).toBe('primary');
  });

  it.each([
    ['timeout', () => new Promise<number[]>(() => undefined), /timed out after 30 ms/],
    ['rejection', () => Promise.reject(new Error('connection refused')), /connection refused/],
    ['a synchronous throw', () => { throw new Error('boom'); }, /boom/],
    ['the wrong length', () => [0.1], /1 scores for 3 headlines/],
    ['NaN', () => [0.1, Number.NaN, 0.2], /non-finite score at 1/],
    ['Infinity', () => [0.1, 0.2, Number.POSITIVE_INFINITY], /non-finite/],
    ['not an array', () => 'nope' as unknown as number[], /not an array/],
  ] as const)('falls back to the lexicon on %s and reports why', async (_what, behave, reason) => {
    const reasons: string[] = [];
    const s = new FallbackScorer(primary(behave as () => Promise<number[]>), lexiconScorer, { timeoutMs: 30, onFallback: (r) => reasons.push(r) });
    await expect(s.score(HEADLINES)).resolves.toEqual(LEXICON);
    expect(s.lastSource).toBe('fallback');
    expect(s.lastError).toMatch(reason);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(reason);
  });

  it('scoreWithSource says who answered', async () => {
    const ok = await new FallbackScorer(primary(healthy)).scoreWithSource(HEADLINES);
    expect(ok).toMatchObject({ source: 'primary', scorer: 'fake-llm' });
    const bad = await new FallbackScorer(primary(() => Promise.reject(new Error('down')))).scoreWithSource(HEADLINES);
    expect(bad).toMatchObject({ source: 'fallback', scorer: 'lexicon', scores: LEXICON, error: 'down' });
  });

  it('skips the primary during the cool-down, then retries it', async () => {
    const c = clock();
    let fail = true;
    const p = primary((hs) => (fail ? Promise.reject(new Error('ollama down')) : healthy(hs)));
    const reasons: string[] = [];
    const s = new FallbackScorer(p, lexiconScorer, { timeoutMs: 100, cooldownMs: 60_000, now: c.now, onFallback: (r) => reasons.push(r) });

    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    expect(p.calls).toBe(1);
    expect(s.coolingDown).toBe(true);

    // Within the cool-down: the primary is not called at all, and onFallback is not repeated.
    fail = false;
    c.advance(59_999);
    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    expect(p.calls).toBe(1);
    expect(s.lastSource).toBe('fallback');
    expect(s.lastError).toMatch(/cooling down after: ollama down/);
    expect(reasons).toEqual(['ollama down']);

    // After it: the primary gets another chance and, healthy again, answers.
    c.advance(1);
    expect(s.coolingDown).toBe(false);
    expect(await s.score(HEADLINES)).toEqual([0.5, -0.5, 0.5]);
    expect(p.calls).toBe(2);
    expect(s.lastSource).toBe('primary');
    expect(s.lastError).toBeUndefined();
  });

  it('a failure after the cool-down starts a new cool-down', async () => {
    const c = clock();
    const p = primary(() => Promise.reject(new Error('still down')));
    const s = new FallbackScorer(p, lexiconScorer, { cooldownMs: 1_000, now: c.now });
    await s.score(HEADLINES);
    c.advance(1_000);
    await s.score(HEADLINES);
    expect(p.calls).toBe(2);
    c.advance(999);
    await s.score(HEADLINES);
    expect(p.calls).toBe(2);
  });

  it('never throws: a failing custom fallback and a throwing onFallback still give the lexicon', async () => {
    const badFallback: HeadlineScorer = { name: 'other', score: () => Promise.reject(new Error('also down')) };
    const s = new FallbackScorer(primary(() => Promise.reject(new Error('down'))), badFallback, {
      onFallback: () => {
        throw new Error('logger broke');
      },
    });
    await expect(s.score(HEADLINES)).resolves.toEqual(LEXICON);
    expect(s.lastSource).toBe('fallback');
    expect(s.lastError).toMatch(/down; other failed too: also down/);
  });

  it('does not call the primary for an empty batch', async () => {
    const p = primary(healthy);
    const s = new FallbackScorer(p);
    expect(await s.score([])).toEqual([]);
    expect(p.calls).toBe(0);
  });

  it('a primary that settles after its timeout causes no unhandled rejection', async () => {
    const s = new FallbackScorer(primary(() => new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 40))), lexiconScorer, { timeoutMs: 10 });
    expect(await s.score(HEADLINES)).toEqual(LEXICON);
    await new Promise((r) => setTimeout(r, 60)); // vitest fails the run on an unhandled rejection
  });
});
