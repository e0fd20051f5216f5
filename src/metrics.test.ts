import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineWithStatus, statusView } from '../test/fake-engine-status.js';
import { parsePrometheus, sampleValue } from '../test/prometheus.js';
import { AgentMetrics, denialCategory } from './metrics.js';
import { openDatabase } from './store/database.js';
import { SqliteJournal } from './store/sqlite-journal.js';

function setup() {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'ce-metrics-')), 'engine.db'));
  const metrics = new AgentMetrics((name) => ['status', 'kill'].includes(name));
  const journal = metrics.watchJournal(new SqliteJournal(db));
  metrics.bind({
    engine: engineWithStatus(() => statusView({ risk: { state: 'REDUCING', since: 0, by: 'op', reason: 'paused' } })),
    queues: () => [{ channel: 'telegram', queued: 3 }],
    breakers: () => [{ group: 'alpaca trading', state: 'open' }],
    restarts: 4,
  });
  return { db, metrics, journal };
}

const bar = { ts: 3_600_000, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 };

describe('AgentMetrics', () => {
  it('counts what passes through the journal and the audit log, and reads gauges from the engine', async () => {
    const { db, metrics, journal } = setup();
    journal.recordBars({ ts: bar.ts, bars: new Map([['BTC/USD', bar], ['ETH/USD', bar]]) });
    journal.recordBars({ ts: bar.ts * 2, bars: new Map([['BTC/USD', { ...bar, ts: bar.ts * 2 }]]) });
    journal.recordFlaggedBar('ETH/USD', { ...bar, ts: bar.ts * 2 }, 'jump: close moved 40σ', true);
    const decision = { ts: bar.ts, symbol: 'BTC/USD', strategy: 't', features: {}, signal: {}, intent: null, reason: null };
    journal.recordDecisions([{ ...decision, verdict: 'none' }, { ...decision, verdict: 'denied' }, { ...decision, verdict: 'denied' }]);
    const order = { clientOrderId: 'o1', symbol: 'BTC/USD', side: 'buy' as const, notional: 100, submittedAt: bar.ts };
    journal.recordOrder({ ...order, status: 'new' });
    journal.recordOrder({ ...order, status: 'filled' });
    journal.recordFill({ clientOrderId: 'o1', symbol: 'BTC/USD', side: 'buy', qty: 1, price: 100, fee: 0.25, ts: bar.ts }, 0);
    journal.recordRiskEvent({ ts: bar.ts, kind: 'denied', symbol: 'SOL/USD', reason: 'position limit: already 3 of 3 open (BTC/USD, ETH/USD, LINK/USD)' });
    journal.recordRiskEvent({ ts: bar.ts, kind: 'protection', symbol: 'SOL/USD', reason: 'stop-loss' });
    const audited: string[] = [];
    const audit = metrics.watchAudit({ append: (e) => audited.push(e.outcome) });
    audit.append({ transport: 'console', actorId: 'local', command: 'kill', args: [], outcome: 'requested' });
    audit.append({ transport: 'console', actorId: 'local', command: 'kill', args: [], outcome: 'ok' });
    audit.append({ transport: 'telegram', actorId: '9', command: 'rm -rf', args: [], outcome: 'unknown' });

    const families = parsePrometheus(await metrics.metrics());
    const v = (name: string, labels?: Record<string, string>) => sampleValue(families, name, labels);
    expect(v('ce_bars_processed_total', { symbol: 'BTC/USD' })).toBe(2);
    expect(v('ce_bars_processed_total', { symbol: 'ETH/USD' })).toBe(1);
    expect(v('ce_bars_flagged_total', { symbol: 'ETH/USD', kind: 'jump' })).toBe(1);
    expect(v('ce_decisions_total', { verdict: 'denied' })).toBe(2);
    expect(v('ce_decisions_total', { verdict: 'none' })).toBe(1);
    expect(v('ce_orders_total', { status: 'new' })).toBe(1);
    expect(v('ce_orders_total', { status: 'filled' })).toBe(1);
    expect(v('ce_fills_total', { side: 'buy' })).toBe(1);
    expect(v('ce_risk_denials_total', { reason: 'position_limit' })).toBe(1);
    expect(v('ce_risk_events_total', { kind: 'protection' })).toBe(1);
    expect(v('ce_commands_total', { command: 'kill', outcome: 'ok' })).toBe(1);
    expect(v('ce_commands_total', { command: 'other', outcome: 'unknown' })).toBe(1); // free text never becomes a label
    expect(audited).toEqual(['requested', 'ok', 'unknown']); // and the audit log itself got every entry
    expect(v('ce_equity_usd')).toBe(10_500);
    expect(v('ce_pnl_total_usd')).toBe(500);
    expect(v('ce_pnl_day_usd')).toBe(120);
    expect(v('ce_exposure_ratio')).toBeCloseTo(0.62, 12);
    expect(v('ce_risk_state', { state: 'REDUCING' })).toBe(1);
    expect(v('ce_risk_state', { state: 'ACTIVE' })).toBe(0);
    expect(v('ce_notifier_queue_depth', { channel: 'telegram' })).toBe(3);
    expect(v('ce_circuit_breaker_state', { breaker: 'alpaca trading' })).toBe(2);
    expect(v('ce_supervisor_restarts')).toBe(4);
    expect(v('process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect(families.some((f) => f.name.startsWith('nodejs_eventloop_lag'))).toBe(true);
    // the journal still wrote everything
    expect(db.prepare('SELECT count(*) AS n FROM decisions').get()).toEqual({ n: 3 });
    expect(db.prepare('SELECT count(*) AS n FROM bars WHERE flag IS NOT NULL').get()).toEqual({ n: 1 });
  });

  it('does not count a write that failed', async () => {
    const { db, metrics, journal } = setup();
    db.close();
    expect(() => journal.recordBars({ ts: bar.ts, bars: new Map([['BTC/USD', bar]]) })).toThrow();
    expect(sampleValue(parsePrometheus(await metrics.metrics()), 'ce_bars_processed_total', { symbol: 'BTC/USD' })).toBeUndefined();
  });

  it('keeps two agents apart: each registry has its own numbers', async () => {
    const a = setup();
    const b = setup();
    a.journal.recordBars({ ts: bar.ts, bars: new Map([['BTC/USD', bar]]) });
    expect(sampleValue(parsePrometheus(await a.metrics.metrics()), 'ce_bars_processed_total', { symbol: 'BTC/USD' })).toBe(1);
    expect(sampleValue(parsePrometheus(await b.metrics.metrics()), 'ce_bars_processed_total', { symbol: 'BTC/USD' })).toBeUndefined();
  });
});

describe('denialCategory', () => {
  it.each([
    ['trading is HALTED (kill switch); only cancels and the kill’s own closing orders run', 'halted'],
    ['trading is paused (REDUCING: paused by operator); only exits run', 'paused'],
    ['no new entries while market data is down (stream disconnected)', 'data_outage'],
    ['daily trade limit reached: 8 of 8 entries today', 'daily_trade_limit'],
    ['no edge: win probability 0.480 at payoff 1.00 sizes to zero', 'no_edge'],
    ['correlation with ETH/USD is 0.91, above 0.7', 'correlation'],
    ['portfolio VaR (95%, 1 day) would be 3.10% of equity, above 2.00%', 'var'],
    ['insufficient cash: buy of $100.00 needs more than the $20.00 available', 'cash'],
    ['buy of $0.50 is below the venue minimum of $1', 'min_notional'],
    ['something new', 'other'],
  ])('%s → %s', (reason, category) => expect(denialCategory(reason)).toBe(category));
});

describe('the Prometheus text check used by the tests', () => {
  it('accepts a valid exposition and rejects broken ones', () => {
    const ok = '# HELP a_total things\n# TYPE a_total counter\na_total{x="1"} 2\n';
    expect(sampleValue(parsePrometheus(ok), 'a_total', { x: '1' })).toBe(2);
    expect(() => parsePrometheus('a_total 2\n')).toThrow(/TYPE/);
    expect(() => parsePrometheus('# HELP a x\n# TYPE a gauge\na{x=1} 2\n')).toThrow();
    expect(() => parsePrometheus('# HELP a x\n# TYPE a gauge\na one\n')).toThrow(/not a number/);
    expect(() => parsePrometheus('# HELP a x\n# TYPE a gauge\na 1 2 3\n')).toThrow(/timestamp/);
    expect(() => parsePrometheus(ok.trimEnd())).toThrow(/newline/);
  });
});
