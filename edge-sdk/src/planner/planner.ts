/**
 * The planner: an exhaustive search over the profile's rows. The grid is small (hundreds of rows), so
 * enumerating it is exact — the same answer as JMDC's integer program — and takes microseconds.
 * It imports no inference runtime.
 */

import { ErrorCodes, JmdcError } from '../errors.js';
import type { DeviceCalibration, LinearCost, NormalizedProfile, PlanRow } from '../profile/types.js';
import type { Decision, Objective, PlanConditions, PlanOption, PlanResult, Prediction } from '../types/plan.js';
import { describeValue } from '../util/describeValue.js';
import { median } from '../util/median.js';
import { batchCost, batchShares, linearMs, requestCost, rowEncodeMs } from './deviceCosts.js';
import { DEFAULT_PRICING, type LambdaPricing, lambdaCostUsd } from './pricing.js';

/**
 * Options of {@link Planner}.
 *
 * @example
 * new Planner(profile, { objective: { maximize: 'accuracy', maxLatencyMs: 100 }, costWeight: 1e6, cloudPoints: [0, 2] })
 */
export interface PlannerOptions {
  /** @default { minimize: 'latency' } (floor: the full model's validation accuracy - 1 point) */
  objective?: Objective;
  /** Head times measured on this device; without it the profile's reference timings are used. */
  calibration?: DeviceCalibration;
  /** Lambda prices. @default DEFAULT_PRICING (arm64, 2048 MB) */
  pricing?: Partial<LambdaPricing>;
  /**
   * Milliseconds that one US dollar per request is worth in the score (score = latency + costWeight x
   * USD). 1e6 makes $0.000001 per request weigh as much as 1 ms. @default 0 (cost is reported only)
   */
  costWeight?: number;
  /** How many next-best options to return. @default 3 */
  alternatives?: number;
  /** A probably-cold point is suggested for warm-up when P(cold) is at least this. @default 0.5 */
  warmThreshold?: number;
  /** Points that have a cloud endpoint (0 = cloud-only); rows at other points are skipped. @default all */
  cloudPoints?: readonly number[];
}

const EDGE = 0;
const CLOUD = 1;

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, message, details);
}

/**
 * The default accuracy margin of `minimize: 'latency'`: the floor is the full model's validation
 * accuracy minus this (1 point), capped at the best accuracy a usable row reaches.
 *
 * @example
 * defaultMinAccuracy(profile) // profile.fullModel.val - 0.01
 */
export const DEFAULT_ACCURACY_MARGIN = 0.01;

/**
 * The accuracy floor used when a `minimize: 'latency'` objective gives none: the full model's
 * validation accuracy minus {@link DEFAULT_ACCURACY_MARGIN}.
 *
 * @example
 * new Planner(profile).plan(c).predicted.accuracy >= defaultMinAccuracy(profile) // true
 */
export function defaultMinAccuracy(profile: Pick<NormalizedProfile, 'fullModel'>): number {
  return Math.max(0, profile.fullModel.val - DEFAULT_ACCURACY_MARGIN);
}

const OBJECTIVE_KEYS: Record<string, readonly string[]> = {
  minimize: ['minimize', 'minAccuracy'],
  maximize: ['maximize', 'maxLatencyMs', 'minAccuracy'],
};

/**
 * Validates an objective once, at the boundary: the right fields for its kind and nothing else.
 *
 * @example
 * validateObjective({ minimize: 'latency', minAccuracy: 0.9 })
 */
