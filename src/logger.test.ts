import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('logger', () => {
  it('writes JSON lines and redacts secrets at any of the first nesting levels', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const log = createLogger('info', out);
    log.info({ token: '123:ABC', telegram: { token: '456:DEF' }, alpaca: { keys: { apiSecret: 'sekrit' } }, symbol: 'BTC/USD' }, 'hello');
    log.debug({ token: 'x' }, 'below the level');
    await new Promise((r) => setImmediate(r));
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'hello', token: '[redacted]', telegram: { token: '[redacted]' }, alpaca: { keys: { apiSecret: '[redacted]' } }, symbol: 'BTC/USD' });
    expect(text).not.toMatch(/123:ABC|456:DEF|sekrit/);
  });
});
