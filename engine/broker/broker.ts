/**
 * What execution needs from a venue: the simulated broker (backtest, sim) and Alpaca (paper, live) implement it.
 * Only engine/execution.ts calls a broker.
 */
import type { BarBatch, Fill, OrderRequest, OrderState, Position } from '../types.js';

export interface BrokerAccount {
  /** USD */
  readonly cash: number;
  readonly positions: readonly Position[];
}

/**
 * What the venue reported for one order event. A fill carries the quantity of this execution only; `complete`
 * is false for a partial fill (the order stays open). `executionId` lets the engine ignore an event the venue
 * sent twice.
 */
export type BrokerEvent =
  | {
      readonly type: 'fill';
      readonly fill: Fill;
      readonly complete?: boolean;
      readonly executionId?: string;
      /** the order's filled quantity after this execution, in the venue's units (see OrderState.filledQty) */
      readonly cumulativeQty?: number;
    }
  | { readonly type: 'rejected'; readonly clientOrderId: string; readonly reason: string }
  | { readonly type: 'canceled'; readonly clientOrderId: string };

export interface Broker {
  /** A short label for status lines, e.g. "simulated broker". */
  readonly name: string;
  /** Submit a market order. Resolves once the venue has accepted or rejected it (not when filled). */
  submit(order: OrderRequest): Promise<OrderState>;
  /** Look an order up by our own id: the way to resolve an ambiguous submit. */
  findByClientId(clientOrderId: string): Promise<OrderState | undefined>;
  openOrders(): Promise<OrderState[]>;
  cancel(clientOrderId: string): Promise<OrderState | undefined>;
  /**
   * Cancel every open order at the venue, including ones this agent does not know (the kill uses it when the
   * venue offers it). Returns the client_order_ids that were open.
   */
  cancelAll?(): Promise<string[]>;
  account(): Promise<BrokerAccount>;
  /**
   * Hand the venue new market data and collect what happened to orders because of it. A simulated venue
   * fills here; a real one reports through its stream instead and returns nothing.
   */
  onMarketData(batch: BarBatch): BrokerEvent[];
  /**
   * For venues that report order events asynchronously (a stream): the engine registers one listener at
   * start-up and feeds each event through its serial inbox.
   */
  subscribe?(listener: (event: BrokerEvent) => void): void;
}

/** Order rules a venue enforces; the gate checks them first so rejections are rare and explained. */
export interface VenueRules {
  /** smallest order value accepted, USD */
  readonly minNotional: number;
  /** quantity step, units */
  readonly qtyIncrement: number;
}
