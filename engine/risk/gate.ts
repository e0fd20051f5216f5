/**
 * The risk gate: every intent, from strategies, protections or the operator, passes here before execution.
 * It holds the trading state (ACTIVE / REDUCING / HALTED), persists every change at once, and turns each
 * denial into data (a reason string) instead of an exception.
 *
 * Exposure-reducing orders (sells) pass in ACTIVE and REDUCING and are never counted or capped: a limit must
 * never stop a stop-loss. Exposure-increasing orders (buys) face every check of the profile.
 */
import type { VenueRules } from '../broker/broker.js';
import { QTY_EPSILON } from '../ledger.js';
import { DAY_MS } from '../market/feed.js';
import { floorToIncrement, USD_EPSILON } from '../money.js';
import type { StateStore } from '../ports.js';
import type { OrderIntent, RiskState, RiskStateName, Symbol } from '../types.js';
import { DEFAULT_LIMITS, limitProblem, type RiskLimits } from './limits.js';
import { correlation, historicalVar95, kellySize, returns } from './measures.js';

/**
 * `benchmark`: state, cash sufficiency and venue rules only (baselines, so they match an independent
 * computation). `full`: the agent's profile, with every limit of RiskLimits.
 */
export type RiskProfile = 'benchmark' | 'full';

/** What the gate may know about the book when it judges one intent. */
export interface GateView {
  /** open time of the bar being decided, ms UTC (market time) */
  readonly ts: number;
  /** USD that buys approved so far in this decision round may still spend */
  readonly availableCash: number;
  /** USD, positions marked at the last close */
  readonly equity: number;
  /** fall from the equity peak, fraction */
  readonly drawdown: number;
  /** units held minus units already promised to open sell orders */
  sellable(symbol: Symbol): number;
  /** USD held in `symbol` plus USD of buys for it already sent or approved */
  exposure(symbol: Symbol): number;
  /** symbols held or being bought */
  openSymbols(): ReadonlySet<Symbol>;
  /** last `count` closes, oldest first */
  closes(symbol: Symbol, count: number): readonly number[];
}

