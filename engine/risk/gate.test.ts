import { describe, expect, it } from 'vitest';
import type { VenueRules } from '../broker/broker.js';
import type { StateStore } from '../ports.js';
import type { Edge, IntentSource, OrderIntent, RiskState, Symbol } from '../types.js';
import { RiskGate, RISK_STATE_KEY, type GateVerdict, type GateView, type RiskProfile } from './gate.js';
import { DEFAULT_LIMITS, type RiskLimits } from './limits.js';
import { correlation, historicalVar95, returns } from './measures.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** noon UTC, 1 March 2024 */
const NOON = Date.UTC(2024, 2, 1, 12);
const MIDNIGHT_AFTER = Date.UTC(2024, 2, 2);
const RULES: VenueRules = { minNotional: 1, qtyIncrement: 1e-9 };
const EQUITY = 10_000;

/** A StateStore that keeps JSON text, like the SQLite one: nothing is shared by reference between readers. */
class MemoryStore implements StateStore {
  readonly data = new Map<string, string>();
  writes = 0;
  get<T>(key: string): T | undefined {
    const raw = this.data.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }
  set(key: string, value: unknown): void {
    this.writes += 1;
    this.data.set(key, JSON.stringify(value));
  }
}

/** Flat prices: returns of exactly zero, so no correlation (no variance) and a VaR of 0. 10 days of hourly closes. */
const FLAT: readonly number[] = Array.from({ length: 24 * 10 + 1 }, () => 100);

interface ViewSpec {
  ts?: number;
  availableCash?: number;
  equity?: number;
  drawdown?: number;
  sellable?: Record<Symbol, number>;
  /** USD held plus USD of pending buys, per symbol */
  exposure?: Record<Symbol, number>;
  open?: readonly Symbol[];
  /** closes per symbol; symbols not listed get FLAT */
  closes?: Record<Symbol, readonly number[]>;
}

function view(spec: ViewSpec = {}): GateView {
  return {
    ts: spec.ts ?? NOON,
    availableCash: spec.availableCash ?? EQUITY,
    equity: spec.equity ?? EQUITY,
    drawdown: spec.drawdown ?? 0,
    sellable: (s) => spec.sellable?.[s] ?? 0,
    exposure: (s) => spec.exposure?.[s] ?? 0,
    openSymbols: () => new Set(spec.open ?? []),
    closes: (s, count) => {
      const all = spec.closes?.[s] ?? FLAT;
      return all.slice(Math.max(0, all.length - count));
    },
  };
}

function makeGate(options: { profile?: RiskProfile; limits?: Partial<RiskLimits>; store?: StateStore; wallNow?: () => number } = {}): RiskGate {
  return new RiskGate(options.profile ?? 'full', RULES, options.store ?? new MemoryStore(), options.wallNow ?? (() => Date.UTC(2025, 0, 1)), {
    ...DEFAULT_LIMITS,
    ...options.limits,
  });
}

const buy = (symbol: Symbol, notional: number, edge?: Edge, source: IntentSource = 'strategy'): OrderIntent => ({
  symbol,
  side: 'buy',
  notional,
  source,
  reason: 'test buy',
  ...(edge ? { edge } : {}),
});
const sell = (symbol: Symbol, qty: number, source: IntentSource = 'strategy'): OrderIntent => ({ symbol, side: 'sell', qty, source, reason: 'test sell' });

function approved(verdict: GateVerdict): Extract<GateVerdict, { ok: true }> {
  if (!verdict.ok) throw new Error(`expected approval, got denial: ${verdict.reason}`);
  return verdict;
}
function denied(verdict: GateVerdict): string {
  if (verdict.ok) throw new Error(`expected denial, got approval of ${JSON.stringify(verdict.intent)}`);
  return verdict.reason;
}
function notional(verdict: GateVerdict): number {
  const intent = approved(verdict).intent;
  if (intent.side !== 'buy') throw new Error('not a buy');
  return intent.notional;
}

