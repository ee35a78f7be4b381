import { ErrorCodes, JmdcError } from '../errors.js';
import type { SampleBounds } from '../estimators/bounds.js';
import type { EstimatorPriors } from '../estimators/LiveEstimators.js';
import type { InferenceBackend } from '../model/backend.js';
import { validateObjective } from '../planner/planner.js';
import type { LambdaPricing } from '../planner/pricing.js';
import type { NormalizedProfile, Profile } from '../profile/types.js';
import type { EndpointsInput } from '../transport/endpoints.js';
import type { LambdaClientLike } from '../transport/InvokeTransport.js';
import type { RetryOptions } from '../transport/retry.js';
import type { CredentialsInput } from '../transport/sigv4.js';
import type { Transport } from '../transport/types.js';
import type { Objective } from '../types/plan.js';
import { describeValue } from '../util/describeValue.js';

/**
 * A clock in epoch milliseconds (for idle times, back-offs, sample ages and the state file).
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
 * The deadline of a classify call, unless `deadlineMs` (here or per call) is given, is derived from
 * the planner's prediction: max(`deadlineFloorMs`, `deadlineFactor` x the predicted latency of the
 * planned decision with a full cold start of its function when it may be cold). A cloud that never
 * answers then costs that much once, after which its circuit breaker keeps it out of the plans.
 *
 * @example
 * await JmdcClient.create({ model: 'fmnist-vgg16', timeouts: { connectMs: 1000, deadlineFactor: 4 } })
 */
export interface ClientTimeouts {
  /** TCP (+TLS) connect. @default 3000 */
  connectMs?: number;
  /** Request to response headers (includes the function's work and a cold start). @default 15000 */
  headersMs?: number;
  /** Between chunks of the response body. @default 10000 */
  bodyMs?: number;
  /** A fixed time budget for every classify call instead of the derived one. @default derived (see above) */
  deadlineMs?: number;
  /** Smallest derived deadline, ms. @default 1000 */
  deadlineFloorMs?: number;
  /** Derived deadline = this x the predicted latency (with a full cold start). @default 3 */
  deadlineFactor?: number;
}

/**
 * Circuit breaker of each function: after a failure (network error, 5xx, timeout, throttling after
 * retries) the function is priced unavailable for `baseMs`, doubling with each failure in a row up to
 * `maxMs`; then one trial request decides.
 *
 * @example
 * await JmdcClient.create({ model: 'fmnist-vgg16', circuit: { baseMs: 5000, maxMs: 300_000 } })
 */
export interface CircuitOptionsInput {
  /** @default 1000 */
  baseMs?: number;
  /** @default 60000 */
  maxMs?: number;
}

/**
 * Bounded exploration that keeps the estimates true while the cloud is not chosen: a probe (an
 * upload the function rejects at once when the transport supports it, else a HEAD, else a warm-up
 * request) when the link's fit saw a change, when it has no two request sizes to tell bandwidth
 * from RTT, or when nothing measured the link for `intervalMs`. At most one routine probe per
 * `intervalMs` (per `intervalMs / 4`, 3 times, while the fit has fewer than 3 live samples, which any
 * single slow answer would move), and one per change of the link (at most every 4 classify calls). Their count and bytes are in `client.stats().exploration`, and a
 * classify call that started one says so in `result.explored`.
 *
 * @example
 * await JmdcClient.create({ model: 'fmnist-vgg16', explore: { intervalMs: 10_000, uploadProbeBytes: 8192 } })
 */
export interface ExploreOptions {
  /** Minimum time between two routine probes, ms. @default 30000 */
  intervalMs?: number;
  /** Size of an upload probe, bytes. @default 4096 */
  uploadProbeBytes?: number;
  /**
   * How long a classify call waits, before it plans and runs anything, for the answer to a probe that
   * the previous call sent, ms. The device's work would hold that answer (an inference keeps the event
   * loop busy), and a held answer times the device, not the link. Calls further apart than the probe's
   * answer never wait. 0: never wait. @default 250
   */
  waitMs?: number;
}

