/**
 * Options of the tail function and their reading from the Lambda environment, validated once at init.
 */

import type { DecodeLimits } from '@jmdc/edge-sdk/codec';
import type { InferenceBackend } from '@jmdc/edge-sdk/model';
import { ErrorCodes, JmdcError } from './errors.js';

/** The limits the tail function applies on top of the codec's own defaults. */
export const FUNCTION_LIMITS: Readonly<Pick<DecodeLimits, 'maxBatch' | 'maxPayloadBytes'>> = Object.freeze({
  maxBatch: 64,
  maxPayloadBytes: 6 * 1024 * 1024,
});

/**
 * Default bound on the magnitude of a decoded feature value: the largest binary16 value, about 10^4 times
 * the largest feature the shipped model produces (under 6 at every point). Every network here is
 * piecewise linear in its input apart from bounded attention gates, so logits grow linearly with it and
 * stay finite (measured: under 10^7 at 10^6 on every variant and point of fmnist-vgg16).
 */
export const DEFAULT_MAX_ABS_FEATURE = 65504;

/** Options of {@link createTailHandler}. */
export interface TailHandlerOptions {
  /** Partition point this function serves: 0 = cloud-only (raw images, the whole network), 1..P = a tail. */
  point: number;
  /** Folder holding `manifest.json` and (at least) this point's block files. */
  modelDir: string;
  /**
   * onnxruntime intra-op threads.
   * @default 0 (onnxruntime's default: one per core)
   */
  threads?: number;
  /**
   * Decode limits; missing fields come from {@link FUNCTION_LIMITS}, then the codec's `DEFAULT_LIMITS`.
   * @default { maxBatch: 64, maxPayloadBytes: 6 MiB }
   */
  limits?: Partial<DecodeLimits>;
  /**
   * When set, init fails unless the manifest's hash equals it (the hash the deployment was built for).
   * @default undefined (no check)
   */
  expectModelHash?: string;
  /**
   * Largest magnitude a decoded feature value may have; beyond it the request gets 422
   * `JMDC_ERR_INVALID_FEATURES` before inference. A positive number.
   * @default 65504 ({@link DEFAULT_MAX_ABS_FEATURE})
   */
  maxAbsFeature?: number;
  /**
   * Ids of the variants this function serves (its bundle carries only their files); requests for
   * another variant get UNKNOWN_VARIANT.
   * @default every variant of the manifest
   */
  variants?: string[];
  /**
   * Ids of the bottlenecks (at this point, of served variants) this function serves: it runs their
   * decoder before the tail for a frame flagged as a bottleneck code; its bundle carries only their
   * decoders. A code for another one gets UNKNOWN_VARIANT.
   * @default every bottleneck of a served variant at this point
   */
  bottlenecks?: string[];
  /**
   * Where the one structured JSON line per request goes.
   * @default console.log
   */
  log?: (line: string) => void;
  /**
   * Inference backend (tests inject fakes).
   * @default new OrtBackend({ intraOpThreads: threads })
   */
  backend?: InferenceBackend;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min) {
    throw new JmdcError(
      ErrorCodes.INVALID_ARGUMENT,
      `${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`,
      {
        name,
        value: raw,
      },
    );
  }
  return v;
}

/**
 * Reads the options from the environment of a Lambda function:
 * `JMDC_POINT` (required), `JMDC_MODEL_DIR` (default `defaultModelDir`), `JMDC_THREADS`,
 * `JMDC_MODEL_HASH`, `JMDC_VARIANTS` (comma-separated variant ids), `JMDC_BOTTLENECKS` (comma-separated
 * bottleneck ids; empty: none), `JMDC_MAX_ABS_FEATURE`, and the limits `JMDC_MAX_BATCH`, `JMDC_MAX_PAYLOAD_BYTES`, `JMDC_MAX_DECODED_BYTES`,
 * `JMDC_MAX_CHANNELS`, `JMDC_MAX_SIDE`. Throws INVALID_ARGUMENT naming the first bad variable.
 *
 * @example
 * const opts = optionsFromEnv(process.env, '/var/task/model')
 */
export function optionsFromEnv(env: NodeJS.ProcessEnv, defaultModelDir: string): TailHandlerOptions {
  const point = intFromEnv(env, 'JMDC_POINT', 0);
  if (point === undefined) throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'JMDC_POINT is not set');
  const limits: Partial<DecodeLimits> = {};
  const set = (key: keyof DecodeLimits, name: string): void => {
    const v = intFromEnv(env, name, 1);
    if (v !== undefined) limits[key] = v;
  };
  set('maxBatch', 'JMDC_MAX_BATCH');
  set('maxPayloadBytes', 'JMDC_MAX_PAYLOAD_BYTES');
  set('maxDecodedBytes', 'JMDC_MAX_DECODED_BYTES');
  set('maxChannels', 'JMDC_MAX_CHANNELS');
  set('maxSide', 'JMDC_MAX_SIDE');
  const opts: TailHandlerOptions = { point, modelDir: env.JMDC_MODEL_DIR || defaultModelDir, limits };
  const threads = intFromEnv(env, 'JMDC_THREADS', 0);
  if (threads !== undefined) opts.threads = threads;
  if (env.JMDC_MODEL_HASH) opts.expectModelHash = env.JMDC_MODEL_HASH;
  const maxAbs = env.JMDC_MAX_ABS_FEATURE;
  if (maxAbs !== undefined && maxAbs.trim() !== '') {
    const v = Number(maxAbs);
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new JmdcError(
        ErrorCodes.INVALID_ARGUMENT,
        `JMDC_MAX_ABS_FEATURE must be a positive number, got ${JSON.stringify(maxAbs)}`,
        { name: 'JMDC_MAX_ABS_FEATURE', value: maxAbs },
      );
    }
    opts.maxAbsFeature = v;
  }
  const variants = env.JMDC_VARIANTS?.split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (variants !== undefined && variants.length > 0) opts.variants = variants;
  // set (even empty: none) by the CDK app; unset: every bottleneck of a served variant at the point
  const bottlenecks = env.JMDC_BOTTLENECKS;
  if (bottlenecks !== undefined) {
    opts.bottlenecks = bottlenecks
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== '');
  }
  return opts;
}
