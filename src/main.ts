/**
 * The CLI: `start` runs the agent, `backtest` replays CSV bars. Problems an operator can fix (config, data,
 * arguments) print one clear line and exit 2; anything else is logged with its stack and exits 1.
 */
import { writeFileSync } from 'node:fs';
import { MarketDataError } from '../engine/market/csv.js';
import { calibrationCsv } from '../reports/forecast.js';
import { startAgent, type RunningAgent } from './app.js';
import { BacktestError, formatResultsTable, runBacktest } from './backtest.js';
import { CliError, parseBacktestArgs } from './cli.js';
import { ConfigError, loadConfig, loadTransportEnv, resolveMode } from './config.js';
import { InstanceLockedError } from './instance-lock.js';
import { createLogger } from './logger.js';

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { config } = loadConfig();
  const log = createLogger(config.log.level);
  switch (command) {
    case 'start': {
      if (rest.length > 0) throw new CliError(`npm start takes no arguments (got ${rest.join(' ')}); configure it with CE_CONFIG and the environment`);
      const mode = resolveMode(config);
      const transports = loadTransportEnv();
      const agent: RunningAgent = await startAgent(config, mode, { input: process.stdin, output: process.stdout, transports }, log);
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => void agent.stop(signal).then(resolve);
        process.once('SIGINT', () => shutdown('Ctrl-C'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      });
      return 0;
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
