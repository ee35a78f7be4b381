/**
 * The frame. Version 1: a 49-byte fixed header, the model id, then the body. Version 2 (the compact frame):
 * a 13-byte fixed part, unsigned LEB128 varints for dims, batch, keep count (only with a bitmap) and body
 * bytes, the CRC-32, then the body. All fixed-width integers little-endian.
 * See docs/wire-format.md for the tables and the validation order.
 */
import { CodecError, ErrorCodes } from '../errors.js';
import { packedBytes } from './bitpack.js';
import { CODER_IDS, CODERS_BY_ID } from './coders.js';
import { crc32Update } from './crc32.js';
import { resolveLimits } from './limits.js';
import type {
  CoderId,
  DecodeLimits,
  DecodeOptions,
  ExpectedLayout,
  ModelRef,
  PayloadHeader,
  QuantScope,
  RawFormat,
} from './types.js';

export const MAGIC = Uint8Array.of(0x4a, 0x4d, 0x44, 0x43); // "JMDC"
/** The version the encoders write by default (the compact frame). */
export const VERSION = 2;
/** The original frame: fixed 49-byte header with the model id. */
export const VERSION_1 = 1;
/** The compact frame. */
export const VERSION_2 = 2;
export const KIND_FEATURES = 1;
export const KIND_RAW = 2;
/** flags bit 0: the body starts with the kept-position bitmap (set iff k < H*W). */
export const FLAG_BITMAP = 0x01;
/** flags bit 1: min/scale pairs are binary16 (else binary32). */
export const FLAG_PARAMS_F16 = 0x02;
/** flags bit 2 (version 2 only): the features are a learned bottleneck's code. */
export const FLAG_BOTTLENECK = 0x04;
/**
 * flags bit 3 (version 2 features only): the body carries the kept values as IEEE-754 binary32, little-endian,
 * unquantized (no min/scale pairs); the header's b - 1 field is then 0 and the header reports `bits: 32`.
 */
export const FLAG_FLOAT32 = 0x08;
/** The `bits` of a float32 features payload (`FeatureEncodeOptions.bits`, `PayloadHeader.bits`). */
export const FLOAT32_BITS = 32;
export const MAX_MODEL_ID_BYTES = 64;
/** The header carries the first 8 bytes of the model's sha256 content hash: enough to tell builds apart. */
export const MODEL_HASH_BYTES = 8;

/** Byte offsets of the fixed header fields of a version 1 frame. */
export const OFF = Object.freeze({
  magic: 0,
  version: 4,
  kind: 5,
  flags: 6,
  coder: 7,
  mode: 8,
  bits: 9,
  point: 10,
  variant: 11,
  channels: 12,
  height: 14,
  width: 16,
  batch: 18,
  keepCount: 20,
  valueCount: 24,
  bodyBytes: 28,
  rawBodyBytes: 32,
  crc32: 36,
  modelHash: 40,
  modelIdLength: 48,
  modelId: 49,
});
/** Bytes of the version 1 header before the model id. */
export const FIXED_HEADER_BYTES = 49;

/**
 * Version 2 carries the first 4 bytes of the model hash: the receiver already knows its model, so the prefix
 * only has to tell its builds apart (a stale client against a redeployed function); 2^-32 is the chance that
 * two different builds collide, and the full hash is still compared at deploy time.
 */
export const MODEL_HASH_BYTES_V2 = 4;
/** Byte offsets of the fixed part of a version 2 frame; the varints start at `varints`. */
export const OFF_V2 = Object.freeze({
  magic: 0,
  version: 4,
  /** bits 0-1 kind, bits 2-3 coder, bits 4-5 scope / raw format, bits 6-7 reserved (0) */
  type: 5,
  /** bits 0-3 BITMAP, PARAMS_F16, BOTTLENECK, FLOAT32; bit 4 reserved (0); bits 5-7 b - 1 (0 with FLOAT32) */
  flags: 6,
  point: 7,
  variant: 8,
  modelHash: 9,
  varints: 13,
});
/** Bytes of the fixed part of a version 2 header. */
export const FIXED_HEADER_BYTES_V2 = 13;
/** Flag bits (0-3) of the version 2 flags byte. */
const V2_FLAG_MASK = 0x0f;
/** Reserved bit (4) of the version 2 flags byte. */
const V2_FLAG_RESERVED = 0x10;
/** Longest varint: 5 bytes carry 32 bits. */
const MAX_VARINT_BYTES = 5;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

