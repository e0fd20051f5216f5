/**
 * Paper and live trading on Alpaca: the official SDK for REST and both streams, pointed at the real hosts or at
 * ALPACA_*_URL overrides (a proxy, or the project's fake in tests). Start-up is recovery: the account, positions
 * and open orders come from Alpaca before any trading; then a reconciliation runs every `alpaca.reconcileSeconds`.
 * With the confidence strategy, news headlines are fetched and scored beside the engine (see `createNewsFeed`).
 */
import type { CircuitBreaker } from '../engine/broker/circuit-breaker.js';
import { Alpaca } from '@alpacahq/alpaca-trade-api';
import { AlpacaBroker } from '../engine/broker/alpaca/alpaca-broker.js';
import { SimClock } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import { AlpacaLiveFeed } from '../engine/market/alpaca-feed.js';
import { AlpacaNews } from '../engine/market/alpaca-news.js';
import { NewsNarrative } from '../engine/signals/news/news-narrative.js';
import type { NarrativeSource } from '../engine/strategy/index.js';
import { formatUsd } from '../engine/money.js';
import { ConfigError } from './config.js';
import { buildEngine } from './engine-factory.js';
import { START_EQUITY_KEY, type MarketContext, type RunningMarket } from './market.js';
import { headlineScorerFromEnv } from './ollama-scorer.js';
import { QualityAlerts } from './quality-alerts.js';
import { HOUR_MS } from '../engine/market/feed.js';

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
  // Flagged bars are stored at once; the alerts about them are counted and throttled (one message a minute at most).
  const qualityAlerts = new QualityAlerts({ journal, notifier, log: warn });
  const feed = new AlpacaLiveFeed(alpaca, dataStream, {
    symbols: config.universe,
    onBatch: (batch) => engine!.handleBars(batch),
    quality: config.quality,
    onFindings: (findings) => qualityAlerts.report(findings),
    onOutage: (reason) => engine?.setMarketDataOutage(reason),
    onQuotes: (prices) => engine!.protectOnQuotes(prices),
    quotePollMs: config.alpaca.quotePollSeconds * 1000,
    log: warn,
  });

  // Only the confidence strategy reads the narrative; fetching and scoring news for any other would be wasted.
  const news = config.strategy.name === 'confidence' ? createNewsFeed(alpaca, ctx) : undefined;

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
      ...(news ? { narrative: news.source } : {}),
      ...(ctx.models ? { models: ctx.models } : {}),
    },
    broker,
  );
  const live = engine;

  let timer: NodeJS.Timeout | undefined;
  // Hourly bars are expected once the live feed has started; paper and live never run out of data.
  let feeding = false;
  return {
    engine: live,
    health: () => `${broker.breaker.describe()}; ${feed.breaker.describe()}${news ? `; ${news.health()}` : ''}`,
    // Hourly bars: the hour closes when the next hour's first minute arrives, so the interval is an hour.
    feedState: () => ({ running: feeding, barIntervalMs: HOUR_MS }),
    breakers: () => [broker.breaker, feed.breaker, ...(news ? [news.breaker] : [])],
    // Each live feed step catches its own errors and the next bar tries again; the loop itself does not stop.
    failed: new Promise<string>(() => undefined),
    async begin() {
      tradeStream.subscribeTradeUpdates();
      tradeStream.connect();
      const auth = await tradeStream.whenAuthenticated();
      if (!auth.authenticated) throw new ConfigError(`Alpaca refused the trade-updates stream: ${auth.message}`);
      await live.start();
      notifier.notify('info', `Alpaca ${mode} account: equity measured from ${formatUsd(startingEquity)}; reconciling every ${config.alpaca.reconcileSeconds} s.`);
      if (news) {
        // The first live decisions already see the recent news. Bounded: Alpaca calls and the LLM both time out,
        // and a failure is alerted and retried by the poll, never a reason not to trade.
        await news.poll();
        news.start();
      }
      live.prime(await feed.history(config.sim.historyBars));
      feed.start();
      feeding = true;
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
      feeding = false;
      clearInterval(timer);
      news?.stop();
      await feed.stop();
      qualityAlerts.flush();
      tradeStream.disconnect();
    },
  };
}