/**
 * Options of {@link JmdcClient.create}. Validated once, at creation, before anything is started:
 * unknown keys (also in `timeouts`, `retry`, `priors`, `objective`, `circuit`, `explore`, `pricing`)
 * are rejected with the list of known ones.
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
  /**
   * What to optimize. @default { minimize: 'latency' } with the accuracy floor at the full model's
   * validation accuracy - 1 point (`minAccuracy: 0` for none)
   */
  objective?: Objective;
  /** The accuracy profile: a `profile.json` path or a parsed profile. @default `<model folder>/profile.json` */
  profile?: string | Profile | NormalizedProfile;
  /**
   * How to reach the functions: `'url'` (SigV4-signed POST to Function URLs), `'invoke'` (Lambda Invoke
   * API, needs the optional `@aws-sdk/client-lambda`), or an injected {@link Transport}. @default 'url'
   */
  transport?: 'url' | 'invoke' | Transport;
  /** AWS region for signing and Invoke. @default the endpoints file's region, else AWS_REGION, else 'us-east-1' */
  region?: string;
  /** AWS credentials or provider. @default fromNodeProviderChain() (env, ~/.aws, SSO, IMDS, ...) */
  credentials?: CredentialsInput;
  /**
   * SigV4-sign Function URL requests; `false` only when every endpoint's host is a loopback address.
   * @default true, false for a `{ localCloudUrl }` on loopback
   */
  signing?: boolean;
  /** Lambda client for the `invoke` transport (LocalStack, tests). @default a client for `region` */
  lambdaClient?: LambdaClientLike;
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
   * Send a tiny request to a function the planner would use (or, for `maximize: 'accuracy'`, a more
   * accurate row that would fit the budget) when it is probably cold (P >= 0.5), in the background,
   * so that later requests find it warm. @default true
   */
  warmUp?: boolean;
  /**
   * When no request went to the cloud for this long, send a light RTT probe (an unsigned HEAD that a
   * Function URL refuses at its front door without running anything). @default 0 (off; see `explore`)
   */
  probeIntervalMs?: number;
  /** Exploration probes that keep bandwidth and RTT measured, or `false` for none. @default {} (on) */
  explore?: ExploreOptions | false;
  /** Circuit breaker per function. @default { baseMs: 1000, maxMs: 60000 } */
  circuit?: CircuitOptionsInput;
  /** Values the estimators use before their first measurement. @default { uplinkMbps: 10, rttMs: 50, initMs: 1500 } */
  priors?: Partial<EstimatorPriors>;
  /** Plausible ranges of learned timings; samples outside are discarded. @default DEFAULT_SAMPLE_BOUNDS */
  bounds?: Partial<SampleBounds>;
  /** Alternatives returned by `plan()`. @default 3 */
  alternatives?: number;
  /** Clock for idle times, back-offs and the state file. @default Date */
  clock?: Clock;
  /** Receives non-fatal problems (ignored state file, failed save, failed warm-up, discarded samples). @default process.emitWarning */
  onWarning?: (message: string) => void;
}

/**
 * Options after {@link resolveOptions}: every default filled in, every value checked.
 *
 * @example
 * const r: ResolvedOptions = resolveOptions({ model: 'fmnist-vgg16' }) // r.threads === 0
 */
export interface ResolvedOptions {
  model: string;
  endpoints: EndpointsInput | undefined;
  objective: Objective | undefined;
  profile: string | Profile | NormalizedProfile | undefined;
  transport: 'url' | 'invoke' | Transport;
  region: string | undefined;
  credentials: CredentialsInput | undefined;
  signing: boolean | undefined;
  lambdaClient: LambdaClientLike | undefined;
  threads: number;
  backend: InferenceBackend | undefined;
  stateFile: string | false | undefined;
  persistIntervalMs: number;
  http: { connectMs?: number; headersMs?: number; bodyMs?: number };
  deadline: { fixedMs: number | undefined; floorMs: number; factor: number };
  retry: RetryOptions | undefined;
  costWeight: number;
  pricing: Partial<LambdaPricing> | undefined;
  warmUp: boolean;
  probeIntervalMs: number;
  explore: Required<ExploreOptions> | false;
  circuit: Required<CircuitOptionsInput>;
  priors: Partial<EstimatorPriors> | undefined;
  bounds: Partial<SampleBounds> | undefined;
  alternatives: number;
  clock: Clock;
  warn: (message: string) => void;
}