export const SCOPE_IDS: Readonly<Record<QuantScope, number>> = Object.freeze({ channel: 0, tensor: 1 });
const SCOPES: readonly QuantScope[] = ['channel', 'tensor'];
export const RAW_FORMAT_IDS: Readonly<Record<RawFormat, number>> = Object.freeze({ raw: 0, png: 1, deflate: 2 });
const RAW_FORMATS: readonly RawFormat[] = ['raw', 'png', 'deflate'];
/** Smallest possible PNG (signature, IHDR, a 1-byte IDAT, IEND) plus its u32 length prefix. */
export const MIN_PNG_ENTRY_BYTES = 4 + 8 + 25 + 13 + 12;

const HASH_RE = /^sha256:([0-9a-fA-F]{64})$/;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** 32 raw bytes of a `"sha256:<hex>"` hash; `INVALID_ARGUMENT` when malformed. */
export function parseModelHash(hash: string): Uint8Array {
  const m = typeof hash === 'string' ? HASH_RE.exec(hash) : null;
  if (m === null)
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'model hash must be "sha256:<64 hex chars>"', { hash });
  const hex = m[1] as string;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `"sha256:<16 hex>"`: the hash prefix a header carries. */
function formatModelHash(bytes: Uint8Array, at: number): string {
  let s = 'sha256:';
  for (let i = 0; i < MODEL_HASH_BYTES; i++) s += (bytes[at + i] as number).toString(16).padStart(2, '0');
  return s;
}

let lastModel: { id: string; hash: string; bytes: { id: Uint8Array; hash: Uint8Array } } | undefined;

/** Validates a ModelRef for encoding; returns its id bytes and hash bytes (the last one is memoized). */
export function encodeModelRef(model: ModelRef): { id: Uint8Array; hash: Uint8Array } {
  if (
    lastModel !== undefined &&
    model !== null &&
    typeof model === 'object' &&
    model.id === lastModel.id &&
    model.hash === lastModel.hash
  ) {
    return lastModel.bytes;
  }
  if (model === null || typeof model !== 'object' || typeof model.id !== 'string') {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'model must be { id: string; hash: string }');
  }
  const id = utf8.encode(model.id);
  if (id.length < 1 || id.length > MAX_MODEL_ID_BYTES) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `model id must be 1..${MAX_MODEL_ID_BYTES} UTF-8 bytes`, {
      bytes: id.length,
    });
  }
  const bytes = { id, hash: parseModelHash(model.hash) };
  lastModel = { id: model.id, hash: model.hash, bytes };
  return bytes;
}

/** Byte layout of a features body before entropy coding (bitmap, then all mins, then all scales, then codes). */
export interface FeatureLayout {
  /** Bitmap bytes of one item: ceil(H*W / 8), or 0 without a bitmap. */
  itemBitmapBytes: number;
  bitmapBytes: number;
  /** Number of (min, scale) pairs: N*C (channel scope) or N (tensor scope); 0 for float32 values. */
  groups: number;
  /** Bytes of one min or scale: 2 (f16) or 4 (f32; also for float32 values, which have no parameters). */
  paramWidth: number;
  paramBytes: number;
  /** Bytes of the packed codes (float32: of the N*k*C binary32 values). */
  codeBytes: number;
  /** bitmap + params: the bytes before the packed codes. */
  prefixBytes: number;
  rawBodyBytes: number;
}

/**
 * Layout of the uncompressed features body for a shape and settings. With `bits` = {@link FLOAT32_BITS} the
 * body is the bitmap then N*k*C binary32 values: no parameters (`groups` 0, `scope` and `f16` ignored).
 */
export function featureLayout(
  dims: readonly [number, number, number],
  batch: number,
  keepCount: number,
  bits: number,
  scope: QuantScope,
  f16: boolean,
): FeatureLayout {
  const [c, h, w] = dims;
  const hw = h * w;
  const itemBitmapBytes = keepCount < hw ? Math.ceil(hw / 8) : 0;
  const bitmapBytes = batch * itemBitmapBytes;
  const float32 = bits === FLOAT32_BITS;
  const groups = float32 ? 0 : scope === 'channel' ? batch * c : batch;
  const paramWidth = f16 && !float32 ? 2 : 4;
  const paramBytes = 2 * groups * paramWidth;
  // float32: 4 bytes per value (packedBytes at 32 bits)
  const codeBytes = packedBytes(batch * keepCount * c, bits);
  const prefixBytes = bitmapBytes + paramBytes;
  return {
    itemBitmapBytes,
    bitmapBytes,
    groups,
    paramWidth,
    paramBytes,
    codeBytes,
    prefixBytes,
    rawBodyBytes: prefixBytes + codeBytes,
  };
}

