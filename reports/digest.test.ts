/** The daily digest and the weekly report over a test journal: numbers checked against the rows they come from. */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/store/database.js';
import { buildDigest, buildWeeklyReport, type JudgedCall } from './digest.js';
import { computeMetrics } from './performance.js';
import { statsFor, statsSnapshot } from './stats.js';
import { buildJournal, closeOf, EVIDENCE, H, T0, type Journal } from './journal-fixture.test.js';

const dbs: Db[] = [];
const fresh = () => {
  const db = openDatabase(':memory:');
  dbs.push(db);
  return db;
};
afterEach(() => {
  while (dbs.length) dbs.pop()!.close();
});

const round2 = (x: number) => Number(x.toFixed(2));

/** The expected best and worst call, recomputed from the fixture: entry at the call bar's close, exit at the horizon bar or the end. */
function expectedCalls(j: Journal, from: number, to: number, horizonMs: number) {
  const lastIndex = (j.bars.at(-1)!.ts - T0) / H;
  const calls = j.decisions
    .filter((d) => d.ts > from && d.ts <= to && (d.signal.direction === 'up' || d.signal.direction === 'down') && d.ts !== to)
    .map((d) => {
      const i = (d.ts - T0) / H;
      const exitIndex = i + horizonMs / H <= lastIndex ? i + horizonMs / H : (to - T0) / H;
      const move = closeOf(d.symbol, exitIndex) / closeOf(d.symbol, i) - 1;
      return { ts: d.ts, symbol: d.symbol, direction: d.signal.direction, favourable: d.signal.direction === 'up' ? move : -move, evidence: String(d.signal.evidence) };
    });
  const best = calls.reduce((a, b) => (b.favourable > a.favourable ? b : a));
  const worst = calls.reduce((a, b) => (b.favourable <= a.favourable ? b : a));
  return { calls, best, worst };
}

