/**
 * Prometheus metrics (prom-client) for GET /metrics. Counters are fed by watching the journal and the audit log
 * (every bar, decision, order update, fill, risk event and command already passes through them), gauges are
 * read from the engine at scrape time, and prom-client's default metrics add RSS, heap and event-loop lag.
 * Each agent has its own registry, so several agents in one process (the tests) do not mix their numbers.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEntry, AuditLog } from '../bot/registry.js';
import type { EngineApi, StatusView } from '../engine/api.js';
import type { Journal } from '../engine/ports.js';
import type { BreakerState } from '../engine/broker/circuit-breaker.js';

/** What the gauges read when Prometheus scrapes. */
export interface MetricSources {
  readonly engine: EngineApi;
  /** messages waiting per chat channel */
  readonly queues: () => ReadonlyArray<{ readonly channel: string; readonly queued: number }>;
  /** the market's circuit breakers (none in sim) */
  readonly breakers: () => ReadonlyArray<{ readonly group: string; readonly state: BreakerState }>;
  /** restarts after a crash so far, as the supervisor counts them (0 when it started this agent first, or none runs) */
  readonly restarts: number;
}

const BREAKER_LEVEL: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };
const RISK_STATES = ['ACTIVE', 'REDUCING', 'HALTED'] as const;

/**
 * Denial reasons are sentences with numbers in them; a label needs a small fixed set. Ordered: the first match
 * wins, and the patterns follow the wording of engine/risk/gate.ts (its tests pin that wording).
 */
const DENIAL_CATEGORIES: ReadonlyArray<readonly [string, RegExp]> = [
  ['halted', /^trading is HALTED/],
  ['paused', /^trading is paused/],
  ['data_outage', /market data is down/],
  ['daily_trade_limit', /^daily trade limit/],
  ['position_limit', /^position limit/],
  ['no_edge', /^no edge/],
  ['caps', /^no room under the caps/],
  ['correlation', /^correlation with/],
  ['var', /VaR/],
  ['min_notional', /below the venue minimum/],
  ['cash', /^insufficient cash/],
  ['nothing_sellable', /^nothing sellable/],
  ['invalid', /must be (a )?positive/],
];

