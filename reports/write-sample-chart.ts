/**
 * Writes a sample digest chart from a deterministic synthetic curve (no market data, no randomness across runs).
 *   npx tsx reports/write-sample-chart.ts                 → docs/sample-digest-chart.png (1000×700, two panels)
 *   npx tsx reports/write-sample-chart.ts out.png --small → the compact /stats variant (800×400)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { renderEquityChart, renderSmallChart, type ChartPoint } from './chart.js';

const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);
const BARS = 90 * 24;

/** mulberry32: a tiny seeded generator, so the sample is the same on every run */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function syntheticCurves(): { strategy: ChartPoint[]; benchmark: ChartPoint[] } {
  const rand = rng(42);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  let price = 42_000;
  let equity = 10_000;
  let exposure = 0.5;
  const strategy: ChartPoint[] = [];
  const benchmark: ChartPoint[] = [];
  for (let i = 0; i < BARS; i++) {
    const ts = START + i * HOUR;
    // a rally, a sharp sell-off in the middle, a partial recovery
    const drift = i < 900 ? 0.0004 : i < 1250 ? -0.0011 : 0.00045;
    const r = drift + 0.006 * gauss();
    price *= 1 + r;
    // the strategy is long when the recent trend is up and trims risk in the sell-off
    if (i % 24 === 0) exposure = drift > 0 ? 0.8 : 0.15;
    equity *= 1 + exposure * r - (i % 24 === 0 ? 0.0002 : 0);
    strategy.push({ ts, equity });
    benchmark.push({ ts, equity: price });
  }
  return { strategy, benchmark };
}

const args = process.argv.slice(2);
const small = args.includes('--small');
const out = args.find((a) => !a.startsWith('--')) ?? 'docs/sample-digest-chart.png';
const { strategy, benchmark } = syntheticCurves();
const input = {
  title: 'Weekly digest · BTC/USD',
  subtitle: 'Paper account · hourly bars · Jan 1 – Mar 30, 2024 (synthetic sample)',
  strategy,
  benchmark,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, small ? renderSmallChart(input) : renderEquityChart(input));
console.log(`wrote ${out}`);
