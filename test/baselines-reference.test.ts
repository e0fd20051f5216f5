/**
 * Acceptance check: the real CLI's baselines (buyhold weekly, 6040, meanrev, momentum on BTC/ETH and on
 * BTC/ETH/SOL/LINK) on real Binance bars, each recomputed independently from the CSV files. Nothing from the
 * project is imported for the computation: the venue, the gate's cash rule and each strategy are re-implemented
 * below from their documented rules (engine/broker/sim-broker.ts, engine/strategy/buyhold.ts, sixty-forty.ts,
 * meanrev.ts, momentum.ts), with the parameters read from config/default.yaml. If the engine, the venue, a
 * strategy or the metrics drift, this disagrees. The recomputation has a cash check like the gate's and
 * requires that it never fires: the baselines are built never to be denied.
 *
 * Documented venue rules: an order placed at a bar's close fills at its symbol's next bar open, moved against
 * the trader by the slippage; fee per side on the fill value; quantities floored to the increment (1e-9; a value
 * within a millionth of a step of a whole step is that step: float noise); buys are USD notional including the
 * fee, sells are units; orders fill in submission order, sells listed first. The benchmark gate only checks cash
 * (a buy may not spend more than the cash on hand less buys already approved) and the $1 venue minimum.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA_DIR = resolve(REPO_ROOT, '../shared/data/binance-1h');
const HAVE_DATA = existsSync(join(DATA_DIR, 'BTCUSD.csv')) && existsSync(join(DATA_DIR, 'ETHUSD.csv'));
if (!HAVE_DATA) console.warn(`baselines-reference: skipped, market data not found at ${DATA_DIR} (expected BTCUSD.csv and ETHUSD.csv)`);

type Sym = string;
const SYMBOLS: readonly Sym[] = ['BTC/USD', 'ETH/USD'];
/** the wider universe momentum is also checked on (skipped, with a notice, when its CSV files are absent) */
const FOUR_SYMBOLS: readonly Sym[] = ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LINK/USD'];
const csvOf = (s: Sym) => join(DATA_DIR, `${s.replace('/', '')}.csv`);
const FROM = Date.UTC(2023, 0, 1);
/** --to 2024-04-18 includes that whole day */
const TO_EXCLUSIVE = Date.UTC(2024, 3, 19);
const QTY_STEP = 1e-9;
const MIN_NOTIONAL = 1;
/** the gate's and venue's tolerance for USD amounts, and the ledger's for quantities */
const USD_EPS = 1e-4;
const QTY_EPS = 1e-10;
const HOURS_PER_YEAR = 8_760;
/**
 * Agreement asked of the equity curve and the final equity, relative. The two computations do the same
 * arithmetic in a different order, so they differ by float rounding (about 1e-12) plus at most one quantity
 * step per fill where a floor lands on the other side of a step (1e-9 of a coin: under 1e-8 of equity).
 */
const REL_TOL = 1e-6;

interface Row {
  ts: number;
  open: number;
  close: number;
}

/** Own minimal reader of `timestamp,open,high,low,close,volume`. */
function readCsv(file: string): Row[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  expect(lines[0]!.trim()).toBe('timestamp,open,high,low,close,volume');
  const out: Row[] = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const [ts, open, , , close] = line.split(',').map(Number);
    out.push({ ts: ts!, open: open!, close: close! });
  }
  return out;
}

interface BacktestJson {
  params: { feeRate: number; slippageBps: number; equity: number; from: string; to: string; symbols: string[] };
  strategy: string;
  profile: string;
  metrics: { totalReturn: number; cagr: number; sharpe: number; maxDrawdown: number; tradeCount: number; finalEquity: number };
  equityCurve: Array<{ ts: number; equity: number }>;
  trades: Array<{ ts: number; symbol: string; side: string; qty: number; price: number; fee: number }>;
}

function runCli(args: readonly string[]): SpawnSyncReturns<string> {
  const env = { ...process.env };
  delete env.CE_CONFIG; // the acceptance numbers are for config/default.yaml
  const opts = { cwd: REPO_ROOT, env, encoding: 'utf8' as const, timeout: 120_000 };
  const viaImport = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], opts);
  const tsxMissing = viaImport.status !== 0 && /tsx/.test(viaImport.stderr) && /(ERR_MODULE_NOT_FOUND|Cannot find|not found)/.test(viaImport.stderr);
  if (!tsxMissing) return viaImport;
  return spawnSync(join(REPO_ROOT, 'node_modules/.bin/tsx'), ['src/main.ts', ...args], opts);
}

