import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, ErrorCodes } from '../errors.js';
import { decodePayload, peekHeader } from './decodePayload.js';
import { codecErrorCode } from './testing/assertions.js';
import {
  amplificationPayload,
  CORPUS_EXPECT,
  CORPUS_LAYOUTS,
  CORPUS_MODEL,
  constantFeaturesPayload,
  fixCrc,
  joinV2,
  malformedCorpus,
  splitV2,
  validFeaturesPayload,
  validRawPayload,
} from './testing/malformed.js';

const corpus = malformedCorpus();

/** Codes a corrupted frame may raise (everything the wire can cause, none of the caller-argument codes). */
const WIRE_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCodes.PAYLOAD_TRUNCATED,
  ErrorCodes.BAD_MAGIC,
  ErrorCodes.UNSUPPORTED_VERSION,
  ErrorCodes.BAD_HEADER,
  ErrorCodes.DIMS_OUT_OF_RANGE,
  ErrorCodes.BATCH_OUT_OF_RANGE,
  ErrorCodes.COUNT_MISMATCH,
  ErrorCodes.DECODED_TOO_LARGE,
  ErrorCodes.CHECKSUM_MISMATCH,
  ErrorCodes.BAD_CODER,
  ErrorCodes.CORRUPT_BODY,
  ErrorCodes.TRAILING_BYTES,
  ErrorCodes.NON_FINITE,
]);

const VALID: Array<[string, Uint8Array]> = [
  ['features none', validFeaturesPayload('none')],
  ['features deflate', validFeaturesPayload('deflate')],
  ['features brotli', validFeaturesPayload('brotli')],
  ['features rans', validFeaturesPayload('rans')],
  ['features rans f32 parameters', validFeaturesPayload('rans', 7, 1e6)],
  ['raw png', validRawPayload('png')],
  ['raw raw', validRawPayload('raw')],
  ['raw deflate', validRawPayload('deflate')],
  ['v2 features none', validFeaturesPayload('none', 4, 1, 2)],
  ['v2 features deflate', validFeaturesPayload('deflate', 4, 1, 2)],
  ['v2 features brotli', validFeaturesPayload('brotli', 4, 1, 2)],
  ['v2 features rans', validFeaturesPayload('rans', 4, 1, 2)],
  ['v2 features rans f32 parameters', validFeaturesPayload('rans', 7, 1e6, 2)],
  ['v2 features rans tensor scope, 2 bits', validFeaturesPayload('rans', 2, 1, 2, { quantScope: 'tensor' })],
  ['v2 features rans every position kept', validFeaturesPayload('rans', 3, 1, 2, { keep: 1 })],
  ['v2 bottleneck rans', validFeaturesPayload('rans', 2, 1, 2, { bottleneck: true, quantScope: 'tensor' })],
  ['v2 features float32 none', validFeaturesPayload('none', 32, 1, 2)],
  ['v2 features float32 every position kept', validFeaturesPayload('none', 32, 1, 2, { keep: 1 })],
  ['v2 features float32 deflate', validFeaturesPayload('deflate', 32, 1, 2)],
  ['v2 raw png', validRawPayload('png', 2)],
  ['v2 raw raw', validRawPayload('raw', 2)],
  ['v2 raw deflate', validRawPayload('deflate', 2)],
];

