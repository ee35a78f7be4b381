/**
 * Bit packing of b-bit codes, LSB-first: code i occupies bits [i*b, (i+1)*b) of the stream, and stream
 * bit j is bit (j mod 8) of byte floor(j / 8) (bit 0 = least significant). The last byte is zero-padded.
 * The kept-position bitmap uses the same order with b = 1.
 */
import { CodecError, ErrorCodes } from '../errors.js';

/**
 * Bytes needed for `count` codes of `bits` bits.
 *
 * @example
 * ```ts
 * packedBytes(1024, 4); // 512
 * ```
 */
export function packedBytes(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `bits must be an integer 1..8, got ${bits}`, { bits });
  }
}

/**
 * Packs `codes` (each < 2^bits; higher bits are ignored) LSB-first into `out` at `offset`
 * (a new array when `out` is omitted). Returns `out`.
 *
 * @example
 * ```ts
 * packBits(Uint8Array.of(1, 2, 3), 4); // Uint8Array [0x21, 0x03]
 * ```
 */
export function packBits(codes: Uint8Array, bits: number, out?: Uint8Array, offset = 0): Uint8Array {
  checkBits(bits);
  const n = codes.length;
  const bytes = packedBytes(n, bits);
  const dst = out ?? new Uint8Array(bytes);
  if (offset < 0 || offset + bytes > dst.length) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'output buffer too small for packed codes', { offset, bytes });
  }
  if (bits === 8) {
    dst.set(codes, offset);
    return dst;
  }
  let o = offset;
  if (bits === 4) {
    const pairs = n >>> 1;
    for (let j = 0; j < pairs; j++) {
      dst[o++] = ((codes[2 * j] as number) & 15) | (((codes[2 * j + 1] as number) & 15) << 4);
    }
    if (n & 1) dst[o] = (codes[n - 1] as number) & 15;
    return dst;
  }
  const mask = (1 << bits) - 1;
  let acc = 0;
  let have = 0;
  for (let i = 0; i < n; i++) {
    acc |= ((codes[i] as number) & mask) << have;
    have += bits;
    while (have >= 8) {
      dst[o++] = acc & 0xff;
      acc >>>= 8;
      have -= 8;
    }
  }
  if (have > 0) dst[o] = acc & 0xff;
  return dst;
}

/**
 * Unpacks `count` codes of `bits` bits from `src` at `offset` (inverse of {@link packBits}).
 * Throws `CORRUPT_BODY` when `src` is too short or the padding bits of the last byte are not zero.
 *
 * @example
 * ```ts
 * unpackBits(Uint8Array.of(0x21, 0x03), 4, 3); // Uint8Array [1, 2, 3]
 * ```
 */
export function unpackBits(src: Uint8Array, bits: number, count: number, offset = 0, out?: Uint8Array): Uint8Array {
  checkBits(bits);
  const bytes = packedBytes(count, bits);
  if (offset < 0 || offset + bytes > src.length) {
    throw new CodecError(ErrorCodes.CORRUPT_BODY, 'packed codes are shorter than their count', {
      count,
      bits,
      available: src.length - offset,
    });
  }
  const dst = out ?? new Uint8Array(count);
  if (bits === 8) {
    dst.set(src.subarray(offset, offset + count));
    return dst;
  }
  let p = offset;
  let acc = 0;
  let have = 0;
  if (bits === 4) {
    const pairs = count >>> 1;
    for (let j = 0; j < pairs; j++) {
      const b = src[p++] as number;
      dst[2 * j] = b & 15;
      dst[2 * j + 1] = b >>> 4;
    }
    if (count & 1) {
      const b = src[p] as number;
      dst[count - 1] = b & 15;
      acc = b >>> 4;
    }
  } else {
    const mask = (1 << bits) - 1;
    for (let i = 0; i < count; i++) {
      while (have < bits) {
        acc |= (src[p++] as number) << have;
        have += 8;
      }
      dst[i] = acc & mask;
      acc >>>= bits;
      have -= bits;
    }
  }
  if (acc !== 0)
    throw new CodecError(ErrorCodes.CORRUPT_BODY, 'nonzero padding bits after packed codes', { bits, count });
  return dst;
}
