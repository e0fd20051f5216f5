/**
 * The operator's reports, composed from the journal: /stats, /digest (and the scheduled daily digest), the
 * weekly report, and /advise. Read-only: nothing here reaches the engine's order path.
 */
import { renderUsage } from '../bot/commands.js';
import type { Reply, ReplyImage } from '../bot/registry.js';
import type { EngineApi } from '../engine/api.js';
import { Advisor, type AdvisorSnapshot } from '../reports/advisor.js';
import { renderEquityChart, renderSmallChart } from '../reports/chart.js';
import { buildDigest, buildWeeklyReport } from '../reports/digest.js';
import { statsFor, statsSnapshot, type Period } from '../reports/stats.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Db } from './store/database.js';

export interface OperatorReportsDeps {
  readonly db: Db;
  readonly engine: EngineApi;
  readonly config: Config;
  readonly mode: string;
  /** one line per channel and the market's health */
  readonly health: () => string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
}

export interface Report {
  readonly text: string;
  readonly image?: ReplyImage;
}

/** The live risk usage against the limits: the first lines of /limits (the digest lists the risk events itself). */
export function riskUsageLines(engine: EngineApi): string {
  return renderUsage(engine.status().riskUsage, engine.limits().limits).split('\n').slice(0, 3).join('\n');
}

export class OperatorReports {
  private readonly advisor: Advisor;

  constructor(private readonly deps: OperatorReportsDeps) {
    const a = deps.config.reports.advisor;
    this.advisor = new Advisor({
      host: deps.env.OLLAMA_HOST || undefined,
      model: deps.env.OLLAMA_MODEL || undefined,
      timeoutMs: a.timeoutSeconds * 1000,
      firstTokenTimeoutMs: a.firstTokenSeconds * 1000,
      idleTimeoutMs: a.firstTokenSeconds * 1000,
      db: deps.db,
      log: deps.log,
    });
  }

  stats(period: Period): Report {
    const report = statsFor(this.deps.db, period, { feeRate: this.deps.config.broker.feeRate });
    if (!report.enough) return { text: report.text };
    const png = renderSmallChart({ title: `Equity, ${period}`, subtitle: this.subtitle(), strategy: report.curves.strategy, benchmark: report.curves.benchmark });
    return { text: report.text, image: { png, filename: `stats-${period}.png` } };
  }

  digest(): Report {
    const status = this.deps.engine.status();
    const digest = buildDigest(this.deps.db, {
      feeRate: this.deps.config.broker.feeRate,
      health: this.deps.health(),
      positions: status.positions,
      horizonHours: this.deps.config.strategy.confidence.horizonBars,
      riskUsage: riskUsageLines(this.deps.engine),
    });
    const png = renderEquityChart({ title: 'Daily digest: equity and drawdown', subtitle: this.subtitle(), strategy: digest.chart.strategy, benchmark: digest.chart.benchmark });
    return { text: digest.text, image: { png, filename: 'digest.png' } };
  }

  weekly(): Report {
    const report = buildWeeklyReport(this.deps.db, { feeRate: this.deps.config.broker.feeRate });
    const png = renderEquityChart({ title: 'Weekly report: equity and drawdown', subtitle: this.subtitle(), strategy: report.chart.strategy, benchmark: report.chart.benchmark });
    return { text: report.text, image: { png, filename: 'weekly.png' } };
  }

  /** Streams the advisor's answer; the reply always ends with an answer (a plain summary when the LLM fails). */
  advise(question: string | undefined, actor: string): Reply {
    const snapshot = this.snapshot();
    return {
      text: 'Thinking…',
      stream: async (progress) => {
        const result = await this.advisor.advise({ actor, question, snapshot, onText: progress });
        return result.note ? `${result.answer}\n(${result.note})` : result.answer;
      },
    };
  }

  /** The numbers /stats shows (7 days), plus positions, recent trades, risk events and regimes. */
  snapshot(): AdvisorSnapshot {
    const { engine, db } = this.deps;
    const status = engine.status();
    const stats = statsSnapshot(statsFor(db, '7d', { feeRate: this.deps.config.broker.feeRate }));
    const riskEvents = db.prepare('SELECT ts, kind, symbol, reason FROM risk_events ORDER BY id DESC LIMIT 10').all() as Array<{ ts: number; kind: string; symbol: string | null; reason: string }>;
    const regimes = db
      .prepare(`SELECT d.symbol, d.signal FROM decisions d JOIN (SELECT symbol, MAX(id) AS id FROM decisions GROUP BY symbol) last ON last.id = d.id`)
      .all() as Array<{ symbol: string; signal: string }>;
    return {
      mode: this.deps.mode,
      asOf: new Date().toISOString(),
      stats,
      positions: status.positions.map((p) => ({ symbol: p.symbol, qty: p.qty, valueUsd: p.value, unrealizedPnlUsd: p.unrealizedPnl })),
      recentTrades: engine.recentTrades(10).map((t) => ({ ts: new Date(t.ts).toISOString(), symbol: t.symbol, side: t.side, qty: t.qty, priceUsd: t.price })),
      riskEvents: riskEvents.map((e) => ({ ts: new Date(e.ts).toISOString(), kind: e.kind, ...(e.symbol ? { symbol: e.symbol } : {}), reason: e.reason })),
      regime: regimes.map(({ symbol, signal }) => {
        const s = JSON.parse(signal) as Record<string, unknown>;
        const label = (v: unknown) => (typeof v === 'string' ? v : null);
        return { symbol, volatility: label(s.volatility), trend: label(s.trend), momentum: label(s.momentum) };
      }),
      riskState: status.risk.state,
    };
  }

  private subtitle(): string {
    return `${this.deps.mode.toUpperCase()} · ${this.deps.config.strategy.name} · ${this.deps.engine.status().market}`;
  }
}
