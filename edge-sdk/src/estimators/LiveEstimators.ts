import type { PlanConditions } from '../types/plan.js';
import { ColdStartModel, type ColdStartOptions, type ColdStartState } from './ColdStartModel.js';
import { WindowMedian } from './WindowMedian.js';

/**
 * Values used before any measurement.
 *
 * @example
 * new LiveEstimators({ pointCount: 5, priors: { uplinkMbps: 2, rttMs: 80 } })
 */
export interface EstimatorPriors {
  /** @default 10 */
  uplinkMbps: number;
  /** @default 50 */
  rttMs: number;
  /** Init cost of a cold start, ms. @default 1500 */
  initMs: number;
}

/**
 * Options of {@link LiveEstimators}.
 *
 * @example
 * new LiveEstimators({ pointCount: 5, window: 7, minBandwidthSampleBytes: 32_768 })
 */
export interface EstimatorOptions {
  /** Number of partition points P (functions 0..P). */
  pointCount: number;
  priors?: Partial<EstimatorPriors>;
  /** Samples in each median window. @default 5 */
  window?: number;
  /**
   * Payloads smaller than this give no bandwidth sample: the socket's send buffer swallows them and
   * their measured upload time says nothing about the link. @default 16384
   */
  minBandwidthSampleBytes?: number;
  /** Upload times below this (ms) give no bandwidth sample (timer resolution). @default 1 */
  minUploadMs?: number;
  coldStart?: ColdStartOptions;
}

/**
 * What one cloud response teaches the estimators.
 *
 * @example
 * est.observe({ point: 1, bytes: 65_536, uploadMs: 52, uploadMeasured: true, totalMs: 120, serverMs: 30, coldStart: false, idleMs: 4000, referenceCloudMs: 25 })
 */
export interface CloudObservation {
  /** Function (partition point) that answered. */
  point: number;
  /** Payload bytes sent. */
  bytes: number;
  /** Time to write the request body, ms. */
  uploadMs: number;
  /** Whether `uploadMs` was measured (false for the Invoke API). */
  uploadMeasured: boolean;
  /** Request start to the end of the response, ms. */
  totalMs: number;
  /** Time the function reported, ms. */
  serverMs: number;
  coldStart: boolean;
  /** Init duration the function reported for a cold start, ms. */
  initMs?: number;
  /** Idle time of the function before this request (from {@link LiveEstimators.noteSend}). */
  idleMs: number;
  /** What the profile predicts for this request's cloud time (batch x (tail + decode)), ms; 0 = unknown. */
  referenceCloudMs: number;
}

/**
 * Persisted form of the estimators.
 *
 * @example
 * const restored = new LiveEstimators({ pointCount: 5 }, est.toState())
 */
export interface EstimatorState {
  uplinkMbps: number[];
  rttMs: number[];
  /** Per point: recent serverMs / profile prediction. */
  cloudScale: Record<string, number[]>;
  /** Per point. */
  coldStart: Record<string, ColdStartState>;
}

/**
 * The live measurements the planner decides with: uplink bandwidth (payload bytes / upload time,
 * median of the last few samples), RTT (total - upload - serverMs - initMs, median; idle probes too),
 * the cloud's speed per point relative to the profile (warm responses' serverMs / the profile's
 * tail+decode time) and, per function, a {@link ColdStartModel}.
 *
 * @example
 * const est = new LiveEstimators({ pointCount: 5 })
 * const idleMs = est.noteSend(2, Date.now())
 * est.observe({ point: 2, bytes: 40_000, uploadMs: 32, uploadMeasured: true, totalMs: 90, serverMs: 30,
 *   coldStart: false, idleMs, referenceCloudMs: 25 })
 * planner.plan(est.conditions(Date.now(), 1))
 */
export class LiveEstimators {
  readonly pointCount: number;
  readonly priors: EstimatorPriors;
  private readonly window: number;
  private readonly minBytes: number;
  private readonly minUploadMs: number;
  private readonly coldOpts: ColdStartOptions;
  private bandwidth: WindowMedian;
  private rtt: WindowMedian;
  private scale: WindowMedian[];
  private cold: ColdStartModel[];

  constructor(opts: EstimatorOptions, state?: EstimatorState) {
    this.pointCount = opts.pointCount;
    this.priors = { uplinkMbps: 10, rttMs: 50, initMs: 1500, ...opts.priors };
    this.window = opts.window ?? 5;
    this.minBytes = opts.minBandwidthSampleBytes ?? 16384;
    this.minUploadMs = opts.minUploadMs ?? 1;
    this.coldOpts = { priorInitMs: this.priors.initMs, ...opts.coldStart };
    this.bandwidth = new WindowMedian(this.window, state?.uplinkMbps);
    this.rtt = new WindowMedian(this.window, state?.rttMs);
    this.scale = [];
    this.cold = [];
    for (let p = 0; p <= this.pointCount; p++) {
      this.scale.push(new WindowMedian(this.window, state?.cloudScale[p] ?? []));
      this.cold.push(new ColdStartModel(this.coldOpts, state?.coldStart[p]));
    }
  }

