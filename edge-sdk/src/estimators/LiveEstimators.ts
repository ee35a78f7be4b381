import type { PlanConditions } from '../types/plan.js';
import { median } from '../util/median.js';
import { type AgedSample, AgedSamples } from './AgedSamples.js';
import { DEFAULT_SAMPLE_BOUNDS, isPlausible, type SampleBounds } from './bounds.js';
import { CircuitBreaker, type CircuitOptions, type CircuitSnapshot } from './CircuitBreaker.js';
import { ColdStartModel, type ColdStartOptions, type ColdStartState } from './ColdStartModel.js';
import { LinkEstimator, type LinkEstimatorOptions, type LinkEstimatorState } from './LinkEstimator.js';

/**
 * Samples of the per-request extra before it is used: one slow request must not price every later one,
 * nor must the first requests of a fresh process on a slow device, whose code still runs unoptimized.
 */
const MIN_EXTRA_SAMPLES = 5;
/**
 * Runs before the device speed is used: one run's ratio to its calibration varies by 2x and more on a
 * busy device (0.3-3.9 under the benchmark's CPU pacer), and a median of two would price every row by it.
 */
const MIN_DEVICE_SAMPLES = 5;

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
 * new LiveEstimators({ pointCount: 5, link: { halfLifeMs: 30_000 }, circuit: { baseMs: 2000 } })
 */
export interface EstimatorOptions {
  /** Number of partition points P (functions 0..P). */
  pointCount: number;
  priors?: Partial<EstimatorPriors>;
  /** The bandwidth/RTT fit. @default see {@link LinkEstimatorOptions} */
  link?: Omit<LinkEstimatorOptions, 'priors'>;
  /** The per-point cloud speed window. @default { size: 9, halfLifeMs: 120000, maxAgeMs: 900000 } */
  cloudScale?: { size?: number; halfLifeMs?: number; maxAgeMs?: number };
  /** The device speed window (see {@link LiveEstimators.observeDevice}). @default { size: 9, halfLifeMs: 120000, maxAgeMs: 900000 } */
  deviceScale?: { size?: number; halfLifeMs?: number; maxAgeMs?: number };
  /** The per-request extra time window (see {@link LiveEstimators.observeRequestExtra}). @default { size: 9, halfLifeMs: 120000, maxAgeMs: 900000 } */
  requestExtra?: { size?: number; halfLifeMs?: number; maxAgeMs?: number };
  coldStart?: ColdStartOptions;
  /** Per-point circuit breakers. @default { baseMs: 1000, maxMs: 60000 } */
  circuit?: CircuitOptions;
  /** Plausible ranges; samples outside are discarded. @default DEFAULT_SAMPLE_BOUNDS */
  bounds?: Partial<SampleBounds>;
}

/**
 * What one cloud response teaches the estimators.
 *
 * @example
 * est.observe({ point: 1, bytes: 900, ttfbMs: 42, totalMs: 43, serverMs: 12, coldStart: false, idleMs: 4000, referenceCloudMs: 10 }, Date.now())
 */
export interface CloudObservation {
  /** Function (partition point) that answered. */
  point: number;
  /** Bytes of the request on the wire (or the payload's when unknown). */
  bytes: number;
  /** Start of writing the request to the response headers, ms; `totalMs` when absent. */
  ttfbMs?: number;
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
  /** False when the transport flagged the answer's timings as implausible. @default true */
  timingsPlausible?: boolean;
  /**
   * How long the answer may have waited for the device's CPU: the longest stretch of device work while
   * the request was in flight, ms. The network time learned is what is left (a lower bound: too low an
   * estimate draws requests to the cloud, which measure the link again; too high a one would not);
   * when nothing is left, only the flags, the reported init time and the cloud speed are learned.
   * @default 0
   */
  deviceHeldMs?: number;
  /**
   * The function had another request in flight when this one was sent (a warm-up, a concurrent
   * call): a cold start then comes from concurrency, not from idle time, and the answer is no
   * evidence about P(cold | idle); its init time and timings are learned. @default false
   */
  concurrent?: boolean;
}

/**
 * Persisted form of the estimators (samples carry their time, so that they keep ageing).
 *
 * @example
 * const restored = new LiveEstimators({ pointCount: 5 }, est.toState())
 */
export interface EstimatorState {
  link: LinkEstimatorState;
  /** Per point: recent serverMs / profile prediction, with their times. */
  cloudScale: Record<string, AgedSample[]>;
  /** Recent device time / its calibrated prediction, with their times (absent in older states). */
  deviceScale?: AgedSample[];
  /** Recent per-request extra times, ms, with their times (absent in older states). */
  requestExtra?: AgedSample[];
  /** Per point. */
  coldStart: Record<string, ColdStartState>;
}

