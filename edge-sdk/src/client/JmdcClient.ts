import { performance } from 'node:perf_hooks';
import { DEFAULT_LIMITS, encodeFeatures, encodeRaw } from '../codec/index.js';
import type { CoderId, RawFormat } from '../codec/types.js';
import { type ErrorCode, ErrorCodes, isJmdcError, JmdcError, TransportError } from '../errors.js';
import { type EstimatorStats, LiveEstimators } from '../estimators/LiveEstimators.js';
import type { InferenceBackend } from '../model/backend.js';
import { featureDims, loadModel } from '../model/manifest.js';
import { preprocess } from '../model/preprocess.js';
import { argmaxRows, type HeadOutput, ModelRunner, softmaxRows } from '../model/runner.js';
import type { LoadedModel } from '../model/types.js';
import { Planner } from '../planner/planner.js';
import { loadProfile, normalizeProfile } from '../profile/loadProfile.js';
import type { DeviceCalibration, NormalizedProfile } from '../profile/types.js';
import { FLOAT32_MAX } from '../transport/response.js';
import { attemptsOf } from '../transport/retry.js';
import type { SendResult, Transport } from '../transport/types.js';
import type { ClassifyOptions, ClassifyResult, ExploreInfo, FallbackReason, ImageInput } from '../types/classify.js';
import type { Decision, Objective, PlanConditions, PlanResult, Prediction } from '../types/plan.js';
import { type CalibrateOptions, measureHeads } from './calibrate.js';
import { asDeviceWork, asDeviceWorkSync, deviceHoldMs, deviceMark, deviceQuietSince } from './deviceActivity.js';
import { deviceWork } from './deviceWork.js';
import { type ImageBatch, toImageBatch } from './input.js';
import { type Clock, type JmdcClientOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { StateStore } from './state.js';
import { createTransport } from './transports.js';

const RAW_FORMATS: ReadonlySet<string> = new Set(['raw', 'png', 'deflate']);
const FEATURE_CODERS: ReadonlySet<string> = new Set(['none', 'deflate', 'brotli', 'rans', 'auto']);
/** Live link samples below which the fit is thin and exploration probes 4x as often. */
const THIN_FIT_SAMPLES = 3;
/** Probes at the thin fit's pace before the routine pace again (until the fit has samples). */
const MAX_THIN_PROBES = 3;

/** Classify calls between two probes triggered by a change of the link. */
const CHANGE_PROBE_MIN_CALLS = 4;
/** Probes in a row that may follow one that gave no network sample (cold instance, answer held by device work). */
const MAX_REPROBES = 2;

/** Resolves when `p` settles or after `ms`, whichever is first (never rejects; the timer does not keep the process alive). */
function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}

function reasonFor(code: ErrorCode): FallbackReason {
  switch (code) {
    case ErrorCodes.DEADLINE:
      return 'deadline';
    case ErrorCodes.TIMEOUT:
      return 'timeout';
    case ErrorCodes.CLOUD_REJECTED:
      return 'cloud-rejected';
    case ErrorCodes.MODEL_MISMATCH:
      return 'model-mismatch';
    case ErrorCodes.CREDENTIALS:
      return 'credentials';
    case ErrorCodes.NETWORK:
      return 'network';
    default:
      return 'cloud-error';
  }
}

/** Runs one task at a time: inference on the device is serialized (ORT already uses every core). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** One classify call's inputs and device time. */
interface Call {
  input: ImageBatch;
  x?: Float32Array;
  edgeMs: number;
  encodeMs: number;
  /** Time of the planned device run (head or whole network) itself, without waiting for the device. */
  runMs?: number;
}

/** How the cloud part of a call ended. */
interface CloudOutcome {
  logits: Float32Array;
  sent?: SendResult;
  fallback: ClassifyResult['fallback'];
  bytesSent: number;
  attempts: number;
  /** No device work overlapped the request (its timings are the network's and the cloud's). */
  quiet?: boolean;
  /** The transport had answered before (signer loaded) and this request took one attempt. */
  warmTransport?: boolean;
}

/**
 * What the client believes and has spent, for dashboards and the demo.
 *
 * @example
 * const s: ClientStats = client.stats()
 * console.log(s.uplinkMbps, s.rttMs, s.points.map((p) => p.circuit.state), s.exploration.probes)
 */
export interface ClientStats extends EstimatorStats {
  /** Requests sent to functions by classify calls, and how many of them failed. */
  requests: { sent: number; failed: number; fallbacks: number };
  /** Exploration: probes sent (upload, HEAD or warm-up) and their bytes. */
  exploration: { probes: number; bytes: number };
  /** Background warm-ups sent and their bytes. */
  warmUps: { sent: number; bytes: number };
}

/**
 * The edge SDK: classifies images by running the head of a (pruned) network on this device,
 * compressing the intermediate features and finishing in the Lambda of the chosen partition point —
 * or entirely on the device, or by uploading the raw image — whichever the planner expects to be
 * best under the objective, the live network/cloud measurements and this device's speed. Every
 * classify returns a result or throws a typed {@link JmdcError}; when the cloud fails or the
 * deadline would be missed, the inference is finished on the device and the result says so. A
 * function that fails is kept out of the plans for a growing back-off (circuit breaker).
 *
 * @example
 * const client = await JmdcClient.create({
 *   model: 'fmnist-vgg16',
 *   endpoints: 'cdk/endpoints.json',
 *   objective: { minimize: 'latency', minAccuracy: 0.925 },
 *   threads: 4,
 * })
 * const r = await client.classify(pixels) // Uint8Array of 28x28
 * console.log(r.classes[0], r.decision, r.timings.totalMs, r.fallback)
 * await client.close()
 */
