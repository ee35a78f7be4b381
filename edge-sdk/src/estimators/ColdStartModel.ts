import { WindowMedian } from './WindowMedian.js';

const SEC = 1_000;
const MIN = 60_000;
/** Evidence per bin above which its counts are halved. */
const MAX_BIN_EVIDENCE = 200;

/**
 * Idle-time bins (lower edges, ms): [0, 5 s), [5, 15 s), [15 s, 1 min), [1, 5 min), [5, 10), [10, 15),
 * [15, 30), [30, 60), >= 60 min. Lambda keeps an idle execution environment for minutes (not
 * documented exactly; observed 5-15+ min); the seconds bins keep the answer of a function called a
 * moment ago apart from one idle for half a minute, so that a host that reaps after some seconds (a
 * local cloud, a provider under pressure) does not make a function that just answered look cold.
 *
 * @example
 * IDLE_BIN_EDGES_MS[4] // 300000 (5 min)
 */
export const IDLE_BIN_EDGES_MS: readonly number[] = [
  0,
  5 * SEC,
  15 * SEC,
  MIN,
  5 * MIN,
  10 * MIN,
  15 * MIN,
  30 * MIN,
  60 * MIN,
];

/** A representative idle time per bin, where the prior curve is evaluated. */
const BIN_MIDPOINTS_MS = [
  2.5 * SEC,
  10 * SEC,
  37.5 * SEC,
  3 * MIN,
  7.5 * MIN,
  12.5 * MIN,
  22.5 * MIN,
  45 * MIN,
  90 * MIN,
];

/**
 * Bins of the layout before the seconds bins ([0, 1 min), [1, 5 min), ... >= 60 min): saved states
 * with 7 bins are read into the current layout, their first bin into [15 s, 1 min) (where a
 * cold start after under a minute most likely fell).
 */
const LEGACY_BIN_TO_BIN = [2, 3, 4, 5, 6, 7, 8];

/**
 * The prior P(cold | idle): a logistic curve centred on 10 min with a 2.5 min scale, shifted and
 * rescaled to be 0 at no idle time (a function that has just answered has an instance that is up) —
 * about 0.0003 at 2.5 s, 0.004 at 30 s, 0.10 at 5 min, 0.49 at 10 min, 0.88 at 15 min, ~1 after 30 min.
 *
 * @example
 * priorColdProbability(12 * 60_000) // ~0.68
 */
export function priorColdProbability(idleMs: number): number {
  const logistic = (t: number) => 1 / (1 + Math.exp(-(t - 10 * MIN) / (2.5 * MIN)));
  const at0 = logistic(0);
  return Math.max(0, (logistic(idleMs) - at0) / (1 - at0));
}

/**
 * Persisted form of one function's cold-start model.
 *
 * @example
 * const saved: ColdStartState = new ColdStartModel().toState() // { bins: [[0, 0], ...], initMs: [] }
 */
export interface ColdStartState {
  /** Epoch ms of the last request to / response from this function. */
  lastActivityAt?: number;
  /** Per idle bin: [cold responses, warm responses]. */
  bins: Array<[number, number]>;
  /** Recent init durations (ms) of cold responses. */
  initMs: number[];
  /** Epoch ms of the last decay of the bins. */
  decayedAt?: number;
}

/**
 * Options of {@link ColdStartModel}.
 *
 * @example
 * new ColdStartModel({ priorStrength: 4, priorInitMs: 2500 })
 */
export interface ColdStartOptions {
  /** Pseudo-observations of the Beta prior in each bin. @default 2 */
  priorStrength?: number;
  /** Init cost before any cold response was seen, ms. @default 1500 */
  priorInitMs?: number;
  /** Cold responses whose init durations are kept (median). @default 9 */
  initWindow?: number;
  /**
   * Age at which the evidence of a bin weighs half, ms: the provider's behaviour may change, and old
   * flags should not outvote new ones forever. @default 21600000 (6 h)
   */
  evidenceHalfLifeMs?: number;
}

function binOf(idleMs: number): number {
  let b = 0;
  for (let i = 1; i < IDLE_BIN_EDGES_MS.length; i++) if (idleMs >= (IDLE_BIN_EDGES_MS[i] as number)) b = i;
  return b;
}

/**
 * P(cold start) of ONE function as a function of the idle time since its last call, learned from
 * the `coldStart` flags of its responses: per idle bin a Beta posterior around the prior curve
 * {@link priorColdProbability}, made non-decreasing in idle time by pooling adjacent violators
 * (weighted by the bins' observations, not the prior's). Never called (no last activity) means
 * cold: 1. Also tracks the init cost of its cold starts (median of the reported `initMs`).
 *
 * @example
 * const m = new ColdStartModel()
 * m.observe(20 * 60_000, true, 1800)
 * m.observe(30_000, false)
 * m.probability(30_000) // ~0.02
 * m.initMs() // 1800
 *
 * @internal Used by `JmdcClient` through `LiveEstimators`; apps see its view in `client.stats()`.
 */
export class ColdStartModel {
  lastActivityAt: number | undefined;
  private readonly counts: Array<[number, number]>;
  private readonly init: WindowMedian;
  private readonly priorStrength: number;
  private readonly priorInitMs: number;
  private readonly halfLifeMs: number;
  private decayedAt: number | undefined;
  private cache: Float64Array | undefined;

