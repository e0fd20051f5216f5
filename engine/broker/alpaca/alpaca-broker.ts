/**
 * The Alpaca broker (paper or live) behind the engine's Broker port. REST through the official SDK, fills from
 * the trade-updates stream, every response validated with zod, one circuit breaker for the trading endpoints.
 *
 * Exactly-once: the SDK never retries a POST. A 4xx is a definite answer (rejected); a timeout, network error,
 * 429 or 5xx is ambiguous and is thrown, so Execution looks the order up by client_order_id before any resend.
 * Fees: Alpaca takes crypto fees from what you receive (the coin on a buy, USD on a sell); fills are reported
 * as units received plus the fee's USD value, which keeps the engine's ledger equal to the broker's book.
 */
import { ApiError, NotFoundError, type Alpaca } from '@alpacahq/alpaca-trade-api';
import { floorToIncrement } from '../../money.js';
import type { BarBatch, OrderRequest, OrderState, OrderStatus, Symbol } from '../../types.js';
import type { Broker, BrokerAccount, BrokerEvent } from '../broker.js';
import { CircuitBreaker } from '../circuit-breaker.js';
import { accountSchema, assetSchema, orderSchema, parseAt, positionSchema, tradeUpdateSchema, type AlpacaOrder } from './schemas.js';

export interface AlpacaBrokerOptions {
  readonly paper: boolean;
  readonly symbols: readonly Symbol[];
  /** Alpaca's crypto fee as a fraction (0.0025 = 25 bps), taken from what is received */
  readonly feeRate: number;
  readonly log: (msg: string, detail: Record<string, unknown>) => void;
}

/** The part of the SDK's trading stream the broker listens to. */
export interface TradeUpdateSource {
  onTradeUpdate(listener: (update: unknown) => void): unknown;
}

interface AssetRules {
  readonly minOrderSize: number;
  readonly increment: number;
}

/** A send whose outcome is unknown (timeout, network, 5xx, 429): the caller must look the order up. */
export function isAmbiguous(error: unknown): boolean {
  return !(error instanceof ApiError) || error.status >= 500 || error.status === 429 || error.status === 408;
}

export class AlpacaBroker implements Broker {
  readonly name: string;
  readonly breaker = new CircuitBreaker('alpaca trading');
  private readonly rules = new Map<Symbol, AssetRules>();
  private readonly alpacaIds = new Map<string, string>();
  private listener: ((event: BrokerEvent) => void) | undefined;

  constructor(
    private readonly alpaca: Alpaca,
    updates: TradeUpdateSource,
    private readonly opts: AlpacaBrokerOptions,
  ) {
    this.name = opts.paper ? 'Alpaca paper account' : 'Alpaca LIVE account';
    updates.onTradeUpdate((u) => this.onTradeUpdate(u));
  }