export function validateObjective(o: Objective, where = 'objective'): Objective {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    invalid(
      `${where} must be { minimize: 'latency', minAccuracy? } or { maximize: 'accuracy', maxLatencyMs, minAccuracy? }`,
    );
  }
  const rec = o as unknown as Record<string, unknown>;
  const kind = 'maximize' in rec ? 'maximize' : 'minimize';
  const known = OBJECTIVE_KEYS[kind] as readonly string[];
  const unknown = Object.keys(rec).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    invalid(
      `${where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} for a ${
        kind === 'maximize' ? "{ maximize: 'accuracy' }" : "{ minimize: 'latency' }"
      } objective (known: ${known.join(', ')})`,
    );
  }
  if (
    rec.minAccuracy !== undefined &&
    !(typeof rec.minAccuracy === 'number' && rec.minAccuracy >= 0 && rec.minAccuracy <= 1)
  ) {
    invalid(`${where}.minAccuracy must be a number in [0, 1], got ${describeValue(rec.minAccuracy)}`);
  }
  if (kind === 'maximize') {
    if (rec.maximize !== 'accuracy')
      invalid(`${where}.maximize must be 'accuracy', got ${describeValue(rec.maximize)}`);
    if (!(typeof rec.maxLatencyMs === 'number' && Number.isFinite(rec.maxLatencyMs) && rec.maxLatencyMs > 0)) {
      invalid(`${where}.maxLatencyMs must be a positive number, got ${describeValue(rec.maxLatencyMs)}`);
    }
  } else if (rec.minimize !== 'latency') {
    invalid(
      `${where} must be { minimize: 'latency', minAccuracy? } or { maximize: 'accuracy', maxLatencyMs, minAccuracy? }`,
    );
  }
  return o;
}

function perPoint(v: number | readonly number[] | undefined, p: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number') return v;
  return v[p] ?? dflt;
}

/**
 * Picks the partition point, pruning level, kept ratio, bits and coder for each request.
 *
 * Expected latency of a row for a batch of N images (one formula, {@link Planner.predict}):
 * head(N) + N x encode + request + N x bytes / bandwidth + RTT + N x cloud tail x scale(p) + P(cold, p) x init(p);
 * edge-only rows cost whole(N), the whole network on the device, nothing else. A run of N images on the
 * device costs a fixed part plus N x a part per image, through its batch-1 time and its time at the
 * calibration's larger batch (`batchHeadMs`, `batchFullMs`; see {@link batchCost}); a run without the
 * latter takes its variant's share of the batch-1 time as fixed (see {@link batchShares}; 0 without
 * any), and a bottleneck's encoder always does. `encode` is the row's own
 * encoding (a cloud-only row's raw format, a split's codec by its payload size) and `request` the
 * client's work once per request (signing with the body's SHA-256, the answer): measured by
 * `calibrate`, else reference costs x the device's speed (see {@link rowEncodeMs}, {@link requestCost}). A bottleneck row's edge head
 * includes its encoder and its cloud tail its decoder. Rows at a point whose
 * function is unavailable (`conditions.available`) are skipped.
 *
 * @example
 * const planner = new Planner(loadProfile(dir, { manifest }), { objective: { minimize: 'latency', minAccuracy: 0.92 } })
 * const r = planner.plan({ uplinkMbps: 8, rttMs: 35, coldProb: [0, 0.1, 0.9], initMs: 1500 })
 * console.log(r.decision, r.predicted.totalMs)
 */
export class Planner {
  readonly profile: NormalizedProfile;
  readonly rows: readonly PlanRow[];
  private readonly objective: Objective;
  private readonly pricing: LambdaPricing;
  private readonly costWeight: number;
  private readonly alternatives: number;
  private readonly warmThreshold: number;
  private readonly n: number;
  private readonly P: number;
  private readonly kind: Uint8Array;
  private readonly point: Int32Array;
  private readonly acc: Float64Array;
  private readonly bytes: Float64Array;
  private readonly cloud1: Float64Array;
  /** Per row: the device run's part that does not grow with the batch, ms (see {@link batchCost}). */
  private readonly edgeFixed: Float64Array;
  /** Per row: the device run's part per image, ms. */
  private readonly edgePer: Float64Array;
  private readonly enc1: Float64Array;
  /** The client's work per request: fixed ms, and ms per KiB of payload. */
  private request: LinearCost = { fixedMs: 0, perKiBMs: 0 };
  private readonly enabled: Uint8Array;
  // scratch, reused by every plan() call
  private readonly coldMs: Float64Array;
  private readonly scale: Float64Array;
  /** The conditions' `deviceScale` (after `prepare`). */
  private devScale = 1;
  /** The conditions' `requestExtraMs` (after `prepare`). */
  private requestExtra = 0;
  private readonly up: Uint8Array;
  private readonly score: Float64Array;
  private readonly total: Float64Array;
  private readonly order: Int32Array;
  private calibration: DeviceCalibration | undefined;