type Shape = Record<string, 'any' | Record<string, 'any'>>;

/** Every option key, and the known keys of nested option objects. */
const KNOWN: Shape = {
  model: 'any',
  endpoints: 'any',
  objective: 'any',
  profile: 'any',
  transport: 'any',
  region: 'any',
  credentials: 'any',
  signing: 'any',
  lambdaClient: 'any',
  threads: 'any',
  backend: 'any',
  stateFile: 'any',
  persistIntervalMs: 'any',
  timeouts: {
    connectMs: 'any',
    headersMs: 'any',
    bodyMs: 'any',
    deadlineMs: 'any',
    deadlineFloorMs: 'any',
    deadlineFactor: 'any',
  },
  retry: {
    maxAttempts: 'any',
    baseDelayMs: 'any',
    maxDelayMs: 'any',
    budgetRatio: 'any',
    budgetTokens: 'any',
    maxRetryAfterMs: 'any',
    random: 'any',
  },
  costWeight: 'any',
  pricing: { gbSecondUsd: 'any', requestUsd: 'any', memoryMb: 'any' },
  warmUp: 'any',
  probeIntervalMs: 'any',
  explore: { intervalMs: 'any', uploadProbeBytes: 'any', waitMs: 'any' },
  circuit: { baseMs: 'any', maxMs: 'any' },
  priors: { uplinkMbps: 'any', rttMs: 'any', initMs: 'any' },
  bounds: {
    maxServerMs: 'any',
    maxInitMs: 'any',
    maxRttMs: 'any',
    minUplinkMbps: 'any',
    maxUplinkMbps: 'any',
    maxCloudScale: 'any',
    maxDeviceScale: 'any',
  },
  alternatives: 'any',
  clock: 'any',
  onWarning: 'any',
};

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, message, details);
}

function rejectUnknown(o: object, known: readonly string[], where: string): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const list = unknown.map((k) => `'${k}'`).join(', ');
  invalid(
    `unknown option${unknown.length > 1 ? 's' : ''} ${list}${where ? ` in ${where}` : ''}; known: ${known.join(', ')}`,
    {
      unknown,
      known,
    },
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A nested options object (or undefined), its unknown keys rejected. */
function nested(v: unknown, name: string): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) invalid(`${name} must be an object, got ${describeValue(v)}`);
  rejectUnknown(v, Object.keys(KNOWN[name] as Record<string, 'any'>), name);
  return v;
}

interface NumberRule {
  min?: number;
  /** `min` is exclusive. */
  above?: boolean;
  max?: number;
  int?: boolean;
}