  private fn(point: number): ColdStartModel {
    const m = this.cold[point];
    if (!m) throw new RangeError(`no function for point ${point}`);
    return m;
  }

  /** Marks a request to `point` starting at `nowMs`; returns that function's idle time before it. */
  noteSend(point: number, nowMs: number): number {
    const m = this.fn(point);
    const idle = m.lastActivityAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, nowMs - m.lastActivityAt);
    m.lastActivityAt = nowMs;
    return idle;
  }

  /** Marks activity of a function without a response to learn from (e.g. a failed request that reached it). */
  noteActivity(point: number, nowMs: number): void {
    this.fn(point).lastActivityAt = nowMs;
  }

  /** Learns from one successful response received at `nowMs`. */
  observe(o: CloudObservation, nowMs?: number): void {
    const m = this.fn(o.point);
    if (nowMs !== undefined) m.lastActivityAt = nowMs;
    m.observe(o.idleMs, o.coldStart, o.initMs);
    if (o.uploadMeasured && o.bytes >= this.minBytes && o.uploadMs >= this.minUploadMs) {
      this.bandwidth.push((o.bytes * 8) / (o.uploadMs * 1000));
    }
    const init = o.coldStart ? (o.initMs ?? 0) : 0;
    const rtt = o.totalMs - (o.uploadMeasured ? o.uploadMs : 0) - o.serverMs - init;
    if (Number.isFinite(rtt)) this.rtt.push(Math.max(0, rtt));
    if (!o.coldStart && o.referenceCloudMs > 0 && o.serverMs > 0) {
      (this.scale[o.point] as WindowMedian).push(o.serverMs / o.referenceCloudMs);
    }
  }

  /** A round-trip time measured by a light probe (no function run). */
  observeProbe(rttMs: number): void {
    if (Number.isFinite(rttMs) && rttMs >= 0) this.rtt.push(rttMs);
  }

  /** Current uplink estimate, Mbit/s. */
  uplinkMbps(): number {
    return this.bandwidth.value(this.priors.uplinkMbps);
  }

  /** Current RTT estimate, ms. */
  rttMs(): number {
    return this.rtt.value(this.priors.rttMs);
  }

  /** Cloud time / profile time at a point; the median over all points when this one has no data; else 1. */
  cloudScale(point: number): number {
    const own = this.scale[point];
    if (own && own.count > 0) return own.value();
    const all = this.scale.flatMap((s) => s.samples());
    if (all.length === 0) return 1;
    return new WindowMedian(all.length, all).value();
  }

  /** P(cold) of the function of `point` at `nowMs`. */
  coldProbability(point: number, nowMs: number): number {
    return this.fn(point).probabilityAt(nowMs);
  }

  /** Init cost of a point's cold start: its own median, else the median over points, else the prior. */
  initMs(point: number): number {
    const own = this.fn(point);
    if (own.initSamples > 0) return own.initMs();
    const seen = this.cold.filter((c) => c.initSamples > 0).map((c) => c.initMs());
    return seen.length ? new WindowMedian(seen.length, seen).value() : this.priors.initMs;
  }

  /** The planner's conditions now. */
  conditions(nowMs: number, batch = 1): PlanConditions {
    const coldProb: number[] = [];
    const initMs: number[] = [];
    const cloudScale: number[] = [];
    for (let p = 0; p <= this.pointCount; p++) {
      coldProb.push(this.coldProbability(p, nowMs));
      initMs.push(this.initMs(p));
      cloudScale.push(this.cloudScale(p));
    }
    return { uplinkMbps: this.uplinkMbps(), rttMs: this.rttMs(), batch, coldProb, initMs, cloudScale };
  }

  /** Persisted form. */
  toState(): EstimatorState {
    const cloudScale: Record<string, number[]> = {};
    const coldStart: Record<string, ColdStartState> = {};
    for (let p = 0; p <= this.pointCount; p++) {
      const s = (this.scale[p] as WindowMedian).samples();
      if (s.length) cloudScale[p] = s;
      coldStart[p] = (this.cold[p] as ColdStartModel).toState();
    }
    return { uplinkMbps: this.bandwidth.samples(), rttMs: this.rtt.samples(), cloudScale, coldStart };
  }
}
