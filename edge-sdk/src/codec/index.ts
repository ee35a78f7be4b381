/**
 * `@jmdc/edge-sdk/codec`: the wire codec shared by the edge SDK and the Lambda (docs/wire-format.md).
 * Depends on `node:zlib` only; never on onnxruntime.
 */
export { packBits, packedBytes, unpackBits } from './bitpack.js';
export { BROTLI_QUALITY, DEFLATE_LEVEL } from './coders.js';
export { crc32, crc32Update } from './crc32.js';
export { decodePayload, peekHeader } from './decodePayload.js';
export { encodeFeatures } from './encodeFeatures.js';
export { encodeRaw, rawPayloadBytes } from './encodeRaw.js';
export { f16Bits, f16Round, f16ToNumber } from './float16.js';
export {
  FIXED_HEADER_BYTES,
  FIXED_HEADER_BYTES_V2,
  FLOAT32_BITS,
  MAGIC,
  MODEL_HASH_BYTES_V2,
  OFF as HEADER_OFFSETS,
  OFF_V2 as HEADER_OFFSETS_V2,
  VERSION as WIRE_VERSION,
} from './header.js';
export { DEFAULT_LIMITS } from './limits.js';
export { decodePng, encodePng } from './png.js';
export {
  checkQuantParams,
  dequantize,
  F16_SCALE_SLACK,
  f32RoundUp,
  groupMinMax,
  type Quantized,
  type QuantParams,
  quantize,
  quantizeWith,
  quantParams,
} from './quantize.js';
export {
  type RansContext,
  type RansSections,
  type RansShape,
  ransDecode,
  ransDecodeSections,
  ransEncode,
  ransEncodeSections,
} from './rans.js';
export { reconstructFeatures } from './reconstructFeatures.js';
export { keepCountFor, selectTopK } from './selectTopK.js';
export type {
  CoderId,
  DecodedFeatures,
  DecodedPayload,
  DecodeLimits,
  DecodeOptions,
  ExpectedLayout,
  FeatureBatch,
  FeatureEncodeOptions,
  ModelRef,
  ParamPrecision,
  PayloadHeader,
  QuantScope,
  RawEncodeOptions,
  RawFormat,
} from './types.js';