// ---- the independent model ----

/** Whole increments of `step` in `x`, rounding down, with a value a hair under a whole step counted as that step. */
function floorStep(x: number): number {
  const steps = x / QTY_STEP;
  const near = Math.round(steps);
  return (Math.abs(steps - near) < 1e-6 ? near : Math.floor(steps)) * QTY_STEP;
}

type Intent = { symbol: Sym; side: 'buy'; notional: number } | { symbol: Sym; side: 'sell'; qty: number };

/** What a strategy sees at a bar's close. */
interface View {
  /** the universe, in the order given to the CLI */
  symbols: readonly Sym[];
  equity: number;
  cash: number;
  price(s: Sym): number;
  held(s: Sym): number;
  /** closes up to and including this bar, oldest first */
  closes(s: Sym): readonly number[];
}

type Model = (v: View) => Intent[];

/**
 * buyhold / 6040 as documented in engine/strategy/buyhold.ts: rebalance points every `bars` bars from the first;
 * targets = equity × (1 − cashBuffer) × weight; resize only outside the band; buys capped at the cash on hand,
 * waiting one bar for the sells when the cash is short; buys not above band × target left out. `weigh` picks the
 * weights on each rebalance point; they hold until the next one (the follow-up bar buys toward them).
 */
function targetWeightModel(p: { rebalanceBars: number; rebalanceBand: number; cashBuffer: number }, weigh: (v: View) => (s: Sym) => number): Model {
  let bar = 0;
  let waiting: Sym[] | undefined;
  let weight: (s: Sym) => number = () => 0;
  return (v) => {
    const first = bar === 0;
    const due = bar % p.rebalanceBars === 0;
    bar += 1;
    if (due) weight = weigh(v);
    const goal = (s: Sym) => v.equity * (1 - p.cashBuffer) * weight(s);
    const buys = (short: Array<[Sym, number]>): Intent[] => {
      const need = short.reduce((a, [, x]) => a + x, 0);
      if (need <= 0 || v.cash <= 0) return [];
      const k = Math.min(1, v.cash / need);
      return short.filter(([s, x]) => x * k > p.rebalanceBand * goal(s)).map(([symbol, x]) => ({ symbol, side: 'buy', notional: x * k }));
    };
    if (due && first && v.symbols.some((s) => v.held(s) > 0)) return [];
    if (due) {
      waiting = undefined;
      const sells: Intent[] = [];
      const short: Array<[Sym, number]> = [];
      for (const s of v.symbols) {
        const g = goal(s);
        if (g <= 0) {
          if (v.held(s) > 0) sells.push({ symbol: s, side: 'sell', qty: v.held(s) });
          continue;
        }
        const gap = g - v.held(s) * v.price(s);
        if (Math.abs(gap) <= p.rebalanceBand * g) continue;
        if (gap > 0) short.push([s, gap]);
        else sells.push({ symbol: s, side: 'sell', qty: Math.min(v.held(s), -gap / v.price(s)) });
      }
      const need = short.reduce((a, [, x]) => a + x, 0);
      if (need > v.cash && sells.length > 0) {
        waiting = short.map(([s]) => s);
        return sells;
      }
      return [...sells, ...buys(short)];
    }
    if (waiting) {
      const short = waiting.map((s): [Sym, number] => [s, goal(s) - v.held(s) * v.price(s)]).filter(([, x]) => x > 0);
      waiting = undefined;
      return buys(short);
    }
    return [];
  };
}

/**
 * momentum as documented in engine/strategy/momentum.ts: nothing until every symbol has lookbackBars + 1 closes;
 * from that bar on, the target-weight rules with the rebalance clock started there, and on each rebalance point
 * weight 1/topK for the first topK symbols ranked by close / close lookbackBars bars earlier − 1 (best first,
 * ties in universe order) whose return is positive.
 */
function momentumModel(p: { lookbackBars: number; topK: number; rebalanceBars: number; rebalanceBand: number; cashBuffer: number }): Model {
  const book = targetWeightModel(p, (v) => {
    const ret = (s: Sym) => {
      const c = v.closes(s);
      return c[c.length - 1]! / c[c.length - 1 - p.lookbackBars]! - 1;
    };
    const ranked = v.symbols.map((s, i) => ({ s, i, r: ret(s) })).sort((a, b) => b.r - a.r || a.i - b.i);
    const chosen = new Set(ranked.slice(0, p.topK).filter((x) => x.r > 0).map((x) => x.s));
    return (s) => (chosen.has(s) ? 1 / p.topK : 0);
  });
  return (v) => (v.symbols.every((s) => v.closes(s).length > p.lookbackBars) ? book(v) : []);
}