/**
 * What the estimators believe now, for `client.stats()`.
 *
 * @example
 * const s: EstimatorStats = est.stats(Date.now())
 * console.log(s.uplinkMbps, s.rttMs, s.points[2]?.coldProb, s.points[2]?.circuit.state)
 */
export interface EstimatorStats {
  uplinkMbps: number;
  rttMs: number;
  /** True when the bandwidth comes from live samples of different sizes. */
  bandwidthIdentified: boolean;
  /** Live samples of the bandwidth/RTT fit. */
  linkSamples: number;
  /** Samples discarded as implausible since start. */
  discarded: number;
  /** This device's time now / its calibration (1 until measured). */
  deviceScale: number;
  /** The client's own time per cloud request beyond its calibration, ms (0 until measured). */
  requestExtraMs: number;
  points: Array<{
    point: number;
    coldProb: number;
    initMs: number;
    cloudScale: number;
    /** ms since the function's last activity, or null when never called. */
    idleMs: number | null;
    circuit: CircuitSnapshot;
  }>;
}

/**
 * The live measurements the planner decides with: uplink bandwidth and RTT from a robust line fit of
 * network time on request size ({@link LinkEstimator}), the cloud's speed per point relative to the
 * profile (warm responses' serverMs / the profile's tail+decode time, an ageing median), per function
 * a {@link ColdStartModel} and a {@link CircuitBreaker}. Samples outside {@link SampleBounds} are
 * discarded, never learned.
 *
 * @internal Used by `JmdcClient`; apps read its view through `client.stats()` and `client.conditions()`.
 *
 * @example
 * const est = new LiveEstimators({ pointCount: 5 })
 * const idleMs = est.noteSend(2, Date.now())
 * est.observe({ point: 2, bytes: 700, ttfbMs: 40, totalMs: 41, serverMs: 12, coldStart: false, idleMs, referenceCloudMs: 10 }, Date.now())
 * planner.plan(est.conditions(Date.now(), 1))
 */
export class LiveEstimators {
  readonly pointCount: number;
  readonly priors: EstimatorPriors;
  readonly bounds: SampleBounds;
  readonly link: LinkEstimator;
  private readonly scale: AgedSamples[];
  private readonly device: AgedSamples;
  private readonly extra: AgedSamples;
  private readonly cold: ColdStartModel[];
  private readonly breakers: CircuitBreaker[];
  private discardedCount = 0;

  constructor(opts: EstimatorOptions, state?: EstimatorState) {
    this.pointCount = opts.pointCount;
    this.priors = { uplinkMbps: 10, rttMs: 50, initMs: 1500, ...opts.priors };
    this.bounds = { ...DEFAULT_SAMPLE_BOUNDS, ...opts.bounds };
    const b = this.bounds;
    this.link = new LinkEstimator(
      {
        minUplinkMbps: b.minUplinkMbps,
        maxUplinkMbps: b.maxUplinkMbps,
        maxRttMs: b.maxRttMs,
        ...opts.link,
        priors: { uplinkMbps: this.priors.uplinkMbps, rttMs: this.priors.rttMs },
      },
      state?.link,
    );
    const coldOpts = { priorInitMs: this.priors.initMs, ...opts.coldStart };
    this.device = new AgedSamples(opts.deviceScale, state?.deviceScale ?? []);
    this.extra = new AgedSamples(opts.requestExtra, state?.requestExtra ?? []);
    this.scale = [];
    this.cold = [];
    this.breakers = [];
    for (let p = 0; p <= this.pointCount; p++) {
      this.scale.push(new AgedSamples(opts.cloudScale, state?.cloudScale[p] ?? []));
      this.cold.push(new ColdStartModel(coldOpts, state?.coldStart[p]));
      this.breakers.push(new CircuitBreaker(opts.circuit));
    }
  }

  private fn(point: number): ColdStartModel {
    const m = this.cold[point];
    if (!m) throw new RangeError(`no function for point ${point}`);
    return m;
  }

