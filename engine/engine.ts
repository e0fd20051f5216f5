/**
 * The engine kernel: one serial pipeline for every mode.
 *   bars → venue events (fills) → history → loss limits → protections → strategy → risk gate → execution → journal
 * Backtest, sim, paper and live differ only in the clock, the feed and the broker handed in.
 */
import type { EngineApi, KillReport, LimitsView, RiskUsage, SignalsView, StatusView, ThresholdChange, ThresholdView, TradeView } from './api.js';
import type { Broker, BrokerEvent } from './broker/broker.js';
import type { Execution } from './execution.js';
import { SerialInbox } from './inbox.js';
import { Ledger, QTY_EPSILON } from './ledger.js';
import { DAY_MS } from './market/feed.js';
import { formatPct, formatQty, formatUsd } from './money.js';
import type { Clock, Journal, Notifier, StateStore } from './ports.js';
import type { GateView, RiskGate } from './risk/gate.js';
import { LIMIT_SPECS } from './risk/limits.js';
import { correlation, historicalVar95, returns } from './risk/measures.js';
import { Protections, type ProtectionView } from './risk/protections.js';
import type { Strategy, StrategyContext } from './strategy/strategy.js';
import type { BarBatch, Fill, Mode, OrderIntent, OrderState, RiskEvent, Symbol } from './types.js';

export interface EngineDeps {
  readonly mode: Mode;
  readonly symbols: readonly Symbol[];
  readonly strategy: Strategy;
  readonly gate: RiskGate;
  readonly broker: Broker;
  readonly execution: Execution;
  readonly journal: Journal;
  readonly state: StateStore;
  readonly notifier: Notifier;
  /** market time */
  readonly clock: Clock & { advanceTo?(ts: number): void };
  readonly wallNow: () => number;
  readonly marketDescription: string;
  readonly startingEquity: number;
  /** how long `/kill` waits for the broker to confirm its closing orders */
  readonly killWaitMs: number;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, detail?: Record<string, unknown>) => void;
}

interface DayMark {
  readonly day: number;
  readonly startEquity: number;
}

const DAY_KEY = 'engine.day';
const PEAK_KEY = 'engine.peakEquity';
const thresholdsKey = (strategy: string) => `thresholds.${strategy}`;
/** closes kept per symbol; enough for any strategy's look-back */
const HISTORY_LIMIT = 2_000;

export class Engine implements EngineApi {
  private readonly inbox = new SerialInbox();
  private portfolio = new Ledger({ cash: 0, positions: [], realizedPnl: 0 });
  private readonly prices = new Map<Symbol, number>();
  private readonly history = new Map<Symbol, { high: number[]; low: number[]; close: number[] }>();
  private readonly open = new Map<string, OrderState>();
  private readonly waiters = new Map<string, Array<(order: OrderState) => void>>();
  private lastDecisionAt: number | undefined;
  private lastBarWallTime: number | undefined;
  private barsProcessed = 0;
  private day: DayMark | undefined;
  private killInFlight: Promise<KillReport> | undefined;
  private lastKillTs = 0;
  private peakEquity = 0;
  private readonly protections: Protections | undefined;
  /** last denial reason notified per symbol: the same denial every rebalance is stored but not re-sent */
  private readonly lastDenial = new Map<Symbol, string>();
  private readonly recentRisk: RiskEvent[] = [];
  private readonly executions = new Set<string>();
  /**
   * Per order, the filled quantity already inside a book taken from the broker (start-up, reconciliation). A
   * fill event still in flight when that book was taken must not be counted a second time.
   */
  private readonly adopted = new Map<string, number>();
  private dataOutage: string | undefined;
  /** fills the protections have not seen yet: equity before the first, symbols sold out, equity when flat */
  private fillsSinceSync: { equityBefore: number; closed: Set<Symbol>; flatEquity?: number } | undefined;

  constructor(private readonly deps: EngineDeps) {
    for (const symbol of deps.symbols) this.history.set(symbol, { high: [], low: [], close: [] });
    // Protections and loss limits belong to the agent's profile; benchmarks must match a plain computation.
    this.protections = deps.gate.profile === 'full' ? new Protections(() => deps.gate.limits, deps.state) : undefined;
  }

