import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Update } from './crc32.js';

describe('crc32', () => {
  it('matches the CRC-32 check value of "123456789"', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('equals zlib.crc32 and composes over split ranges', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
        const whole = crc32(bytes);
        const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
        expect(crc32Update(crc32Update(0, bytes, 0, at), bytes, at, bytes.length)).toBe(whole);
        expect(whole).toBe(zlib.crc32(bytes));
      }),
      { numRuns: 200 },
    );
  });
});
