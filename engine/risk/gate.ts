/**
 * The risk gate: every intent, from strategies, protections or the operator, passes here before execution.
 * It holds the trading state (ACTIVE / REDUCING / HALTED), persists every change at once, and turns each
 * denial into data (a reason string) instead of an exception.
 */
import type { VenueRules } from '../broker/broker.js';
import { QTY_EPSILON } from '../ledger.js';
import { floorToIncrement, USD_EPSILON } from '../money.js';
import type { StateStore } from '../ports.js';
import type { OrderIntent, RiskState, RiskStateName, Symbol } from '../types.js';

/**
 * `benchmark`: cash sufficiency and venue rules only (baselines). `full`: the agent's profile; the limit table
 * of ARCHITECTURE.md (position count, caps, VaR, correlation, loss limits) joins it with the risk issue.
 */
export type RiskProfile = 'benchmark' | 'full';

/** What the gate may know about the book when it judges one intent. */
export interface GateView {
  /** USD that buys approved so far in this decision round may still spend */
  readonly availableCash: number;
  /** units held minus units already promised to open sell orders */
  sellable(symbol: Symbol): number;
}

export type GateVerdict = { readonly ok: true; readonly intent: OrderIntent } | { readonly ok: false; readonly reason: string };

export const RISK_STATE_KEY = 'risk.state';

export class RiskGate {
  private current: RiskState;

  constructor(
    readonly profile: RiskProfile,
    private readonly rules: VenueRules,
    private readonly store: StateStore,
    private readonly wallNow: () => number,
  ) {
    this.current = store.get<RiskState>(RISK_STATE_KEY) ?? { state: 'ACTIVE', since: wallNow(), by: 'system', reason: 'first start' };
  }

  get state(): RiskState {
    return this.current;
  }

  /** Set and persist the state before anything else happens, so a crash right after still remembers it. */
  setState(state: RiskStateName, by: string, reason: string, until?: number): RiskState {
    this.current = { state, since: this.wallNow(), by, reason, ...(until !== undefined ? { until } : {}) };
    this.store.set(RISK_STATE_KEY, this.current, by);
    return this.current;
  }

  /** A timed pause lapses by itself; returns the new state when it did. */
  expireTimedState(): RiskState | undefined {
    const { until, state } = this.current;
    if (state === 'REDUCING' && until !== undefined && this.wallNow() >= until) {
      return this.setState('ACTIVE', 'system', 'timed pause ended');
    }
    return undefined;
  }

  check(intent: OrderIntent, view: GateView): GateVerdict {
    const { state } = this.current;
    if (state === 'HALTED' && intent.source !== 'kill') return deny(`trading is HALTED (${this.current.reason}); only cancels and the kill's own closing orders run`);
    if (state === 'REDUCING' && intent.side === 'buy') return deny(`trading is paused (REDUCING: ${this.current.reason}); only exits run`);

    if (intent.side === 'sell') {
      const sellable = view.sellable(intent.symbol);
      const qty = floorToIncrement(Math.min(intent.qty, sellable), this.rules.qtyIncrement);
      if (!(intent.qty > 0)) return deny(`sell quantity must be positive, got ${intent.qty}`);
      if (qty <= QTY_EPSILON) return deny(`nothing sellable in ${intent.symbol} (held and not already being sold: ${sellable})`);
      return { ok: true, intent: { ...intent, qty } };
    }

    if (!(intent.notional > 0) || !Number.isFinite(intent.notional)) return deny(`buy amount must be a positive number of USD, got ${intent.notional}`);
    if (intent.notional < this.rules.minNotional) return deny(`buy of $${intent.notional.toFixed(2)} is below the venue minimum of $${this.rules.minNotional}`);
    if (intent.notional - view.availableCash > USD_EPSILON) {
      return deny(`insufficient cash: buy of $${intent.notional.toFixed(2)} needs more than the $${Math.max(0, view.availableCash).toFixed(2)} available`);
    }
    return { ok: true, intent };
  }
}

function deny(reason: string): GateVerdict {
  return { ok: false, reason };
}