/** What the encoders put in a header (the rest is derived). */
export interface FrameFields {
  /** Frame version, 1 or 2. */
  version: 1 | 2;
  kind: 'features' | 'raw';
  flags: number;
  coder: CoderId;
  /** Quant scope id (features) or raw format id (raw). */
  mode: number;
  bits: number;
  point: number;
  variantPercent: number;
  dims: readonly [number, number, number];
  batch: number;
  keepCount: number;
  valueCount: number;
  rawBodyBytes: number;
  modelId: Uint8Array;
  modelHash: Uint8Array;
}

/** Assembles header + body and writes the CRC-32 (over every byte of the frame except the CRC field). */
export function writeFrame(f: FrameFields, body: Uint8Array): Uint8Array {
  return f.version === VERSION_1 ? writeFrameV1(f, body) : writeFrameV2(f, body);
}

/** Bytes of the unsigned LEB128 form of `v` (0 <= v < 2^32). */
export function varintBytes(v: number): number {
  let n = 1;
  for (let x = v; x >= 0x80; x = Math.floor(x / 128)) n++;
  return n;
}

/** Writes `v` as a minimal unsigned LEB128 varint at `at`; returns the offset after it. */
export function writeVarint(out: Uint8Array, at: number, v: number): number {
  let x = v;
  let i = at;
  while (x >= 0x80) {
    out[i++] = (x & 0x7f) | 0x80;
    x = Math.floor(x / 128);
  }
  out[i++] = x;
  return i;
}

type V2Sized = Pick<FrameFields, 'dims' | 'batch' | 'flags' | 'keepCount'>;

/** The varints of a version 2 header, in wire order. */
function v2Varints(f: V2Sized, bodyBytes: number): number[] {
  const [c, h, w] = f.dims;
  const out = [c, h, w, f.batch];
  if ((f.flags & FLAG_BITMAP) !== 0) out.push(f.keepCount);
  out.push(bodyBytes);
  return out;
}

/**
 * Bytes of a version 2 frame around a body of `bodyBytes`: the fixed header, the varints, the CRC and
 * the body. The size depends on neither the body's values nor the model.
 *
 * @example
 * frameBytesV2({ dims: [1, 28, 28], batch: 1, flags: 0, keepCount: 0 }, 784) // 807
 */
export function frameBytesV2(f: V2Sized, bodyBytes: number): number {
  return FIXED_HEADER_BYTES_V2 + v2Varints(f, bodyBytes).reduce((s, v) => s + varintBytes(v), 0) + 4 + bodyBytes;
}

function writeFrameV2(f: FrameFields, body: Uint8Array): Uint8Array {
  const varints = v2Varints(f, body.length);
  const out = new Uint8Array(frameBytesV2(f, body.length));
  const headerBytes = out.length - body.length;
  out.set(MAGIC, OFF_V2.magic);
  out[OFF_V2.version] = VERSION_2;
  out[OFF_V2.type] = (f.kind === 'features' ? KIND_FEATURES : KIND_RAW) | (CODER_IDS[f.coder] << 2) | (f.mode << 4);
  // float32 values: the FLOAT32 flag instead of a bit depth (the b - 1 field stays 0)
  out[OFF_V2.flags] = f.bits === FLOAT32_BITS ? f.flags | FLAG_FLOAT32 : f.flags | ((f.bits - 1) << 5);
  out[OFF_V2.point] = f.point;
  out[OFF_V2.variant] = f.variantPercent;
  out.set(f.modelHash.subarray(0, MODEL_HASH_BYTES_V2), OFF_V2.modelHash);
  let at: number = OFF_V2.varints;
  for (const v of varints) at = writeVarint(out, at, v);
  out.set(body, headerBytes);
  new DataView(out.buffer).setUint32(at, frameCrc(out, out.length, at), true);
  return out;
}

function writeFrameV1(f: FrameFields, body: Uint8Array): Uint8Array {
  const modelId = f.modelId;
  const headerBytes = FIXED_HEADER_BYTES + modelId.length;
  const out = new Uint8Array(headerBytes + body.length);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, OFF.magic);
  dv.setUint8(OFF.version, VERSION_1);
  dv.setUint8(OFF.kind, f.kind === 'features' ? KIND_FEATURES : KIND_RAW);
  dv.setUint8(OFF.flags, f.flags);
  dv.setUint8(OFF.coder, CODER_IDS[f.coder]);
  dv.setUint8(OFF.mode, f.mode);
  dv.setUint8(OFF.bits, f.bits);
  dv.setUint8(OFF.point, f.point);
  dv.setUint8(OFF.variant, f.variantPercent);
  dv.setUint16(OFF.channels, f.dims[0], true);
  dv.setUint16(OFF.height, f.dims[1], true);
  dv.setUint16(OFF.width, f.dims[2], true);
  dv.setUint16(OFF.batch, f.batch, true);
  dv.setUint32(OFF.keepCount, f.keepCount, true);
  dv.setUint32(OFF.valueCount, f.valueCount, true);
  dv.setUint32(OFF.bodyBytes, body.length, true);
  dv.setUint32(OFF.rawBodyBytes, f.rawBodyBytes, true);
  out.set(f.modelHash.subarray(0, MODEL_HASH_BYTES), OFF.modelHash);
  dv.setUint8(OFF.modelIdLength, modelId.length);
  out.set(modelId, OFF.modelId);
  out.set(body, headerBytes);
  dv.setUint32(OFF.crc32, frameCrc(out, out.length), true);
  return out;
}

