/**
 * One timestamped sample.
 *
 * @example
 * const s: AgedSample = { v: 12.5, at: Date.now() }
 */
export interface AgedSample {
  v: number;
  /** Epoch ms of the measurement. */
  at: number;
}

/**
 * The weighted median of `values` (weights > 0); NaN when empty.
 *
 * @example
 * weightedMedian([1, 2, 100], [1, 1, 0.1]) // 2
 */
export function weightedMedian(values: readonly number[], weights: readonly number[]): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  let total = 0;
  for (const w of weights) total += w;
  let acc = 0;
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    acc += weights[i] as number;
    if (acc > total / 2 + 1e-12) return values[i] as number;
    if (Math.abs(acc - total / 2) <= 1e-12) {
      const j = idx[k + 1];
      return j === undefined ? (values[i] as number) : ((values[i] as number) + (values[j] as number)) / 2;
    }
  }
  return values[idx[n - 1] as number] as number;
}

/**
 * Options of {@link AgedSamples}.
 *
 * @example
 * new AgedSamples({ size: 9, halfLifeMs: 60_000, maxAgeMs: 600_000 })
 */
export interface AgedSamplesOptions {
  /** Samples kept (the newest). @default 9 */
  size?: number;
  /** Age at which a sample weighs half as much as a new one, ms. @default 120000 */
  halfLifeMs?: number;
  /** Samples older than this are dropped: the estimate returns to its prior. @default 900000 (15 min) */
  maxAgeMs?: number;
}

/**
 * A robust estimate that forgets: the weighted median of the last `size` samples, each weighing
 * 2^(-age / halfLife), samples older than `maxAgeMs` dropped. A single outlier never moves it past its
 * neighbours, a step is followed once more than half of the weight is new, and a single early
 * sample does not stay forever.
 *
 * @example
 * const m = new AgedSamples({ size: 5 })
 * for (const x of [10, 10, 100, 10]) m.push(x, 0)
 * m.value(0) // 10
 *
 * @internal Used by `JmdcClient` through `LiveEstimators`; apps see its view in `client.stats()`.
 */
export class AgedSamples {
  readonly size: number;
  readonly halfLifeMs: number;
  readonly maxAgeMs: number;
  private buf: AgedSample[] = [];

  constructor(opts: AgedSamplesOptions = {}, samples: readonly AgedSample[] = []) {
    this.size = opts.size ?? 9;
    this.halfLifeMs = opts.halfLifeMs ?? 120_000;
    this.maxAgeMs = opts.maxAgeMs ?? 900_000;
    if (!Number.isInteger(this.size) || this.size < 1) throw new RangeError(`size must be an integer >= 1`);
    for (const s of samples) this.push(s.v, s.at);
  }

  /** Adds a sample measured at `at` (epoch ms); non-finite values are ignored. */
  push(v: number, at: number): void {
    if (!Number.isFinite(v) || !Number.isFinite(at)) return;
    this.buf.push({ v, at });
    if (this.buf.length > this.size) this.buf.shift();
  }

  /** Samples young enough at `now`. */
  live(now: number): AgedSample[] {
    return this.buf.filter((s) => now - s.at <= this.maxAgeMs);
  }

  /** Number of live samples at `now`. */
  count(now: number): number {
    return this.live(now).length;
  }

  /** Weight of a sample of age `ageMs`. */
  weight(ageMs: number): number {
    return 2 ** (-Math.max(0, ageMs) / this.halfLifeMs);
  }

  /** The weighted median at `now`, or `fallback` when no sample is young enough. */
  value(now: number, fallback = Number.NaN): number {
    const live = this.live(now);
    if (live.length === 0) return fallback;
    return weightedMedian(
      live.map((s) => s.v),
      live.map((s) => this.weight(now - s.at)),
    );
  }

  /** Forgets every sample (the estimate returns to its prior). */
  clear(): void {
    this.buf = [];
  }

  /** The samples, oldest first (for persistence). */
  samples(): AgedSample[] {
    return this.buf.map((s) => ({ ...s }));
  }
}
