/**
 * Buy-and-hold, equal weight, rebalanced weekly: the honest baseline. It also holds the target-weight machinery
 * that the `6040` baseline shares.
 *
 * Rules (TargetWeightBook):
 * - Rebalance points are every `rebalanceBars` bars counted from the first bar this strategy decides (bar 0 is
 *   one: the entry). Between them it trades nothing, except the follow-up bar described below.
 * - On a rebalance point each symbol with a price gets a target of equity × (1 − cashBuffer) × its weight, with
 *   equity marked at the bar's close. A holding is resized only when it is off target by more than
 *   `rebalanceBand` × target: above it, the excess units are sold; below it, the shortfall in USD is bought.
 *   Holdings of a symbol whose weight is zero are sold in full.
 * - Buys never spend more than the cash on hand at the decision (the venue fills at the next open, and the risk
 *   gate counts only cash already held), so they never fail. When the buys need more cash than that and the
 *   same rebalance is selling, the buys wait one bar: on the next bar, after the sells have filled, the same
 *   symbols are bought up to their target at that bar's equity (the shortfall recomputed), together capped at the
 *   cash then on hand. Otherwise the buys are scaled down pro rata to the cash. A buy (after any scaling) that
 *   is not above `rebalanceBand` × target is left out: too small to be worth its fee.
 * - A restart that finds positions already held keeps holding on its first bar and rebalances at the next
 *   rebalance point, `rebalanceBars` bars later. (A book built with `holdOnRestart: false`, as momentum's is,
 *   rebalances on that first bar instead.)
 * Sells are listed before buys: the venues fill in submission order.
 */
import type { OrderIntent, Symbol } from '../types.js';
import { sellsFirst, tunableField, type Strategy, type StrategyContext, type StrategyDecision, type Tunable } from './strategy.js';

export interface TargetWeightParams {
  /** bars between rebalance points, counted from the first decided bar */
  readonly rebalanceBars: number;
  /** a holding is resized only when off target by more than this fraction of the target */
  readonly rebalanceBand: number;
  /** fraction of equity left out of the targets (kept in cash) */
  readonly cashBuffer: number;
}

export type BuyHoldParams = TargetWeightParams;

/** The defaults of `strategy.buyhold` in config/default.yaml (used when no parameters are passed). */
export const BUYHOLD_DEFAULTS: BuyHoldParams = { rebalanceBars: 168, rebalanceBand: 0.05, cashBuffer: 0 };

type Phase = 'rebalance' | 'follow-up' | 'restart-hold' | 'hold';

export interface TargetWeightBookOptions {
  /**
   * true (the default): a restart that finds positions keeps holding until the next rebalance point. false: the
   * first bar is a rebalance point whatever is held (for weights that change between points, e.g. momentum).
   */
  readonly holdOnRestart?: boolean;
}

/**
 * Holds target weights with a periodic, banded rebalance (rules in the file comment). `weights` gives each
 * symbol's target fraction of the investable equity; symbols left out have weight zero.
 */
export class TargetWeightBook {
  private barsSeen = 0;
  /** symbols whose buys wait for the sells placed on the previous bar */
  private pending: ReadonlySet<Symbol> | undefined;

  constructor(
    private readonly params: () => TargetWeightParams,
    private readonly label: string,
    private readonly options: TargetWeightBookOptions = {},
  ) {}

  /**
   * Whether the next `decide` falls on a rebalance point (on the very first one a restart that finds positions
   * may keep holding instead: `holdOnRestart`). A strategy whose weights change picks them here and passes the
   * same weights until the next point, so the follow-up bar buys toward the targets the rebalance set.
   */
  get dueNext(): boolean {
    return this.barsSeen % this.params().rebalanceBars === 0;
  }