  constructor(profile: NormalizedProfile, opts: PlannerOptions = {}) {
    this.profile = profile;
    this.rows = profile.rows;
    this.objective = validateObjective(opts.objective ?? { minimize: 'latency' });
    this.pricing = { ...DEFAULT_PRICING, ...opts.pricing };
    if (!(this.pricing.memoryMb >= 128 && this.pricing.gbSecondUsd >= 0 && this.pricing.requestUsd >= 0)) {
      invalid('pricing invalid', { pricing: this.pricing });
    }
    this.costWeight = opts.costWeight ?? 0;
    if (!(this.costWeight >= 0 && Number.isFinite(this.costWeight))) invalid('costWeight must be >= 0');
    this.alternatives = opts.alternatives ?? 3;
    if (!Number.isInteger(this.alternatives) || this.alternatives < 0) invalid('alternatives must be an integer >= 0');
    this.warmThreshold = opts.warmThreshold ?? 0.5;
    const n = profile.rows.length;
    this.n = n;
    this.P = profile.pointCount;
    this.kind = new Uint8Array(n);
    this.point = new Int32Array(n);
    this.acc = new Float64Array(n);
    this.bytes = new Float64Array(n);
    this.cloud1 = new Float64Array(n);
    this.edgeFixed = new Float64Array(n);
    this.edgePer = new Float64Array(n);
    this.enc1 = new Float64Array(n);
    this.enabled = new Uint8Array(n);
    this.coldMs = new Float64Array(this.P + 1);
    this.scale = new Float64Array(this.P + 1);
    this.up = new Uint8Array(this.P + 1);
    this.score = new Float64Array(n);
    this.total = new Float64Array(n);
    this.order = new Int32Array(this.alternatives + 1);
    const t = profile.timings;
    profile.rows.forEach((r, i) => {
      this.kind[i] = r.kind === 'edge-only' ? EDGE : CLOUD;
      this.point[i] = r.point;
      this.acc[i] = r.valAccuracy;
      this.bytes[i] = r.meanPayloadBytes;
      const tail = t.tailMs[r.variantId]?.[r.point] ?? 0;
      this.cloud1[i] = r.kind === 'edge-only' ? 0 : tail + this.decoderMs(r, tail) + t.decodeMs;
    });
    this.setCalibration(opts.calibration);
    this.setCloudPoints(opts.cloudPoints);
  }

  /**
   * The cloud time of a bottleneck row's decoder (0 for other rows): the profile's measurement, else
   * the tail time scaled by the decoder's share of MACs.
   */
  private decoderMs(r: PlanRow, tailMs: number): number {
    if (!r.bottleneckId) return 0;
    const measured = this.profile.timings.bottleneckMs?.[r.bottleneckId]?.decoderMs;
    if (measured !== undefined) return measured;
    const c = this.profile.bottlenecks?.[r.bottleneckId];
    return c && c.tailMacs > 0 ? (tailMs * c.decoderMacs) / c.tailMacs : 0;
  }

  /**
   * The device time of a bottleneck row's encoder (0 for other rows): measured by `calibrate` on this
   * device, else the profile's measurement scaled by this device's speed, else the head time on this
   * device scaled by the encoder's share of MACs.
   */
  private encoderMs(r: PlanRow, headMs: number, speed: number): number {
    if (!r.bottleneckId) return 0;
    const cal = this.calibration?.bottleneckMs?.[r.bottleneckId];
    if (cal !== undefined) return cal;
    const ref = this.profile.timings.bottleneckMs?.[r.bottleneckId]?.encoderMs;
    if (ref !== undefined) return ref * speed;
    const c = this.profile.bottlenecks?.[r.bottleneckId];
    return c && c.headMacs > 0 ? (headMs * c.encoderMacs) / c.headMacs : 0;
  }

