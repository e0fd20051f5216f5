/** The operator commands that exist today (ARCHITECTURE.md §3). One definition each; every transport shares them. */
import { z } from 'zod';
import type { KillReport, LimitsView, RiskUsage, StatusView } from '../engine/api.js';
import { formatPct, formatQty, formatUsd } from '../engine/money.js';
import { defineCommand, usage, type AuditEntry, type CommandDef, type Reply } from './registry.js';

/** What commands read besides the engine: the audit trail and the health of the chat channels. */
export interface CommandDeps {
  /** newest first */
  readonly recentAudit: (limit: number) => ReadonlyArray<AuditEntry & { readonly ts: number }>;
  /** the health report for /health: every check, the channels and the market */
  readonly health: () => string;
  /** one line for /status: "ok (7 checks)" or the checks that are not ok */
  readonly healthSummary?: () => string;
  /** stats, digests and the advisor (absent in tests that do not need them) */
  readonly reports?: {
    stats(period: '1d' | '7d' | '30d' | 'all'): Reply;
    digest(): Reply;
    advise(question: string | undefined, actor: string): Reply;
  };
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `2h`, `1d` → milliseconds; at most 30 days. */
export const durationSchema = z
  .string()
  .regex(/^\d{1,4}[mhd]$/, 'use a number and a unit, e.g. 30m, 2h or 1d')
  .transform((s) => Number(s.slice(0, -1)) * UNIT_MS[s.slice(-1) as keyof typeof UNIT_MS])
  .refine((ms) => ms > 0 && ms <= 30 * UNIT_MS.d, 'must be between 1m and 30d');

export function renderStatus(s: StatusView): string {
  const state = s.risk.state === 'ACTIVE' ? 'running' : s.risk.state === 'REDUCING' ? 'paused' : 'halted';
  const lines = [
    `Mode ${s.mode.toUpperCase()} · state ${state} (${s.risk.state}) since ${iso(s.risk.since)} by ${s.risk.by}: ${s.risk.reason}`,
    `Market: ${s.market}${s.marketTime !== undefined ? ` · bar ${iso(s.marketTime)}` : ' · no bar yet'}`,
    `Strategy ${s.strategy} · broker: ${s.broker}`,
    `Equity ${formatUsd(s.equity)} (${formatPct(s.equity / s.startingEquity - 1)} since start) · cash ${formatUsd(s.cash)} · today ${formatUsd(s.dayPnl)}`,
  ];
  if (s.positions.length === 0) lines.push('Positions: none');
  else {
    lines.push(`Positions (${s.positions.length}):`);
    for (const p of s.positions) {
      lines.push(`  ${p.symbol} ${formatQty(p.qty)} @ avg ${formatUsd(p.avgCost)} · now ${p.price !== undefined ? formatUsd(p.price) : 'n/a'} · value ${formatUsd(p.value)} · P&L ${formatUsd(p.unrealizedPnl)}`);
    }
  }
  lines.push(renderUsage(s.riskUsage));
  lines.push(
    `Open orders ${s.openOrders} · last decision ${s.lastDecisionAt !== undefined ? iso(s.lastDecisionAt) : 'none yet'} · ` +
      `health: ${s.health.barsProcessed} bars processed, inbox ${s.health.inboxDepth}${s.health.lastBarWallTime !== undefined ? `, last bar ${Math.round((Date.now() - s.health.lastBarWallTime) / 1000)}s ago` : ''}`,
  );
  return lines.join('\n');
}

const pctOf = (x: number | undefined, digits = 1) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(digits)}%`);

/** Live risk usage against the limits: the lines /status and /limits share. */
export function renderUsage(u: RiskUsage, l?: LimitsView['limits']): string {
  const cap = (name: string, f: (v: number) => string) => {
    const v = l?.find((x) => x.name === name)?.value;
    return v === undefined ? '' : ` (limit ${f(v)})`;
  };
  const pct = (v: number) => pctOf(v, v < 0.1 ? 1 : 0);
  const lines = [
    `Risk: exposure ${pctOf(u.exposure)} · largest asset ${pctOf(u.largestAsset)}${cap('maxAssetFraction', pct)} · positions ${u.openPositions}${cap('maxOpenPositions', String)}`,
    `  VaR 95% 1d ${pctOf(u.var95, 2)}${cap('maxVar95', pct)} · max correlation ${u.maxCorrelation === undefined ? 'n/a' : u.maxCorrelation.toFixed(2)}${cap('maxCorrelation', String)}`,
    `  today ${formatPct(u.dayPnlFraction)}${cap('dailyLossLimit', (v) => `-${pct(v)}`)} · since start ${formatPct(u.totalPnlFraction)}${cap('totalLossLimit', (v) => `-${pct(v)}`)} · drawdown ${pctOf(u.drawdown)} · entries today ${u.tradesToday}${cap('maxTradesPerDay', String)}`,
  ];
  if (u.cycle) lines.push(`  cycle: started at ${formatUsd(u.cycle.startEquity)}, peak ${formatUsd(u.cycle.peakEquity)}, profit taken ${u.cycle.profitTaken ? 'yes' : 'no'}`);
  for (const e of u.recentRiskEvents.slice(0, 3)) lines.push(`  ${e.kind}${e.symbol ? ` ${e.symbol}` : ''}: ${e.reason}`);
  return lines.join('\n');
}

export function renderKill(r: KillReport): string {
  const lines = [r.alreadyHalted ? 'Already HALTED; repeated the flatten.' : 'HALTED.'];
  lines.push(r.canceled.length ? `Canceled ${r.canceled.length} open order(s).` : 'No open orders to cancel.');
  if (r.closes.length === 0) lines.push('No positions to close.');
  for (const c of r.closes) {
    const price = c.price !== undefined ? ` @ ${formatUsd(c.price)}` : '';
    lines.push(`  close ${c.symbol} ${formatQty(c.qty)}: ${c.status}${price}${c.reason ? ` (${c.reason})` : ''}`);
  }
  lines.push(r.remaining.length === 0 ? 'Flat: no positions remain.' : `STILL HELD: ${r.remaining.map((p) => `${formatQty(p.qty)} ${p.symbol}`).join(', ')}. Check the broker.`);
  return lines.join('\n');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function buildCommands(deps: CommandDeps): CommandDef[] {
  const commands: CommandDef[] = [
    defineCommand({
      name: 'status',
      description: 'mode, state, equity, cash, today’s P&L, positions, last decision, health',
      role: 'viewer',
      params: [],
      run: (api) => ({ text: [renderStatus(api.status()), ...(deps.healthSummary ? [`Health: ${deps.healthSummary()} (details: /health)`] : [])].join('\n') }),
    }),
    defineCommand<{ duration?: number }>({
      name: 'pause',
      description: 'stop new entries (REDUCING); exits and stops still run. Optional duration: 30m, 2h, 1d',
      role: 'operator',
      params: [{ name: 'duration', schema: durationSchema, optional: true }],
      run: (api, args, actor) => {
        const result = api.pause(`${actor.transport}:${actor.id}`, args.duration);
        return { text: result.ok ? `Paused: ${result.state.reason}. No new entries; exits still run.` : `Not paused: ${result.reason}` };
      },
    }),
    defineCommand({
      name: 'resume',
      description: 'back to ACTIVE trading (asks for confirmation when HALTED)',
      role: 'operator',
      params: [],
      confirm: (api) => (api.status().risk.state === 'HALTED' ? 'Trading is HALTED (kill switch). Resume trading with real orders?' : undefined),
      run: (api, _args, actor) => {
        const result = api.resume(`${actor.transport}:${actor.id}`);
        return { text: result.ok ? 'Resumed: trading is ACTIVE.' : `Not resumed: ${result.reason}` };
      },
    }),
    defineCommand({
      name: 'kill',
      description: 'HALT now, cancel every open order and close every position (asks for confirmation)',
      role: 'operator',
      params: [],
      confirm: () => 'KILL: halt trading, cancel every open order and close every position at market?',
      run: async (api, _args, actor) => ({ text: renderKill(await api.kill(`${actor.transport}:${actor.id}`)) }),
    }),
    defineCommand<{ n?: number }>({
      name: 'trades',
      description: 'the most recent fills (default 10)',
      role: 'viewer',
      params: [{ name: 'n', schema: z.coerce.number().int().min(1).max(100), optional: true }],
      run: (api, args) => {
        const trades = api.recentTrades(args.n ?? 10);
        if (trades.length === 0) return { text: 'No trades yet.' };
        return {
          text: trades
            .map((t) => `${iso(t.ts)} ${t.side.toUpperCase()} ${formatQty(t.qty)} ${t.symbol} @ ${formatUsd(t.price)} fee ${formatUsd(t.fee)}${t.side === 'sell' ? ` P&L ${formatUsd(t.realizedPnl)}` : ''}`)
            .join('\n'),
        };
      },
    }),
    defineCommand({
      name: 'positions',
      description: 'open positions with size, average cost, price, value and P&L',
      role: 'viewer',
      params: [],
      run: (api) => {
        const { positions, equity } = api.status();
        if (positions.length === 0) return { text: 'No open positions.' };
        return {
          text: positions
            .map((p) => `${p.symbol} ${formatQty(p.qty)} @ avg ${formatUsd(p.avgCost)} · now ${p.price !== undefined ? formatUsd(p.price) : 'n/a'} · ${formatUsd(p.value)} (${formatPct(p.value / equity, 1).replace('+', '')} of equity) · P&L ${formatUsd(p.unrealizedPnl)}`)
            .join('\n'),
        };
      },
    }),
    defineCommand<{ period?: '1d' | '7d' | '30d' | 'all' }>({
      name: 'stats',
      description: 'performance against buy-and-hold over 1d, 7d (default), 30d or all, with a chart',
      role: 'viewer',
      params: [{ name: 'period', schema: z.enum(['1d', '7d', '30d', 'all'], 'must be 1d, 7d, 30d or all'), optional: true }],
      run: (_api, args) => deps.reports?.stats(args.period ?? '7d') ?? { text: 'Stats are not available here.' },
    }),
    defineCommand({
      name: 'digest',
      description: "today's digest now: P&L against buy-and-hold, positions, trades, risk, best and worst calls, regimes, health, chart",
      role: 'viewer',
      params: [],
      run: () => deps.reports?.digest() ?? { text: 'Digests are not available here.' },
    }),
    defineCommand<{ question?: string }>({
      name: 'advise',
      description: 'ask the local LLM about the numbers /stats shows (read-only; a plain summary when it is down)',
      role: 'viewer',
      params: [{ name: 'question', schema: z.string().max(1_000, 'keep the question under 1000 characters'), optional: true, rest: true }],
      run: (_api, args, actor) => deps.reports?.advise(args.question, `${actor.transport}:${actor.id}`) ?? { text: 'The advisor is not available here.' },
    }),
    defineCommand({
      name: 'models',
      description: 'the deployed model set: each model, its vote weight, recent Brier score, and when it was deployed',
      role: 'viewer',
      params: [],
      run: (api) => ({ text: api.models() }),
    }),
    defineCommand({
      name: 'signals',
      description: 'the latest signal per symbol, with its evidence lines',
      role: 'viewer',
      params: [],
      run: (api) => {
        const view = api.signals();
        if (view.signals === null) return { text: `No signals: ${view.note}.` };
        if (view.signals.length === 0) return { text: `No signals yet: no bar has been scanned. ${capitalize(view.note)}.` };
        const blocks = view.signals.map((s) => {
          const head =
            s.direction === 'warming'
              ? `${s.symbol}: warming up`
              : `${s.symbol}: ${s.direction} · quality ${s.quality.toFixed(1)}/10 · conviction ${s.conviction.toFixed(1)}/10 · confidence ${(s.confidence * 100).toFixed(0)}%` +
                (s.direction === 'flat' ? '' : ` · ${s.streak >= s.streakNeeded ? 'tier counts' : `${Math.min(s.streak, s.streakNeeded)}/${s.streakNeeded} scans`}`);
          return [`${head} (bar ${new Date(s.ts).toISOString().slice(0, 16).replace('T', ' ')} UTC)`, ...s.evidence.map((e) => `• ${e}`)].join('\n');
        });
        return { text: [...blocks, capitalize(view.note) + '.'].join('\n\n') };
      },
    }),
    defineCommand<{ name?: string; value?: number }>({
      name: 'threshold',
      description: 'show the strategy thresholds, or set one: /threshold topK 3',
      role: 'operator',
      params: [
        { name: 'name', schema: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,40}$/, 'must be a threshold name from /threshold'), optional: true },
        { name: 'value', schema: z.coerce.number().refine(Number.isFinite, 'must be a number'), optional: true },
      ],
      run: (api, args, actor) => {
        const all = api.thresholds();
        if (args.value === undefined) {
          const shown = args.name === undefined ? all : all.filter((t) => t.name === args.name);
          if (shown.length === 0) return { text: args.name ? `No threshold "${args.name}". Known: ${all.map((t) => t.name).join(', ') || 'none'}.` : 'This strategy has no thresholds.' };
          return { text: shown.map((t) => `${t.name} = ${t.value} (${t.min}…${t.max}${t.integer ? ', whole number' : ''}): ${t.description}`).join('\n') };
        }
        const change = api.setThreshold(args.name!, args.value, `${actor.transport}:${actor.id}`);
        return { text: change.ok ? `${change.name}: ${change.old} → ${change.value}. Saved; it survives a restart.` : `Not changed: ${change.reason}` };
      },
    }),
    defineCommand<{ name?: string; value?: number }>({
      name: 'limits',
      description: 'risk limits and their live use; operators set one: /limits maxTradeUsd 500',
      role: 'viewer',
      roleFor: (args) => (args.value === undefined ? 'viewer' : 'operator'),
      params: [
        { name: 'name', schema: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,40}$/, 'must be a limit name from /limits'), optional: true },
        { name: 'value', schema: z.coerce.number().refine(Number.isFinite, 'must be a number'), optional: true },
      ],
      run: (api, args, actor) => {
        const view = api.limits();
        if (args.value === undefined) {
          const shown = args.name === undefined ? view.limits : view.limits.filter((l) => l.name === args.name);
          if (shown.length === 0) return { text: `No limit "${args.name}". Known: ${view.limits.map((l) => l.name).join(', ')}.` };
          return {
            text: [
              `Risk profile ${view.profile}${view.profile === 'benchmark' ? ' (cash checks only: these limits are not enforced)' : ''}`,
              ...shown.map((l) => `${l.name} = ${l.value} (${l.min}…${l.max} ${l.unit})`),
              renderUsage(view.usage, view.limits),
            ].join('\n'),
          };
        }
        const change = api.setLimit(args.name!, args.value, `${actor.transport}:${actor.id}`);
        return { text: change.ok ? `${change.name}: ${change.old} → ${change.value}. Saved; it survives a restart.` : `Not changed: ${change.reason}` };
      },
    }),
    defineCommand({
      name: 'health',
      description: 'health checks (database, broker, data feed, dead-man switch, chat delivery, memory, event loop, disk), channels and market',
      role: 'viewer',
      params: [],
      run: (api) => {
        const { health, marketTime, risk } = api.status();
        const age = health.lastBarWallTime !== undefined ? `${Math.round((Date.now() - health.lastBarWallTime) / 1000)} s ago` : 'none yet';
        return {
          text: [
            `Engine: ${health.barsProcessed} bars processed, last bar ${age}${marketTime !== undefined ? ` (market time ${iso(marketTime)})` : ''}, inbox ${health.inboxDepth}`,
            `Risk state: ${risk.state}`,
            deps.health(),
          ].join('\n'),
        };
      },
    }),
    defineCommand<{ n?: number }>({
      name: 'audit',
      description: 'the last commands and who sent them (default 10)',
      role: 'viewer',
      params: [{ name: 'n', schema: z.coerce.number().int().min(1).max(50), optional: true }],
      run: (_api, args) => {
        const rows = deps.recentAudit(args.n ?? 10);
        if (rows.length === 0) return { text: 'The audit log is empty.' };
        return { text: rows.map((r) => `${iso(r.ts)} ${r.transport}:${r.actorId} /${r.command}${r.args.length ? ` ${r.args.join(' ')}` : ''} → ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`).join('\n') };
      },
    }),
  ];
  commands.push(
    defineCommand({
      name: 'help',
      description: 'this list',
      role: 'viewer',
      params: [],
      run: () => ({ text: ['Commands:', ...commands.map((c) => `${usage(c)} (${c.role}): ${c.description}`), '/confirm <token>: confirm a pending command'].join('\n') }),
    }),
  );
  return commands;
}
