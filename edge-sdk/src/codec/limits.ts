import { CodecError, ErrorCodes } from '../errors.js';
import type { DecodeLimits } from './types.js';

/**
 * Default decode limits. `maxPayloadBytes` is the 6 MiB Lambda synchronous payload limit.
 *
 * @example
 * ```ts
 * decodePayload(bytes, { limits: { ...DEFAULT_LIMITS, maxBatch: 8 } });
 * ```
 */
export const DEFAULT_LIMITS: DecodeLimits = Object.freeze({
  maxBatch: 64,
  maxChannels: 4096,
  maxSide: 1024,
  maxPayloadBytes: 6 * 1024 * 1024,
  maxDecodedBytes: 64 * 1024 * 1024,
});

/** Merges overrides into {@link DEFAULT_LIMITS}; each must be a positive safe integer. */
export function resolveLimits(overrides: Partial<DecodeLimits> | undefined): DecodeLimits {
  const out: DecodeLimits = { ...DEFAULT_LIMITS };
  if (overrides === undefined) return out;
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof DecodeLimits>) {
    const v = overrides[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `limit ${key} must be a positive integer`, { key, value: v });
    }
    out[key] = v;
  }
  return out;
}