export function denialCategory(reason: string): string {
  return DENIAL_CATEGORIES.find(([, pattern]) => pattern.test(reason))?.[0] ?? 'other';
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;
  private readonly bars = new Counter({ name: 'ce_bars_processed_total', help: 'Hourly bars recorded (passed the data-quality gate), by symbol', labelNames: ['symbol'], registers: [this.registry] });
  private readonly flagged = new Counter({ name: 'ce_bars_flagged_total', help: 'Bars that failed the data-quality gate (stored, never traded on), by symbol and kind', labelNames: ['symbol', 'kind'], registers: [this.registry] });
  private readonly decisions = new Counter({ name: 'ce_decisions_total', help: 'Strategy decisions, by verdict (none = no order wanted)', labelNames: ['verdict'], registers: [this.registry] });
  private readonly orders = new Counter({ name: 'ce_orders_total', help: 'Order status updates, by status (new = journaled before sending)', labelNames: ['status'], registers: [this.registry] });
  private readonly fills = new Counter({ name: 'ce_fills_total', help: 'Fills, by side', labelNames: ['side'], registers: [this.registry] });
  private readonly riskEvents = new Counter({ name: 'ce_risk_events_total', help: 'Risk events, by kind', labelNames: ['kind'], registers: [this.registry] });
  private readonly denials = new Counter({ name: 'ce_risk_denials_total', help: 'Order intents the risk gate denied, by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly commands = new Counter({ name: 'ce_commands_total', help: 'Operator commands, by name and outcome (each command is counted at every audited step)', labelNames: ['command', 'outcome'], registers: [this.registry] });
  private sources: MetricSources | undefined;
  /** the engine's status for the scrape in progress: read once, shared by every gauge (metrics() resets it) */
  private scraped: StatusView | undefined;

  /** `isCommand` tells real command names from whatever an unauthorized sender typed (never a label). */
  constructor(private readonly isCommand: (name: string) => boolean) {
    collectDefaultMetrics({ register: this.registry });
    const status = () => (this.scraped ??= this.sources?.engine.status());
    const gauges: Array<[string, string, (s: StatusView) => number]> = [
      ['ce_equity_usd', 'Equity: cash plus positions at the last price, USD', (s) => s.equity],
      ['ce_cash_usd', 'Cash, USD', (s) => s.cash],
      ['ce_exposure_ratio', 'Value of all positions as a fraction of equity', (s) => s.riskUsage.exposure],
      ['ce_pnl_day_usd', 'P&L since the start of the (market) UTC day, USD', (s) => s.dayPnl],
      ['ce_pnl_total_usd', 'P&L since the starting equity, USD', (s) => s.equity - s.startingEquity],
      ['ce_drawdown_ratio', 'Fall from the equity peak, as a fraction', (s) => s.riskUsage.drawdown],
      ['ce_open_positions', 'Symbols held', (s) => s.riskUsage.openPositions],
      ['ce_open_orders', 'Orders not yet final', (s) => s.openOrders],
      ['ce_inbox_depth', 'Events waiting in the engine inbox', (s) => s.health.inboxDepth],
      ['ce_last_bar_age_seconds', 'Wall-clock seconds since the last bar was processed (-1 before the first)', (s) => (s.health.lastBarWallTime === undefined ? -1 : (Date.now() - s.health.lastBarWallTime) / 1000)],
    ];
    for (const [name, help, read] of gauges) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const s = status();
          if (s) this.set(read(s));
        },
      });
    }
    const sources = () => this.sources;
    new Gauge({
      name: 'ce_risk_state',
      help: 'The risk gate state: 1 for the current one',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const current = status()?.risk.state;
        if (current) for (const state of RISK_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ce_notifier_queue_depth',
      help: 'Messages waiting to be delivered, by chat channel',
      labelNames: ['channel'],
      registers: [this.registry],
      collect() {
        for (const q of sources()?.queues() ?? []) this.set({ channel: q.channel }, q.queued);
      },
    });
    new Gauge({
      name: 'ce_supervisor_restarts',
      help: 'Restarts of the agent after a crash, stall or leak, as counted by the supervisor (persisted across its runs)',
      registers: [this.registry],
      collect() {
        const s = sources();
        if (s) this.set(s.restarts);
      },
    });
    new Gauge({
      name: 'ce_circuit_breaker_state',
      help: 'Circuit breakers of external APIs: 0 closed, 1 half-open, 2 open',
      labelNames: ['breaker'],
      registers: [this.registry],
      collect() {
        for (const b of sources()?.breakers() ?? []) this.set({ breaker: b.group }, BREAKER_LEVEL[b.state]);
      },
    });
  }

  /** Gauges read nothing until the agent is assembled. */
  bind(sources: MetricSources): void {
    this.sources = sources;
  }

  metrics(): Promise<string> {
    this.scraped = undefined;
    return this.registry.metrics();
  }

  /** The journal, counting what passes through it. Same object for its users: only the record calls are watched. */
  watchJournal<J extends Journal & { recordFlaggedBar(symbol: string, ...rest: never[]): void }>(journal: J): J {
    const m = this;
    const watch: Partial<Record<string, (...args: never[]) => void>> = {
      recordBars: (batch: Parameters<Journal['recordBars']>[0]) => {
        for (const symbol of batch.bars.keys()) m.bars.inc({ symbol });
      },
      // The flag is "<kind>: <reason>"; the kinds are the gate's fixed list (engine/market/quality.ts).
      recordFlaggedBar: (symbol: string, _bar: unknown, flag: string) => m.flagged.inc({ symbol, kind: /^[a-z-]+(?=:)/.exec(flag)?.[0] ?? 'other' }),
      recordDecisions: (list: Parameters<Journal['recordDecisions']>[0]) => {
        for (const d of list) m.decisions.inc({ verdict: d.verdict });
      },
      recordOrder: (order: Parameters<Journal['recordOrder']>[0]) => m.orders.inc({ status: order.status }),
      recordFill: (fill: Parameters<Journal['recordFill']>[0]) => m.fills.inc({ side: fill.side }),
      recordRiskEvent: (event: Parameters<Journal['recordRiskEvent']>[0]) => {
        m.riskEvents.inc({ kind: event.kind });
        if (event.kind === 'denied') m.denials.inc({ reason: denialCategory(event.reason) });
      },
    };
    // A Proxy rather than a subclass: the journal keeps its type and every method it has; counting happens
    // after the write succeeded, so a failed write is not counted.
    return new Proxy(journal, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        const after = typeof key === 'string' ? watch[key] : undefined;
        if (!after || typeof value !== 'function') return value;
        return (...args: never[]) => {
          const result = (value as (...a: never[]) => unknown).apply(target, args);
          after(...args);
          return result;
        };
      },
    });
  }

  /** The audit log, counting commands by name and outcome. Unknown command names count as "other". */
  watchAudit(audit: AuditLog): AuditLog {
    return {
      append: (entry: AuditEntry) => {
        audit.append(entry);
        this.commands.inc({ command: this.isCommand(entry.command) ? entry.command : 'other', outcome: entry.outcome });
      },
    };
  }
}
