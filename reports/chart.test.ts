/**
 * Charts: the PNGs are decoded and their pixels checked (size, not blank, both series' colours, text really drawn),
 * and the SVG is checked for the data handling (non-finite points skipped, downsampling bound, benchmark rescaling).
 */
import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { Resvg } from '@resvg/resvg-js';
import {
  CHART_COLORS,
  downsampleMinMax,
  equityChartSvg,
  renderEquityChart,
  renderSmallChart,
  smallChartSvg,
  svgSeriesPointCounts,
  svgToPng,
  textWidth,
  type ChartPoint,
} from './chart.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

// Thresholds, measured on the charts below with margin (a blank or text-less image is far under each of them).
/** distinct RGBA values: anti-aliased lines and text give hundreds; a blank image has 1 */
const MIN_DISTINCT_COLOURS = 100;
/** standard deviation of luma (0..255) over the image; a blank image has 0 */
const MIN_LUMA_STDEV = 10;
/** pixels within MAX_COLOUR_DISTANCE of a series colour; a 3 px line across a 1000 px chart gives thousands */
const MIN_SERIES_PIXELS = 500;
/** sum of absolute RGB differences that still counts as "the series colour" (anti-aliasing edges excluded) */
const MAX_COLOUR_DISTANCE = 40;
/** pixels that must change in the title band when the title is drawn: a 17-character title at 32 px covers far more */
const MIN_TITLE_PIXELS = 400;

function decode(buf: Buffer): PNG {
  return PNG.sync.read(buf);
}

function rgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function countNear(png: PNG, hex: string, tolerance = MAX_COLOUR_DISTANCE): number {
  const [r, g, b] = rgb(hex);
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const d = Math.abs(png.data[i]! - r) + Math.abs(png.data[i + 1]! - g) + Math.abs(png.data[i + 2]! - b);
    if (d <= tolerance && png.data[i + 3] === 255) n++;
  }
  return n;
}

function distinctColours(png: PNG): number {
  const seen = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) seen.add(png.data.readUInt32BE(i));
  return seen.size;
}

function lumaStdev(png: PNG): number {
  let sum = 0;
  let sq = 0;
  const n = png.width * png.height;
  for (let i = 0; i < png.data.length; i += 4) {
    const y = 0.2126 * png.data[i]! + 0.7152 * png.data[i + 1]! + 0.0722 * png.data[i + 2]!;
    sum += y;
    sq += y * y;
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}

/** pixels whose RGB differ by more than 30 (sum) between two same-size images, inside / outside rows [y0, y1) */
function diffPixels(a: PNG, b: PNG, y0: number, y1: number): { inside: number; outside: number } {
  let inside = 0;
  let outside = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 4;
      const d = Math.abs(a.data[i]! - b.data[i]!) + Math.abs(a.data[i + 1]! - b.data[i + 1]!) + Math.abs(a.data[i + 2]! - b.data[i + 2]!);
      if (d > 30) {
        if (y >= y0 && y < y1) inside++;
        else outside++;
      }
    }
  }
  return { inside, outside };
}

function expectNotBlank(png: PNG): void {
  expect(distinctColours(png)).toBeGreaterThan(MIN_DISTINCT_COLOURS);
  expect(lumaStdev(png)).toBeGreaterThan(MIN_LUMA_STDEV);
}

/** deterministic curves: a strategy around $10k and a buy-and-hold price around $42k, hourly */
function curves(n: number): { strategy: ChartPoint[]; benchmark: ChartPoint[] } {
  const strategy: ChartPoint[] = [];
  const benchmark: ChartPoint[] = [];
  for (let i = 0; i < n; i++) {
    const ts = T0 + i * HOUR;
    strategy.push({ ts, equity: 10_000 * (1 + 0.08 * Math.sin(i / 40) + i / (n * 5)) });
    benchmark.push({ ts, equity: 42_000 * (1 - 0.25 * Math.sin(i / 60)) });
  }
  return { strategy, benchmark };
}

/** first vertex of a data line in the SVG */
function firstVertex(svg: string, series: string): [number, number] {
  const m = new RegExp(`data-series="${series}" d="M(-?[\\d.]+),(-?[\\d.]+)`).exec(svg);
  if (!m) throw new Error(`no line ${series}`);
  return [Number(m[1]), Number(m[2])];
}

