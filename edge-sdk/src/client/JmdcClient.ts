import { performance } from 'node:perf_hooks';
import { DEFAULT_LIMITS, encodeFeatures, encodeRaw } from '../codec/index.js';
import type { CoderId, RawFormat } from '../codec/types.js';
import { type ErrorCode, ErrorCodes, isJmdcError, JmdcError, TransportError } from '../errors.js';
import { LiveEstimators } from '../estimators/LiveEstimators.js';
import { defaultStatePath, type EdgeState, readState, STATE_VERSION, writeState } from '../estimators/stateFile.js';
import type { InferenceBackend } from '../model/backend.js';
import { featureDims, loadModel } from '../model/manifest.js';
import { preprocess } from '../model/preprocess.js';
import { argmaxRows, type HeadOutput, ModelRunner, softmaxRows } from '../model/runner.js';
import type { LoadedModel } from '../model/types.js';
import { Planner } from '../planner/planner.js';
import { loadProfile, normalizeProfile } from '../profile/loadProfile.js';
import type { DeviceCalibration, NormalizedProfile } from '../profile/types.js';
import { resolveEndpoints } from '../transport/endpoints.js';
import { InvokeTransport } from '../transport/InvokeTransport.js';
import type { SendResult, Transport } from '../transport/types.js';
import { UrlTransport } from '../transport/UrlTransport.js';
import type { ClassifyOptions, ClassifyResult, FallbackReason, ImageInput } from '../types/classify.js';
import type { Objective, PlanConditions, PlanResult } from '../types/plan.js';
import { type CalibrateOptions, measureHeads } from './calibrate.js';
import { type ImageBatch, toImageBatch } from './input.js';
import type { Clock, JmdcClientOptions } from './options.js';

const RAW_FORMATS: ReadonlySet<string> = new Set(['raw', 'png', 'deflate']);
const FEATURE_CODERS: ReadonlySet<string> = new Set(['none', 'deflate', 'brotli', 'rans', 'auto']);

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

