/**
 * Execution: the only code that talks to a broker. It gives every order a deterministic client_order_id,
 * journals the order before sending it, and resolves an ambiguous send by looking the id up, never by
 * blindly sending again.
 */
import type { Broker } from './broker/broker.js';
import type { Journal } from './ports.js';
import type { OrderIntent, OrderRequest, OrderState } from './types.js';

export class Execution {
  constructor(
    private readonly broker: Broker,
    private readonly journal: Journal,
    private readonly log: (msg: string, detail: Record<string, unknown>) => void,
  ) {}

  /**
   * `decisionTs` and `seq` make the id deterministic: the same decision, replayed after a crash, produces the
   * same id, so the venue can refuse the duplicate instead of doubling the position.
   */
  async submit(intent: OrderIntent, decisionTs: number, seq: number): Promise<OrderState> {
    const request: OrderRequest = {
      clientOrderId: clientOrderId(decisionTs, intent, seq),
      symbol: intent.symbol,
      side: intent.side,
      ...(intent.side === 'buy' ? { notional: intent.notional } : { qty: intent.qty }),
      ...(intent.limitPrice !== undefined ? { limitPrice: intent.limitPrice } : {}),
    };
    this.journal.recordOrder({ ...request, status: 'new', submittedAt: decisionTs });
    let result: OrderState;
    try {
      result = await this.broker.submit(request);
    } catch (error) {
      // Ambiguous (timeout, 5xx): did it reach the broker? Only a lookup by our id can tell.
      let known = await this.broker.findByClientId(request.clientOrderId).catch(() => undefined);
      if (!known) {
        // It did not: send once more under the same id (the venue refuses a duplicate if the first one lands late).
        try {
          known = await this.broker.submit(request);
        } catch (again) {
          known = await this.broker.findByClientId(request.clientOrderId).catch(() => undefined);
          if (!known) error = again;
        }
      }
      result = known ?? { ...request, status: 'rejected', submittedAt: decisionTs, rejectReason: `send failed twice: ${errorText(error)}` };
      this.log('order send was ambiguous; resolved by client_order_id lookup', { clientOrderId: request.clientOrderId, outcome: result.status, error: errorText(error) });
    }
    this.journal.recordOrder(result);
    return result;
  }

  async cancel(clientOrderId: string): Promise<OrderState | undefined> {
    const result = await this.broker.cancel(clientOrderId);
    if (result) this.journal.recordOrder(result);
    return result;
  }

  /** Every open order at the venue canceled: in one call where the venue offers it, else one by one. */
  async cancelAll(): Promise<string[]> {
    if (this.broker.cancelAll) {
      const ids = await this.broker.cancelAll();
      for (const id of ids) {
        const known = await this.broker.findByClientId(id).catch(() => undefined);
        if (known) this.journal.recordOrder(known);
      }
      return ids;
    }
    const canceled: string[] = [];
    for (const order of await this.broker.openOrders()) {
      const result = await this.cancel(order.clientOrderId);
      if (result?.status === 'canceled') canceled.push(order.clientOrderId);
    }
    return canceled;
  }

  openOrders(): Promise<OrderState[]> {
    return this.broker.openOrders();
  }
}

/** `ce-<decision time base36>-<SYMBOL>-<side>-<seq>`: short, sortable, and well under Alpaca's 128 characters. */
export function clientOrderId(decisionTs: number, intent: OrderIntent, seq: number): string {
  return `ce-${decisionTs.toString(36)}-${intent.symbol.replace('/', '')}-${intent.side}-${intent.source}-${seq}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