/** meanrev as documented in engine/strategy/meanrev.ts. */
function meanRevModel(p: { lookbackBars: number; entryZ: number; exitZ: number; rebalanceBars: number }): Model {
  let bar = 0;
  let waiting: Sym[] = [];
  const z = (closes: readonly number[]): number | undefined => {
    if (closes.length < p.lookbackBars) return undefined;
    const w = closes.slice(closes.length - p.lookbackBars);
    const mean = w.reduce((a, c) => a + c, 0) / w.length;
    const sd = Math.sqrt(w.reduce((a, c) => a + (c - mean) ** 2, 0) / w.length);
    return sd > 0 ? (w[w.length - 1]! - mean) / sd : 0;
  };
  return (v) => {
    const due = bar % p.rebalanceBars === 0;
    bar += 1;
    const sells: Intent[] = [];
    const entries: Sym[] = [];
    if (due) {
      for (const s of v.symbols) {
        const score = z(v.closes(s));
        if (score === undefined) continue;
        if (v.held(s) > 0 && score > p.exitZ) sells.push({ symbol: s, side: 'sell', qty: v.held(s) });
        else if (v.held(s) <= 0 && score < -p.entryZ && score <= p.exitZ) entries.push(s);
      }
    }
    for (const s of waiting) if (v.held(s) <= 0 && !sells.some((x) => x.symbol === s) && !entries.includes(s)) entries.push(s);
    waiting = [];
    const slot = v.equity / v.symbols.length;
    if (entries.length * slot > v.cash && sells.length > 0) {
      waiting = entries;
      return sells;
    }
    if (entries.length === 0 || v.cash <= 0) return sells;
    const notional = Math.min(slot, v.cash / entries.length);
    // Sells first, then buys, each in universe order.
    const buys = v.symbols.filter((s) => entries.includes(s)).map((symbol): Intent => ({ symbol, side: 'buy', notional }));
    return [...sells, ...buys];
  };
}

interface Fill {
  ts: number;
  symbol: Sym;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  fee: number;
}

interface Simulation {
  curve: Array<{ ts: number; equity: number }>;
  fills: Fill[];
  final: number;
  /** buys the gate would deny or the venue reject: the baselines promise none */
  failures: string[];
}

