/**
 * The embedded market: a seeded, endless, crypto-like hourly market so that `npm start` trades with no data
 * files and no network. It is synthetic and says so in its description.
 *
 * Model per hour: a shared market factor with GARCH(1,1) volatility and fat-tailed (Student-t, 4 dof) shocks,
 * per-coin beta and idiosyncratic noise, slowly wandering drifts (so trends exist), wicks, and volume that
 * rises with the size of the move. Same seed → same bars, bit for bit.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { Bar, BarBatch, Symbol } from '../types.js';
import { HOUR_MS, type MarketFeed } from './feed.js';

interface CoinProfile {
  /** USD price at bar 0 */
  readonly price: number;
  /** sensitivity to the market factor */
  readonly beta: number;
  /** hourly idiosyncratic volatility */
  readonly idioVol: number;
  /** typical hourly volume in units */
  readonly volume: number;
}

/** Rough 2023–24 levels and behaviour of the default universe. */
const PROFILES: Record<string, CoinProfile> = {
  'BTC/USD': { price: 42_000, beta: 1.0, idioVol: 0.002, volume: 1_500 },
  'ETH/USD': { price: 2_300, beta: 1.1, idioVol: 0.003, volume: 12_000 },
  'SOL/USD': { price: 100, beta: 1.4, idioVol: 0.006, volume: 150_000 },
  'LINK/USD': { price: 15, beta: 1.3, idioVol: 0.006, volume: 400_000 },
};

/** Profile for a symbol the table does not know: derived from its name so it is still reproducible. */
function profileFor(symbol: Symbol): CoinProfile {
  const known = PROFILES[symbol];
  if (known) return known;
  let hash = 0;
  for (const ch of symbol) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return { price: 1 + (hash % 500), beta: 1.2 + (hash % 5) / 10, idioVol: 0.006, volume: 100_000 };
}

/** 2024-01-01T00:00:00Z: the embedded market's bar 0. */
export const EMBEDDED_ORIGIN = Date.UTC(2024, 0, 1);

const GARCH = { omega: 2.5e-7, alpha: 0.06, beta: 0.93 }; // long-run hourly market vol ≈ 0.5%
const DRIFT_PERSISTENCE = 0.998; // trends last weeks
const DRIFT_SHOCK = 6e-6;

interface CoinState {
  price: number;
  drift: number;
}

export class EmbeddedMarket implements MarketFeed {
  readonly description: string;
  private readonly profiles: CoinProfile[];
  private rng = xoroshiro128plus(0);
  private index = 0;
  private variance = 0;
  private marketDrift = 0;
  private coins: CoinState[] = [];
  private spareNormal: number | undefined;
  /** the most recent batches, for warm-up */
  private recent: BarBatch[] = [];

  constructor(
    private readonly symbols: readonly Symbol[],
    private readonly seed: number,
    private readonly keepHistory = 1_000,
  ) {
    this.description = `embedded synthetic market (seed ${seed}), not real prices`;
    this.profiles = symbols.map(profileFor);
    this.reset();
  }

  get cursor(): number {
    return this.index;
  }

  history(count: number): BarBatch[] {
    return this.recent.slice(Math.max(0, this.recent.length - count));
  }

  next(): BarBatch {
    const batch = this.generate();
    this.recent.push(batch);
    if (this.recent.length > this.keepHistory * 2) this.recent = this.recent.slice(-this.keepHistory);
    return batch;
  }

  /** Regenerates from bar 0: cheap (about a million bars a second) and keeps the market exactly reproducible. */
  seek(cursor: number): void {
    this.reset();
    while (this.index < cursor) this.next();
  }

  private reset(): void {
    this.rng = xoroshiro128plus(this.seed);
    this.index = 0;
    this.variance = GARCH.omega / (1 - GARCH.alpha - GARCH.beta);
    this.marketDrift = 0;
    this.coins = this.profiles.map((p) => ({ price: p.price, drift: 0 }));
    this.spareNormal = undefined;
    this.recent = [];
  }

  private generate(): BarBatch {
    const ts = EMBEDDED_ORIGIN + this.index * HOUR_MS;
    this.index += 1;
    const marketShock = Math.sqrt(this.variance) * this.studentT4();
    this.variance = GARCH.omega + GARCH.alpha * marketShock * marketShock + GARCH.beta * this.variance;
    this.marketDrift = DRIFT_PERSISTENCE * this.marketDrift + DRIFT_SHOCK * this.normal();
    const volRatio = Math.sqrt(this.variance / (GARCH.omega / (1 - GARCH.alpha - GARCH.beta)));

    const bars = new Map<Symbol, Bar>();
    this.symbols.forEach((symbol, k) => {
      const profile = this.profiles[k]!;
      const coin = this.coins[k]!;
      coin.drift = DRIFT_PERSISTENCE * coin.drift + DRIFT_SHOCK * this.normal();
      const idio = profile.idioVol * volRatio * this.studentT4();
      const logReturn = this.marketDrift + coin.drift + profile.beta * marketShock + idio;
      const open = coin.price;
      const close = open * Math.exp(logReturn);
      const barVol = Math.sqrt(profile.beta ** 2 * this.variance + (profile.idioVol * volRatio) ** 2);
      const high = Math.max(open, close) * Math.exp(Math.abs(this.normal()) * barVol * 0.5);
      const low = Math.min(open, close) * Math.exp(-Math.abs(this.normal()) * barVol * 0.5);
      const activity = 1 + 3 * Math.abs(logReturn) / Math.max(barVol, 1e-9);
      const volume = profile.volume * activity * Math.exp(0.3 * this.normal());
      bars.set(symbol, { ts, open: round(open), high: round(high), low: round(low), close: round(close), volume: round(volume) });
      coin.price = round(close);
    });
    return { ts, bars };
  }

  /** Uniform in (0, 1), from two 32-bit draws for 53 bits of precision. */
  private uniform(): number {
    const hi = (this.rng.next() >>> 0) >>> 5;
    const lo = (this.rng.next() >>> 0) >>> 6;
    return (hi * 67_108_864 + lo + 0.5) / 9_007_199_254_740_992;
  }

  /** Standard normal by Box–Muller, using both outputs. */
  private normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Student-t with 4 degrees of freedom, scaled to unit variance: fat tails like real crypto returns. */
  private studentT4(): number {
    let chi2 = 0;
    for (let i = 0; i < 4; i++) chi2 += this.normal() ** 2;
    return (this.normal() / Math.sqrt(chi2 / 4)) * Math.SQRT1_2;
  }
}

/** Prices keep 8 significant digits, like an exchange tape; it also keeps JSON and SQLite rows small. */
function round(value: number): number {
  return Number(value.toPrecision(8));
}
