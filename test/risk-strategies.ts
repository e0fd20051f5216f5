/**
 * Test-only strategies and an engine builder for the risk tests (engine/risk/*.test.ts).
 * The builder assembles an Engine the way src/engine-factory.ts does, but takes a Strategy object instead of a
 * name, runs on an in-memory SQLite journal, and lets the caller swap in a recording broker.
 */
import type { SimBrokerConfig } from '../engine/broker/sim-broker.js';
import { SimBroker } from '../engine/broker/sim-broker.js';
import { SimClock } from '../engine/clock.js';
import { Engine } from '../engine/engine.js';
import { Execution } from '../engine/execution.js';
import { RiskGate } from '../engine/risk/gate.js';
import type { Strategy, StrategyContext, StrategyDecision } from '../engine/strategy/strategy.js';
import type { OrderIntent, Symbol } from '../engine/types.js';
import type { Config } from '../src/config.js';
import { openDatabase, type Db } from '../src/store/database.js';
import { SqliteJournal, SqliteStateStore } from '../src/store/sqlite-journal.js';

/** One order a script asks for: buys in USD, sells as a fraction of what is held when the strategy decides. */
export type ScriptedOrder = { readonly symbol: Symbol; readonly side: 'buy'; readonly notional: number } | { readonly symbol: Symbol; readonly side: 'sell'; readonly fraction: number };

/** Emits exactly the orders queued with `script()` for the next bar, sells first, then forgets them. */
export class ScriptedStrategy implements Strategy {
  readonly name = 'scripted';
  readonly tunables = [];
  readonly warmupBars = 0;
  private queued: ScriptedOrder[] = [];

  script(orders: readonly ScriptedOrder[]): void {
    this.queued = [...orders];
  }

  decide(ctx: StrategyContext): StrategyDecision[] {
    const orders = this.queued;
    this.queued = [];
    const decisions: StrategyDecision[] = [];
    for (const order of [...orders].sort((a, b) => (a.side === b.side ? 0 : a.side === 'sell' ? -1 : 1))) {
      let intent: OrderIntent | null = null;
      if (order.side === 'buy') intent = { symbol: order.symbol, side: 'buy', notional: order.notional, source: 'strategy', reason: 'scripted buy' };
      else {
        const qty = ctx.held(order.symbol) * order.fraction;
        if (qty > 0) intent = { symbol: order.symbol, side: 'sell', qty, source: 'strategy', reason: 'scripted sell' };
      }
      decisions.push({ symbol: order.symbol, features: {}, signal: { scripted: order.side }, intent });
    }
    for (const symbol of ctx.symbols) {
      if (!orders.some((o) => o.symbol === symbol)) decisions.push({ symbol, features: {}, signal: { scripted: null }, intent: null });
    }
    return decisions;
  }
}

/**
 * Always invested: on every bar, every symbol it holds none of gets a buy of `notional` USD (the gate caps or
 * denies it), so it re-enters right after a protection closed a position. It never sells; only protections,
 * loss limits and the operator do. It buys only from flat: a top-up in the bar a protection is selling the same
 * symbol would re-open the position within one bar's fills (see the stale-bracket test in
 * engine/risk/crash-scenarios.test.ts).
 */
export class AlwaysInvestedStrategy implements Strategy {
  readonly name = 'always-invested';
  readonly tunables = [];
  readonly warmupBars = 0;

  constructor(private readonly notional: number) {}

  decide(ctx: StrategyContext): StrategyDecision[] {
    return ctx.symbols.map((symbol): StrategyDecision => {
      const enter = ctx.price(symbol) !== undefined && ctx.held(symbol) === 0;
      return {
        symbol,
        features: { held: ctx.held(symbol) },
        signal: { enter },
        intent: enter ? { symbol, side: 'buy', notional: this.notional, source: 'strategy', reason: 'always invested: enter' } : null,
      };
    });
  }
}

export interface RiskRig {
  readonly engine: Engine;
  readonly broker: SimBroker;
  readonly gate: RiskGate;
  readonly db: Db;
  readonly journal: SqliteJournal;
  readonly clock: SimClock;
  readonly notes: Array<{ kind: string; text: string }>;
  /** move the wall clock (timed pauses lapse on it) to at least `ts` */
  advanceWall(ts: number): void;
}

export function buildRiskEngine(o: {
  readonly config: Config;
  readonly strategy: Strategy;
  readonly symbols: readonly Symbol[];
  readonly startingEquity: number;
  readonly makeBroker?: (config: SimBrokerConfig, equity: number) => SimBroker;
}): RiskRig {
  const db = openDatabase(':memory:');
  let wall = Date.UTC(2020, 0, 1);
  const wallNow = () => (wall += 1);
  const journal = new SqliteJournal(db, wallNow);
  const state = new SqliteStateStore(db, wallNow);
  const notes: Array<{ kind: string; text: string }> = [];
  const brokerConfig: SimBrokerConfig = o.config.broker;
  const broker = o.makeBroker ? o.makeBroker(brokerConfig, o.startingEquity) : SimBroker.fresh(brokerConfig, o.startingEquity);
  const gate = new RiskGate('full', brokerConfig, state, wallNow, o.config.risk.limits);
  const clock = new SimClock();
  const engine = new Engine({
    mode: 'backtest',
    symbols: o.symbols,
    strategy: o.strategy,
    gate,
    broker,
    execution: new Execution(broker, journal, () => {}),
    journal,
    state,
    notifier: { notify: (kind, text) => notes.push({ kind, text }) },
    clock,
    wallNow,
    marketDescription: 'risk test bars',
    startingEquity: o.startingEquity,
    // The simulated venue fills at the next bar, never while /kill waits: do not wait for it.
    killWaitMs: 0,
    log: () => {},
  });
  return {
    engine,
    broker,
    gate,
    db,
    journal,
    clock,
    notes,
    advanceWall: (ts) => {
      wall = Math.max(wall, ts);
    },
  };
}
