/**
 * A corpus of malformed payloads, each with the error code the decoder must raise. Shared with the Lambda
 * handler tests, which check that each maps to its HTTP status. Decode each with `decodePayload(bytes,
 * options)` (options only where a case needs the caller's expectations).
 */

import { brotliCompressSync, deflateRawSync, deflateSync } from 'node:zlib';
import { type ErrorCode, ErrorCodes } from '../../errors.js';
import { concatBytes } from '../bytes.js';
import { crc32Update } from '../crc32.js';
import { encodeFeatures } from '../encodeFeatures.js';
import { encodeRaw } from '../encodeRaw.js';
import { FIXED_HEADER_BYTES, featureLayout, frameCrc, OFF, parseModelHash, writeFrame } from '../header.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { CoderId, DecodeOptions, ExpectedLayout, ModelRef } from '../types.js';
import { realisticFeatures, syntheticImages } from './synthetic.js';

/** The model every corpus payload claims. */
export const CORPUS_MODEL = Object.freeze({ id: 'corpus-model', hash: `sha256:${'c0ffee00'.repeat(8)}` });
/** The partition point of every corpus features payload. */
export const CORPUS_POINT = 2;
/** The bound on feature values of the cases that set `maxAbsValue` (the largest binary16 value). */
export const CORPUS_MAX_ABS = 65504;

/**
 * The shapes of the corpus model: what a receiver for {@link CORPUS_MODEL} accepts. Every valid corpus payload
 * matches one (features at {@link CORPUS_POINT}: variant 0.5 of 8x4x4, variant 0 of 3x3x3; raw: 1x6x5 images),
 * so a receiver that checks them reaches the defect each case targets.
 */
export const CORPUS_LAYOUTS: readonly ExpectedLayout[] = Object.freeze([
  { kind: 'features', variant: 0.5, dims: [8, 4, 4] },
  { kind: 'features', variant: 0, dims: [3, 3, 3] },
  { kind: 'raw', variant: 0, dims: [1, 6, 5] },
] as const);

/** What a receiver of the corpus model expects: its hash, id, layouts and value bound. */
export const CORPUS_EXPECT: Readonly<DecodeOptions> = Object.freeze({
  expectModelHash: CORPUS_MODEL.hash,
  expectModelId: CORPUS_MODEL.id,
  expectLayouts: CORPUS_LAYOUTS,
  maxAbsValue: CORPUS_MAX_ABS,
});

export interface MalformedCase {
  name: string;
  bytes: Uint8Array;
  /** The code `decodePayload(bytes, options)` must throw. */
  code: ErrorCode;
  options?: DecodeOptions;
}

/** Valid features payload: 8 channels, 4x4, batch 2, keep 0.5, the given bits and coder. */
export function validFeaturesPayload(coder: CoderId = 'none', bits = 4, scale = 1): Uint8Array {
  const input = realisticFeatures([8, 4, 4], 2, 42);
  if (scale !== 1)
    for (let i = 0; i < input.features.length; i++) input.features[i] = (input.features[i] as number) * scale;
  return encodeFeatures(input, { model: CORPUS_MODEL, point: CORPUS_POINT, variant: 0.5, keep: 0.5, bits, coder });
}

/**
 * A features frame that declares 1024x128x128 (64 MiB of float32, exactly the default `maxDecodedBytes`), every
 * position kept, 8 bits, for `target` (default: the corpus model at its point, variant 50%), with `body` (by default the `coder` stream of its all-zero uncoded body: 95 bytes of
 * brotli or 16 KB of deflate that inflate to 16 MiB and dequantize to 64 MiB). A receiver must reject it from its dims, before
 * inflating.
 */
export function amplificationPayload(
  coder: 'brotli' | 'deflate' = 'brotli',
  body?: Uint8Array,
  target: { model: ModelRef; point: number; variantPercent: number } = {
    model: CORPUS_MODEL,
    point: CORPUS_POINT,
    variantPercent: 50,
  },
): Uint8Array {
  const dims = [1024, 128, 128] as const;
  const layout = featureLayout(dims, 1, 128 * 128, 8, 'channel', false);
  const zeros = (): Uint8Array => new Uint8Array(layout.rawBodyBytes);
  const coded =
    body ?? new Uint8Array(coder === 'brotli' ? brotliCompressSync(zeros()) : deflateRawSync(zeros(), { level: 9 }));
  return writeFrame(
    {
      kind: 'features',
      flags: 0,
      coder,
      mode: 0,
      bits: 8,
      point: target.point,
      variantPercent: target.variantPercent,
      dims,
      batch: 1,
      keepCount: 128 * 128,
      valueCount: 1024 * 128 * 128,
      rawBodyBytes: layout.rawBodyBytes,
      modelId: new TextEncoder().encode(target.model.id),
      modelHash: parseModelHash(target.model.hash),
    },
    coded,
  );
}