describe('malformed payloads', () => {
  it('has a case for every wire error code', () => {
    const codes = new Set(corpus.map((c) => c.code));
    for (const code of [
      ...WIRE_CODES,
      ErrorCodes.PAYLOAD_TOO_LARGE,
      ErrorCodes.MODEL_MISMATCH,
      ErrorCodes.WRONG_POINT,
      ErrorCodes.UNKNOWN_VARIANT,
      ErrorCodes.SHAPE_MISMATCH,
      ErrorCodes.INVALID_FEATURES,
    ]) {
      expect(codes.has(code)).toBe(true);
    }
    expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
  });

  it.each(corpus.map((c) => [c.name, c] as const))('rejects %s with its code', (_, c) => {
    expect(codecErrorCode(() => decodePayload(c.bytes, c.options))).toBe(c.code);
  });

  it.each(
    corpus.map((c) => [c.name, c] as const),
  )('rejects %s with the same code when the receiver checks the corpus model’s id, layouts and bound', (_, c) => {
    // what a tail function of the corpus model does: its own expectations always apply
    expect(codecErrorCode(() => decodePayload(c.bytes, { ...CORPUS_EXPECT, ...c.options }))).toBe(c.code);
  });

  it.each(VALID)('decodes the valid %s payload', (_, bytes) => {
    expect(codecErrorCode(() => decodePayload(bytes))).toBeUndefined();
  });

  it.each(
    VALID,
  )('rejects the %s payload truncated at every byte offset with JMDC_ERR_PAYLOAD_TRUNCATED', (_, bytes) => {
    for (let len = 0; len < bytes.length; len++) {
      expect([len, codecErrorCode(() => decodePayload(bytes.subarray(0, len)))]).toEqual([
        len,
        ErrorCodes.PAYLOAD_TRUNCATED,
      ]);
    }
  });

  it.each(
    VALID,
  )('rejects every single-bit flip of the %s payload with a wire code (body flips: checksum)', (_, bytes) => {
    const headerBytes = peekHeader(bytes).headerBytes;
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const bad = bytes.slice();
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
      const code = codecErrorCode(() => decodePayload(bad));
      if (bit >> 3 >= headerBytes) expect([bit, code]).toEqual([bit, ErrorCodes.CHECKSUM_MISMATCH]);
      else expect([bit, code !== undefined && WIRE_CODES.has(code)]).toEqual([bit, true]);
    }
  });

  it('raises only wire codes on random bytes behind a valid magic and version', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2), fc.uint8Array({ maxLength: 200 }), (version, tail) => {
        const bytes = new Uint8Array(5 + tail.length);
        bytes.set([0x4a, 0x4d, 0x44, 0x43, version]);
        bytes.set(tail, 5);
        const code = codecErrorCode(() => decodePayload(bytes));
        expect(code !== undefined && WIRE_CODES.has(code)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('raises only wire codes on random edits of a valid header with a recomputed checksum', () => {
    const base = validFeaturesPayload('rans');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 4, max: 72 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const bad = base.slice();
          for (const [at, v] of edits) bad[at] = v;
          fixCrc(bad);
          const code = codecErrorCode(() => decodePayload(bad));
          expect(code === undefined || WIRE_CODES.has(code)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('raises only wire codes on random edits of a valid version 2 header and varints with a recomputed checksum', () => {
    const base = validFeaturesPayload('rans', 4, 1, 2);
    const parts = splitV2(base);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 4, max: 12 }), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.uint8Array({ maxLength: 12 }),
        (edits, varintBytes) => {
          const fixed = parts.fixed.slice();
          for (const [at, v] of edits) fixed[at] = v;
          const bad = joinV2({ fixed, varints: varintBytes, body: parts.body });
          const code = codecErrorCode(() => decodePayload(bad));
          expect(code === undefined || WIRE_CODES.has(code)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('says UNSUPPORTED_VERSION for a version 2 frame to a reader of version 1 only (same magic and version offset)', () => {
    const v2 = validFeaturesPayload('rans', 4, 1, 2);
    expect(Array.from(v2.subarray(0, 5))).toEqual([0x4a, 0x4d, 0x44, 0x43, 2]);
    expect(codecErrorCode(() => decodePayload(Uint8Array.of(0x4a, 0x4d, 0x44, 0x43, 3)))).toBe(
      ErrorCodes.UNSUPPORTED_VERSION,
    );
  });

  it('matches a bottleneck code only against bottleneck layouts, and plain features only against plain ones', () => {
    const code = validFeaturesPayload('rans', 2, 1, 2, { bottleneck: true });
    const plain = validFeaturesPayload('rans', 2, 1, 2);
    const bottleneckLayout = { kind: 'features', variant: 0.5, dims: [8, 4, 4], bottleneck: true } as const;
    const plainLayout = { kind: 'features', variant: 0.5, dims: [8, 4, 4] } as const;
    expect(peekHeader(code, { expectLayouts: [plainLayout, bottleneckLayout] }).bottleneck).toBe(true);
    expect(peekHeader(plain, { expectLayouts: [bottleneckLayout, plainLayout] }).bottleneck).toBe(false);
    expect(codecErrorCode(() => decodePayload(code, { expectLayouts: [plainLayout] }))).toBe(
      ErrorCodes.UNKNOWN_VARIANT,
    );
    expect(codecErrorCode(() => decodePayload(plain, { expectLayouts: [bottleneckLayout] }))).toBe(
      ErrorCodes.UNKNOWN_VARIANT,
    );
    expect(
      codecErrorCode(() =>
        decodePayload(code, { expectLayouts: [plainLayout, { ...bottleneckLayout, dims: [2, 4, 4] }] }),
      ),
    ).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(peekHeader(validFeaturesPayload('rans')).bottleneck).toBe(false); // version 1 has no flag
  });

  it('ignores expectModelId for version 2 frames (they carry no id) but compares their 4-byte hash prefix', () => {
    const bytes = validFeaturesPayload('rans', 4, 1, 2);
    expect(peekHeader(bytes, { expectModelId: 'any-other-id' }).modelId).toBeUndefined();
    expect(peekHeader(bytes).modelHash).toBe(CORPUS_MODEL.hash.slice(0, 7 + 8));
    // equal first 4 bytes: accepted (the prefix is all a version 2 frame carries)
    expect(peekHeader(bytes, { expectModelHash: `${CORPUS_MODEL.hash.slice(0, 15)}${'ab'.repeat(28)}` }).point).toBe(2);
    expect(
      codecErrorCode(() => peekHeader(bytes, { expectModelHash: `sha256:c0ffee01${CORPUS_MODEL.hash.slice(15)}` })),
    ).toBe(ErrorCodes.MODEL_MISMATCH);
  });

  it.each(VALID)('decodes the valid %s payload under the corpus model’s expectations', (name, bytes) => {
    // the float32-parameter sample holds values of about 1e6: beyond the corpus model's bound
    // and the corpus model serves no bottleneck
    const want = name.includes('f32')
      ? ErrorCodes.INVALID_FEATURES
      : name.includes('bottleneck')
        ? ErrorCodes.UNKNOWN_VARIANT
        : undefined;
    expect(codecErrorCode(() => decodePayload(bytes, CORPUS_EXPECT))).toBe(want);
  });

  it('rejects an amplification frame from its dims before touching the body (JMDC_ERR_SHAPE_MISMATCH)', () => {
    // a body that is not even a brotli stream: only a check before inflating answers SHAPE_MISMATCH
    const corruptBody = amplificationPayload('brotli', Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(codecErrorCode(() => decodePayload(corruptBody))).toBe(ErrorCodes.CORRUPT_BODY);
    expect(codecErrorCode(() => decodePayload(corruptBody, CORPUS_EXPECT))).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(codecErrorCode(() => peekHeader(corruptBody, CORPUS_EXPECT))).toBe(ErrorCodes.SHAPE_MISMATCH);
    expect(amplificationPayload('brotli').length).toBeLessThan(200);
  });

  it('compares the model id as well as the hash prefix (JMDC_ERR_MODEL_MISMATCH)', () => {
    const bytes = validFeaturesPayload('rans');
    expect(peekHeader(bytes, { expectModelId: CORPUS_MODEL.id }).modelId).toBe(CORPUS_MODEL.id);
    expect(codecErrorCode(() => decodePayload(bytes, { expectModelId: 'corpus-model-2' }))).toBe(
      ErrorCodes.MODEL_MISMATCH,
    );
  });

  it('bounds dequantized values by maxAbsValue, inclusive (JMDC_ERR_INVALID_FEATURES beyond it)', () => {
    const at = constantFeaturesPayload(CORPUS_EXPECT.maxAbsValue as number);
    const decoded = decodePayload(at, CORPUS_EXPECT);
    if (decoded.kind !== 'features') throw new Error('expected features');
    expect(Math.max(...decoded.values)).toBe(65504);
    expect(codecErrorCode(() => decodePayload(at, { maxAbsValue: 65503 }))).toBe(ErrorCodes.INVALID_FEATURES);
    expect(codecErrorCode(() => decodePayload(constantFeaturesPayload(-1e38)))).toBeUndefined();
    expect(codecErrorCode(() => decodePayload(constantFeaturesPayload(-1e38), { maxAbsValue: 1e37 }))).toBe(
      ErrorCodes.INVALID_FEATURES,
    );
    for (const bad of [0, -1, Number.NaN, '1' as unknown as number]) {
      expect(codecErrorCode(() => decodePayload(at, { maxAbsValue: bad }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });

  it('accepts each layout of the corpus model and names the kind, variant or dims that differ', () => {
    const raw = validRawPayload('raw');
    expect(peekHeader(raw, { expectLayouts: CORPUS_LAYOUTS }).dims).toEqual([1, 6, 5]);
    expect(codecErrorCode(() => peekHeader(raw, { expectLayouts: [] }))).toBe(ErrorCodes.WRONG_POINT);
    expect(
      codecErrorCode(() =>
        peekHeader(validFeaturesPayload('none'), {
          expectLayouts: [{ kind: 'features', variant: 0.5, dims: [8, 4] as never }],
        }),
      ),
    ).toBe(ErrorCodes.SHAPE_MISMATCH);
  });

  it('peekHeader validates the header without the body or checksum', () => {
    const bytes = validFeaturesPayload('rans');
    const hb = peekHeader(bytes).headerBytes;
    expect(peekHeader(bytes.subarray(0, hb)).batch).toBe(2);
    const flipped = bytes.slice();
    flipped[bytes.length - 1] = (flipped[bytes.length - 1] as number) ^ 1;
    expect(codecErrorCode(() => peekHeader(flipped))).toBeUndefined();
    expect(codecErrorCode(() => decodePayload(flipped))).toBe(ErrorCodes.CHECKSUM_MISMATCH);
    expect(codecErrorCode(() => peekHeader(bytes, { expectPoint: 3 }))).toBe(ErrorCodes.WRONG_POINT);
    expect(codecErrorCode(() => peekHeader(bytes.subarray(0, hb - 1)))).toBe(ErrorCodes.PAYLOAD_TRUNCATED);
  });
});