  /**
   * Start-up is recovery: take cash and positions from the broker, settle orders the journal thought were
   * open, restore the gate state and day mark, and announce all of it before any trading.
   */
  async start(): Promise<void> {
    const { broker, journal, gate, notifier, mode } = this.deps;
    const account = await broker.account();
    this.portfolio = new Ledger({ cash: account.cash, positions: account.positions, realizedPnl: 0 });
    for (const order of await broker.openOrders()) {
      this.open.set(order.clientOrderId, order);
      if (order.filledQty !== undefined) this.adopted.set(order.clientOrderId, order.filledQty);
    }
    // Events a venue reports on its own (fills from a stream) join the same serial inbox as everything else.
    broker.subscribe?.((event) => {
      this.inbox.run(() => this.applyBrokerEvent(event)).catch((error: unknown) => {
        // Nothing of the event was journaled (one transaction), though the in-memory book has it; a restart
        // adopts the broker's book, so the operator is told rather than the process crashing on the rejection.
        const why = error instanceof Error ? error.message : String(error);
        const id = event.type === 'fill' ? event.fill.clientOrderId : event.clientOrderId;
        this.deps.log('error', 'broker event not journaled', { event, error: why });
        this.deps.notifier.notify('critical', `Broker ${event.type} for ${id} could not be journaled (${why}). The book in memory has it; the journal will after a restart.`);
      });
    });
    // Orders the journal left unsettled (a crash while they were in flight): say what became of each.
    const inFlight: string[] = [];
    for (const order of journal.openOrders()) {
      if (this.open.has(order.clientOrderId)) {
        inFlight.push(`${order.clientOrderId} is open at the broker`);
        continue;
      }
      const known = await broker.findByClientId(order.clientOrderId);
      journal.recordOrder(known ?? { ...order, status: 'rejected', rejectReason: 'unknown to the broker at start-up' });
      inFlight.push(`${order.clientOrderId} ${known ? `was ${known.status} at the broker` : 'is unknown to the broker (recorded as rejected)'}`);
    }
    this.day = this.deps.state.get<DayMark>(DAY_KEY);
    this.peakEquity = this.deps.state.get<number>(PEAK_KEY) ?? account.cash;
    this.restoreThresholds();
    const risk = gate.state;
    const restored = risk.by !== 'system' || risk.state !== 'ACTIVE';
    const held = account.positions.map((p) => `${formatQty(p.qty)} ${p.symbol}`).join(', ') || 'none';
    notifier.notify(
      risk.state === 'ACTIVE' ? 'state' : 'critical',
      `Started (${mode}). State ${risk.state}${restored ? ` restored: set ${new Date(risk.since).toISOString()} by ${risk.by} (${risk.reason})` : ''}. ` +
        `Universe ${this.deps.symbols.join(', ')}. Market: ${this.deps.marketDescription}. Cash ${formatUsd(account.cash)}, positions ${held}, open orders ${this.open.size}.` +
        (inFlight.length > 0 ? ` Orders in flight at the last stop: ${inFlight.join('; ')}.` : '') +
        (risk.state === 'HALTED' ? ' Trading stays halted until an operator sends /resume.' : ''),
    );
  }

  /**
   * Compare the book with the broker's and take the broker's: its positions and cash are the truth. Every
   * difference is reported as a critical alert. The app runs it periodically; start-up already adopts the
   * broker's account.
   */
  reconcile(reason: string): Promise<string[]> {
    return this.inbox.run(async () => {
      const account = await this.deps.broker.account();
      const differences: string[] = [];
      const ours = new Map(this.portfolio.positions().map((p) => [p.symbol, p.qty]));
      const theirs = new Map(account.positions.map((p) => [p.symbol, p.qty]));
      for (const symbol of new Set([...ours.keys(), ...theirs.keys()])) {
        const a = ours.get(symbol) ?? 0;
        const b = theirs.get(symbol) ?? 0;
        // Brokers state quantities to 9 decimals: less than two units of the 9th decimal is rounding, not news.
        if (Math.abs(a - b) >= 2e-9) differences.push(`${symbol}: we had ${formatQty(a)}, the broker has ${formatQty(b)}`);
      }
      if (Math.abs(this.portfolio.cash - account.cash) > 0.01) differences.push(`cash: we had ${formatUsd(this.portfolio.cash)}, the broker has ${formatUsd(account.cash)}`);
      const brokerOpen = new Map((await this.deps.broker.openOrders()).map((o) => [o.clientOrderId, o]));
      const filledAtBroker = new Map<string, number>();
      for (const [id, o] of brokerOpen) if (o.filledQty !== undefined) filledAtBroker.set(id, o.filledQty);
      for (const [id, order] of this.open) {
        if (brokerOpen.has(id)) continue;
        const known = await this.deps.broker.findByClientId(id);
        if (known?.filledQty !== undefined) filledAtBroker.set(id, known.filledQty);
        differences.push(`order ${id}: we thought it open, the broker says ${known?.status ?? 'unknown'}`);
        this.open.delete(id);
        this.deps.journal.recordOrder(known ?? { ...order, status: 'rejected', rejectReason: 'unknown to the broker at reconciliation' });
      }
      for (const [id, order] of brokerOpen) {
        if (!this.open.has(id)) {
          differences.push(`order ${id}: open at the broker but not in our book`);
          this.open.set(id, order);
        }
      }
      if (differences.length > 0) {
        this.portfolio = new Ledger({ cash: account.cash, positions: account.positions, realizedPnl: this.portfolio.realizedPnl });
        for (const [id, qty] of filledAtBroker) this.adopted.set(id, qty);
        this.deps.journal.recordPositions(this.portfolio.positions(), this.deps.wallNow());
        this.deps.notifier.notify('critical', `Reconciliation (${reason}): the broker's book wins. ${differences.join('; ')}.`);
      }
      return differences;
    });
  }