export class JmdcClient {
  readonly model: LoadedModel;
  readonly profile: NormalizedProfile;
  private readonly planner: Planner;
  private readonly estimators: LiveEstimators;
  private readonly runner: ModelRunner;
  private readonly transport: Transport | undefined;
  private readonly ownTransport: boolean;
  private readonly o: ResolvedOptions;
  private readonly clock: Clock;
  private readonly store: StateStore;
  private readonly edge = new Serial();
  private readonly warming = new Map<number, Promise<void>>();
  /** Requests in flight per point (calls and warm-ups). */
  private readonly sending = new Map<number, number>();
  /** Answers the transport brought back (calls and warm-ups). */
  private exchanges = 0;
  /** Probes sent at the thin fit's pace since the fit last had enough samples. */
  private thinProbes = 0;
  private readonly background = new Set<Promise<unknown>>();
  private calibration: DeviceCalibration | undefined;
  private inFlight = 0;
  private drained: Array<() => void> = [];
  private closed = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private lastCloudAt = 0;
  private lastExploreAt: number;
  /** The last probe gave no network sample (a new instance, or an answer held by device work): probe again at the next call. */
  private reprobe = false;
  /** Probes in a row that gave no network sample. */
  private emptyProbes = 0;
  /** The exploration probe in flight (at most one), which the next call waits for (`explore.waitMs`). */
  private probeJob: Promise<unknown> | undefined;
  /** When the last call ended, ms (the clock's). */
  private lastCallEndAt: number | undefined;
  private callsSinceExplore = Number.POSITIVE_INFINITY;
  private readonly counters = {
    sent: 0,
    failed: 0,
    fallbacks: 0,
    probes: 0,
    probeBytes: 0,
    warmUps: 0,
    warmUpBytes: 0,
  };

  private constructor(parts: {
    model: LoadedModel;
    profile: NormalizedProfile;
    planner: Planner;
    estimators: LiveEstimators;
    runner: ModelRunner;
    transport: Transport | undefined;
    ownTransport: boolean;
    store: StateStore;
    calibration: DeviceCalibration | undefined;
    o: ResolvedOptions;
  }) {
    this.model = parts.model;
    this.profile = parts.profile;
    this.planner = parts.planner;
    this.estimators = parts.estimators;
    this.runner = parts.runner;
    this.transport = parts.transport;
    this.ownTransport = parts.ownTransport;
    this.store = parts.store;
    this.calibration = parts.calibration;
    this.o = parts.o;
    this.clock = parts.o.clock;
    this.lastExploreAt = this.clock.now();
  }

  /**
   * Validates every option (before anything is created), loads the model's manifest and profile,
   * restores the state file (implausible values dropped with a warning), resolves the endpoints and
   * builds the transport. Throws `JMDC_ERR_INVALID_ARGUMENT` (a bad or unknown option, with the known
   * ones), `JMDC_ERR_MODEL_NOT_FOUND`, `JMDC_ERR_PROFILE_NOT_FOUND` / `_INVALID`, or
   * `JMDC_ERR_NO_PLAN` when no setting reaches the objective's accuracy floor.
   *
   * @example
   * const client = await JmdcClient.create({ model: 'fmnist-vgg16', endpoints: { localCloudUrl: 'http://127.0.0.1:9000' } })
   */
  static async create(opts: JmdcClientOptions): Promise<JmdcClient> {
    const o = resolveOptions(opts);
    const model = loadModel(o.model);
    const { manifest } = model;
    const P = manifest.points.length;
    let profile: NormalizedProfile;
    if (o.profile === undefined || typeof o.profile === 'string') {
      profile = loadProfile(o.profile ?? model.dir, { manifest });
    } else if ('pointCount' in o.profile) {
      profile = o.profile;
    } else {
      profile = normalizeProfile(o.profile, { manifest, source: 'options.profile' });
    }
    const store = new StateStore(
      o.stateFile === false ? undefined : o.stateFile,
      { model: manifest.id, modelHash: manifest.hash },
      { clock: o.clock, warn: o.warn, intervalMs: o.persistIntervalMs },
    );
    const state = store.load();
    const ctx = { model: manifest.id, modelHash: manifest.hash, pointCount: P };
    const { transport, owned } = await createTransport(o, ctx);
    let runner: ModelRunner | undefined;
    try {
      const estimators = new LiveEstimators(
        {
          pointCount: P,
          circuit: o.circuit,
          ...(o.priors ? { priors: o.priors } : {}),
          ...(o.bounds ? { bounds: o.bounds } : {}),
        },
        state.estimators,
      );
      const planner = new Planner(profile, {
        ...(o.objective ? { objective: o.objective } : {}),
        ...(state.calibration ? { calibration: state.calibration } : {}),
        ...(o.pricing ? { pricing: o.pricing } : {}),
        costWeight: o.costWeight,
        alternatives: o.alternatives,
        cloudPoints: (transport?.points ?? []).filter((p) => p >= 0 && p <= P),
      });
      planner.assertFeasible();
      let backend: InferenceBackend | undefined = o.backend;
      if (!backend) {
        const { OrtBackend } = await import('../runtime/index.js');
        backend = new OrtBackend({ intraOpThreads: o.threads });
      }
      runner = new ModelRunner(model, backend);
      const client = new JmdcClient({
        model,
        profile,
        planner,
        estimators,
        runner,
        transport,
        ownTransport: owned,
        store,
        calibration: state.calibration,
        o,
      });
      if (o.warmUp) client.maybeWarm(client.plan());
      if (o.probeIntervalMs > 0 && transport?.probe) client.startProbes(o.probeIntervalMs);
      return client;
    } catch (e) {
      if (owned) await transport?.close().catch(() => {});
      await runner?.close().catch(() => {});
      throw e;
    }
  }