function rule(r: NumberRule): string {
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`${r.above ? '>' : '>='} ${r.min}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  return `${r.int ? 'an integer' : 'a number'} ${parts.join(' and ')}`.trim();
}

/** A number option: `fallback` when undefined, else checked against `r`. */
function number(v: unknown, name: string, fallback: number, r: NumberRule): number;
function number(v: unknown, name: string, fallback: undefined, r: NumberRule): number | undefined;
function number(v: unknown, name: string, fallback: number | undefined, r: NumberRule): number | undefined {
  if (v === undefined) return fallback;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!r.int || Number.isInteger(v)) &&
    (r.min === undefined || (r.above ? v > r.min : v >= r.min)) &&
    (r.max === undefined || v <= r.max);
  if (!ok) invalid(`${name} must be ${rule(r)}, got ${describeValue(v)}`, { option: name });
  return v as number;
}

function boolean(v: unknown, name: string, fallback: boolean | undefined): boolean | undefined {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') invalid(`${name} must be true or false, got ${describeValue(v)}`, { option: name });
  return v;
}

function isTransport(v: unknown): v is Transport {
  return isObject(v) && Array.isArray(v.points) && typeof v.send === 'function' && typeof v.close === 'function';
}

/**
 * Validates every option of {@link JmdcClient.create} in one place, before anything is created or
 * started, and fills in the defaults. Throws `JMDC_ERR_INVALID_ARGUMENT` naming the option, what it
 * must be and what it got (`threads must be an integer >= 0 and <= 256, got '4' (a string)`), or the
 * unknown keys with the known ones.
 *
 * @example
 * resolveOptions({ model: 'fmnist-vgg16', endpoint: 'endpoints.json' } as JmdcClientOptions)
 * // throws: unknown option 'endpoint'; known: model, endpoints, ...
 */
export function resolveOptions(opts: JmdcClientOptions): ResolvedOptions {
  if (!isObject(opts)) invalid(`options must be an object, got ${describeValue(opts)}`);
  rejectUnknown(opts, Object.keys(KNOWN), '');
  const o = opts as unknown as Record<string, unknown>;
  if (typeof o.model !== 'string' || o.model === '')
    invalid(`model must be a model id or folder, got ${describeValue(o.model)}`);
  const timeouts = nested(o.timeouts, 'timeouts') ?? {};
  const retry = nested(o.retry, 'retry');
  const pricing = nested(o.pricing, 'pricing');
  const circuit = nested(o.circuit, 'circuit') ?? {};
  const priors = nested(o.priors, 'priors');
  const bounds = nested(o.bounds, 'bounds');
  const explore = o.explore === false ? false : (nested(o.explore, 'explore') ?? {});
  if (o.objective !== undefined) validateObjective(o.objective as Objective);

  if (o.endpoints !== undefined && typeof o.endpoints !== 'string' && !isObject(o.endpoints)) {
    invalid(`endpoints must be a path, { localCloudUrl } or a map of points, got ${describeValue(o.endpoints)}`);
  }
  if (o.profile !== undefined && typeof o.profile !== 'string' && !isObject(o.profile)) {
    invalid(`profile must be a path or a profile object, got ${describeValue(o.profile)}`);
  }
  const transport = o.transport ?? 'url';
  if (transport !== 'url' && transport !== 'invoke' && !isTransport(transport)) {
    invalid(
      `transport must be 'url', 'invoke' or a Transport ({ points, send, close }), got ${describeValue(transport)}`,
    );
  }
  if (o.region !== undefined && (typeof o.region !== 'string' || o.region === '')) {
    invalid(`region must be a region name, got ${describeValue(o.region)}`);
  }
  if (o.stateFile !== undefined && o.stateFile !== false && (typeof o.stateFile !== 'string' || o.stateFile === '')) {
    invalid(`stateFile must be a path or false, got ${describeValue(o.stateFile)}`);
  }
  if (o.clock !== undefined && !(isObject(o.clock) && typeof o.clock.now === 'function')) {
    invalid(`clock must be { now(): number }, got ${describeValue(o.clock)}`);
  }
  if (o.onWarning !== undefined && typeof o.onWarning !== 'function') {
    invalid(`onWarning must be a function, got ${describeValue(o.onWarning)}`);
  }
  if (o.backend !== undefined && !isObject(o.backend))
    invalid(`backend must be an InferenceBackend, got ${describeValue(o.backend)}`);
  if (o.lambdaClient !== undefined && !isObject(o.lambdaClient)) {
    invalid(`lambdaClient must be a Lambda client, got ${describeValue(o.lambdaClient)}`);
  }
  if (o.credentials !== undefined && !isObject(o.credentials) && typeof o.credentials !== 'function') {
    invalid(`credentials must be { accessKeyId, secretAccessKey } or a provider, got ${describeValue(o.credentials)}`);
  }

  const positive = { min: 0, above: true } as const;
  const http: ResolvedOptions['http'] = {};
  for (const k of ['connectMs', 'headersMs', 'bodyMs'] as const) {
    const v = number(timeouts[k], `timeouts.${k}`, undefined, positive);
    if (v !== undefined) http[k] = v;
  }
  if (retry) {
    number(retry.maxAttempts, 'retry.maxAttempts', undefined, { min: 1, max: 10, int: true });
    number(retry.baseDelayMs, 'retry.baseDelayMs', undefined, { min: 0 });
    number(retry.maxDelayMs, 'retry.maxDelayMs', undefined, { min: 0 });
    number(retry.budgetRatio, 'retry.budgetRatio', undefined, { min: 0 });
    number(retry.budgetTokens, 'retry.budgetTokens', undefined, { min: 0 });
    number(retry.maxRetryAfterMs, 'retry.maxRetryAfterMs', undefined, { min: 0 });
    if (retry.random !== undefined && typeof retry.random !== 'function') {
      invalid(`retry.random must be a function, got ${describeValue(retry.random)}`);
    }
  }
  if (pricing) {
    number(pricing.memoryMb, 'pricing.memoryMb', undefined, { min: 128, max: 10240 });
    number(pricing.gbSecondUsd, 'pricing.gbSecondUsd', undefined, { min: 0 });
    number(pricing.requestUsd, 'pricing.requestUsd', undefined, { min: 0 });
  }
  if (priors) {
    number(priors.uplinkMbps, 'priors.uplinkMbps', undefined, positive);
    number(priors.rttMs, 'priors.rttMs', undefined, { min: 0 });
    number(priors.initMs, 'priors.initMs', undefined, { min: 0 });
  }
  if (bounds) for (const [k, v] of Object.entries(bounds)) number(v, `bounds.${k}`, undefined, positive);
  const baseMs = number(circuit.baseMs, 'circuit.baseMs', 1000, { min: 0 });
  const maxMs = number(circuit.maxMs, 'circuit.maxMs', 60_000, { min: baseMs });

  return {
    model: o.model,
    endpoints: o.endpoints as EndpointsInput | undefined,
    objective: o.objective as Objective | undefined,
    profile: o.profile as ResolvedOptions['profile'],
    transport: transport as ResolvedOptions['transport'],
    region: o.region as string | undefined,
    credentials: o.credentials as CredentialsInput | undefined,
    signing: boolean(o.signing, 'signing', undefined),
    lambdaClient: o.lambdaClient as LambdaClientLike | undefined,
    threads: number(o.threads, 'threads', 0, { min: 0, max: 256, int: true }),
    backend: o.backend as InferenceBackend | undefined,
    stateFile: o.stateFile as string | false | undefined,
    persistIntervalMs: number(o.persistIntervalMs, 'persistIntervalMs', 60_000, { min: 0 }),
    http,
    deadline: {
      fixedMs: number(timeouts.deadlineMs, 'timeouts.deadlineMs', undefined, positive),
      floorMs: number(timeouts.deadlineFloorMs, 'timeouts.deadlineFloorMs', 1000, positive),
      factor: number(timeouts.deadlineFactor, 'timeouts.deadlineFactor', 3, { min: 1 }),
    },
    retry: retry as RetryOptions | undefined,
    costWeight: number(o.costWeight, 'costWeight', 0, { min: 0 }),
    pricing: pricing as Partial<LambdaPricing> | undefined,
    warmUp: boolean(o.warmUp, 'warmUp', true) as boolean,
    probeIntervalMs: number(o.probeIntervalMs, 'probeIntervalMs', 0, { min: 0 }),
    explore:
      explore === false
        ? false
        : {
            intervalMs: number(explore.intervalMs, 'explore.intervalMs', 30_000, positive),
            uploadProbeBytes: number(explore.uploadProbeBytes, 'explore.uploadProbeBytes', 4096, {
              min: 64,
              max: 1024 * 1024,
              int: true,
            }),
            waitMs: number(explore.waitMs, 'explore.waitMs', 250, { min: 0, max: 60_000 }),
          },
    circuit: { baseMs, maxMs },
    priors: priors as Partial<EstimatorPriors> | undefined,
    bounds: bounds as Partial<SampleBounds> | undefined,
    alternatives: number(o.alternatives, 'alternatives', 3, { min: 0, max: 100, int: true }),
    clock: (o.clock as Clock | undefined) ?? { now: () => Date.now() },
    warn:
      (o.onWarning as ((m: string) => void) | undefined) ??
      ((m: string) => process.emitWarning(m, { code: 'JMDC_WARNING' })),
  };
}
