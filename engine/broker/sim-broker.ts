/**
 * The simulated venue used by backtest and sim. Market orders fill at the next bar's open of their symbol,
 * moved against the trader by the slippage, with a fee on each side. It keeps its own account (a Ledger),
 * like a real broker, and can save and restore it so a restarted sim continues with the same holdings.
 * Like a real broker it is durable on its own: `onChange` receives the state after every change (the sim saves
 * it in the transaction that journals the change), and a bar it has already traded is not traded again.
 */
import { Ledger, QTY_EPSILON, type LedgerSnapshot } from '../ledger.js';
import { floorToIncrement, USD_EPSILON } from '../money.js';
import type { BarBatch, OrderRequest, OrderState } from '../types.js';
import type { Broker, BrokerAccount, BrokerEvent, VenueRules } from './broker.js';

export interface SimBrokerConfig extends VenueRules {
  /** fraction of notional per side, e.g. 0.0025 */
  readonly feeRate: number;
  /** adverse price move per fill, in basis points */
  readonly slippageBps: number;
}

export interface SimVenueState {
  readonly account: LedgerSnapshot;
  readonly open: OrderState[];
  /** final orders kept for look-ups by client id (bounded) */
  readonly recent: OrderState[];
  /** the last bar the venue traded on; absent in states saved before it was kept */
  readonly lastTs?: number;
}

const RECENT_LIMIT = 500;

export class SimBroker implements Broker {
  readonly name = 'simulated broker';
  private readonly ledger: Ledger;
  private open: OrderState[];
  private recent: OrderState[];
  private lastTs: number | undefined;

  constructor(
    private readonly config: SimBrokerConfig,
    initial: SimVenueState,
    private readonly onChange?: (state: SimVenueState) => void,
  ) {
    this.ledger = new Ledger(initial.account);
    this.open = [...initial.open];
    this.recent = [...initial.recent];
    this.lastTs = initial.lastTs;
  }

  static fresh(config: SimBrokerConfig, equity: number, onChange?: (state: SimVenueState) => void): SimBroker {
    return new SimBroker(config, { account: { cash: equity, positions: [], realizedPnl: 0 }, open: [], recent: [] }, onChange);
  }

  /** A client_order_id the venue already has returns that order unchanged, as the Alpaca adapter does. */
  async submit(order: OrderRequest): Promise<OrderState> {
    const existing = this.lookup(order.clientOrderId);
    if (existing) return existing;
    const state: OrderState = { ...order, status: 'accepted', submittedAt: Date.now() };
    const problem = this.validate(order);
    if (problem) {
      const rejected = this.finalize({ ...state, status: 'rejected', rejectReason: problem });
      this.changed();
      return rejected;
    }
    this.open.push(state);
    this.changed();
    return state;
  }

  async findByClientId(clientOrderId: string): Promise<OrderState | undefined> {
    return this.lookup(clientOrderId);
  }

  async openOrders(): Promise<OrderState[]> {
    return [...this.open];
  }

  async cancel(clientOrderId: string): Promise<OrderState | undefined> {
    const order = this.open.find((o) => o.clientOrderId === clientOrderId);
    if (!order) return this.lookup(clientOrderId);
    this.open = this.open.filter((o) => o !== order);
    const canceled = this.finalize({ ...order, status: 'canceled' });
    this.changed();
    return canceled;
  }

  async account(): Promise<BrokerAccount> {
    return { cash: this.ledger.cash, positions: this.ledger.positions() };
  }

  onMarketData(batch: BarBatch): BrokerEvent[] {
    // A bar replayed after a restart was traded already: its fills are in the account and the journal.
    if (this.lastTs !== undefined && batch.ts <= this.lastTs) return [];
    const events: BrokerEvent[] = [];
    const stillOpen: OrderState[] = [];
    // Submission order: a rebalance's sells fill before its buys and fund them.
    for (const order of this.open) {
      const bar = batch.bars.get(order.symbol);
      if (!bar) {
        stillOpen.push(order);
        continue;
      }
      if (order.limitPrice !== undefined && !limitReached(order, bar)) {
        stillOpen.push(order);
        continue;
      }
      events.push(this.fillAt(order, bar.open, batch.ts));
    }
    this.open = stillOpen;
    this.lastTs = batch.ts;
    this.changed();
    return events;
  }

