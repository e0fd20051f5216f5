/**
 * Property test of the risk layer: random markets, random strategy intents and random operator actions, with the
 * full profile's limits drawn at random too, and the invariants the gate, the protections and the loss limits
 * promise checked after every bar against a shadow book the test keeps itself (from the venue's fills and the
 * bars it fed in), never against the engine's own arithmetic.
 *
 *   (a) positions held after fills ≤ maxOpenPositions
 *   (b) every buy sent: notional ≤ maxTradeUsd, and exposure of its symbol at decision (held at the last close plus
 *       buys already sent) + notional ≤ maxAssetFraction × equity at decision
 *   (c) no buy is sent while the gate is REDUCING or HALTED
 *   (d) buys sent per UTC day (market time) ≤ maxTradesPerDay
 *   (e) equity at a bar close ≤ startingEquity × (1 − totalLossLimit) ⇒ HALTED after that bar
 *   (f) cash never below zero (engine, venue and shadow book)
 *
 * A failure names the invariant, the bar and the numbers, and fast-check prints the shrunk scenario as a script.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildRiskEngine, ScriptedStrategy, type ScriptedOrder } from '../../test/risk-strategies.js';
import type { BrokerEvent } from '../broker/broker.js';
import { SimBroker, type SimBrokerConfig } from '../broker/sim-broker.js';
import { DAY_MS, HOUR_MS } from '../market/feed.js';
import type { Bar, BarBatch, OrderRequest, OrderState, RiskStateName, Symbol } from '../types.js';
import type { RiskLimits } from './limits.js';
import { mulberry32 } from '../rng.js';

const BASE: Config = loadConfig({}).config;
const EQUITY = 10_000;
/** first trading bar; priming history ends just before it */
const T0 = Date.UTC(2024, 2, 1);
const PRIME_DAYS = 35;
const NUM_RUNS = Number(process.env.RISK_PROPERTY_RUNS ?? 300);
const MIN_BARS = 100;
const MAX_BARS = 240;
const TOL = 1e-6;

/** AAA and BBB share one market factor (hourly return correlation ≈ 0.9 > maxCorrelation 0.7); CCC moves on its own. */
const UNIVERSES: ReadonlyArray<readonly Symbol[]> = [
  ['AAA/USD', 'BBB/USD'],
  ['AAA/USD', 'CCC/USD'],
  ['AAA/USD', 'BBB/USD', 'CCC/USD'],
];
const BETA: Record<Symbol, number> = { 'AAA/USD': 1, 'BBB/USD': 1, 'CCC/USD': 0 };
const START_PRICE: Record<Symbol, number> = { 'AAA/USD': 40_000, 'BBB/USD': 2_000, 'CCC/USD': 100 };

// ---- scenario ----

type Action =
  | { readonly kind: 'buy'; readonly symbol: number; readonly notional: number }
  | { readonly kind: 'sell'; readonly symbol: number; readonly fraction: number }
  | { readonly kind: 'pause' }
  | { readonly kind: 'pauseFor'; readonly hours: number }
  | { readonly kind: 'resume' }
  | { readonly kind: 'kill' };

interface Step {
  /** log return of the shared factor (AAA, BBB) */
  readonly market: number;
  /** per-symbol idiosyncratic log return */
  readonly own: readonly number[];
  /** true: the bar opens at the moved price (a gap); false: it opens at the last close and moves inside the bar */
  readonly gap: boolean;
  /** what happens before this bar: operator actions run at once, buys and sells are what the strategy emits on it */
  readonly actions: readonly Action[];
}