/** Valid features payload whose every value is `value` (finite), 8x4x4, batch 2, variant 0.5. */
export function constantFeaturesPayload(value: number, coder: CoderId = 'none'): Uint8Array {
  const input = realisticFeatures([8, 4, 4], 2, 7);
  input.features.fill(value);
  return encodeFeatures(input, { model: CORPUS_MODEL, point: CORPUS_POINT, variant: 0.5, keep: 0.5, bits: 4, coder });
}

/** Valid raw payload: 2 grayscale 6x5 images. */
export function validRawPayload(format: 'raw' | 'png' | 'deflate' = 'png'): Uint8Array {
  return encodeRaw(syntheticImages([1, 6, 5], 2, 3), [1, 6, 5], 2, { model: CORPUS_MODEL, format });
}

function headerBytesOf(p: Uint8Array): number {
  return FIXED_HEADER_BYTES + (p[OFF.modelIdLength] as number);
}

/** Rewrites the CRC so that only the intended defect remains. */
export function fixCrc(p: Uint8Array): Uint8Array {
  new DataView(p.buffer, p.byteOffset, p.byteLength).setUint32(OFF.crc32, frameCrc(p, p.length), true);
  return p;
}

/** A copy of `p` changed by `edit` (given a DataView), with the CRC recomputed unless `keepCrc`. */
export function mutate(p: Uint8Array, edit: (dv: DataView, bytes: Uint8Array) => void, keepCrc = false): Uint8Array {
  const out = p.slice();
  edit(new DataView(out.buffer, out.byteOffset, out.byteLength), out);
  return keepCrc ? out : fixCrc(out);
}

/** An edit for {@link mutate}: `bytes[at] ^= mask` (`at < 0` counts from the end). */
export function xorByte(at: number, mask: number): (dv: DataView, bytes: Uint8Array) => void {
  return (_, b) => {
    const i = at < 0 ? b.length + at : at;
    b[i] = (b[i] as number) ^ mask;
  };
}

/** A copy of `p` with its body replaced (bodyBytes and CRC updated). */
export function withBody(p: Uint8Array, body: Uint8Array): Uint8Array {
  const hb = headerBytesOf(p);
  const out = new Uint8Array(hb + body.length);
  out.set(p.subarray(0, hb));
  out.set(body, hb);
  new DataView(out.buffer).setUint32(OFF.bodyBytes, body.length, true);
  return fixCrc(out);
}

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

/** A PNG chunk with a correct CRC (or a wrong one with `badCrc`). */
export function pngChunk(type: string, data: Uint8Array, badCrc = false): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, (crc32Update(0, out, 4, 8 + data.length) ^ (badCrc ? 1 : 0)) >>> 0);
  return out;
}

/** A grayscale 8-bit PNG built from already-filtered scanlines (filter byte + row), for decoder tests. */
export function pngFromFiltered(
  width: number,
  height: number,
  colorType: number,
  filtered: Uint8Array,
  extra: Uint8Array[] = [],
): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return concat(
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    pngChunk('IHDR', ihdr),
    ...extra,
    pngChunk('IDAT', new Uint8Array(deflateSync(filtered))),
    pngChunk('IEND', new Uint8Array(0)),
  );
}

/** The raw png payload of {@link validRawPayload} with image 0 replaced by `png`. */
function rawPngWith(png: Uint8Array): Uint8Array {
  const base = validRawPayload('png');
  const body = base.subarray(headerBytesOf(base));
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const firstLen = dv.getUint32(0, true);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, png.length, true);
  return withBody(base, concat(len, png, body.subarray(4 + firstLen)));
}

/**
 * Builds the corpus. Every case is a single defect of an otherwise valid payload (CRC recomputed unless
 * the defect is the CRC), so it reaches the check it targets.
 *
 * @example
 * ```ts
 * for (const c of malformedCorpus()) expect(codecErrorCode(() => decodePayload(c.bytes, c.options))).toBe(c.code);
 * ```
 */