  /** The live feed reports an outage (reason) or its end (undefined): entries stop, exits keep running. */
  setMarketDataOutage(reason: string | undefined): void {
    if (reason === this.dataOutage) return; // report changes only
    this.dataOutage = reason;
    this.deps.gate.setDataOutage(reason);
    this.deps.notifier.notify('critical', reason ? `Market data down: ${reason}. No new entries until it is back; exits still run.` : 'Market data is back: entries allowed again.');
  }

  /**
   * Prices from quotes while bars are not arriving (a market-data outage): marks the book and runs the loss
   * limits and protections on them. The strategy does not run; entries are refused during an outage anyway.
   */
  protectOnQuotes(prices: ReadonlyMap<Symbol, number>): Promise<void> {
    return this.inbox.run(async () => {
      for (const [symbol, price] of prices) this.prices.set(symbol, price);
      this.syncProtections(this.deps.clock.now());
      // Orders get the wall-clock time as their decision time: the last bar's time may already name an order.
      if (this.protections) await this.protect(this.deps.clock.now(), this.deps.wallNow());
    });
  }

  /** Warm indicators with bars from before the first trading bar. No decisions, no orders. */
  prime(batches: readonly BarBatch[]): void {
    for (const batch of batches) {
      this.absorbPrices(batch);
      this.deps.strategy.prime?.(batch);
    }
  }

  /** Queue one bar batch on the serial inbox. */
  handleBars(batch: BarBatch): Promise<void> {
    return this.inbox.run(() => this.processBars(batch));
  }

  /** Resolves once everything queued so far has run. */
  drain(): Promise<void> {
    return this.inbox.drain();
  }

  // ---- operator API: state changes apply at once (they never wait behind market data) ----

  models(): string {
    const { strategy } = this.deps;
    return strategy.describeModels?.() ?? `The ${strategy.name} strategy uses no models; run the ensemble strategy for them.`;
  }

  signals(): SignalsView {
    const { strategy } = this.deps;
    const own = strategy.signals?.();
    return own ? { strategy: strategy.name, ...own } : { strategy: strategy.name, signals: null, note: `the ${strategy.name} strategy makes no confidence signals; run the confidence strategy for them` };
  }

  status(): StatusView {
    const positions = this.portfolio.positions().map((p) => {
      const price = this.prices.get(p.symbol);
      const value = p.qty * (price ?? p.avgCost);
      return { ...p, price, value, unrealizedPnl: value - p.qty * p.avgCost };
    });
    const equity = this.equity();
    return {
      mode: this.deps.mode,
      risk: this.deps.gate.state,
      market: this.deps.marketDescription,
      broker: this.deps.broker.name,
      strategy: this.deps.strategy.name,
      marketTime: this.barsProcessed > 0 ? this.deps.clock.now() : undefined,
      equity,
      cash: this.portfolio.cash,
      startingEquity: this.deps.startingEquity,
      dayPnl: this.day ? equity - this.day.startEquity : 0,
      positions,
      openOrders: this.open.size,
      lastDecisionAt: this.lastDecisionAt,
      health: { inboxDepth: this.inbox.depth, barsProcessed: this.barsProcessed, lastBarWallTime: this.lastBarWallTime },
      riskUsage: this.riskUsage(),
    };
  }

  limits(): LimitsView {
    const values = this.deps.gate.limits;
    return {
      profile: this.deps.gate.profile,
      limits: LIMIT_SPECS.map((spec) => ({ ...spec, value: values[spec.name] })),
      usage: this.riskUsage(),
    };
  }

  setLimit(name: string, value: number, by: string) {
    const result = this.deps.gate.setLimit(name, value, by);
    if (!result.ok) return result;
    this.stateChanged(`Limit ${name}: ${result.old} → ${value} (by ${by}).`);
    return { ok: true as const, name, old: result.old, value };
  }