describe('renderEquityChart', () => {
  const { strategy, benchmark } = curves(24 * 60);

  it('decodes as a PNG of the default phone size (1000×700), not blank, with both series colours', () => {
    const png = decode(renderEquityChart({ title: 'Weekly digest', subtitle: 'paper · hourly', strategy, benchmark }));
    expect([png.width, png.height]).toEqual([1000, 700]);
    expectNotBlank(png);
    expect(countNear(png, CHART_COLORS.strategy)).toBeGreaterThan(MIN_SERIES_PIXELS);
    expect(countNear(png, CHART_COLORS.benchmark)).toBeGreaterThan(MIN_SERIES_PIXELS);
  });

  it('honours the requested width and height', () => {
    const png = decode(renderEquityChart({ title: 'Big', strategy, benchmark, width: 1200, height: 900 }));
    expect([png.width, png.height]).toEqual([1200, 900]);
    expectNotBlank(png);
    const small = decode(renderEquityChart({ title: 'Small', strategy, width: 640, height: 480 }));
    expect([small.width, small.height]).toEqual([640, 480]);
  });

  it('draws two panels (equity and drawdown) for each series; without a benchmark only the strategy', () => {
    expect(Object.keys(svgSeriesPointCounts(equityChartSvg({ title: 't', strategy, benchmark }))).sort()).toEqual([
      'drawdown:benchmark',
      'drawdown:strategy',
      'equity:benchmark',
      'equity:strategy',
    ]);
    const svg = equityChartSvg({ title: 't', strategy });
    expect(Object.keys(svgSeriesPointCounts(svg)).sort()).toEqual(['drawdown:strategy', 'equity:strategy']);
    expect(countNear(decode(svgToPng(svg)), CHART_COLORS.benchmark)).toBeLessThan(20);
  });

  it('rescales buy-and-hold to start at the strategy equity: both lines start at the same height', () => {
    const svg = equityChartSvg({ title: 't', strategy, benchmark });
    expect(firstVertex(svg, 'equity:benchmark')).toEqual(firstVertex(svg, 'equity:strategy'));
    // $42k buy-and-hold on a $10k account: no tick anywhere near $42k
    expect(svg).not.toMatch(/\$4\d(\.\d)?k</);
  });

  it('draws the text: a title changes the title band and nothing else (a missing font would change nothing)', () => {
    const withTitle = decode(renderEquityChart({ title: 'Weekly digest BTC', strategy, benchmark }));
    const without = decode(renderEquityChart({ title: '', strategy, benchmark }));
    const { inside, outside } = diffPixels(withTitle, without, 0, 60);
    expect(inside).toBeGreaterThan(MIN_TITLE_PIXELS);
    expect(outside).toBe(0);
  });

  it('escapes markup in the title', () => {
    const svg = equityChartSvg({ title: 'P&L <today> "x"', strategy });
    expect(svg).toContain('P&amp;L &lt;today&gt; &quot;x&quot;');
    expect(decode(svgToPng(svg)).width).toBe(1000);
  });
});

describe('edge cases', () => {
  it.each([
    ['an empty series', [] as ChartPoint[], 'No equity points'],
    ['a single point', [{ ts: T0, equity: 10_000 }], '1 equity point'],
    ['only non-finite points', [{ ts: T0, equity: Number.NaN }, { ts: Number.NaN, equity: 1 }, { ts: T0 + HOUR, equity: Infinity }], 'No equity points'],
  ])('%s: a "not enough data yet" chart of the requested size instead of an error', (_name, points, detail) => {
    const svg = equityChartSvg({ title: 'Daily digest', strategy: points, benchmark: curves(10).benchmark });
    expect(svg).toContain('Not enough data yet');
    expect(svg).toContain(detail);
    const png = decode(renderEquityChart({ title: 'Daily digest', strategy: points }));
    expect([png.width, png.height]).toEqual([1000, 700]);
    expectNotBlank(png);
    const small = decode(renderSmallChart({ title: 'Stats', strategy: points }));
    expect([small.width, small.height]).toEqual([800, 400]);
  });

  it('a flat series gets a non-zero y range and a visible line', () => {
    const flat = Array.from({ length: 48 }, (_, i) => ({ ts: T0 + i * HOUR, equity: 10_000 }));
    const svg = equityChartSvg({ title: 'Flat', strategy: flat });
    expect(svg).not.toMatch(/NaN|Infinity/);
    const png = decode(svgToPng(svg));
    expect(countNear(png, CHART_COLORS.strategy)).toBeGreaterThan(MIN_SERIES_PIXELS);
    // the line sits inside the panel, not on its edge: $10k is a tick with ticks above and below it
    expect(svg).toMatch(/>\$10(,000|k|\.0k)</);
    expect(svg).toMatch(/>\$9[,.]\d+k?</);
  });

  it('points that all share one timestamp still render', () => {
    const svg = equityChartSvg({ title: 'Same ts', strategy: [{ ts: T0, equity: 100 }, { ts: T0, equity: 120 }] });
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svgSeriesPointCounts(svg)['equity:strategy']).toBe(2);
  });

  it('skips NaN and ±Infinity points and sorts unsorted input', () => {
    const { strategy, benchmark } = curves(200);
    const dirty = strategy.map((p, i) =>
      i % 10 === 3 ? { ts: p.ts, equity: Number.NaN } : i % 10 === 7 ? { ts: p.ts, equity: i % 20 === 7 ? Infinity : -Infinity } : p,
    );
    dirty.push({ ts: Number.NaN, equity: 10_000 });
    const finite = dirty.filter((p) => Number.isFinite(p.ts) && Number.isFinite(p.equity)).length;
    expect(finite).toBe(160);
    const svg = equityChartSvg({ title: 'Dirty', strategy: dirty, benchmark });
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svgSeriesPointCounts(svg)['equity:strategy']).toBe(finite);
    expect(equityChartSvg({ title: 'Dirty', strategy: [...dirty].reverse(), benchmark: [...benchmark].reverse() })).toBe(svg);
    const png = decode(svgToPng(svg));
    expect(countNear(png, CHART_COLORS.strategy)).toBeGreaterThan(MIN_SERIES_PIXELS);
  });

  it('50,000 points: at most 2 points per horizontal pixel per line, and the PNG still decodes', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => ({ ts: T0 + i * 5 * 60_000, equity: 1e6 + 2e5 * Math.sin(i / 3000) }));
    const bench = many.map((p, i) => ({ ts: p.ts, equity: 30_000 + (i % 977) }));
    for (const [width, svg] of [
      [1000, equityChartSvg({ title: 'Many', strategy: many, benchmark: bench })],
      [800, smallChartSvg({ title: 'Many', strategy: many, benchmark: bench })],
      [600, equityChartSvg({ title: 'Many', strategy: many, width: 600, height: 500 })],
    ] as const) {
      const counts = svgSeriesPointCounts(svg);
      expect(Object.keys(counts).length).toBeGreaterThan(0);
      for (const n of Object.values(counts)) {
        expect(n).toBeLessThanOrEqual(2 * width);
        expect(n).toBeGreaterThan(width / 2);
      }
    }
    const png = decode(renderEquityChart({ title: 'Many', strategy: many, benchmark: bench }));
    expect([png.width, png.height]).toEqual([1000, 700]);
    expect(countNear(png, CHART_COLORS.strategy)).toBeGreaterThan(MIN_SERIES_PIXELS);
  });
});