  decide(ctx: StrategyContext, weights: ReadonlyMap<Symbol, number>): StrategyDecision[] {
    const { rebalanceBars, rebalanceBand, cashBuffer } = this.params();
    const first = this.barsSeen === 0;
    const due = this.barsSeen % rebalanceBars === 0;
    this.barsSeen += 1;
    const investable = ctx.equity * (1 - cashBuffer);
    const target = (symbol: Symbol) => investable * (weights.get(symbol) ?? 0);
    const value = (symbol: Symbol) => ctx.held(symbol) * (ctx.price(symbol) ?? 0);

    const intents = new Map<Symbol, OrderIntent>();
    let phase: Phase = 'hold';
    if (due && first && (this.options.holdOnRestart ?? true) && ctx.symbols.some((s) => ctx.held(s) > 0)) {
      phase = 'restart-hold';
    } else if (due) {
      phase = 'rebalance';
      this.pending = undefined;
      const shortfalls = new Map<Symbol, number>();
      for (const symbol of ctx.symbols) {
        const price = ctx.price(symbol);
        const held = ctx.held(symbol);
        if (price === undefined) continue;
        const goal = target(symbol);
        if (!(goal > 0)) {
          if (held > 0) intents.set(symbol, { symbol, side: 'sell', qty: held, source: 'strategy', reason: `${this.label}: not in the target weights` });
          continue;
        }
        const delta = goal - held * price;
        if (Math.abs(delta) <= rebalanceBand * goal) continue;
        if (delta > 0) shortfalls.set(symbol, delta);
        else intents.set(symbol, { symbol, side: 'sell', qty: Math.min(held, -delta / price), source: 'strategy', reason: `${this.label}: trimming to target` });
      }
      const need = sum(shortfalls.values());
      if (need > ctx.cash && intents.size > 0) this.pending = new Set(shortfalls.keys());
      else this.addBuys(intents, shortfalls, target, rebalanceBand, ctx, 'rebalance');
    } else if (this.pending) {
      phase = 'follow-up';
      const shortfalls = new Map<Symbol, number>();
      for (const symbol of this.pending) {
        if (ctx.price(symbol) === undefined) continue;
        const delta = target(symbol) - value(symbol);
        if (delta > 0) shortfalls.set(symbol, delta);
      }
      this.pending = undefined;
      this.addBuys(intents, shortfalls, target, rebalanceBand, ctx, 'follow-up');
    }

    const decisions = ctx.symbols.map((symbol): StrategyDecision => {
      const price = ctx.price(symbol);
      return {
        symbol,
        features: { close: price ?? null, weight: weights.get(symbol) ?? 0, target: price === undefined ? null : target(symbol), value: value(symbol) },
        signal: { phase, waitingForSells: this.pending?.has(symbol) ?? false },
        intent: intents.get(symbol) ?? null,
      };
    });
    return sellsFirst(decisions);
  }

  /**
   * Buys of the shortfalls, scaled down pro rata when they need more than the cash on hand; a buy that would
   * not move its holding by more than the band (not worth its fee) is left out.
   */
  private addBuys(
    intents: Map<Symbol, OrderIntent>,
    shortfalls: ReadonlyMap<Symbol, number>,
    target: (symbol: Symbol) => number,
    band: number,
    ctx: StrategyContext,
    step: 'rebalance' | 'follow-up',
  ): void {
    const need = sum(shortfalls.values());
    if (!(need > 0) || !(ctx.cash > 0)) return;
    const scale = Math.min(1, ctx.cash / need);
    for (const [symbol, shortfall] of shortfalls) {
      if (shortfall * scale <= band * target(symbol)) continue;
      const entry = ctx.held(symbol) <= 0;
      const reason = `${this.label}: ${entry ? 'entry' : 'topping up to target'}${step === 'follow-up' ? ' after the sells filled' : ''}${scale < 1 ? ', scaled to the cash on hand' : ''}`;
      intents.set(symbol, { symbol, side: 'buy', notional: shortfall * scale, source: 'strategy', reason });
    }
  }
}

export class BuyHoldStrategy implements Strategy {
  readonly name = 'buyhold';
  readonly warmupBars = 0;
  readonly tunables: readonly Tunable[];
  private readonly params: { -readonly [K in keyof BuyHoldParams]: BuyHoldParams[K] };
  private readonly book: TargetWeightBook;

  constructor(params: BuyHoldParams = BUYHOLD_DEFAULTS) {
    this.params = { ...params };
    this.book = new TargetWeightBook(() => this.params, 'equal-weight buy-and-hold');
    this.tunables = targetWeightTunables(this.params, true);
  }

  decide(ctx: StrategyContext): StrategyDecision[] {
    const priced = ctx.symbols.filter((s) => ctx.price(s) !== undefined);
    return this.book.decide(ctx, new Map(priced.map((s) => [s, 1 / priced.length])));
  }
}

/** The `/threshold` handles of a target-weight baseline. */
export function targetWeightTunables(params: { rebalanceBars: number; rebalanceBand: number; cashBuffer?: number }, withCashBuffer: boolean): Tunable[] {
  return [
    tunableField(params, 'rebalanceBars', 'bars between rebalances (168 = weekly)', 1, 24 * 30, true),
    tunableField(params, 'rebalanceBand', 'resize only when off target by more than this fraction of the target', 0, 0.5, false),
    ...(withCashBuffer ? [tunableField(params, 'cashBuffer', 'fraction of equity kept out of the targets, in cash', 0, 0.5, false)] : []),
  ];
}


function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