describe('buildDigest', () => {
  it('day, week and since start: the numbers of computeMetrics on the same rows, each against buy-and-hold', () => {
    const db = fresh();
    const j = buildJournal(db);
    const d = buildDigest(db);
    const rows = db.prepare('SELECT ts, equity, exposure FROM equity_snapshots ORDER BY ts').all() as Array<{ ts: number; equity: number; exposure: number }>;
    const fills = db.prepare('SELECT ts, side, qty, price, fee, realized_pnl AS realizedPnl FROM fills ORDER BY id').all() as Array<{ ts: number; side: 'buy' | 'sell'; qty: number; price: number; fee: number; realizedPnl: number }>;
    for (const [snap, from] of [
      [d.numbers.day, j.lastTs - 24 * H],
      [d.numbers.week, T0],
      [d.numbers.sinceStart, T0],
    ] as const) {
      const curve = rows.filter((r) => r.ts >= from);
      const m = computeMetrics({ curve, initialEquity: curve[0]!.equity, finalEquity: curve.at(-1)!.equity, trades: fills.filter((f) => f.ts > from) });
      expect(snap.returnPct).toBe(round2(m.totalReturn * 100));
      expect(snap.sharpe).toBe(round2(m.sharpe));
      expect(snap.sortino).toBe(round2(m.sortino));
      expect(snap.maxDrawdownPct).toBe(round2(m.maxDrawdown * 100));
      expect(snap.winRatePct).toBe(m.winRate === null ? null : round2(m.winRate * 100));
      expect(snap.profitFactor).toBe(m.profitFactor === null ? null : round2(m.profitFactor));
      expect(snap.exposurePct).toBe(round2(m.exposure * 100));
      expect(snap.feesUsd).toBe(round2(m.feesPaid));
      expect(snap.trades).toBe(m.tradeCount);
      expect(snap.pnlUsd).toBe(round2(curve.at(-1)!.equity - curve[0]!.equity));
    }
    expect(d.numbers.day).toEqual(statsSnapshot(statsFor(db, '1d')));
    expect(d.numbers.day.buyHoldReturnPct).toBe(round2(statsFor(db, '1d').benchmark!.metrics.totalReturn * 100));
    const text = d.text.split('\n');
    expect(text[0]).toBe('Daily digest 2024-03-05 (UTC)');
    const day = d.numbers.day;
    expect(d.text).toContain(`  24 h ${day.pnlUsd! < 0 ? '-' : ''}$${Math.abs(day.pnlUsd!).toFixed(2)} ${day.returnPct! >= 0 ? '+' : ''}${day.returnPct!.toFixed(2)}% · b&h ${day.buyHoldReturnPct! >= 0 ? '+' : ''}${day.buyHoldReturnPct!.toFixed(2)}%`);
    expect(d.text).toContain('  7 days (4d) ');
    expect(d.text).not.toMatch(/NaN|undefined|Infinity|null/);
    // the chart: the week's curves, strategy and buy-and-hold on the same timestamps
    expect(d.chart.strategy).toEqual(statsFor(db, '7d').curves.strategy);
    expect(d.chart.benchmark.map((p) => p.ts)).toEqual(d.chart.strategy.map((p) => p.ts));
  });

  it('the day’s trades, risk events by kind, positions valued at the last close', () => {
    const db = fresh();
    const j = buildJournal(db);
    const d = buildDigest(db);
    const from = j.lastTs - 24 * H;
    const dayFills = j.fills.filter((f) => f.ts > from && f.ts <= j.lastTs);
    expect(d.numbers.trades.map((t) => [t.ts, t.symbol, t.side])).toEqual(dayFills.map((f) => [f.ts, f.symbol, f.side]));
    expect(d.numbers.tradeFeesUsd).toBeCloseTo(dayFills.reduce((s, f) => s + f.fee, 0), 9);
    expect(d.numbers.realizedPnlUsd).toBeCloseTo(dayFills.filter((f) => f.side === 'sell').reduce((s, f) => s + f.realizedPnl, 0), 9);
    expect(d.text).toContain(`Trades today (${dayFills.length})`);
    // risk events: four in the last day (the one on day one is left out)
    expect(d.numbers.riskEventsByKind).toEqual({ denied: 1, resized: 1, protection: 1, 'state-change': 1 });
    expect(d.numbers.riskEvents.map((e) => e.ts)).toEqual([T0 + 73 * H, T0 + 73 * H, T0 + 85 * H, T0 + 88 * H]);
    expect(d.text).toContain('  denied 1 · resized 1 · protection 1 · state-change 1');
    expect(d.text).toContain('  16:00 state-change: daily loss limit hit: paused until the next UTC day');
    // positions: the table's BTC/USD, at the last close
    const pos = db.prepare('SELECT qty, avg_cost FROM positions').get() as { qty: number; avg_cost: number };
    const last = closeOf('BTC/USD', 95);
    expect(d.numbers.positions).toEqual([{ symbol: 'BTC/USD', qty: pos.qty, avgCost: pos.avg_cost, price: last, valueUsd: pos.qty * last, unrealizedPnlUsd: (last - pos.avg_cost) * pos.qty }]);
    expect(d.numbers.equityUsd).toBe((db.prepare('SELECT equity FROM equity_snapshots ORDER BY ts DESC LIMIT 1').get() as { equity: number }).equity);
    // the caller's live positions win over the table
    const live = buildDigest(db, { positions: [{ symbol: 'ETH/USD', qty: 2, avgCost: 2_000, price: 2_100, value: 4_200, unrealizedPnl: 200 }] });
    expect(live.numbers.positions).toEqual([{ symbol: 'ETH/USD', qty: 2, avgCost: 2_000, price: 2_100, valueUsd: 4_200, unrealizedPnlUsd: 200 }]);
    expect(live.text).toContain('  ETH/USD 2 · $4,200.00 · P&L $200.00');
  });

  it('best and worst calls of the day by the move since the call, with their evidence lines verbatim and number-free', () => {
    const db = fresh();
    const j = buildJournal(db);
    const d = buildDigest(db);
    const want = expectedCalls(j, j.lastTs - 24 * H, j.lastTs, 72 * H);
    expect(d.numbers.calls).toBe(want.calls.length);
    const check = (got: JudgedCall | null, exp: (typeof want)['best']) => {
      expect(got).not.toBeNull();
      expect([got!.ts, got!.symbol, got!.direction]).toEqual([exp.ts, exp.symbol, exp.direction]);
      expect(got!.favourable).toBeCloseTo(exp.favourable, 12);
      expect(got!.atHorizon).toBe(false); // the horizon of today's calls has not passed
      expect(got!.evidence.join('; ')).toBe(exp.evidence);
    };
    check(d.numbers.bestCall, want.best);
    check(d.numbers.worstCall, want.worst);
    expect(d.numbers.bestCall!.favourable).toBeGreaterThan(d.numbers.worstCall!.favourable);
    // in the text: every evidence line is a bullet, copied verbatim and without a digit
    const bullets = d.text.split('\n').filter((l) => l.startsWith('  • ')).map((l) => l.slice(4));
    expect(bullets).toEqual([...d.numbers.bestCall!.evidence, ...d.numbers.worstCall!.evidence]);
    for (const line of bullets) {
      expect(line).not.toMatch(/\d/);
      expect(Object.values(EVIDENCE).some((e) => e.includes(line))).toBe(true);
    }
    expect(d.text).toContain(`Best call: ${want.best.symbol} ${want.best.direction} at `);
  });

  it('judges a call at the horizon when the bar exists (a digest for an earlier nowTs)', () => {
    const db = fresh();
    const j = buildJournal(db);
    const end = T0 + 47 * H;
    const d = buildDigest(db, { nowTs: end + 59 * 60_000, horizonHours: 24 });
    expect(d.text.split('\n')[0]).toBe('Daily digest 2024-03-03 (UTC)');
    const want = expectedCalls(j, end - 24 * H, end, 24 * H);
    expect(d.numbers.bestCall!.ts).toBe(want.best.ts);
    expect(d.numbers.bestCall!.atHorizon).toBe(true);
    expect(d.numbers.bestCall!.exitTs).toBe(want.best.ts + 24 * H);
    expect(d.numbers.bestCall!.favourable).toBeCloseTo(want.best.favourable, 12);
    expect(d.numbers.worstCall!.ts).toBe(want.worst.ts);
    expect(d.text).toContain('% at 24h');
    // the rest stops at nowTs: nothing from later bars
    expect(d.numbers.trades.every((t) => t.ts <= end)).toBe(true);
    expect(d.numbers.day.returnPct).toBe(statsSnapshot(statsFor(db, '1d', { nowTs: end })).returnPct);
  });

  it('regime: the latest decision’s labels per symbol', () => {
    const db = fresh();
    const j = buildJournal(db);
    const d = buildDigest(db);
    const latest = (s: string) => j.decisions.filter((x) => x.symbol === s).at(-1)!.signal;
    expect(d.numbers.regimes).toEqual(
      ['BTC/USD', 'ETH/USD'].map((symbol) => ({ symbol, volatility: latest(symbol).volatility, trend: latest(symbol).trend, momentum: latest(symbol).momentum })),
    );
    const r = latest('BTC/USD');
    expect(d.text).toContain(`  BTC/USD vol ${r.volatility} · trend ${r.trend} · mom ${r.momentum}`);
  });

  it('a strategy without calls or regime labels: "no calls" and n/a', () => {
    const db = fresh();
    const insert = db.prepare("INSERT INTO decisions (ts, symbol, strategy, features, signal, intent, verdict, reason) VALUES (?, ?, 'buyhold', '{}', ?, NULL, 'none', NULL)");
    for (let i = 0; i < 3; i++) {
      db.prepare('INSERT INTO equity_snapshots (ts, equity, cash, exposure) VALUES (?, ?, ?, ?)').run(T0 + i * H, 1_000 + i, 0, 1_000 + i);
      insert.run(T0 + i * H, 'BTC/USD', JSON.stringify({ phase: 'hold', waitingForSells: false }));
    }
    const d = buildDigest(db, { health: 'telegram ok, 0 queued' });
    expect(d.text).toContain('Calls: no calls (strategy buyhold makes none)');
    expect(d.text).toContain('  BTC/USD n/a');
    expect(d.text).toContain('Positions: none');
    expect(d.text).toContain('Trades today: none');
    expect(d.text).toContain('Risk events today: none');
    expect(d.text.split('\n').at(-1)).toBe('Health: telegram ok, 0 queued');
    expect(d.text).toContain('  24 h (2h) $2.00 +0.20% · b&h n/a'); // no bars: no benchmark
    expect(d.numbers.bestCall).toBeNull();
    expect(d.numbers.regimes).toEqual([{ symbol: 'BTC/USD', volatility: 'n/a', trend: 'n/a', momentum: 'n/a' }]);
  });

  it('empty journal: a clear "no data yet" digest', () => {
    const db = fresh();
    const d = buildDigest(db, { health: 'ok' });
    expect(d.text).toBe(['Daily digest (UTC)', 'No data yet: the journal has no equity snapshots.', 'Start the agent and let it see a few bars.', 'Health: ok'].join('\n'));
    expect(d.chart).toEqual({ strategy: [], benchmark: [] });
    expect(d.numbers.day.note).toBe('no data yet');
    expect(d.numbers.day.returnPct).toBeNull();
    expect(buildDigest(db, { nowTs: Date.UTC(2024, 2, 5, 12) }).text.split('\n')[0]).toBe('Daily digest 2024-03-05 (UTC)');
    // one snapshot: the digest exists, the periods say there is not enough data
    db.prepare('INSERT INTO equity_snapshots (ts, equity, cash, exposure) VALUES (?, ?, ?, ?)').run(T0, 10_000, 10_000, 0);
    const one = buildDigest(db);
    expect(one.text).toContain('  24 h: not enough data');
    expect(one.text).not.toMatch(/NaN|undefined/);
  });

  it('short lines for a phone (evidence bullets aside, which are copied as is)', () => {
    const db = fresh();
    buildJournal(db);
    for (const line of buildDigest(db).text.split('\n')) if (!line.startsWith('  • ')) expect(line.length).toBeLessThanOrEqual(80);
  });
});

