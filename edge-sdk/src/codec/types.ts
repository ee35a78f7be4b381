/**
 * Public types of the jmdc wire codec. The byte layout they describe is in `docs/wire-format.md`.
 */

/** Entropy coder applied to the body of a features payload. */
export type CoderId = 'none' | 'deflate' | 'brotli' | 'rans';

/** Granularity of the min/scale pairs: one per channel of each item, or one per item. */
export type QuantScope = 'channel' | 'tensor';

/** How a raw (cloud-only) image batch is stored in the body. */
export type RawFormat = 'raw' | 'png' | 'deflate';

/** Precision of the stored min/scale pairs (chosen by the encoder, flagged in the header). */
export type ParamPrecision = 'f16' | 'f32';

/** The model a payload was produced for (from the model manifest). */
export interface ModelRef {
  /** Model id, 1..64 UTF-8 bytes. */
  id: string;
  /** Manifest hash, `"sha256:<64 hex chars>"`. */
  hash: string;
}

/** Options of {@link encodeFeatures}. */
export interface FeatureEncodeOptions {
  model: ModelRef;
  /** Partition point, integer 0..255. */
  point: number;
  /** Prune ratio of the model variant in [0, 1]; stored as a whole percent (`Math.round(variant * 100)`). */
  variant: number;
  /**
   * Fraction of spatial positions kept, in (0, 1]; k = max(1, ceil(keep * H * W)).
   * Mutually exclusive with `keepCount`.
   * @default 1
   */
  keep?: number;
  /** Number of spatial positions kept per item, integer 1..H*W. Mutually exclusive with `keep`. */
  keepCount?: number;
  /**
   * Quantization bits, integer 1..8; or 32: the kept values unquantized, as IEEE-754 binary32 (no min/scale
   * pairs, `quantScope` ignored). 32 needs a version 2 frame and a coder other than `rans` (`'auto'` then tries
   * deflate and brotli); anything else is `INVALID_ARGUMENT`.
   */
  bits: number;
  /**
   * Entropy coder; `'auto'` encodes with the candidates and keeps the smallest body.
   * @default 'auto'
   */
  coder?: CoderId | 'auto';
  /**
   * One min/scale pair per channel of each item (`'channel'`) or per item (`'tensor'`).
   * @default 'channel'
   */
  quantScope?: QuantScope;
  /**
   * The features are a learned bottleneck's code (the manifest's `bottlenecks`): sets the header's bottleneck
   * flag, which a receiver matches against {@link ExpectedLayout.bottleneck}. Only version 2 frames carry it;
   * with `frameVersion: 1` it is `INVALID_ARGUMENT`.
   * @default false
   */
  bottleneck?: boolean;
  /**
   * Wire frame version: 2 (the compact frame: no model id, 4-byte hash prefix, varint dims, context-modelled
   * rans) or 1 (the original frame, for receivers that read only version 1).
   * @default 2
   */
  frameVersion?: 1 | 2;
}

/** A batch of intermediate feature tensors and their spatial attention maps. */
export interface FeatureBatch {
  /** `[C, H, W]` of one item; each 1..65535. */
  dims: readonly [number, number, number];
  /** Number of items N, 1..65535. */
  batch: number;
  /** N*C*H*W values, NCHW order. */
  features: Float32Array;
  /** N*H*W values, row-major per item; higher = more important. */
  attention: Float32Array;
}

/** Options of {@link encodeRaw}. */
export interface RawEncodeOptions {
  model: ModelRef;
  /**
   * Body format of the image batch.
   * @default 'png'
   */
  format?: RawFormat;
  /**
   * Wire frame version: 2 (the compact frame) or 1 (the original frame).
   * @default 2
   */
  frameVersion?: 1 | 2;
}

/** Sizes the decoder accepts. Every field is checked before anything is allocated. */
export interface DecodeLimits {
  /** Largest batch N. @default 64 */
  maxBatch: number;
  /** Largest channel count C. @default 4096 */
  maxChannels: number;
  /** Largest H and W. @default 1024 */
  maxSide: number;
  /** Largest whole payload in bytes. @default 6 MiB (the Lambda sync payload limit) */
  maxPayloadBytes: number;
  /**
   * Largest decoded size in bytes: bounds the uncompressed body and the dense output
   * (N*C*H*W float32 for features, N*C*H*W bytes for raw images). @default 64 MiB
   */
  maxDecodedBytes: number;
}

/**
 * One shape a receiver accepts: the kind of payload, the model variant and the `[C, H, W]` of one item. A
 * tail function lists one per variant it serves (features at its point), the point-0 function one raw entry
 * (variant 0, the model's source image shape).
 */
