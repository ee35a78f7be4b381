import { CodecError, ErrorCodes } from '../errors.js';
import { packBits } from './bitpack.js';
import { LITTLE_ENDIAN } from './bytes.js';
import { zlibCompress } from './coders.js';
import { f16Bits } from './float16.js';
import {
  encodeModelRef,
  FLAG_BITMAP,
  FLAG_BOTTLENECK,
  FLAG_PARAMS_F16,
  FLOAT32_BITS,
  featureLayout,
  SCOPE_IDS,
  writeFrame,
} from './header.js';
import { groupMinMax, type QuantParams, quantizeWith, quantParams } from './quantize.js';
import { ransEncodeSections } from './rans.js';
import { keepCountFor, selectTopK } from './selectTopK.js';
import type { CoderId, FeatureBatch, FeatureEncodeOptions, QuantScope } from './types.js';

const CODERS: ReadonlySet<string> = new Set(['none', 'deflate', 'brotli', 'rans', 'auto']);
const U32_MAX = 0xffffffff;

function invalid(message: string, details: Record<string, unknown> = {}): CodecError {
  return new CodecError(ErrorCodes.INVALID_ARGUMENT, message, details);
}

function isU16Positive(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0xffff;
}

/** Index of the first non-finite value, or -1. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Validates the input and options; returns the resolved settings. */
function resolve(input: FeatureBatch, opts: FeatureEncodeOptions) {
  if (input === null || typeof input !== 'object') throw invalid('input must be a FeatureBatch');
  if (opts === null || typeof opts !== 'object') throw invalid('options are required');
  const dims = input.dims;
  if (!Array.isArray(dims) || dims.length !== 3 || !dims.every(isU16Positive)) {
    throw invalid('dims must be [C, H, W], each an integer 1..65535', { dims });
  }
  const [c, h, w] = dims;
  const batch = input.batch;
  if (!isU16Positive(batch)) throw invalid('batch must be an integer 1..65535', { batch });
  const hw = h * w;
  if (!(input.features instanceof Float32Array)) throw invalid('features must be a Float32Array');
  if (!(input.attention instanceof Float32Array)) throw invalid('attention must be a Float32Array');
  if (input.features.length !== batch * c * hw) {
    throw new CodecError(
      ErrorCodes.SHAPE_MISMATCH,
      `features has ${input.features.length} values, N*C*H*W = ${batch * c * hw}`,
      {
        length: input.features.length,
        expected: batch * c * hw,
      },
    );
  }
  if (input.attention.length !== batch * hw) {
    throw new CodecError(
      ErrorCodes.SHAPE_MISMATCH,
      `attention has ${input.attention.length} values, N*H*W = ${batch * hw}`,
      {
        length: input.attention.length,
        expected: batch * hw,
      },
    );
  }
  const bits = opts.bits;
  const float32 = bits === FLOAT32_BITS;
  if (!float32 && (!Number.isInteger(bits) || bits < 1 || bits > 8))
    throw invalid(`bits must be an integer 1..8, or 32 for float32 values, got ${bits}`, { bits });
  if (opts.keep !== undefined && opts.keepCount !== undefined) throw invalid('pass keep or keepCount, not both');
  let keepCount: number;
  if (opts.keepCount !== undefined) {
    keepCount = opts.keepCount;
    if (!Number.isInteger(keepCount) || keepCount < 1 || keepCount > hw) {
      throw invalid(`keepCount must be an integer 1..${hw}, got ${keepCount}`, { keepCount, hw });
    }
  } else keepCount = keepCountFor(opts.keep ?? 1, h, w);
  const coder = opts.coder ?? 'auto';
  if (!CODERS.has(coder)) throw invalid(`unknown coder ${String(coder)}`, { coder });
  const scope: QuantScope = opts.quantScope ?? 'channel';
  if (scope !== 'channel' && scope !== 'tensor') throw invalid(`unknown quantScope ${String(scope)}`, { scope });
  if (!Number.isInteger(opts.point) || opts.point < 0 || opts.point > 255) {
    throw invalid(`point must be an integer 0..255, got ${opts.point}`, { point: opts.point });
  }
  if (!(Number.isFinite(opts.variant) && opts.variant >= 0 && opts.variant <= 1)) {
    throw invalid(`variant must be a prune ratio in [0, 1], got ${opts.variant}`, { variant: opts.variant });
  }
  const frameVersion = opts.frameVersion ?? 2;
  if (frameVersion !== 1 && frameVersion !== 2) {
    throw invalid(`frameVersion must be 1 or 2, got ${String(frameVersion)}`, { frameVersion });
  }
  const bottleneck = opts.bottleneck ?? false;
  if (typeof bottleneck !== 'boolean') throw invalid('bottleneck must be a boolean', { bottleneck });
  if (bottleneck && frameVersion === 1) {
    throw invalid('only wire version 2 carries the bottleneck flag: use frameVersion 2', { frameVersion });
  }
  if (float32 && frameVersion === 1) {
    throw invalid('only wire version 2 carries float32 features: use frameVersion 2', { frameVersion });
  }
  if (float32 && coder === 'rans') {
    throw invalid('float32 features cannot be rans-coded: use none, deflate, brotli or auto', { coder });
  }
  const model = encodeModelRef(opts.model);
  const valueCount = batch * keepCount * c;
  const worst = featureLayout([c, h, w], batch, keepCount, bits, scope, false);
  if (valueCount > U32_MAX || worst.rawBodyBytes > U32_MAX)
    throw invalid('batch too large for one payload', { valueCount });
  let bad = firstNonFinite(input.features);
  if (bad >= 0) throw new CodecError(ErrorCodes.NON_FINITE, `features[${bad}] is not finite`, { index: bad });
  bad = firstNonFinite(input.attention);
  if (bad >= 0) throw new CodecError(ErrorCodes.NON_FINITE, `attention[${bad}] is not finite`, { index: bad });
  return { c, h, w, hw, batch, bits, float32, keepCount, coder, scope, model, valueCount, frameVersion, bottleneck };
}