/**
 * CRC-32 of frame bytes [0, crcAt) and [crcAt + 4, end): every byte but the CRC field (at 36 in version 1, the
 * last 4 bytes of the header in version 2).
 */
export function frameCrc(bytes: Uint8Array, end: number, crcAt: number = OFF.crc32): number {
  return crc32Update(crc32Update(0, bytes, 0, crcAt), bytes, crcAt + 4, end);
}

/** Offset of the CRC-32 field of a validated header. */
export function crcOffset(header: PayloadHeader): number {
  return header.version === VERSION_1 ? OFF.crc32 : header.headerBytes - 4;
}

function fail(
  code: (typeof ErrorCodes)[keyof typeof ErrorCodes],
  message: string,
  details: Record<string, unknown> = {},
): never {
  throw new CodecError(code, message, details);
}

/**
 * Reads and validates the header (steps 1-17 of docs/wire-format.md): everything that can be checked
 * without the body. Does not check that the body is present, nor the CRC, nor the caller's expectations.
 */
export function readHeader(bytes: Uint8Array, opts: DecodeOptions | undefined): PayloadHeader {
  if (!(bytes instanceof Uint8Array)) fail(ErrorCodes.INVALID_ARGUMENT, 'payload must be a Uint8Array');
  const limits = resolveLimits(opts?.limits);
  const len = bytes.length;
  if (len > limits.maxPayloadBytes) {
    fail(ErrorCodes.PAYLOAD_TOO_LARGE, `payload of ${len} bytes exceeds ${limits.maxPayloadBytes}`, {
      length: len,
      limit: limits.maxPayloadBytes,
    });
  }
  for (let i = 0; i < MAGIC.length && i < len; i++) {
    if (bytes[i] !== MAGIC[i]) fail(ErrorCodes.BAD_MAGIC, 'not a jmdc payload (bad magic)');
  }
  if (len <= OFF.version) fail(ErrorCodes.PAYLOAD_TRUNCATED, 'payload ends inside the header', { length: len });
  const version = bytes[OFF.version] as number;
  if (version !== VERSION_1 && version !== VERSION_2)
    fail(ErrorCodes.UNSUPPORTED_VERSION, `unsupported wire format version ${version}`, { version });
  if (version === VERSION_2) return readHeaderV2(bytes, limits);
  if (len < FIXED_HEADER_BYTES) fail(ErrorCodes.PAYLOAD_TRUNCATED, 'payload ends inside the header', { length: len });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);

  const kindId = dv.getUint8(OFF.kind);
  if (kindId !== KIND_FEATURES && kindId !== KIND_RAW)
    fail(ErrorCodes.BAD_HEADER, `unknown payload kind ${kindId}`, { kind: kindId });
  const features = kindId === KIND_FEATURES;

  const coderId = dv.getUint8(OFF.coder);
  if (features ? coderId >= CODERS_BY_ID.length : coderId !== 0)
    fail(ErrorCodes.BAD_CODER, `unknown coder ${coderId}`, { coder: coderId });
  const coder = CODERS_BY_ID[coderId] as CoderId;

  const mode = dv.getUint8(OFF.mode);
  if (mode >= (features ? SCOPES.length : RAW_FORMATS.length)) {
    fail(ErrorCodes.BAD_HEADER, `unknown ${features ? 'quant scope' : 'raw format'} ${mode}`, { mode });
  }
  const quantScope: QuantScope = features ? (SCOPES[mode] as QuantScope) : 'channel';
  const rawFormat: RawFormat | undefined = features ? undefined : RAW_FORMATS[mode];

  const bits = dv.getUint8(OFF.bits);
  if (features ? bits < 1 || bits > 8 : bits !== 8) fail(ErrorCodes.BAD_HEADER, `bits ${bits} out of range`, { bits });

  const flags = dv.getUint8(OFF.flags);
  if ((flags & ~(features ? FLAG_BITMAP | FLAG_PARAMS_F16 : 0)) !== 0)
    fail(ErrorCodes.BAD_HEADER, 'reserved flag bits set', { flags });

  const point = dv.getUint8(OFF.point);
  const variantPercent = dv.getUint8(OFF.variant);
  if (variantPercent > 100) fail(ErrorCodes.BAD_HEADER, `variant ${variantPercent}% out of range`, { variantPercent });
  // raw images are the whole network's input: they go to point 0 and run the unpruned variant
  if (!features && (point !== 0 || variantPercent !== 0)) {
    fail(ErrorCodes.BAD_HEADER, `a raw image payload has point 0 and variant 0, got ${point} and ${variantPercent}%`, {
      point,
      variantPercent,
    });
  }

  const idLength = dv.getUint8(OFF.modelIdLength);
  if (idLength < 1 || idLength > MAX_MODEL_ID_BYTES)
    fail(ErrorCodes.BAD_HEADER, `model id length ${idLength} out of range`, { idLength });

  const c = dv.getUint16(OFF.channels, true);
  const h = dv.getUint16(OFF.height, true);
  const w = dv.getUint16(OFF.width, true);
  if (c < 1 || c > limits.maxChannels || h < 1 || h > limits.maxSide || w < 1 || w > limits.maxSide) {
    fail(ErrorCodes.DIMS_OUT_OF_RANGE, `dims [${c}, ${h}, ${w}] out of range`, { dims: [c, h, w], limits });
  }
  if (rawFormat === 'png' && c > 4)
    fail(ErrorCodes.DIMS_OUT_OF_RANGE, `png images have 1..4 channels, got ${c}`, { channels: c });

  const batch = dv.getUint16(OFF.batch, true);
  if (batch < 1 || batch > limits.maxBatch) {
    fail(ErrorCodes.BATCH_OUT_OF_RANGE, `batch ${batch} out of range 1..${limits.maxBatch}`, {
      batch,
      limit: limits.maxBatch,
    });
  }

  const hw = h * w;
  const keepCount = dv.getUint32(OFF.keepCount, true);
  if (features ? keepCount < 1 || keepCount > hw : keepCount !== 0) {
    fail(ErrorCodes.COUNT_MISMATCH, `keep count ${keepCount} out of range for ${hw} positions`, { keepCount, hw });
  }
  const hasBitmap = (flags & FLAG_BITMAP) !== 0;
  if (features && hasBitmap !== keepCount < hw) {
    fail(ErrorCodes.BAD_HEADER, 'bitmap flag must be set exactly when k < H*W', { flags, keepCount, hw });
  }
  const f16 = (flags & FLAG_PARAMS_F16) !== 0;

  const valueCount = dv.getUint32(OFF.valueCount, true);
  const expectedValues = features ? batch * keepCount * c : batch * c * hw;
  if (valueCount !== expectedValues) {
    fail(ErrorCodes.COUNT_MISMATCH, `value count ${valueCount} != ${expectedValues}`, {
      valueCount,
      expected: expectedValues,
    });
  }

  const denseBytes = batch * c * hw * (features ? 4 : 1);
  const rawBodyBytes = dv.getUint32(OFF.rawBodyBytes, true);
  if (denseBytes > limits.maxDecodedBytes || rawBodyBytes > limits.maxDecodedBytes) {
    fail(ErrorCodes.DECODED_TOO_LARGE, 'decoded size exceeds maxDecodedBytes', {
      denseBytes,
      rawBodyBytes,
      limit: limits.maxDecodedBytes,
    });
  }
  const layout = features ? featureLayout([c, h, w], batch, keepCount, bits, quantScope, f16) : undefined;
  const expectedRaw = layout === undefined ? batch * c * hw : layout.rawBodyBytes;
  if (rawBodyBytes !== expectedRaw) {
    fail(ErrorCodes.COUNT_MISMATCH, `uncompressed body bytes ${rawBodyBytes} != ${expectedRaw}`, {
      rawBodyBytes,
      expected: expectedRaw,
    });
  }

  const bodyBytes = dv.getUint32(OFF.bodyBytes, true);
  checkBodyBytes(bodyBytes, coder, layout, rawFormat, rawBodyBytes, batch);

  const headerBytes = FIXED_HEADER_BYTES + idLength;
  if (len < headerBytes)
    fail(ErrorCodes.PAYLOAD_TRUNCATED, 'payload ends inside the model id', { length: len, headerBytes });
  let modelId: string;
  try {
    modelId = utf8Strict.decode(bytes.subarray(OFF.modelId, headerBytes));
  } catch (e) {
    throw new CodecError(ErrorCodes.BAD_HEADER, 'model id is not valid UTF-8', {}, { cause: e });
  }

  const header: PayloadHeader = {
    version: VERSION_1,
    kind: features ? 'features' : 'raw',
    bottleneck: false,
    modelId,
    modelHash: formatModelHash(bytes, OFF.modelHash),
    point,
    variant: variantPercent / 100,
    keepCount,
    bits,
    coder,
    quantScope,
    paramPrecision: f16 ? 'f16' : 'f32',
    hasBitmap,
    dims: [c, h, w],
    batch,
    valueCount,
    bodyBytes,
    rawBodyBytes,
    headerBytes,
    crc32: dv.getUint32(OFF.crc32, true),
  };
  if (rawFormat !== undefined) header.rawFormat = rawFormat;
  return header;
}

