import { describe, expect, it } from 'vitest';
import type { NewsItem } from '../../market/alpaca-news.js';
import { scoreHeadline, tokenize } from './lexicon.js';
import { decayWeight, NarrativeScorer } from './narrative.js';

type Label = 1 | -1 | 0;
const sign = (x: number): Label => (x > 0.05 ? 1 : x < -0.05 ? -1 : 0);

const LABELLED: readonly (readonly [string, Label])[] = [
  // clear positives
  ['Bitcoin surges past $70,000 as ETF inflows hit record', 1],
  ['SEC approves spot Ether ETFs in landmark decision', 1],
  ['Bitcoin hits all-time high above $100K', 1],
  ['Solana rallies 15% on Visa partnership', 1],
  ['Ethereum completes Dencun upgrade, fees plunge for users', 1],
  ['Dogecoin soars after Tesla adoption news', 1],
  ['BlackRock Bitcoin fund sees record inflows', 1],
  ['Crypto market rebounds as traders buy the dip', 1],
  ['Analysts turn bullish on XRP after court victory', 1],
  ['Coinbase beats expectations with record quarterly profit', 1],
  ['El Salvador expands Bitcoin adoption with new bond', 1],
  ['Ether jumps to record high as staking demand grows', 1],
  ['Bitcoin ETF approval sparks massive rally', 1],
  ['Chainlink climbs after major bank integration', 1],
  // clear negatives
  ['Crypto exchange hacked, $200 million stolen', -1],
  ['SEC sues Binance and founder over securities violations', -1],
  ['Bitcoin plunges below $30,000 as liquidations mount', -1],
  ['China announces crackdown on crypto mining', -1],
  ['FTX files for bankruptcy amid fraud allegations', -1],
  ['DeFi protocol drained in $50M exploit', -1],
  ['Ether ETFs record heavy outflows for third week', -1],
  ['Exchange to delist privacy coins after regulatory pressure', -1],
  ['Celsius halts withdrawals, insolvency fears grow', -1],
  ['Terra stablecoin depegs, market crashes', -1],
  ['Crypto lender faces class action lawsuit', -1],
  ['India considers outright ban on cryptocurrencies', -1],
  ['Bitcoin tumbles as Fed signals rate hike', -1],
  ['Solana network suffers another outage', -1],
  ['Massive sell-off wipes $100 billion from crypto market', -1],
  ['Founder of crypto firm arrested on fraud charges', -1],
  // neutrals
  ['Bitcoin trades flat ahead of Fed meeting', 0],
  ['Coinbase to report earnings on Thursday', 0],
  ['Ethereum developers schedule call to discuss roadmap', 0],
  ['What is a Bitcoin halving? An explainer', 0],
  ['Binance appoints new chief compliance officer', 0],
  ['Crypto conference opens in Singapore this week', 0],
  ['Bitcoin miners meet in Austin', 0],
  ['Ripple CEO speaks at industry panel', 0],
  // negations
  ['SEC does not approve ETF', -1],
  ['Exchange denies hack rumors', 1],
  ['Bitcoin fails to rally despite ETF inflows news', -1],
  ['Regulator says no ban on crypto trading planned', 1],
  ['Judge denies SEC halt request, token sale proceeds', 1],
  ['Ether fails to hold record high', -1],
  ["Treasury won't approve stablecoin bill this year", -1],
  ['Exchange says there was no exploit and funds are safe', 1],
];
const NEGATION_CASES = LABELLED.slice(LABELLED.findIndex(([h]) => h === 'SEC does not approve ETF'));

