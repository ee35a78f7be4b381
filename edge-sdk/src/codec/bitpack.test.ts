import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { packBits, packedBytes, unpackBits } from './bitpack.js';
import { codecErrorCode } from './testing/assertions.js';

const codesArb = fc.integer({ min: 1, max: 8 }).chain((bits) =>
  fc.tuple(
    fc.constant(bits),
    fc.array(fc.integer({ min: 0, max: (1 << bits) - 1 }), { maxLength: 200 }).map((a) => Uint8Array.from(a)),
  ),
);

describe('bit packing', () => {
  it('packs LSB-first: code i at stream bits [i*b, (i+1)*b)', () => {
    expect(Array.from(packBits(Uint8Array.of(1, 2, 3), 4))).toEqual([0x21, 0x03]);
    expect(Array.from(packBits(Uint8Array.of(1, 0, 1, 1, 0, 0, 0, 0, 1), 1))).toEqual([0b00001101, 0b1]);
    expect(Array.from(packBits(Uint8Array.of(5, 7, 1), 3))).toEqual([0b0_1_111_101, 0b0]);
    expect(Array.from(packBits(Uint8Array.of(0x3f, 0x01), 6))).toEqual([0x7f, 0x00]);
  });

  it('round-trips any codes for b in 1..8', () => {
    fc.assert(
      fc.property(codesArb, ([bits, codes]) => {
        const packed = packBits(codes, bits);
        expect(packed.length).toBe(packedBytes(codes.length, bits));
        expect(unpackBits(packed, bits, codes.length)).toEqual(codes);
      }),
      { numRuns: 300 },
    );
  });

  it('packs at an offset into a larger buffer', () => {
    const out = new Uint8Array(5).fill(0xee);
    packBits(Uint8Array.of(3, 1, 2), 2, out, 2);
    expect(Array.from(out)).toEqual([0xee, 0xee, 0b10_01_11, 0xee, 0xee]);
    expect(Array.from(unpackBits(out, 2, 3, 2))).toEqual([3, 1, 2]);
  });

  it('rejects input shorter than its count with JMDC_ERR_CORRUPT_BODY', () => {
    expect(codecErrorCode(() => unpackBits(Uint8Array.of(0xff), 4, 3))).toBe(ErrorCodes.CORRUPT_BODY);
  });

  it('rejects nonzero padding bits with JMDC_ERR_CORRUPT_BODY', () => {
    expect(codecErrorCode(() => unpackBits(Uint8Array.of(0x21, 0x13), 4, 3))).toBe(ErrorCodes.CORRUPT_BODY);
    expect(codecErrorCode(() => unpackBits(Uint8Array.of(0xff, 0x80), 3, 5))).toBe(ErrorCodes.CORRUPT_BODY);
  });

  it('rejects bits outside 1..8 with JMDC_ERR_INVALID_ARGUMENT', () => {
    expect(codecErrorCode(() => packBits(Uint8Array.of(1), 0))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codecErrorCode(() => unpackBits(Uint8Array.of(1), 9, 1))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});
