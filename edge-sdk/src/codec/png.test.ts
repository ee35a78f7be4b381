import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { concatBytes } from './bytes.js';
import { decodePng, encodePng } from './png.js';
import { codecErrorCode } from './testing/assertions.js';
import { pngChunk, pngFromFiltered } from './testing/malformed.js';
import { prng, syntheticImages } from './testing/synthetic.js';

/** Applies PNG filter `f` to grayscale rows (bpp 1), the reference used to build decoder inputs. */
function filterRows(img: Uint8Array, w: number, h: number, filters: number[]): Uint8Array {
  const out = new Uint8Array(h * (w + 1));
  const at = (x: number, y: number) => (x < 0 || y < 0 ? 0 : (img[y * w + x] as number));
  for (let y = 0; y < h; y++) {
    const f = filters[y % filters.length] as number;
    out[y * (w + 1)] = f;
    for (let x = 0; x < w; x++) {
      const a = at(x - 1, y);
      const b = at(x, y - 1);
      const c = at(x - 1, y - 1);
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f] as number;
      out[y * (w + 1) + 1 + x] = ((img[y * w + x] as number) - pred) & 0xff;
    }
  }
  return out;
}

describe('png', () => {
  it('round-trips planar images with 1..4 channels exactly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer(),
        fc.boolean(),
        (c, h, w, seed, noisy) => {
          const rand = prng(seed);
          const img = noisy
            ? Uint8Array.from({ length: c * h * w }, () => Math.floor(rand() * 256))
            : syntheticImages([c, h, w], 1, seed);
          expect(decodePng(encodePng(img, c, h, w), c, h, w)).toEqual(img);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('decodes every filter type (None, Sub, Up, Average, Paeth), mixed per row', () => {
    const w = 7;
    const h = 10;
    const rand = prng(77);
    const img = Uint8Array.from({ length: w * h }, () => Math.floor(rand() * 256));
    for (const filters of [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0]]) {
      const png = pngFromFiltered(w, h, 0, filterRows(img, w, h, filters));
      expect(decodePng(png, 1, h, w)).toEqual(img);
    }
  });

  it('accepts split IDAT chunks and skips ancillary chunks', () => {
    const img = syntheticImages([1, 4, 4], 1, 3);
    const png = encodePng(img, 1, 4, 4);
    // rebuild with a tEXt chunk and the IDAT data split in two
    const idatStart = 8 + 25;
    const idatLen = new DataView(png.buffer, png.byteOffset).getUint32(idatStart);
    const z = png.subarray(idatStart + 8, idatStart + 8 + idatLen);
    const out = concatBytes([
      png.subarray(0, idatStart),
      pngChunk('tEXt', new TextEncoder().encode('Comment\0jmdc')),
      pngChunk('IDAT', z.subarray(0, 3)),
      pngChunk('IDAT', z.subarray(3)),
      pngChunk('IEND', new Uint8Array(0)),
    ]);
    expect(decodePng(out, 1, 4, 4)).toEqual(img);
  });

  it('rejects defects with JMDC_ERR_CORRUPT_BODY', () => {
    const img = syntheticImages([1, 4, 4], 1, 3);
    const good = encodePng(img, 1, 4, 4);
    const corrupt = (bytes: Uint8Array, c = 1, h = 4, w = 4) => codecErrorCode(() => decodePng(bytes, c, h, w));
    const flip = (at: number) => {
      const b = good.slice();
      b[at] = (b[at] as number) ^ 1;
      return b;
    };
    const withTail = new Uint8Array(good.length + 1);
    withTail.set(good);
    const rows = new Uint8Array(4 * 5);
    expect(corrupt(flip(0))).toBe(ErrorCodes.CORRUPT_BODY); // signature
    expect(corrupt(flip(20))).toBe(ErrorCodes.CORRUPT_BODY); // IHDR data, CRC now wrong
    expect(corrupt(good, 1, 4, 5)).toBe(ErrorCodes.CORRUPT_BODY); // size differs
    expect(corrupt(good, 3, 4, 4)).toBe(ErrorCodes.CORRUPT_BODY); // color type differs
    expect(corrupt(good.subarray(0, good.length - 12))).toBe(ErrorCodes.CORRUPT_BODY); // no IEND
    expect(corrupt(withTail)).toBe(ErrorCodes.CORRUPT_BODY); // bytes after IEND
    expect(corrupt(pngFromFiltered(4, 4, 0, rows.fill(5)))).toBe(ErrorCodes.CORRUPT_BODY); // filter type 5
    expect(corrupt(pngFromFiltered(4, 4, 0, new Uint8Array(4 * 5 - 1)))).toBe(ErrorCodes.CORRUPT_BODY); // short data
    expect(
      corrupt(pngFromFiltered(4, 4, 0, new Uint8Array(4 * 5), [pngChunk('abCD', new Uint8Array(0)).fill(0x41, 4, 5)])),
    ).toBe(ErrorCodes.CORRUPT_BODY); // chunk CRC mismatch after renaming
    expect(corrupt(pngFromFiltered(4, 4, 0, new Uint8Array(4 * 5), [pngChunk('ZZZZ', new Uint8Array(1))]))).toBe(
      ErrorCodes.CORRUPT_BODY,
    ); // unknown critical
    const interlaced = pngFromFiltered(4, 4, 0, new Uint8Array(4 * 5));
    interlaced.set(pngChunk('IHDR', Uint8Array.of(0, 0, 0, 4, 0, 0, 0, 4, 8, 0, 0, 0, 1)), 8);
    expect(corrupt(interlaced)).toBe(ErrorCodes.CORRUPT_BODY);
  });

  it('never throws anything but a CodecError on random bytes after the signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (tail) => {
        const bytes = new Uint8Array(8 + tail.length);
        bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        bytes.set(tail, 8);
        expect(codecErrorCode(() => decodePng(bytes, 1, 2, 2))).toBe(ErrorCodes.CORRUPT_BODY);
      }),
      { numRuns: 300 },
    );
  });
});
