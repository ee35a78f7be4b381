import type { RowKind } from '../profile/types.js';

/**
 * What to optimize. `minimize: 'latency'` finds the fastest row whose profile validation accuracy is at
 * least `minAccuracy`; `maximize: 'accuracy'` finds the most accurate row whose predicted latency is
 * within `maxLatencyMs` (ties: the faster one).
 *
 * @example
 * const fast: Objective = { minimize: 'latency', minAccuracy: 0.925 }
 * const good: Objective = { maximize: 'accuracy', maxLatencyMs: 150 }
 */
export type Objective =
  | { minimize: 'latency'; minAccuracy?: number }
  | { maximize: 'accuracy'; maxLatencyMs: number; minAccuracy?: number };

/**
 * One choice of the planner: where to cut and how to compress.
 *
 * @example
 * const d: Decision = { kind: 'split', point: 2, variant: 0.5, keep: 0.25, bits: 4, coder: 'rans' }
 */
export interface Decision {
  kind: RowKind;
  /** 1..P for a split, 0 for cloud-only, -1 for edge-only. */
  point: number;
  /** Prune ratio of the model variant. */
  variant: number;
  keep: number;
  bits: number;
  coder: string;
  /** Quantization parameters per channel or per item (splits only). @default 'channel' */
  quantScope?: 'channel' | 'tensor';
}

/**
 * The predicted cost of a decision (milliseconds for a whole batch; `accuracy` from the profile).
 *
 * @example
 * const p: Prediction = plan.predicted
 * console.log(p.totalMs, p.edgeMs + p.encodeMs + p.uploadMs + p.rttMs + p.cloudMs + p.coldMs)
 */
export interface Prediction {
  totalMs: number;
  /** Head (or whole network for edge-only) on this device. */
  edgeMs: number;
  encodeMs: number;
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
  /** False when no row meets a latency budget (the fastest row is returned instead). */
  feasible: boolean;
  /**
   * A point whose function is probably cold and whose row would win if it were warm: warming it
   * (a tiny request) now makes the next requests cheaper.
   */
  warmUp?: { point: number; coldProb: number; gainMs: number };
}