/** Deterministic pseudo-random numbers in [-1, 1). */
function noise(seed: number, n: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    out.push(s / 2 ** 31 - 1);
  }
  return out;
}
function pathFrom(start: number, hourly: readonly number[]): number[] {
  const closes = [start];
  for (const r of hourly) closes.push(closes[closes.length - 1]! * (1 + r));
  return closes;
}

describe('RiskGate: trading states', () => {
  for (const profile of ['full', 'benchmark'] as const) {
    it(`${profile}: REDUCING denies buys and lets sells through`, () => {
      const gate = makeGate({ profile });
      gate.setState('REDUCING', 'tester', 'paused by operator');
      expect(denied(gate.check(buy('A', 100), view()))).toMatch(/REDUCING/);
      const v = approved(gate.check(sell('A', 2), view({ sellable: { A: 5 } })));
      expect(v.intent).toMatchObject({ side: 'sell', symbol: 'A', qty: 2 });
    });

    it(`${profile}: HALTED denies every sell except the kill's own`, () => {
      const gate = makeGate({ profile });
      gate.setState('HALTED', 'tester', 'kill switch');
      const v = view({ sellable: { A: 5 } });
      for (const source of ['strategy', 'protection', 'operator'] as const) expect(denied(gate.check(sell('A', 5, source), v))).toMatch(/HALTED/);
      expect(denied(gate.check(buy('A', 100), v))).toMatch(/HALTED/);
      expect(approved(gate.check(sell('A', 5, 'kill'), v)).intent).toMatchObject({ side: 'sell', qty: 5, source: 'kill' });
    });
  }

  it('a sell is clamped to what is sellable, floored to the venue increment, and denied when nothing is', () => {
    const gate = makeGate();
    expect(approved(gate.check(sell('A', 5), view({ sellable: { A: 3 } }))).intent).toMatchObject({ qty: 3 });
    expect(approved(gate.check(sell('A', 5), view({ sellable: { A: 1.0000000019 } }))).intent).toMatchObject({ qty: 1.000000001 });
    const exact = sell('A', 2);
    expect(approved(gate.check(exact, view({ sellable: { A: 3 } }))).intent).toBe(exact);
    expect(denied(gate.check(sell('A', 1), view({ sellable: { A: 0 } })))).toMatch(/nothing sellable/);
    expect(denied(gate.check(sell('A', 0), view({ sellable: { A: 3 } })))).toMatch(/positive/);
  });

  it('a buy must be a positive, finite number of USD', () => {
    const gate = makeGate();
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) expect(denied(gate.check(buy('A', bad), view()))).toMatch(/positive number/);
  });
});

describe('RiskGate: maxTradesPerDay', () => {
  it('approves the 8th entry of a UTC day and denies the 9th; the next UTC day starts again', () => {
    const gate = makeGate();
    for (let i = 1; i <= 8; i++) {
      approved(gate.check(buy('A', 100), view({ ts: NOON + i })));
      expect(gate.tradesOn(NOON)).toBe(i);
    }
    expect(denied(gate.check(buy('A', 100), view({ ts: NOON + 9 })))).toMatch(/daily trade limit reached: 8 of 8/);
    // Still the same UTC day one millisecond before midnight.
    expect(denied(gate.check(buy('B', 100), view({ ts: MIDNIGHT_AFTER - 1 })))).toMatch(/daily trade limit/);
    expect(gate.tradesOn(MIDNIGHT_AFTER)).toBe(0);
    approved(gate.check(buy('A', 100), view({ ts: MIDNIGHT_AFTER })));
    expect(gate.tradesOn(MIDNIGHT_AFTER)).toBe(1);
    expect(gate.tradesOn(NOON)).toBe(0);
  });

  it('sells are never counted nor blocked', () => {
    const gate = makeGate();
    const v = view({ sellable: { A: 10 } });
    for (let i = 0; i < 8; i++) {
      approved(gate.check(sell('A', 1), v));
      approved(gate.check(buy('A', 100), v));
      approved(gate.check(sell('A', 1, 'protection'), v));
    }
    expect(gate.tradesOn(NOON)).toBe(8);
    expect(denied(gate.check(buy('A', 100), v))).toMatch(/daily trade limit/);
    approved(gate.check(sell('A', 1), v));
    approved(gate.check(sell('A', 1, 'operator'), v));
    expect(gate.tradesOn(NOON)).toBe(8);
  });

  it('a denied buy does not use up an entry', () => {
    const gate = makeGate();
    for (let i = 0; i < 7; i++) approved(gate.check(buy('A', 100), view()));
    denied(gate.check(buy('A', 100), view({ availableCash: 50 })));
    expect(gate.tradesOn(NOON)).toBe(7);
    approved(gate.check(buy('A', 100), view()));
    denied(gate.check(buy('A', 100), view()));
  });

  it('the count survives a restart, and a tweaked limit applies', () => {
    const store = new MemoryStore();
    const first = makeGate({ store, limits: { maxTradesPerDay: 2 } });
    approved(first.check(buy('A', 100), view()));
    approved(first.check(buy('A', 100), view()));
    const second = makeGate({ store, limits: { maxTradesPerDay: 2 } });
    expect(second.tradesOn(NOON)).toBe(2);
    expect(denied(second.check(buy('A', 100), view()))).toMatch(/2 of 2/);
    expect(denied(makeGate({ limits: { maxTradesPerDay: 0 } }).check(buy('A', 100), view()))).toMatch(/daily trade limit/);
  });
});

