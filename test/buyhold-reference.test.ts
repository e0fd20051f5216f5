/**
 * Acceptance check: the real CLI's buy-and-hold backtest (equal weight, rebalanced weekly with a band) on real
 * Binance bars, recomputed independently from the CSV files. Nothing from the project is imported for the
 * computation: if the engine, the venue, the strategy or the metrics drift from the documented rules, this
 * disagrees. (test/baselines-reference.test.ts checks it again, with a general model of the venue.)
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
if (!HAVE_DATA) console.warn(`buyhold-reference: skipped, market data not found at ${DATA_DIR} (expected BTCUSD.csv and ETHUSD.csv)`);

const SYMBOLS = ['BTC/USD', 'ETH/USD'] as const;
const FROM = Date.UTC(2023, 0, 1);
/** --to 2024-04-18 includes that whole day */
const TO_EXCLUSIVE = Date.UTC(2024, 3, 19);
const QTY_STEP = 1e-9;
const HOURS_PER_YEAR = 8_760;

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

describe.skipIf(!HAVE_DATA)('buy-and-hold reference (real CLI vs an independent recomputation)', () => {
  let dir: string;
  let jsonFile: string;
  let result: SpawnSyncReturns<string>;
  let out: BacktestJson;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ce-buyhold-'));
    jsonFile = join(dir, 'buyhold.json');
    result = runCli([
      'backtest', '--data', DATA_DIR, '--symbols', SYMBOLS.join(','), '--from', '2023-01-01', '--to', '2024-04-18', '--strategy', 'buyhold', '--json', jsonFile,
    ]);
    if (result.status === 0 && existsSync(jsonFile)) out = JSON.parse(readFileSync(jsonFile, 'utf8')) as BacktestJson;
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the CLI exits 0, prints a buyhold results row and writes the JSON', () => {
    expect(result.error).toBeUndefined();
    expect(result.stderr).not.toMatch(/^(fatal|error):/m);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^buyhold\s+\S+\s+-?\d+\.\d\d%/m);
    expect(out).toBeDefined();
    expect(out.strategy).toBe('buyhold');
    expect(out.params).toMatchObject({ from: '2023-01-01', to: '2024-04-18', symbols: [...SYMBOLS] });
    expect(out.params.feeRate).toBe(0.0025);
    expect(typeof out.params.slippageBps).toBe('number');
    for (const key of ['totalReturn', 'cagr', 'sharpe', 'maxDrawdown', 'tradeCount', 'finalEquity'] as const) {
      expect(Number.isFinite(out.metrics[key]), key).toBe(true);
    }
    expect(Array.isArray(out.equityCurve)).toBe(true);
    expect(Array.isArray(out.trades)).toBe(true);
    // The entry (two buys on the first bar's orders), then the weekly rebalances.
    expect(out.trades.slice(0, 2).map((t) => [t.symbol, t.side])).toEqual([
      ['BTC/USD', 'buy'],
      ['ETH/USD', 'buy'],
    ]);
    expect(out.metrics.tradeCount).toBe(out.trades.length);
  });

  it('agrees with weekly-rebalanced equal-weight buy-and-hold recomputed from the CSV files', () => {
    expect(out).toBeDefined();
    const fee = out.params.feeRate;
    const slip = out.params.slippageBps / 10_000;
    const equity0 = out.params.equity;
    expect(equity0).toBeGreaterThan(0);
    // The rebalance parameters of config/default.yaml (read as data; the project's config code is not used).
    const { rebalanceBars, rebalanceBand, cashBuffer } = (parse(readFileSync(join(REPO_ROOT, 'config/default.yaml'), 'utf8')) as { strategy: { buyhold: { rebalanceBars: number; rebalanceBand: number; cashBuffer: number } } }).strategy.buyhold;
    expect(rebalanceBars).toBe(168);

    const bars = new Map<string, Row[]>(SYMBOLS.map((s) => [s, readCsv(join(DATA_DIR, `${s.replace("/", "")}.csv`)).filter((r) => r.ts >= FROM && r.ts < TO_EXCLUSIVE)]));
    const timeline = [...new Set([...bars.values()].flatMap((rows) => rows.map((r) => r.ts)))].sort((a, b) => a - b);
    expect(timeline.length).toBeGreaterThan(10_000);
    expect(timeline[0]).toBe(FROM);
    // Both symbols have a bar at every hour of the window, so an order placed at bar i fills at bar i + 1's open.
    for (const s of SYMBOLS) expect(bars.get(s)!.map((r) => r.ts)).toEqual(timeline);
    type Sym = (typeof SYMBOLS)[number];
    const open = (s: Sym, i: number) => bars.get(s)!.at(i)!.open;
    const close = (s: Sym, i: number) => bars.get(s)!.at(i)!.close;

    // Book and orders, bar by bar: fills at the open, marking at the close, then (on rebalance bars) the decision.
    let cash = equity0;
    const qty = new Map<Sym, number>(SYMBOLS.map((s) => [s, 0]));
    let orders: Array<{ symbol: Sym; sell?: number; buy?: number }> = [];
    let waitingBuys: Sym[] = [];
    const fills: Array<{ ts: number; symbol: string; side: 'buy' | 'sell'; qty: number; price: number }> = [];
    const curve: Array<{ ts: number; equity: number }> = [];
    const steps = (x: number) => {
      const n = x / QTY_STEP;
      return (Math.abs(n - Math.round(n)) < 1e-6 ? Math.round(n) : Math.floor(n)) * QTY_STEP;
    };
    timeline.forEach((ts, i) => {
      for (const o of orders) {
        if (o.sell !== undefined) {
          const price = open(o.symbol, i) * (1 - slip);
          cash += o.sell * price * (1 - fee);
          qty.set(o.symbol, qty.get(o.symbol)! - o.sell);
          fills.push({ ts, symbol: o.symbol, side: 'sell', qty: o.sell, price });
        } else {
          const price = open(o.symbol, i) * (1 + slip);
          const q = steps(o.buy! / (price * (1 + fee)));
          cash -= q * price * (1 + fee);
          expect(cash).toBeGreaterThan(-1e-4); // a buy never needs more than the cash
          qty.set(o.symbol, qty.get(o.symbol)! + q);
          fills.push({ ts, symbol: o.symbol, side: 'buy', qty: q, price });
        }
      }
      orders = [];
      const equity = cash + SYMBOLS.reduce((a, s) => a + qty.get(s)! * close(s, i), 0);
      const target = (equity * (1 - cashBuffer)) / SYMBOLS.length;
      const value = (s: Sym) => qty.get(s)! * close(s, i);
      const buyAll = (wanted: Array<[Sym, number]>) => {
        const need = wanted.reduce((a, [, x]) => a + x, 0);
        const k = need > cash ? cash / need : 1;
        for (const [symbol, x] of wanted) if (x * k > rebalanceBand * target) orders.push({ symbol, buy: x * k });
      };
      if (i % rebalanceBars === 0) {
        waitingBuys = [];
        const wanted: Array<[Sym, number]> = [];
        for (const s of SYMBOLS) {
          const off = target - value(s);
          if (Math.abs(off) <= rebalanceBand * target) continue;
          if (off > 0) wanted.push([s, off]);
          else orders.push({ symbol: s, sell: steps(Math.min(qty.get(s)!, -off / close(s, i))) });
        }
        // Buys needing more than the cash wait one bar for this bar's sells.
        if (orders.length > 0 && wanted.reduce((a, [, x]) => a + x, 0) > cash) waitingBuys = wanted.map(([s]) => s);
        else buyAll(wanted);
      } else if (waitingBuys.length > 0) {
        buyAll(waitingBuys.map((s): [Sym, number] => [s, target - value(s)]).filter(([, x]) => x > 0));
        waitingBuys = [];
      }
      curve.push({ ts, equity });
    });
    const final = cash + SYMBOLS.reduce((a, s) => a + qty.get(s)! * close(s, timeline.length - 1) * (1 - fee), 0);
    const totalReturn = final / equity0 - 1;

    const returns = curve.slice(1).map((p, i) => p.equity / curve[i]!.equity - 1);
    const mean = returns.reduce((a, r) => a + r, 0) / returns.length;
    const sd = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (returns.length - 1));
    const sharpe = (mean / sd) * Math.sqrt(HOURS_PER_YEAR);
    let peak = -Infinity;
    let maxDrawdown = 0;
    for (const p of curve) {
      peak = Math.max(peak, p.equity);
      maxDrawdown = Math.max(maxDrawdown, (peak - p.equity) / peak);
    }

    // Trades: the entry and the rebalances, at the same bars, prices and (to a step) quantities.
    expect(fills.length).toBeGreaterThan(2); // the weekly rebalance does trade on this window
    expect(out.trades.map((t) => [t.ts, t.symbol, t.side])).toEqual(fills.map((f) => [f.ts, f.symbol, f.side]));
    out.trades.forEach((t, i) => {
      const f = fills[i]!;
      expect(Math.abs(t.price - f.price) / f.price).toBeLessThan(1e-12);
      expect(Math.abs(t.qty - f.qty)).toBeLessThanOrEqual(1.5 * QTY_STEP);
      expect(Math.abs(t.fee - t.qty * t.price * fee)).toBeLessThan(1e-9);
    });
    // Every rebalance sell is on a weekly bar; its buy follows on the next bar.
    for (const f of fills.filter((x) => x.side === 'sell')) expect(((f.ts - FROM) / 3_600_000 - 1) % rebalanceBars).toBe(0);

    // Equity curve: one point per hourly bar of the window, each matching the independent marking.
    expect(out.equityCurve.map((p) => p.ts)).toEqual(timeline);
    const worst = out.equityCurve.reduce((w, p, i) => Math.max(w, Math.abs(p.equity - curve[i]!.equity) / curve[i]!.equity), 0);
    expect(worst).toBeLessThan(1e-6);

    const m = out.metrics;
    expect(Math.abs(m.finalEquity - final) / final).toBeLessThan(1e-6);
    expect(Math.abs(m.totalReturn - totalReturn)).toBeLessThan(1e-6);
    expect(Math.abs(m.maxDrawdown - maxDrawdown)).toBeLessThan(1e-6);
    expect(Math.abs(m.sharpe - sharpe)).toBeLessThan(1e-6);
    expect(m.tradeCount).toBe(fills.length);
    // CAGR has the sign of the total return.
    expect(Math.sign(m.cagr)).toBe(Math.sign(totalReturn));
  });
});