  /** Everything a restart needs to continue as the same venue. */
  saveState(): SimVenueState {
    return { account: this.ledger.snapshot(), open: [...this.open], recent: [...this.recent], ...(this.lastTs !== undefined ? { lastTs: this.lastTs } : {}) };
  }

  /** Only a venue that persists pays for the snapshot (a backtest has no listener). */
  private changed(): void {
    this.onChange?.(this.saveState());
  }

  private fillAt(order: OrderState, open: number, ts: number): BrokerEvent {
    const slip = this.config.slippageBps / 10_000;
    const fee = this.config.feeRate;
    if (order.side === 'buy') {
      // A limit buy never pays more than its limit; a market order pays the open plus slippage.
      const price = Math.min(open * (1 + slip), order.limitPrice ?? Number.POSITIVE_INFINITY);
      // A notional buy spends at most `notional` USD including its fee.
      const wanted = order.qty ?? (order.notional ?? 0) / (price * (1 + fee));
      const qty = floorToIncrement(wanted, this.config.qtyIncrement);
      const cost = qty * price * (1 + fee);
      if (qty <= 0 || qty * price < this.config.minNotional) return this.reject(order, `order below the minimum of $${this.config.minNotional} at fill`);
      if (cost - this.ledger.cash > USD_EPSILON) {
        return this.reject(order, `insufficient buying power: needs $${cost.toFixed(2)}, cash $${this.ledger.cash.toFixed(2)}`);
      }
      return this.fill(order, { qty, price, fee: qty * price * fee, ts });
    }
    const held = this.ledger.qty(order.symbol);
    const requested = order.qty ?? 0;
    if (requested - held > QTY_EPSILON) return this.reject(order, `insufficient quantity: sell ${requested}, held ${held}`);
    const qty = Math.min(requested, held);
    const price = Math.max(open * (1 - slip), order.limitPrice ?? 0);
    return this.fill(order, { qty, price, fee: qty * price * fee, ts });
  }

  private fill(order: OrderState, f: { qty: number; price: number; fee: number; ts: number }): BrokerEvent {
    const fill = { clientOrderId: order.clientOrderId, symbol: order.symbol, side: order.side, ...f };
    this.ledger.apply(fill);
    this.finalize({ ...order, status: 'filled' });
    return { type: 'fill', fill };
  }

  private reject(order: OrderState, reason: string): BrokerEvent {
    this.finalize({ ...order, status: 'rejected', rejectReason: reason });
    return { type: 'rejected', clientOrderId: order.clientOrderId, reason };
  }

  private validate(order: OrderRequest): string | undefined {
    const size = order.side === 'buy' ? order.notional ?? order.qty : order.qty;
    if (size === undefined || !Number.isFinite(size) || size <= 0) return 'order size must be a positive number';
    if (order.limitPrice !== undefined && !(order.limitPrice > 0)) return 'limit price must be a positive number';
    if (order.side === 'buy' && order.notional !== undefined && order.notional < this.config.minNotional) {
      return `order below the minimum of $${this.config.minNotional}`;
    }
    return undefined;
  }

  private lookup(clientOrderId: string): OrderState | undefined {
    return this.open.find((o) => o.clientOrderId === clientOrderId) ?? this.recent.find((o) => o.clientOrderId === clientOrderId);
  }

  private finalize(order: OrderState): OrderState {
    this.recent.push(order);
    if (this.recent.length > RECENT_LIMIT) this.recent = this.recent.slice(-RECENT_LIMIT);
    return order;
  }
}

/** A resting limit order fills on a bar that trades through its price. */
function limitReached(order: OrderState, bar: { low: number; high: number }): boolean {
  return order.side === 'buy' ? bar.low <= order.limitPrice! : bar.high >= order.limitPrice!;
}
