import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { floorToIncrement } from './money.js';

describe('floorToIncrement', () => {
  it('keeps a quantity that already sits on the increment (float division noise included)', () => {
    expect(floorToIncrement(0.108839363, 1e-9)).toBe(0.108839363);
    expect(floorToIncrement(0.3, 0.1)).toBe(0.3);
    expect(floorToIncrement(55.83102448, 1e-9)).toBe(55.83102448);
  });

  it('rounds down between increments', () => {
    expect(floorToIncrement(1.23456789, 0.01)).toBe(1.23);
    expect(floorToIncrement(0.0099, 0.01)).toBe(0);
  });

  it('never rounds up, and never loses a whole increment (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 11 }), fc.constantFrom(1e-9, 1e-6, 1e-4, 0.01, 1), (steps, increment) => {
        const onGrid = Number((steps * increment).toFixed(9));
        const rounded = floorToIncrement(onGrid, increment);
        // A value on the grid comes back as itself (within float printing), never one step less.
        expect(Math.abs(rounded - onGrid)).toBeLessThan(increment / 2);
        // Anything a bit above the grid rounds down to the same point, never above the input.
        const above = floorToIncrement(onGrid + increment * 0.5, increment);
        expect(above).toBeLessThanOrEqual(onGrid + increment * 0.5);
        expect(Math.abs(above - onGrid)).toBeLessThan(increment / 2);
      }),
      { numRuns: 2_000 },
    );
  });
});
