import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodePayload, peekHeader } from './decodePayload.js';
import { encodeFeatures } from './encodeFeatures.js';
import { FLAG_FLOAT32, frameBytesV2, OFF_V2 } from './header.js';
import { reconstructFeatures } from './reconstructFeatures.js';
import { selectTopK } from './selectTopK.js';
import { codecErrorCode } from './testing/assertions.js';
import { splitV2, validFeaturesPayload, validRawPayload, withBodyV2, withFixedV2 } from './testing/malformed.js';
import { realisticFeatures, uniformFeatures } from './testing/synthetic.js';
import type { CoderId, FeatureBatch } from './types.js';

const MODEL = { id: 'fmnist-vgg16', hash: `sha256:${'ab'.repeat(32)}` };

/** Values a float32 body must carry bit for bit: signed zeros, subnormals, the float32 extremes. */
const SPECIALS = [0, -0, 2 ** -149, -(2 ** -149), 1.1754942e-38, 3.4028234663852886e38, -3.4028234663852886e38, 1 / 3];

function withSpecials(b: FeatureBatch): FeatureBatch {
  for (let i = 0; i < SPECIALS.length && i < b.features.length; i++) b.features[i * 3] = SPECIALS[i] as number;
  return b;
}

describe('float32 features (bits 32)', () => {
  it('round-trips random shapes, keeps, batches and coders exactly (every kept value bit for bit)', () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 1, max: 40 }),
          h: fc.integer({ min: 1, max: 12 }),
          w: fc.integer({ min: 1, max: 12 }),
          batch: fc.integer({ min: 1, max: 5 }),
          keep: fc.double({ min: 0.001, max: 1, noNaN: true }),
          coder: fc.constantFrom<CoderId | 'auto'>('none', 'deflate', 'brotli', 'auto'),
          uniform: fc.boolean(),
          bottleneck: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1000 }),
        }),
        (r) => {
          const dims = [r.c, r.h, r.w] as const;
          const input = withSpecials((r.uniform ? uniformFeatures : realisticFeatures)(dims, r.batch, r.seed));
          const payload = encodeFeatures(input, {
            model: MODEL,
            point: 3,
            variant: 0.25,
            keep: r.keep,
            bits: 32,
            coder: r.coder,
            bottleneck: r.bottleneck,
          });
          const d = decodePayload(payload);
          if (d.kind !== 'features') throw new Error('expected a features payload');
          const hw = r.h * r.w;
          const k = d.header.keepCount;
          expect(peekHeader(payload)).toEqual(d.header);
          expect(d.header).toMatchObject({
            version: 2,
            bits: 32,
            quantScope: 'channel',
            paramPrecision: 'f32',
            bottleneck: r.bottleneck,
            hasBitmap: k < hw,
            valueCount: r.batch * k * r.c,
            // the body before coding: the bitmap (when k < H*W), then 4 bytes per kept value
            rawBodyBytes: (k < hw ? r.batch * Math.ceil(hw / 8) : 0) + 4 * r.batch * k * r.c,
          });
          if (r.coder !== 'auto') expect(d.header.coder).toBe(r.coder);
          expect(d.header.coder).not.toBe('rans');
          const dense = reconstructFeatures(d);
          for (let n = 0; n < r.batch; n++) {
            const mask = selectTopK(input.attention, hw, k, n * hw);
            expect(d.mask.subarray(n * hw, (n + 1) * hw)).toEqual(mask);
            for (let ch = 0; ch < r.c; ch++) {
              for (let i = 0; i < hw; i++) {
                const at = (n * r.c + ch) * hw + i;
                // Object.is: -0 stays -0
                expect(Object.is(dense[at], mask[i] ? input.features[at] : 0)).toBe(true);
              }
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('frames every position of 64x8x8 with coder none in exactly C*H*W*4 body bytes, the values as binary32 LE', () => {
    const input = withSpecials(realisticFeatures([64, 8, 8], 1, 4));
    const payload = encodeFeatures(input, { model: MODEL, point: 2, variant: 0, bits: 32, coder: 'none' });
    const h = peekHeader(payload);
    expect(h).toMatchObject({ bits: 32, hasBitmap: false, keepCount: 64, bodyBytes: 16384, rawBodyBytes: 16384 });
    // 13 fixed + C, H, W, N (1 byte each) + bodyBytes (3 bytes: 16384 >= 2^14) + CRC 4
    expect(h.headerBytes).toBe(24);
    expect(payload.length).toBe(frameBytesV2({ dims: [64, 8, 8], batch: 1, flags: 0, keepCount: 64 }, 16384));
    expect(payload[OFF_V2.flags]).toBe(FLAG_FLOAT32); // no bitmap, no f16, no bottleneck, b - 1 field 0
    expect(((payload[OFF_V2.type] as number) >>> 2) & 0xf).toBe(0); // coder none, scope 0
    const dv = new DataView(payload.buffer, payload.byteOffset + h.headerBytes);
    for (let i = 0; i < input.features.length; i++) {
      expect(Object.is(dv.getFloat32(4 * i, true), input.features[i])).toBe(true);
    }
  });

  it('ignores quantScope: channel and tensor give the same frame', () => {
    const input = realisticFeatures([8, 4, 4], 2, 9);
    const opts = { model: MODEL, point: 2, variant: 0.5, keep: 0.5, bits: 32, coder: 'none' as const };
    expect(encodeFeatures(input, { ...opts, quantScope: 'tensor' })).toEqual(
      encodeFeatures(input, { ...opts, quantScope: 'channel' }),
    );
  });

  it('picks the smallest of none, deflate and brotli with auto (rans does not code float32 values)', () => {
    for (const input of [realisticFeatures([32, 8, 8], 2, 1), uniformFeatures([32, 8, 8], 2, 2)]) {
      const opts = { model: MODEL, point: 1, variant: 0.5, keep: 0.5, bits: 32 };
      const none = encodeFeatures(input, { ...opts, coder: 'none' }).length;
      const deflate = encodeFeatures(input, { ...opts, coder: 'deflate' }).length;
      const auto = encodeFeatures(input, { ...opts, coder: 'auto' });
      expect(auto.length).toBeLessThanOrEqual(Math.min(none, deflate));
      expect(['none', 'deflate', 'brotli']).toContain(peekHeader(auto).coder);
    }
  });

  it('rejects bits 32 with frame version 1 or the rans coder, and other bit depths, with JMDC_ERR_INVALID_ARGUMENT', () => {
    const input = realisticFeatures([4, 2, 2], 1, 5);
    const opts = { model: MODEL, point: 2, variant: 0, bits: 32 };
    expect(codecErrorCode(() => encodeFeatures(input, { ...opts, frameVersion: 1 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codecErrorCode(() => encodeFeatures(input, { ...opts, coder: 'rans' }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    for (const bits of [16, 31, 33, 64]) {
      expect(codecErrorCode(() => encodeFeatures(input, { ...opts, bits }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });

  it('rejects NaN or infinite input features with JMDC_ERR_NON_FINITE, as at every bit depth', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const input = realisticFeatures([4, 2, 2], 1, 5);
      input.features[3] = bad;
      expect(codecErrorCode(() => encodeFeatures(input, { model: MODEL, point: 2, variant: 0, bits: 32 }))).toBe(
        ErrorCodes.NON_FINITE,
      );
    }
  });

  describe('decoding', () => {
    const none = validFeaturesPayload('none', 32, 1, 2);
    const keepAll = validFeaturesPayload('none', 32, 1, 2, { keep: 1 });
    const h = peekHeader(none);
    const valuesAt = h.rawBodyBytes - 4 * h.valueCount; // after the bitmap

    it.each([
      ['NaN', Number.NaN],
      ['+Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
    ])('rejects a %s value in the body with JMDC_ERR_NON_FINITE (checksum fixed)', (_, bad) => {
      for (const [payload, at] of [
        [none, valuesAt],
        [keepAll, 0],
      ] as const) {
        const body = splitV2(payload).body;
        new DataView(body.buffer).setFloat32(at + 4 * 5, bad, true);
        expect(codecErrorCode(() => decodePayload(withBodyV2(payload, body)))).toBe(ErrorCodes.NON_FINITE);
      }
    });

    it('rejects a NaN carried in a deflate body with JMDC_ERR_NON_FINITE', () => {
      const deflate = validFeaturesPayload('deflate', 32, 1, 2);
      const plain = splitV2(none).body;
      new DataView(plain.buffer).setUint32(valuesAt, 0x7fc00001, true); // a quiet NaN with a payload
      expect(codecErrorCode(() => decodePayload(withBodyV2(deflate, new Uint8Array(deflateRawSync(plain)))))).toBe(
        ErrorCodes.NON_FINITE,
      );
    });

    it('bounds values by maxAbsValue, inclusive (JMDC_ERR_INVALID_FEATURES beyond it)', () => {
      const body = splitV2(keepAll).body;
      new DataView(body.buffer).setFloat32(8, 65504, true);
      const at = withBodyV2(keepAll, body);
      expect(codecErrorCode(() => decodePayload(at, { maxAbsValue: 65504 }))).toBeUndefined();
      new DataView(body.buffer).setFloat32(8, -65505, true);
      expect(codecErrorCode(() => decodePayload(withBodyV2(keepAll, body), { maxAbsValue: 65504 }))).toBe(
        ErrorCodes.INVALID_FEATURES,
      );
    });

    it('rejects a body one value short or long with JMDC_ERR_COUNT_MISMATCH, and a cut one with JMDC_ERR_PAYLOAD_TRUNCATED', () => {
      const body = splitV2(keepAll).body;
      expect(codecErrorCode(() => decodePayload(withBodyV2(keepAll, body.slice(0, -4))))).toBe(
        ErrorCodes.COUNT_MISMATCH,
      );
      const longer = new Uint8Array(body.length + 4);
      longer.set(body);
      expect(codecErrorCode(() => decodePayload(withBodyV2(keepAll, longer)))).toBe(ErrorCodes.COUNT_MISMATCH);
      expect(codecErrorCode(() => decodePayload(keepAll.subarray(0, keepAll.length - 1)))).toBe(
        ErrorCodes.PAYLOAD_TRUNCATED,
      );
    });

    it('rejects FLOAT32 with a bit depth, the f16 flag, tensor scope (JMDC_ERR_BAD_HEADER) or rans (JMDC_ERR_BAD_CODER)', () => {
      const flags = none[OFF_V2.flags] as number;
      const type = none[OFF_V2.type] as number;
      expect(codecErrorCode(() => decodePayload(withFixedV2(none, OFF_V2.flags, flags | (3 << 5))))).toBe(
        ErrorCodes.BAD_HEADER,
      );
      expect(codecErrorCode(() => decodePayload(withFixedV2(none, OFF_V2.flags, flags | 0x02)))).toBe(
        ErrorCodes.BAD_HEADER,
      );
      expect(codecErrorCode(() => decodePayload(withFixedV2(none, OFF_V2.type, type | (1 << 4))))).toBe(
        ErrorCodes.BAD_HEADER,
      );
      expect(codecErrorCode(() => decodePayload(withFixedV2(none, OFF_V2.type, type | (3 << 2))))).toBe(
        ErrorCodes.BAD_CODER,
      );
    });

    it('reads the flag on a raw frame as a reserved bit (JMDC_ERR_BAD_HEADER), and without it a float32 body as the wrong size', () => {
      const raw = validRawPayload('raw', 2);
      expect(
        codecErrorCode(() => decodePayload(withFixedV2(raw, OFF_V2.flags, (raw[OFF_V2.flags] as number) | 0x08))),
      ).toBe(ErrorCodes.BAD_HEADER);
      // FLAG_FLOAT32 cleared: a 1-bit quantized frame whose layout does not match the body
      const cleared = withFixedV2(none, OFF_V2.flags, (none[OFF_V2.flags] as number) & ~FLAG_FLOAT32);
      expect(codecErrorCode(() => decodePayload(cleared))).toBe(ErrorCodes.COUNT_MISMATCH);
    });
  });
});