interface Scenario {
  readonly symbols: readonly Symbol[];
  readonly limits: Pick<RiskLimits, 'maxOpenPositions' | 'maxTradeUsd' | 'maxAssetFraction' | 'maxTradesPerDay' | 'totalLossLimit' | 'dailyLossLimit'>;
  /** seed of the low-volatility priming history */
  readonly historySeed: number;
  readonly steps: readonly Step[];
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;

function describeScenario(s: Scenario): string {
  const name = (i: number) => s.symbols[i] ?? `#${i}`;
  const lines = [`universe ${s.symbols.join(', ')}; limits ${JSON.stringify(s.limits)}; history seed ${s.historySeed}`];
  let quietFrom: number | undefined;
  const flushQuiet = (end: number) => {
    if (quietFrom !== undefined) lines.push(`  bar ${quietFrom}${end - 1 > quietFrom ? `–${end - 1}` : ''}: nothing happens`);
    quietFrom = undefined;
  };
  s.steps.forEach((step, i) => {
    const quiet = step.actions.length === 0 && step.market === 0 && step.own.every((r) => r === 0);
    if (quiet) {
      quietFrom ??= i;
      return;
    }
    flushQuiet(i);
    const moves = s.symbols.map((sym, k) => `${sym.slice(0, 3)} ${pct(Math.exp(BETA[sym]! * step.market + (step.own[k] ?? 0)) - 1)}`).join(' ');
    const acts = step.actions
      .map((a) =>
        a.kind === 'buy' ? `buy ${name(a.symbol)} $${a.notional.toFixed(2)}` : a.kind === 'sell' ? `sell ${(a.fraction * 100).toFixed(0)}% ${name(a.symbol)}` : a.kind === 'pauseFor' ? `pause ${a.hours}h` : a.kind,
      )
      .join(', ');
    lines.push(`  bar ${i}: ${acts ? `[${acts}] ` : ''}${moves}${step.gap ? ' (opens at the moved price)' : ''}`);
  });
  flushQuiet(s.steps.length);
  return lines.join('\n');
}

/**
 * Uniform draws on a grid. fc.double spreads its draws over the representable doubles, so nearly all of them are
 * tiny; integers mapped to a scale give amounts and moves of every size (and shrink towards zero all the same).
 */
const uniform = (min: number, max: number, step: number) => fc.integer({ min: Math.round(min / step), max: Math.round(max / step) }).map((k) => k * step);
/** log returns: mostly within ±0.8% an hour, sometimes a crash of 5–30% (in about one bar in 20, for one symbol or all) */
const calm = uniform(-0.008, 0.008, 1e-5);
const crash = uniform(-0.35, -0.05, 1e-4);
const marketMove = fc.oneof({ withCrossShrink: true }, { weight: 50, arbitrary: calm }, { weight: 1, arbitrary: crash });
const ownMove = fc.oneof({ withCrossShrink: true }, { weight: 100, arbitrary: calm }, { weight: 1, arbitrary: crash });

function orderArb(symbolCount: number): fc.Arbitrary<Action> {
  const symbol = fc.integer({ min: 0, max: symbolCount - 1 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('buy' as const), symbol, notional: uniform(0, 5_000, 0.01) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sell' as const), symbol, fraction: uniform(0.01, 1, 0.01) }) },
  );
}

/** Operator commands: resumes are the most common, so the book is not paused or halted most of the time. */
const operatorArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pauseFor' as const), hours: fc.integer({ min: 1, max: 48 }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'resume' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'kill' as const }) },
);

function stepArb(symbolCount: number): fc.Arbitrary<Step> {
  return fc.record({
    market: marketMove,
    own: fc.array(ownMove, { minLength: symbolCount, maxLength: symbolCount }),
    gap: fc.boolean(),
    actions: fc
      .tuple(fc.oneof({ withCrossShrink: true }, { weight: 24, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: operatorArb }), fc.array(orderArb(symbolCount), { maxLength: 3 }))
      .map(([op, orders]) => (op ? [op, ...orders] : orders)),
  });
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    symbols: fc.constantFrom(...UNIVERSES),
    limits: fc.record({
      maxOpenPositions: fc.integer({ min: 1, max: 3 }),
      maxTradeUsd: fc.integer({ min: 100, max: 4_000 }),
      maxAssetFraction: uniform(0.1, 0.7, 0.01),
      maxTradesPerDay: fc.integer({ min: 1, max: 10 }),
      totalLossLimit: fc.constantFrom(0.03, 0.05, 0.1),
      dailyLossLimit: fc.constantFrom(0.02, 0.05),
    }),
    historySeed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  })
  .chain(({ symbols, limits, historySeed }) =>
    fc.array(stepArb(symbols.length), { minLength: MIN_BARS, maxLength: MAX_BARS, size: 'max' }).map((steps): Scenario => {
      const scenario = { symbols, limits, historySeed, steps };
      return Object.assign(scenario, { [fc.toStringMethod]: () => describeScenario(scenario) });
    }),
  );