  /** Live use of the limits: what /status and /limits show. */
  riskUsage(): RiskUsage {
    const equity = this.equity();
    const l = this.deps.gate.limits;
    const held = this.portfolio.positions().filter((p) => p.qty > QTY_EPSILON);
    const weights = new Map(held.map((p) => [p.symbol, (p.qty * (this.prices.get(p.symbol) ?? p.avgCost)) / Math.max(equity, 1e-9)]));
    const closes = new Map(held.map((p) => [p.symbol, this.closes(p.symbol, l.varDays * 24 + 1)]));
    let maxCorrelation: number | undefined;
    for (let i = 0; i < held.length; i++) {
      for (let j = i + 1; j < held.length; j++) {
        const rho = correlation(returns(this.closes(held[i]!.symbol, l.correlationBars + 1)), returns(this.closes(held[j]!.symbol, l.correlationBars + 1)));
        if (rho !== undefined) maxCorrelation = Math.max(maxCorrelation ?? -1, rho);
      }
    }
    const dayStart = this.day?.startEquity ?? equity;
    const cycle = this.protections?.cycle;
    return {
      exposure: [...weights.values()].reduce((a, b) => a + b, 0),
      largestAsset: Math.max(0, ...weights.values()),
      openPositions: held.length,
      var95: historicalVar95(weights, closes, l.varDays),
      maxCorrelation,
      dayPnlFraction: dayStart > 0 ? equity / dayStart - 1 : 0,
      totalPnlFraction: equity / this.deps.startingEquity - 1,
      drawdown: this.peakEquity > 0 ? Math.max(0, 1 - equity / this.peakEquity) : 0,
      tradesToday: this.deps.gate.tradesOn(this.deps.clock.now()),
      ...(cycle ? { cycle: { startEquity: cycle.startEquity, peakEquity: cycle.peakEquity, profitTaken: cycle.profitTaken } } : {}),
      recentRiskEvents: [...this.recentRisk].reverse(),
    };
  }

  pause(by: string, durationMs?: number) {
    const { gate } = this.deps;
    if (gate.state.state === 'HALTED') return { ok: false as const, reason: 'trading is HALTED; a pause would lower the guard. Use /resume first if you mean it.' };
    const until = durationMs !== undefined ? this.deps.wallNow() + durationMs : undefined;
    const state = gate.setState('REDUCING', by, until ? `paused until ${new Date(until).toISOString()}` : 'paused by operator', until !== undefined ? { until } : {});
    this.stateChanged(`Paused by ${by}: no new entries; exits and stops still run${until ? ` until ${new Date(until).toISOString()}` : ''}.`);
    return { ok: true as const, state };
  }

  resume(by: string) {
    const { gate } = this.deps;
    const previous = gate.state.state;
    if (previous === 'ACTIVE') return { ok: false as const, reason: 'trading is already ACTIVE' };
    const state = gate.setState('ACTIVE', by, `resumed from ${previous}`);
    this.stateChanged(`Resumed by ${by} (was ${previous}): trading is ACTIVE.`);
    return { ok: true as const, state };
  }

  /** A kill that arrives while another runs joins it instead of canceling its closing orders. */
  kill(by: string): Promise<KillReport> {
    if (this.killInFlight) return this.killInFlight.then((report) => ({ ...report, alreadyHalted: true }));
    this.killInFlight = this.killOnce(by).finally(() => {
      this.killInFlight = undefined;
    });
    return this.killInFlight;
  }

  private async killOnce(by: string): Promise<KillReport> {
    const alreadyHalted = this.deps.gate.state.state === 'HALTED';
    if (!alreadyHalted) this.halt(by, 'kill switch');
    const sent = await this.inbox.run(() => this.flatten(by));
    const settled = await this.awaitFinal(sent.orders.flatMap((o) => (o.order ? [o.order] : [])), this.deps.killWaitMs);
    const report: KillReport = {
      alreadyHalted,
      canceled: sent.canceled,
      closes: sent.orders.map(({ intent, order, denied }) => {
        const final = order ? settled.get(order.clientOrderId) ?? order : undefined;
        const fill = final?.status === 'filled' ? this.lastFill.get(final.clientOrderId) : undefined;
        return {
          symbol: intent.symbol,
          qty: intent.side === 'sell' ? intent.qty : 0,
          status: denied !== undefined ? 'denied' : final?.status === 'accepted' || final?.status === 'new' ? 'pending' : final!.status,
          ...(fill ? { price: fill.price } : {}),
          ...(denied ?? final?.rejectReason ? { reason: denied ?? final?.rejectReason } : {}),
        };
      }),
      remaining: this.portfolio.positions(),
    };
    return report;
  }

  /** HALTED first, persisted, announced: before any order is touched. */
  private halt(by: string, reason: string): void {
    this.deps.gate.setState('HALTED', by, reason);
    this.riskEvent({ ts: this.eventTime(), kind: 'state-change', reason: `HALTED by ${by} (${reason})` }, false);
    this.deps.notifier.notify('kill', `KILL by ${by} (${reason}): trading HALTED. Cancelling open orders and closing all positions.`);
  }