describe('RiskGate: maxOpenPositions', () => {
  it('at the cap, adding to a held symbol is allowed and a new symbol is denied; just under, a new symbol is allowed', () => {
    const gate = makeGate();
    const atCap = view({ open: ['A', 'B', 'C'], exposure: { A: 500, B: 500, C: 500 } });
    approved(gate.check(buy('A', 100), atCap));
    expect(denied(gate.check(buy('D', 100), atCap))).toMatch(/position limit: already 3 of 3 open/);
    approved(gate.check(buy('D', 100), view({ open: ['A', 'B'], exposure: { A: 500, B: 500 } })));
  });

  it('a symbol being bought (pending buy, nothing held yet) counts as open', () => {
    const gate = makeGate();
    // C is not held (nothing sellable) but a buy for it is in flight: the engine reports it as open and as exposure.
    const v = view({ open: ['A', 'B', 'C'], sellable: { A: 5, B: 5 }, exposure: { A: 500, B: 500, C: 400 } });
    expect(denied(gate.check(buy('D', 100), v))).toMatch(/position limit/);
    approved(gate.check(buy('C', 100), v));
  });

  it('follows a tweaked cap', () => {
    const gate = makeGate({ limits: { maxOpenPositions: 5 } });
    approved(gate.check(buy('E', 100), view({ open: ['A', 'B', 'C', 'D'] })));
    denied(gate.check(buy('F', 100), view({ open: ['A', 'B', 'C', 'D', 'E'] })));
  });
});

describe('RiskGate: maxTradeUsd', () => {
  it('$999.99 and $1000 pass unchanged; $1000.01 is resized to $1000 with an adjustment', () => {
    const gate = makeGate();
    for (const amount of [999.99, 1000]) {
      const intent = buy('A', amount);
      const v = approved(gate.check(intent, view()));
      expect(v.intent).toBe(intent);
      expect(v.adjustments).toEqual([]);
    }
    const v = approved(gate.check(buy('A', 1000.01), view()));
    expect(v.intent).toMatchObject({ side: 'buy', symbol: 'A', notional: 1000 });
    expect(v.adjustments).toEqual(['per-trade cap: $1000.01 → $1000.00']);
  });

  it('a hair over (within a hundredth of a cent) is not resized', () => {
    const v = approved(makeGate().check(buy('A', 1000.00005), view()));
    expect(notional(v)).toBe(1000.00005);
    expect(v.adjustments).toEqual([]);
  });
});

