import type { ErrorCode } from '../errors.js';
import type { Decision, Objective, Prediction } from './plan.js';

/**
 * Why a request finished on the device instead of in the cloud:
 * `deadline` (the cloud part would miss it, or missed it), `timeout`, `network`, `cloud-error`
 * (5xx, throttling after retries, malformed answer), `cloud-rejected` (4xx), `model-mismatch`
 * (the function runs another model build), `credentials` (no AWS credentials to sign with).
 *
 * @example
 * if (r.fallback && r.fallback.reason === 'network') console.warn('offline:', r.fallback.code)
 */
export type FallbackReason =
  | 'deadline'
  | 'timeout'
  | 'network'
  | 'cloud-error'
  | 'cloud-rejected'
  | 'model-mismatch'
  | 'credentials';

/**
 * Wall-clock time of one classify call, ms.
 *
 * @example
 * const { edgeMs, uploadMs, cloudMs, totalMs } = r.timings
 */
export interface ClassifyTimings {
  /** Inference on the device: the head, the whole network, or head + local tail after a fallback. */
  edgeMs: number;
  encodeMs: number;
  /** Time to hand the payload to the network (0 when not measured). */
  uploadMs: number;
  /** serverMs the function reported. */
  cloudMs: number;
  /** Waiting for the answer of the previous call's probe before planning (`explore.waitMs`), 0 when none was in flight. */
  waitMs: number;
  /** Choosing the row: the estimates, the planner over the profile's rows, the circuit breakers. */
  planMs: number;
  /** From the call to its result. */
  totalMs: number;
}

/**
 * The answer of {@link JmdcClient.classify}.
 *
 * @example
 * const r = await client.classify(pixels)
 * console.log(r.classes[0], r.probabilities[0]?.[r.classes[0]!], r.decision.kind, r.timings.totalMs)
 */
export interface ClassifyResult {
  /** Predicted class per image. */
  classes: number[];
  /** Softmax of the logits, per image. */
  probabilities: number[][];
  /** What the planner chose (the cloud part may have been replaced by a local fallback: see `fallback`). */
  decision: Decision;
  /** What the planner predicted for the decision. */
  predicted: Prediction;
  timings: ClassifyTimings;
  /** Payload bytes uploaded (0 for edge-only or when nothing was sent). */
  bytesSent: number;
  /** Whether the function reported a cold start. */
  coldStart: boolean;
  /** `false`, or why the inference was finished on the device. */
  fallback: false | { reason: FallbackReason; code: ErrorCode; message: string };
  /** Requests actually sent to the cloud for this call, retries included (0 when nothing was sent). */
  attempts: number;
  /** The time budget this call had, ms: `deadlineMs` when given, else derived from the prediction. */
  deadlineMs: number;
  /** An exploration probe this call started in the background (its cost is in `client.stats().exploration`). */
  explored?: ExploreInfo;
}

/**
 * An exploration probe: an upload the function rejects at once (`upload-probe`, `bytes` of body), a
 * HEAD that runs nothing (`probe`), or a tiny valid request when the transport has neither (`warm-up`).
 *
 * @example
 * if (r.explored) console.log(`probed point ${r.explored.point} with ${r.explored.bytes} B`)
 */
export interface ExploreInfo {
  kind: 'upload-probe' | 'probe' | 'warm-up';
  point: number;
  bytes: number;
}

/**
 * Per-call options of {@link JmdcClient.classify}.
 *
 * @example
 * await client.classify(images, { deadlineMs: 300, objective: { minimize: 'latency', minAccuracy: 0.9 } })
 */
export interface ClassifyOptions {
  /** Time budget of this call, ms; the cloud part is skipped or abandoned for a local finish when it would miss it. */
  deadlineMs?: number;
  /** Aborts the call with `JMDC_ERR_ABORTED`. */
  signal?: AbortSignal;
  /** Overrides the client's objective for this call. */
  objective?: Objective;
}

/**
 * An image (C x H x W bytes, e.g. 28 x 28 = 784 for Fashion-MNIST) or a batch of them. Number arrays
 * and other typed arrays are accepted when every value is an integer 0..255.
 *
 * @example
 * const one: ImageInput = new Uint8Array(784)
 * const batch: ImageInput = [new Uint8Array(784), new Uint8Array(784)]
 */
export type ImageInput = Uint8Array | ArrayLike<number> | ReadonlyArray<Uint8Array | ArrayLike<number>>;