function writeParams(body: Uint8Array, at: number, params: QuantParams, f16: boolean): void {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const groups = params.min.length;
  if (f16) {
    for (let g = 0; g < groups; g++) {
      dv.setUint16(at + 2 * g, f16Bits(params.min[g] as number), true);
      dv.setUint16(at + 2 * (groups + g), f16Bits(params.scale[g] as number), true);
    }
  } else {
    for (let g = 0; g < groups; g++) {
      dv.setFloat32(at + 4 * g, params.min[g] as number, true);
      dv.setFloat32(at + 4 * (groups + g), params.scale[g] as number, true);
    }
  }
}

/** Writes `values` as binary32 little-endian at `at` (exact: they are float32 already). */
function writeFloat32(body: Uint8Array, at: number, values: Float32Array): void {
  if (LITTLE_ENDIAN) {
    body.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
    return;
  }
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let i = 0; i < values.length; i++) dv.setFloat32(at + 4 * i, values[i] as number, true);
}

/**
 * Encodes a batch of feature tensors: top-k spatial positions per item by attention, b-bit quantization of
 * the kept values with a (min, scale) pair per channel (or per item), bit packing, entropy coding, framing.
 * The (min, scale) pairs are stored as float16 when that costs at most 1/64 of any scale, else float32
 * (header flag). With `bits: 32` the kept values are sent unquantized as binary32 (version 2 frames only; coder
 * `none`, `deflate` or `brotli`; `quantScope` ignored). Writes the compact version 2 frame unless `frameVersion: 1`.
 * Throws `CodecError`: `SHAPE_MISMATCH` (lengths vs dims), `NON_FINITE`, `INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * const payload = encodeFeatures(
 *   { dims: [64, 8, 8], batch: 1, features, attention },
 *   { model: { id: 'fmnist-vgg16', hash: manifest.hash }, point: 2, variant: 0.5, keep: 0.25, bits: 4 },
 * );
 * // a bottleneck's code (version 2 frame, the default), or a version 1 frame for an older receiver
 * const code = encodeFeatures(codeBatch, { model, point: 2, variant: 0, bits: 2, quantScope: 'tensor', bottleneck: true });
 * const old = encodeFeatures(batch, { model, point: 2, variant: 0.5, bits: 4, frameVersion: 1 });
 * // the features as they are (float32, every position, no entropy coding): 4 bytes per value + the header
 * const exact = encodeFeatures(batch, { model, point: 2, variant: 0, bits: 32, coder: 'none' });
 * ```
 */