describe('RiskGate: maxAssetFraction', () => {
  // Equity $10,000 at 30%: a cap of $3,000 per asset. The per-trade cap is lifted so only this rule binds.
  const limits = { maxTradeUsd: 1_000_000 };

  it('the room is the cap minus the exposure, pending buys included; a bigger buy is resized to the room', () => {
    const gate = makeGate({ limits });
    // $1,500 held plus a $500 buy in flight: $2,000 of exposure, $1,000 of room.
    const v = view({ open: ['A'], sellable: { A: 15 }, exposure: { A: 1_500 + 500 } });
    const under = approved(gate.check(buy('A', 999.99), v));
    expect(notional(under)).toBe(999.99);
    expect(under.adjustments).toEqual([]);
    const over = approved(gate.check(buy('A', 1000.01), v));
    expect(notional(over)).toBeCloseTo(1000, 9);
    expect(over.adjustments).toHaveLength(1);
    expect(over.adjustments[0]).toMatch(/^A cap of 30% of equity: \$1000\.01 → \$1000\.00$/);
    // Without the pending buy the room would be $1,500.
    expect(notional(gate.check(buy('A', 1400), view({ open: ['A'], exposure: { A: 1_500 } })))).toBe(1400);
  });

  it('the cap follows equity and the configured fraction', () => {
    const gate = makeGate({ limits: { ...limits, maxAssetFraction: 0.1 } });
    // 10% of $20,000 = $2,000 of which $500 is used.
    expect(notional(gate.check(buy('A', 5_000), view({ equity: 20_000, availableCash: 20_000, open: ['A'], exposure: { A: 500 } })))).toBeCloseTo(1_500, 9);
  });

  it('no room left (or less than the venue minimum) is a denial saying "no room"', () => {
    const gate = makeGate({ limits });
    expect(denied(gate.check(buy('A', 100), view({ open: ['A'], exposure: { A: 3_000 } })))).toMatch(/no room/);
    expect(denied(gate.check(buy('A', 100), view({ open: ['A'], exposure: { A: 3_500 } })))).toMatch(/no room/);
    expect(denied(gate.check(buy('A', 100), view({ open: ['A'], exposure: { A: 2_999.5 } })))).toMatch(/no room/);
    // $1 of room is exactly the venue minimum.
    expect(notional(gate.check(buy('A', 100), view({ open: ['A'], exposure: { A: 2_999 } })))).toBeCloseTo(1, 9);
    // Another symbol's exposure does not use A's room.
    expect(notional(gate.check(buy('B', 100), view({ open: ['A'], exposure: { A: 3_000 } })))).toBe(100);
  });
});

describe('RiskGate: Kelly sizing', () => {
  it('an edge without an edge is denied', () => {
    const gate = makeGate();
    expect(denied(gate.check(buy('A', 500, { winProbability: 0.5, payoff: 1 }), view()))).toMatch(/no edge/);
    expect(denied(gate.check(buy('A', 500, { winProbability: 0.4, payoff: 1.2 }), view()))).toMatch(/no edge/);
  });

  it('a real edge resizes the buy to half-Kelly × equity', () => {
    const gate = makeGate();
    // p = 0.55 at even payoff: full Kelly 0.55 − 0.45 = 0.10, half-Kelly 0.05, × $10,000 = $500.
    const edge = { winProbability: 0.55, payoff: 1 };
    const over = approved(gate.check(buy('A', 900, edge), view()));
    expect(notional(over)).toBeCloseTo(500, 9);
    expect(over.adjustments[0]).toMatch(/^Kelly size: \$900\.00 → \$500\.00$/);
    expect(notional(gate.check(buy('A', 499.99, edge), view()))).toBe(499.99);
    // The same buy without an edge is not Kelly-sized.
    expect(notional(gate.check(buy('A', 900), view()))).toBe(900);
  });

  it('drawdown shrinks the size: halfway to the 20% floor halves it, at the floor it is a denial', () => {
    const gate = makeGate();
    const edge = { winProbability: 0.55, payoff: 1 };
    expect(notional(gate.check(buy('A', 900, edge), view({ drawdown: 0.1 })))).toBeCloseTo(250, 9);
    expect(denied(gate.check(buy('A', 900, edge), view({ drawdown: 0.2 })))).toMatch(/no edge.*drawdown 20\.0%/);
  });
});