  /** Cancel every open order and send closing sells for every position. Runs inside the inbox. */
  private async flatten(by: string) {
    const canceled = await this.deps.execution.cancelAll();
    for (const id of canceled) this.applyBrokerEvent({ type: 'canceled', clientOrderId: id });
    const intents: OrderIntent[] = this.portfolio
      .positions()
      .map((p) => ({ symbol: p.symbol, side: 'sell', qty: p.qty, source: 'kill', reason: `kill switch by ${by}` }));
    // Strictly increasing, so two kills in one millisecond never reuse a client_order_id.
    this.lastKillTs = Math.max(this.deps.wallNow(), this.lastKillTs + 1);
    const orders = await this.submitAll(intents, this.lastKillTs, undefined);
    return { canceled, orders };
  }

  recentTrades(limit: number): TradeView[] {
    return this.deps.journal.recentFills(limit).map((f) => ({ ts: f.ts, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, fee: f.fee, realizedPnl: f.realizedPnl }));
  }

  thresholds(): ThresholdView[] {
    return this.deps.strategy.tunables.map((t) => ({ name: t.name, description: t.description, value: t.get(), min: t.min, max: t.max, integer: t.integer }));
  }

  setThreshold(name: string, value: number, by: string): ThresholdChange {
    const tunable = this.deps.strategy.tunables.find((t) => t.name === name);
    const names = this.deps.strategy.tunables.map((t) => t.name).join(', ') || 'none';
    if (!tunable) return { ok: false, reason: `no threshold "${name}" for strategy ${this.deps.strategy.name}; known: ${names}` };
    if (!Number.isFinite(value) || value < tunable.min || value > tunable.max) return { ok: false, reason: `${name} must be between ${tunable.min} and ${tunable.max}, got ${value}` };
    if (tunable.integer && !Number.isInteger(value)) return { ok: false, reason: `${name} must be a whole number, got ${value}` };
    const old = tunable.get();
    tunable.set(value);
    this.deps.state.set(thresholdsKey(this.deps.strategy.name), Object.fromEntries(this.thresholds().map((t) => [t.name, t.value])), by);
    this.stateChanged(`Threshold ${this.deps.strategy.name}.${name}: ${old} → ${value} (by ${by}).`);
    return { ok: true, name, old, value };
  }

  /** Values an operator set before a restart win over the config file; out-of-range ones are dropped. */
  private restoreThresholds(): void {
    const saved = this.deps.state.get<Record<string, number>>(thresholdsKey(this.deps.strategy.name)) ?? {};
    for (const tunable of this.deps.strategy.tunables) {
      const value = saved[tunable.name];
      if (value === undefined) continue;
      if (value >= tunable.min && value <= tunable.max) tunable.set(value);
      else this.deps.log('warn', 'saved threshold out of range; using the configured value', { name: tunable.name, value });
    }
  }

  /** USD, positions marked at the last close. */
  equity(): number {
    return this.portfolio.equity(this.prices);
  }

  /** Cash plus positions at the last close net of the exit fee: what the book would realize if sold now. */
  liquidationValue(feeRate: number): number {
    return this.portfolio.cash + this.portfolio.exposure(this.prices) * (1 - feeRate);
  }

  // ---- the pipeline ----

  private readonly lastFill = new Map<string, Fill>();

  private async processBars(batch: BarBatch): Promise<void> {
    const { journal, gate, strategy, clock } = this.deps;
    clock.advanceTo?.(batch.ts);
    journal.recordBars(batch);
    // The venue first: orders placed on the previous bar fill at this bar's open.
    const equityBefore = this.equity();
    // One transaction: a venue that saves its state as it trades (the sim) commits it with the fills it booked.
    journal.atomically(() => {
      for (const event of this.deps.broker.onMarketData(batch)) this.applyBrokerEvent(event);
    });
    this.absorbPrices(batch);
    this.syncProtections(batch.ts);
    this.rollDay(batch.ts, equityBefore);
    const lapsed = gate.expireTimedState(batch.ts);
    if (lapsed) this.stateChanged(`${lapsed.reason}: trading is ACTIVE again.`);

    if (this.protections) await this.protect(batch.ts);

    const decisions = await strategy.decide(this.context(batch));
    const results = await this.submitAll(
      decisions.flatMap((d) => (d.intent ? [d.intent] : [])),
      batch.ts,
      strategy.name,
    );
    journal.recordDecisions(
      decisions.map((decision) => {
        const outcome = results.find((r) => r.intent === decision.intent);
        return {
          ts: batch.ts,
          symbol: decision.symbol,
          strategy: strategy.name,
          features: decision.features,
          signal: decision.signal,
          intent: outcome?.approved ?? decision.intent,
          verdict: !outcome ? 'none' : outcome.denied !== undefined ? 'denied' : 'approved',
          reason: outcome?.denied ?? outcome?.order?.rejectReason ?? null,
        };
      }),
    );
    this.lastDecisionAt = batch.ts;
    this.barsProcessed += 1;
    this.lastBarWallTime = this.deps.wallNow();
    const equity = this.equity();
    if (equity > this.peakEquity) {
      this.peakEquity = equity;
      this.deps.state.set(PEAK_KEY, equity, 'engine');
    }
    journal.recordEquity({ ts: batch.ts, equity, cash: this.portfolio.cash, exposure: this.portfolio.exposure(this.prices) });
  }