export function encodeFeatures(input: FeatureBatch, opts: FeatureEncodeOptions): Uint8Array {
  const s = resolve(input, opts);
  const { c, hw, batch, bits, keepCount: k, scope } = s;
  const { features, attention } = input;

  // 1. region selection and gathering of the kept values (per item: channel-major, positions ascending)
  const masks = new Uint8Array(batch * hw);
  const values = new Float32Array(s.valueCount);
  const kept = new Int32Array(k);
  let o = 0;
  for (let n = 0; n < batch; n++) {
    const mask = masks.subarray(n * hw, (n + 1) * hw);
    selectTopK(attention, hw, k, n * hw, mask);
    let j = 0;
    for (let i = 0; i < hw; i++) if (mask[i] === 1) kept[j++] = i;
    const itemBase = n * c * hw;
    for (let ch = 0; ch < c; ch++) {
      const base = itemBase + ch * hw;
      for (let t = 0; t < k; t++) values[o++] = features[base + (kept[t] as number)] as number;
    }
  }

  // 2. quantization (float32: none, the values go as they are)
  let f16 = false;
  let codes: Uint8Array = new Uint8Array(0);
  let params: QuantParams | undefined;
  if (!s.float32) {
    const groupSize = scope === 'channel' ? k : k * c;
    const { min, max } = groupMinMax(values, groupSize);
    params = quantParams(min, max, bits, 'f16');
    f16 = params !== undefined;
    if (params === undefined) params = quantParams(min, max, bits, 'f32') as QuantParams;
    codes = quantizeWith(values, groupSize, bits, params);
  }

  // 3. uncompressed body: bitmap | mins | scales | packed codes (float32: bitmap | binary32 LE values)
  const layout = featureLayout([c, s.h, s.w], batch, k, bits, scope, f16);
  const body = new Uint8Array(layout.rawBodyBytes);
  if (layout.itemBitmapBytes > 0) {
    for (let n = 0; n < batch; n++) packBits(masks.subarray(n * hw, (n + 1) * hw), 1, body, n * layout.itemBitmapBytes);
  }
  if (params === undefined) writeFloat32(body, layout.prefixBytes, values);
  else {
    writeParams(body, layout.bitmapBytes, params, f16);
    packBits(codes, bits, body, layout.prefixBytes);
  }

  // 4. entropy coding
  const encodeWith = (coder: CoderId): Uint8Array => {
    if (coder === 'none') return body;
    if (coder === 'rans') {
      return ransEncodeSections({
        mask: layout.itemBitmapBytes > 0 ? masks : new Uint8Array(0),
        params: body.subarray(layout.bitmapBytes, layout.prefixBytes),
        paramWidth: layout.paramWidth,
        codes,
        bits,
        // version 2 frames carry the context-modelled rans stream; version 1 keeps the original models
        ...(s.frameVersion === 2 ? { context: { dims: [c, s.h, s.w] as const, batch, keepCount: k } } : {}),
      });
    }
    return zlibCompress(coder, body);
  };
  let chosen: { coder: CoderId; coded: Uint8Array } = { coder: 'none', coded: body };
  if (s.coder === 'auto') {
    // rans and deflate always; brotli only where an LZ coder already beats rans (repetitive data), since it
    // never won elsewhere in the bench and costs the most; 'none' when nothing is smaller.
    const consider = (coder: CoderId): void => {
      const coded = encodeWith(coder);
      if (coded.length < chosen.coded.length) chosen = { coder, coded };
    };
    // float32 values: rans does not code them, so deflate, then brotli where deflate beat none
    if (!s.float32) consider('rans');
    consider('deflate');
    if (chosen.coder === 'deflate') consider('brotli');
  } else chosen = { coder: s.coder, coded: encodeWith(s.coder) };
  const { coder, coded } = chosen;

  return writeFrame(
    {
      version: s.frameVersion,
      kind: 'features',
      flags: (k < hw ? FLAG_BITMAP : 0) | (f16 ? FLAG_PARAMS_F16 : 0) | (s.bottleneck ? FLAG_BOTTLENECK : 0),
      coder,
      // float32 values have no quantization scope: 0
      mode: s.float32 ? 0 : SCOPE_IDS[scope],
      bits,
      point: opts.point,
      variantPercent: Math.round(opts.variant * 100),
      dims: [c, s.h, s.w],
      batch,
      keepCount: k,
      valueCount: s.valueCount,
      rawBodyBytes: layout.rawBodyBytes,
      modelId: s.model.id,
      modelHash: s.model.hash,
    },
    coded,
  );
}
