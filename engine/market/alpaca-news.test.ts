/** The news client through the real SDK against the project's fake Alpaca. */
import { Alpaca } from '@alpacahq/alpaca-trade-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAlpaca } from '../../test/fakes/alpaca.js';
import { AlpacaNews } from './alpaca-news.js';

let fake: FakeAlpaca;
beforeEach(async () => {
  fake = await new FakeAlpaca().start();
});
afterEach(() => fake.stop());

function client(): Alpaca {
  const fetchApi = (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    return fetch(`${fake.dataUrl}${url.pathname}${url.search}`, init);
  };
  return new Alpaca({ keyId: 'FAKEKEYID', secret: 'FAKESECRET', paper: true, fetchApi } as ConstructorParameters<typeof Alpaca>[0]);
}

const article = (id: number, symbols: string[], created: string) => ({
  id,
  headline: `headline ${id}`,
  author: 'a',
  created_at: created,
  updated_at: created,
  summary: `summary ${id}`,
  content: '',
  url: 'https://example.invalid',
  images: [],
  symbols,
  source: 'benzinga',
});

describe('AlpacaNews', () => {
  it('returns validated articles about the universe, symbols in BTC/USD form', async () => {
    fake.setNews([article(1, ['BTCUSD', 'AAPL'], '2024-03-01T10:00:00Z'), article(2, ['ETHUSD'], '2024-03-01T11:00:00Z')]);
    const items = await new AlpacaNews(client(), ['BTC/USD', 'ETH/USD']).since(Date.UTC(2024, 2, 1));
    expect(items.map((i) => [i.id, i.headline, i.symbols])).toEqual([
      [1, 'headline 1', ['BTC/USD']],
      [2, 'headline 2', ['ETH/USD']],
    ]);
    expect(items[0]!.createdAt).toBe(Date.parse('2024-03-01T10:00:00Z'));
  });

  it('a malformed article is a clear error naming the field', async () => {
    fake.setNews([{ ...article(1, ['BTCUSD'], '2024-03-01T10:00:00Z'), headline: 42 as unknown as string }]);
    await expect(new AlpacaNews(client(), ['BTC/USD']).since(0)).rejects.toThrow(/^Alpaca GET \/v1beta1\/news \[0\]: headline: /);
  });
});