// ---- market ----

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function makeBar(ts: number, open: number, close: number): Bar {
  return { ts, open, high: Math.max(open, close) * 1.001, low: Math.min(open, close) * 0.999, close, volume: 1 };
}

/** PRIME_DAYS of hourly bars with 0.15% hourly volatility, ending the hour before T0. */
function primingHistory(symbols: readonly Symbol[], seed: number): BarBatch[] {
  const rand = mulberry32(seed).next;
  const last = new Map(symbols.map((s) => [s, START_PRICE[s]!]));
  const batches: BarBatch[] = [];
  const hours = PRIME_DAYS * 24;
  for (let h = hours; h >= 1; h--) {
    const ts = T0 - h * HOUR_MS;
    const factor = 0.0015 * gaussian(rand);
    const bars = new Map<Symbol, Bar>();
    for (const s of symbols) {
      const r = BETA[s]! * factor + 0.0015 * (BETA[s]! > 0 ? 0.35 : 1) * gaussian(rand);
      const open = last.get(s)!;
      const close = open * Math.exp(r);
      bars.set(s, makeBar(ts, open, close));
      last.set(s, close);
    }
    batches.push({ ts, bars });
  }
  return batches;
}

// ---- the venue, recorded ----

interface SentOrder {
  readonly bar: number;
  readonly ts: number;
  readonly order: OrderRequest;
  readonly gateState: RiskStateName;
  /** shadow book at the moment of sending */
  readonly equity: number;
  readonly exposure: number;
}

/** The simulated venue, plus a shadow book kept from its fills and the closes it was shown. */
class RecordingBroker extends SimBroker {
  readonly sent: SentOrder[] = [];
  cash: number;
  readonly qty = new Map<Symbol, number>();
  readonly closes = new Map<Symbol, number>();
  bar = -1;
  context: { gateState(): RiskStateName; now(): number } | undefined;

  constructor(config: SimBrokerConfig, equity: number) {
    super(config, { account: { cash: equity, positions: [], realizedPnl: 0 }, open: [], recent: [] });
    this.cash = equity;
  }

  equity(): number {
    let total = this.cash;
    for (const [s, q] of this.qty) total += q * this.closes.get(s)!;
    return total;
  }

  override async submit(order: OrderRequest): Promise<OrderState> {
    const pendingBuys = (await this.openOrders()).filter((o) => o.side === 'buy' && o.symbol === order.symbol).reduce((sum, o) => sum + (o.notional ?? 0), 0);
    this.sent.push({
      bar: this.bar,
      ts: this.context!.now(),
      order,
      gateState: this.context!.gateState(),
      equity: this.equity(),
      exposure: (this.qty.get(order.symbol) ?? 0) * (this.closes.get(order.symbol) ?? 0) + pendingBuys,
    });
    return super.submit(order);
  }

  override onMarketData(batch: BarBatch): BrokerEvent[] {
    const events = super.onMarketData(batch);
    for (const event of events) {
      if (event.type !== 'fill') continue;
      const { symbol, side, qty, price, fee } = event.fill;
      const held = this.qty.get(symbol) ?? 0;
      if (side === 'buy') {
        this.cash -= qty * price + fee;
        this.qty.set(symbol, held + qty);
      } else {
        this.cash += qty * price - fee;
        if (held - qty <= 1e-10) this.qty.delete(symbol);
        else this.qty.set(symbol, held - qty);
      }
    }
    for (const [s, b] of batch.bars) this.closes.set(s, b.close);
    return events;
  }
}

// ---- one run ----

/** How often the interesting paths were taken over all runs, so a property that never bites is noticed. */
const coverage = { runs: 0, bars: 0, buysSent: 0, tradeCapResized: 0, assetCapResized: 0, positionLimitDenied: 0, dailyTradeLimitDenied: 0, correlationDenied: 0, varDenied: 0, pausedDenied: 0, totalLossHalts: 0, dailyLossPauses: 0, protections: 0, kills: 0 };