  /**
   * Uses head times measured on this device (or, with `undefined`, the profile's reference timings).
   * A bottleneck row's head is the variant's head to the point plus the bottleneck's encoder.
   */
  setCalibration(cal: DeviceCalibration | undefined): void {
    this.calibration = cal;
    const t = this.profile.timings;
    // Entries this device did not measure are scaled by its median speed relative to the reference.
    const ratios: number[] = [];
    if (cal) {
      for (const [id, arr] of Object.entries(cal.headMs)) {
        arr.forEach((ms, i) => {
          const ref = t.headMs[id]?.[i];
          if (ref && ref > 0 && ms > 0) ratios.push(ms / ref);
        });
      }
      for (const [id, ms] of Object.entries(cal.fullMs)) {
        const ref = t.fullMs[id];
        if (ref && ref > 0 && ms > 0) ratios.push(ms / ref);
      }
    }
    const speed = ratios.length ? median(ratios) : 1;
    this.request = requestCost(cal, speed);
    const shares = batchShares(cal, [...new Set(this.rows.map((r) => r.variantId))]);
    // a run measured at the larger batch only counts with its batch-1 time from the same calibration
    const measured = (one: number | undefined, b: { batch: number } | undefined, ms: number | undefined) =>
      one !== undefined && b && ms !== undefined ? { batch: b.batch, ms } : undefined;
    this.rows.forEach((r, i) => {
      this.enc1[i] = rowEncodeMs(r, cal, t.encodeMs, speed);
      const share = shares[r.variantId] ?? 0;
      let run = { fixedMs: 0, perImageMs: 0 };
      if (r.kind === 'edge-only') {
        const one = cal?.fullMs[r.variantId];
        const at = measured(one, cal?.batchFullMs, cal?.batchFullMs?.ms[r.variantId]);
        run = batchCost(one ?? (t.fullMs[r.variantId] ?? 0) * speed, at, share);
      } else if (r.kind === 'split') {
        const one = cal?.headMs[r.variantId]?.[r.point - 1];
        const at = measured(one, cal?.batchHeadMs, cal?.batchHeadMs?.ms[r.variantId]?.[r.point - 1]);
        const head = one ?? (t.headMs[r.variantId]?.[r.point - 1] ?? 0) * speed;
        const encoder = this.encoderMs(r, head, speed);
        run = batchCost(head, at, share);
        run.fixedMs += share * encoder;
        run.perImageMs += (1 - share) * encoder;
      }
      this.edgeFixed[i] = run.fixedMs;
      this.edgePer[i] = run.perImageMs;
    });
  }

  /** The calibration in use, if any. */
  getCalibration(): DeviceCalibration | undefined {
    return this.calibration;
  }

  /** Restricts cloud rows to points that have an endpoint (`undefined` = all). */
  setCloudPoints(points: readonly number[] | undefined): void {
    const set = points ? new Set(points) : undefined;
    for (let i = 0; i < this.n; i++) {
      this.enabled[i] = this.kind[i] === EDGE || !set || set.has(this.point[i] as number) ? 1 : 0;
    }
  }

  /** The default objective (validated at construction). */
  getObjective(): Objective {
    return this.objective;
  }

  /** The best validation accuracy any usable row reaches. */
  bestAccuracy(): number {
    let best = -1;
    for (let i = 0; i < this.n; i++)
      if (this.enabled[i] && (this.acc[i] as number) > best) best = this.acc[i] as number;
    return best;
  }

  /**
   * The accuracy floor an objective applies: its `minAccuracy`; else, for `minimize: 'latency'`,
   * {@link defaultMinAccuracy} capped at {@link Planner.bestAccuracy}; else 0.
   *
   * @example
   * planner.floor({ minimize: 'latency' }) // fullModel.val - 0.01
   */
  floor(objective: Objective = this.objective): number {
    if (objective.minAccuracy !== undefined) return objective.minAccuracy;
    if ('maximize' in objective && objective.maximize === 'accuracy') return 0;
    return Math.min(defaultMinAccuracy(this.profile), this.bestAccuracy());
  }

