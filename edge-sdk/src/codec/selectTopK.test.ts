import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { keepCountFor, selectTopK } from './selectTopK.js';
import { codecErrorCode } from './testing/assertions.js';

/** Reference: sort indices by (attention desc, index asc), keep the first k. */
function reference(att: Float32Array, k: number): Uint8Array {
  const idx = Array.from(att, (_, i) => i).sort((a, b) => (att[b] as number) - (att[a] as number) || a - b);
  const mask = new Uint8Array(att.length);
  for (const i of idx.slice(0, k)) mask[i] = 1;
  return mask;
}

describe('selectTopK', () => {
  it('keeps the k highest positions, ties to the lower index', () => {
    expect(Array.from(selectTopK(Float32Array.of(0.1, 0.9, 0.5, 0.9), 4, 2))).toEqual([0, 1, 0, 1]);
    expect(Array.from(selectTopK(Float32Array.of(0.5, 0.5, 0.5, 0.5), 4, 3))).toEqual([1, 1, 1, 0]);
    expect(Array.from(selectTopK(Float32Array.of(-0, 0, 1, -1), 4, 2))).toEqual([1, 0, 1, 0]);
  });

  it('matches a sort-based reference on random maps with many ties', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 256 }),
        fc.nat(),
        (levels, kSeed) => {
          const att = Float32Array.from(levels, (v) => v / 4);
          const k = 1 + (kSeed % att.length);
          const mask = selectTopK(att, att.length, k);
          expect(mask).toEqual(reference(att, k));
          expect(mask.reduce((s, v) => s + v, 0)).toBe(k);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads one item at an offset', () => {
    const att = Float32Array.of(9, 9, 9, 0.2, 0.1, 0.3);
    expect(Array.from(selectTopK(att, 3, 1, 3))).toEqual([0, 0, 1]);
  });

  it('computes k like the Python pipeline: max(1, ceil(keep * H * W))', () => {
    expect(keepCountFor(0.25, 8, 8)).toBe(16);
    expect(keepCountFor(1, 7, 3)).toBe(21);
    expect(keepCountFor(0.001, 4, 4)).toBe(1);
    expect(keepCountFor(0.1, 5, 6)).toBe(Math.ceil(0.1 * 5 * 6));
  });

  it('rejects k outside 1..hw and keep outside (0, 1] with JMDC_ERR_INVALID_ARGUMENT', () => {
    expect(codecErrorCode(() => selectTopK(new Float32Array(4), 4, 0))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codecErrorCode(() => selectTopK(new Float32Array(4), 4, 5))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codecErrorCode(() => keepCountFor(0, 4, 4))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codecErrorCode(() => keepCountFor(1.01, 4, 4))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});
