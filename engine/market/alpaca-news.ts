/**
 * News headlines from Alpaca's news API, for the narrative side of the confidence engine. Validated at the
 * boundary; symbols come back in the universe's form (BTC/USD). Read-only: never on the order path.
 */
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import { z } from 'zod';
import { CircuitBreaker } from '../broker/circuit-breaker.js';
import { parseAt } from '../broker/alpaca/schemas.js';
import type { Symbol } from '../types.js';

export interface NewsItem {
  readonly id: number;
  /** ms UTC */
  readonly createdAt: number;
  readonly headline: string;
  readonly summary: string;
  readonly source: string;
  readonly symbols: readonly Symbol[];
}

const articleSchema = z.object({
  id: z.number().int(),
  headline: z.string(),
  summary: z.string().optional().default(''),
  source: z.string().optional().default(''),
  symbols: z.array(z.string()),
  createdAt: z.union([z.date(), z.string()]).transform((v) => (v instanceof Date ? v.getTime() : Date.parse(v))).pipe(z.number().finite()),
});

const pageSchema = z.object({ news: z.array(z.unknown()), nextPageToken: z.string().nullish() });

export class AlpacaNews {
  readonly breaker = new CircuitBreaker('alpaca news');

  constructor(
    private readonly alpaca: Alpaca,
    private readonly universe: readonly Symbol[],
  ) {}

  /** Articles about the universe since `since` (ms UTC), oldest first, up to `limit`. */
  async since(since: number, limit = 50): Promise<NewsItem[]> {
    const raw = await this.breaker.run(() =>
      this.alpaca.marketData.news.news({ symbols: this.universe.join(','), start: new Date(since), limit: Math.min(limit, 50), sort: 'asc' } as never),
    );
    const page = parseAt(pageSchema, raw, 'GET /v1beta1/news');
    return page.news.map((item, i) => {
      const a = parseAt(articleSchema, item, `GET /v1beta1/news [${i}]`);
      const symbols = a.symbols.map((s) => this.universe.find((u) => u === s || u.replace('/', '') === s)).filter((s): s is Symbol => s !== undefined);
      return { id: a.id, createdAt: a.createdAt, headline: a.headline, summary: a.summary, source: a.source, symbols };
    });
  }
}
