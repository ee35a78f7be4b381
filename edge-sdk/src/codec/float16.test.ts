import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f16Bits, f16Round, f16ToNumber } from './float16.js';

/** The next binary16 above a finite value (by bit pattern). */
function nextUp(v: number): number {
  const h = f16Bits(v);
  if (v === 0) return 2 ** -24;
  return f16ToNumber(v > 0 ? h + 1 : h - 1);
}

describe('float16', () => {
  it('decodes known bit patterns', () => {
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0xc000)).toBe(-2);
    expect(f16ToNumber(0x7bff)).toBe(65504);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24);
    expect(f16ToNumber(0x0400)).toBe(2 ** -14);
    expect(f16ToNumber(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(f16ToNumber(0x7e00)).toBeNaN();
  });

  it('round-trips every finite bit pattern through f16Bits', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      const v = f16ToNumber(h);
      if (h === 0x8000) expect(f16Bits(v)).toBe(0x8000);
      else expect(f16Bits(v)).toBe(h);
    }
  });

  it('rounds down and up to the nearest binary16 on the requested side', () => {
    fc.assert(
      fc.property(fc.double({ min: -65000, max: 65000, noNaN: true }), (x) => {
        const down = f16Round(x, false);
        const up = f16Round(x, true);
        expect(down).toBeLessThanOrEqual(x);
        expect(up).toBeGreaterThanOrEqual(x);
        expect(f16ToNumber(f16Bits(down))).toBe(down);
        expect(f16ToNumber(f16Bits(up))).toBe(up);
        // nothing representable lies strictly between them and x
        if (down !== x) expect(nextUp(down)).toBeGreaterThanOrEqual(x);
        if (up !== x) expect(up === down || nextUp(down) === up).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('overflows to infinity past 65504', () => {
    expect(f16Round(65504, true)).toBe(65504);
    expect(f16Round(65504.5, true)).toBe(Number.POSITIVE_INFINITY);
    expect(f16Round(-70000, false)).toBe(Number.NEGATIVE_INFINITY);
  });
});