/** Reads a minimal unsigned LEB128 varint of at most 5 bytes and < 2^32 (`BAD_HEADER` otherwise). */
function readVarint(bytes: Uint8Array, at: number, field: string): { value: number; next: number } {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (at + i >= bytes.length) {
      fail(ErrorCodes.PAYLOAD_TRUNCATED, `payload ends inside the ${field} varint`, { length: bytes.length, field });
    }
    const b = bytes[at + i] as number;
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) {
        fail(ErrorCodes.BAD_HEADER, `${field} varint is not minimal (trailing zero byte)`, {
          field,
          reason: 'varint-non-minimal',
        });
      }
      if (value > U32_MAX) {
        fail(ErrorCodes.BAD_HEADER, `${field} varint exceeds 32 bits`, { field, reason: 'varint-overlong' });
      }
      return { value, next: at + i + 1 };
    }
  }
  return fail(ErrorCodes.BAD_HEADER, `${field} varint is longer than ${MAX_VARINT_BYTES} bytes`, {
    field,
    reason: 'varint-overlong',
  });
}

/**
 * The version 2 header (docs/wire-format.md, "Version 2"): the same checks as version 1, in the same order,
 * on the packed fields and varints. The model id is not carried, the keep count only with a bitmap (else it is
 * H*W), valueCount and rawBodyBytes are derived.
 */