/**
 * The edge SDK: classifies images by running the head of a (pruned) network on this device,
 * compressing the intermediate features and finishing in the Lambda of the chosen partition point —
 * or entirely on the device, or by uploading the raw image — whichever the planner expects to be
 * best under the objective, the live network/cloud measurements and this device's speed. Every
 * classify returns a result or throws a typed {@link JmdcError}; when the cloud fails or the
 * deadline would be missed, the inference is finished on the device and the result says so.
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
  private readonly clock: Clock;
  private readonly warn: (m: string) => void;
  private readonly statePath: string | undefined;
  private readonly persistIntervalMs: number;
  private readonly deadlineMs: number;
  private readonly warmUpEnabled: boolean;
  private readonly maxBatch: number;
  private readonly threads: number;
  private readonly edge = new Serial();
  private readonly warming = new Map<number, Promise<void>>();
  private calibration: DeviceCalibration | undefined;
  private inFlight = 0;
  private drained: Array<() => void> = [];
  private closed = false;
  private lastSave = 0;
  private saving: Promise<void> | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private lastCloudAt = 0;

  private constructor(parts: {
    model: LoadedModel;
    profile: NormalizedProfile;
    planner: Planner;
    estimators: LiveEstimators;
    runner: ModelRunner;
    transport: Transport | undefined;
    ownTransport: boolean;
    clock: Clock;
    warn: (m: string) => void;
    statePath: string | undefined;
    calibration: DeviceCalibration | undefined;
    opts: JmdcClientOptions;
  }) {
    this.model = parts.model;
    this.profile = parts.profile;
    this.planner = parts.planner;
    this.estimators = parts.estimators;
    this.runner = parts.runner;
    this.transport = parts.transport;
    this.ownTransport = parts.ownTransport;
    this.clock = parts.clock;
    this.warn = parts.warn;
    this.statePath = parts.statePath;
    this.calibration = parts.calibration;
    const o = parts.opts;
    this.persistIntervalMs = o.persistIntervalMs ?? 60_000;
    this.deadlineMs = o.timeouts?.deadlineMs ?? 10_000;
    this.warmUpEnabled = o.warmUp ?? true;
    this.maxBatch = DEFAULT_LIMITS.maxBatch;
    this.threads = o.threads ?? 0;
    this.lastSave = this.clock.now();
  }

  /**
   * Loads the model's manifest and profile, resolves the endpoints, restores the state file and
   * validates every option. Throws `JMDC_ERR_MODEL_NOT_FOUND`, `JMDC_ERR_PROFILE_NOT_FOUND` /
   * `_INVALID`, `JMDC_ERR_INVALID_ARGUMENT`, or `JMDC_ERR_NO_PLAN` when no setting reaches the
   * objective's accuracy floor.
   *
   * @example
   * const client = await JmdcClient.create({ model: 'fmnist-vgg16', endpoints: { localCloudUrl: 'http://127.0.0.1:9000' } })
   */
  static async create(opts: JmdcClientOptions): Promise<JmdcClient> {
    if (typeof opts !== 'object' || opts === null) throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'options required');
    const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'JMDC_WARNING' }));
    const clock = opts.clock ?? { now: () => Date.now() };
    const threads = opts.threads ?? 0;
    if (!Number.isInteger(threads) || threads < 0 || threads > 256) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `threads must be an integer >= 0, got ${threads}`);
    }
    for (const [k, v] of Object.entries(opts.timeouts ?? {})) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
        throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `timeouts.${k} must be a positive number`);
      }
    }
    const model = loadModel(opts.model);
    const { manifest } = model;
    const P = manifest.points.length;
    let profile: NormalizedProfile;
    if (opts.profile === undefined || typeof opts.profile === 'string') {
      profile = loadProfile(opts.profile ?? model.dir, { manifest });
    } else if ('pointCount' in opts.profile) {
      profile = opts.profile;
    } else {
      profile = normalizeProfile(opts.profile, { manifest, source: 'options.profile' });
    }

    // where the cloud is
    let transport: Transport | undefined;
    let region = opts.region;
    if (typeof opts.transport === 'object' && opts.transport !== null) {
      transport = opts.transport;
    } else if (opts.endpoints !== undefined) {
      const ep = resolveEndpoints(opts.endpoints, { model: manifest.id, modelHash: manifest.hash, pointCount: P });
      ep.warnings.forEach(warn);
      region ??= ep.region;
      const kind = opts.transport ?? 'url';
      const timeouts = opts.timeouts ?? {};
      if (kind === 'url') {
        const urls: Record<number, string> = {};
        for (const [p, e] of ep.points) if (e.url) urls[p] = e.url;
        transport = new UrlTransport({
          urls,
          ...(region ? { region } : {}),
          ...(opts.credentials ? { credentials: opts.credentials } : {}),
          signing: opts.signing ?? !ep.local,
          local: ep.local,
          timeouts,
          ...(opts.retry ? { retry: opts.retry } : {}),
        });
      } else if (kind === 'invoke') {
        const functions: Record<number, string> = {};
        for (const [p, e] of ep.points) if (e.functionName) functions[p] = e.functionName;
        transport = new InvokeTransport({
          functions,
          ...(opts.lambdaClient ? { client: opts.lambdaClient } : {}),
          ...(region ? { region } : {}),
          ...(opts.credentials ? { credentials: opts.credentials } : {}),
          ...(ep.localCloudUrl ? { endpoint: ep.localCloudUrl } : {}),
          timeouts,
          ...(opts.retry ? { retry: opts.retry } : {}),
        });
      } else {
        throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `transport must be 'url', 'invoke' or a Transport`);
      }
    }

    // what a previous run learned
    const statePath = opts.stateFile === false ? undefined : (opts.stateFile ?? defaultStatePath(manifest.id));
    let state: EdgeState | undefined;
    if (statePath) {
      const r = readState(statePath, { model: manifest.id, modelHash: manifest.hash });
      r.warnings.forEach(warn);
      state = r.state;
    }
    const estimators = new LiveEstimators(
      { pointCount: P, ...(opts.priors ? { priors: opts.priors } : {}) },
      state?.estimators,
    );
    const planner = new Planner(profile, {
      ...(opts.objective ? { objective: opts.objective } : {}),
      ...(state?.calibration ? { calibration: state.calibration } : {}),
      ...(opts.pricing ? { pricing: opts.pricing } : {}),
      ...(opts.costWeight !== undefined ? { costWeight: opts.costWeight } : {}),
      ...(opts.alternatives !== undefined ? { alternatives: opts.alternatives } : {}),
      cloudPoints: (transport?.points ?? []).filter((p) => p >= 0 && p <= P),
    });
    planner.assertFeasible();

    let backend: InferenceBackend | undefined = opts.backend;
    if (!backend) {
      const { OrtBackend } = await import('../runtime/index.js');
      backend = new OrtBackend({ intraOpThreads: threads });
    }
    const runner = new ModelRunner(model, backend);
    const client = new JmdcClient({
      model,
      profile,
      planner,
      estimators,
      runner,
      transport,
      ownTransport: transport !== undefined && typeof opts.transport !== 'object',
      clock,
      warn,
      statePath,
      calibration: state?.calibration,
      opts,
    });
    if (client.warmUpEnabled) client.maybeWarm(client.plan());
    const probeEvery = opts.probeIntervalMs ?? 0;
    if (!(Number.isFinite(probeEvery) && probeEvery >= 0)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'probeIntervalMs must be >= 0');
    }
    if (probeEvery > 0 && transport?.probe) client.startProbes(probeEvery);
    return client;
  }

  private startProbes(everyMs: number): void {
    this.probeTimer = setInterval(() => {
      const t = this.transport;
      if (this.closed || !t?.probe || t.points.length === 0 || Date.now() - this.lastCloudAt < everyMs) return;
      const planned = this.plan().decision.point;
      const point = t.points.includes(planned) ? planned : (t.points[0] as number);
      this.lastCloudAt = Date.now();
      t.probe(point, { signal: AbortSignal.timeout(everyMs) }).then(
        (ms) => this.estimators.observeProbe(ms),
        () => {},
      );
    }, everyMs);
    this.probeTimer.unref();
  }

  /** The objective in use. */
  get objective(): Objective {
    return this.planner.getObjective();
  }

  /** The current estimates (bandwidth, RTT, P(cold) and init cost per point, cloud speed). */
  conditions(batch = 1): PlanConditions {
    return this.estimators.conditions(this.clock.now(), batch);
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
    const input = toImageBatch(images, this.model.manifest, this.maxBatch);
    const budget = opts.deadlineMs ?? this.deadlineMs;
    if (!(Number.isFinite(budget) && budget > 0)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `deadlineMs must be a positive number, got ${budget}`);
    }
    if (opts.signal?.aborted) throw new JmdcError(ErrorCodes.ABORTED, 'aborted before start');
    this.inFlight++;
    try {
      return await this.run(input, budget, opts);
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

  private async run(input: ImageBatch, budget: number, opts: ClassifyOptions): Promise<ClassifyResult> {
    const t0 = performance.now();
    const deadline = Date.now() + budget;
    const { manifest } = this.model;
    const N = input.batch;
    const plan = this.planner.plan(
      this.estimators.conditions(this.clock.now(), N),
      opts.objective ?? this.planner.getObjective(),
    );
    const { decision, predicted } = plan;
    const classes = manifest.classes.length;
    let edgeMs = 0;
    let encodeMs = 0;
    let logits: Float32Array;
    let sent: SendResult | undefined;
    let fallback: ClassifyResult['fallback'] = false;
    let bytesSent = 0;
    const onDevice = async <T>(fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await this.edge.run(fn);
      } finally {
        edgeMs += performance.now() - t;
      }
    };
    const normalized = () => preprocess(manifest, input.pixels, N);

    if (decision.kind === 'edge-only') {
      logits = await onDevice(() => this.runner.full(decision.variant, normalized(), N));
    } else {
      let head: HeadOutput | undefined;
      let payload: Uint8Array;
      const te = performance.now();
      if (decision.kind === 'split') {
        head = await onDevice(() => this.runner.head(decision.variant, decision.point, normalized(), N));
        const t = performance.now();
        payload = encodeFeatures(
          { dims: head.dims, batch: N, features: head.features, attention: head.attention },
          {
            model: { id: manifest.id, hash: manifest.hash },
            point: decision.point,
            variant: decision.variant,
            keep: decision.keep,
            bits: decision.bits,
            coder: (FEATURE_CODERS.has(decision.coder) ? decision.coder : 'auto') as CoderId | 'auto',
            quantScope: decision.quantScope ?? 'channel',
          },
        );
        encodeMs = performance.now() - t;
      } else {
        payload = encodeRaw(input.pixels, input.dims, N, {
          model: { id: manifest.id, hash: manifest.hash },
          format: (RAW_FORMATS.has(decision.coder) ? decision.coder : 'png') as RawFormat,
        });
        encodeMs = performance.now() - te;
      }
      const finishLocally = async (code: ErrorCode, message: string): Promise<Float32Array> => {
        fallback = { reason: reasonFor(code), code, message };
        if (head) {
          const h = head;
          return onDevice(() => this.runner.tail(decision.variant, decision.point, h.features, N));
        }
        return onDevice(() => this.runner.full(decision.variant, normalized(), N));
      };
      const cloudPart = predicted.uploadMs + predicted.rttMs + predicted.cloudMs + predicted.coldMs;
      const remaining = deadline - Date.now();
      if (cloudPart > remaining) {
        logits = await finishLocally(
          ErrorCodes.DEADLINE,
          `the cloud part (${cloudPart.toFixed(1)} ms predicted) would miss the deadline (${remaining.toFixed(1)} ms left)`,
        );
      } else {
        const point = decision.point;
        const idleMs = this.estimators.noteSend(point, this.clock.now());
        this.lastCloudAt = Date.now();
        try {
          sent = await (this.transport as Transport).send(point, payload, {
            deadline,
            ...(opts.signal ? { signal: opts.signal } : {}),
          });
          bytesSent = payload.byteLength;
          logits = this.checkResponse(sent, N, classes);
          const row = this.planner.indexOf(decision);
          this.estimators.observe(
            {
              point,
              bytes: payload.byteLength,
              uploadMs: sent.uploadMs,
              uploadMeasured: sent.uploadMeasured,
              totalMs: sent.totalMs,
              serverMs: sent.serverMs,
              coldStart: sent.response.coldStart,
              initMs: sent.response.initMs,
              idleMs,
              referenceCloudMs: row >= 0 ? N * this.planner.referenceCloudMs(row) : 0,
            },
            this.clock.now(),
          );
        } catch (e) {
          if (isJmdcError(e, ErrorCodes.ABORTED)) throw e;
          // the function answered (an HTTP status): it is warm now
          if (e instanceof TransportError && e.status !== undefined)
            this.estimators.noteActivity(point, this.clock.now());
          bytesSent = payload.byteLength;
          sent = undefined;
          const code = isJmdcError(e) ? e.code : ErrorCodes.CLOUD_ERROR;
          logits = await finishLocally(code, (e as Error)?.message ?? String(e));
        }
      }
    }
    const result: ClassifyResult = {
      classes: argmaxRows(logits, classes),
      probabilities: softmaxRows(logits, classes),
      decision,
      predicted,
      timings: {
        edgeMs,
        encodeMs,
        uploadMs: sent?.uploadMs ?? 0,
        cloudMs: sent?.serverMs ?? 0,
        totalMs: performance.now() - t0,
      },
      bytesSent,
      coldStart: sent?.response.coldStart ?? false,
      fallback,
      attempts: sent?.attempts ?? (bytesSent > 0 ? 1 : 0),
    };
    if (this.warmUpEnabled && !this.closed) this.maybeWarm(this.plan({ batch: N }));
    this.maybeSave();
    return result;
  }

  /** Checks a cloud answer against the request and the model; returns the logits. */
  private checkResponse(sent: SendResult, N: number, classes: number): Float32Array {
    const { response } = sent;
    const { hash } = this.model.manifest;
    if (response.modelHash && response.modelHash !== hash) {
      throw new TransportError(
        ErrorCodes.MODEL_MISMATCH,
        `the function runs model ${response.modelHash}, this device ${hash}`,
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
    return Float32Array.from(response.logits.flat());
  }

  /** Fires a background warm-up when the plan suggests one (at most one per point at a time). */
  private maybeWarm(plan: PlanResult): void {
    const w = plan.warmUp;
    if (!w || !this.transport || this.warming.has(w.point) || this.closed) return;
    const p = this.warmUp(w.point)
      .catch((e: unknown) => this.warn(`warm-up of point ${w.point} failed: ${(e as Error).message}`))
      .finally(() => this.warming.delete(w.point));
    this.warming.set(w.point, p);
  }

  /**
   * Sends a tiny valid request (zeros, one kept position, 1 bit) to the function of `point` so that it
   * is warm for the next requests, and learns from its cold-start flag. Resolves when it answered.
   *
   * @example
   * await client.warmUp(2)
   */
  async warmUp(point: number): Promise<void> {
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
    const idleMs = this.estimators.noteSend(point, this.clock.now());
    const sent = await this.transport.send(point, payload, { deadline: Date.now() + this.deadlineMs });
    this.estimators.observe(
      {
        point,
        bytes: payload.byteLength,
        uploadMs: sent.uploadMs,
        uploadMeasured: false,
        totalMs: sent.totalMs,
        serverMs: sent.serverMs,
        coldStart: sent.response.coldStart,
        initMs: sent.response.initMs,
        idleMs,
        referenceCloudMs: 0,
      },
      this.clock.now(),
    );
  }

  /**
   * Measures the head of every variant up to every point, and every whole network, on this device
   * (batch 1, median of `repetitions` after a warm-up run), uses the result for planning and stores
   * it in the state file.
   *
   * @example
   * const cal = await client.calibrate({ repetitions: 7, onProgress: (d, t) => console.error(`${d}/${t}`) })
   * cal.headMs.r000 // ms per point
   */
  async calibrate(opts: CalibrateOptions = {}): Promise<DeviceCalibration> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'client is closed');
    const cal = await this.edge.run(() => measureHeads(this.runner, { threads: this.threads, ...opts }));
    this.calibration = cal;
    this.planner.setCalibration(cal);
    await this.saveState();
    return cal;
  }

  /** The calibration in use (from `calibrate()` or the state file), if any. */
  getCalibration(): DeviceCalibration | undefined {
    return this.calibration;
  }

  private maybeSave(): void {
    if (!this.statePath || this.saving) return;
    if (this.clock.now() - this.lastSave < this.persistIntervalMs) return;
    this.saving = this.saveState()
      .catch((e: unknown) => this.warn(`cannot save state to ${this.statePath}: ${(e as Error).message}`))
      .finally(() => {
        this.saving = undefined;
      });
  }

  /**
   * Writes the calibration and the live estimates to the state file now (atomically).
   *
   * @example
   * await client.saveState()
   */
  async saveState(): Promise<void> {
    if (!this.statePath) return;
    this.lastSave = this.clock.now();
    const { manifest } = this.model;
    await writeState(this.statePath, {
      version: STATE_VERSION,
      model: manifest.id,
      modelHash: manifest.hash,
      savedAt: this.lastSave,
      ...(this.calibration ? { calibration: this.calibration } : {}),
      estimators: this.estimators.toState(),
    });
  }

  /**
   * Waits for the calls in flight, saves the state, closes connections and inference sessions.
   * Later calls throw `JMDC_ERR_CLOSED`.
   *
   * @example
   * process.on('SIGTERM', () => client.close())
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.inFlight > 0) await new Promise<void>((r) => this.drained.push(r));
    await Promise.allSettled([...this.warming.values()]);
    await this.saving;
    try {
      await this.saveState();
    } catch (e) {
      this.warn(`cannot save state to ${this.statePath}: ${(e as Error).message}`);
    }
    if (this.ownTransport) await this.transport?.close();
    await this.runner.close();
  }
}
