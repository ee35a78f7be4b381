import { CodecError, ErrorCodes } from '../errors.js';
import { unpackBits } from './bitpack.js';
import { LITTLE_ENDIAN } from './bytes.js';
import { zlibDecompress } from './coders.js';
import { f16ToNumber } from './float16.js';
import { checkExpectations, crcOffset, FLOAT32_BITS, featureLayout, frameCrc, readHeader } from './header.js';
import { decodePng } from './png.js';
import { checkQuantParams, dequantize, type QuantParams } from './quantize.js';
import { ransDecodeSections } from './rans.js';
import type { DecodedPayload, DecodeOptions, PayloadHeader } from './types.js';

/**
 * Reads and validates the header only (limits, field ranges, counts against dims, the caller's expected model
 * hash, model id, point and layouts); neither the body's presence nor the CRC is checked. Use it to route a request before
 * decoding. Throws `CodecError` with the codes listed in docs/wire-format.md.
 *
 * @example
 * ```ts
 * const h = peekHeader(bytes, { expectPoint: 2 });
 * console.log(h.modelHash, h.dims, h.batch, h.bottleneck);
 * ```
 */
export function peekHeader(bytes: Uint8Array, opts?: DecodeOptions): PayloadHeader {
  const header = readHeader(bytes, opts);
  checkExpectations(header, opts);
  return header;
}

function corrupt(message: string, details: Record<string, unknown> = {}): CodecError {
  return new CodecError(ErrorCodes.CORRUPT_BODY, message, details);
}

/** `maxAbsValue` of the options: a positive number (Infinity when absent); `INVALID_ARGUMENT` otherwise. */
function maxAbsOf(opts: DecodeOptions | undefined): number {
  const v = opts?.maxAbsValue;
  if (v === undefined) return Number.POSITIVE_INFINITY;
  if (typeof v !== 'number' || !(v > 0)) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'maxAbsValue must be a positive number', { maxAbsValue: v });
  }
  return v;
}

/** Every bitmap of a decoded mask has exactly k ones (`CORRUPT_BODY` otherwise). */
function checkMaskCounts(mask: Uint8Array, batch: number, hw: number, k: number): void {
  for (let n = 0; n < batch; n++) {
    let ones = 0;
    for (let i = n * hw; i < (n + 1) * hw; i++) ones += mask[i] as number;
    if (ones !== k) throw corrupt(`bitmap of item ${n} has ${ones} positions, header says ${k}`, { item: n, ones, k });
  }
}

/** The uncompressed body of a features payload not coded with rANS. */
function plainBody(header: PayloadHeader, body: Uint8Array, rawBodyBytes: number): Uint8Array {
  return header.coder === 'none' ? body : zlibDecompress(header.coder as 'deflate' | 'brotli', body, rawBodyBytes);
}

/**
 * The kept-position masks (N x H*W) from a plain body that starts with the items' bitmaps, each checked to
 * hold k positions; every position without a bitmap.
 */
function unpackMasks(plain: Uint8Array, header: PayloadHeader, itemBitmapBytes: number): Uint8Array {
  const [, h, w] = header.dims;
  const hw = h * w;
  const { batch } = header;
  const mask = new Uint8Array(batch * hw);
  if (!header.hasBitmap) return mask.fill(1);
  for (let n = 0; n < batch; n++) {
    unpackBits(plain, 1, hw, n * itemBitmapBytes, mask.subarray(n * hw, (n + 1) * hw));
  }
  checkMaskCounts(mask, batch, hw, header.keepCount);
  return mask;
}

/** Every value within ±maxAbs (`INVALID_FEATURES` otherwise). */
function checkMaxAbs(values: Float32Array, maxAbs: number): void {
  if (maxAbs === Number.POSITIVE_INFINITY) return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v > maxAbs || v < -maxAbs) {
      throw new CodecError(ErrorCodes.INVALID_FEATURES, `feature value ${v} exceeds the bound ${maxAbs}`, {
        index: i,
        value: v,
        maxAbsValue: maxAbs,
      });
    }
  }
}

/**
 * A float32 features body (`bits` 32): the bitmap, then N*k*C binary32 little-endian values, returned exactly.
 * A NaN or an infinity among them is `NON_FINITE`, as a non-finite min or scale of quantized features is.
 */
function decodeFloat32Features(header: PayloadHeader, body: Uint8Array, maxAbs: number): DecodedPayload {
  const { batch, keepCount: k, valueCount } = header;
  const layout = featureLayout(header.dims, batch, k, FLOAT32_BITS, 'channel', false);
  const plain = plainBody(header, body, layout.rawBodyBytes);
  const mask = unpackMasks(plain, header, layout.itemBitmapBytes);
  const values = new Float32Array(valueCount);
  const bytes = plain.subarray(layout.prefixBytes, layout.prefixBytes + 4 * valueCount);
  if (LITTLE_ENDIAN) new Uint8Array(values.buffer).set(bytes);
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < valueCount; i++) values[i] = dv.getFloat32(4 * i, true);
  }
  for (let i = 0; i < valueCount; i++) {
    const v = values[i] as number;
    if (v - v !== 0) {
      throw new CodecError(ErrorCodes.NON_FINITE, `float32 feature value ${i} is not finite`, { index: i, value: v });
    }
  }
  checkMaxAbs(values, maxAbs);
  return { kind: 'features', header, mask, values };
}