  /**
   * Throws `JMDC_ERR_NO_PLAN` when no usable row reaches the objective's accuracy floor (which does
   * not depend on conditions, so a client checks it once at creation).
   */
  assertFeasible(objective: Objective = this.objective): void {
    const floor = this.floor(objective);
    const best = this.bestAccuracy();
    if (best < floor) {
      throw new JmdcError(
        ErrorCodes.NO_PLAN,
        `no setting reaches accuracy ${floor} (best: ${best.toFixed(4)}); lower minAccuracy`,
        { minAccuracy: floor, bestAccuracy: best },
      );
    }
  }

  private prepare(c: PlanConditions): number {
    if (typeof c !== 'object' || c === null) invalid('conditions must be an object');
    if (!(Number.isFinite(c.uplinkMbps) && c.uplinkMbps > 0)) invalid(`uplinkMbps must be > 0, got ${c.uplinkMbps}`);
    if (!(Number.isFinite(c.rttMs) && c.rttMs >= 0)) invalid(`rttMs must be >= 0, got ${c.rttMs}`);
    const batch = c.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1) invalid(`batch must be a positive integer, got ${batch}`);
    const ds = c.deviceScale ?? 1;
    if (!(Number.isFinite(ds) && ds > 0)) invalid(`deviceScale must be > 0, got ${ds}`);
    this.devScale = ds;
    const extra = c.requestExtraMs ?? 0;
    if (!Number.isFinite(extra)) invalid(`requestExtraMs must be a finite number, got ${extra}`);
    this.requestExtra = extra;
    for (let p = 0; p <= this.P; p++) {
      const pc = perPoint(c.coldProb, p, 0);
      const init = perPoint(c.initMs, p, 0);
      const s = perPoint(c.cloudScale, p, 1);
      if (!(pc >= 0 && pc <= 1)) invalid(`coldProb must be in [0, 1], got ${pc}`);
      if (!(init >= 0 && Number.isFinite(init))) invalid(`initMs must be >= 0, got ${init}`);
      if (!(s > 0 && Number.isFinite(s))) invalid(`cloudScale must be > 0, got ${s}`);
      this.coldMs[p] = pc * init;
      this.scale[p] = s;
      const a = c.available;
      this.up[p] = a === undefined || (typeof a === 'boolean' ? a : a[p] !== false) ? 1 : 0;
    }
    return batch;
  }

  /**
   * The one latency formula: the predicted cost of row `i` for a batch of `N` (after `prepare`).
   * Writes nothing; `plan`, `predict` and the alternatives all read it from here.
   */
  private cost(i: number, N: number, msPerByte: number, rtt: number): Prediction {
    const r = this.rows[i] as PlanRow;
    const ds = this.devScale;
    // the device's run of N images: its fixed part + N x its part per image
    const edgeMs = ((this.edgeFixed[i] as number) + N * (this.edgePer[i] as number)) * ds;
    if (this.kind[i] === EDGE) {
      return {
        totalMs: edgeMs,
        edgeMs,
        encodeMs: 0,
        requestMs: 0,
        uploadMs: 0,
        rttMs: 0,
        cloudMs: 0,
        coldMs: 0,
        accuracy: r.valAccuracy,
        costUsd: 0,
      };
    }
    const p = this.point[i] as number;
    const encodeMs = N * (this.enc1[i] as number) * ds;
    // once per request, whatever the batch
    const requestMs = Math.max(0, linearMs(this.request, N * (this.bytes[i] as number)) * ds + this.requestExtra);
    const uploadMs = N * (this.bytes[i] as number) * msPerByte;
    const cloudMs = N * (this.cloud1[i] as number) * (this.scale[p] as number);
    const coldMs = this.coldMs[p] as number;
    return {
      totalMs: edgeMs + encodeMs + requestMs + uploadMs + rtt + cloudMs + coldMs,
      edgeMs,
      encodeMs,
      requestMs,
      uploadMs,
      rttMs: rtt,
      cloudMs,
      coldMs,
      accuracy: r.valAccuracy,
      costUsd: lambdaCostUsd(cloudMs + coldMs, this.pricing),
    };
  }

  /**
   * The best row for `conditions` under the objective, with its predicted cost and the next best.
   * Throws `JMDC_ERR_NO_PLAN` when no row reaches the accuracy floor, `JMDC_ERR_INVALID_ARGUMENT`
   * for bad conditions.
   *
   * @example
   * const { decision, predicted, alternatives } = planner.plan({ uplinkMbps: 2, rttMs: 80, batch: 8 })
   */
  plan(conditions: PlanConditions, objective: Objective = this.objective): PlanResult {
    if (objective !== this.objective) validateObjective(objective);
    const N = this.prepare(conditions);
    const msPerByte = 8000 / (conditions.uplinkMbps * 1e6);
    const rtt = conditions.rttMs;
    const floor = this.floor(objective);
    const budget = 'maximize' in objective && objective.maximize === 'accuracy' ? objective.maxLatencyMs : Infinity;
    const w = this.costWeight;
    const usdPerMs = ((this.pricing.memoryMb / 1024) * this.pricing.gbSecondUsd) / 1000;
    const { kind, point, acc, enabled, up, score } = this;
    const total = this.total;
    let candidates = 0;
    let withinBudget = 0;
    let bestWarm = -1;
    let bestWarmScore = Infinity;
    let downOnly = false;
    for (let i = 0; i < this.n; i++) {
      if (enabled[i] && kind[i] === CLOUD && !up[point[i] as number] && (acc[i] as number) >= floor) downOnly = true;
    }
    // every row that reaches the floor needs a function that is down now: the device does what it can
    let edgeFloor = floor;
    if (downOnly) {
      let usable = false;
      for (let i = 0; i < this.n && !usable; i++) {
        usable = !!enabled[i] && (acc[i] as number) >= floor && (kind[i] === EDGE || !!up[point[i] as number]);
      }
      if (!usable) edgeFloor = 0;
    }
    for (let i = 0; i < this.n; i++) {
      const need = kind[i] === EDGE ? edgeFloor : floor;
      if (!enabled[i] || (acc[i] as number) < need || (kind[i] === CLOUD && !up[point[i] as number])) {
        score[i] = Number.NaN;
        continue;
      }
      const c = this.cost(i, N, msPerByte, rtt);
      const s = c.totalMs + w * c.costUsd;
      // the same row if its function were warm: no cold-start time, no billed init
      const warm = s - c.coldMs * (1 + w * usdPerMs);
      total[i] = c.totalMs;
      score[i] = s;
      candidates++;
      if (c.totalMs <= budget) withinBudget++;
      if (warm < bestWarmScore) {
        bestWarmScore = warm;
        bestWarm = i;
      }
    }
    if (candidates === 0) this.assertFeasible(objective);
    if (candidates === 0) throw new JmdcError(ErrorCodes.NO_PLAN, 'no usable setting', {});
    const maximize = budget !== Infinity && withinBudget > 0;
    const k = this.select(maximize ? budget : Infinity, maximize);
    const best = this.order[0] as number;
    const result: PlanResult = {
      ...this.option(best, N, msPerByte, rtt),
      alternatives: [],
      feasible: (budget === Infinity || withinBudget > 0) && edgeFloor === floor,
    };
    for (let j = 1; j < k; j++) result.alternatives.push(this.option(this.order[j] as number, N, msPerByte, rtt));
    const warmUp = this.warmHint(conditions, bestWarm, bestWarmScore, best, maximize ? budget : Infinity);
    if (warmUp) result.warmUp = warmUp;
    return result;
  }

  /**
   * A probably-cold point worth warming: for `minimize`, the row that would win if warm beats the
   * chosen one; for `maximize`, the most accurate row that would fit the budget if warm is more
   * accurate than the chosen one.
   */
  private warmHint(
    c: PlanConditions,
    bestWarm: number,
    bestWarmScore: number,
    best: number,
    budget: number,
  ): PlanResult['warmUp'] {
    const { kind, point, acc, score, coldMs } = this;
    const total = this.total;
    let target = -1;
    let gain = 0;
    if (budget === Infinity) {
      if (bestWarm < 0 || kind[bestWarm] !== CLOUD) return undefined;
      target = bestWarm;
      gain = (score[best] as number) - bestWarmScore;
    } else {
      // most accurate cloud row within the budget once warm
      for (let i = 0; i < this.n; i++) {
        if (Number.isNaN(score[i] as number) || kind[i] !== CLOUD) continue;
        const warmTotal = (total[i] as number) - (coldMs[point[i] as number] as number);
        if (warmTotal > budget) continue;
        if (target < 0 || (acc[i] as number) > (acc[target] as number)) target = i;
      }
      if (target < 0 || (acc[target] as number) <= (acc[best] as number) + 1e-12) return undefined;
      // warming saves the expected cold-start time of that row
      gain = coldMs[point[target] as number] as number;
    }
    const p = point[target] as number;
    const pc = perPoint(c.coldProb, p, 0);
    if (pc < this.warmThreshold || !(gain > 1e-9)) return undefined;
    return { point: p, coldProb: pc, gainMs: gain };
  }

  /** Fills `order` with the best rows (insertion into a K+1 list); returns how many. */
  private select(budget: number, byAccuracy: boolean): number {
    const score = this.score;
    const { acc, order } = this;
    const total = this.total;
    const cap = order.length;
    let len = 0;
    // a better than b?
    const better = (a: number, b: number): boolean => {
      if (byAccuracy) {
        const da = (acc[a] as number) - (acc[b] as number);
        if (da > 1e-12) return true;
        if (da < -1e-12) return false;
      }
      const ds = (score[a] as number) - (score[b] as number);
      if (ds !== 0) return ds < 0;
      const dacc = (acc[a] as number) - (acc[b] as number);
      if (dacc !== 0) return dacc > 0;
      return a < b;
    };
    for (let i = 0; i < this.n; i++) {
      if (Number.isNaN(score[i] as number) || (total[i] as number) > budget) continue;
      if (len === cap && !better(i, order[len - 1] as number)) continue;
      let j = len < cap ? len++ : len - 1;
      while (j > 0 && better(i, order[j - 1] as number)) {
        order[j] = order[j - 1] as number;
        j--;
      }
      order[j] = i;
    }
    return len;
  }

  private option(i: number, N: number, msPerByte: number, rtt: number): PlanOption {
    const r = this.rows[i] as PlanRow;
    const decision: Decision = {
      kind: r.kind,
      point: r.point,
      variant: r.variant,
      keep: r.keep,
      bits: r.bits,
      coder: r.coder,
      ...(r.kind === 'split' ? { quantScope: r.quantScope } : {}),
      ...(r.bottleneck ? { bottleneck: true } : {}),
    };
    return { decision, predicted: this.cost(i, N, msPerByte, rtt) };
  }

  /**
   * The predicted cost of one row (by index into `rows`) under `conditions`, whatever the objective
   * and the availability of its function.
   *
   * @example
   * const p = planner.predict(planner.rows.findIndex((r) => r.kind === 'edge-only'), { uplinkMbps: 1, rttMs: 50 })
   */
  predict(rowIndex: number, conditions: PlanConditions): Prediction {
    if (!Number.isInteger(rowIndex) || rowIndex < 0 || rowIndex >= this.n) invalid(`no row ${rowIndex}`);
    const N = this.prepare(conditions);
    return this.cost(rowIndex, N, 8000 / (conditions.uplinkMbps * 1e6), conditions.rttMs);
  }

  /** Index of the row of a decision, or -1. */
  indexOf(d: Decision): number {
    return this.rows.findIndex(
      (r) =>
        r.kind === d.kind &&
        r.point === d.point &&
        Math.abs(r.variant - d.variant) < 1e-9 &&
        Math.abs(r.keep - d.keep) < 1e-9 &&
        r.bits === d.bits &&
        r.coder === d.coder &&
        r.quantScope === (d.quantScope ?? 'channel') &&
        r.bottleneck === (d.bottleneck ?? false),
    );
  }

  /** The per-image cloud time the profile predicts for a row (tail + decode, reference device). */
  referenceCloudMs(rowIndex: number): number {
    return this.cloud1[rowIndex] ?? 0;
  }
}
