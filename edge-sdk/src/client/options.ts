import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { EstimatorPriors } from '../estimators/LiveEstimators.js';
import type { InferenceBackend } from '../model/backend.js';
import type { LambdaPricing } from '../planner/pricing.js';
import type { NormalizedProfile, Profile } from '../profile/types.js';
import type { EndpointsInput } from '../transport/endpoints.js';
import type { RetryOptions } from '../transport/retry.js';
import type { CredentialsInput } from '../transport/sigv4.js';
import type { Transport } from '../transport/types.js';
import type { Objective } from '../types/plan.js';

/**
 * A clock in epoch milliseconds (for idle times and the state file).
 *
 * @example
 * const frozen: Clock = { now: () => 1_700_000_000_000 }
 */
export interface Clock {
  now(): number;
}

/**
 * Timeouts of the client, ms.
 *
 * @example
 * await JmdcClient.create({ model: 'fmnist-vgg16', timeouts: { connectMs: 1000, deadlineMs: 500 } })
 */
export interface ClientTimeouts {
  /** TCP (+TLS) connect. @default 3000 */
  connectMs?: number;
  /** Request to response headers (includes the function's work and a cold start). @default 15000 */
  headersMs?: number;
  /** Between chunks of the response body. @default 10000 */
  bodyMs?: number;
  /** Default time budget of a classify call; its cloud part falls back to the device when it would miss it. @default 10000 */
  deadlineMs?: number;
}

/**
 * Options of {@link JmdcClient.create}. Validated once, at creation.
 *
 * @example
 * const client = await JmdcClient.create({
 *   model: 'fmnist-vgg16',
 *   endpoints: 'cdk/endpoints.json',
 *   objective: { minimize: 'latency', minAccuracy: 0.925 },
 *   threads: 4,
 * })
 */
export interface JmdcClientOptions {
  /** A model id looked up in `models/` (or `$JMDC_MODELS_DIR`), or a path to a `models/<id>` folder. */
  model: string;
  /**
   * Where the tail functions are: an `endpoints.json` path, `{ localCloudUrl }`, or a map point ->
   * `{ url?, functionName? }`. @default none: every request runs on the device (edge-only)
   */
  endpoints?: EndpointsInput;
  /** @default { minimize: 'latency' } */
  objective?: Objective;
  /** The accuracy profile: a `profile.json` path or a parsed profile. @default `<model folder>/profile.json` */
  profile?: string | Profile | NormalizedProfile;
  /**
   * How to reach the functions: `'url'` (SigV4-signed POST to Function URLs), `'invoke'` (Lambda Invoke
   * API), or an injected {@link Transport}. @default 'url'
   */
  transport?: 'url' | 'invoke' | Transport;
  /** AWS region for signing and Invoke. @default the endpoints file's region, else AWS_REGION, else 'us-east-1' */
  region?: string;
  /** AWS credentials or provider. @default fromNodeProviderChain() (env, ~/.aws, SSO, IMDS, ...) */
  credentials?: CredentialsInput;
  /** SigV4-sign Function URL requests; `false` only for a local cloud. @default true, false for `{ localCloudUrl }` */
  signing?: boolean;
  /** Lambda client for the `invoke` transport (LocalStack, tests). @default a client for `region` */
  lambdaClient?: LambdaClient;
  /** onnxruntime intra-op threads (4 on a Raspberry Pi 4B). @default 0 (onnxruntime's choice: one per core) */
  threads?: number;
  /** Inference backend (tests, other runtimes). @default OrtBackend from `@jmdc/edge-sdk/ort` with `threads` */
  backend?: InferenceBackend;
  /** The state file (calibration + live estimates), or `false` for none. @default defaultStatePath(model id) */
  stateFile?: string | false;
  /** Minimum time between two automatic state saves, ms (the state is always saved by `close()`). @default 60000 */
  persistIntervalMs?: number;
  timeouts?: ClientTimeouts;
  /** Retries of safe-to-retry failures. @default { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 1000, budgetRatio: 0.2 } */
  retry?: RetryOptions;
  /** Milliseconds one USD per request weighs in the planner's score. @default 0 (cost reported, not optimized) */
  costWeight?: number;
  /** Lambda prices and memory for the cost term. @default DEFAULT_PRICING (arm64, 2048 MB) */
  pricing?: Partial<LambdaPricing>;
  /**
   * Send a tiny request to the function the planner would use next when it is probably cold (P >= 0.5),
   * in the background, so that later requests find it warm. Without it, a function never called
   * (P(cold) = 1) is only used when a cold start still beats the device. @default true
   */
  warmUp?: boolean;
  /**
   * When no request went to the cloud for this long, send a light RTT probe (an unsigned HEAD that a
   * Function URL refuses at its front door without running anything), so that the RTT estimate stays
   * fresh while idle. @default 0 (off)
   */
  probeIntervalMs?: number;
  /** Values the estimators use before their first measurement. @default { uplinkMbps: 10, rttMs: 50, initMs: 1500 } */
  priors?: Partial<EstimatorPriors>;
  /** Alternatives returned by `plan()`. @default 3 */
  alternatives?: number;
  /** Clock for idle times and the state file. @default Date */
  clock?: Clock;
  /** Receives non-fatal problems (ignored state file, failed save, failed warm-up). @default process.emitWarning */
  onWarning?: (message: string) => void;
}
