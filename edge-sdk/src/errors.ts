/**
 * The one error hierarchy of jmdc. Every error carries a stable string `code`; callers and tests match
 * on it, and the HTTP layer maps it to a status with {@link statusForCode}.
 */

/** Stable error codes. Never rename one: clients match on them. */
export const ErrorCodes = {
  // wire format / codec (all caller faults)
  PAYLOAD_TRUNCATED: 'JMDC_ERR_PAYLOAD_TRUNCATED',
  PAYLOAD_TOO_LARGE: 'JMDC_ERR_PAYLOAD_TOO_LARGE',
  BAD_MAGIC: 'JMDC_ERR_BAD_MAGIC',
  UNSUPPORTED_VERSION: 'JMDC_ERR_UNSUPPORTED_VERSION',
  BAD_HEADER: 'JMDC_ERR_BAD_HEADER',
  DIMS_OUT_OF_RANGE: 'JMDC_ERR_DIMS_OUT_OF_RANGE',
  BATCH_OUT_OF_RANGE: 'JMDC_ERR_BATCH_OUT_OF_RANGE',
  COUNT_MISMATCH: 'JMDC_ERR_COUNT_MISMATCH',
  DECODED_TOO_LARGE: 'JMDC_ERR_DECODED_TOO_LARGE',
  CHECKSUM_MISMATCH: 'JMDC_ERR_CHECKSUM_MISMATCH',
  BAD_CODER: 'JMDC_ERR_BAD_CODER',
  CORRUPT_BODY: 'JMDC_ERR_CORRUPT_BODY',
  TRAILING_BYTES: 'JMDC_ERR_TRAILING_BYTES',
  MODEL_MISMATCH: 'JMDC_ERR_MODEL_MISMATCH',
  WRONG_POINT: 'JMDC_ERR_WRONG_POINT',
  UNKNOWN_VARIANT: 'JMDC_ERR_UNKNOWN_VARIANT',
  SHAPE_MISMATCH: 'JMDC_ERR_SHAPE_MISMATCH',
  NON_FINITE: 'JMDC_ERR_NON_FINITE',
  /** Well-formed features the model cannot take: values beyond the receiver's bound, or non-finite logits. */
  INVALID_FEATURES: 'JMDC_ERR_INVALID_FEATURES',
  INVALID_ARGUMENT: 'JMDC_ERR_INVALID_ARGUMENT',
  INVALID_REQUEST: 'JMDC_ERR_INVALID_REQUEST',
  // model files
  MODEL_NOT_FOUND: 'JMDC_ERR_MODEL_NOT_FOUND',
  MANIFEST_INVALID: 'JMDC_ERR_MANIFEST_INVALID',
  MODEL_HASH_MISMATCH: 'JMDC_ERR_MODEL_HASH_MISMATCH',
  // transport / cloud
  TIMEOUT: 'JMDC_ERR_TIMEOUT',
  NETWORK: 'JMDC_ERR_NETWORK',
  CLOUD_ERROR: 'JMDC_ERR_CLOUD_ERROR',
  CLOUD_REJECTED: 'JMDC_ERR_CLOUD_REJECTED',
  DEADLINE: 'JMDC_ERR_DEADLINE',
  NO_PLAN: 'JMDC_ERR_NO_PLAN',
  CLOSED: 'JMDC_ERR_CLOSED',
  INTERNAL: 'JMDC_ERR_INTERNAL',
  // edge SDK: profile, configuration, credentials (appended by issue 4)
  PROFILE_NOT_FOUND: 'JMDC_ERR_PROFILE_NOT_FOUND',
  PROFILE_INVALID: 'JMDC_ERR_PROFILE_INVALID',
  CREDENTIALS: 'JMDC_ERR_CREDENTIALS',
  ABORTED: 'JMDC_ERR_ABORTED',
  // transport: answers that are not what they claim, redirects, optional dependencies
  BAD_RESPONSE: 'JMDC_ERR_BAD_RESPONSE',
  RESPONSE_TOO_LARGE: 'JMDC_ERR_RESPONSE_TOO_LARGE',
  REDIRECT: 'JMDC_ERR_REDIRECT',
  DEPENDENCY_MISSING: 'JMDC_ERR_DEPENDENCY_MISSING',
  // calibration: timings that contradict each other beyond noise after repeated measurement
  CALIBRATION_INCONSISTENT: 'JMDC_ERR_CALIBRATION_INCONSISTENT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error jmdc throws on purpose. */
export class JmdcError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (offsets, limits, expected/actual values). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JmdcError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** A payload or request that fails validation: always the caller's fault. */
export class CodecError extends JmdcError {
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, details, options);
    this.name = 'CodecError';
  }
}

/** Model files missing, invalid, or not matching their manifest. */
export class ModelError extends JmdcError {
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, details, options);
    this.name = 'ModelError';
  }
}

/** A failure talking to the cloud half. `retryable` says whether repeating the same request is safe. */
export class TransportError extends JmdcError {
  readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(
    code: ErrorCode,
    message: string,
    opts: { retryable: boolean; status?: number; details?: Record<string, unknown> },
    options?: ErrorOptions,
  ) {
    super(code, message, opts.details ?? {}, options);
    this.name = 'TransportError';
    this.retryable = opts.retryable;
    this.status = opts.status;
  }
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCodes.DECODED_TOO_LARGE]: 413,
  [ErrorCodes.INVALID_FEATURES]: 422,
  [ErrorCodes.MODEL_MISMATCH]: 409,
  [ErrorCodes.MODEL_NOT_FOUND]: 500,
  [ErrorCodes.MANIFEST_INVALID]: 500,
  [ErrorCodes.MODEL_HASH_MISMATCH]: 500,
  [ErrorCodes.INTERNAL]: 500,
  [ErrorCodes.TIMEOUT]: 504,
  [ErrorCodes.NETWORK]: 502,
  [ErrorCodes.CLOUD_ERROR]: 502,
  [ErrorCodes.CLOUD_REJECTED]: 502,
  [ErrorCodes.DEADLINE]: 504,
  [ErrorCodes.NO_PLAN]: 400,
  [ErrorCodes.CLOSED]: 500,
  [ErrorCodes.BAD_RESPONSE]: 502,
  [ErrorCodes.RESPONSE_TOO_LARGE]: 502,
  [ErrorCodes.REDIRECT]: 502,
  [ErrorCodes.DEPENDENCY_MISSING]: 500,
};

/**
 * HTTP status for an error code: 413 too large, 409 model mismatch, 422 features the model cannot take,
 * 5xx our faults, 400 other bad input.
 */
export function statusForCode(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}

/** Narrowing helper: is `e` a JmdcError (optionally with the given code)? */
export function isJmdcError(e: unknown, code?: ErrorCode): e is JmdcError {
  return e instanceof JmdcError && (code === undefined || e.code === code);
}