/** Re-fetch this much before the newest article seen: a late-stamped article still arrives; ids drop repeats. */
const NEWS_OVERLAP_MS = 5 * 60_000;
/** Alpaca's largest news page. */
const NEWS_PAGE = 50;
/** Pages per poll; a larger burst is finished by the next poll, which starts after the newest article seen. */
const NEWS_MAX_PAGES = 20;

interface NewsFeed {
  /** What the strategy reads: cached scores only, synchronous, so the LLM is never on the order path. */
  readonly source: NarrativeSource;
  /** The breaker and what is scored, for /health. */
  health(): string;
  readonly breaker: CircuitBreaker;
  /** One fetch-and-score round. Never rejects; a round still running is joined, not doubled. */
  poll(): Promise<void>;
  /** Poll every `news.pollSeconds` until stop(). */
  start(): void;
  stop(): void;
}

/**
 * News for the narrative, kept off the engine's serial inbox: a timer outside the engine fetches new headlines
 * and scores them (the lexicon, or the LLM when OLLAMA_MODEL is set, falling back to the lexicon), and the strategy
 * only reads the cached result. A failing fetch costs nothing but freshness: the narrative ages out and is then
 * reported absent by the signal, so one 'info' alert (and one on recovery) is enough.
 */
function createNewsFeed(alpaca: Alpaca, ctx: MarketContext): NewsFeed {
  const { config, env, log, notifier } = ctx;
  const news = new AlpacaNews(alpaca, config.universe);
  const maxAgeMs = config.news.maxAgeHours * HOUR_MS;
  const narrative = new NewsNarrative(headlineScorerFromEnv(env, log, { timeoutMs: config.news.llmTimeoutSeconds * 1000 }), {
    halfLifeMs: config.news.halfLifeHours * HOUR_MS,
    maxAgeMs,
  });
  let newest: number | undefined;
  let failing = false;
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  /** Everything since the newest article seen (the last maxAgeHours at first), page by page, each page scored. */
  async function fetchAndScore(): Promise<void> {
    const now = Date.now();
    let since = newest === undefined ? now - maxAgeMs : Math.max(now - maxAgeMs, Math.min(newest, now) - NEWS_OVERLAP_MS);
    for (let page = 0; page < NEWS_MAX_PAGES && !stopped; page++) {
      const items = await news.since(since, NEWS_PAGE);
      for (const item of items) newest = Math.max(newest ?? item.createdAt, item.createdAt);
      // Scored per page, so one LLM call never gets more than a page of headlines.
      await narrative.ingest(items, Date.now());
      const last = items.at(-1)?.createdAt;
      if (items.length < NEWS_PAGE || last === undefined || last <= since) break;
      since = last;
    }
  }

  function poll(): Promise<void> {
    running ??= fetchAndScore()
      .then(
        () => {
          if (failing && !stopped) notifier.notify('info', 'News from Alpaca works again; the narrative is fresh.');
          failing = false;
        },
        (error: unknown) => {
          log.warn({ err: error }, 'news poll failed; will retry');
          if (!failing && !stopped) {
            notifier.notify(
              'info',
              `News from Alpaca failed: ${error instanceof Error ? error.message : String(error)}. Trading goes on; the narrative ages out and then reads as absent. Retrying every ${config.news.pollSeconds} s.`,
            );
          }
          failing = true;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  return {
    source: { narrative: (symbol, now) => narrative.narrative(symbol, now).score },
    health: () => `${news.breaker.describe()}; ${narrative.statusLine()}`,
    breaker: news.breaker,
    poll,
    start() {
      timer = setInterval(() => void poll(), config.news.pollSeconds * 1000);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
