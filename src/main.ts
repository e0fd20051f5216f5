/**
 * The CLI: `start` runs the agent under a supervisor (src/supervisor.ts; `start --no-supervisor` runs it alone),
 * `backtest` replays CSV bars. Problems an operator can fix (config, data,
 * arguments) print one clear line and exit 2; anything else is logged with its stack and exits 1.
 */
import { writeFileSync } from 'node:fs';
import { MarketDataError } from '../engine/market/csv.js';
import { calibrationCsv } from '../reports/forecast.js';
import type { RunningAgent } from './app.js';
import { BacktestError, formatResultsTable, runBacktest } from './backtest.js';
import { CliError, parseBacktestArgs } from './cli.js';
import { ConfigError, loadConfig, loadTransportEnv, modeTag, resolveMode } from './config.js';
import { ipcSender, readRestartInfo, startHeartbeat, startStallTestHook } from './heartbeat.js';
import { InstanceLockedError } from './instance-lock.js';
import { createLogger } from './logger.js';
import { runSupervisor, SUPERVISED_FLAG } from './supervisor-process.js';

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { config } = loadConfig();
  const log = createLogger(config.log.level);
  switch (command) {
    case 'start': {
      const how = parseStartArgs(rest);
      const transports = loadTransportEnv();
      if (how === 'supervisor') {
        // A mode that cannot be resolved fails the agent with exit 2, and the supervisor alerts under this tag.
        let mode: string;
        try {
          mode = resolveMode(config);
        } catch {
          mode = config.mode;
        }
        return runSupervisor(config, modeTag(mode), transports, log);
      }
      const mode = resolveMode(config);
      startStallTestHook();
      // Supervised: heartbeats to the supervisor, and a graceful stop if it goes away (no agent trades unwatched).
      const send = how === 'supervised' ? ipcSender() : undefined;
      if (how === 'supervised' && !send) throw new CliError(`${SUPERVISED_FLAG} is internal: only the supervisor starts an agent with it`);
      if (send) startHeartbeat(config.supervisor.heartbeatSeconds * 1000, send);
      const supervisorGone = new Promise<string>((resolve) => {
        if (send) process.once('disconnect', () => resolve('supervisor gone'));
      });
      const restart = readRestartInfo();
      // Imported here so that the supervisor process does not load the agent (about 60 MB).
      const { startAgent } = await import('./app.js');
      const agent: RunningAgent = await startAgent(config, mode, { input: process.stdin, output: process.stdout, transports, ...(restart ? { restart } : {}) }, log);
      return await new Promise<number>((resolve) => {
        // stop() is bounded (5 s for the outbox) and idempotent, so a second signal (npm and the supervisor both
        // forward one; an impatient Ctrl-C) waits for the same stop instead of killing it half-way.
        const shutdown = (signal: string, code = 0) => void agent.stop(signal).then(() => resolve(code));
        process.on('SIGINT', () => shutdown('Ctrl-C'));
        process.on('SIGTERM', () => shutdown('SIGTERM'));
        void supervisorGone.then((why) => shutdown(why));
        // Supervised, a dead market loop is a crash: stopping lets the supervisor restart the agent, which
        // rebuilds its book from the journal and the broker. Alone, the agent stays up for /status and /kill.
        if (send) {
          void agent.marketFailed.then((reason) => {
            process.stderr.write(`fatal: market loop failed: ${reason}\n`);
            shutdown('market loop failed', 1);
          });
        }
      });
    }
    case 'backtest': {
      const { request, json } = parseBacktestArgs(rest);
      const equity = request.equity ?? config.sim.equity;
      const runs = await runBacktest({ ...request, equity }, config, log);
      const wf = request.walkForward;
      const span = `${iso(request.from)} to ${iso(request.to)}`;
      process.stdout.write(
        wf
          ? `Walk-forward ${span}: ${runs[0]?.windows?.length ?? 0} test windows of ${wf.testDays} days, each after ${wf.trainDays} days of training; only the test windows are reported.\n`
          : `Backtest ${span}${runs.some((r) => r.profile === 'full') ? '; the agent strategies warm up on the 2000 bars before the start' : ''}.\n`,
      );
      process.stdout.write(`${formatResultsTable(runs)}\n`);
      if (json) {
        const [main, ...compare] = runs;
        const params = { ...request, equity, from: iso(request.from), to: iso(request.to), feeRate: config.broker.feeRate, slippageBps: config.broker.slippageBps };
        writeFileSync(json, `${JSON.stringify({ params, ...main, compare }, null, 1)}\n`);
        process.stdout.write(`wrote ${json}\n`);
        const forecasts = runs.flatMap((r) => (r.forecast ? [{ strategy: r.strategy, quality: r.forecast }] : []));
        if (forecasts.length > 0) {
          const csv = json.replace(/(\.json)?$/, '.calibration.csv');
          writeFileSync(csv, calibrationCsv(forecasts));
          process.stdout.write(`wrote ${csv}\n`);
        }
      }
      return 0;
    }
    default:
      throw new CliError(`unknown command "${command ?? ''}"; use "npm start" or "npm run backtest -- …"`);
  }
}

/** `start` runs the supervisor; `start --no-supervisor` the agent alone; `start --supervised` is the supervisor's agent. */
function parseStartArgs(args: readonly string[]): 'supervisor' | 'alone' | 'supervised' {
  if (args.length === 0) return 'supervisor';
  if (args.length === 1 && args[0] === '--no-supervisor') return 'alone';
  if (args.length === 1 && args[0] === SUPERVISED_FLAG) return 'supervised';
  throw new CliError(`npm start takes only --no-supervisor (got ${args.join(' ')}); configure it with CE_CONFIG and the environment`);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const OPERATOR_ERRORS = [ConfigError, CliError, MarketDataError, BacktestError, InstanceLockedError];

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (OPERATOR_ERRORS.some((kind) => error instanceof kind)) {
      process.stderr.write(`error: ${(error as Error).message}\n`);
      process.exit(2);
    }
    process.stderr.write(`fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
