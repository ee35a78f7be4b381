import type { PlanRow } from '../profile/types.js';

/**
 * What to optimize. `minimize: 'latency'` finds the fastest row whose profile validation accuracy is at
 * least `minAccuracy`; `maximize: 'accuracy'` finds the most accurate row whose predicted latency is
 * within `maxLatencyMs` (ties: the faster one). A discriminated union: `{ minimize: 'latency',
 * maxLatencyMs }` does not type-check.
 *
 * The accuracy floor of `minimize: 'latency'` defaults to the full model's validation accuracy minus
 * 1 point ({@link DEFAULT_ACCURACY_MARGIN}), capped at the best accuracy a usable row reaches; give
 * `minAccuracy: 0` for no floor. `maximize: 'accuracy'` has no floor unless `minAccuracy` is given.
 *
 * @example
 * const fast: Objective = { minimize: 'latency', minAccuracy: 0.925 }
 * const good: Objective = { maximize: 'accuracy', maxLatencyMs: 150 }
 */
export type Objective = LatencyObjective | AccuracyObjective;

/**
 * Fastest row above an accuracy floor.
 *
 * @example
 * const o: LatencyObjective = { minimize: 'latency' } // floor: full model - 1 point
 */
export interface LatencyObjective {
  minimize: 'latency';
  /** Validation accuracy floor in [0, 1]. @default the full model's validation accuracy - 0.01 */
  minAccuracy?: number;
  maximize?: never;
  maxLatencyMs?: never;
}

/**
 * Most accurate row within a latency budget.
 *
 * @example
 * const o: AccuracyObjective = { maximize: 'accuracy', maxLatencyMs: 120 }
 */
export interface AccuracyObjective {
  maximize: 'accuracy';
  /** Predicted latency budget, ms (> 0). */
  maxLatencyMs: number;
  /** Validation accuracy floor in [0, 1]. @default 0 */
  minAccuracy?: number;
  minimize?: never;
}

/**
 * One choice of the planner: where to cut and how to compress. The fields of a profile row
 * ({@link PlanRow}); `quantScope` only for splits; `bottleneck: true` only for a split through the
 * variant's learned bottleneck at the point (absent = false).
 *
 * @example
 * const d: Decision = { kind: 'split', point: 2, variant: 0.5, keep: 0.25, bits: 4, coder: 'rans' }
 * const b: Decision = { kind: 'split', point: 2, variant: 0, keep: 0.5, bits: 1, coder: 'rans', bottleneck: true }
 */
export type Decision = Pick<PlanRow, 'kind' | 'point' | 'variant' | 'keep' | 'bits' | 'coder'> &
  Partial<Pick<PlanRow, 'quantScope' | 'bottleneck'>>;

/**
 * The predicted cost of a decision (milliseconds for a whole batch; `accuracy` from the profile).
 *
 * @example
 * const p: Prediction = plan.predicted
 * console.log(p.totalMs, p.edgeMs + p.encodeMs + p.requestMs + p.uploadMs + p.rttMs + p.cloudMs + p.coldMs)
 */
export interface Prediction {
  totalMs: number;
  /** Head (or whole network for edge-only) on this device. */
  edgeMs: number;
  /** The row's encoding on this device: raw format (cloud-only) or codec (split) of every image. */
  encodeMs: number;
  /**
   * The client's own work for the request on this device, once per request: SigV4 signing with the
   * SHA-256 of the payload, checking the answer (0 for edge-only).
   */
  requestMs: number;
  /** payload bytes / uplink bandwidth. */
  uploadMs: number;
  rttMs: number;
  /** Decode + tail in the cloud. */
  cloudMs: number;
  /** P(cold start) x init cost of the function. */
  coldMs: number;
  /** Validation accuracy of this setting in the profile. */
  accuracy: number;
  /** Expected dollars per request (Lambda compute + request fee); 0 for edge-only. */
  costUsd: number;
}

/**
 * Network and cloud conditions the planner decides under. Per-point values are arrays indexed by
 * point (0 = the cloud-only function).
 *
 * @example
 * planner.plan({ uplinkMbps: 5, rttMs: 40, batch: 4, coldProb: 0.1, initMs: 1800 })
 */
export interface PlanConditions {
  /** Uplink bandwidth, Mbit/s (> 0). */
  uplinkMbps: number;
  /** Round-trip time to the cloud, ms. */
  rttMs: number;
  /** Images classified together. @default 1 */
  batch?: number;
  /** Probability that the function of a point is cold. @default 0 */
  coldProb?: number | readonly number[];
  /** Init cost of a cold start, ms. @default 0 */
  initMs?: number | readonly number[];
  /** Cloud time / the profile's tail+decode time, learned from serverMs. @default 1 */
  cloudScale?: number | readonly number[];
  /**
   * This device's time now / its calibration (or the speed-scaled reference costs without one),
   * learned from the client's own inference runs; it scales every device cost of a row (head or whole
   * network, encoding, per-request work): a device that throttles when hot, or shares its CPU, is
   * priced as it runs now. @default 1
   */
  deviceScale?: number;
  /**
   * The client's own time per cloud request beyond what its calibration prices (the HTTP stack,
   * reading the answer, the event loop), ms, learned from its requests: added to every cloud row's
   * `requestMs`. @default 0
   */
  requestExtraMs?: number;
  /**
   * Per point: whether its function may be planned now (false while its circuit breaker is open after
   * failures). @default true for every point
   */
  available?: boolean | readonly boolean[];
}

/**
 * A decision and its predicted costs.
 *
 * @example
 * const { decision, predicted } = client.plan()
 */
export interface PlanOption {
  decision: Decision;
  predicted: Prediction;
}

/**
 * The planner's answer: the best option, the next best ones, and an optional warm-up hint.
 *
 * @example
 * const r = planner.plan({ uplinkMbps: 1, rttMs: 30 })
 * console.log(r.decision, r.predicted.totalMs, r.alternatives.length)
 */
export interface PlanResult extends PlanOption {
  /** The next best options, best first, same shape. */
  alternatives: PlanOption[];
  /**
   * False when no row meets a latency budget (the fastest row is returned instead), or when every row
   * that reaches the accuracy floor needs a function that is unavailable now (the best edge-only row
   * below the floor is returned instead).
   */
  feasible: boolean;
  /**
   * A point whose function is probably cold and whose row would win if it were warm: warming it
   * (a tiny request) now makes the next requests cheaper.
   */
  warmUp?: { point: number; coldProb: number; gainMs: number };
}
