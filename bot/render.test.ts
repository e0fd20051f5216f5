import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeHtml, splitForLimit } from './render.js';

const html = (s: string) => `<pre>${escapeHtml(s)}</pre>`;

describe('splitForLimit', () => {
  it('keeps short text whole', () => {
    expect(splitForLimit('hello', 4096, html)).toEqual(['hello']);
  });

  it('splits a 10,000-character reply into rendered chunks within the limit, losing nothing', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i}: BTC/USD <b> & ${'x'.repeat(i % 17)}`);
    const text = lines.join('\n').padEnd(10_000, '.');
    const chunks = splitForLimit(text, 4096, html);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    for (const c of chunks) expect(html(c).length).toBeLessThanOrEqual(4096);
    expect(chunks.join('\n').replace(/\n/g, '')).toBe(text.replace(/\n/g, ''));
  });

  it('never exceeds the limit, never drops characters, never splits a surrogate pair (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 3_000 }), fc.integer({ min: 40, max: 500 }), (text, limit) => {
        const chunks = splitForLimit(text, limit, html);
        for (const c of chunks) {
          expect(html(c).length).toBeLessThanOrEqual(limit);
          expect(c).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
        }
        // Only split points (newlines, one space at a cut) may disappear.
        const strip = (s: string) => s.replace(/[\n ]/g, '');
        expect(strip(chunks.join(''))).toBe(strip(text));
      }),
      { numRuns: 300 },
    );
  });
});
