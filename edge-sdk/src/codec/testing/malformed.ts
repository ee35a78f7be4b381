/**
 * A corpus of malformed payloads, each with the error code the decoder must raise. Shared with the Lambda
 * handler tests, which check that each maps to its HTTP status. Decode each with `decodePayload(bytes,
 * options)` (options only where a case needs the caller's expectations).
 */

import { brotliCompressSync, deflateRawSync, deflateSync } from 'node:zlib';
import { type ErrorCode, ErrorCodes } from '../../errors.js';
import { concatBytes } from '../bytes.js';
import { crc32Update } from '../crc32.js';
import { peekHeader } from '../decodePayload.js';
import { encodeFeatures } from '../encodeFeatures.js';
import { encodeRaw } from '../encodeRaw.js';
import {
  FIXED_HEADER_BYTES,
  FIXED_HEADER_BYTES_V2,
  featureLayout,
  frameCrc,
  OFF,
  OFF_V2,
  parseModelHash,
  writeFrame,
  writeVarint,
} from '../header.js';
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

/** Valid features payload: 8 channels, 4x4, batch 2, keep 0.5, the given bits, coder and frame version. */
export function validFeaturesPayload(
  coder: CoderId = 'none',
  bits = 4,
  scale = 1,
  frameVersion: 1 | 2 = 1,
  extra: { bottleneck?: boolean; quantScope?: 'channel' | 'tensor'; keep?: number } = {},
): Uint8Array {
  const input = realisticFeatures([8, 4, 4], 2, 42);
  if (scale !== 1)
    for (let i = 0; i < input.features.length; i++) input.features[i] = (input.features[i] as number) * scale;
  return encodeFeatures(input, {
    model: CORPUS_MODEL,
    point: CORPUS_POINT,
    variant: 0.5,
    keep: 0.5,
    bits,
    coder,
    frameVersion,
    ...extra,
  });
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
  frameVersion: 1 | 2 = 1,
): Uint8Array {
  const dims = [1024, 128, 128] as const;
  const layout = featureLayout(dims, 1, 128 * 128, 8, 'channel', false);
  const zeros = (): Uint8Array => new Uint8Array(layout.rawBodyBytes);
  const coded =
    body ?? new Uint8Array(coder === 'brotli' ? brotliCompressSync(zeros()) : deflateRawSync(zeros(), { level: 9 }));
  return writeFrame(
    {
      version: frameVersion,
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
export function constantFeaturesPayload(value: number, coder: CoderId = 'none', frameVersion: 1 | 2 = 1): Uint8Array {
  const input = realisticFeatures([8, 4, 4], 2, 7);
  input.features.fill(value);
  return encodeFeatures(input, {
    model: CORPUS_MODEL,
    point: CORPUS_POINT,
    variant: 0.5,
    keep: 0.5,
    bits: 4,
    coder,
    frameVersion,
  });
}

/** Valid raw payload: 2 grayscale 6x5 images. */
export function validRawPayload(format: 'raw' | 'png' | 'deflate' = 'png', frameVersion: 1 | 2 = 1): Uint8Array {
  return encodeRaw(syntheticImages([1, 6, 5], 2, 3), [1, 6, 5], 2, { model: CORPUS_MODEL, format, frameVersion });
}

function headerBytesOf(p: Uint8Array): number {
  return FIXED_HEADER_BYTES + (p[OFF.modelIdLength] as number);
}

/** Rewrites the CRC of a version 1 frame so that only the intended defect remains. */
export function fixCrc(p: Uint8Array): Uint8Array {
  new DataView(p.buffer, p.byteOffset, p.byteLength).setUint32(OFF.crc32, frameCrc(p, p.length), true);
  return p;
}

/** The parts of a valid version 2 frame: the 13-byte fixed part, the varint bytes, the body. */
export interface V2Parts {
  fixed: Uint8Array;
  varints: Uint8Array;
  body: Uint8Array;
}

/** Splits a valid version 2 frame into its parts (copies). */
export function splitV2(p: Uint8Array): V2Parts {
  const headerBytes = peekHeader(p).headerBytes;
  return {
    fixed: p.slice(0, FIXED_HEADER_BYTES_V2),
    varints: p.slice(FIXED_HEADER_BYTES_V2, headerBytes - 4),
    body: p.slice(headerBytes),
  };
}

/** Assembles a version 2 frame from parts (possibly defective) with a correct CRC-32 after the varints. */
export function joinV2(parts: V2Parts): Uint8Array {
  const crcAt = parts.fixed.length + parts.varints.length;
  const out = concat(parts.fixed, parts.varints, new Uint8Array(4), parts.body);
  new DataView(out.buffer).setUint32(crcAt, frameCrc(out, out.length, crcAt), true);
  return out;
}

/** Minimal unsigned LEB128 bytes of the values. */
export function varints(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 5);
  let at = 0;
  for (const v of values) at = writeVarint(out, at, v);
  return out.slice(0, at);
}

/** The varint values of a valid version 2 frame: C, H, W, N, [k], bodyBytes. */
export function varintValues(p: Uint8Array): number[] {
  const h = peekHeader(p);
  return [...h.dims, h.batch, ...(h.hasBitmap ? [h.keepCount] : []), h.bodyBytes];
}

/** A copy of a valid version 2 frame with its varints replaced by `values` (minimal encoding), CRC fixed. */
export function withVarintsV2(p: Uint8Array, values: number[], body?: Uint8Array): Uint8Array {
  const parts = splitV2(p);
  return joinV2({ ...parts, varints: varints(...values), body: body ?? parts.body });
}

/** A copy of a valid version 2 frame with fixed-part byte `at` set to `value`, CRC fixed. */
export function withFixedV2(p: Uint8Array, at: number, value: number): Uint8Array {
  const parts = splitV2(p);
  parts.fixed[at] = value;
  return joinV2(parts);
}

/** A copy of a valid version 2 frame with its body replaced (bodyBytes and CRC updated). */
export function withBodyV2(p: Uint8Array, body: Uint8Array): Uint8Array {
  const v = varintValues(p);
  v[v.length - 1] = body.length;
  return withVarintsV2(p, v, body);
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
    'version 3',
    mutate(none, (dv) => dv.setUint8(OFF.version, 3)),
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
    frameVersion: 1,
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
      frameVersion: 1,
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
  addV2Cases(add);
  return cases;
}

/** The version 2 (compact frame) defects, varints included. */
function addV2Cases(add: (name: string, bytes: Uint8Array, code: ErrorCode, options?: DecodeOptions) => void): void {
  const E = ErrorCodes;
  const none = validFeaturesPayload('none', 4, 1, 2);
  const deflate = validFeaturesPayload('deflate', 4, 1, 2);
  const rans = validFeaturesPayload('rans', 4, 1, 2);
  const raw = validRawPayload('raw', 2);
  const png = validRawPayload('png', 2);
  const h = peekHeader(none);
  const v = varintValues(none); // [8, 4, 4, 2, 8, bodyBytes]
  const fixed = (p: Uint8Array, at: number) => p[at] as number;

  // framing
  add('v2 header cut inside the fixed part', none.slice(0, 10), E.PAYLOAD_TRUNCATED);
  add('v2 header cut inside the checksum', none.slice(0, h.headerBytes - 2), E.PAYLOAD_TRUNCATED);
  add(
    'v2 header cut inside a varint',
    concat(none.subarray(0, FIXED_HEADER_BYTES_V2), Uint8Array.of(0x88)),
    E.PAYLOAD_TRUNCATED,
  );
  add('v2 body cut short', none.slice(0, none.length - 1), E.PAYLOAD_TRUNCATED);
  add('v2 trailing bytes', concat(none, Uint8Array.of(0)), E.TRAILING_BYTES);
  const dBody = splitV2(deflate).body;
  const dv = varintValues(deflate);
  add(
    'v2 declared body longer than the bytes',
    withVarintsV2(deflate, [...dv.slice(0, -1), dBody.length + 1]),
    E.PAYLOAD_TRUNCATED,
  );
  add(
    'v2 declared body shorter than the bytes',
    withVarintsV2(deflate, [...dv.slice(0, -1), dBody.length - 1]),
    E.TRAILING_BYTES,
  );

  // fixed part
  add('v2 kind 0', withFixedV2(none, OFF_V2.type, fixed(none, OFF_V2.type) & ~3), E.BAD_HEADER);
  add('v2 kind 3', withFixedV2(none, OFF_V2.type, fixed(none, OFF_V2.type) | 3), E.BAD_HEADER);
  add('v2 raw payload with a coder', withFixedV2(raw, OFF_V2.type, fixed(raw, OFF_V2.type) | (1 << 2)), E.BAD_CODER);
  add('v2 unknown quant scope', withFixedV2(none, OFF_V2.type, fixed(none, OFF_V2.type) | (2 << 4)), E.BAD_HEADER);
  add('v2 unknown raw format', withFixedV2(raw, OFF_V2.type, fixed(raw, OFF_V2.type) | (3 << 4)), E.BAD_HEADER);
  add('v2 reserved type bits', withFixedV2(none, OFF_V2.type, fixed(none, OFF_V2.type) | 0x40), E.BAD_HEADER);
  add('v2 raw payload with bits 4', withFixedV2(raw, OFF_V2.flags, 3 << 5), E.BAD_HEADER);
  add('v2 reserved flag bits', withFixedV2(none, OFF_V2.flags, fixed(none, OFF_V2.flags) | 0x08), E.BAD_HEADER);
  add(
    'v2 raw payload with the bottleneck flag',
    withFixedV2(raw, OFF_V2.flags, fixed(raw, OFF_V2.flags) | 0x04),
    E.BAD_HEADER,
  );
  add('v2 variant 101%', withFixedV2(none, OFF_V2.variant, 101), E.BAD_HEADER);
  add('v2 raw payload for point 3', withFixedV2(raw, OFF_V2.point, 3), E.BAD_HEADER);
  add('v2 raw payload with variant 50%', withFixedV2(raw, OFF_V2.variant, 50), E.BAD_HEADER);

  // varints
  const withVarintBytes = (bytes: Uint8Array) => joinV2({ ...splitV2(none), varints: bytes });
  add(
    'v2 non-minimal C varint',
    withVarintBytes(concat(Uint8Array.of(0x88, 0x00), varints(...v.slice(1)))),
    E.BAD_HEADER,
  );
  add(
    'v2 non-minimal bodyBytes varint',
    withVarintBytes(
      concat(
        varints(...v.slice(0, -1)),
        Uint8Array.of(0x80 | ((v.at(-1) as number) & 0x7f), 0x80 | ((v.at(-1) as number) >> 7), 0x00),
      ),
    ),
    E.BAD_HEADER,
  );
  add(
    'v2 six-byte varint',
    withVarintBytes(concat(Uint8Array.of(0x88, 0x80, 0x80, 0x80, 0x80, 0x00), varints(...v.slice(1)))),
    E.BAD_HEADER,
  );
  add(
    'v2 varint over 32 bits',
    withVarintBytes(concat(Uint8Array.of(0x88, 0x80, 0x80, 0x80, 0x10), varints(...v.slice(1)))),
    E.BAD_HEADER,
  );
  add('v2 zero channels', withVarintsV2(none, [0, ...v.slice(1)]), E.DIMS_OUT_OF_RANGE);
  add('v2 channels over the limit', withVarintsV2(none, [4097, ...v.slice(1)]), E.DIMS_OUT_OF_RANGE);
  add('v2 width over 65535', withVarintsV2(none, [8, 4, 65536, ...v.slice(3)]), E.DIMS_OUT_OF_RANGE);
  const pv = varintValues(png);
  add('v2 png with 5 channels', withVarintsV2(png, [5, ...pv.slice(1)]), E.DIMS_OUT_OF_RANGE);
  add('v2 batch 0', withVarintsV2(none, [...v.slice(0, 3), 0, ...v.slice(4)]), E.BATCH_OUT_OF_RANGE);
  add(
    'v2 batch over the limit',
    withVarintsV2(none, [...v.slice(0, 3), DEFAULT_LIMITS.maxBatch + 1, ...v.slice(4)]),
    E.BATCH_OUT_OF_RANGE,
  );
  add('v2 keep count 0', withVarintsV2(none, [...v.slice(0, 4), 0, ...v.slice(5)]), E.COUNT_MISMATCH);
  add(
    'v2 keep count H*W with the bitmap',
    withVarintsV2(none, [...v.slice(0, 4), 16, ...v.slice(5)]),
    E.COUNT_MISMATCH,
  );
  add(
    'v2 keep count that disagrees with the body size',
    withVarintsV2(none, [...v.slice(0, 4), 7, ...v.slice(5)]),
    E.COUNT_MISMATCH,
  );
  add(
    'v2 uncoded body size differs from its layout',
    withBodyV2(none, new Uint8Array(h.bodyBytes + 1)),
    E.COUNT_MISMATCH,
  );
  add(
    'v2 raw body size differs from the pixels',
    withBodyV2(raw, new Uint8Array(peekHeader(raw).bodyBytes - 1)),
    E.COUNT_MISMATCH,
  );
  add(
    'v2 dense output over maxDecodedBytes',
    joinV2({
      // 64 x 4096 x 64 x 64 float32 = 4 GiB, every position kept (no bitmap, no k)
      ...splitV2(none),
      fixed: (() => {
        const f = splitV2(none).fixed;
        f[OFF_V2.flags] = (f[OFF_V2.flags] as number) & ~1;
        return f;
      })(),
      varints: varints(4096, 64, 64, 64, 100),
    }),
    E.DECODED_TOO_LARGE,
  );

  // checksum
  const flip = (p: Uint8Array, at: number, mask: number) => {
    const out = p.slice();
    const i = at < 0 ? out.length + at : at;
    out[i] = (out[i] as number) ^ mask;
    return out;
  };
  add('v2 flipped body bit', flip(none, -3, 0x10), E.CHECKSUM_MISMATCH);
  add('v2 flipped model hash bit', flip(none, OFF_V2.modelHash + 2, 1), E.CHECKSUM_MISMATCH);
  add('v2 flipped point bit', flip(none, OFF_V2.point, 1), E.CHECKSUM_MISMATCH);
  add('v2 altered checksum field', flip(none, h.headerBytes - 1, 0x80), E.CHECKSUM_MISMATCH);

  // caller expectations
  add('v2 wrong model hash', none, E.MODEL_MISMATCH, { expectModelHash: `sha256:${'ab'.repeat(32)}` });
  add('v2 hash prefix of another build (last 28 bytes equal)', none, E.MODEL_MISMATCH, {
    ...CORPUS_EXPECT,
    expectModelHash: `sha256:c0ffee01${CORPUS_MODEL.hash.slice(15)}`,
  });
  add('v2 wrong partition point', none, E.WRONG_POINT, { expectPoint: CORPUS_POINT + 1 });
  add('v2 features of a variant not served', withFixedV2(none, OFF_V2.variant, 25), E.UNKNOWN_VARIANT, CORPUS_EXPECT);
  add(
    'v2 bottleneck code where no bottleneck is served',
    validFeaturesPayload('rans', 4, 1, 2, { bottleneck: true }),
    E.UNKNOWN_VARIANT,
    CORPUS_EXPECT,
  );
  add(
    'v2 brotli amplification: 1024x128x128 declared by a tiny body',
    amplificationPayload('brotli', undefined, undefined, 2),
    E.SHAPE_MISMATCH,
    CORPUS_EXPECT,
  );
  add(
    'v2 raw images of 1x6x5 declared as 1x5x6',
    withVarintsV2(raw, [1, 5, 6, ...varintValues(raw).slice(3)]),
    E.SHAPE_MISMATCH,
    CORPUS_EXPECT,
  );

  // body
  const bomb = new Uint8Array(deflateRawSync(new Uint8Array(8 * 1024 * 1024), { level: 9 }));
  add('v2 deflate bomb', withBodyV2(deflate, bomb), E.DECODED_TOO_LARGE);
  const rBody = splitV2(rans).body;
  add('v2 rans stream missing its last byte', withBodyV2(rans, rBody.slice(0, rBody.length - 1)), E.CORRUPT_BODY);
  add('v2 rans stream with an extra byte', withBodyV2(rans, concat(rBody, Uint8Array.of(0x5a))), E.CORRUPT_BODY);
  const nBody = splitV2(none).body;
  const layout = featureLayout([8, 4, 4], 2, 8, 4, 'channel', h.paramPrecision === 'f16');
  const bitmapPlus = nBody.slice();
  for (let bit = 0; bit < 16; bit++) {
    if ((((bitmapPlus[bit >> 3] as number) >> (bit & 7)) & 1) === 0) {
      bitmapPlus[bit >> 3] = (bitmapPlus[bit >> 3] as number) | (1 << (bit & 7));
      break;
    }
  }
  add('v2 bitmap with a position too many', withBodyV2(none, bitmapPlus), E.CORRUPT_BODY);
  const nanScale = nBody.slice();
  const scaleAt = layout.bitmapBytes + layout.groups * layout.paramWidth;
  const sdv = new DataView(nanScale.buffer);
  if (layout.paramWidth === 2) sdv.setUint16(scaleAt, 0x7e00, true);
  else sdv.setFloat32(scaleAt, Number.NaN, true);
  add('v2 NaN scale', withBodyV2(none, nanScale), E.NON_FINITE);
  add(
    'v2 finite but huge features (all 1e38)',
    constantFeaturesPayload(1e38, 'rans', 2),
    E.INVALID_FEATURES,
    CORPUS_EXPECT,
  );
  addFloat32Cases(add);
}

/** The defects of version 2 float32 features frames (`FLAG_FLOAT32`, bits 32). */
function addFloat32Cases(
  add: (name: string, bytes: Uint8Array, code: ErrorCode, options?: DecodeOptions) => void,
): void {
  const E = ErrorCodes;
  const f32 = validFeaturesPayload('none', 32, 1, 2); // 8x4x4, batch 2, keep 0.5: bitmap, then 128 values
  const all = validFeaturesPayload('none', 32, 1, 2, { keep: 1 }); // no bitmap, 256 values
  const h = peekHeader(f32);
  const valuesAt = h.rawBodyBytes - 4 * h.valueCount;
  const withValue = (p: Uint8Array, at: number, bits: number): Uint8Array => {
    const body = splitV2(p).body;
    new DataView(body.buffer).setUint32(at, bits, true);
    return withBodyV2(p, body);
  };
  const flags = f32[OFF_V2.flags] as number;
  const type = f32[OFF_V2.type] as number;

  // header
  add('v2 float32 with a bit depth', withFixedV2(f32, OFF_V2.flags, flags | (7 << 5)), E.BAD_HEADER);
  add('v2 float32 with the float16 parameters flag', withFixedV2(f32, OFF_V2.flags, flags | 0x02), E.BAD_HEADER);
  add('v2 float32 with tensor scope', withFixedV2(f32, OFF_V2.type, type | (1 << 4)), E.BAD_HEADER);
  add('v2 float32 rans-coded', withFixedV2(f32, OFF_V2.type, type | (3 << 2)), E.BAD_CODER);
  const raw = validRawPayload('raw', 2);
  add(
    'v2 raw payload with the float32 flag',
    withFixedV2(raw, OFF_V2.flags, (raw[OFF_V2.flags] as number) | 0x08),
    E.BAD_HEADER,
  );
  add(
    'v2 float32 features over maxDecodedBytes',
    withVarintsV2(all, [4096, 64, 64, 64, 100]), // 4 GiB of float32 values, every position kept
    E.DECODED_TOO_LARGE,
  );

  // body size: exactly the bitmap + 4 bytes per value
  const allBody = splitV2(all).body;
  add('v2 float32 body one value short', withBodyV2(all, allBody.slice(0, -4)), E.COUNT_MISMATCH);
  add('v2 float32 body one value long', withBodyV2(all, concat(allBody, new Uint8Array(4))), E.COUNT_MISMATCH);
  add('v2 float32 body one byte long', withBodyV2(f32, concat(splitV2(f32).body, Uint8Array.of(0))), E.COUNT_MISMATCH);
  add('v2 float32 body cut short', all.slice(0, all.length - 2), E.PAYLOAD_TRUNCATED);

  // body contents
  add('v2 float32 NaN value', withValue(f32, valuesAt + 4 * 9, 0x7fc00000), E.NON_FINITE);
  add('v2 float32 signalling NaN value', withValue(all, 4 * 200, 0x7f800001), E.NON_FINITE);
  add('v2 float32 infinite value', withValue(all, 0, 0xff800000), E.NON_FINITE);
  add(
    'v2 float32 value past the bound (65505)',
    withValue(all, 4 * 17, new Uint32Array(Float32Array.of(65505).buffer)[0] as number),
    E.INVALID_FEATURES,
    CORPUS_EXPECT,
  );
  const bitmapPlus = splitV2(f32).body;
  for (let bit = 0; bit < 16; bit++) {
    if ((((bitmapPlus[bit >> 3] as number) >> (bit & 7)) & 1) === 0) {
      bitmapPlus[bit >> 3] = (bitmapPlus[bit >> 3] as number) | (1 << (bit & 7));
      break;
    }
  }
  add('v2 float32 bitmap with a position too many', withBodyV2(f32, bitmapPlus), E.CORRUPT_BODY);
}