  constructor(opts: ColdStartOptions = {}, state?: ColdStartState) {
    this.priorStrength = opts.priorStrength ?? 2;
    this.priorInitMs = opts.priorInitMs ?? 1500;
    this.init = new WindowMedian(opts.initWindow ?? 9, state?.initMs ?? []);
    this.counts = IDLE_BIN_EDGES_MS.map((): [number, number] => [0, 0]);
    const saved = state?.bins ?? [];
    const legacy = saved.length === LEGACY_BIN_TO_BIN.length;
    saved.forEach((c, i) => {
      const into = this.counts[legacy ? (LEGACY_BIN_TO_BIN[i] as number) : i];
      if (!into || !Array.isArray(c)) return;
      into[0] += c[0];
      into[1] += c[1];
    });
    this.lastActivityAt = state?.lastActivityAt;
    this.halfLifeMs = opts.evidenceHalfLifeMs ?? 6 * 3_600_000;
    this.decayedAt = state?.decayedAt;
  }

  /** Lets the evidence of every bin lose weight with the time since the last decay. */
  private decay(nowMs: number): void {
    if (this.decayedAt !== undefined && nowMs > this.decayedAt) {
      const f = 2 ** (-(nowMs - this.decayedAt) / this.halfLifeMs);
      for (const c of this.counts) {
        c[0] *= f;
        c[1] *= f;
      }
    }
    if (this.decayedAt === undefined || nowMs > this.decayedAt) this.decayedAt = nowMs;
  }

  /**
   * Records one response: the idle time before its request (Infinity if never called), its flag, the
   * init duration of a cold start, and when (epoch ms; older evidence then loses weight).
   */
  observe(idleMs: number, coldStart: boolean, initMs?: number, nowMs?: number): void {
    if (nowMs !== undefined) this.decay(nowMs);
    const c = this.counts[binOf(Number.isFinite(idleMs) ? Math.max(0, idleMs) : Number.MAX_VALUE)] as [number, number];
    c[coldStart ? 0 : 1]++;
    // forget slowly, so that a change in the provider's behaviour is learned again
    if (c[0] + c[1] > MAX_BIN_EVIDENCE) {
      c[0] /= 2;
      c[1] /= 2;
    }
    if (coldStart && initMs !== undefined && Number.isFinite(initMs) && initMs > 0) this.init.push(initMs);
    this.cache = undefined;
  }

  /**
   * Records the init duration of a cold start that says nothing about idle time (the function had
   * another request in flight, so a second instance started: concurrency, not reaping).
   */
  observeInit(initMs: number): void {
    if (Number.isFinite(initMs) && initMs > 0) this.init.push(initMs);
  }

  /** P(cold) after `idleMs` of idleness; `undefined`/Infinity (never called) gives 1. */
  probability(idleMs: number | undefined): number {
    if (idleMs === undefined || !Number.isFinite(idleMs)) return 1;
    if (!this.cache) this.cache = this.fit();
    return this.cache[binOf(Math.max(0, idleMs))] as number;
  }

  /** P(cold) now, given the time of this function's last activity. */
  probabilityAt(nowMs: number): number {
    return this.probability(this.lastActivityAt === undefined ? undefined : nowMs - this.lastActivityAt);
  }

  /** Median init cost of this function's cold starts, or the prior. */
  initMs(fallback = this.priorInitMs): number {
    return this.init.value(fallback);
  }

  get initSamples(): number {
    return this.init.count;
  }

  /**
   * Posterior means per bin, then pool-adjacent-violators for a non-decreasing curve, weighted by each
   * bin's observations only: a bin without any takes the level of the bins before it where that is
   * higher than its prior (a function cold after 2 s of idleness is no warmer after 2 min), and its
   * prior's pseudo-observations never pull a bin with evidence down.
   */
  private fit(): Float64Array {
    const k = this.priorStrength;
    const blocks: Array<{ mean: number; weight: number; width: number }> = [];
    this.counts.forEach(([cold, warm], i) => {
      const p0 = priorColdProbability(BIN_MIDPOINTS_MS[i] as number);
      // a tiny weight keeps the pooled mean of bins without observations defined (their priors' mean)
      const weight = cold + warm + 1e-9;
      blocks.push({ mean: (k * p0 + cold) / (k + cold + warm), weight, width: 1 });
      while (blocks.length > 1) {
        const b = blocks[blocks.length - 1] as { mean: number; weight: number; width: number };
        const a = blocks[blocks.length - 2] as { mean: number; weight: number; width: number };
        if (a.mean <= b.mean) break;
        blocks.pop();
        const w = a.weight + b.weight;
        a.mean = (a.mean * a.weight + b.mean * b.weight) / w;
        a.weight = w;
        a.width += b.width;
      }
    });
    const out = new Float64Array(this.counts.length);
    let i = 0;
    for (const b of blocks) for (let j = 0; j < b.width; j++) out[i++] = b.mean;
    return out;
  }

  /** Persisted form. */
  toState(): ColdStartState {
    return {
      ...(this.lastActivityAt !== undefined ? { lastActivityAt: this.lastActivityAt } : {}),
      bins: this.counts.map(([a, b]) => [a, b]),
      initMs: this.init.samples(),
      ...(this.decayedAt !== undefined ? { decayedAt: this.decayedAt } : {}),
    };
  }
}