function readHeaderV2(bytes: Uint8Array, limits: DecodeLimits): PayloadHeader {
  const len = bytes.length;
  if (len < FIXED_HEADER_BYTES_V2)
    fail(ErrorCodes.PAYLOAD_TRUNCATED, 'payload ends inside the header', { length: len });
  const type = bytes[OFF_V2.type] as number;
  const kindId = type & 3;
  if (kindId !== KIND_FEATURES && kindId !== KIND_RAW)
    fail(ErrorCodes.BAD_HEADER, `unknown payload kind ${kindId}`, { kind: kindId });
  const features = kindId === KIND_FEATURES;
  const coderId = (type >>> 2) & 3;
  if (!features && coderId !== 0) fail(ErrorCodes.BAD_CODER, `unknown coder ${coderId}`, { coder: coderId });
  const coder = CODERS_BY_ID[coderId] as CoderId;
  const mode = (type >>> 4) & 3;
  if (mode >= (features ? SCOPES.length : RAW_FORMATS.length)) {
    fail(ErrorCodes.BAD_HEADER, `unknown ${features ? 'quant scope' : 'raw format'} ${mode}`, { mode });
  }
  const quantScope: QuantScope = features ? (SCOPES[mode] as QuantScope) : 'channel';
  const rawFormat: RawFormat | undefined = features ? undefined : RAW_FORMATS[mode];

  const flagsByte = bytes[OFF_V2.flags] as number;
  const bitsField = (flagsByte >>> 5) + 1;
  if (!features && bitsField !== 8) fail(ErrorCodes.BAD_HEADER, `bits ${bitsField} out of range`, { bits: bitsField });
  const flags = flagsByte & V2_FLAG_MASK;
  if ((type & 0xc0) !== 0 || (flagsByte & V2_FLAG_RESERVED) !== 0 || (!features && flags !== 0))
    fail(ErrorCodes.BAD_HEADER, 'reserved flag bits set', { type, flags: flagsByte });
  // float32 values: no bit depth, no parameters (so no precision flag and no scope), no rans (it codes b-bit codes)
  const float32 = (flags & FLAG_FLOAT32) !== 0;
  if (float32) {
    if (bitsField !== 1 || (flags & FLAG_PARAMS_F16) !== 0 || mode !== 0) {
      fail(ErrorCodes.BAD_HEADER, 'a float32 features frame has bits field 0, no PARAMS_F16 flag and scope 0', {
        flags: flagsByte,
        mode,
      });
    }
    if (coder === 'rans') fail(ErrorCodes.BAD_CODER, 'float32 features cannot be rans-coded', { coder: coderId });
  }
  const bits = float32 ? FLOAT32_BITS : bitsField;

  const point = bytes[OFF_V2.point] as number;
  const variantPercent = bytes[OFF_V2.variant] as number;
  if (variantPercent > 100) fail(ErrorCodes.BAD_HEADER, `variant ${variantPercent}% out of range`, { variantPercent });
  if (!features && (point !== 0 || variantPercent !== 0)) {
    fail(ErrorCodes.BAD_HEADER, `a raw image payload has point 0 and variant 0, got ${point} and ${variantPercent}%`, {
      point,
      variantPercent,
    });
  }

  let at: number = OFF_V2.varints;
  const next = (field: string): number => {
    const r = readVarint(bytes, at, field);
    at = r.next;
    return r.value;
  };
  const c = next('C');
  const h = next('H');
  const w = next('W');
  const maxC = Math.min(limits.maxChannels, U16_MAX);
  const maxSide = Math.min(limits.maxSide, U16_MAX);
  if (c < 1 || c > maxC || h < 1 || h > maxSide || w < 1 || w > maxSide) {
    fail(ErrorCodes.DIMS_OUT_OF_RANGE, `dims [${c}, ${h}, ${w}] out of range`, { dims: [c, h, w], limits });
  }
  if (rawFormat === 'png' && c > 4)
    fail(ErrorCodes.DIMS_OUT_OF_RANGE, `png images have 1..4 channels, got ${c}`, { channels: c });
  const batch = next('N');
  if (batch < 1 || batch > Math.min(limits.maxBatch, U16_MAX)) {
    fail(ErrorCodes.BATCH_OUT_OF_RANGE, `batch ${batch} out of range 1..${limits.maxBatch}`, {
      batch,
      limit: limits.maxBatch,
    });
  }
  const hw = h * w;
  const hasBitmap = (flags & FLAG_BITMAP) !== 0;
  let keepCount = features ? hw : 0;
  if (hasBitmap) {
    keepCount = next('k');
    // with the bitmap, k < H*W; without it k = H*W is implied
    if (keepCount < 1 || keepCount >= hw) {
      fail(ErrorCodes.COUNT_MISMATCH, `keep count ${keepCount} out of range for a bitmap of ${hw} positions`, {
        keepCount,
        hw,
      });
    }
  }
  const bodyBytes = next('bodyBytes');
  const f16 = (flags & FLAG_PARAMS_F16) !== 0;
  const valueCount = features ? batch * keepCount * c : batch * c * hw;
  const denseBytes = batch * c * hw * (features ? 4 : 1);
  const layout = features ? featureLayout([c, h, w], batch, keepCount, bits, quantScope, f16) : undefined;
  const rawBodyBytes = layout === undefined ? batch * c * hw : layout.rawBodyBytes;
  if (
    denseBytes > limits.maxDecodedBytes ||
    rawBodyBytes > limits.maxDecodedBytes ||
    valueCount > U32_MAX ||
    rawBodyBytes > U32_MAX
  ) {
    fail(ErrorCodes.DECODED_TOO_LARGE, 'decoded size exceeds maxDecodedBytes', {
      denseBytes,
      rawBodyBytes,
      limit: limits.maxDecodedBytes,
    });
  }
  checkBodyBytes(bodyBytes, coder, layout, rawFormat, rawBodyBytes, batch);

  const headerBytes = at + 4;
  if (len < headerBytes)
    fail(ErrorCodes.PAYLOAD_TRUNCATED, 'payload ends inside the checksum', { length: len, headerBytes });
  let modelHash = 'sha256:';
  for (let i = 0; i < MODEL_HASH_BYTES_V2; i++) {
    modelHash += (bytes[OFF_V2.modelHash + i] as number).toString(16).padStart(2, '0');
  }
  const header: PayloadHeader = {
    version: VERSION_2,
    kind: features ? 'features' : 'raw',
    bottleneck: (flags & FLAG_BOTTLENECK) !== 0,
    modelId: undefined,
    modelHash,
    point,
    variant: variantPercent / 100,
    keepCount,
    bits,
    coder,
    quantScope,
    paramPrecision: f16 ? 'f16' : 'f32',
    hasBitmap,
    dims: [c, h, w],
    batch,
    valueCount,
    bodyBytes,
    rawBodyBytes,
    headerBytes,
    crc32: new DataView(bytes.buffer, bytes.byteOffset, len).getUint32(at, true),
  };
  if (rawFormat !== undefined) header.rawFormat = rawFormat;
  return header;
}

