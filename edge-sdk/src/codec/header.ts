/**
 * The frame: a 49-byte fixed header, the model id, then the body. All integers little-endian.
 * See docs/wire-format.md for the table and the validation order.
 */
import { CodecError, ErrorCodes } from '../errors.js';
import { packedBytes } from './bitpack.js';
import { CODER_IDS, CODERS_BY_ID } from './coders.js';
import { crc32Update } from './crc32.js';
import { resolveLimits } from './limits.js';
import type {
  CoderId,
  DecodeOptions,
  ExpectedLayout,
  ModelRef,
  PayloadHeader,
  QuantScope,
  RawFormat,
} from './types.js';

export const MAGIC = Uint8Array.of(0x4a, 0x4d, 0x44, 0x43); // "JMDC"
export const VERSION = 1;
export const KIND_FEATURES = 1;
export const KIND_RAW = 2;
/** flags bit 0: the body starts with the kept-position bitmap (set iff k < H*W). */
export const FLAG_BITMAP = 0x01;
/** flags bit 1: min/scale pairs are binary16 (else binary32). */
export const FLAG_PARAMS_F16 = 0x02;
export const MAX_MODEL_ID_BYTES = 64;
/** The header carries the first 8 bytes of the model's sha256 content hash: enough to tell builds apart. */
export const MODEL_HASH_BYTES = 8;

/** Byte offsets of the fixed header fields. */
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
/** Bytes of the header before the model id. */
export const FIXED_HEADER_BYTES = 49;

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
  /** Number of (min, scale) pairs: N*C (channel scope) or N (tensor scope). */
  groups: number;
  /** Bytes of one min or scale: 2 (f16) or 4 (f32). */
  paramWidth: number;
  paramBytes: number;
  codeBytes: number;
  /** bitmap + params: the bytes before the packed codes. */
  prefixBytes: number;
  rawBodyBytes: number;
}

/** Layout of the uncompressed features body for a shape and settings. */
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
  const groups = scope === 'channel' ? batch * c : batch;
  const paramWidth = f16 ? 2 : 4;
  const paramBytes = 2 * groups * paramWidth;
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
  const headerBytes = FIXED_HEADER_BYTES + f.modelId.length;
  const out = new Uint8Array(headerBytes + body.length);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, OFF.magic);
  dv.setUint8(OFF.version, VERSION);
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
  dv.setUint8(OFF.modelIdLength, f.modelId.length);
  out.set(f.modelId, OFF.modelId);
  out.set(body, headerBytes);
  dv.setUint32(OFF.crc32, frameCrc(out, out.length), true);
  return out;
}

/** CRC-32 of frame bytes [0, 36) and [40, end). */
export function frameCrc(bytes: Uint8Array, end: number): number {
  return crc32Update(crc32Update(0, bytes, 0, OFF.crc32), bytes, OFF.crc32 + 4, end);
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
  if (version !== VERSION)
    fail(ErrorCodes.UNSUPPORTED_VERSION, `unsupported wire format version ${version}`, { version });
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
    version,
    kind: features ? 'features' : 'raw',
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

/**
 * Checks the caller's expectations against a validated header: model hash, model id, point, then kind,
 * variant and dims against `expectLayouts`. Runs before any byte of the body is decoded.
 */
export function checkExpectations(header: PayloadHeader, opts: DecodeOptions | undefined): void {
  if (opts?.expectModelHash !== undefined) {
    parseModelHash(opts.expectModelHash); // validates the format
    const want = opts.expectModelHash.slice(7, 7 + 2 * MODEL_HASH_BYTES).toLowerCase();
    if (header.modelHash.slice(7) !== want) {
      fail(ErrorCodes.MODEL_MISMATCH, 'payload was produced for another model', {
        expected: `sha256:${want}`,
        actual: header.modelHash,
        modelId: header.modelId,
      });
    }
  }
  if (opts?.expectModelId !== undefined && header.modelId !== opts.expectModelId) {
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
  const layout = sameKind.find((l) => percentOf(l.variant) === percent);
  if (layout === undefined) {
    fail(ErrorCodes.UNKNOWN_VARIANT, `variant ${percent}% is not served here`, {
      variantPercent: percent,
      served: sameKind.map((l) => percentOf(l.variant)),
    });
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