  private track<T>(p: Promise<T>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p)).catch(() => {});
  }

  private startProbes(everyMs: number): void {
    this.probeTimer = setInterval(() => {
      const t = this.transport;
      if (this.closed || !t?.probe || t.points.length === 0 || Date.now() - this.lastCloudAt < everyMs) return;
      const point = this.probePoint(this.plan());
      if (point === undefined) return;
      this.lastCloudAt = Date.now();
      const mark = deviceMark();
      this.track(
        t.probe(point, { signal: AbortSignal.timeout(everyMs) }).then(
          (ms) => {
            this.counters.probes++;
            this.observeHeldProbe(ms, deviceHoldMs(mark));
          },
          () => {},
        ),
      );
    }, everyMs);
    this.probeTimer.unref();
  }

  /** The objective in use. */
  get objective(): Objective {
    return this.planner.getObjective();
  }

  /** The current estimates (bandwidth, RTT, P(cold) and init cost per point, cloud speed, availability). */
  conditions(batch = 1): PlanConditions {
    return this.estimators.conditions(this.clock.now(), batch);
  }

  /**
   * What the client believes now: bandwidth and RTT (and whether the bandwidth is identified from
   * requests of different sizes), per point P(cold), init cost, cloud speed and circuit state, and
   * what it sent: requests, failures, fallbacks, exploration probes and warm-ups with their bytes.
   *
   * @example
   * const { uplinkMbps, rttMs, points } = client.stats()
   * points.filter((p) => p.circuit.state !== 'closed') // functions kept out of the plans
   */
  stats(): ClientStats {
    const c = this.counters;
    return {
      ...this.estimators.stats(this.clock.now()),
      requests: { sent: c.sent, failed: c.failed, fallbacks: c.fallbacks },
      exploration: { probes: c.probes, bytes: c.probeBytes },
      warmUps: { sent: c.warmUps, bytes: c.warmUpBytes },
    };
  }

  /**
   * The decision for the current conditions (or the given overrides), with its predicted cost
   * breakdown and the next best alternatives. Runs nothing.
   *
   * @example
   * const { decision, predicted, alternatives } = client.plan({ batch: 8 })
   * const offline = client.plan({ uplinkMbps: 0.05 })
   */
  plan(conditions: Partial<PlanConditions> & { objective?: Objective } = {}): PlanResult {
    const { objective, ...overrides } = conditions;
    const base = this.estimators.conditions(this.clock.now(), overrides.batch ?? 1);
    return this.planner.plan({ ...base, ...overrides }, objective ?? this.planner.getObjective());
  }

  /**
   * The deadline the client gives a call with this plan when none is set: max(floor, factor x the
   * predicted latency with a full cold start of the function when it may be cold), see
   * {@link ClientTimeouts}.
   *
   * @example
   * client.deadlineFor(client.plan()) // e.g. 1000
   */
  deadlineFor(plan: Pick<PlanResult, 'decision' | 'predicted'>): number {
    const d = this.o.deadline;
    if (d.fixedMs !== undefined) return d.fixedMs;
    const p: Prediction = plan.predicted;
    let worst = p.totalMs;
    if (plan.decision.kind !== 'edge-only' && p.coldMs > 0) {
      worst = p.totalMs - p.coldMs + this.estimators.initMs(plan.decision.point);
    }
    return Math.max(d.floorMs, d.factor * worst);
  }

  /**
   * Classifies one image (a Uint8Array of C x H x W pixels) or a batch. Bad input is rejected before
   * anything runs or is sent (`JMDC_ERR_INVALID_ARGUMENT`, `_NON_FINITE`, `_SHAPE_MISMATCH`,
   * `_BATCH_OUT_OF_RANGE`); a failing or slow cloud makes the device finish the inference
   * (`fallback` in the result); `JMDC_ERR_CLOSED` after `close()`, `JMDC_ERR_ABORTED` on `signal`.
   *
   * @example
   * const r = await client.classify([img1, img2], { deadlineMs: 500 })
   * r.classes // [7, 2]
   */
  async classify(images: ImageInput, opts: ClassifyOptions = {}): Promise<ClassifyResult> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'client is closed');
    const input = toImageBatch(images, this.model.manifest, DEFAULT_LIMITS.maxBatch);
    if (opts.deadlineMs !== undefined && !(Number.isFinite(opts.deadlineMs) && opts.deadlineMs > 0)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `deadlineMs must be a positive number, got ${opts.deadlineMs}`);
    }
    if (opts.signal?.aborted) throw new JmdcError(ErrorCodes.ABORTED, 'aborted before start');
    this.inFlight++;
    try {
      return await this.run(input, opts);
    } catch (e) {
      if (isJmdcError(e)) throw e;
      throw new JmdcError(
        ErrorCodes.INTERNAL,
        `classify failed: ${(e as Error)?.message ?? String(e)}`,
        {},
        { cause: e },
      );
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const d of this.drained.splice(0)) d();
    }
  }

  /** Plans with the circuit breakers: a half-open function takes one trial request at a time. */
  private planAndAcquire(
    N: number,
    objective: Objective,
  ): { plan: PlanResult; deviceScale: number; requestExtraMs: number } {
    const now = this.clock.now();
    const cond = this.estimators.conditions(now, N);
    const deviceScale = cond.deviceScale ?? 1;
    const requestExtraMs = cond.requestExtraMs ?? 0;
    const available = cond.available as boolean[];
    let plan = this.planner.plan(cond, objective);
    for (let guard = 0; guard <= available.length; guard++) {
      if (plan.decision.kind === 'edge-only' || this.estimators.breaker(plan.decision.point).tryAcquire(now)) break;
      available[plan.decision.point] = false;
      plan = this.planner.plan(cond, objective);
    }
    return { plan, deviceScale, requestExtraMs };
  }

  private async run(input: ImageBatch, opts: ClassifyOptions): Promise<ClassifyResult> {
    const t0 = performance.now();
    // the device's work would hold the answer to the probe in flight (an inference keeps the event loop
    // busy): wait a little for it, which also lets this call plan with what it measured
    let waitMs = 0;
    if (this.probeJob && this.o.explore && this.o.explore.waitMs > 0) {
      await settledWithin(this.probeJob, this.o.explore.waitMs);
      waitMs = performance.now() - t0;
    }
    const tPlan = performance.now();
    const startAt = this.clock.now();
    const idleBeforeMs = this.lastCallEndAt === undefined ? 0 : Math.max(0, startAt - this.lastCallEndAt);
    const N = input.batch;
    const classes = this.model.manifest.classes.length;
    const { plan, deviceScale, requestExtraMs } = this.planAndAcquire(N, opts.objective ?? this.planner.getObjective());
    const { decision, predicted } = plan;
    // the request's own time counts from here: planning is the same for every row
    const tStart = performance.now();
    const budget = opts.deadlineMs ?? this.deadlineFor(plan);
    const call: Call = { input, edgeMs: 0, encodeMs: 0 };
    const out: CloudOutcome =
      decision.kind === 'edge-only'
        ? {
            logits: await this.onDevice(call, () => this.runner.full(decision.variant, this.normalized(call), N)),
            fallback: false,
            bytesSent: 0,
            attempts: 0,
          }
        : await this.viaCloud(call, plan, Date.now() + budget, opts);
    const { sent } = out;
    const result: ClassifyResult = {
      classes: argmaxRows(out.logits, classes),
      probabilities: softmaxRows(out.logits, classes),
      decision,
      predicted,
      timings: {
        edgeMs: call.edgeMs,
        encodeMs: call.encodeMs,
        uploadMs: sent?.uploadMs ?? 0,
        cloudMs: sent?.serverMs ?? 0,
        waitMs,
        planMs: tStart - tPlan,
        totalMs: performance.now() - t0,
      },
      bytesSent: out.bytesSent,
      coldStart: sent?.response.coldStart ?? false,
      fallback: out.fallback,
      attempts: out.attempts,
      deadlineMs: budget,
    };
    const now = this.clock.now();
    // the device's speed now against its calibration: the planned run against its price at scale 1
    if (call.runMs !== undefined && predicted.edgeMs > 0) {
      this.estimators.observeDevice(call.runMs, predicted.edgeMs / deviceScale, now);
    }
    // the request's own device time beyond its price: everything but the inference and the wait for
    // the answer; not from the transport's first exchange, which also loads the signer and connects
    if (sent?.ttfbMs !== undefined && out.quiet === true && out.fallback === false && out.warmTransport === true) {
      const own = performance.now() - tStart - call.edgeMs - sent.ttfbMs;
      // a negative time means the transport's timings do not come from this clock: nothing to learn
      if (own >= 0)
        this.estimators.observeRequestExtra(own - (predicted.encodeMs + predicted.requestMs - requestExtraMs), now);
    }
    // the plan for the next call, only for what uses it (warm-up, exploration)
    if (!this.closed && (this.o.warmUp || this.o.explore)) {
      const next = this.plan({ batch: N });
      if (this.o.warmUp) this.maybeWarm(next);
      const explored = this.explore(next, idleBeforeMs);
      if (explored) result.explored = explored;
    }
    this.store.maybeSave(() => this.snapshot());
    this.lastCallEndAt = this.clock.now();
    return result;
  }

  /** Runs `fn` on the device (one inference at a time), adding its time to the call's edge time. */
  private async onDevice<T>(call: Call, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await this.edge.run(() =>
        asDeviceWork(async () => {
          const r = performance.now();
          try {
            return await fn();
          } finally {
            // the first run of a call is the planned one (a fallback's local tail comes later)
            call.runMs ??= performance.now() - r;
          }
        }),
      );
    } finally {
      call.edgeMs += performance.now() - t;
    }
  }

  /** The call's images, normalized once. */
  private normalized(call: Call): Float32Array {
    call.x ??= preprocess(this.model.manifest, call.input.pixels, call.input.batch);
    return call.x;
  }

  /** The payload of a split (head on the device, then the codec) or of a raw upload. */
  private async encode(call: Call, decision: Decision): Promise<{ payload: Uint8Array; head?: HeadOutput }> {
    const { manifest } = this.model;
    const model = { id: manifest.id, hash: manifest.hash };
    const N = call.input.batch;
    if (decision.kind === 'split') {
      // with a bottleneck the head ends with its encoder: the codec sends the code (block p's attention
      // still picks the regions) and flags the frame so the function runs the decoder
      const bottleneck = decision.bottleneck === true;
      const head = await this.onDevice(call, () =>
        this.runner.head(decision.variant, decision.point, this.normalized(call), N, { bottleneck }),
      );
      const t = performance.now();
      const payload = asDeviceWorkSync(() =>
        encodeFeatures(
          { dims: head.dims, batch: N, features: head.features, attention: head.attention },
          {
            model,
            point: decision.point,
            variant: decision.variant,
            keep: decision.keep,
            bits: decision.bits,
            coder: (FEATURE_CODERS.has(decision.coder) ? decision.coder : 'auto') as CoderId | 'auto',
            quantScope: decision.quantScope ?? 'channel',
            bottleneck,
          },
        ),
      );
      call.encodeMs = performance.now() - t;
      return { payload, head };
    }
    const t = performance.now();
    const payload = asDeviceWorkSync(() =>
      encodeRaw(call.input.pixels, call.input.dims, N, {
        model,
        format: (RAW_FORMATS.has(decision.coder) ? decision.coder : 'png') as RawFormat,
      }),
    );
    call.encodeMs = performance.now() - t;
    return { payload };
  }

  /**
   * The cloud part of a split or cloud-only decision: encode, send unless the prediction already
   * misses the deadline, check and learn from the answer, and finish on the device when anything
   * fails (from the head's features when a head ran). Feeds the function's circuit breaker.
   */
  private async viaCloud(call: Call, plan: PlanResult, deadline: number, opts: ClassifyOptions): Promise<CloudOutcome> {
    const { decision, predicted } = plan;
    const { manifest } = this.model;
    const N = call.input.batch;
    const point = decision.point;
    const breaker = this.estimators.breaker(point);
    const { payload, head } = await this.encode(call, decision);
    const finishLocally = async (code: ErrorCode, message: string, sentCount: number): Promise<CloudOutcome> => {
      this.counters.fallbacks++;
      const logits = await this.onDevice(call, () =>
        head
          ? this.runner.tail(decision.variant, point, head.features, N, { bottleneck: head.bottleneck !== undefined })
          : this.runner.full(decision.variant, this.normalized(call), N),
      );
      return {
        logits,
        fallback: { reason: reasonFor(code), code, message },
        bytesSent: sentCount > 0 ? payload.byteLength : 0,
        attempts: sentCount,
      };
    };
    const cloudPart = predicted.requestMs + predicted.uploadMs + predicted.rttMs + predicted.cloudMs + predicted.coldMs;
    const remaining = deadline - Date.now();
    if (cloudPart > remaining) {
      breaker.release();
      return finishLocally(
        ErrorCodes.DEADLINE,
        `the cloud part (${cloudPart.toFixed(1)} ms predicted) would miss the deadline (${remaining.toFixed(1)} ms left)`,
        0,
      );
    }
    const likelyWarm = this.estimators.coldProbability(point, this.clock.now()) < 0.5;
    const idleMs = this.estimators.noteSend(point, this.clock.now());
    this.lastCloudAt = Date.now();
    this.counters.sent++;
    let sent: SendResult | undefined;
    const mark = deviceMark();
    const exchanged = this.exchanges;
    const concurrent = this.countSend(point, +1);
    const sendAt = performance.now();
    try {
      const classes = manifest.classes.length;
      sent = await (this.transport as Transport)
        .send(point, payload, {
          deadline,
          expect: { batch: N, classes, modelHash: manifest.hash },
          ...(opts.signal ? { signal: opts.signal } : {}),
        })
        .finally(() => this.countSend(point, -1));
      this.exchanges++;
      const logits = this.checkResponse(sent, N, classes);
      breaker.success();
      const row = this.planner.indexOf(decision);
      const quiet = deviceQuietSince(mark, sent.totalMs);
      const reference = row >= 0 ? N * this.planner.referenceCloudMs(row) : 0;
      this.learn(sent, point, idleMs, reference, deviceHoldMs(mark), concurrent);
      const warmTransport = exchanged > 0 && sent.attempts === 1;
      return {
        logits,
        sent,
        fallback: false,
        bytesSent: payload.byteLength,
        attempts: sent.attempts,
        quiet,
        warmTransport,
      };
    } catch (e) {
      if (isJmdcError(e, ErrorCodes.ABORTED)) {
        breaker.release();
        throw e;
      }
      const code = isJmdcError(e) ? e.code : ErrorCodes.CLOUD_ERROR;
      breaker.failure(this.clock.now(), code);
      this.counters.failed++;
      // the function answered (an HTTP status): it is warm now
      if (e instanceof TransportError && e.status !== undefined) this.estimators.noteActivity(point, this.clock.now());
      // an answer refused here was sent; a transport error says how many requests were written
      const written = sent ? sent.attempts : attemptsOf(e);
      if (code === ErrorCodes.DEADLINE && written === 1 && likelyWarm) {
        this.learnTimeout(payload.byteLength, performance.now() - sendAt - deviceHoldMs(mark) - predicted.cloudMs);
      }
      return finishLocally(code, (e as Error)?.message ?? String(e), written);
    }
  }

  /**
   * A request to a function that was probably warm, written once and unanswered by its deadline: the
   * link took at least `lowerBoundMs` for its `bytes` (its wait, less device work and the function's
   * predicted time). Where that exceeds what the fit predicts, it is learned as a sample (a link that
   * dropped from 3G to NB-IoT under a request otherwise teaches nothing, and the next calls would pay
   * the deadline again), and a probe goes out at the next call to measure the link.
   */
  private learnTimeout(bytes: number, lowerBoundMs: number): void {
    const now = this.clock.now();
    if (!(lowerBoundMs > this.estimators.link.predict(bytes, now))) return;
    this.estimators.observeProbe(lowerBoundMs, now, bytes);
    this.reprobe = true;
  }

  /**
   * A light probe's time, of which up to `heldMs` may have been a wait for device work: the link
   * learns the rest (a lower bound, which the next cloud requests correct if it is too low).
   */
  private observeHeldProbe(ms: number, heldMs: number): boolean {
    return ms - heldMs > 0 && this.estimators.observeProbe(ms - heldMs, this.clock.now(), 0);
  }

  /** Counts requests in flight to a point (`delta` +1 at send, -1 at the answer); true when another was in flight before this one. */
  private countSend(point: number, delta: 1 | -1): boolean {
    const before = this.sending.get(point) ?? 0;
    this.sending.set(point, Math.max(0, before + delta));
    return before > 0;
  }

  /** Feeds one successful exchange to the estimators; warns about timings it did not believe. */
  private learn(
    sent: SendResult,
    point: number,
    idleMs: number,
    referenceCloudMs: number,
    heldMs: number,
    concurrent: boolean,
  ): void {
    const bad = this.estimators.observe(
      {
        point,
        bytes: sent.bytesSent ?? sent.bytes,
        ...(sent.ttfbMs !== undefined ? { ttfbMs: sent.ttfbMs } : {}),
        totalMs: sent.totalMs,
        serverMs: sent.serverMs,
        coldStart: sent.response.coldStart,
        initMs: sent.response.initMs,
        idleMs,
        referenceCloudMs,
        ...(sent.timingsPlausible === false ? { timingsPlausible: false } : {}),
        // device work overlapped the request: its wall time may also hold a wait for the CPU
        ...(heldMs > 0 ? { deviceHeldMs: heldMs } : {}),
        ...(concurrent ? { concurrent: true } : {}),
      },
      this.clock.now(),
    );
    if (bad.length > 0) {
      this.o.warn(
        `point ${point}: not learning implausible ${bad.join(', ')} (serverMs ${sent.serverMs}, initMs ${sent.response.initMs})`,
      );
    }
  }

  /**
   * Checks a cloud answer against the request and the model; returns the logits. The built-in
   * transports already refuse such answers in `parseCloudResponse` (from `send`'s `expect`);
   * this holds an injected {@link Transport} to the same rules.
   */
  private checkResponse(sent: SendResult, N: number, classes: number): Float32Array {
    const { response } = sent;
    const { hash } = this.model.manifest;
    if (response.modelHash !== hash) {
      throw new TransportError(
        ErrorCodes.MODEL_MISMATCH,
        `the function runs model ${response.modelHash || '(none reported)'}, this device ${hash}`,
        { retryable: false },
      );
    }
    if (response.logits.length !== N || response.logits.some((row) => row.length !== classes)) {
      throw new TransportError(
        ErrorCodes.CLOUD_ERROR,
        `the function returned ${response.logits.length} x ${response.logits[0]?.length ?? 0} logits, expected ${N} x ${classes}`,
        { retryable: false },
      );
    }
    const flat = response.logits.flat();
    if (!flat.every((v) => Number.isFinite(v) && Math.abs(v) <= FLOAT32_MAX)) {
      throw new TransportError(
        ErrorCodes.CLOUD_ERROR,
        'the function returned logits that are not finite float32 values',
        {
          retryable: false,
        },
      );
    }
    return Float32Array.from(flat);
  }

  /**
   * A cloud point to probe: the planned one, else the best cloud alternative, else any usable one;
   * with `warmOnly`, only a function that is probably warm (a probe that invokes a cold function
   * would time its cold start, not the link).
   */
  private probePoint(plan: PlanResult, warmOnly = false): number | undefined {
    const t = this.transport;
    if (!t) return undefined;
    const now = this.clock.now();
    const usable = (p: number) =>
      t.points.includes(p) &&
      this.estimators.breaker(p).available(now) &&
      // a function still starting for a warm-up would start a second instance for the probe
      (!warmOnly || (this.estimators.coldProbability(p, now) < 0.5 && !this.warming.has(p)));
    for (const o of [plan, ...plan.alternatives]) {
      if (o.decision.kind !== 'edge-only' && usable(o.decision.point)) return o.decision.point;
    }
    return t.points.find(usable);
  }

  /**
   * Bounded exploration (see {@link ExploreOptions}): after a change of the link, after an idle gap that
   * the link was not measured in, again after a probe that gave no sample (twice in a row at most), or
   * when the link has not been measured (or not with two sizes) for `intervalMs`, one probe in the
   * background, whose answer the next call waits for (`explore.waitMs`). `idleBeforeMs`: how long the
   * client was idle before the call that explores.
   */
  private explore(plan: PlanResult, idleBeforeMs: number): ExploreInfo | undefined {
    const ex = this.o.explore;
    const t = this.transport;
    if (!ex || !t || this.probeJob || this.closed) return undefined;
    const now = this.clock.now();
    const link = this.estimators.link;
    this.callsSinceExplore++;
    const newest = link.newestAt();
    // after an idle gap in which the link may have changed, one probe at once (unless a sample came since)
    const afterGap = idleBeforeMs >= link.staleAfterMs && (newest === undefined || now - newest >= idleBeforeMs);
    // a change of the link earns a probe at once, but not more often than every few calls (jitter
    // beyond the fit's tolerance must not turn into a probe per request)
    const changed = (link.takeChange() && this.callsSinceExplore >= CHANGE_PROBE_MIN_CALLS) || this.reprobe || afterGap;
    // a fit of fewer than 3 live samples moves with any one of them (a single slow answer can make
    // the cloud look hopeless, and then no call measures it again): it earns probes 4x as often
    // (a few times: where every probe's answer is discarded or the cloud is out of reach, more would not help)
    const thinFit = link.fit(now).samples < THIN_FIT_SAMPLES;
    if (!thinFit) this.thinProbes = 0;
    const thin = thinFit && this.thinProbes < MAX_THIN_PROBES;
    const every = thin ? ex.intervalMs / 4 : ex.intervalMs;
    const due =
      now - this.lastExploreAt >= every &&
      (thin || newest === undefined || now - newest >= every || link.needsSpread(now));
    if (!changed && !due) return undefined;
    // an upload probe runs the function (it rejects the body at once): only on a warm one
    const warmPoint = t.probeUpload ? this.probePoint(plan, true) : undefined;
    const point = warmPoint ?? this.probePoint(plan);
    if (point === undefined) return undefined;
    this.lastExploreAt = now;
    if (thin) this.thinProbes++;
    this.callsSinceExplore = 0;
    // the count of empty probes in a row starts again with a probe that is not a retry
    if (!this.reprobe) this.emptyProbes = 0;
    this.reprobe = false;
    let info: ExploreInfo;
    let job: Promise<boolean>;
    if (t.probeUpload && warmPoint !== undefined) {
      const bytes = ex.uploadProbeBytes;
      info = { kind: 'upload-probe', point, bytes };
      const mark = deviceMark();
      job = t.probeUpload(point, bytes, { deadline: Date.now() + this.o.deadline.floorMs * 5 }).then((r) => {
        this.counters.probeBytes += r.bytesSent - bytes;
        // the answer may have waited for device work: the link is learned from what is left (a lower bound)
        const held = deviceHoldMs(mark);
        const ttfbMs = r.ttfbMs - held;
        if (ttfbMs > (r.serverMs ?? 0))
          return this.estimators.observeUploadProbe(point, { ...r, ttfbMs }, this.clock.now());
        this.estimators.noteActivity(point, this.clock.now());
        return false;
      });
    } else if (t.probe) {
      info = { kind: 'probe', point, bytes: 0 };
      const mark = deviceMark();
      job = t
        .probe(point, { deadline: Date.now() + this.o.deadline.floorMs * 5 })
        .then((ms) => this.observeHeldProbe(ms, deviceHoldMs(mark)));
    } else {
      info = { kind: 'warm-up', point, bytes: 0 };
      job = this.sendWarmUp(point, 'probe').then(() => true);
    }
    this.counters.probes++;
    this.counters.probeBytes += info.bytes;
    const settled = job
      .then(
        (learned) => {
          // no network sample (a new instance answered, or device work held the answer): the next
          // call probes again, a few times in a row
          if (learned) this.emptyProbes = 0;
          else if (this.emptyProbes++ < MAX_REPROBES) this.reprobe = true;
        },
        (e: unknown) => this.o.warn(`exploration probe of point ${point} failed: ${(e as Error).message}`),
      )
      .finally(() => {
        this.probeJob = undefined;
      });
    this.probeJob = settled;
    this.track(settled);
    return info;
  }

  /** Fires a background warm-up when the plan suggests one (at most one per point at a time). */
  private maybeWarm(plan: PlanResult): void {
    const w = plan.warmUp;
    if (!w || !this.transport || this.warming.has(w.point) || this.closed) return;
    if (!this.estimators.breaker(w.point).available(this.clock.now())) return;
    const p = this.warmUp(w.point)
      .catch((e: unknown) => this.o.warn(`warm-up of point ${w.point} failed: ${(e as Error).message}`))
      .finally(() => this.warming.delete(w.point));
    this.warming.set(w.point, p);
  }

  /**
   * Sends a tiny valid request (zeros, one kept position, 1 bit) to the function of `point` so that it
   * is warm for the next requests, and learns from its answer (cold-start flag, init time, network
   * time). A failure counts for the function's circuit breaker. Resolves when it answered.
   *
   * @example
   * await client.warmUp(2)
   */
  async warmUp(point: number): Promise<void> {
    return this.sendWarmUp(point, 'warm-up');
  }

  private async sendWarmUp(point: number, purpose: 'warm-up' | 'probe'): Promise<void> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'client is closed');
    if (!this.transport?.points.includes(point)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `no endpoint for point ${point}`, { point });
    }
    const { manifest } = this.model;
    const model = { id: manifest.id, hash: manifest.hash };
    let payload: Uint8Array;
    if (point === 0) {
      const [c, h, w] = manifest.input.sourceShape;
      payload = encodeRaw(new Uint8Array(c * h * w), [c, h, w], 1, { model, format: 'raw' });
    } else {
      const v = manifest.variants[0];
      if (!v) throw new JmdcError(ErrorCodes.INTERNAL, 'model has no variant');
      const dims = featureDims(v, point);
      payload = encodeFeatures(
        {
          dims,
          batch: 1,
          features: new Float32Array(dims[0] * dims[1] * dims[2]),
          attention: new Float32Array(dims[1] * dims[2]),
        },
        { model, point, variant: v.pruneRatio, keepCount: 1, bits: 1, coder: 'none' },
      );
    }
    if (purpose === 'warm-up') {
      this.counters.warmUps++;
      this.counters.warmUpBytes += payload.byteLength;
    } else this.counters.probeBytes += payload.byteLength;
    const idleMs = this.estimators.noteSend(point, this.clock.now());
    const breaker = this.estimators.breaker(point);
    const floor = this.o.deadline.fixedMs ?? this.o.deadline.floorMs;
    const budget = Math.max(
      floor,
      this.o.deadline.factor * (this.estimators.initMs(point) + this.estimators.rttMs(this.clock.now())),
    );
    let sent: SendResult;
    const mark = deviceMark();
    const concurrent = this.countSend(point, +1);
    try {
      sent = await this.transport
        .send(point, payload, {
          deadline: Date.now() + budget,
          expect: { batch: 1, classes: manifest.classes.length, modelHash: manifest.hash },
        })
        .finally(() => this.countSend(point, -1));
    } catch (e) {
      if (!isJmdcError(e, ErrorCodes.ABORTED)) breaker.failure(this.clock.now(), isJmdcError(e) ? e.code : undefined);
      throw e;
    }
    this.exchanges++;
    breaker.success();
    this.learn(sent, point, idleMs, 0, deviceHoldMs(mark), concurrent);
  }

  /**
   * Measures the head of every variant up to every point, every whole network and the client's own
   * work per request (signing, checking the answer, the raw formats and the feature coders of the
   * profile's rows: see {@link deviceWork}) on this device (batch 1; warm-up rounds, then interleaved timed rounds until the medians are stable, spreads
   * reported; measured again when the timings contradict each other, and rejected with
   * `JMDC_ERR_CALIBRATION_INCONSISTENT` when they still do: see {@link measureHeads}), uses the
   * result for planning and stores it in the state file.
   *
   * @example
   * const cal = await client.calibrate({ repetitions: 7, onProgress: (d, t) => console.error(`${d}/${t}`) })
   * cal.headMs.r000 // ms per point
   */
  async calibrate(opts: CalibrateOptions = {}): Promise<DeviceCalibration> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'client is closed');
    const work = deviceWork(this.model.manifest, this.profile.rows);
    const cal = await this.edge.run(() =>
      asDeviceWork(() => measureHeads(this.runner, { threads: this.o.threads, work, ...opts })),
    );
    this.calibration = cal;
    this.planner.setCalibration(cal);
    this.estimators.resetDeviceScale();
    await this.saveState();
    return cal;
  }

  /** The calibration in use (from `calibrate()` or the state file), if any. */
  getCalibration(): DeviceCalibration | undefined {
    return this.calibration;
  }

  private snapshot() {
    return {
      ...(this.calibration ? { calibration: this.calibration } : {}),
      estimators: this.estimators.toState(),
    };
  }

  /**
   * Writes the calibration and the live estimates to the state file now (atomically).
   *
   * @example
   * await client.saveState()
   */
  async saveState(): Promise<void> {
    await this.store.save(this.snapshot());
  }

  /**
   * Resolves when the exploration probe in flight (if any) has been answered and learned from, or after
   * `timeoutMs`. An app that runs other heavy work on the device between calls can wait for it first:
   * device work would hold the probe's answer, which then times the device, not the link.
   *
   * @example
   * const r = await client.classify(img)
   * if (r.explored) await client.probeSettled()
   */
  async probeSettled(timeoutMs = 5000): Promise<void> {
    if (this.probeJob) await settledWithin(this.probeJob, timeoutMs);
  }

  /**
   * Waits for the calls in flight and the background probes and warm-ups, saves the state, closes
   * connections and inference sessions. Later calls throw `JMDC_ERR_CLOSED`.
   *
   * @example
   * process.on('SIGTERM', () => client.close())
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.inFlight > 0) await new Promise<void>((r) => this.drained.push(r));
    await Promise.allSettled([...this.warming.values(), ...this.background]);
    await this.store.flush();
    try {
      await this.saveState();
    } catch (e) {
      this.o.warn(`cannot save state to ${this.store.path}: ${(e as Error).message}`);
    }
    if (this.ownTransport) await this.transport?.close();
    await this.runner.close();
  }
}