describe('RiskGate: maxCorrelation', () => {
  const BARS = DEFAULT_LIMITS.correlationBars; // 168 returns = 169 closes

  /**
   * Returns of A (z) and of B (z + k·e) with e orthogonal to z and both centred, so that corr(A, B) is exactly
   * sqrt(Σz² / (Σz² + k²Σe²)) by hand. Before them, 60 hours in which A and B move identically and wildly: a gate
   * that looked further back than `correlationBars` would see a much higher correlation.
   */
  function pair(rho: number): { a: number[]; b: number[] } {
    const centre = (xs: number[]) => {
      const m = xs.reduce((s, v) => s + v, 0) / xs.length;
      return xs.map((v) => v - m);
    };
    const z = centre(noise(21, BARS).map((u) => 0.002 * u));
    const e0 = centre(noise(22, BARS).map((u) => 0.002 * u));
    const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    const e = e0.map((v, i) => v - (dot(e0, z) / dot(z, z)) * z[i]!);
    const k = Math.sqrt((dot(z, z) / dot(e, e)) * (1 / rho ** 2 - 1));
    const common = noise(23, 60).map((u) => 0.01 * u);
    return { a: pathFrom(100, [...common, ...z]), b: pathFrom(100, [...common, ...z.map((v, i) => v + k * e[i]!)]) };
  }
  const realised = (a: readonly number[], b: readonly number[]) => correlation(returns(a.slice(-(BARS + 1))), returns(b.slice(-(BARS + 1))))!;

  it('a new symbol correlating just below 0.7 with a holding is approved; just above, denied', () => {
    const under = pair(0.699);
    const over = pair(0.701);
    // The construction lands where intended, by the project's own measure too.
    expect(realised(under.a, under.b)).toBeGreaterThan(0.6985);
    expect(realised(under.a, under.b)).toBeLessThan(0.7);
    expect(realised(over.a, over.b)).toBeGreaterThan(0.7);
    expect(realised(over.a, over.b)).toBeLessThan(0.7015);
    // Over the whole history both pairs are far more correlated: only the last correlationBars may count.
    expect(correlation(returns(under.a), returns(under.b))!).toBeGreaterThan(0.8);

    const gate = makeGate();
    const held = { open: ['B'], sellable: { B: 10 }, exposure: { B: 1_000 } };
    approved(gate.check(buy('A', 500), view({ ...held, closes: { A: under.a, B: under.b } })));
    expect(denied(gate.check(buy('A', 500), view({ ...held, closes: { A: over.a, B: over.b } })))).toMatch(/^correlation with B is 0\.70, above 0\.7$/);
  });

  it('checks against every holding, ignores negative correlation, and follows a tweaked limit', () => {
    const { a, b } = pair(0.75);
    const anti = a.map((c) => 200 - c);
    const gate = makeGate();
    // Anti-correlated C is fine; correlated B is not, whichever order they come in.
    expect(correlation(returns(a.slice(-(BARS + 1))), returns(anti.slice(-(BARS + 1))))!).toBeLessThan(-0.9);
    approved(gate.check(buy('A', 100), view({ open: ['C'], closes: { A: a, C: anti } })));
    expect(denied(gate.check(buy('A', 100), view({ open: ['C', 'B'], closes: { A: a, B: b, C: anti } })))).toMatch(/correlation with B/);
    approved(makeGate({ limits: { maxCorrelation: 0.8 } }).check(buy('A', 100), view({ open: ['B'], closes: { A: a, B: b } })));
  });
});