export interface ExpectedLayout {
  kind: 'features' | 'raw';
  /** Prune ratio of the variant in [0, 1]; compared as a whole percent, as the header stores it. */
  variant: number;
  /** `[C, H, W]` of one item (of a bottleneck entry: the code's `[c, H, W]`). */
  dims: readonly [number, number, number];
  /**
   * The entry is a learned bottleneck's code at this variant and point: a features payload matches it only when
   * its header's bottleneck flag is set (and an entry without it only when the flag is clear).
   * @default false
   */
  bottleneck?: boolean;
}

/** Options of {@link decodePayload} and {@link peekHeader}. */
export interface DecodeOptions {
  /** Overrides of {@link DEFAULT_LIMITS}. */
  limits?: Partial<DecodeLimits>;
  /** When set, a payload for another model hash is rejected with `MODEL_MISMATCH`. */
  expectModelHash?: string;
  /**
   * When set, a version 1 payload naming another model id is rejected with `MODEL_MISMATCH` (its hash prefix
   * carries only 8 bytes, so the id is compared too). Version 2 frames carry no id; only `expectModelHash`
   * applies to them.
   * @default undefined (any id)
   */
  expectModelId?: string;
  /** When set, a payload for another partition point is rejected with `WRONG_POINT`. */
  expectPoint?: number;
  /**
   * When set, the header's kind, variant and dims must match one entry, checked right after the header and
   * the CRC and before anything is inflated or allocated from the body: no entry of the payload's kind
   * `WRONG_POINT`, no entry for its variant `UNKNOWN_VARIANT`, other dims `SHAPE_MISMATCH`.
   * @default undefined (any shape within the limits)
   * @example
   * ```ts
   * decodePayload(bytes, { expectLayouts: [{ kind: 'features', variant: 0.5, dims: [64, 8, 8] }] });
   * ```
   */
  expectLayouts?: readonly ExpectedLayout[];
  /**
   * Largest magnitude a dequantized feature value may have; a larger one is rejected with
   * `INVALID_FEATURES` (finite but far outside what a model produces, such values drive the tail to
   * non-finite logits). Must be a positive number.
   * @default Infinity (only finiteness is checked)
   */
  maxAbsValue?: number;
}

/** The validated header of a payload. */
export interface PayloadHeader {
  /** Wire format version. */
  version: 1 | 2;
  kind: 'features' | 'raw';
  /** Whether the features are a learned bottleneck's code (version 2 flag; always false in version 1). */
  bottleneck: boolean;
  /** The model id (version 1); `undefined` in version 2 frames, which carry none. */
  modelId: string | undefined;
  /**
   * `"sha256:<lowercase hex>"`: the prefix of the model's content hash the frame carries (8 bytes in version 1,
   * 4 in version 2).
   */
  modelHash: string;
  point: number;
  /** Prune ratio, percent / 100. */
  variant: number;
  /** Kept positions per item (features); 0 for raw payloads. */
  keepCount: number;
  /** Quantization bits (features): 1..8, or 32 for float32 values (version 2 `FLOAT32` flag); 8 for raw payloads. */
  bits: number;
  /** Entropy coder of the body; always `'none'` for raw payloads (the format says how they are stored). */
  coder: CoderId;
  /** Quantization scope (features); `'channel'` for raw payloads and float32 features, where it has no meaning. */
  quantScope: QuantScope;
  /** Body format, raw payloads only. */
  rawFormat?: RawFormat;
  /** Precision of the stored min/scale pairs (features); `'f32'` for raw payloads and float32 features (no pairs). */
  paramPrecision: ParamPrecision;
  /** Whether the body carries the kept-position bitmap (k < H*W). */
  hasBitmap: boolean;
  dims: [number, number, number];
  batch: number;
  /** Number of values carried: N*k*C for features, N*C*H*W for raw. */
  valueCount: number;
  /** Bytes of the body as sent. */
  bodyBytes: number;
  /** Bytes of the body before entropy coding (features) or of the pixels (raw). */
  rawBodyBytes: number;
  /** Bytes of the header (version 1: fixed part + model id; version 2: fixed part + varints + CRC). */
  headerBytes: number;
  /** The CRC-32 carried in the header. */
  crc32: number;
}

/** Result of {@link decodePayload}. */
export type DecodedPayload =
  | {
      kind: 'features';
      header: PayloadHeader;
      /** N*H*W, 1 = kept. */
      mask: Uint8Array;
      /**
       * Dequantized kept values (float32 features: the sent values, exactly); per item, for each channel, the kept
       * positions in ascending flat order.
       */
      values: Float32Array;
    }
  | {
      kind: 'raw';
      header: PayloadHeader;
      /** N*C*H*W bytes, NCHW. */
      images: Uint8Array;
    };

/** A decoded features payload. */
export type DecodedFeatures = Extract<DecodedPayload, { kind: 'features' }>;
