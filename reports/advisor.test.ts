import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/store/database.js';
import {
  Advisor,
  buildPrompt,
  DEFAULT_QUESTION,
  fallbackSummary,
  numberCaution,
  parseAdvisorSnapshot,
  snapshotNumbers,
  SYSTEM_PROMPT,
  unsupportedNumbers,
  type AdvisorSnapshot,
} from './advisor.js';

const SNAPSHOT: AdvisorSnapshot = {
  mode: 'paper',
  asOf: '2024-01-10T12:00:00.000Z',
  stats: { equityUsd: 10_234.56, returnPct: 2.35, maxDrawdownPct: 1.2, trades: 14, winRatePct: 57.1, sharpe: null, period: '7d' },
  positions: [
    { symbol: 'BTC/USD', qty: 0.015, valueUsd: 690.45, unrealizedPnlUsd: 12.3 },
    { symbol: 'ETH/USD', qty: 0.5, valueUsd: 1_180, unrealizedPnlUsd: -8.75 },
  ],
  recentTrades: [
    { ts: '2024-01-10T09:00:00.000Z', symbol: 'ETH/USD', side: 'buy', qty: 0.5, priceUsd: 2_376.5 },
    { ts: '2024-01-10T10:00:00.000Z', symbol: 'BTC/USD', side: 'buy', qty: 0.015, priceUsd: 45_210 },
  ],
  riskEvents: [{ ts: '2024-01-10T11:00:00.000Z', kind: 'size-capped', symbol: 'BTC/USD', reason: 'order cut to the 5% position cap' }],
  regime: [{ symbol: 'BTC/USD', volatility: 0.031, trend: 'up', momentum: 0.42 }],
  riskState: 'normal',
};

const clone = (): AdvisorSnapshot => structuredClone(SNAPSHOT);

describe('snapshot validation', () => {
  it('accepts a full snapshot and an empty one', () => {
    expect(parseAdvisorSnapshot(SNAPSHOT)).toEqual(SNAPSHOT);
    const empty = { mode: 'sim', asOf: '2024-01-10T12:00:00+02:00', stats: {}, positions: [], recentTrades: [], riskEvents: [], regime: [], riskState: 'normal' };
    expect(parseAdvisorSnapshot(empty)).toEqual(empty);
  });

  it('rejects missing fields, bad times, non-finite numbers and wrong types, naming the path', () => {
    const { positions: _, ...noPositions } = clone();
    expect(() => parseAdvisorSnapshot(noPositions)).toThrow(/invalid advisor snapshot[\s\S]*positions/);
    expect(() => parseAdvisorSnapshot({ ...clone(), asOf: 'yesterday' })).toThrow(/asOf/);
    expect(() => parseAdvisorSnapshot({ ...clone(), stats: { returnPct: Number.NaN } })).toThrow(/stats/);
    expect(() => parseAdvisorSnapshot({ ...clone(), stats: { returnPct: Infinity } })).toThrow(/stats/);
    const badQty = clone() as unknown as { positions: Array<{ qty: unknown }> };
    badQty.positions[0]!.qty = '0.015';
    expect(() => parseAdvisorSnapshot(badQty)).toThrow(/positions/);
    expect(() => parseAdvisorSnapshot(null)).toThrow(/invalid advisor snapshot/);
  });
});

describe('fallbackSummary', () => {
  it('is deterministic and carries the return, the positions, trades, risk events and the regime', () => {
    const a = fallbackSummary(SNAPSHOT, 'How are we doing?');
    expect(fallbackSummary(clone(), 'How are we doing?')).toBe(a);
    expect(a).toContain('returnPct 2.35');
    // Return-like stats come first.
    expect(a).toMatch(/^Stats: returnPct 2\.35, equityUsd 10234\.56/m);
    expect(a).toContain('sharpe n/a');
    expect(a).toContain('Positions (2):');
    expect(a).toContain('BTC/USD 0.015 = $690.45, unrealized +$12.3');
    expect(a).toContain('ETH/USD 0.5 = $1180, unrealized -$8.75');
    expect(a).toContain('2024-01-10 10:00 UTC buy 0.015 BTC/USD @ $45210');
    expect(a).toContain('size-capped BTC/USD: order cut to the 5% position cap');
    expect(a).toContain('Regime: BTC/USD volatility 0.031, trend up, momentum 0.42');
    expect(a.split('\n')[0]).toBe('paper · as of 2024-01-10 12:00 UTC · risk: normal');
    expect(a).toContain('How are we doing?');
    // Short lines for a phone.
    for (const line of a.split('\n')) expect(line.length).toBeLessThan(160);
  });

  it('says flat and none for an empty snapshot, and shows only the last 3 trades', () => {
    const s = { ...clone(), positions: [], riskEvents: [], regime: [], stats: {} };
    const text = fallbackSummary(s);
    expect(text).toContain('Positions: none (flat)');
    expect(text).toContain('Risk events: none');
    expect(text).toContain('Stats: none yet');
    expect(text).not.toContain('Regime');
    expect(fallbackSummary(s, DEFAULT_QUESTION)).toBe(text);

    const many = { ...clone(), recentTrades: [1, 2, 3, 4, 5].map((h) => ({ ts: `2024-01-10T0${h}:00:00Z`, symbol: 'BTC/USD', side: 'sell', qty: h, priceUsd: 40_000 + h })) };
    const t = fallbackSummary(many);
    expect(t).toContain('Recent trades (5, last 3):');
    expect(t).toContain('@ $40005');
    expect(t).not.toContain('@ $40002');
  });

  it('passes its own number post-check', () => {
    expect(unsupportedNumbers(fallbackSummary(SNAPSHOT), SNAPSHOT)).toEqual([]);
  });
});