export type GateVerdict =
  | { readonly ok: true; readonly intent: OrderIntent; readonly adjustments: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** What the gate measured for the last buy it judged; /limits and /status show live usage from the engine. */
export interface DayCount {
  readonly day: number;
  readonly count: number;
}

export const RISK_STATE_KEY = 'risk.state';
const LIMITS_KEY = 'risk.limits';
const TRADES_KEY = 'risk.tradesToday';

export class RiskGate {
  private current: RiskState;
  private limitValues: RiskLimits;
  private trades: DayCount;
  /** set while live market data is down: no entries on stale prices (not persisted; the feed re-reports) */
  private dataOutage: string | undefined;

  constructor(
    readonly profile: RiskProfile,
    private readonly rules: VenueRules,
    private readonly store: StateStore,
    private readonly wallNow: () => number,
    configured: RiskLimits = DEFAULT_LIMITS,
  ) {
    this.current = store.get<RiskState>(RISK_STATE_KEY) ?? { state: 'ACTIVE', since: wallNow(), by: 'system', reason: 'first start' };
    const saved = store.get<Partial<RiskLimits>>(LIMITS_KEY) ?? {};
    const valid = Object.entries(saved).filter(([name, value]) => typeof value === 'number' && limitProblem(name, value) === undefined);
    this.limitValues = { ...configured, ...Object.fromEntries(valid) };
    this.trades = store.get<DayCount>(TRADES_KEY) ?? { day: 0, count: 0 };
  }

  get state(): RiskState {
    return this.current;
  }

  get limits(): RiskLimits {
    return this.limitValues;
  }

  setDataOutage(reason: string | undefined): void {
    this.dataOutage = reason;
  }

  /** Exposure-increasing orders approved on the UTC day of `ts`. */
  tradesOn(ts: number): number {
    return this.trades.day === Math.floor(ts / DAY_MS) ? this.trades.count : 0;
  }

  /** Set and persist the state before anything else happens, so a crash right after still remembers it. */
  setState(state: RiskStateName, by: string, reason: string, expiry: { until?: number; untilMarket?: number } = {}): RiskState {
    this.current = { state, since: this.wallNow(), by, reason, ...expiry };
    this.store.set(RISK_STATE_KEY, this.current, by);
    return this.current;
  }

  /** Operator pauses lapse on the wall clock; risk-made REDUCING states (daily loss, cooldown) on market time. */
  expireTimedState(marketNow: number): RiskState | undefined {
    const { until, untilMarket, state } = this.current;
    if (state !== 'REDUCING') return undefined;
    if ((until !== undefined && this.wallNow() >= until) || (untilMarket !== undefined && marketNow >= untilMarket)) {
      return this.setState('ACTIVE', 'system', `${this.current.reason}: lapsed`);
    }
    return undefined;
  }

  setLimit(name: string, value: number, by: string): { ok: true; old: number } | { ok: false; reason: string } {
    const problem = limitProblem(name, value);
    if (problem) return { ok: false, reason: problem };
    const key = name as keyof RiskLimits;
    const old = this.limitValues[key];
    this.limitValues = { ...this.limitValues, [key]: value };
    // Save only what operators set, so limits nobody touched keep following the config file.
    this.store.set(LIMITS_KEY, { ...(this.store.get<Partial<RiskLimits>>(LIMITS_KEY) ?? {}), [key]: value }, by);
    return { ok: true, old };
  }

  check(intent: OrderIntent, view: GateView): GateVerdict {
    const { state } = this.current;
    if (state === 'HALTED' && intent.source !== 'kill') return deny(`trading is HALTED (${this.current.reason}); only cancels and the kill's own closing orders run`);
    if (intent.side === 'sell') return this.checkSell(intent, view);
    if (state === 'REDUCING') return deny(`trading is paused (REDUCING: ${this.current.reason}); only exits run`);
    if (this.dataOutage) return deny(`no new entries while market data is down (${this.dataOutage})`);
    if (!(intent.notional > 0) || !Number.isFinite(intent.notional)) return deny(`buy amount must be a positive number of USD, got ${intent.notional}`);

    let notional = intent.notional;
    const adjustments: string[] = [];
    const limit = (cap: number, why: string) => {
      if (notional - cap > USD_EPSILON) {
        adjustments.push(`${why}: $${notional.toFixed(2)} → $${Math.max(0, cap).toFixed(2)}`);
        notional = cap;
      }
    };

    if (this.profile === 'full') {
      const l = this.limitValues;
      const today = this.tradesOn(view.ts);
      if (today >= l.maxTradesPerDay) return deny(`daily trade limit reached: ${today} of ${l.maxTradesPerDay} entries today`);
      const open = view.openSymbols();
      if (!open.has(intent.symbol) && open.size >= l.maxOpenPositions) return deny(`position limit: already ${open.size} of ${l.maxOpenPositions} open (${[...open].join(', ')})`);
      if (intent.edge) {
        const size = kellySize(intent.edge.winProbability, intent.edge.payoff, l.kellyFraction, view.drawdown, l.kellyDrawdownFloor);
        if (size <= 0) return deny(`no edge: win probability ${intent.edge.winProbability.toFixed(3)} at payoff ${intent.edge.payoff.toFixed(2)} sizes to zero${view.drawdown > 0 ? ` (drawdown ${(view.drawdown * 100).toFixed(1)}%)` : ''}`);
        limit(size * view.equity, 'Kelly size');
      }
      limit(l.maxTradeUsd, 'per-trade cap');
      limit(l.maxAssetFraction * view.equity - view.exposure(intent.symbol), `${intent.symbol} cap of ${(l.maxAssetFraction * 100).toFixed(0)}% of equity`);
      if (adjustments.length > 0 && notional < this.rules.minNotional) return deny(`no room under the caps for ${intent.symbol}: ${adjustments.join('; ')}`);

      const mine = returns(view.closes(intent.symbol, l.correlationBars + 1));
      for (const other of open) {
        if (other === intent.symbol) continue;
        const rho = correlation(mine, returns(view.closes(other, l.correlationBars + 1)));
        if (rho !== undefined && rho > l.maxCorrelation) return deny(`correlation with ${other} is ${rho.toFixed(2)}, above ${l.maxCorrelation}`);
      }

      const weights = new Map<Symbol, number>();
      const closes = new Map<Symbol, readonly number[]>();
      for (const s of new Set([...open, intent.symbol])) {
        weights.set(s, (view.exposure(s) + (s === intent.symbol ? notional : 0)) / view.equity);
        closes.set(s, view.closes(s, l.varDays * 24 + 1));
      }
      const var95 = historicalVar95(weights, closes, l.varDays);
      if (var95 === undefined) return deny(`not enough price history for the VaR check (needs 5 days of ${[...weights.keys()].join(', ')})`);
      if (var95 > l.maxVar95) return deny(`portfolio VaR (95%, 1 day) would be ${(var95 * 100).toFixed(2)}% of equity, above ${(l.maxVar95 * 100).toFixed(2)}%`);
    }

    if (notional < this.rules.minNotional) return deny(`buy of $${notional.toFixed(2)} is below the venue minimum of $${this.rules.minNotional}`);
    if (notional - view.availableCash > USD_EPSILON) {
      return deny(`insufficient cash: buy of $${notional.toFixed(2)} needs more than the $${Math.max(0, view.availableCash).toFixed(2)} available`);
    }
    if (this.profile === 'full') this.countTrade(view.ts);
    return { ok: true, intent: notional === intent.notional ? intent : { ...intent, notional }, adjustments };
  }

  private checkSell(intent: Extract<OrderIntent, { side: 'sell' }>, view: GateView): GateVerdict {
    if (!(intent.qty > 0)) return deny(`sell quantity must be positive, got ${intent.qty}`);
    const sellable = view.sellable(intent.symbol);
    const qty = floorToIncrement(Math.min(intent.qty, sellable), this.rules.qtyIncrement);
    if (qty <= QTY_EPSILON) return deny(`nothing sellable in ${intent.symbol} (held and not already being sold: ${sellable})`);
    return { ok: true, intent: qty === intent.qty ? intent : { ...intent, qty }, adjustments: [] };
  }

  private countTrade(ts: number): void {
    const day = Math.floor(ts / DAY_MS);
    this.trades = { day, count: this.tradesOn(ts) + 1 };
    this.store.set(TRADES_KEY, this.trades, 'risk');
  }
}

function deny(reason: string): GateVerdict {
  return { ok: false, reason };
}