describe('downsampleMinMax', () => {
  const series = Array.from({ length: 50_000 }, (_, i) => ({ ts: i, equity: Math.sin(i / 500) + (i === 25_001 ? 50 : 0) - (i === 40_000 ? 30 : 0) }));

  it('keeps at most 2 points per bucket, in time order, including every spike', () => {
    const out = downsampleMinMax(series, 800);
    expect(out.length).toBeLessThanOrEqual(1600);
    expect(out.length).toBeGreaterThan(800);
    for (let i = 1; i < out.length; i++) expect(out[i]!.ts).toBeGreaterThan(out[i - 1]!.ts);
    expect(out).toContainEqual({ ts: 25_001, equity: series[25_001]!.equity });
    expect(out).toContainEqual({ ts: 40_000, equity: series[40_000]!.equity });
    expect(Math.max(...out.map((p) => p.equity))).toBe(Math.max(...series.map((p) => p.equity)));
    expect(Math.min(...out.map((p) => p.equity))).toBe(Math.min(...series.map((p) => p.equity)));
  });

  it('returns a series that already fits unchanged', () => {
    const few = series.slice(0, 100);
    expect(downsampleMinMax(few, 50)).toEqual(few);
    expect(downsampleMinMax([], 10)).toEqual([]);
  });
});

describe('renderSmallChart (/stats)', () => {
  const { strategy, benchmark } = curves(24 * 30);

  it('is 800×400 by default, equity panel only, with both colours', () => {
    const svg = smallChartSvg({ title: 'Stats', strategy, benchmark });
    expect(Object.keys(svgSeriesPointCounts(svg)).sort()).toEqual(['equity:benchmark', 'equity:strategy']);
    expect(svg).not.toContain('Drawdown');
    const png = decode(renderSmallChart({ title: 'Stats', strategy, benchmark }));
    expect([png.width, png.height]).toEqual([800, 400]);
    expectNotBlank(png);
    expect(countNear(png, CHART_COLORS.strategy)).toBeGreaterThan(MIN_SERIES_PIXELS / 2);
    expect(countNear(png, CHART_COLORS.benchmark)).toBeGreaterThan(MIN_SERIES_PIXELS / 2);
  });

  it('honours the requested size', () => {
    const png = decode(renderSmallChart({ title: 'Stats', strategy, width: 640, height: 360 }));
    expect([png.width, png.height]).toEqual([640, 360]);
  });
});

describe('fonts', () => {
  const textOnly =
    '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="60"><rect width="300" height="60" fill="#fff"/>' +
    '<text x="10" y="40" font-size="30" font-family="DejaVu Sans" fill="#000">Equity $10k</text></svg>';
  const darkPixels = (png: PNG) => countNear(png, '#000000', 120);

  it('resvg without a font file draws no text at all: the check above would catch a missing font', () => {
    const bare = new Resvg(textOnly, { font: { loadSystemFonts: false } }).render().asPng();
    expect(darkPixels(decode(bare))).toBe(0);
  });

  it('svgToPng draws text with the bundled DejaVu Sans whatever fonts the machine has', () => {
    expect(darkPixels(decode(svgToPng(textOnly)))).toBeGreaterThan(300);
  });

  it('measures labels with the font’s own advance widths', () => {
    // DejaVu Sans: digits advance 1303/2048 em, 'i' 569/2048 em, 'M' 1767/2048 em
    expect(textWidth('0', 2048)).toBeCloseTo(1303, 6);
    expect(textWidth('i', 2048)).toBeCloseTo(569, 6);
    expect(textWidth('M', 2048)).toBeCloseTo(1767, 6);
  });
});