describe('scoreHeadline', () => {
  it('gets the polarity sign right on at least 90% of the labelled set', () => {
    expect(LABELLED.length).toBeGreaterThanOrEqual(40);
    const wrong = LABELLED.filter(([h, label]) => sign(scoreHeadline(h).score) !== label).map(([h, label]) => ({ h, label, ...scoreHeadline(h) }));
    const accuracy = (LABELLED.length - wrong.length) / LABELLED.length;
    console.log(`lexicon accuracy ${(accuracy * 100).toFixed(1)}% (${LABELLED.length - wrong.length}/${LABELLED.length})`, wrong);
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it.each(NEGATION_CASES)('negation exact: %s', (headline, label) => {
    expect(sign(scoreHeadline(headline).score)).toBe(label);
  });

  it('is bounded, case-insensitive and reports matched terms', () => {
    const a = scoreHeadline('BITCOIN SURGES, SOARS, RALLIES TO RECORD HIGH ON ETF APPROVAL');
    expect(a.score).toBeGreaterThan(0.9);
    expect(a.score).toBeLessThanOrEqual(1);
    expect(a.matched).toEqual(expect.arrayContaining(['surge', 'soar', 'rally', 'record high', 'etf approval']));
    expect(scoreHeadline('bitcoin surges').score).toBe(scoreHeadline('BITCOIN SURGES!').score);
    expect(scoreHeadline('').score).toBe(0);
  });

  it('matches multi-word phrases before single words', () => {
    expect(scoreHeadline('Ether falls to record low').matched).toContain('record low');
    expect(scoreHeadline('Ether falls to record low').score).toBeLessThan(0);
    expect(scoreHeadline('SEC sues exchange').matched).toEqual(['sec sue']);
  });

  it('intensifiers amplify and diminishers soften', () => {
    const plain = scoreHeadline('Bitcoin drops').score;
    expect(scoreHeadline('Bitcoin drops sharply').score).toBeLessThanOrEqual(plain);
    expect(scoreHeadline('Bitcoin sharply drops').score).toBeLessThan(plain);
    expect(scoreHeadline('Bitcoin slightly drops').score).toBeGreaterThan(plain);
    expect(scoreHeadline('Bitcoin slightly drops').score).toBeLessThan(0);
  });

  it('negation only reaches the next 3 tokens', () => {
    expect(scoreHeadline('not one two three hack').score).toBeLessThan(0);
    expect(scoreHeadline('not one two hack').score).toBeGreaterThan(0);
  });

  it('tokenizes case-insensitively and drops punctuation', () => {
    expect(tokenize("SEC Doesn't Approve: ETF!")).toEqual(['sec', 'doesnt', 'approve', 'etf']);
  });
});

const H = 3_600_000;
const NOW = Date.UTC(2024, 0, 10, 12);
let nextId = 1;
const item = (headline: string, ageMs: number, symbols: string[] = ['BTC/USD']): NewsItem => ({
  id: nextId++,
  createdAt: NOW - ageMs,
  headline,
  summary: '',
  source: 'test',
  symbols,
});

describe('NarrativeScorer', () => {
  const pos = 'Bitcoin surges on ETF approval';
  const neg = 'Exchange hacked, funds stolen';

  it('decay halves the weight at the half-life', () => {
    expect(decayWeight(0, 6 * H)).toBe(1);
    expect(decayWeight(6 * H, 6 * H)).toBeCloseTo(0.5, 12);
    expect(decayWeight(12 * H, 6 * H)).toBeCloseTo(0.25, 12);
    const scorer = new NarrativeScorer();
    expect(scorer.halfLifeMs).toBe(6 * H);
    // Fresh positive and equal-magnitude negative at one half-life: (s − s/2) / 1.5 = s/3.
    const sPos = scoreHeadline(pos).score;
    const sNeg = scoreHeadline(neg).score;
    const r = scorer.scoreSymbol([item(pos, 0), item(neg, 6 * H)], 'BTC/USD', NOW);
    expect(r.score).toBeCloseTo((sPos + 0.5 * sNeg) / 1.5, 12);
    // A custom half-life is honoured.
    const fast = new NarrativeScorer({ halfLifeMs: 1 * H });
    const r2 = fast.scoreSymbol([item(pos, 0), item(neg, 1 * H)], 'BTC/USD', NOW);
    expect(r2.score).toBeCloseTo((sPos + 0.5 * sNeg) / 1.5, 12);
    // A lone stale article fades rather than keeping its full score.
    const stale = scorer.scoreSymbol([item(pos, 6 * H)], 'BTC/USD', NOW);
    expect(stale.score).toBeCloseTo(0.5 * sPos, 12);
  });

  it('counts a duplicated story once (exact normalised match and near-duplicates)', () => {
    const scorer = new NarrativeScorer();
    const once = scorer.scoreSymbol([item(pos, 0), item(neg, 0)], 'BTC/USD', NOW);
    const dup = scorer.scoreSymbol(
      [
        item(pos, 0),
        item('BITCOIN SURGES ON ETF APPROVAL!!!', 0),
        item('Bitcoin surges on ETF approval -- report', 0),
        item('Bitcoin surges on spot ETF approval', 0),
        item(neg, 0),
      ],
      'BTC/USD',
      NOW,
    );
    expect(dup.articles).toBe(2);
    expect(dup.score).toBeCloseTo(once.score!, 12);
    expect(dup.reason).toContain('duplicate');
    // Different stories are not merged.
    expect(scorer.scoreSymbol([item(pos, 0), item('Ether rallies after network upgrade', 0)], 'BTC/USD', NOW).articles).toBe(2);
  });

  it('ignores articles after now (no look-ahead)', () => {
    const scorer = new NarrativeScorer();
    const r = scorer.scoreSymbol([item(pos, 0), item(neg, -1)], 'BTC/USD', NOW);
    expect(r.articles).toBe(1);
    expect(r.score).toBeCloseTo(scoreHeadline(pos).score, 12);
    const future = scorer.scoreSymbol([item(neg, -H)], 'BTC/USD', NOW);
    expect(future).toEqual({ score: null, articles: 0, reason: 'no news' });
  });

  it('gives null with reason "no news" when there is nothing, never a faked 0', () => {
    const scorer = new NarrativeScorer();
    expect(scorer.scoreSymbol([], 'BTC/USD', NOW)).toEqual({ score: null, articles: 0, reason: 'no news' });
    const m = scorer.score([item(pos, 0, ['ETH/USD'])], NOW, ['BTC/USD', 'ETH/USD']);
    expect(m.get('BTC/USD')).toEqual({ score: null, articles: 0, reason: 'no news' });
    expect(m.get('ETH/USD')!.score).toBeGreaterThan(0);
    // Neutral news is a real 0 with articles, not "no news".
    const neutral = scorer.scoreSymbol([item('Bitcoin miners meet in Austin', 0)], 'BTC/USD', NOW);
    expect(neutral.score).toBe(0);
    expect(neutral.articles).toBe(1);
  });
});
