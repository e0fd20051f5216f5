/**
 * Paper and live trading on Alpaca: the official SDK for REST and both streams, pointed at the real hosts or at
 * ALPACA_*_URL overrides (a proxy, or the project's fake in tests). Start-up is recovery: the account, positions
 * and open orders come from Alpaca before any trading; then a reconciliation runs every `alpaca.reconcileSeconds`.
 */
import { Alpaca } from '@alpacahq/alpaca-trade-api';
import { AlpacaBroker } from '../engine/broker/alpaca/alpaca-broker.js';
import { SimClock } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import { AlpacaLiveFeed } from '../engine/market/alpaca-feed.js';
import { formatUsd } from '../engine/money.js';
import { ConfigError } from './config.js';
import { buildEngine } from './engine-factory.js';
import { START_EQUITY_KEY, type MarketContext, type RunningMarket } from './market.js';

const TRADING_HOSTS = new Set(['paper-api.alpaca.markets', 'api.alpaca.markets']);
const DATA_HOST = 'data.alpaca.markets';

/** An origin without a path (ARCHITECTURE.md §3): http://127.0.0.1:8080. */
function origin(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} = ${JSON.stringify(value)} is not a URL; give an origin such as http://127.0.0.1:8080`);
  }
  return url.origin;
}

/** The SDK has no base-URL option; a fetch that swaps the host keeps its retries, rate limiter and typed errors. */
function createClient(ctx: MarketContext): Alpaca {
  const { env, mode, config } = ctx;
  const keyId = env.APCA_API_KEY_ID;
  const secret = env.APCA_API_SECRET_KEY;
  if (!keyId || !secret) throw new ConfigError(`${mode} mode needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment`);
  const trading = origin('ALPACA_TRADING_URL', env.ALPACA_TRADING_URL);
  const data = origin('ALPACA_DATA_URL', env.ALPACA_DATA_URL);
  const fetchApi = (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const target = TRADING_HOSTS.has(url.host) ? trading : url.host === DATA_HOST ? data : undefined;
    return fetch(target ? `${target}${url.pathname}${url.search}` : url.href, init);
  };
  return new Alpaca({
    keyId,
    secret,
    paper: mode === 'paper',
    timeoutMs: config.alpaca.requestTimeoutSeconds * 1000,
    ...(trading || data ? { fetchApi } : {}),
  } as ConstructorParameters<typeof Alpaca>[0]);
}

export async function createAlpacaMarket(ctx: MarketContext): Promise<RunningMarket> {
  const { config, mode, journal, state, notifier, log, env } = ctx;
  const alpaca = createClient(ctx);
  const tradeStream = alpaca.trading.stream(env.ALPACA_TRADING_STREAM_URL ? { url: env.ALPACA_TRADING_STREAM_URL } : {});
  const dataStream = alpaca.marketData.cryptoStream(env.ALPACA_DATA_STREAM_URL ? { url: env.ALPACA_DATA_STREAM_URL } : {});
  const warn = (msg: string, detail: Record<string, unknown>) => log.warn(detail, msg);
  const broker = new AlpacaBroker(alpaca, tradeStream, { paper: mode === 'paper', symbols: config.universe, feeRate: config.broker.feeRate, log: warn });
  let engine: Engine | undefined;
  const feed = new AlpacaLiveFeed(alpaca, dataStream, {
    symbols: config.universe,
    onBatch: (batch) => engine!.handleBars(batch),
    onFlagged: (symbol, bar, reason) => {
      journal.recordFlaggedBar(symbol, bar, reason);
      notifier.notify('risk', `Bad bar for ${symbol} at ${new Date(bar.ts).toISOString()}: ${reason}. Stored, not traded on.`);
    },
    onOutage: (reason) => engine?.setMarketDataOutage(reason),
    onQuotes: (prices) => engine!.protectOnQuotes(prices),
    quotePollMs: config.alpaca.quotePollSeconds * 1000,
    log: warn,
  });

  await broker.loadAssets();
  const account = await broker.account();
  const startingEquity = state.get<number>(START_EQUITY_KEY) ?? account.cash + account.positions.reduce((sum, p) => sum + p.qty * p.avgCost, 0);
  state.set(START_EQUITY_KEY, startingEquity, 'system');
  engine = buildEngine(
    {
      config,
      mode,
      symbols: config.universe,
      strategy: config.strategy.name,
      profile: config.risk.profile,
      startingEquity,
      marketDescription: feed.description,
      journal,
      state,
      notifier,
      clock: new SimClock(), // market time follows the bars, as in replay
      wallNow: Date.now,
      log,
    },
    broker,
  );
  const live = engine;

  let timer: NodeJS.Timeout | undefined;
  return {
    engine: live,
    health: () => `${broker.breaker.describe()}; ${feed.breaker.describe()}`,
    async begin() {
      tradeStream.subscribeTradeUpdates();
      tradeStream.connect();
      const auth = await tradeStream.whenAuthenticated();
      if (!auth.authenticated) throw new ConfigError(`Alpaca refused the trade-updates stream: ${auth.message}`);
      await live.start();
      notifier.notify('info', `Alpaca ${mode} account: equity measured from ${formatUsd(startingEquity)}; reconciling every ${config.alpaca.reconcileSeconds} s.`);
      live.prime(await feed.history(config.sim.historyBars));
      feed.start();
      // A failing reconciliation leaves the book unchecked: the operator hears it once, and again when it recovers.
      let failing = false;
      timer = setInterval(() => {
        live.reconcile('periodic').then(
          () => {
            if (failing) notifier.notify('info', 'Reconciliation with Alpaca works again.');
            failing = false;
          },
          (error: unknown) => {
            log.warn({ err: error }, 'reconciliation failed; will retry');
            if (!failing) {
              notifier.notify('critical', `Reconciliation (periodic) failed: ${error instanceof Error ? error.message : String(error)}. Our book is not checked against Alpaca's until it works; retrying every ${config.alpaca.reconcileSeconds} s.`);
            }
            failing = true;
          },
        );
      }, config.alpaca.reconcileSeconds * 1000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await feed.stop();
      tradeStream.disconnect();
    },
  };
}