  /**
   * Loss limits, then portfolio and per-position protections, before the strategy speaks. A total-loss breach
   * halts and flattens (a halt that kept the positions could lose past the limit); a daily-loss breach pauses
   * entries until the next UTC day.
   */
  /**
   * Tell the protections about fills since they last looked (from a bar's venue events or a broker stream):
   * a new cycle or brackets for new positions. A position sold out and bought again within those fills is a
   * new entry, and a book that was flat in between ended its cycle; afterFills sees only the end state, so it
   * is told.
   */
  private syncProtections(ts: number): void {
    const pending = this.fillsSinceSync;
    if (!pending || !this.protections) return;
    this.fillsSinceSync = undefined;
    this.protections.afterFills(this.protectionView(ts), pending.equityBefore, pending.closed, pending.flatEquity);
  }

  private async protect(ts: number, orderTs = ts): Promise<void> {
    const { gate } = this.deps;
    const l = gate.limits;
    const equity = this.equity();
    if (gate.state.state !== 'HALTED' && equity <= this.deps.startingEquity * (1 - l.totalLossLimit)) {
      this.halt('risk', `total loss limit: equity ${formatUsd(equity)} is ${formatPct(equity / this.deps.startingEquity - 1)} from the start`);
      await this.flatten('risk');
      return;
    }
    const dayStart = this.day?.startEquity ?? equity;
    if (gate.state.state === 'ACTIVE' && equity <= dayStart * (1 - l.dailyLossLimit)) {
      const nextDay = (Math.floor(ts / DAY_MS) + 1) * DAY_MS;
      gate.setState('REDUCING', 'risk', `daily loss limit: ${formatPct(equity / dayStart - 1)} today`, { untilMarket: nextDay });
      this.stateChanged(`Daily loss limit hit (${formatPct(equity / dayStart - 1)} today): REDUCING until ${new Date(nextDay).toISOString()}; exits still run.`);
    }
    if (gate.state.state === 'HALTED') return;
    const outcome = this.protections!.evaluate(this.protectionView(ts));
    for (const intent of outcome.intents) this.riskEvent({ ts, kind: 'protection', symbol: intent.symbol, reason: intent.reason });
    await this.submitAll(outcome.intents, orderTs, 'protection');
    if (outcome.trailingStopFired && l.moveToCash >= 1 && gate.state.state === 'ACTIVE') {
      const until = ts + l.moveToCashCooldownHours * 3_600_000;
      gate.setState('REDUCING', 'risk', 'move-to-cash cooldown after the portfolio trailing stop', { untilMarket: until });
      this.stateChanged(`Moved to cash: no new entries until ${new Date(until).toISOString()}.`);
    }
  }

  private protectionView(ts: number): ProtectionView {
    return {
      ts,
      equity: this.equity(),
      positions: this.portfolio.positions(),
      price: (symbol) => this.prices.get(symbol),
      bars: (symbol, n) => {
        const h = this.history.get(symbol);
        const tail = (xs: number[] | undefined) => (xs ?? []).slice(Math.max(0, (xs?.length ?? 0) - n));
        return { high: tail(h?.high), low: tail(h?.low), close: tail(h?.close) };
      },
    };
  }