function decodeFeatures(header: PayloadHeader, body: Uint8Array, maxAbs: number): DecodedPayload {
  if (header.bits === FLOAT32_BITS) return decodeFloat32Features(header, body, maxAbs);
  const [c, h, w] = header.dims;
  const hw = h * w;
  const { batch, bits, keepCount: k, valueCount } = header;
  const f16 = header.paramPrecision === 'f16';
  const layout = featureLayout(header.dims, batch, k, bits, header.quantScope, f16);

  let mask: Uint8Array;
  let paramBytes: Uint8Array;
  let codes: Uint8Array;
  if (header.coder === 'rans') {
    const sections = ransDecodeSections(body, {
      maskCount: header.hasBitmap ? batch * hw : 0,
      paramBytes: layout.paramBytes,
      paramWidth: layout.paramWidth,
      codeCount: valueCount,
      bits,
      ...(header.version === 2 ? { context: { dims: header.dims, batch, keepCount: k } } : {}),
    });
    mask = new Uint8Array(batch * hw);
    if (header.hasBitmap) {
      mask.set(sections.mask);
      checkMaskCounts(mask, batch, hw, k);
    } else mask.fill(1);
    paramBytes = sections.params;
    codes = sections.codes;
  } else {
    const plain = plainBody(header, body, layout.rawBodyBytes);
    mask = unpackMasks(plain, header, layout.itemBitmapBytes);
    paramBytes = plain.subarray(layout.bitmapBytes, layout.prefixBytes);
    codes = unpackBits(plain, bits, valueCount, layout.prefixBytes);
  }

  const dv = new DataView(paramBytes.buffer, paramBytes.byteOffset, paramBytes.byteLength);
  const groups = layout.groups;
  const params: QuantParams = { min: new Float32Array(groups), scale: new Float32Array(groups) };
  if (f16) {
    for (let g = 0; g < groups; g++) {
      params.min[g] = f16ToNumber(dv.getUint16(2 * g, true));
      params.scale[g] = f16ToNumber(dv.getUint16(2 * (groups + g), true));
    }
  } else {
    for (let g = 0; g < groups; g++) {
      params.min[g] = dv.getFloat32(4 * g, true);
      params.scale[g] = dv.getFloat32(4 * (groups + g), true);
    }
  }
  checkQuantParams(params, bits);
  const values = dequantize(codes, header.quantScope === 'channel' ? k : k * c, params);
  checkMaxAbs(values, maxAbs);
  return { kind: 'features', header, mask, values };
}

function decodeRaw(header: PayloadHeader, body: Uint8Array): DecodedPayload {
  const [c, h, w] = header.dims;
  const itemBytes = c * h * w;
  if (header.rawFormat === 'raw') return { kind: 'raw', header, images: new Uint8Array(body) }; // a copy, even of a Buffer
  if (header.rawFormat === 'deflate')
    return { kind: 'raw', header, images: zlibDecompress('deflate', body, header.rawBodyBytes) };
  const images = new Uint8Array(header.rawBodyBytes);
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let pos = 0;
  for (let n = 0; n < header.batch; n++) {
    if (pos + 4 > body.length) throw corrupt(`png batch ends before image ${n}`, { item: n });
    const len = dv.getUint32(pos, true);
    if (len > body.length - pos - 4) throw corrupt(`png ${n} length ${len} runs past the body`, { item: n, len });
    decodePng(body.subarray(pos + 4, pos + 4 + len), c, h, w, images, n * itemBytes);
    pos += 4 + len;
  }
  if (pos !== body.length) throw corrupt('bytes after the last png', { extra: body.length - pos });
  return { kind: 'raw', header, images };
}

/**
 * Validates and decodes a payload. Checks, in order: size limit, header fields and counts (as
 * {@link peekHeader}), body present and no trailing bytes, CRC-32, the caller's expectations (model hash, model
 * id, point, then kind/variant/dims against `expectLayouts`), then the body itself (bounded decompression,
 * bitmap, quantization parameters, codes, values within `maxAbsValue`). Nothing is allocated from a wire number
 * before it has been checked against {@link DecodeLimits} and the expected layouts. Throws `CodecError` only.
 *
 * @example
 * ```ts
 * const decoded = decodePayload(bytes, { expectModelHash: manifest.hash, expectPoint: 2 });
 * if (decoded.kind === 'features') {
 *   const dense = reconstructFeatures(decoded, fill);
 * }
 * ```
 */
export function decodePayload(bytes: Uint8Array, opts?: DecodeOptions): DecodedPayload {
  const maxAbs = maxAbsOf(opts);
  const header = readHeader(bytes, opts);
  const total = header.headerBytes + header.bodyBytes;
  if (bytes.length < total) {
    throw new CodecError(ErrorCodes.PAYLOAD_TRUNCATED, `payload has ${bytes.length} of ${total} bytes`, {
      length: bytes.length,
      expected: total,
    });
  }
  if (bytes.length > total) {
    throw new CodecError(ErrorCodes.TRAILING_BYTES, `${bytes.length - total} bytes after the body`, {
      length: bytes.length,
      expected: total,
    });
  }
  const crc = frameCrc(bytes, total, crcOffset(header));
  if (crc !== header.crc32) {
    throw new CodecError(ErrorCodes.CHECKSUM_MISMATCH, 'CRC-32 mismatch', { expected: header.crc32, actual: crc });
  }
  checkExpectations(header, opts);
  const body = bytes.subarray(header.headerBytes, total);
  return header.kind === 'features' ? decodeFeatures(header, body, maxAbs) : decodeRaw(header, body);
}