/** bodyBytes consistent with the coder: the uncoded size for `none` and raw `raw`, else a lower bound. */
function checkBodyBytes(
  bodyBytes: number,
  coder: CoderId,
  layout: FeatureLayout | undefined,
  rawFormat: RawFormat | undefined,
  rawBodyBytes: number,
  batch: number,
): void {
  let minBody = 1;
  let exactBody: number | undefined;
  if (layout !== undefined) {
    if (coder === 'none') exactBody = layout.rawBodyBytes;
    else if (coder === 'rans') minBody = 4;
  } else if (rawFormat === 'raw') exactBody = rawBodyBytes;
  else if (rawFormat === 'png') minBody = batch * MIN_PNG_ENTRY_BYTES;
  if (exactBody !== undefined ? bodyBytes !== exactBody : bodyBytes < minBody) {
    fail(ErrorCodes.COUNT_MISMATCH, `body bytes ${bodyBytes} inconsistent with the header`, {
      bodyBytes,
      exactBody,
      minBody,
    });
  }
}

/**
 * Checks the caller's expectations against a validated header: model hash, model id, point, then kind,
 * variant and dims against `expectLayouts`. Runs before any byte of the body is decoded.
 */
export function checkExpectations(header: PayloadHeader, opts: DecodeOptions | undefined): void {
  if (opts?.expectModelHash !== undefined) {
    parseModelHash(opts.expectModelHash); // validates the format
    const prefixBytes = header.version === VERSION_1 ? MODEL_HASH_BYTES : MODEL_HASH_BYTES_V2;
    const want = opts.expectModelHash.slice(7, 7 + 2 * prefixBytes).toLowerCase();
    if (header.modelHash.slice(7) !== want) {
      fail(ErrorCodes.MODEL_MISMATCH, 'payload was produced for another model', {
        expected: `sha256:${want}`,
        actual: header.modelHash,
        modelId: header.modelId,
      });
    }
  }
  // version 2 frames carry no id (the receiver knows its model): only the hash prefix applies to them
  if (opts?.expectModelId !== undefined && header.modelId !== undefined && header.modelId !== opts.expectModelId) {
    fail(ErrorCodes.MODEL_MISMATCH, `payload was produced for model ${JSON.stringify(header.modelId)}`, {
      expected: opts.expectModelId,
      actual: header.modelId,
    });
  }
  if (opts?.expectPoint !== undefined && header.point !== opts.expectPoint) {
    fail(ErrorCodes.WRONG_POINT, `payload is for partition point ${header.point}, expected ${opts.expectPoint}`, {
      expected: opts.expectPoint,
      actual: header.point,
    });
  }
  if (opts?.expectLayouts !== undefined) checkLayout(header, opts.expectLayouts);
}