class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

function fail(invariant: string, bar: number, ts: number, detail: string): never {
  throw new InvariantViolation(`invariant ${invariant} broken at bar ${bar} (${new Date(ts).toISOString()}): ${detail}`);
}

async function runScenario(s: Scenario): Promise<void> {
  const limits: RiskLimits = { ...BASE.risk.limits, ...s.limits };
  const config: Config = { ...BASE, risk: { ...BASE.risk, limits } };
  const strategy = new ScriptedStrategy();
  let broker: RecordingBroker | undefined;
  const rig = buildRiskEngine({
    config,
    strategy,
    symbols: s.symbols,
    startingEquity: EQUITY,
    makeBroker: (c, equity) => (broker = new RecordingBroker(c, equity)),
  });
  const venue = broker!;
  const { engine, gate, clock, db } = rig;
  venue.context = { gateState: () => gate.state.state, now: () => clock.now() };
  await engine.start();

  const history = primingHistory(s.symbols, s.historySeed);
  engine.prime(history);
  for (const [sym, bar] of history[history.length - 1]!.bars) venue.closes.set(sym, bar.close);
  const last = new Map(venue.closes);
  const buysPerDay = new Map<number, number>();
  let checked = 0;

  for (let i = 0; i < s.steps.length; i++) {
    const step = s.steps[i]!;
    const ts = T0 + i * HOUR_MS;
    rig.advanceWall(ts);
    venue.bar = i;
    const orders: ScriptedOrder[] = [];
    for (const a of step.actions) {
      if (a.kind === 'buy') orders.push({ symbol: s.symbols[a.symbol]!, side: 'buy', notional: a.notional });
      else if (a.kind === 'sell') orders.push({ symbol: s.symbols[a.symbol]!, side: 'sell', fraction: a.fraction });
      else if (a.kind === 'pause') engine.pause('operator');
      else if (a.kind === 'pauseFor') engine.pause('operator', a.hours * HOUR_MS);
      else if (a.kind === 'resume') engine.resume('operator');
      else {
        coverage.kills += 1;
        await engine.kill('operator');
      }
    }
    strategy.script(orders);

    const bars = new Map<Symbol, Bar>();
    s.symbols.forEach((sym, k) => {
      const prev = last.get(sym)!;
      const moved = prev * Math.exp(BETA[sym]! * step.market + step.own[k]!);
      bars.set(sym, step.gap ? makeBar(ts, moved, moved * (1 + (k - 1) * 0.0005)) : makeBar(ts, prev, moved));
      last.set(sym, bars.get(sym)!.close);
    });
    await engine.handleBars({ ts, bars });
    coverage.bars += 1;

    // (b), (c), (d) for every order sent since the last check (operator kills included)
    for (; checked < venue.sent.length; checked++) {
      const sent = venue.sent[checked]!;
      if (sent.order.side !== 'buy') continue;
      coverage.buysSent += 1;
      const notional = sent.order.notional!;
      const where = `buy ${sent.order.symbol} $${notional.toFixed(6)}`;
      if (sent.gateState !== 'ACTIVE') fail('(c) no buy while REDUCING/HALTED', sent.bar, sent.ts, `${where} was sent while the gate was ${sent.gateState}`);
      if (notional > limits.maxTradeUsd + TOL) fail('(b) per-trade cap', sent.bar, sent.ts, `${where} exceeds maxTradeUsd $${limits.maxTradeUsd}`);
      const cap = limits.maxAssetFraction * sent.equity;
      if (sent.exposure + notional > cap + TOL) {
        fail('(b) asset cap', sent.bar, sent.ts, `${where} on top of $${sent.exposure.toFixed(6)} already held or being bought exceeds ${limits.maxAssetFraction} × equity $${sent.equity.toFixed(6)} = $${cap.toFixed(6)}`);
      }
      const day = Math.floor(sent.ts / DAY_MS);
      const count = (buysPerDay.get(day) ?? 0) + 1;
      buysPerDay.set(day, count);
      if (count > limits.maxTradesPerDay) fail('(d) trades per day', sent.bar, sent.ts, `${where} is entry number ${count} on ${new Date(day * DAY_MS).toISOString().slice(0, 10)}, limit ${limits.maxTradesPerDay}`);
    }

    // (a) positions after this bar's fills
    const held = [...venue.qty.keys()];
    if (held.length > limits.maxOpenPositions) fail('(a) open positions', i, ts, `holding ${held.join(', ')} with maxOpenPositions ${limits.maxOpenPositions}`);

    // the shadow book must agree with the engine, or the checks above would prove nothing
    const status = engine.status();
    const equity = venue.equity();
    if (Math.abs(status.equity - equity) > 1e-6 * Math.max(1, equity)) fail('shadow book', i, ts, `engine equity $${status.equity} vs shadow $${equity}`);
    const engineHeld = status.positions.filter((p) => p.qty > 1e-10).map((p) => p.symbol).sort().join(', ');
    if (engineHeld !== [...held].sort().join(', ')) fail('shadow book', i, ts, `engine holds [${engineHeld}], the venue's fills say [${[...held].sort().join(', ')}]`);

    // (e) total loss limit
    const floor = EQUITY * (1 - limits.totalLossLimit);
    if (equity <= floor - TOL && gate.state.state !== 'HALTED') {
      fail('(e) total loss limit', i, ts, `equity $${equity.toFixed(2)} at the close is at or below $${floor.toFixed(2)} (${pct(equity / EQUITY - 1)}) but the state is ${gate.state.state}`);
    }

    // (f) cash
    const venueCash = (await venue.account()).cash;
    for (const [who, cash] of [['engine', status.cash], ['venue', venueCash], ['shadow book', venue.cash]] as const) {
      if (cash < -TOL) fail('(f) cash never negative', i, ts, `${who} cash is $${cash}`);
    }
  }

  coverage.runs += 1;
  const events = db.prepare('SELECT kind, reason FROM risk_events').all() as Array<{ kind: string; reason: string }>;
  for (const e of events) {
    if (e.kind === 'resized' && e.reason.includes('per-trade cap')) coverage.tradeCapResized += 1;
    if (e.kind === 'resized' && /cap of \d+% of equity/.test(e.reason)) coverage.assetCapResized += 1;
    if (e.kind === 'denied' && e.reason.startsWith('position limit')) coverage.positionLimitDenied += 1;
    if (e.kind === 'denied' && e.reason.startsWith('daily trade limit')) coverage.dailyTradeLimitDenied += 1;
    if (e.kind === 'denied' && e.reason.startsWith('correlation with')) coverage.correlationDenied += 1;
    if (e.kind === 'denied' && e.reason.startsWith('portfolio VaR')) coverage.varDenied += 1;
    if (e.kind === 'denied' && /REDUCING|HALTED/.test(e.reason)) coverage.pausedDenied += 1;
    if (e.kind === 'state-change' && e.reason.includes('total loss limit')) coverage.totalLossHalts += 1;
    if (e.kind === 'state-change' && e.reason.startsWith('Daily loss limit')) coverage.dailyLossPauses += 1;
    if (e.kind === 'protection') coverage.protections += 1;
  }
  db.close();
}

describe('risk invariants under random markets, intents and operator actions (full profile)', () => {
  it(
    `hold after every bar (${NUM_RUNS} runs of up to ${MAX_BARS} hourly bars)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, (scenario) => runScenario(scenario)),
        { numRuns: NUM_RUNS },
      );
      // The invariants above are only worth something if the runs reached the limits they guard.
      if (process.env.RISK_PROPERTY_VERBOSE) console.info('risk property coverage', coverage);
      expect(coverage.runs).toBeGreaterThanOrEqual(NUM_RUNS);
      expect(coverage.bars / coverage.runs).toBeGreaterThan(MAX_BARS / 4);
      for (const key of ['buysSent', 'tradeCapResized', 'assetCapResized', 'positionLimitDenied', 'dailyTradeLimitDenied', 'correlationDenied', 'pausedDenied', 'totalLossHalts', 'protections', 'kills'] as const) {
        expect(coverage[key], `coverage of ${key}`).toBeGreaterThan(0);
      }
    },
    600_000,
  );
});