  /** Quantity increments and minimum sizes per symbol, read once at start-up. */
  async loadAssets(): Promise<void> {
    for (const symbol of this.opts.symbols) {
      const raw = await this.call(() => this.alpaca.trading.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: symbol }));
      const asset = parseAt(assetSchema, raw, `GET /v2/assets/${symbol}`);
      if (asset.tradable === false) throw new Error(`Alpaca says ${symbol} is not tradable`);
      this.rules.set(symbol, { minOrderSize: asset.minOrderSize ?? 0, increment: asset.minTradeIncrement ?? 1e-9 });
    }
  }

  async submit(order: OrderRequest): Promise<OrderState> {
    const submittedAt = Date.now();
    const rules = this.rules.get(order.symbol);
    const qty = order.qty !== undefined && rules ? floorToIncrement(order.qty, rules.increment) : order.qty;
    if (qty !== undefined && rules && qty < rules.minOrderSize) {
      return { ...order, status: 'rejected', submittedAt, rejectReason: `quantity ${qty} is below Alpaca's minimum order size ${rules.minOrderSize} for ${order.symbol}` };
    }
    const common = {
      symbol: order.symbol,
      side: order.side,
      timeInForce: 'gtc' as const, // crypto accepts gtc/ioc only; the SDK's default 'day' is refused
      clientOrderId: order.clientOrderId,
      ...(qty !== undefined ? { qty } : { notional: Number(order.notional!.toFixed(2)) }),
    };
    let raw: unknown;
    try {
      raw = await this.call(() =>
        order.limitPrice !== undefined
          ? this.alpaca.trading.orders.limit({ ...common, limitPrice: order.limitPrice } as Parameters<Alpaca['trading']['orders']['limit']>[0])
          : this.alpaca.trading.orders.market(common as Parameters<Alpaca['trading']['orders']['market']>[0]),
      );
    } catch (error) {
      if (isAmbiguous(error)) throw error;
      const existing = await this.findByClientId(order.clientOrderId).catch(() => undefined);
      if (existing) return existing; // a duplicate id: the first send went through
      // "Must be unique" means it exists even if the look-up just failed: let Execution resolve it, never "rejected".
      if (/unique/i.test((error as Error).message)) throw error;
      return { ...order, status: 'rejected', submittedAt, rejectReason: `Alpaca refused the order: ${(error as Error).message}` };
    }
    return this.toState(parseAt(orderSchema, raw, 'POST /v2/orders'), submittedAt);
  }

  async findByClientId(clientOrderId: string): Promise<OrderState | undefined> {
    try {
      const raw = await this.call(() => this.alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId }));
      return this.toState(parseAt(orderSchema, raw, 'GET /v2/orders:by_client_order_id'));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async openOrders(): Promise<OrderState[]> {
    const raw = await this.call(() => this.alpaca.trading.orders.getAllOrders({ status: 'open', limit: 500 }));
    if (!Array.isArray(raw)) throw new Error('Alpaca GET /v2/orders: expected a list');
    return raw.map((o, i) => this.toState(parseAt(orderSchema, o, `GET /v2/orders [${i}]`)));
  }

  async cancel(clientOrderId: string): Promise<OrderState | undefined> {
    const order = await this.findByClientId(clientOrderId);
    if (!order || order.status !== 'accepted') return order;
    try {
      await this.call(() => this.alpaca.trading.orders.deleteOrderByOrderID({ orderId: this.alpacaIds.get(clientOrderId)! }));
    } catch (error) {
      if (isAmbiguous(error)) throw error;
      return this.findByClientId(clientOrderId); // it filled or was canceled meanwhile
    }
    return { ...order, status: 'canceled' };
  }

  async cancelAll(): Promise<string[]> {
    const open = await this.openOrders();
    await this.call(() => this.alpaca.trading.orders.deleteAllOrders());
    return open.map((o) => o.clientOrderId);
  }

  async account(): Promise<BrokerAccount> {
    const account = parseAt(accountSchema, await this.call(() => this.alpaca.trading.account.getAccount()), 'GET /v2/account');
    if (account.status !== 'ACTIVE') this.opts.log('Alpaca account is not ACTIVE', { status: account.status });
    const raw = await this.call(() => this.alpaca.trading.positions.getAllOpenPositions());
    if (!Array.isArray(raw)) throw new Error('Alpaca GET /v2/positions: expected a list');
    const positions = raw.map((p, i) => parseAt(positionSchema, p, `GET /v2/positions [${i}]`));
    return {
      cash: account.cash,
      positions: positions.filter((p) => p.qty > 0).map((p) => ({ symbol: this.symbolFor(p.symbol), qty: p.qty, avgCost: p.avgEntryPrice })),
    };
  }

  /** Fills arrive on the trade-updates stream; there is nothing to do per bar. */
  onMarketData(_batch: BarBatch): BrokerEvent[] {
    return [];
  }

  subscribe(listener: (event: BrokerEvent) => void): void {
    this.listener = listener;
  }

  private onTradeUpdate(raw: unknown): void {
    let update;
    try {
      update = parseAt(tradeUpdateSchema, raw, 'trade_updates');
    } catch (error) {
      this.opts.log('ignored a malformed trade update', { error: (error as Error).message });
      return;
    }
    const order = update.order;
    this.alpacaIds.set(order.clientOrderId, order.id);
    const symbol = this.symbolFor(order.symbol);
    const emit = (event: BrokerEvent) => this.listener?.(event);
    if (update.event === 'fill' || update.event === 'partial_fill') {
      const qty = update.qty ?? 0;
      const price = update.price ?? order.filledAvgPrice ?? 0;
      if (!(qty > 0) || !(price > 0)) return;
      const ts = update.timestamp instanceof Date ? update.timestamp.getTime() : update.timestamp ? Date.parse(update.timestamp) : Date.now();
      // A buy delivers the coin net of the fee (stated to 9 decimals, as Alpaca does): we paid qty × price for
      // `received` units, so the fee is whatever that leaves. A sell delivers USD net of the fee.
      const received = order.side === 'buy' ? Number((qty * (1 - this.opts.feeRate)).toFixed(9)) : qty;
      const fee = order.side === 'buy' ? qty * price - received * price : qty * price * this.opts.feeRate;
      emit({
        type: 'fill',
        fill: { clientOrderId: order.clientOrderId, symbol, side: order.side, qty: received, price, fee, ts },
        complete: update.event === 'fill',
        executionId: update.executionId ?? `${order.id}:${order.filledQty ?? qty}`,
        ...(order.filledQty !== undefined ? { cumulativeQty: order.filledQty } : {}),
      });
    } else if (['canceled', 'expired', 'done_for_day'].includes(update.event)) {
      emit({ type: 'canceled', clientOrderId: order.clientOrderId });
    } else if (update.event === 'rejected') {
      emit({ type: 'rejected', clientOrderId: order.clientOrderId, reason: 'rejected by Alpaca' });
    }
  }

  private toState(o: AlpacaOrder, submittedAt = Date.now()): OrderState {
    this.alpacaIds.set(o.clientOrderId, o.id);
    return {
      clientOrderId: o.clientOrderId,
      symbol: this.symbolFor(o.symbol),
      side: o.side,
      status: statusOf(o.status),
      submittedAt,
      ...(o.qty !== undefined ? { qty: o.qty } : {}),
      ...(o.notional !== undefined ? { notional: o.notional } : {}),
      ...(o.limitPrice !== undefined ? { limitPrice: o.limitPrice } : {}),
      ...(o.filledQty !== undefined ? { filledQty: o.filledQty } : {}),
    };
  }

  /** Positions come back as BTCUSD, orders as BTC/USD: both map to the universe's form. */
  private symbolFor(raw: string): Symbol {
    return this.opts.symbols.find((s) => s === raw || s.replace('/', '') === raw) ?? raw;
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return this.breaker.run(fn, isAmbiguous);
  }
}

function statusOf(status: string): OrderStatus {
  if (status === 'filled') return 'filled';
  if (status === 'rejected') return 'rejected';
  if (['canceled', 'expired', 'done_for_day', 'replaced'].includes(status)) return 'canceled';
  return 'accepted';
}