describe('RiskGate: maxVar95', () => {
  // A volatile A (about ±0.6% an hour) and an independent B; 10 days of hourly closes.
  const a = pathFrom(100, noise(31, 24 * 10).map((u) => 0.006 * u));
  const b = pathFrom(50, noise(32, 24 * 10).map((u) => 0.006 * u));
  // Only the VaR may bind: the per-trade and per-asset caps are lifted.
  const limits = { maxTradeUsd: 1_000_000, maxAssetFraction: 1 };
  const var95 = (weights: Record<Symbol, number>) => historicalVar95(new Map(Object.entries(weights)), new Map([['A', a], ['B', b]]), DEFAULT_LIMITS.varDays)!;

  it('a buy whose VaR lands just under 2% of equity is approved; just over, denied', () => {
    const perUnit = var95({ A: 1 });
    expect(perUnit).toBeGreaterThan(0.02);
    const boundary = (0.02 / perUnit) * EQUITY;
    const under = boundary - 0.01;
    const over = boundary + 0.01;
    expect(var95({ A: under / EQUITY })).toBeLessThan(0.02);
    expect(var95({ A: over / EQUITY })).toBeGreaterThan(0.02);
    const gate = makeGate({ limits });
    expect(notional(gate.check(buy('A', under), view({ closes: { A: a } })))).toBe(under);
    expect(denied(gate.check(buy('A', over), view({ closes: { A: a } })))).toMatch(/^portfolio VaR \(95%, 1 day\) would be 2\.00% of equity, above 2\.00%$/);
  });

  it('the VaR includes what is already held', () => {
    const heldB = 2_000;
    const portfolio = (n: number) => var95({ A: n / EQUITY, B: heldB / EQUITY });
    // Bisect the notional where the portfolio's VaR crosses 2%.
    let lo = 1;
    let hi = EQUITY;
    expect(portfolio(lo)).toBeLessThan(0.02);
    expect(portfolio(hi)).toBeGreaterThan(0.02);
    while (hi - lo > 0.02) {
      const mid = (lo + hi) / 2;
      if (portfolio(mid) > 0.02) hi = mid;
      else lo = mid;
    }
    expect(portfolio(lo)).toBeLessThan(0.02);
    expect(portfolio(hi)).toBeGreaterThan(0.02);
    // A and B are not correlated enough for the correlation rule to interfere.
    expect(Math.abs(correlation(returns(a.slice(-169)), returns(b.slice(-169)))!)).toBeLessThan(0.7);

    const gate = makeGate({ limits });
    const holdingB = { open: ['B'], sellable: { B: 40 }, exposure: { B: heldB }, closes: { A: a, B: b } };
    expect(notional(gate.check(buy('A', lo), view(holdingB)))).toBe(lo);
    expect(denied(gate.check(buy('A', hi), view(holdingB)))).toMatch(/portfolio VaR/);
    // Without B, the same buy is well within the limit.
    expect(var95({ A: hi / EQUITY })).toBeLessThan(0.02);
    expect(notional(gate.check(buy('A', hi), view({ closes: { A: a } })))).toBe(hi);
  });

  it('only the last varDays of history count', () => {
    // Flat, a 40% crash, then flat again for 8 days: the crash is 8 days old.
    const crashed = [...Array.from({ length: 40 }, () => 100), ...Array.from({ length: 24 * 8 + 1 }, () => 60)];
    // 30 days: every 24h window containing the crash loses 40%; at 10% of equity that is a 4% VaR.
    expect(historicalVar95(new Map([['A', 0.1]]), new Map([['A', crashed]]), 30)).toBeCloseTo(0.04, 12);
    expect(denied(makeGate().check(buy('A', 1_000), view({ closes: { A: crashed } })))).toMatch(/VaR/);
    approved(makeGate({ limits: { varDays: 7 } }).check(buy('A', 1_000), view({ closes: { A: crashed } })));
  });

  it('without 5 days of history (121 hourly closes) the buy is denied', () => {
    const gate = makeGate();
    approved(gate.check(buy('A', 100), view({ closes: { A: FLAT.slice(-121) } })));
    expect(denied(gate.check(buy('A', 100), view({ closes: { A: FLAT.slice(-120) } })))).toMatch(/not enough price history for the VaR check/);
    // A holding without enough history blocks too: the portfolio's VaR is unknown.
    expect(denied(gate.check(buy('A', 100), view({ open: ['B'], exposure: { B: 100 }, closes: { B: FLAT.slice(-50) } })))).toMatch(/not enough price history.*A, B|not enough price history.*B, A/);
  });
});

