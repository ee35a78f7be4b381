import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodePayload, peekHeader } from './decodePayload.js';
import { encodeFeatures } from './encodeFeatures.js';
import { reconstructFeatures } from './reconstructFeatures.js';
import { codecErrorCode } from './testing/assertions.js';
import { realisticFeatures } from './testing/synthetic.js';
import type { CoderId, FeatureBatch, FeatureEncodeOptions } from './types.js';

const MODEL = { id: 'fmnist-vgg16', hash: `sha256:${'ab'.repeat(32)}` };
const OPTS: FeatureEncodeOptions = { model: MODEL, point: 2, variant: 0.5, keep: 0.25, bits: 4 };
const input = (): FeatureBatch => realisticFeatures([4, 4, 4], 2, 1);
const code = (batch: FeatureBatch, opts: Partial<FeatureEncodeOptions>) =>
  codecErrorCode(() => encodeFeatures(batch, { ...OPTS, ...opts } as FeatureEncodeOptions));

describe('encodeFeatures input validation', () => {
  it('accepts the baseline input', () => {
    expect(code(input(), {})).toBeUndefined();
  });

  it('rejects NaN or infinite features and attention with JMDC_ERR_NON_FINITE', () => {
    const a = input();
    a.features[17] = Number.NaN;
    expect(code(a, {})).toBe(ErrorCodes.NON_FINITE);
    const b = input();
    b.features[0] = Number.NEGATIVE_INFINITY;
    expect(code(b, {})).toBe(ErrorCodes.NON_FINITE);
    const c = input();
    c.attention[3] = Number.POSITIVE_INFINITY;
    expect(code(c, {})).toBe(ErrorCodes.NON_FINITE);
  });

  it('rejects lengths that do not match dims and batch with JMDC_ERR_SHAPE_MISMATCH', () => {
    const base = input();
    expect(code({ ...base, features: base.features.subarray(1) }, {})).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(code({ ...base, attention: new Float32Array(33) }, {})).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(code({ ...base, batch: 3 }, {})).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(code({ ...base, dims: [4, 4, 2] }, {})).toBe(ErrorCodes.SHAPE_MISMATCH);
  });

  it('rejects invalid dims, batch and options with JMDC_ERR_INVALID_ARGUMENT', () => {
    const base = input();
    const cases: Array<[FeatureBatch, Partial<FeatureEncodeOptions>]> = [
      [base, { bits: 0 }],
      [base, { bits: 9 }],
      [base, { bits: 2.5 }],
      [base, { keep: 0 }],
      [base, { keep: 1.5 }],
      [base, { keep: Number.NaN }],
      [base, { keep: undefined, keepCount: 0 }],
      [base, { keep: undefined, keepCount: 17 }],
      [base, { keep: 0.5, keepCount: 8 }],
      [base, { coder: 'zip' as CoderId }],
      [base, { quantScope: 'row' as 'channel' }],
      [base, { point: 256 }],
      [base, { point: -1 }],
      [base, { variant: 1.5 }],
      [base, { model: { id: '', hash: MODEL.hash } }],
      [base, { model: { id: 'x'.repeat(65), hash: MODEL.hash } }],
      [base, { model: { id: 'm', hash: 'sha256:abc' } }],
      [base, { model: { id: 'm', hash: `sha1:${'ab'.repeat(32)}` } }],
      [{ ...base, batch: 0, features: new Float32Array(0), attention: new Float32Array(0) }, {}],
      [{ ...base, dims: [0, 4, 4] as const }, {}],
      [{ ...base, dims: [4, 4, 70000] as const }, {}],
      [{ ...base, dims: [4, 4] as unknown as [number, number, number] }, {}],
      [{ ...base, features: Array.from(base.features) as unknown as Float32Array }, {}],
    ];
    for (const [batch, opts] of cases)
      expect([JSON.stringify(opts), code(batch, opts)]).toEqual([JSON.stringify(opts), ErrorCodes.INVALID_ARGUMENT]);
  });

  it('stores the variant as a whole percent', () => {
    const p = encodeFeatures(input(), { ...OPTS, variant: 0.333 });
    expect(peekHeader(p).variant).toBe(0.33);
  });
});

describe('decode-side argument validation', () => {
  const payload = encodeFeatures(input(), OPTS);

  it('rejects invalid limits and expected hashes with JMDC_ERR_INVALID_ARGUMENT', () => {
    expect(codecErrorCode(() => decodePayload(payload, { limits: { maxBatch: 0 } }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codecErrorCode(() => decodePayload(payload, { limits: { maxSide: 1.5 } }))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
    expect(codecErrorCode(() => decodePayload(payload, { expectModelHash: 'abc' }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codecErrorCode(() => decodePayload(Array.from(payload) as unknown as Uint8Array))).toBe(
      ErrorCodes.INVALID_ARGUMENT,
    );
  });

  it('compares the expected model hash case-insensitively and applies lowered limits', () => {
    expect(
      codecErrorCode(() =>
        decodePayload(payload, { expectModelHash: MODEL.hash.toUpperCase().replace('SHA256', 'sha256') }),
      ),
    ).toBeUndefined();
    expect(codecErrorCode(() => decodePayload(payload, { limits: { maxBatch: 1 } }))).toBe(
      ErrorCodes.BATCH_OUT_OF_RANGE,
    );
    expect(codecErrorCode(() => decodePayload(payload, { limits: { maxChannels: 3 } }))).toBe(
      ErrorCodes.DIMS_OUT_OF_RANGE,
    );
    expect(codecErrorCode(() => decodePayload(payload, { limits: { maxPayloadBytes: payload.length - 1 } }))).toBe(
      ErrorCodes.PAYLOAD_TOO_LARGE,
    );
    expect(codecErrorCode(() => decodePayload(payload, { limits: { maxDecodedBytes: 2 * 4 * 16 * 4 - 1 } }))).toBe(
      ErrorCodes.DECODED_TOO_LARGE,
    );
  });

  it('rejects a fill of the wrong length or with NaN in reconstructFeatures', () => {
    const d = decodePayload(payload);
    if (d.kind !== 'features') throw new Error('expected a features payload');
    expect(codecErrorCode(() => reconstructFeatures(d, new Float32Array(3)))).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(codecErrorCode(() => reconstructFeatures(d, Float32Array.of(0, 0, Number.NaN, 0)))).toBe(
      ErrorCodes.NON_FINITE,
    );
    expect(codecErrorCode(() => reconstructFeatures({ ...d, values: d.values.subarray(1) }))).toBe(
      ErrorCodes.SHAPE_MISMATCH,
    );
  });
});