describe('the number post-check', () => {
  it('accepts numbers from the snapshot, rounded, truncated, signless, with $ and thousands separators, or as a percentage of a fraction', () => {
    const answer = [
      'Up 2.35% (2.4% rounded, 2% whole) with equity $10,234.56 ≈ $10,235 or 10234.5.',
      'ETH is down $8.75 (-8.8), BTC trades at 45,210. 14 trades, win rate 57%.',
      'BTC volatility 3.1% and momentum 0.42; as of 2024-01-10 12:00 UTC.',
      'Step 1: 2 positions, 3 lines.',
    ].join('\n');
    expect(unsupportedNumbers(answer, SNAPSHOT)).toEqual([]);
  });

  it('flags numbers that are not in the snapshot, once each, in order', () => {
    expect(unsupportedNumbers('Return 12.7% this week; BTC at $52,000, 12.7 again, and 24h volume 99.', SNAPSHOT)).toEqual(['12.7', '52,000', '24', '99']);
    expect(unsupportedNumbers('Up 2.36%', SNAPSHOT)).toEqual([]); // one unit in the last digit
    expect(unsupportedNumbers('Up 2.38%', SNAPSHOT)).toEqual(['2.38']);
    expect(unsupportedNumbers('Using llama3 and BTC2', SNAPSHOT)).toEqual([]);
  });

  it('snapshot numbers include list lengths and digits inside strings', () => {
    const nums = snapshotNumbers(SNAPSHOT);
    expect(nums).toEqual(expect.arrayContaining([2, 1, 10234.56, 2.35, 0.031, 2024, 12, 5]));
  });

  it('the caution is one line and lists at most 5', () => {
    const c = numberCaution(['1', '2', '3', '4', '5', '6', '7']);
    expect(c).not.toContain('\n');
    expect(c).toContain('1, 2, 3, 4, 5 (+2 more)');
  });
});

describe('prompt', () => {
  it('system prompt rules; the user message carries the question and the snapshot JSON', () => {
    const p = buildPrompt('llama3.2:3b', 'Why no trades?', SNAPSHOT);
    expect(p.options).toEqual({ temperature: 0.2 });
    expect(p.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(SYSTEM_PROMPT).toMatch(/read-only/);
    expect(SYSTEM_PROMPT).toMatch(/ONLY numbers/);
    expect(SYSTEM_PROMPT).toMatch(/[Nn]ever suggest that you can place/);
    expect(SYSTEM_PROMPT).toMatch(/cannot answer/);
    const user = p.messages[1]!.content;
    expect(user).toContain('Why no trades?');
    expect(JSON.parse(user.slice(user.indexOf('{')))).toEqual(SNAPSHOT);
  });
});

describe('Advisor without a model', () => {
  let db: Db | undefined;
  afterEach(() => db?.close());

  it('answers with the plain summary, saves the row, and throws only for an invalid snapshot', async () => {
    db = openDatabase(':memory:');
    const advisor = new Advisor({ db, now: () => 1_700_000_000_000 });
    const r = await advisor.advise({ actor: 'telegram:1', question: '  ', snapshot: SNAPSHOT });
    expect(r).toEqual({ answer: fallbackSummary(SNAPSHOT), source: 'fallback', note: 'no OLLAMA_MODEL configured; plain summary instead' });
    const rows = db.prepare('SELECT * FROM advice').all() as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ created_at: 1_700_000_000_000, actor: 'telegram:1', question: DEFAULT_QUESTION, answer: r.answer, source: 'fallback', model: null, note: r.note });
    expect(JSON.parse(rows[0]!.snapshot as string)).toEqual(SNAPSHOT);
    expect(JSON.parse(rows[0]!.prompt as string)).toMatchObject({ model: null, messages: [{ role: 'system' }, { role: 'user' }] });

    await expect(advisor.advise({ actor: 'x', snapshot: { ...SNAPSHOT, mode: '' } })).rejects.toThrow(/invalid advisor snapshot/);
    expect((db.prepare('SELECT count(*) AS n FROM advice').get() as { n: number }).n).toBe(1);
  });
});