describe('RiskGate: cash and venue rules', () => {
  for (const profile of ['full', 'benchmark'] as const) {
    it(`${profile}: exactly the available cash is approved, one cent more is denied`, () => {
      const gate = makeGate({ profile });
      expect(notional(gate.check(buy('A', 500), view({ availableCash: 500 })))).toBe(500);
      expect(denied(gate.check(buy('A', 500.01), view({ availableCash: 500 })))).toMatch(/^insufficient cash: buy of \$500\.01 needs more than the \$500\.00 available$/);
    });

    it(`${profile}: the venue minimum ($1) is approved, a cent less is denied`, () => {
      const gate = makeGate({ profile });
      expect(notional(gate.check(buy('A', 1), view()))).toBe(1);
      denied(gate.check(buy('A', 0.99), view()));
    });
  }

  it('benchmark: the venue-minimum denial says so', () => {
    expect(denied(makeGate({ profile: 'benchmark' }).check(buy('A', 0.99), view()))).toMatch(/below the venue minimum of \$1/);
  });

  // Regression: under the full profile a buy below the venue minimum that no cap touched was denied as
  // "no room under the caps"; it must name the venue minimum.
  it('full: the venue-minimum denial says so too', () => {
    expect(denied(makeGate().check(buy('A', 0.99), view()))).toMatch(/below the venue minimum of \$1/);
  });
});

describe('RiskGate: benchmark profile', () => {
  it('skips every cap: a $5,000 buy with no history, five open symbols and no edge passes unchanged, uncounted', () => {
    const gate = makeGate({ profile: 'benchmark' });
    const busy = view({ open: ['B', 'C', 'D', 'E', 'F'], exposure: { A: 9_000 }, drawdown: 0.5, closes: { A: [] } });
    for (let i = 0; i < 12; i++) {
      const intent = buy('A', 5_000, { winProbability: 0.3, payoff: 1 });
      const v = approved(gate.check(intent, busy));
      expect(v.intent).toBe(intent);
      expect(v.adjustments).toEqual([]);
    }
    expect(gate.tradesOn(NOON)).toBe(0);
    // The same buy under the full profile is stopped.
    denied(makeGate().check(buy('A', 5_000), busy));
  });
});

describe('RiskGate: setLimit', () => {
  it('validates the name, the range and whole numbers, and changes nothing when invalid', () => {
    const store = new MemoryStore();
    const gate = makeGate({ store });
    const bad: Array<[string, number, RegExp]> = [
      ['noSuchLimit', 1, /no limit "noSuchLimit"/],
      ['maxOpenPositions', 0, /between 1 and 20/],
      ['maxOpenPositions', 21, /between 1 and 20/],
      ['maxOpenPositions', 2.5, /whole number/],
      ['maxVar95', 0.0009, /between 0\.001 and 0\.5/],
      ['maxVar95', 0.51, /between 0\.001 and 0\.5/],
      ['maxTradeUsd', Number.NaN, /between/],
      ['atrBrackets', 0.5, /whole number/],
    ];
    for (const [name, value, reason] of bad) {
      const result = gate.setLimit(name, value, 'tester');
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(reason);
    }
    expect(gate.limits).toEqual(DEFAULT_LIMITS);
    expect(store.writes).toBe(0);
    // The edges of the ranges are allowed.
    expect(gate.setLimit('maxOpenPositions', 1, 'tester')).toEqual({ ok: true, old: 3 });
    expect(gate.setLimit('maxOpenPositions', 20, 'tester')).toEqual({ ok: true, old: 1 });
    expect(gate.setLimit('maxVar95', 0.5, 'tester')).toEqual({ ok: true, old: 0.02 });
  });

  it('applies at once and persists: a new gate over the same store sees it, over the configured value', () => {
    const store = new MemoryStore();
    const gate = makeGate({ store });
    expect(gate.setLimit('maxTradeUsd', 500, 'tester')).toEqual({ ok: true, old: 1000 });
    expect(notional(gate.check(buy('A', 600), view()))).toBe(500);
    const restarted = makeGate({ store, limits: { maxTradeUsd: 2_000 } });
    expect(restarted.limits.maxTradeUsd).toBe(500);
    expect(notional(restarted.check(buy('A', 600), view()))).toBe(500);
  });

  // Regression: one /limits change must not freeze every other limit at the config value of that moment.
  it('limits the operator never set keep the configured value after a restart', () => {
    const store = new MemoryStore();
    makeGate({ store }).setLimit('maxTradeUsd', 500, 'tester');
    const restarted = makeGate({ store, limits: { maxOpenPositions: 7 } });
    expect(restarted.limits.maxTradeUsd).toBe(500);
    expect(restarted.limits.maxOpenPositions).toBe(7);
  });

  it('ignores saved values that are out of range, not whole, not numbers or unknown', () => {
    const store = new MemoryStore();
    makeGate({ store }).setLimit('maxTradeUsd', 500, 'tester');
    const keys = [...store.data.keys()].filter((k) => (store.get<Record<string, unknown>>(k) ?? {}).maxTradeUsd === 500);
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    store.set(key, { maxTradeUsd: 500, maxOpenPositions: 99, maxTradesPerDay: 2.5, maxCorrelation: '0.5', maxVar95: -1, noSuchLimit: 3 });
    const gate = makeGate({ store });
    expect(gate.limits).toEqual({ ...DEFAULT_LIMITS, maxTradeUsd: 500 });
  });
});