/** The engine's loop, re-done: fills at the open, marks at the close, a decision, the cash check, orders. */
function simulate(model: Model, bars: ReadonlyMap<Sym, Row[]>, symbols: readonly Sym[], equity0: number, fee: number, slip: number): Simulation {
  const timeline = [...new Set(symbols.flatMap((s) => bars.get(s)!.filter((r) => r.ts >= FROM && r.ts < TO_EXCLUSIVE).map((r) => r.ts)))].sort((a, b) => a - b);
  const at = new Map(symbols.map((s) => [s, new Map(bars.get(s)!.map((r) => [r.ts, r] as const))] as const));
  // History before the window primes the closes (the engine is primed with the bars before --from).
  const closes = new Map(symbols.map((s) => [s, bars.get(s)!.filter((r) => r.ts < FROM).map((r) => r.close)] as const));
  const last = new Map<Sym, number>();
  for (const s of symbols) if (closes.get(s)!.length > 0) last.set(s, closes.get(s)!.at(-1)!);
  let cash = equity0;
  const qty = new Map<Sym, number>();
  let open: Intent[] = [];
  const fills: Fill[] = [];
  const failures: string[] = [];
  const curve: Array<{ ts: number; equity: number }> = [];
  const marked = () => cash + symbols.reduce((a, s) => a + (qty.get(s) ?? 0) * (last.get(s) ?? 0), 0);

  for (const ts of timeline) {
    const still: Intent[] = [];
    for (const o of open) {
      const row = at.get(o.symbol)!.get(ts);
      if (!row) {
        still.push(o);
        continue;
      }
      const held = qty.get(o.symbol) ?? 0;
      if (o.side === 'buy') {
        const price = row.open * (1 + slip);
        const q = floorStep(o.notional / (price * (1 + fee)));
        const cost = q * price + q * price * fee;
        if (q <= 0 || q * price < MIN_NOTIONAL || cost - cash > USD_EPS) {
          failures.push(`${new Date(ts).toISOString()} ${o.symbol} buy rejected at the venue`);
          continue;
        }
        cash -= cost;
        qty.set(o.symbol, held + q);
        fills.push({ ts, symbol: o.symbol, side: 'buy', qty: q, price, fee: q * price * fee });
      } else {
        const price = row.open * (1 - slip);
        const q = Math.min(o.qty, held);
        cash += q * price - q * price * fee;
        qty.set(o.symbol, held - q <= QTY_EPS ? 0 : held - q);
        fills.push({ ts, symbol: o.symbol, side: 'sell', qty: q, price, fee: q * price * fee });
      }
    }
    open = still;
    for (const s of symbols) {
      const row = at.get(s)!.get(ts);
      if (!row) continue;
      last.set(s, row.close);
      closes.get(s)!.push(row.close);
    }
    const equity = marked();
    const heldOf = (s: Sym) => ((qty.get(s) ?? 0) > QTY_EPS ? qty.get(s)! : 0);
    const intents = model({ symbols, equity, cash, price: (s) => last.get(s)!, held: heldOf, closes: (s) => closes.get(s)! });
    let available = cash - open.reduce((a, o) => a + (o.side === 'buy' ? o.notional : 0), 0);
    for (const intent of intents) {
      if (intent.side === 'sell') {
        const q = floorStep(Math.min(intent.qty, heldOf(intent.symbol)));
        if (q > QTY_EPS) open.push({ ...intent, qty: q });
        continue;
      }
      if (intent.notional < MIN_NOTIONAL || intent.notional - available > USD_EPS) {
        failures.push(`${new Date(ts).toISOString()} ${intent.symbol} buy of ${intent.notional} denied by the cash check`);
        continue;
      }
      available -= intent.notional;
      open.push(intent);
    }
    curve.push({ ts, equity });
  }
  const final = cash + symbols.reduce((a, s) => a + (qty.get(s) ?? 0) * (last.get(s) ?? 0) * (1 - fee), 0);
  return { curve, fills, final, failures };
}

function sharpe(curve: ReadonlyArray<{ equity: number }>): number {
  const r = curve.slice(1).map((p, i) => p.equity / curve[i]!.equity - 1);
  const mean = r.reduce((a, x) => a + x, 0) / r.length;
  const sd = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / (r.length - 1));
  return (mean / sd) * Math.sqrt(HOURS_PER_YEAR);
}

function maxDrawdown(curve: ReadonlyArray<{ equity: number }>): number {
  let peak = -Infinity;
  let worst = 0;
  for (const p of curve) {
    peak = Math.max(peak, p.equity);
    worst = Math.max(worst, (peak - p.equity) / peak);
  }
  return worst;
}

// ---- the checks ----

const defaults = parse(readFileSync(join(REPO_ROOT, 'config/default.yaml'), 'utf8')) as {
  strategy: {
    buyhold: { rebalanceBars: number; rebalanceBand: number; cashBuffer: number };
    sixtyForty: { rebalanceBars: number; rebalanceBand: number };
    meanrev: { lookbackBars: number; entryZ: number; exitZ: number; rebalanceBars: number };
    momentum: { lookbackBars: number; topK: number; rebalanceBars: number; rebalanceBand: number; cashBuffer: number };
  };
};

interface Case {
  /** the test's name for the run */
  name: string;
  strategy: string;
  symbols: readonly Sym[];
  model: () => Model;
  minTrades: number;
}

const ALL_CASES: readonly Case[] = [
  { name: 'buyhold', strategy: 'buyhold', symbols: SYMBOLS, model: () => targetWeightModel(defaults.strategy.buyhold, () => () => 1 / SYMBOLS.length), minTrades: 3 },
  { name: '6040', strategy: '6040', symbols: SYMBOLS, model: () => targetWeightModel({ ...defaults.strategy.sixtyForty, cashBuffer: 0 }, () => () => 0.6 / SYMBOLS.length), minTrades: 3 },
  { name: 'meanrev', strategy: 'meanrev', symbols: SYMBOLS, model: () => meanRevModel(defaults.strategy.meanrev), minTrades: 10 },
  { name: 'momentum', strategy: 'momentum', symbols: SYMBOLS, model: () => momentumModel(defaults.strategy.momentum), minTrades: 20 },
  { name: 'momentum 4 symbols', strategy: 'momentum', symbols: FOUR_SYMBOLS, model: () => momentumModel(defaults.strategy.momentum), minTrades: 20 },
];
const CASES = HAVE_DATA ? ALL_CASES.filter((c) => c.symbols.every((s) => existsSync(csvOf(s)))) : ALL_CASES;
for (const c of ALL_CASES) {
  const missing = c.symbols.filter((s) => !existsSync(csvOf(s)));
  if (HAVE_DATA && missing.length > 0) console.warn(`baselines-reference: ${c.name} skipped, market data not found at ${DATA_DIR} (${missing.map((s) => csvOf(s)).join(', ')})`);
}

