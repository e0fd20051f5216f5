/**
 * Acceptance check: the real CLI's buy-and-hold backtest on real Binance bars, recomputed independently from the
 * CSV files. Nothing from the project is imported for the computation: if the engine, the venue or the metrics
 * drift from the documented rules, this disagrees.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
    expect(out.metrics.tradeCount).toBe(2);
    expect(out.trades).toHaveLength(2);
  });

  it('agrees with buy-and-hold recomputed from the CSV files', () => {
    expect(out).toBeDefined();
    const fee = out.params.feeRate;
    const slip = out.params.slippageBps / 10_000;
    const equity0 = out.params.equity;
    expect(equity0).toBeGreaterThan(0);

    const bars = new Map(SYMBOLS.map((s) => [s, readCsv(join(DATA_DIR, `${s.replace('/', '')}.csv`)).filter((r) => r.ts >= FROM && r.ts < TO_EXCLUSIVE)] as const));
    const timeline = [...new Set([...bars.values()].flatMap((rows) => rows.map((r) => r.ts)))].sort((a, b) => a - b);
    expect(timeline.length).toBeGreaterThan(10_000);
    const decisionTs = timeline[0]!;
    expect(decisionTs).toBe(FROM);

    // Entry: decided on the first bar, each symbol filled at ITS next bar's open, moved against us by the slippage.
    const entries = SYMBOLS.map((symbol) => {
      const rows = bars.get(symbol)!;
      expect(rows[0]!.ts).toBe(decisionTs); // priced at the decision
      const next = rows.find((r) => r.ts > decisionTs)!;
      const fillPrice = next.open * (1 + slip);
      const qty = Math.floor(equity0 / SYMBOLS.length / (fillPrice * (1 + fee)) / QTY_STEP) * QTY_STEP;
      return { symbol, fillTs: next.ts, fillPrice, qty, cost: qty * fillPrice * (1 + fee) };
    });
    const cash = equity0 - entries.reduce((a, e) => a + e.cost, 0);
    expect(cash).toBeGreaterThanOrEqual(-1e-6);

    // Marked equity at each bar's close (last known close carried over gaps), before and after the fills.
    const closeAt = new Map(SYMBOLS.map((s) => [s, new Map(bars.get(s)!.map((r) => [r.ts, r.close]))] as const));
    const last = new Map<string, number>();
    const curve = timeline.map((ts) => {
      let value = equity0;
      for (const s of SYMBOLS) {
        const c = closeAt.get(s)!.get(ts);
        if (c !== undefined) last.set(s, c);
      }
      const filled = entries.filter((e) => e.fillTs <= ts);
      if (filled.length > 0) {
        value = equity0 - filled.reduce((a, e) => a + e.cost, 0) + filled.reduce((a, e) => a + e.qty * last.get(e.symbol)!, 0);
      }
      return { ts, equity: value };
    });
    const final = cash + entries.reduce((a, e) => a + e.qty * last.get(e.symbol)! * (1 - fee), 0);
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

    // Trades: the two entries, nothing else.
    const trades = [...out.trades].sort((a, b) => a.symbol.localeCompare(b.symbol));
    expect(trades.map((t) => [t.symbol, t.side])).toEqual([
      ['BTC/USD', 'buy'],
      ['ETH/USD', 'buy'],
    ]);
    for (const e of entries) {
      const t = trades.find((x) => x.symbol === e.symbol)!;
      expect(t.ts).toBe(e.fillTs);
      expect(Math.abs(t.price - e.fillPrice) / e.fillPrice).toBeLessThan(1e-12);
      expect(Math.abs(t.qty - e.qty)).toBeLessThanOrEqual(1.5 * QTY_STEP);
      expect(Math.abs(t.fee - t.qty * t.price * fee)).toBeLessThan(1e-9);
    }

    // Equity curve: one point per hourly bar of the window, each matching the independent marking.
    expect(out.equityCurve.map((p) => p.ts)).toEqual(timeline);
    const worst = out.equityCurve.reduce((w, p, i) => Math.max(w, Math.abs(p.equity - curve[i]!.equity) / curve[i]!.equity), 0);
    expect(worst).toBeLessThan(1e-6);

    const m = out.metrics;
    expect(Math.abs(m.finalEquity - final) / final).toBeLessThan(1e-6);
    expect(Math.abs(m.totalReturn - totalReturn)).toBeLessThan(1e-6);
    expect(Math.abs(m.maxDrawdown - maxDrawdown)).toBeLessThan(1e-6);
    expect(Math.abs(m.sharpe - sharpe)).toBeLessThan(1e-6);
    expect(m.tradeCount).toBe(2);
    // CAGR has the sign of the total return.
    expect(Math.sign(m.cagr)).toBe(Math.sign(totalReturn));
  });
});