export function malformedCorpus(): MalformedCase[] {
  const none = validFeaturesPayload('none');
  const deflate = validFeaturesPayload('deflate');
  const rans = validFeaturesPayload('rans');
  const f32 = validFeaturesPayload('none', 4, 1e6); // values too large for f16 parameters
  const raw = validRawPayload('raw');
  const E = ErrorCodes;
  const hb = headerBytesOf(none);
  const layout = featureLayout([8, 4, 4], 2, 8, 4, 'channel', false);
  const cases: MalformedCase[] = [];
  const add = (name: string, bytes: Uint8Array, code: ErrorCode, options?: DecodeOptions) =>
    cases.push(options === undefined ? { name, bytes, code } : { name, bytes, code, options });

  // framing and size
  add('empty payload', new Uint8Array(0), E.PAYLOAD_TRUNCATED);
  add('two bytes of magic', none.slice(0, 2), E.PAYLOAD_TRUNCATED);
  add('header cut at 40 bytes', none.slice(0, 40), E.PAYLOAD_TRUNCATED);
  add('header cut inside the model id', none.slice(0, FIXED_HEADER_BYTES + 2), E.PAYLOAD_TRUNCATED);
  add('body cut short', none.slice(0, none.length - 1), E.PAYLOAD_TRUNCATED);
  add(
    'declared body longer than the bytes',
    mutate(deflate, (dv) => dv.setUint32(OFF.bodyBytes, deflate.length - hb + 1, true)),
    E.PAYLOAD_TRUNCATED,
  );
  add(
    'declared body shorter than the bytes',
    mutate(deflate, (dv) => dv.setUint32(OFF.bodyBytes, deflate.length - hb - 1, true)),
    E.TRAILING_BYTES,
  );
  add('trailing bytes', concat(none, Uint8Array.of(0)), E.TRAILING_BYTES);
  const oversized = new Uint8Array(DEFAULT_LIMITS.maxPayloadBytes + 1);
  oversized.set(none);
  add('oversized payload', oversized, E.PAYLOAD_TOO_LARGE);
  add('bad magic', mutate(none, xorByte(0, 0x4a ^ 0x4b)), E.BAD_MAGIC);
  add('gzip bytes instead of a payload', Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0), E.BAD_MAGIC);
  add(
    'version 2',
    mutate(none, (dv) => dv.setUint8(OFF.version, 2)),
    E.UNSUPPORTED_VERSION,
  );
  add(
    'version 0',
    mutate(none, (dv) => dv.setUint8(OFF.version, 0)),
    E.UNSUPPORTED_VERSION,
  );

  // header fields
  add(
    'unknown kind',
    mutate(none, (dv) => dv.setUint8(OFF.kind, 7)),
    E.BAD_HEADER,
  );
  add(
    'unknown coder',
    mutate(none, (dv) => dv.setUint8(OFF.coder, 9)),
    E.BAD_CODER,
  );
  add(
    'raw payload with a coder',
    mutate(raw, (dv) => dv.setUint8(OFF.coder, 1)),
    E.BAD_CODER,
  );
  add(
    'unknown quant scope',
    mutate(none, (dv) => dv.setUint8(OFF.mode, 2)),
    E.BAD_HEADER,
  );
  add(
    'unknown raw format',
    mutate(raw, (dv) => dv.setUint8(OFF.mode, 3)),
    E.BAD_HEADER,
  );
  add(
    'bits 0',
    mutate(none, (dv) => dv.setUint8(OFF.bits, 0)),
    E.BAD_HEADER,
  );
  add(
    'bits 9',
    mutate(none, (dv) => dv.setUint8(OFF.bits, 9)),
    E.BAD_HEADER,
  );
  add(
    'raw payload with bits 4',
    mutate(raw, (dv) => dv.setUint8(OFF.bits, 4)),
    E.BAD_HEADER,
  );
  add(
    'reserved flag bit',
    mutate(none, (dv) => dv.setUint8(OFF.flags, dv.getUint8(OFF.flags) | 0x80)),
    E.BAD_HEADER,
  );
  add(
    'bitmap flag cleared while k < H*W',
    mutate(none, (dv) => dv.setUint8(OFF.flags, dv.getUint8(OFF.flags) & ~1)),
    E.BAD_HEADER,
  );
  add(
    'variant 101%',
    mutate(none, (dv) => dv.setUint8(OFF.variant, 101)),
    E.BAD_HEADER,
  );
  add(
    'model id length 0',
    mutate(none, (dv) => dv.setUint8(OFF.modelIdLength, 0)),
    E.BAD_HEADER,
  );
  add(
    'model id length 65',
    mutate(none, (dv) => dv.setUint8(OFF.modelIdLength, 65)),
    E.BAD_HEADER,
  );
  add('model id not UTF-8', mutate(none, xorByte(OFF.modelId, 0x80)), E.BAD_HEADER);
  add(
    'zero channels',
    mutate(none, (dv) => dv.setUint16(OFF.channels, 0, true)),
    E.DIMS_OUT_OF_RANGE,
  );
  add(
    'huge channel count',
    mutate(none, (dv) => dv.setUint16(OFF.channels, 65535, true)),
    E.DIMS_OUT_OF_RANGE,
  );
  add(
    'huge height',
    mutate(none, (dv) => dv.setUint16(OFF.height, 2000, true)),
    E.DIMS_OUT_OF_RANGE,
  );
  add(
    'zero width',
    mutate(none, (dv) => dv.setUint16(OFF.width, 0, true)),
    E.DIMS_OUT_OF_RANGE,
  );
  add(
    'png with 5 channels',
    mutate(validRawPayload('png'), (dv) => dv.setUint16(OFF.channels, 5, true)),
    E.DIMS_OUT_OF_RANGE,
  );
  add(
    'batch 0',
    mutate(none, (dv) => dv.setUint16(OFF.batch, 0, true)),
    E.BATCH_OUT_OF_RANGE,
  );
  add(
    'batch over the limit',
    mutate(none, (dv) => dv.setUint16(OFF.batch, DEFAULT_LIMITS.maxBatch + 1, true)),
    E.BATCH_OUT_OF_RANGE,
  );
  add(
    'keep count 0',
    mutate(none, (dv) => dv.setUint32(OFF.keepCount, 0, true)),
    E.COUNT_MISMATCH,
  );
  add(
    'keep count above H*W',
    mutate(none, (dv) => dv.setUint32(OFF.keepCount, 17, true)),
    E.COUNT_MISMATCH,
  );
  add(
    'keep count that disagrees with the value count',
    mutate(none, (dv) => dv.setUint32(OFF.keepCount, 7, true)),
    E.COUNT_MISMATCH,
  );
  add(
    'value count off by one',
    mutate(none, (dv) => dv.setUint32(OFF.valueCount, dv.getUint32(OFF.valueCount, true) + 1, true)),
    E.COUNT_MISMATCH,
  );
  add(
    'uncompressed size off by one',
    mutate(deflate, (dv) => dv.setUint32(OFF.rawBodyBytes, dv.getUint32(OFF.rawBodyBytes, true) - 1, true)),
    E.COUNT_MISMATCH,
  );
  add(
    'uncoded body size differs from its layout',
    withBody(none, new Uint8Array(none.length - hb + 1)),
    E.COUNT_MISMATCH,
  );
  add(
    'raw body size differs from the pixels',
    withBody(raw, new Uint8Array(raw.length - headerBytesOf(raw) - 1)),
    E.COUNT_MISMATCH,
  );
  add(
    'dense output over maxDecodedBytes',
    mutate(none, (dv) => {
      // 64 x 4096 x 64 x 64 float32 = 4 GiB, each dim within its own limit and the counts consistent
      dv.setUint16(OFF.channels, 4096, true);
      dv.setUint16(OFF.height, 64, true);
      dv.setUint16(OFF.width, 64, true);
      dv.setUint16(OFF.batch, 64, true);
      dv.setUint8(OFF.flags, 0);
      dv.setUint32(OFF.keepCount, 64 * 64, true);
      dv.setUint32(OFF.valueCount, 64 * 4096 * 64 * 64, true);
    }),
    E.DECODED_TOO_LARGE,
  );

  // checksum
  add('flipped body bit', mutate(none, xorByte(-3, 0x10), true), E.CHECKSUM_MISMATCH);
  add('flipped model hash bit', mutate(none, xorByte(OFF.modelHash + 5, 1), true), E.CHECKSUM_MISMATCH);
  add(
    'altered checksum field',
    mutate(none, (dv) => dv.setUint32(OFF.crc32, dv.getUint32(OFF.crc32, true) ^ 0x80000000, true), true),
    E.CHECKSUM_MISMATCH,
  );

  // caller expectations
  add('wrong model hash', none, E.MODEL_MISMATCH, { expectModelHash: `sha256:${'ab'.repeat(32)}` });
  add('wrong partition point', none, E.WRONG_POINT, { expectPoint: CORPUS_POINT + 1 });

  // body: decompression
  const bomb = new Uint8Array(deflateRawSync(new Uint8Array(8 * 1024 * 1024), { level: 9 }));
  add('deflate bomb', withBody(deflate, bomb), E.DECODED_TOO_LARGE);
  add('raw deflate bomb', withBody(validRawPayload('deflate'), bomb), E.DECODED_TOO_LARGE);
  add('corrupt deflate stream', withBody(deflate, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff)), E.CORRUPT_BODY);
  add(
    'deflate stream shorter than declared',
    withBody(deflate, new Uint8Array(deflateRawSync(new Uint8Array(10)))),
    E.CORRUPT_BODY,
  );
  const deflateBody = deflate.subarray(hb);
  add(
    'deflate stream with unused bytes after it',
    withBody(deflate, concat(deflateBody, Uint8Array.of(0))),
    E.CORRUPT_BODY,
  );
  add(
    'corrupt brotli stream',
    mutate(withBody(deflate, Uint8Array.of(1, 2, 3, 4)), (dv) => dv.setUint8(OFF.coder, 2)),
    E.CORRUPT_BODY,
  );
  const ransBody = rans.subarray(hb);
  add('rans stream missing its last byte', withBody(rans, ransBody.slice(0, ransBody.length - 1)), E.CORRUPT_BODY);
  add('rans stream with an extra byte', withBody(rans, concat(ransBody, Uint8Array.of(0x5a))), E.CORRUPT_BODY);
  add(
    'rans state out of range',
    withBody(rans, concat(Uint8Array.of(0, 0, 0, 0x80), ransBody.subarray(4))),
    E.CORRUPT_BODY,
  );

  // body: contents (coder none, f16 parameters: mins at bitmapBytes, scales after them)
  const f16 = (none[OFF.flags] as number) & 2;
  const pw = f16 ? 2 : 4;
  const minAt = hb + layout.bitmapBytes;
  const scaleAt = minAt + layout.groups * pw;
  add(
    'NaN scale',
    mutate(none, (dv) => (f16 ? dv.setUint16(scaleAt, 0x7e00, true) : dv.setFloat32(scaleAt, Number.NaN, true))),
    E.NON_FINITE,
  );
  add(
    'infinite min',
    mutate(none, (dv) =>
      f16 ? dv.setUint16(minAt, 0x7c00, true) : dv.setFloat32(minAt, Number.POSITIVE_INFINITY, true),
    ),
    E.NON_FINITE,
  );
  add(
    'negative scale',
    mutate(none, (dv) => (f16 ? dv.setUint16(scaleAt, 0xbc00, true) : dv.setFloat32(scaleAt, -1, true))),
    E.CORRUPT_BODY,
  );
  const f32Min = hb + layout.bitmapBytes;
  const f32Scale = f32Min + layout.groups * 4;
  add(
    'NaN scale (float32 parameters)',
    mutate(f32, (dv) => dv.setFloat32(f32Scale, Number.NaN, true)),
    E.NON_FINITE,
  );
  add(
    'range overflowing float32',
    mutate(f32, (dv) => {
      dv.setFloat32(f32Min, 3e38, true);
      dv.setFloat32(f32Scale, 3e38, true);
    }),
    E.NON_FINITE,
  );
  add(
    'bitmap with a position too many',
    mutate(none, (_, b) => {
      // set the first cleared bit of item 0's bitmap (16 positions, 8 kept)
      for (let bit = 0; bit < 16; bit++) {
        const at = hb + (bit >> 3);
        if ((((b[at] as number) >> (bit & 7)) & 1) === 0) {
          b[at] = (b[at] as number) | (1 << (bit & 7));
          return;
        }
      }
    }),
    E.CORRUPT_BODY,
  );
  const odd = encodeFeatures(realisticFeatures([3, 3, 3], 1, 5), {
    model: CORPUS_MODEL,
    point: CORPUS_POINT,
    variant: 0,
    keepCount: 3,
    bits: 3,
    coder: 'none',
  });
  add('nonzero padding bits after the codes', mutate(odd, xorByte(-1, 0x80)), E.CORRUPT_BODY);

  // body: raw png
  const filteredRows = (filter: number) => {
    const rows = new Uint8Array(6 * 6);
    for (let y = 0; y < 6; y++) rows[y * 6] = filter;
    return rows;
  };
  add('png with filter type 5', rawPngWith(pngFromFiltered(5, 6, 0, filteredRows(5))), E.CORRUPT_BODY);
  add('png of the wrong size', rawPngWith(pngFromFiltered(6, 5, 0, new Uint8Array(5 * 7))), E.CORRUPT_BODY);
  add(
    'png with RGB color type for a gray batch',
    rawPngWith(pngFromFiltered(5, 6, 2, new Uint8Array(6 * 16))),
    E.CORRUPT_BODY,
  );
  const goodPng = pngFromFiltered(5, 6, 0, filteredRows(0));
  const badCrc = goodPng.slice();
  badCrc[goodPng.length - 13] = (badCrc[goodPng.length - 13] as number) ^ 1; // inside the IDAT CRC
  add('png with a bad chunk CRC', rawPngWith(badCrc), E.CORRUPT_BODY);
  const png = validRawPayload('png');
  add(
    'png length prefix past the body',
    mutate(png, (dv) => dv.setUint32(headerBytesOf(png), 1 << 30, true)),
    E.CORRUPT_BODY,
  );

  // raw frames: point 0, variant 0, and exactly the model's image shape
  for (const pct of [25, 50, 75]) {
    add(
      `raw payload with variant ${pct}%`,
      mutate(raw, (dv) => dv.setUint8(OFF.variant, pct)),
      E.BAD_HEADER,
    );
  }
  add(
    'raw payload for point 3',
    mutate(raw, (dv) => dv.setUint8(OFF.point, 3)),
    E.BAD_HEADER,
  );
  // the 30 bytes of a 1x6x5 image declared with the same element count in another shape
  for (const dims of [
    [1, 1, 30],
    [1, 5, 6],
    [2, 3, 5],
    [30, 1, 1],
  ] as const) {
    for (const [name, base] of [
      ['raw', raw],
      ['png', png],
    ] as const) {
      if (name === 'png' && dims[0] > 4) continue;
      add(
        `${name} images of 1x6x5 declared as ${dims.join('x')}`,
        mutate(base, (dv) => {
          dv.setUint16(OFF.channels, dims[0], true);
          dv.setUint16(OFF.height, dims[1], true);
          dv.setUint16(OFF.width, dims[2], true);
        }),
        E.SHAPE_MISMATCH,
        CORPUS_EXPECT,
      );
    }
  }

  // caller expectations beyond hash and point: model id, layouts, value bound
  add(
    'another model id with the right hash prefix',
    encodeFeatures(realisticFeatures([8, 4, 4], 2, 42), {
      model: { id: 'other-model', hash: CORPUS_MODEL.hash },
      point: CORPUS_POINT,
      variant: 0.5,
      keep: 0.5,
      bits: 4,
      coder: 'none',
    }),
    E.MODEL_MISMATCH,
    CORPUS_EXPECT,
  );
  add(
    'features of a variant not served',
    mutate(none, (dv) => dv.setUint8(OFF.variant, 25)),
    E.UNKNOWN_VARIANT,
    CORPUS_EXPECT,
  );
  add(
    'features of another variant’s shape',
    mutate(none, (dv) => dv.setUint8(OFF.variant, 0)),
    E.SHAPE_MISMATCH,
    CORPUS_EXPECT,
  );
  add('raw images where features are expected', raw, E.WRONG_POINT, {
    expectLayouts: CORPUS_LAYOUTS.filter((l) => l.kind === 'features'),
  });
  add(
    'brotli amplification: 1024x128x128 declared by a tiny body',
    amplificationPayload(),
    E.SHAPE_MISMATCH,
    CORPUS_EXPECT,
  );
  add(
    'deflate amplification: 1024x128x128 declared by a 16 KB body',
    amplificationPayload('deflate'),
    E.SHAPE_MISMATCH,
    CORPUS_EXPECT,
  );
  add('finite but huge features (all 1e38)', constantFeaturesPayload(1e38), E.INVALID_FEATURES, CORPUS_EXPECT);
  add('finite but huge features, brotli', constantFeaturesPayload(-3e37, 'brotli'), E.INVALID_FEATURES, CORPUS_EXPECT);
  add(
    'float32 min pushed past the bound (checksum fixed)',
    mutate(f32, (dv) => dv.setFloat32(f32Min, 1e30, true)),
    E.INVALID_FEATURES,
    CORPUS_EXPECT,
  );
  return cases;
}
