/**
 * The risk limits (defaults from the seed systems, ARCHITECTURE.md §2) and the range each may be set to with
 * `/limits`. One table drives the config schema's defaults, the `/limits` view and its validation.
 */

export interface RiskLimits {
  /** most symbols held (or being bought) at once */
  readonly maxOpenPositions: number;
  /** largest value of one asset, as a fraction of equity */
  readonly maxAssetFraction: number;
  /** largest single buy, USD */
  readonly maxTradeUsd: number;
  /** most exposure-increasing orders per UTC day (exits are never counted or blocked) */
  readonly maxTradesPerDay: number;
  /** highest allowed correlation of hourly returns between the symbol bought (new or topped up) and any other open symbol */
  readonly maxCorrelation: number;
  /** hourly bars of returns behind the correlation check */
  readonly correlationBars: number;
  /** largest portfolio value-at-risk (historical, 95%, 1 day), as a fraction of equity */
  readonly maxVar95: number;
  /** days of history behind the VaR */
  readonly varDays: number;
  /** per-position stop-loss below the average cost, fraction */
  readonly stopLoss: number;
  /** per-position trailing stop below the highest close since entry, fraction; 0 = off */
  readonly trailingStop: number;
  /** ATR bracket: 1 = on, 0 = off */
  readonly atrBrackets: number;
  readonly atrPeriod: number;
  /** stop at entry − atrStop × ATR (if tighter than the fixed stop-loss) */
  readonly atrStop: number;
  /** take profit at entry + atrTake × ATR */
  readonly atrTake: number;
  /** sell everything when equity falls this fraction below the cycle's peak (armed once the cycle is in profit) */
  readonly portfolioTrailingStop: number;
  /** sell `profitTakeFraction` of every position once per cycle when equity is this fraction above the cycle start */
  readonly profitTakeAt: number;
  readonly profitTakeFraction: number;
  /** after the portfolio trailing stop fires: 1 = stay in cash (REDUCING) for the cooldown, 0 = keep trading */
  readonly moveToCash: number;
  readonly moveToCashCooldownHours: number;
  /** a loss of this fraction since the start of the UTC day switches to REDUCING until the next day */
  readonly dailyLossLimit: number;
  /** a loss of this fraction from the starting equity halts trading and closes every position */
  readonly totalLossLimit: number;
  /** fraction of the Kelly bet used for sizing (0.5 = half-Kelly) */
  readonly kellyFraction: number;
  /** Kelly size shrinks linearly to zero as drawdown from the equity peak reaches this fraction */
  readonly kellyDrawdownFloor: number;
}

export interface LimitSpec {
  readonly name: keyof RiskLimits;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly unit: 'fraction' | 'usd' | 'count' | 'bars' | 'days' | 'hours' | 'switch' | 'multiple';
}

const spec = (name: keyof RiskLimits, def: number, min: number, max: number, unit: LimitSpec['unit']): LimitSpec => ({
  name,
  default: def,
  min,
  max,
  integer: ['count', 'bars', 'days', 'hours', 'switch'].includes(unit),
  unit,
});

export const LIMIT_SPECS: readonly LimitSpec[] = [
  spec('maxOpenPositions', 3, 1, 20, 'count'),
  spec('maxAssetFraction', 0.3, 0.01, 1, 'fraction'),
  spec('maxTradeUsd', 1000, 1, 1_000_000, 'usd'),
  spec('maxTradesPerDay', 8, 0, 1000, 'count'),
  spec('maxCorrelation', 0.7, 0, 1, 'fraction'),
  spec('correlationBars', 168, 24, 2000, 'bars'),
  spec('maxVar95', 0.02, 0.001, 0.5, 'fraction'),
  spec('varDays', 30, 5, 80, 'days'),
  spec('stopLoss', 0.1, 0.005, 0.5, 'fraction'),
  spec('trailingStop', 0, 0, 0.5, 'fraction'),
  spec('atrBrackets', 1, 0, 1, 'switch'),
  spec('atrPeriod', 14, 2, 200, 'bars'),
  spec('atrStop', 3, 0.5, 50, 'multiple'),
  spec('atrTake', 6, 0.5, 100, 'multiple'),
  spec('portfolioTrailingStop', 0.015, 0.001, 0.5, 'fraction'),
  spec('profitTakeAt', 0.03, 0.001, 1, 'fraction'),
  spec('profitTakeFraction', 0.5, 0, 1, 'fraction'),
  spec('moveToCash', 0, 0, 1, 'switch'),
  spec('moveToCashCooldownHours', 24, 0, 24 * 14, 'hours'),
  spec('dailyLossLimit', 0.05, 0.001, 0.5, 'fraction'),
  spec('totalLossLimit', 0.1, 0.001, 0.9, 'fraction'),
  spec('kellyFraction', 0.5, 0, 1, 'fraction'),
  spec('kellyDrawdownFloor', 0.2, 0.01, 1, 'fraction'),
];

export const DEFAULT_LIMITS: RiskLimits = Object.fromEntries(LIMIT_SPECS.map((s) => [s.name, s.default])) as unknown as RiskLimits;

/** Why `value` is not allowed for `name`, or undefined when it is. */
export function limitProblem(name: string, value: number): string | undefined {
  const s = LIMIT_SPECS.find((x) => x.name === name);
  if (!s) return `no limit "${name}"; known: ${LIMIT_SPECS.map((x) => x.name).join(', ')}`;
  if (!Number.isFinite(value) || value < s.min || value > s.max) return `${name} must be between ${s.min} and ${s.max}, got ${value}`;
  if (s.integer && !Number.isInteger(value)) return `${name} must be a whole number, got ${value}`;
  return undefined;
}