  /** The circuit breaker of a point. */
  breaker(point: number): CircuitBreaker {
    const b = this.breakers[point];
    if (!b) throw new RangeError(`no function for point ${point}`);
    return b;
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

  /**
   * Learns from one successful response received at `nowMs`. Returns the names of the timings that
   * were implausible and therefore not learned (empty when all was learned).
   */
  observe(o: CloudObservation, nowMs: number): string[] {
    const fn = this.fn(o.point);
    fn.lastActivityAt = nowMs;
    // the answer's flag and init time; a concurrent request teaches the init time only, not P(cold | idle)
    const flag = (cold: boolean, initMs: number | undefined): void => {
      if (!o.concurrent) fn.observe(o.idleMs, cold, initMs, nowMs);
      else if (cold && initMs !== undefined) fn.observeInit(initMs);
    };
    const b = this.bounds;
    const bad: string[] = [];
    if (o.timingsPlausible === false) bad.push('timings');
    if (!isPlausible(o.serverMs, 0, b.maxServerMs) || o.serverMs > o.totalMs + 1) bad.push('serverMs');
    if (o.coldStart && o.initMs !== undefined && !isPlausible(o.initMs, 0, b.maxInitMs)) bad.push('initMs');
    if (!isPlausible(o.totalMs, 0, b.maxServerMs + b.maxInitMs + b.maxRttMs)) bad.push('totalMs');
    if (o.ttfbMs !== undefined && !isPlausible(o.ttfbMs, 0, o.totalMs + 1)) bad.push('ttfbMs');
    if (bad.length > 0) {
      // the flag alone is a fact about the function's state; the timings are not believed
      flag(o.coldStart, undefined);
      this.discardedCount++;
      return bad;
    }
    const held = o.deviceHeldMs !== undefined && o.deviceHeldMs > 0 ? o.deviceHeldMs : 0;
    const net = (o.ttfbMs ?? o.totalMs) - o.serverMs - held;
    const timed = net > 0;
    if (o.coldStart && !timed) {
      flag(true, o.initMs);
      return [];
    }
    if (o.coldStart) {
      // A cold answer's wall time also holds the instance setup that no one reports (Lambda's sandbox
      // and runtime start, a local cloud's process start), so it is no network sample. What the caller
      // waited beyond the predicted network time is the cold-start cost, never less than the reported init.
      const excess = net - this.link.predict(o.bytes, nowMs);
      const cost = Math.max(o.initMs ?? 0, Number.isFinite(excess) ? excess : 0);
      flag(true, isPlausible(cost, 0, b.maxInitMs) ? cost : o.initMs);
      return [];
    }
    flag(false, o.initMs);
    if (timed && !this.link.push(o.bytes, net, nowMs)) {
      this.discardedCount++;
      return ['network time'];
    }
    if (o.referenceCloudMs > 0 && o.serverMs > 0) {
      const ratio = o.serverMs / o.referenceCloudMs;
      if (isPlausible(ratio, 1 / b.maxCloudScale, b.maxCloudScale))
        (this.scale[o.point] as AgedSamples).push(ratio, nowMs);
      else {
        this.discardedCount++;
        return ['cloudScale'];
      }
    }
    return [];
  }

  /**
   * A network time measured without running a function: a light probe (`bytes` 0) or an upload probe
   * the function rejects at once (its `ttfbMs`, `bytes` on the wire). Returns false when discarded.
   */
  observeProbe(rttMs: number, nowMs: number, bytes = 0): boolean {
    const ok = this.link.push(bytes, rttMs, nowMs);
    if (!ok) this.discardedCount++;
    return ok;
  }

  /**
   * An upload probe's answer from the function of `point`, received at `nowMs`: the function ran to
   * refuse the body, so it is active now; its network time is `ttfbMs - serverMs` for `bytesSent`
   * bytes, except that a cold answer's wait also holds the instance's start and is no network sample
   * (as in {@link observe}). Returns false when no sample was learned (cold, or discarded).
   */
  observeUploadProbe(
    point: number,
    r: { ttfbMs: number; serverMs?: number; bytesSent: number; coldStart?: boolean },
    nowMs: number,
  ): boolean {
    this.noteActivity(point, nowMs);
    if (r.coldStart === true) return false;
    return this.observeProbe(r.ttfbMs - (r.serverMs ?? 0), nowMs, r.bytesSent);
  }

  /**
   * One run of the device's own inference (the head of a split, or the whole network): `measuredMs`
   * against `calibratedMs`, what the calibration (or the reference costs) predicts for it at scale 1.
   * Returns false when the ratio is implausible and was not learned.
   */
  observeDevice(measuredMs: number, calibratedMs: number, nowMs: number): boolean {
    const m = this.bounds.maxDeviceScale;
    const ratio = measuredMs / calibratedMs;
    if (!(calibratedMs > 0) || !isPlausible(ratio, 1 / m, m)) {
      this.discardedCount++;
      return false;
    }
    this.device.push(ratio, nowMs);
    return true;
  }

  /** Forgets the device's speed samples (after a new calibration they compare with another baseline). */
  resetDeviceScale(): void {
    this.device.clear();
  }

  /** Device time now / its calibration: the ageing median of {@link observeDevice}'s ratios once there are 5, else 1. */
  deviceScale(nowMs: number): number {
    return this.device.count(nowMs) >= MIN_DEVICE_SAMPLES ? this.device.value(nowMs) : 1;
  }

  /**
   * One cloud request's own device time beyond what the planner priced for it at no extra (its
   * encoding and per-request work): measured wall time - device inference - time to the answer's
   * headers - that price, ms. Returns false when implausible (beyond the largest RTT either way).
   */
  observeRequestExtra(extraMs: number, nowMs: number): boolean {
    if (!isPlausible(extraMs, -this.bounds.maxRttMs, this.bounds.maxRttMs)) {
      this.discardedCount++;
      return false;
    }
    this.extra.push(extraMs, nowMs);
    return true;
  }

  /** The ageing median of {@link observeRequestExtra}'s samples once there are 3, else 0. */
  requestExtraMs(nowMs: number): number {
    return this.extra.count(nowMs) >= MIN_EXTRA_SAMPLES ? this.extra.value(nowMs) : 0;
  }

  /** Current uplink estimate at `nowMs`, Mbit/s. */
  uplinkMbps(nowMs: number): number {
    return this.link.fit(nowMs).uplinkMbps;
  }

  /** Current RTT estimate at `nowMs`, ms. */
  rttMs(nowMs: number): number {
    return this.link.fit(nowMs).rttMs;
  }

  /** Cloud time / profile time at a point; the median over all points when this one has no data; else 1. */
  cloudScale(point: number, nowMs: number): number {
    const own = this.scale[point];
    if (own && own.count(nowMs) > 0) return own.value(nowMs);
    const all = this.scale.flatMap((s) => s.live(nowMs));
    if (all.length === 0) return 1;
    // pooled with the same ageing as each point's window (the `cloudScale` options)
    const { halfLifeMs, maxAgeMs } = this.scale[0] as AgedSamples;
    return new AgedSamples({ size: all.length, halfLifeMs, maxAgeMs }, all).value(nowMs);
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
    if (seen.length === 0) return this.priors.initMs;
    return median(seen);
  }

  /** The planner's conditions now (functions whose breaker is open are unavailable). */
  conditions(nowMs: number, batch = 1): PlanConditions {
    const coldProb: number[] = [];
    const initMs: number[] = [];
    const cloudScale: number[] = [];
    const available: boolean[] = [];
    for (let p = 0; p <= this.pointCount; p++) {
      coldProb.push(this.coldProbability(p, nowMs));
      initMs.push(this.initMs(p));
      cloudScale.push(this.cloudScale(p, nowMs));
      available.push(this.breaker(p).available(nowMs));
    }
    const fit = this.link.fit(nowMs);
    return {
      uplinkMbps: fit.uplinkMbps,
      rttMs: fit.rttMs,
      batch,
      coldProb,
      initMs,
      cloudScale,
      deviceScale: this.deviceScale(nowMs),
      requestExtraMs: this.requestExtraMs(nowMs),
      available,
    };
  }

  /** What the estimators believe at `nowMs`. */
  stats(nowMs: number): EstimatorStats {
    const fit = this.link.fit(nowMs);
    const points: EstimatorStats['points'] = [];
    for (let p = 0; p <= this.pointCount; p++) {
      const last = this.fn(p).lastActivityAt;
      points.push({
        point: p,
        coldProb: this.coldProbability(p, nowMs),
        initMs: this.initMs(p),
        cloudScale: this.cloudScale(p, nowMs),
        idleMs: last === undefined ? null : Math.max(0, nowMs - last),
        circuit: this.breaker(p).snapshot(nowMs),
      });
    }
    return {
      uplinkMbps: fit.uplinkMbps,
      rttMs: fit.rttMs,
      bandwidthIdentified: fit.identified,
      linkSamples: fit.samples,
      discarded: this.discardedCount,
      deviceScale: this.deviceScale(nowMs),
      requestExtraMs: this.requestExtraMs(nowMs),
      points,
    };
  }

  /** Persisted form. */
  toState(): EstimatorState {
    const cloudScale: Record<string, AgedSample[]> = {};
    const coldStart: Record<string, ColdStartState> = {};
    for (let p = 0; p <= this.pointCount; p++) {
      const s = (this.scale[p] as AgedSamples).samples();
      if (s.length) cloudScale[p] = s;
      coldStart[p] = (this.cold[p] as ColdStartModel).toState();
    }
    const deviceScale = this.device.samples();
    const requestExtra = this.extra.samples();
    return {
      link: this.link.toState(),
      cloudScale,
      coldStart,
      ...(deviceScale.length ? { deviceScale } : {}),
      ...(requestExtra.length ? { requestExtra } : {}),
    };
  }
}
