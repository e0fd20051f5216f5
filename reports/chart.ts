/**
 * Equity charts for the operator's phone (Telegram photo, Discord attachment).
 *
 * The SVG is written by hand here and rasterised with @resvg/resvg-js: no browser, no canvas, no system libraries.
 * Text uses the DejaVu Sans file shipped in reports/fonts/ and nothing else (system fonts are not loaded), so a
 * chart is drawn the same on every machine, including a CI box without a single font installed.
 *
 * - renderEquityChart: the digest chart, 1000×700 by default. Top panel: equity of the strategy and of buy-and-hold
 *   (the benchmark rescaled to start at the strategy's first equity, so both share the USD axis). Bottom panel:
 *   drawdown (%) of both as filled areas. Shared UTC date axis.
 * - renderSmallChart: the compact /stats chart, 800×400 by default, equity panel only.
 *
 * Fewer than two usable strategy points gives a "Not enough data yet" card of the requested size instead of an error.
 * Non-finite points are skipped, unsorted input is sorted by time, and long series are reduced to at most two points
 * per horizontal pixel (the minimum and the maximum of each pixel column, so spikes and the deepest drawdown survive).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';

export interface ChartPoint {
  /** epoch ms */
  readonly ts: number;
  /** USD */
  readonly equity: number;
}

export interface EquityChartInput {
  readonly title: string;
  readonly subtitle?: string;
  readonly strategy: readonly ChartPoint[];
  /** buy-and-hold over the same period; rescaled so that its first point equals the strategy's first equity */
  readonly benchmark?: readonly ChartPoint[];
  /** px; default 1000 (renderEquityChart) or 800 (renderSmallChart) */
  readonly width?: number;
  /** px; default 700 (renderEquityChart) or 400 (renderSmallChart) */
  readonly height?: number;
  /** legend names; defaults 'Strategy' and 'Buy & hold' */
  readonly strategyLabel?: string;
  readonly benchmarkLabel?: string;
}

export type ChartVariant = 'full' | 'compact';

/** Light-mode palette: blue and orange stay apart for colour-blind readers and on a dim phone screen. */
export const CHART_COLORS = {
  background: '#ffffff',
  strategy: '#1f5fd6',
  benchmark: '#e8590c',
  title: '#111827',
  text: '#4b5563',
  grid: '#e5e7eb',
  axis: '#9ca3af',
  placeholder: '#f3f4f6',
} as const;

export const CHART_FONT_FAMILY = 'DejaVu Sans';
/** The only font the renderer loads (Bitstream Vera licence, see reports/fonts/LICENSE-DejaVuSans.txt). */
export const CHART_FONT_FILE = fileURLToPath(new URL('./fonts/DejaVuSans.ttf', import.meta.url));

const DEFAULTS: Record<ChartVariant, { width: number; height: number }> = {
  full: { width: 1000, height: 700 },
  compact: { width: 800, height: 400 },
};
const MIN_SIDE = 200;
const MAX_SIDE = 4096;
/** fallback advance in em (DejaVu Sans digits are 0.636 em) for glyphs the width table does not know */
const CHAR_EM = 0.64;

// ---------------------------------------------------------------------------------------------------------------
// Public API

/** The digest chart as a PNG: equity and drawdown panels, default 1000×700. */
export function renderEquityChart(input: EquityChartInput): Buffer {
  return svgToPng(equityChartSvg(input));
}

/** The compact /stats chart as a PNG: equity panel only, default 800×400. */
export function renderSmallChart(input: EquityChartInput): Buffer {
  return svgToPng(smallChartSvg(input));
}

/** The SVG behind renderEquityChart. */
export function equityChartSvg(input: EquityChartInput): string {
  return buildChartSvg(input, 'full');
}

/** The SVG behind renderSmallChart. */
export function smallChartSvg(input: EquityChartInput): string {
  return buildChartSvg(input, 'compact');
}