  /** Judge each intent in order, and send the approved ones. Cash promised to earlier buys is not spent twice. */
  private async submitAll(intents: readonly OrderIntent[], ts: number, strategyName: string | undefined) {
    const { gate, execution, notifier } = this.deps;
    let availableCash = this.portfolio.cash - this.reservedCash();
    const selling = new Map<Symbol, number>();
    const buying = new Map<Symbol, number>();
    for (const order of this.open.values()) {
      if (order.side === 'sell') selling.set(order.symbol, (selling.get(order.symbol) ?? 0) + (order.qty ?? 0));
      else buying.set(order.symbol, (buying.get(order.symbol) ?? 0) + (order.notional ?? 0));
    }
    const equity = this.equity();
    const view: GateView = {
      ts,
      get availableCash() {
        return availableCash;
      },
      equity,
      drawdown: this.peakEquity > 0 ? Math.max(0, 1 - equity / this.peakEquity) : 0,
      sellable: (symbol) => this.portfolio.qty(symbol) - (selling.get(symbol) ?? 0),
      exposure: (symbol) => this.portfolio.qty(symbol) * (this.prices.get(symbol) ?? 0) + (buying.get(symbol) ?? 0),
      openSymbols: () => {
        const open = new Set(buying.keys());
        for (const p of this.portfolio.positions()) if (p.qty > QTY_EPSILON) open.add(p.symbol);
        return open;
      },
      closes: (symbol, count) => this.closes(symbol, count),
    };
    const results: Array<{ intent: OrderIntent; approved?: OrderIntent; order?: OrderState; denied?: string }> = [];
    let seq = 0;
    for (const intent of intents) {
      const verdict = gate.check(intent, view);
      if (!verdict.ok) {
        results.push({ intent, denied: verdict.reason });
        // Denials caused by a pause or halt are expected; a repeat of the same denial is stored, not re-sent.
        const news = gate.state.state === 'ACTIVE' && this.lastDenial.get(intent.symbol) !== verdict.reason;
        this.lastDenial.set(intent.symbol, verdict.reason);
        this.riskEvent({ ts, kind: 'denied', symbol: intent.symbol, reason: verdict.reason, detail: { intent, strategy: strategyName ?? intent.source } }, news);
        continue;
      }
      this.lastDenial.delete(intent.symbol);
      const approved = verdict.intent;
      if (verdict.adjustments.length > 0) {
        this.riskEvent({ ts, kind: 'resized', symbol: intent.symbol, reason: verdict.adjustments.join('; ') }, false);
      }
      const order = await execution.submit(approved, ts, seq++);
      results.push({ intent, approved, order });
      if (order.status === 'rejected') {
        this.riskEvent({ ts, kind: 'order-rejected', symbol: intent.symbol, reason: order.rejectReason ?? 'rejected' });
        continue;
      }
      // An order the broker has already finished (an ambiguous send looked up after its fill, or a repeated
      // client_order_id answered with the order it already has) is not waited for: no further event will close it,
      // and its fill is booked from its own event (or already was, or was adopted at start-up).
      if (order.status !== 'filled' && order.status !== 'canceled') this.open.set(order.clientOrderId, order);
      if (approved.side === 'buy') availableCash -= approved.notional;
      else selling.set(approved.symbol, (selling.get(approved.symbol) ?? 0) + approved.qty);
      if (approved.side === 'buy') buying.set(approved.symbol, (buying.get(approved.symbol) ?? 0) + approved.notional);
      // Protections and kills announce themselves; the fill follows as a trade message either way.
      if (approved.source === 'operator') notifier.notify('trade', `Order sent: ${approved.side.toUpperCase()} ${approved.symbol} (${approved.reason}).`);
    }
    return results;
  }

  private applyBrokerEvent(event: BrokerEvent): void {
    const { journal, notifier } = this.deps;
    const id = event.type === 'fill' ? event.fill.clientOrderId : event.clientOrderId;
    if (event.type === 'fill' && event.executionId !== undefined) {
      // Venues may repeat an event (reconnects, retries): a fill counts once.
      if (this.executions.has(event.executionId)) return;
      this.executions.add(event.executionId);
      if (this.executions.size > 10_000) this.executions.delete(this.executions.values().next().value!);
    }
    const order = this.open.get(id);
    const partial = event.type === 'fill' && event.complete === false;
    if (!partial) this.open.delete(id);
    // Already inside a book taken from the broker: the order's state still moves on, the ledger does not.
    const alreadyBooked = event.type === 'fill' && event.cumulativeQty !== undefined && event.cumulativeQty <= (this.adopted.get(id) ?? -1) + QTY_EPSILON;
    if (!partial) this.adopted.delete(id);
    let booked: { fill: Fill; pnl: number } | undefined;
    if (event.type === 'fill' && !alreadyBooked) {
      const { fill } = event;
      this.fillsSinceSync ??= { equityBefore: this.equity(), closed: new Set() };
      const pnl = this.portfolio.apply(fill);
      if (fill.side === 'sell' && this.portfolio.qty(fill.symbol) <= QTY_EPSILON) {
        this.fillsSinceSync.closed.add(fill.symbol);
        if (this.portfolio.positions().every((p) => p.qty <= QTY_EPSILON)) this.fillsSinceSync.flatEquity = this.portfolio.cash;
      }
      this.lastFill.set(id, fill);
      booked = { fill, pnl };
    }
    const final: OrderState | undefined =
      !order || partial
        ? undefined
        : event.type === 'fill'
          ? { ...order, status: 'filled' }
          : event.type === 'canceled'
            ? { ...order, status: 'canceled' }
            : { ...order, status: 'rejected', rejectReason: event.reason };
    // The fill, the positions it leaves and the order's final status commit together: a crash between them would
    // leave a booked fill on an order the journal still calls open.
    journal.atomically(() => {
      if (booked) {
        journal.recordFill(booked.fill, booked.pnl);
        journal.recordPositions(this.portfolio.positions(), booked.fill.ts);
      }
      if (final) journal.recordOrder(final);
    });
    if (booked) {
      const { fill, pnl } = booked;
      const value = fill.qty * fill.price;
      notifier.notify(
        'trade',
        `${fill.side === 'buy' ? 'BUY' : 'SELL'} ${formatQty(fill.qty)} ${fill.symbol} @ ${formatUsd(fill.price)} = ${formatUsd(value)} (fee ${formatUsd(fill.fee)})` +
          (fill.side === 'sell' ? `, realized P&L ${formatUsd(pnl)} (${formatPct(pnl / Math.max(value - pnl, 1e-9))})` : ''),
      );
    }
    if (!final) return;
    if (event.type === 'rejected') {
      this.riskEvent({ ts: this.deps.clock.now(), kind: 'order-rejected', symbol: final.symbol, reason: event.reason });
    }
    for (const resolve of this.waiters.get(id) ?? []) resolve(final);
    this.waiters.delete(id);
  }