describe('buildWeeklyReport', () => {
  it('realized P&L by symbol, by confidence tier and by volatility regime at entry', () => {
    const db = fresh();
    const j = buildJournal(db);
    const w = buildWeeklyReport(db);
    const sells = j.fills.filter((f) => f.side === 'sell');
    const a = w.numbers.attribution!;
    expect(a.totalRealizedUsd).toBeCloseTo(sells.reduce((s, f) => s + f.realizedPnl, 0), 9);
    const sum = (pred: (f: (typeof sells)[number]) => boolean) => sells.filter(pred).reduce((s, f) => s + f.realizedPnl, 0);
    expect(a.bySymbol.map((b) => [b.key, b.sells])).toEqual([
      ['BTC/USD', 1],
      ['ETH/USD', 3],
    ]);
    expect(a.bySymbol[1]!.realizedUsd).toBeCloseTo(sum((f) => f.symbol === 'ETH/USD'), 9);
    // entries: BTC at bar 10 (confidence 0.62, high), ETH at 50 (0.57, low; two sells), ETH at 90 (0.58, extreme)
    const at = (i: number) => T0 + i * H;
    expect(a.sells.map((s) => [s.ts, s.openTs, s.tier, s.regime])).toEqual([
      [at(30), at(10), '≥0.60', 'high'],
      [at(74), at(50), '0.55–0.60', 'low'],
      [at(80), at(50), '0.55–0.60', 'low'],
      [at(93), at(90), '0.55–0.60', 'extreme'],
    ]);
    expect(a.byTier.map((b) => b.key)).toEqual(['0.55–0.60', '≥0.60']);
    expect(a.byTier[0]!.realizedUsd).toBeCloseTo(sum((f) => f.symbol === 'ETH/USD'), 9);
    expect(a.byRegime.map((b) => b.key)).toEqual(['low', 'high', 'extreme']);
    expect(w.text.split('\n')[0]).toBe('Weekly report 2024-03-02 → 2024-03-05 (UTC)');
    expect(w.text).toContain('By tier (signal at entry):');
    expect(w.text).toContain('By regime (volatility at entry):');
    expect(w.numbers.week).toEqual(statsSnapshot(statsFor(db, '7d')));
  });

  it('an earlier week leaves later sells out; an empty journal says so', () => {
    const db = fresh();
    buildJournal(db);
    const w = buildWeeklyReport(db, { nowTs: T0 + 40 * H });
    expect(w.numbers.attribution!.sells.map((s) => s.ts)).toEqual([T0 + 30 * H]);
    expect(buildWeeklyReport(fresh()).text).toBe('Weekly report (UTC)\nNo data yet: the journal has no equity snapshots.');
  });
});