describe.skipIf(!HAVE_DATA)('baselines reference (real CLI vs an independent recomputation)', () => {
  let dir: string;
  let bars: Map<Sym, Row[]>;
  const runs = new Map<string, { result: SpawnSyncReturns<string>; out?: BacktestJson }>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ce-baselines-'));
    bars = new Map([...new Set(CASES.flatMap((c) => c.symbols))].map((s) => [s, readCsv(csvOf(s)).filter((r) => r.ts < TO_EXCLUSIVE)] as const));
    CASES.forEach(({ name, strategy, symbols }, i) => {
      const jsonFile = join(dir, `${i}.json`);
      const result = runCli(['backtest', '--data', DATA_DIR, '--symbols', symbols.join(','), '--from', '2023-01-01', '--to', '2024-04-18', '--strategy', strategy, '--json', jsonFile]);
      runs.set(name, { result, out: result.status === 0 && existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as BacktestJson) : undefined });
    });
  }, 360_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: the CLI exits 0 under the benchmark profile and writes the JSON', (name, { strategy, symbols }) => {
    const { result, out } = runs.get(name)!;
    expect(result.error).toBeUndefined();
    expect(result.stderr).not.toMatch(/^(fatal|error):/m);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${strategy}\\s+benchmark\\s+-?\\d+\\.\\d\\d%`, 'm'));
    expect(out).toBeDefined();
    expect(out!.strategy).toBe(strategy);
    expect(out!.profile).toBe('benchmark');
    expect(out!.params).toMatchObject({ from: '2023-01-01', to: '2024-04-18', symbols: [...symbols], feeRate: 0.0025 });
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: agrees with the recomputation from the CSV files', (name, c) => {
    const out = runs.get(name)!.out;
    expect(out).toBeDefined();
    const ref = simulate(c.model(), bars, c.symbols, out!.params.equity, out!.params.feeRate, out!.params.slippageBps / 10_000);
    expect(ref.failures).toEqual([]);
    expect(ref.fills.length).toBeGreaterThanOrEqual(c.minTrades);

    // The same orders, filled at the same bar and price, in the same quantities (to a step or two).
    expect(out!.trades.map((t) => [t.ts, t.symbol, t.side])).toEqual(ref.fills.map((f) => [f.ts, f.symbol, f.side]));
    out!.trades.forEach((t, i) => {
      const f = ref.fills[i]!;
      expect(Math.abs(t.price - f.price) / f.price).toBeLessThan(1e-12);
      expect(Math.abs(t.qty - f.qty)).toBeLessThanOrEqual(2.5 * QTY_STEP);
      expect(Math.abs(t.fee - t.qty * t.price * out!.params.feeRate)).toBeLessThan(1e-9);
    });

    // The whole equity curve: one point per hourly bar of the window.
    expect(out!.equityCurve.map((p) => p.ts)).toEqual(ref.curve.map((p) => p.ts));
    expect(ref.curve[0]!.ts).toBe(FROM);
    const worst = out!.equityCurve.reduce((w, p, i) => Math.max(w, Math.abs(p.equity - ref.curve[i]!.equity) / ref.curve[i]!.equity), 0);
    expect(worst).toBeLessThan(REL_TOL);

    const m = out!.metrics;
    expect(Math.abs(m.finalEquity - ref.final) / ref.final).toBeLessThan(REL_TOL);
    expect(Math.abs(m.totalReturn - (ref.final / out!.params.equity - 1))).toBeLessThan(REL_TOL);
    expect(Math.abs(m.maxDrawdown - maxDrawdown(ref.curve))).toBeLessThan(REL_TOL);
    expect(Math.abs(m.sharpe - sharpe(ref.curve))).toBeLessThan(REL_TOL);
    expect(m.tradeCount).toBe(ref.fills.length);
    expect(Math.sign(m.cagr)).toBe(Math.sign(m.totalReturn));
  });
});