/** Whole percent of a prune ratio, as the header stores it. */
function percentOf(ratio: number): number {
  return Math.round(ratio * 100);
}

function checkLayout(header: PayloadHeader, layouts: readonly ExpectedLayout[]): void {
  if (!Array.isArray(layouts)) fail(ErrorCodes.INVALID_ARGUMENT, 'expectLayouts must be an array');
  const sameKind = layouts.filter((l) => l?.kind === header.kind);
  if (sameKind.length === 0) {
    fail(ErrorCodes.WRONG_POINT, `a ${header.kind} payload is not accepted here`, {
      kind: header.kind,
      accepted: [...new Set(layouts.map((l) => l?.kind))],
    });
  }
  const percent = percentOf(header.variant);
  const layout = sameKind.find(
    (l) => percentOf(l.variant) === percent && (l.bottleneck === true) === header.bottleneck,
  );
  if (layout === undefined) {
    fail(
      ErrorCodes.UNKNOWN_VARIANT,
      `variant ${percent}%${header.bottleneck ? ' with a bottleneck' : ''} is not served here`,
      {
        variantPercent: percent,
        bottleneck: header.bottleneck,
        served: sameKind.filter((l) => l.bottleneck !== true).map((l) => percentOf(l.variant)),
        servedBottleneck: sameKind.filter((l) => l.bottleneck === true).map((l) => percentOf(l.variant)),
      },
    );
  }
  const want = layout.dims;
  if (want.length !== 3 || header.dims.some((d, i) => d !== want[i])) {
    fail(
      ErrorCodes.SHAPE_MISMATCH,
      `${header.kind} of ${header.dims.join('x')} do not match ${want.join('x')} of variant ${percent}%`,
      { expected: [...want], actual: header.dims, variantPercent: percent },
    );
  }
}
