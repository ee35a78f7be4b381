import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodePayload, peekHeader } from './decodePayload.js';
import { encodeFeatures } from './encodeFeatures.js';
import { F16_SCALE_SLACK } from './quantize.js';
import { reconstructFeatures } from './reconstructFeatures.js';
import { selectTopK } from './selectTopK.js';
import { codecErrorCode } from './testing/assertions.js';
import { realisticFeatures, uniformFeatures } from './testing/synthetic.js';
import type { CoderId, DecodedFeatures, FeatureBatch, FeatureEncodeOptions, QuantScope } from './types.js';

const MODEL = { id: 'fmnist-vgg16-p50', hash: `sha256:${'0123456789ABCDEF'.repeat(4)}` };
const CODERS: Array<CoderId | 'auto'> = ['none', 'deflate', 'brotli', 'rans', 'auto'];

const caseArb = fc.record({
  c: fc.integer({ min: 1, max: 64 }),
  h: fc.integer({ min: 1, max: 16 }),
  w: fc.integer({ min: 1, max: 16 }),
  batch: fc.integer({ min: 1, max: 8 }),
  bits: fc.integer({ min: 1, max: 8 }),
  keep: fc.oneof(
    fc.record({ ratio: fc.double({ min: 0.001, max: 1, noNaN: true }) }),
    fc.record({ count: fc.integer({ min: 1, max: 256 }) }),
  ),
  scope: fc.constantFrom<QuantScope>('channel', 'tensor'),
  data: fc.constantFrom('realistic', 'uniform', 'ties', 'huge'),
  seed: fc.integer({ min: 0, max: 1000 }),
  point: fc.integer({ min: 0, max: 255 }),
  variant: fc.integer({ min: 0, max: 100 }),
  frame: fc.constantFrom<{ frameVersion: 1 | 2; bottleneck: boolean }>(
    { frameVersion: 1, bottleneck: false },
    { frameVersion: 2, bottleneck: false },
    { frameVersion: 2, bottleneck: true },
  ),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function inputOf(r: Case): FeatureBatch {
  const dims: [number, number, number] = [r.c, r.h, r.w];
  const input =
    r.data === 'uniform' ? uniformFeatures(dims, r.batch, r.seed) : realisticFeatures(dims, r.batch, r.seed);
  if (r.data === 'ties')
    for (let i = 0; i < input.attention.length; i++)
      input.attention[i] = Math.round((input.attention[i] as number) * 3) / 3;
  if (r.data === 'huge')
    for (let i = 0; i < input.features.length; i++) input.features[i] = (input.features[i] as number) * 1e7 - 3e6;
  return input;
}

function optionsOf(r: Case, coder: CoderId | 'auto'): FeatureEncodeOptions {
  const base = {
    model: MODEL,
    point: r.point,
    variant: r.variant / 100,
    bits: r.bits,
    coder,
    quantScope: r.scope,
    ...r.frame,
  };
  return 'ratio' in r.keep
    ? { ...base, keep: r.keep.ratio }
    : { ...base, keepCount: Math.min(r.keep.count, r.h * r.w) };
}

/** Checks a decoded payload against the input, independently of the encoder's internals. */
function checkAgainstInput(input: FeatureBatch, d: DecodedFeatures, bits: number): void {
  const [c, h, w] = input.dims;
  const hw = h * w;
  const k = d.header.keepCount;
  const levels = (1 << bits) - 1;
  const perItem = c * k;
  const groupSize = d.header.quantScope === 'channel' ? k : perItem;
  for (let n = 0; n < input.batch; n++) {
    const mask = selectTopK(input.attention, hw, k, n * hw);
    expect(d.mask.subarray(n * hw, (n + 1) * hw)).toEqual(mask);
    const kept: number[] = [];
    for (let i = 0; i < hw; i++) if (mask[i]) kept.push(i);
    const original = new Float64Array(perItem);
    for (let ch = 0; ch < c; ch++)
      for (let j = 0; j < k; j++)
        original[ch * k + j] = input.features[(n * c + ch) * hw + (kept[j] as number)] as number;
    for (let g0 = 0; g0 < perItem; g0 += groupSize) {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let i = g0; i < g0 + groupSize; i++) {
        lo = Math.min(lo, original[i] as number);
        hi = Math.max(hi, original[i] as number);
      }
      const scaleBound = ((hi - lo) / levels) * F16_SCALE_SLACK * (1 + 2 ** -22) + 2 ** -149;
      for (let i = g0; i < g0 + groupSize; i++) {
        const x = original[i] as number;
        const y = d.values[n * perItem + i] as number;
        expect(Math.abs(y - x)).toBeLessThanOrEqual(
          scaleBound / 2 + 2 ** -23 * Math.max(Math.abs(x), Math.abs(y)) + 2 ** -149,
        );
      }
    }
  }
}

describe('encodeFeatures / decodePayload', () => {
  it('round-trips random shapes, k, bits, scopes and batches with every coder', () => {
    fc.assert(
      fc.property(caseArb, (r) => {
        const input = inputOf(r);
        let first: DecodedFeatures | undefined;
        for (const coder of CODERS) {
          const payload = encodeFeatures(input, optionsOf(r, coder));
          const d = decodePayload(payload);
          if (d.kind !== 'features') throw new Error('expected a features payload');
          const hdr = d.header;
          expect(peekHeader(payload)).toEqual(hdr);
          const v1 = r.frame.frameVersion === 1;
          expect(hdr).toMatchObject({
            version: r.frame.frameVersion,
            kind: 'features',
            bottleneck: r.frame.bottleneck,
            modelId: v1 ? MODEL.id : undefined,
            modelHash: MODEL.hash.toLowerCase().slice(0, 7 + (v1 ? 16 : 8)),
            point: r.point,
            variant: r.variant / 100,
            bits: r.bits,
            quantScope: r.scope,
            dims: [r.c, r.h, r.w],
            batch: r.batch,
            valueCount: r.batch * r.c * hdr.keepCount,
            bodyBytes: payload.length - hdr.headerBytes,
          });
          if (coder !== 'auto') expect(hdr.coder).toBe(coder);
          if (coder === 'none') expect(hdr.bodyBytes).toBe(hdr.rawBodyBytes);
          expect(hdr.hasBitmap).toBe(hdr.keepCount < r.h * r.w);
          if (first === undefined) {
            checkAgainstInput(input, d, r.bits);
            first = d;
          } else {
            // every coder carries the same body
            expect(d.mask).toEqual(first.mask);
            expect(d.values).toEqual(first.values);
            expect(hdr.paramPrecision).toBe(first.header.paramPrecision);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('writes the compact frame by default: no model id, 4 hash bytes, varint dims, and a header of 24 bytes here', () => {
    const input = realisticFeatures([64, 8, 8], 1, 5);
    const opts = { model: MODEL, point: 2, variant: 0, keep: 0.75, bits: 2, quantScope: 'tensor' as const };
    const v2 = encodeFeatures(input, opts);
    const v1 = encodeFeatures(input, { ...opts, frameVersion: 1 });
    const h2 = peekHeader(v2);
    const h1 = peekHeader(v1);
    expect(h2).toMatchObject({ version: 2, modelId: undefined, modelHash: 'sha256:01234567', bottleneck: false });
    expect(h1).toMatchObject({ version: 1, modelId: MODEL.id, modelHash: 'sha256:0123456789abcdef' });
    // 13 fixed + C, H, W, N (1 byte each) + k = 48 (1 byte) + bodyBytes (2 bytes) + CRC 4
    expect(h2.headerBytes).toBe(24);
    expect(h1.headerBytes).toBe(49 + MODEL.id.length);
    // the same decoded numbers
    const d1 = decodePayload(v1);
    const d2 = decodePayload(v2);
    expect(d2.kind === 'features' && d2.values).toEqual(d1.kind === 'features' && d1.values);
    expect(d2.kind === 'features' && d2.mask).toEqual(d1.kind === 'features' && d1.mask);
  });

  it('rejects the bottleneck flag with frame version 1, and an unknown frame version, with JMDC_ERR_INVALID_ARGUMENT', () => {
    const input = realisticFeatures([4, 2, 2], 1, 5);
    const opts = { model: MODEL, point: 2, variant: 0, bits: 2 };
    expect(codecErrorCode(() => encodeFeatures(input, { ...opts, bottleneck: true, frameVersion: 1 }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(codecErrorCode(() => encodeFeatures(input, { ...opts, frameVersion: 3 as 2 }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(codecErrorCode(() => encodeFeatures(input, { ...opts, bottleneck: 'yes' as unknown as boolean }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(peekHeader(encodeFeatures(input, { ...opts, bottleneck: true })).bottleneck).toBe(true);
  });

  it('picks the smallest body with auto', () => {
    for (const [gen, seed] of [
      [realisticFeatures, 1],
      [uniformFeatures, 2],
    ] as const) {
      const input = gen([32, 8, 8], 2, seed);
      const opts = { model: MODEL, point: 1, variant: 0.5, keep: 0.5, bits: 6 };
      const sizes = (['none', 'deflate', 'rans'] as const).map(
        (coder) => encodeFeatures(input, { ...opts, coder }).length,
      );
      expect(encodeFeatures(input, { ...opts, coder: 'auto' }).length).toBe(Math.min(...sizes));
    }
  });

  it('sends no bitmap when k = H*W and uses float32 parameters when float16 would lose precision', () => {
    const input = realisticFeatures([4, 3, 3], 1, 3);
    const all = decodePayload(encodeFeatures(input, { model: MODEL, point: 0, variant: 0, bits: 8, coder: 'none' }));
    expect(all.header).toMatchObject({ hasBitmap: false, keepCount: 9, rawBodyBytes: 4 * 2 * 2 + 36 });
    for (let i = 0; i < input.features.length; i++) input.features[i] = (input.features[i] as number) + 5000.3;
    const shifted = decodePayload(encodeFeatures(input, { model: MODEL, point: 0, variant: 0, bits: 8, keepCount: 4 }));
    expect(shifted.header).toMatchObject({ hasBitmap: true, paramPrecision: 'f32' });
  });
});

describe('reconstructFeatures', () => {
  it('puts decoded values at kept positions and the per-channel fill elsewhere', () => {
    const input = realisticFeatures([3, 4, 5], 2, 8);
    const d = decodePayload(encodeFeatures(input, { model: MODEL, point: 3, variant: 0.25, keep: 0.3, bits: 6 }));
    if (d.kind !== 'features') throw new Error('expected a features payload');
    const fill = Float32Array.of(-0.81, 0.5, 2);
    const dense = reconstructFeatures(d, fill);
    const zeros = reconstructFeatures(d);
    const hw = 20;
    let v = 0;
    for (let n = 0; n < 2; n++) {
      for (let ch = 0; ch < 3; ch++) {
        for (let i = 0; i < hw; i++) {
          const at = (n * 3 + ch) * hw + i;
          if (d.mask[n * hw + i]) {
            expect(dense[at]).toBe(
              d.values[n * 3 * d.header.keepCount + ch * d.header.keepCount + (v++ % d.header.keepCount)],
            );
            expect(zeros[at]).toBe(dense[at]);
          } else {
            expect(dense[at]).toBe(fill[ch]);
            expect(zeros[at]).toBe(0);
          }
        }
      }
    }
  });
});
