import { describe, expect, it } from 'vitest';
import { AdaptiveVote } from './voting.js';
import { mulberry32 } from '../rng.js';

describe('AdaptiveVote', () => {
  it('weighted mean and weighted median by hand, equal weights before any outcome', () => {
    const mean = new AdaptiveVote(['a', 'b', 'c'], { method: 'mean', window: 10, minActive: 1 });
    expect(mean.combine([0.2, 0.5, 0.8])).toBeCloseTo(0.5, 12);
    for (const w of mean.weights()) expect(w).toBeCloseTo(1 / 3, 12);
    const median = new AdaptiveVote(['a', 'b', 'c'], { method: 'median', window: 10, minActive: 1 });
    expect(median.combine([0.9, 0.1, 0.6])).toBe(0.6);
  });

  it('moves weight toward the better model on a constructed stream, and the vote follows it', () => {
    const vote = new AdaptiveVote(['sharp', 'noisy'], { method: 'mean', window: 200, minActive: 2 });
    const random = mulberry32(7).next;
    for (let i = 0; i < 400; i++) {
      const happened = random() < 0.5;
      vote.record(0, happened ? 0.8 : 0.2, happened); // informative: Brier 0.04
      vote.record(1, random(), happened); // uninformative: Brier about 0.33
    }
    const [sharp, noisy] = vote.standings();
    expect(sharp!.brier).toBeCloseTo(0.04, 6);
    expect(noisy!.brier!).toBeGreaterThan(0.25);
    expect(sharp!.weight).toBeGreaterThan(0.85);
    // the two disagree: the combined vote sits near the sharp model
    expect(vote.combine([0.8, 0.2])).toBeGreaterThan(0.7);
  });

  it('drops the worst model after a window while at least minActive stay', () => {
    const ids = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    const vote = new AdaptiveVote(ids, { method: 'mean', window: 50, minActive: 5 });
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < ids.length; i++) {
        // model i is wrong by 0.1·i: m6 worst, then m5
        vote.record(i, 0.9 - 0.1 * i, true);
      }
    }
    const active = vote.standings().filter((s) => s.active).map((s) => s.id);
    expect(active).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(vote.standings().find((s) => s.id === 'm6')!.weight).toBe(0);
    expect(vote.combine([0.9, 0.9, 0.9, 0.9, 0.9, 0, 0])).toBeCloseTo(0.9, 12); // dropped models have no say
  });
});