  /** Wait until each order is final or `timeoutMs` passes; returns the final states seen. */
  private awaitFinal(orders: readonly OrderState[], timeoutMs: number): Promise<Map<string, OrderState>> {
    const final = new Map<string, OrderState>();
    const pending = orders.filter((o) => {
      if (o.status === 'filled' || o.status === 'rejected' || o.status === 'canceled' || !this.open.has(o.clientOrderId)) {
        final.set(o.clientOrderId, this.lastFill.has(o.clientOrderId) ? { ...o, status: 'filled' } : o);
        return false;
      }
      return true;
    });
    if (pending.length === 0) return Promise.resolve(final);
    return new Promise((resolve) => {
      let left = pending.length;
      const timer = setTimeout(() => {
        for (const order of pending) this.waiters.delete(order.clientOrderId);
        resolve(final);
      }, timeoutMs);
      for (const order of pending) {
        const list = this.waiters.get(order.clientOrderId) ?? [];
        list.push((state) => {
          final.set(state.clientOrderId, state);
          left -= 1;
          if (left === 0) {
            clearTimeout(timer);
            resolve(final);
          }
        });
        this.waiters.set(order.clientOrderId, list);
      }
    });
  }

  private reservedCash(): number {
    let total = 0;
    for (const order of this.open.values()) if (order.side === 'buy') total += order.notional ?? 0;
    return total;
  }

  private absorbPrices(batch: BarBatch): void {
    for (const [symbol, bar] of batch.bars) {
      this.prices.set(symbol, bar.close);
      const h = this.history.get(symbol);
      if (!h) continue;
      h.high.push(bar.high);
      h.low.push(bar.low);
      h.close.push(bar.close);
      if (h.close.length > HISTORY_LIMIT * 2) {
        for (const series of [h.high, h.low, h.close]) series.splice(0, series.length - HISTORY_LIMIT);
      }
    }
  }

  private closes(symbol: Symbol, count: number): number[] {
    const closes = this.history.get(symbol)?.close ?? [];
    return closes.slice(Math.max(0, closes.length - count));
  }

  private context(batch: BarBatch): StrategyContext {
    const equity = this.equity();
    return {
      ts: batch.ts,
      bar: (symbol) => batch.bars.get(symbol),
      symbols: this.deps.symbols,
      closes: (symbol, count) => this.closes(symbol, count),
      price: (symbol) => this.prices.get(symbol),
      held: (symbol) => {
        const qty = this.portfolio.qty(symbol);
        return qty > QTY_EPSILON ? qty : 0;
      },
      equity,
      cash: this.portfolio.cash,
    };
  }

  /** The day's P&L is measured from the equity at the last bar of the previous UTC day. */
  private rollDay(ts: number, equityBefore: number): void {
    const day = Math.floor(ts / DAY_MS);
    if (this.day?.day === day) return;
    this.day = { day, startEquity: this.barsProcessed === 0 && !this.day ? this.equity() : equityBefore };
    this.deps.state.set(DAY_KEY, this.day, 'engine');
  }

  private riskEvent(event: RiskEvent, notify = true): void {
    this.deps.journal.recordRiskEvent(event);
    this.recentRisk.push(event);
    if (this.recentRisk.length > 5) this.recentRisk.shift();
    const label = { denied: 'Denied', 'order-rejected': 'Order rejected', protection: 'Protection', resized: 'Resized', 'state-change': 'Risk' }[event.kind];
    if (notify) this.deps.notifier.notify('risk', `${label}${event.symbol ? ` ${event.symbol}` : ''}: ${event.reason}`);
  }

  /** Risk events are stamped with market time, like the bars they belong to (wall time before the first bar). */
  private eventTime(): number {
    return this.barsProcessed > 0 ? this.deps.clock.now() : this.deps.wallNow();
  }

  private stateChanged(text: string): void {
    this.deps.journal.recordRiskEvent({ ts: this.eventTime(), kind: 'state-change', reason: text });
    this.deps.notifier.notify('state', text);
  }
}