describe('RiskGate: state persistence and expiry', () => {
  it('starts ACTIVE, persists every change at once, and a new gate sees it', () => {
    const store = new MemoryStore();
    const gate = makeGate({ store });
    expect(gate.state).toMatchObject({ state: 'ACTIVE', by: 'system' });
    gate.setState('HALTED', 'tester', 'kill switch');
    expect(store.get<RiskState>(RISK_STATE_KEY)).toMatchObject({ state: 'HALTED', by: 'tester', reason: 'kill switch' });
    expect(makeGate({ store }).state).toMatchObject({ state: 'HALTED', by: 'tester' });
  });

  it('untilMarket lapses on market time, not on the wall clock', () => {
    let wall = Date.UTC(2025, 0, 1);
    const store = new MemoryStore();
    const gate = makeGate({ store, wallNow: () => wall });
    gate.setState('REDUCING', 'risk', 'daily loss limit', { untilMarket: MIDNIGHT_AFTER });
    wall += 365 * DAY;
    expect(gate.expireTimedState(MIDNIGHT_AFTER - 1)).toBeUndefined();
    expect(gate.state.state).toBe('REDUCING');
    const lapsed = gate.expireTimedState(MIDNIGHT_AFTER);
    expect(lapsed).toMatchObject({ state: 'ACTIVE', by: 'system', reason: 'daily loss limit: lapsed' });
    expect(gate.state.state).toBe('ACTIVE');
    expect(store.get<RiskState>(RISK_STATE_KEY)?.state).toBe('ACTIVE');
    expect(gate.expireTimedState(MIDNIGHT_AFTER + DAY)).toBeUndefined();
  });

  it('until lapses on the wall clock, not on market time', () => {
    let wall = Date.UTC(2025, 0, 1);
    const gate = makeGate({ wallNow: () => wall });
    const until = wall + 1_000;
    gate.setState('REDUCING', 'tester', 'paused', { until });
    expect(gate.expireTimedState(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    wall = until - 1;
    expect(gate.expireTimedState(NOON)).toBeUndefined();
    wall = until;
    expect(gate.expireTimedState(NOON)).toMatchObject({ state: 'ACTIVE', reason: 'paused: lapsed' });
  });

  it('HALTED and untimed pauses never lapse', () => {
    let wall = Date.UTC(2025, 0, 1);
    const gate = makeGate({ wallNow: () => wall });
    gate.setState('HALTED', 'risk', 'total loss limit', { until: wall, untilMarket: NOON });
    wall += DAY;
    expect(gate.expireTimedState(NOON + DAY)).toBeUndefined();
    expect(gate.state.state).toBe('HALTED');
    gate.setState('REDUCING', 'tester', 'paused by operator');
    wall += 365 * DAY;
    expect(gate.expireTimedState(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect(gate.state.state).toBe('REDUCING');
  });
});