/** Rasterises one of this module's SVGs with the bundled font only (no system fonts: the same pixels everywhere). */
export function svgToPng(svg: string): Buffer {
  if (!existsSync(CHART_FONT_FILE)) throw new Error(`chart font missing: ${CHART_FONT_FILE}`);
  const resvg = new Resvg(svg, {
    font: {
      fontFiles: [CHART_FONT_FILE],
      loadSystemFonts: false,
      defaultFontFamily: CHART_FONT_FAMILY,
      sansSerifFamily: CHART_FONT_FAMILY,
    },
    fitTo: { mode: 'original' },
    background: CHART_COLORS.background,
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/**
 * Min/max downsampling: splits [t0, t1] into `buckets` equal time slices and keeps, per slice, the lowest and the
 * highest point in their time order (one point when they coincide). At most 2 × buckets points come out, and the
 * extremes of every slice, hence of the whole series, are kept. Input must be sorted by ts; a series that already
 * fits is returned as a copy.
 */
export function downsampleMinMax(
  points: readonly ChartPoint[],
  buckets: number,
  t0 = points[0]?.ts ?? 0,
  t1 = points[points.length - 1]?.ts ?? 0,
): ChartPoint[] {
  const n = Math.max(1, Math.floor(buckets));
  if (points.length <= 2 * n) return points.slice();
  const span = t1 - t0;
  const out: ChartPoint[] = [];
  let current = -1;
  let minI = 0;
  let maxI = 0;
  const flush = () => {
    if (current < 0) return;
    const a = Math.min(minI, maxI);
    const b = Math.max(minI, maxI);
    out.push(points[a]!);
    if (b !== a) out.push(points[b]!);
  };
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const bucket = span > 0 ? Math.min(n - 1, Math.max(0, Math.floor(((p.ts - t0) / span) * n))) : 0;
    if (bucket !== current) {
      flush();
      current = bucket;
      minI = i;
      maxI = i;
    } else {
      if (p.equity < points[minI]!.equity) minI = i;
      if (p.equity > points[maxI]!.equity) maxI = i;
    }
  }
  flush();
  return out;
}

/**
 * Number of vertices of every data line in an SVG from this module, keyed by its data-series attribute:
 * 'equity:strategy', 'equity:benchmark', 'drawdown:strategy', 'drawdown:benchmark'.
 */
export function svgSeriesPointCounts(svg: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of svg.matchAll(/<path\b[^>]*?\bdata-series="([^"]+)"[^>]*?\bd="([^"]*)"/g)) {
    counts[m[1]!] = (m[2]!.match(/-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?/g) ?? []).length;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------------
// Data preparation

/** Finite points only, sorted by time (stable; already sorted input is not re-sorted). */
function cleanSeries(points: readonly ChartPoint[] | undefined): ChartPoint[] {
  if (!points) return [];
  const out: ChartPoint[] = [];
  let sorted = true;
  for (const p of points) {
    if (p == null || !Number.isFinite(p.ts) || !Number.isFinite(p.equity)) continue;
    const last = out[out.length - 1];
    if (last && p.ts < last.ts) sorted = false;
    out.push({ ts: p.ts, equity: p.equity });
  }
  if (!sorted) out.sort((a, b) => a.ts - b.ts);
  return out;
}

/** Drawdown from the running peak, in percent (≤ 0). */
function drawdownSeries(points: readonly ChartPoint[]): ChartPoint[] {
  let peak = Number.NEGATIVE_INFINITY;
  return points.map((p) => {
    peak = Math.max(peak, p.equity);
    const dd = peak > 0 ? (p.equity / peak - 1) * 100 : 0;
    return { ts: p.ts, equity: Number.isFinite(dd) ? dd : 0 };
  });
}

interface Series {
  readonly key: 'strategy' | 'benchmark';
  readonly label: string;
  readonly color: string;
  readonly equity: ChartPoint[];
  readonly drawdown: ChartPoint[];
  /** last / first − 1, as a fraction */
  readonly totalReturn: number;
  /** most negative drawdown, % */
  readonly maxDrawdown: number;
}

function makeSeries(key: Series['key'], label: string, equity: ChartPoint[]): Series {
  const drawdown = drawdownSeries(equity);
  const first = equity[0]!.equity;
  const last = equity[equity.length - 1]!.equity;
  return {
    key,
    label,
    color: CHART_COLORS[key],
    equity,
    drawdown,
    totalReturn: first !== 0 ? last / first - 1 : 0,
    maxDrawdown: drawdown.reduce((m, p) => Math.min(m, p.equity), 0),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MINUS = '\u2212';

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** SVG coordinate: one decimal is plenty at 1:1 and keeps a 2000-vertex path short. */
function n1(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/**
 * Advance widths (em) read from the bundled font's cmap (format 4) and hmtx tables, so labels are measured rather
 * than guessed. Kerning is ignored (it only narrows text). Null when the font cannot be read: then CHAR_EM is used.
 */
let advances: ((codePoint: number) => number | undefined) | null | undefined;

function loadAdvances(): ((codePoint: number) => number | undefined) | null {
  try {
    const b = readFileSync(CHART_FONT_FILE);
    const tables = new Map<string, number>();
    for (let i = 0, n = b.readUInt16BE(4); i < n; i++) tables.set(b.toString('latin1', 12 + i * 16, 16 + i * 16), b.readUInt32BE(20 + i * 16));
    const head = tables.get('head');
    const hhea = tables.get('hhea');
    const hmtx = tables.get('hmtx');
    const cmap = tables.get('cmap');
    if (head === undefined || hhea === undefined || hmtx === undefined || cmap === undefined) return null;
    const unitsPerEm = b.readUInt16BE(head + 18);
    const hMetrics = b.readUInt16BE(hhea + 34);
    let sub = -1;
    for (let i = 0, n = b.readUInt16BE(cmap + 2); i < n; i++) {
      const rec = cmap + 4 + i * 8;
      const platform = b.readUInt16BE(rec);
      const encoding = b.readUInt16BE(rec + 2);
      const offset = cmap + b.readUInt32BE(rec + 4);
      if (b.readUInt16BE(offset) === 4 && ((platform === 3 && encoding === 1) || platform === 0)) sub = offset;
    }
    if (sub < 0 || unitsPerEm === 0) return null;
    const segs = b.readUInt16BE(sub + 6) / 2;
    const ends = sub + 14;
    const starts = ends + segs * 2 + 2;
    const deltas = starts + segs * 2;
    const rangeOffsets = deltas + segs * 2;
    const glyphOf = (c: number): number => {
      for (let i = 0; i < segs; i++) {
        if (b.readUInt16BE(ends + i * 2) < c) continue;
        const start = b.readUInt16BE(starts + i * 2);
        if (start > c) return 0;
        const delta = b.readInt16BE(deltas + i * 2);
        const ro = b.readUInt16BE(rangeOffsets + i * 2);
        if (ro === 0) return (c + delta) & 0xffff;
        const g = b.readUInt16BE(rangeOffsets + i * 2 + ro + 2 * (c - start));
        return g === 0 ? 0 : (g + delta) & 0xffff;
      }
      return 0;
    };
    const cache = new Map<number, number | undefined>();
    return (c) => {
      if (cache.has(c)) return cache.get(c);
      let em: number | undefined;
      if (c <= 0xffff) {
        const g = glyphOf(c);
        if (g !== 0) em = b.readUInt16BE(hmtx + 4 * Math.min(g, hMetrics - 1)) / unitsPerEm;
      }
      cache.set(c, em);
      return em;
    };
  } catch {
    return null;
  }
}

/** Width of a single-line label in px at this font size (the font's own advances; CHAR_EM for unknown glyphs). */
export function textWidth(s: string, fontSize: number): number {
  if (advances === undefined) advances = loadAdvances();
  let em = 0;
  for (const ch of s) em += advances?.(ch.codePointAt(0)!) ?? CHAR_EM;
  return em * fontSize;
}

/** The string, cut with an ellipsis where it would pass maxWidth. */
function truncate(s: string, maxWidth: number, fontSize: number): string {
  if (textWidth(s, fontSize) <= maxWidth) return s;
  const chars = [...s];
  while (chars.length > 0 && textWidth(`${chars.join('').trimEnd()}…`, fontSize) > maxWidth) chars.pop();
  return `${chars.join('').trimEnd()}…`;
}

/** Decimals needed to print multiples of `step` exactly (0..4). */
function decimalsFor(step: number): number {
  for (let d = 0; d < 4; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
  }
  return 4;
}

function groupThousands(s: string): string {
  const [int, frac] = s.split('.');
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac !== undefined ? `${grouped}.${frac}` : grouped;
}

/** Formatter for the USD tick labels of one axis: '$9,500', '$12.5k', '$1.25M', '−$200'. */
function usdFormatter(ticks: readonly number[], step: number): (v: number) => string {
  const maxAbs = ticks.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // The largest unit that prints every tick with few decimals ($1.25M, $12.5k, $1,201k); else plain dollars.
  const units: [unit: number, suffix: string, from: number, maxDecimals: number][] = [
    [1e6, 'M', 1e6, 2],
    [1e3, 'k', 1e4, 1],
  ];
  const [unit, suffix] = units.find(([u, , from, max]) => maxAbs >= from && decimalsFor(step / u) <= max) ?? [1, ''];
  const decimals = decimalsFor(step / unit);
  return (v) => {
    const body = (Math.abs(v) / unit).toFixed(decimals);
    const negative = v < 0 && Number(body) !== 0;
    return `${negative ? MINUS : ''}$${groupThousands(body)}${suffix}`;
  };
}

function formatPercent(v: number, decimals: number, signed = false): string {
  const body = Math.abs(v).toFixed(decimals);
  const zero = Number(body) === 0;
  const sign = zero ? '' : v < 0 ? MINUS : signed ? '+' : '';
  return `${sign}${groupThousands(body)}%`;
}

/** A return as a fraction, printed as a signed percentage with one decimal under 1000%. */
function formatReturn(fraction: number): string {
  const pct = fraction * 100;
  return formatPercent(pct, Math.abs(pct) >= 1000 ? 0 : 1, true);
}

// ---------------------------------------------------------------------------------------------------------------
// Scales and ticks

/** The step among 1, 2, 2.5, 5 × 10^k that gives the tick count closest to target (the wider step on a tie). */
function niceStep(range: number, target: number): number {
  const goal = Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(range / goal));
  let best = mag * 10;
  for (const m of [5, 2.5, 2, 1, 0.5]) {
    const step = m * mag;
    if (Math.abs(range / step - goal) < Math.abs(range / best - goal)) best = step;
  }
  return best;
}

interface LinearAxis {
  readonly lo: number;
  readonly hi: number;
  readonly ticks: number[];
  readonly step: number;
}

/** Value domain with a little headroom, never of zero height (a flat series gets ±2% or ±$1). */
function valueAxis(min: number, max: number, targetTicks: number): LinearAxis {
  let lo = min;
  let hi = max;
  const magnitude = Math.max(Math.abs(lo), Math.abs(hi));
  if (hi - lo <= magnitude * 1e-9) {
    const pad = Math.max(magnitude * 0.02, 1);
    lo -= pad;
    hi += pad;
  } else {
    const pad = (hi - lo) * 0.07;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, targetTicks);
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { lo, hi, ticks, step };
}

/** Drawdown domain [lowest − 8%, 0], at least 1% deep so a curve that never fell still gets an axis. */
function drawdownAxis(minDd: number, targetTicks: number): LinearAxis {
  const lo = Math.min(-1, minDd * 1.08);
  const step = niceStep(-lo, targetTicks);
  const ticks: number[] = [];
  for (let v = 0; v >= lo - step * 1e-9; v -= step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { lo, hi: 0, ticks, step };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 1970-01-05 was a Monday: weekly ticks fall on Mondays */
const MONDAY_OFFSET = 4 * DAY;
const FIXED_STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY];
const MONTH_STEPS = [1, 2, 3, 6, 12, 24, 60, 120, 240, 600];

interface TimeTick {
  readonly ts: number;
  /** '14:00', 'Mar 5', 'Mar', '2024' */
  readonly primary: string;
  /** the wider context, printed under the first tick and whenever it changes: the date, or the year */
  readonly context: string;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** UTC ticks at round times, about `maxTicks` of them at most. */
function timeTicks(t0: number, t1: number, maxTicks: number): TimeTick[] {
  const span = t1 - t0;
  const target = Math.max(1, maxTicks);
  const fixed = FIXED_STEPS.find((s) => span / s <= target);
  const ticks: TimeTick[] = [];
  if (fixed !== undefined) {
    const offset = fixed === 7 * DAY || fixed === 14 * DAY ? MONDAY_OFFSET : 0;
    for (let ts = Math.ceil((t0 - offset) / fixed) * fixed + offset; ts <= t1; ts += fixed) {
      const d = new Date(ts);
      const date = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
      ticks.push(
        fixed < DAY
          ? { ts, primary: `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`, context: date }
          : { ts, primary: date, context: String(d.getUTCFullYear()) },
      );
    }
    return ticks;
  }
  const months = MONTH_STEPS.find((m) => span / (m * 30.44 * DAY) <= target) ?? MONTH_STEPS[MONTH_STEPS.length - 1]!;
  const start = new Date(t0);
  let index = start.getUTCFullYear() * 12 + start.getUTCMonth();
  if (Date.UTC(Math.floor(index / 12), index % 12, 1) < t0) index += 1;
  index = Math.ceil(index / months) * months;
  for (; ; index += months) {
    const ts = Date.UTC(Math.floor(index / 12), index % 12, 1);
    if (ts > t1) break;
    const year = String(Math.floor(index / 12));
    ticks.push(months >= 12 ? { ts, primary: year, context: '' } : { ts, primary: MONTHS[index % 12]!, context: year });
  }
  return ticks;
}

// ---------------------------------------------------------------------------------------------------------------
// SVG

interface Layout {
  readonly width: number;
  readonly height: number;
  readonly pad: number;
  readonly titleFs: number;
  readonly subtitleFs: number;
  readonly legendFs: number;
  readonly tickFs: number;
  readonly contextFs: number;
  readonly lineWidth: number;
}

function side(value: number | undefined, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(MAX_SIDE, Math.max(MIN_SIDE, Math.round(value)));
}

function layoutFor(input: EquityChartInput, variant: ChartVariant): Layout {
  const width = side(input.width, DEFAULTS[variant].width);
  const height = side(input.height, DEFAULTS[variant].height);
  const ref = DEFAULTS[variant];
  // Type sizes follow the image: a phone shows a 1000 px chart about 2.5× smaller, so these are large on purpose.
  const s = Math.max(0.5, Math.min(width / ref.width, height / ref.height)) * (variant === 'compact' ? 0.9 : 1);
  const r = (v: number) => Math.round(v * s);
  return {
    width,
    height,
    pad: r(18),
    titleFs: r(32),
    subtitleFs: r(21),
    legendFs: r(22),
    tickFs: r(20),
    contextFs: r(17),
    lineWidth: Math.max(1.5, 3 * s),
  };
}

class Svg {
  private readonly parts: string[] = [];
  add(s: string): void {
    this.parts.push(s);
  }
  text(x: number, y: number, content: string, attrs: { size: number; fill: string; anchor?: 'start' | 'middle' | 'end' }): void {
    const anchor = attrs.anchor && attrs.anchor !== 'start' ? ` text-anchor="${attrs.anchor}"` : '';
    this.add(`<text x="${n1(x)}" y="${n1(y)}" font-size="${attrs.size}" fill="${attrs.fill}"${anchor}>${escapeXml(content)}</text>`);
  }
  toString(): string {
    return this.parts.join('\n');
  }
}

/** Title, subtitle; returns the y below them. The title row is reserved even when the title is empty. */
function drawHeader(svg: Svg, input: EquityChartInput, L: Layout): number {
  const maxW = L.width - 2 * L.pad;
  let y = L.pad + L.titleFs * 0.95;
  svg.text(L.pad, y, truncate(input.title, maxW, L.titleFs), { size: L.titleFs, fill: CHART_COLORS.title });
  if (input.subtitle) {
    y += L.subtitleFs * 1.45;
    svg.text(L.pad, y, truncate(input.subtitle, maxW, L.subtitleFs), { size: L.subtitleFs, fill: CHART_COLORS.text });
  }
  return y;
}

function svgOpen(L: Layout): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" ` +
    `font-family="${CHART_FONT_FAMILY}">\n<rect x="0" y="0" width="${L.width}" height="${L.height}" fill="${CHART_COLORS.background}"/>`
  );
}

function placeholderSvg(input: EquityChartInput, L: Layout, validPoints: number): string {
  const svg = new Svg();
  svg.add(svgOpen(L));
  const top = drawHeader(svg, input, L) + L.legendFs;
  const box = { x: L.pad, y: top, w: L.width - 2 * L.pad, h: L.height - top - L.pad };
  svg.add(`<rect x="${n1(box.x)}" y="${n1(box.y)}" width="${n1(box.w)}" height="${n1(Math.max(0, box.h))}" rx="${n1(L.pad / 2)}" fill="${CHART_COLORS.placeholder}" stroke="${CHART_COLORS.grid}"/>`);
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  const big = Math.round(L.titleFs * 0.95);
  svg.text(cx, cy, 'Not enough data yet', { size: big, fill: CHART_COLORS.title, anchor: 'middle' });
  const detail =
    validPoints === 0
      ? 'No equity points recorded so far.'
      : `${validPoints} equity point so far; a chart needs at least 2.`;
  svg.text(cx, cy + big * 1.4, truncate(detail, box.w - 2 * L.pad, L.legendFs), { size: L.legendFs, fill: CHART_COLORS.text, anchor: 'middle' });
  svg.add('</svg>');
  return svg.toString();
}

interface Panel {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

function buildChartSvg(input: EquityChartInput, variant: ChartVariant): string {
  const L = layoutFor(input, variant);
  const strategyPoints = cleanSeries(input.strategy);
  if (strategyPoints.length < 2) return placeholderSvg(input, L, strategyPoints.length);

  // Benchmark rescaled to the strategy's starting equity (when both starts are positive), so the two share the axis.
  let benchmarkPoints = cleanSeries(input.benchmark);
  const base = strategyPoints[0]!.equity;
  const benchStart = benchmarkPoints[0]?.equity;
  if (benchStart !== undefined && base > 0 && benchStart > 0) {
    const k = base / benchStart;
    benchmarkPoints = benchmarkPoints.map((p) => ({ ts: p.ts, equity: p.equity * k }));
  }
  const series: Series[] = [];
  if (benchmarkPoints.length >= 2) series.push(makeSeries('benchmark', input.benchmarkLabel ?? 'Buy & hold', benchmarkPoints));
  series.push(makeSeries('strategy', input.strategyLabel ?? 'Strategy', strategyPoints));
  // Draw order: benchmark first, the strategy on top. Legend order: strategy first.
  const legendOrder = [...series].reverse();

  const svg = new Svg();
  svg.add(svgOpen(L));
  let y = drawHeader(svg, input, L);

  // Legend: swatch, name, total return.
  y += L.legendFs * 1.55;
  let lx = L.pad;
  const swatch = Math.round(L.legendFs * 1.3);
  for (const s of legendOrder) {
    const label = `${s.label} ${formatReturn(s.totalReturn)}`;
    svg.add(`<rect x="${n1(lx)}" y="${n1(y - L.legendFs * 0.42 - L.lineWidth)}" width="${swatch}" height="${n1(L.lineWidth * 2)}" rx="${n1(L.lineWidth)}" fill="${s.color}"/>`);
    svg.text(lx + swatch + L.legendFs * 0.4, y, label, { size: L.legendFs, fill: CHART_COLORS.title });
    lx += swatch + L.legendFs * 0.4 + textWidth(label, L.legendFs) + L.legendFs * 1.2;
  }

  // Vertical budget.
  const full = variant === 'full';
  const top = y + L.legendFs * 0.9;
  const bottomBand = L.tickFs * 1.5 + L.contextFs * 1.35 + L.pad * 0.6;
  const gap = full ? L.tickFs * 2.3 : 0;
  const plotsH = Math.max(40, L.height - top - bottomBand - gap);
  const eqH = full ? plotsH * 0.64 : plotsH;
  const ddH = full ? plotsH - eqH : 0;

  // Axes (computed on all the clean points: downsampling keeps the extremes anyway).
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) for (const p of s.equity) {
    if (p.equity < lo) lo = p.equity;
    if (p.equity > hi) hi = p.equity;
  }
  const eqAxis = valueAxis(lo, hi, Math.max(2, Math.round(eqH / (L.tickFs * 3.4))));
  const usd = usdFormatter(eqAxis.ticks, eqAxis.step);
  const ddAxis = full ? drawdownAxis(Math.min(...series.map((s) => s.maxDrawdown)), Math.max(2, Math.round(ddH / (L.tickFs * 2.6)))) : undefined;
  const ddDecimals = ddAxis ? decimalsFor(ddAxis.step) : 0;
  const yLabels = [...eqAxis.ticks.map(usd), ...(ddAxis ? ddAxis.ticks.map((v) => formatPercent(v, ddDecimals)) : [])];
  const labelW = Math.max(...yLabels.map((s) => textWidth(s, L.tickFs)));

  const plotX = L.pad + labelW + L.tickFs * 0.5;
  const plotW = Math.max(40, L.width - plotX - L.pad * 1.3);
  const eqPanel: Panel = { x: plotX, y: top, w: plotW, h: eqH };
  const ddPanel: Panel | undefined = full ? { x: plotX, y: top + eqH + gap, w: plotW, h: ddH } : undefined;

  // Time axis over both series.
  let t0 = Math.min(...series.map((s) => s.equity[0]!.ts));
  let t1 = Math.max(...series.map((s) => s.equity[s.equity.length - 1]!.ts));
  if (t1 <= t0) {
    t0 -= 12 * HOUR;
    t1 += 12 * HOUR;
  }
  const xOf = (ts: number) => plotX + ((ts - t0) / (t1 - t0)) * plotW;
  const buckets = Math.max(1, Math.floor(plotW));

  const drawYGrid = (panel: Panel, axis: LinearAxis, label: (v: number) => string) => {
    const yOf = (v: number) => panel.y + panel.h - ((v - axis.lo) / (axis.hi - axis.lo)) * panel.h;
    for (const v of axis.ticks) {
      const gy = yOf(v);
      svg.add(`<line x1="${n1(panel.x)}" y1="${n1(gy)}" x2="${n1(panel.x + panel.w)}" y2="${n1(gy)}" stroke="${CHART_COLORS.grid}" stroke-width="1"/>`);
      svg.text(panel.x - L.tickFs * 0.5, gy + L.tickFs * 0.36, label(v), { size: L.tickFs, fill: CHART_COLORS.text, anchor: 'end' });
    }
    return yOf;
  };

  // Vertical grid at the time ticks, then the labels under the lowest panel.
  const primaryW = textWidth('Mar 25', L.tickFs);
  const ticks = timeTicks(t0, t1, Math.max(2, Math.floor(plotW / (primaryW * 1.6))));
  const lowest = ddPanel ?? eqPanel;
  for (const panel of [eqPanel, ddPanel]) {
    if (!panel) continue;
    for (const t of ticks) {
      const gx = xOf(t.ts);
      svg.add(`<line x1="${n1(gx)}" y1="${n1(panel.y)}" x2="${n1(gx)}" y2="${n1(panel.y + panel.h)}" stroke="${CHART_COLORS.grid}" stroke-width="1"/>`);
    }
  }
  const primaryY = lowest.y + lowest.h + L.tickFs * 1.3;
  const contextY = primaryY + L.contextFs * 1.3;
  const utcNote = 'UTC';
  const utcLeft = L.width - L.pad - textWidth(utcNote, L.contextFs);
  svg.text(L.width - L.pad, contextY, utcNote, { size: L.contextFs, fill: CHART_COLORS.text, anchor: 'end' });
  let lastRight = -Infinity;
  let lastContext = '';
  let lastContextRight = -Infinity;
  for (const t of ticks) {
    const gx = xOf(t.ts);
    const w = textWidth(t.primary, L.tickFs);
    if (gx - w / 2 < lastRight + L.tickFs * 0.6 || gx - w / 2 < 0 || gx + w / 2 > L.width) continue;
    svg.text(gx, primaryY, t.primary, { size: L.tickFs, fill: CHART_COLORS.text, anchor: 'middle' });
    lastRight = gx + w / 2;
    if (t.context && t.context !== lastContext) {
      const cw = textWidth(t.context, L.contextFs);
      const cx = Math.max(cw / 2 + 2, gx);
      if (cx - cw / 2 > lastContextRight + L.contextFs && cx + cw / 2 < utcLeft - L.contextFs * 0.6) {
        svg.text(cx, contextY, t.context, { size: L.contextFs, fill: CHART_COLORS.text, anchor: 'middle' });
        lastContext = t.context;
        lastContextRight = cx + cw / 2;
      }
    }
  }

  // Equity panel.
  const eqY = drawYGrid(eqPanel, eqAxis, usd);
  svg.add(`<defs><clipPath id="clip-equity"><rect x="${n1(eqPanel.x)}" y="${n1(eqPanel.y)}" width="${n1(eqPanel.w)}" height="${n1(eqPanel.h)}"/></clipPath>`);
  if (ddPanel) svg.add(`<clipPath id="clip-drawdown"><rect x="${n1(ddPanel.x)}" y="${n1(ddPanel.y)}" width="${n1(ddPanel.w)}" height="${n1(ddPanel.h)}"/></clipPath>`);
  svg.add('</defs>');
  // Where both curves started: a dashed reference line.
  const baseY = eqY(base);
  svg.add(`<line x1="${n1(eqPanel.x)}" y1="${n1(baseY)}" x2="${n1(eqPanel.x + eqPanel.w)}" y2="${n1(baseY)}" stroke="${CHART_COLORS.axis}" stroke-width="1.5" stroke-dasharray="6 5"/>`);
  const pathOf = (pts: readonly ChartPoint[], yOf: (v: number) => number) =>
    pts.map((p, i) => `${i === 0 ? 'M' : i === 1 ? 'L' : ''}${n1(xOf(p.ts))},${n1(yOf(p.equity))}`).join(' ');
  svg.add('<g clip-path="url(#clip-equity)" fill="none" stroke-linejoin="round" stroke-linecap="round">');
  for (const s of series) {
    const pts = downsampleMinMax(s.equity, buckets, t0, t1);
    const w = s.key === 'strategy' ? L.lineWidth : L.lineWidth * 0.8;
    svg.add(`<path data-series="equity:${s.key}" d="${pathOf(pts, eqY)}" stroke="${s.color}" stroke-width="${n1(w)}"/>`);
  }
  svg.add('</g>');
  svg.add(`<line x1="${n1(eqPanel.x)}" y1="${n1(eqPanel.y + eqPanel.h)}" x2="${n1(eqPanel.x + eqPanel.w)}" y2="${n1(eqPanel.y + eqPanel.h)}" stroke="${CHART_COLORS.axis}" stroke-width="1.5"/>`);

  // Drawdown panel: header in the gap, filled areas under the zero line.
  if (ddPanel && ddAxis) {
    const headY = ddPanel.y - L.tickFs * 0.75;
    svg.text(L.pad, headY, 'Drawdown', { size: L.tickFs, fill: CHART_COLORS.title });
    const parts = legendOrder.map(
      (s, i) => `${i > 0 ? `<tspan fill="${CHART_COLORS.text}"> / </tspan>` : ''}<tspan fill="${s.color}">${escapeXml(formatPercent(s.maxDrawdown, 1))}</tspan>`,
    );
    svg.add(`<text x="${n1(ddPanel.x + ddPanel.w)}" y="${n1(headY)}" font-size="${L.tickFs}" text-anchor="end"><tspan fill="${CHART_COLORS.text}">max </tspan>${parts.join('')}</text>`);
    const ddY = drawYGrid(ddPanel, ddAxis, (v) => formatPercent(v, ddDecimals));
    const zeroY = ddY(0);
    svg.add('<g clip-path="url(#clip-drawdown)" stroke-linejoin="round">');
    for (const s of series) {
      const pts = downsampleMinMax(s.drawdown, buckets, t0, t1);
      const line = pathOf(pts, ddY);
      const first = pts[0]!;
      const last = pts[pts.length - 1]!;
      svg.add(`<path d="${line} L${n1(xOf(last.ts))},${n1(zeroY)} ${n1(xOf(first.ts))},${n1(zeroY)} Z" fill="${s.color}" fill-opacity="${s.key === 'strategy' ? 0.26 : 0.16}" stroke="none"/>`);
      svg.add(`<path data-series="drawdown:${s.key}" d="${line}" fill="none" stroke="${s.color}" stroke-width="${n1(L.lineWidth * 0.7)}"/>`);
    }
    svg.add('</g>');
    svg.add(`<line x1="${n1(ddPanel.x)}" y1="${n1(zeroY)}" x2="${n1(ddPanel.x + ddPanel.w)}" y2="${n1(zeroY)}" stroke="${CHART_COLORS.axis}" stroke-width="1.5"/>`);
  }

  svg.add('</svg>');
  return svg.toString();
}
