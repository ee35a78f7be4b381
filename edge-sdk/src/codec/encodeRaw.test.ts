import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodePayload } from './decodePayload.js';
import { encodeRaw, rawPayloadBytes } from './encodeRaw.js';
import { codecErrorCode } from './testing/assertions.js';
import { prng, syntheticImages } from './testing/synthetic.js';
import type { RawFormat } from './types.js';

const MODEL = { id: 'fmnist-vgg16', hash: `sha256:${'ab'.repeat(32)}` };

describe('encodeRaw / decodePayload', () => {
  it('round-trips image batches exactly in every format', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<RawFormat>('raw', 'png', 'deflate'),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer(),
        fc.boolean(),
        (format, c, h, w, batch, seed, noisy) => {
          const rand = prng(seed);
          const images = noisy
            ? Uint8Array.from({ length: batch * c * h * w }, () => Math.floor(rand() * 256))
            : syntheticImages([c, h, w], batch, seed);
          const payload = encodeRaw(images, [c, h, w], batch, { model: MODEL, format });
          const d = decodePayload(payload);
          if (d.kind !== 'raw') throw new Error('expected a raw payload');
          expect(d.images).toEqual(images);
          expect(d.header).toMatchObject({
            kind: 'raw',
            rawFormat: format,
            coder: 'none',
            bits: 8,
            keepCount: 0,
            point: 0,
            dims: [c, h, w],
            batch,
            valueCount: images.length,
            rawBodyBytes: images.length,
          });
        },
      ),
      { numRuns: 120 },
    );
  });

  it('defaults to png and carries more than 4 channels in raw and deflate formats', () => {
    const images = syntheticImages([1, 8, 8], 2, 1);
    expect(decodePayload(encodeRaw(images, [1, 8, 8], 2, { model: MODEL })).header.rawFormat).toBe('png');
    const six = syntheticImages([6, 3, 3], 1, 2);
    for (const format of ['raw', 'deflate'] as const) {
      const d = decodePayload(encodeRaw(six, [6, 3, 3], 1, { model: MODEL, format }));
      expect(d.kind === 'raw' && d.images).toEqual(six);
    }
  });

  it('rejects invalid input with its specific code', () => {
    const images = new Uint8Array(2 * 3 * 4 * 4);
    const code = (fn: () => unknown) => codecErrorCode(fn);
    expect(code(() => encodeRaw(images, [3, 4, 4], 3, { model: MODEL }))).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(code(() => encodeRaw(images, [3, 4, 4], 0, { model: MODEL }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(code(() => encodeRaw(images, [3, 4, 0], 2, { model: MODEL }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(code(() => encodeRaw(new Uint8Array(2 * 5 * 16), [5, 4, 4], 2, { model: MODEL, format: 'png' }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(code(() => encodeRaw(images, [3, 4, 4], 2, { model: MODEL, format: 'jpeg' as RawFormat }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(code(() => encodeRaw(images, [3, 4, 4], 2, { model: { id: 'm', hash: 'md5:00' } }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(code(() => encodeRaw(images, [3, 4, 4], 2, { model: MODEL, frameVersion: 0 as 1 }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
  });

  it('writes the compact frame by default (23 header bytes for a 1x28x28 png) and version 1 on request', () => {
    const image = Uint8Array.from({ length: 28 * 28 }, (_, i) => (i * 7) & 0xff);
    const v2 = decodePayload(encodeRaw(image, [1, 28, 28], 1, { model: MODEL }));
    const v1 = decodePayload(encodeRaw(image, [1, 28, 28], 1, { model: MODEL, frameVersion: 1 }));
    expect(v2.header).toMatchObject({ version: 2, kind: 'raw', modelId: undefined, bottleneck: false });
    expect(v1.header).toMatchObject({ version: 1, kind: 'raw', modelId: MODEL.id });
    // 13 fixed + C, H, W, N (1 byte each) + bodyBytes (2 bytes) + CRC 4
    expect(v2.header.headerBytes).toBe(23);
    expect(v2.kind === 'raw' && v2.images).toEqual(image);
    expect(v1.kind === 'raw' && v1.images).toEqual(image);
  });

  it('rawPayloadBytes is the exact size of a raw-format payload', () => {
    for (const [dims, batch] of [
      [[1, 28, 28], 1],
      [[3, 32, 32], 4],
      [[1, 2, 3], 1],
      [[3, 224, 224], 2],
    ] as Array<[[number, number, number], number]>) {
      const [c, h, w] = dims;
      const bytes = encodeRaw(new Uint8Array(batch * c * h * w), dims, batch, { model: MODEL, format: 'raw' });
      expect(rawPayloadBytes(dims, batch)).toBe(bytes.byteLength);
    }
    expect(rawPayloadBytes([1, 28, 28])).toBe(807);
  });
});
