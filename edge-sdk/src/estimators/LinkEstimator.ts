import { weightedMedian } from './AgedSamples.js';
import { DEFAULT_SAMPLE_BOUNDS } from './bounds.js';

/**
 * One request's network time: bytes on the wire and the time the network took for them
 * (time to response headers minus the function's own time and init), measured at `at`.
 *
 * @example
 * const s: LinkSample = { bytes: 812, netMs: 23.4, at: Date.now() }
 */
export interface LinkSample {
  bytes: number;
  netMs: number;
  at: number;
}

/**
 * Options of {@link LinkEstimator}.
 *
 * @example
 * new LinkEstimator({ priors: { uplinkMbps: 10, rttMs: 50 }, size: 16, halfLifeMs: 60_000 })
 */
export interface LinkEstimatorOptions {
  /** Values before the first identified measurement. */
  priors: { uplinkMbps: number; rttMs: number };
  /** Samples kept (the newest). @default 16 */
  size?: number;
  /** Age at which a sample weighs half, ms. @default 120000 */
  halfLifeMs?: number;
  /** Samples (and a learned bandwidth) older than this are forgotten, ms. @default 900000 */
  maxAgeMs?: number;
  /** Two samples give a slope only when their sizes differ by at least this many bytes. @default 256 */
  minSpreadBytes?: number;
  /** A sample is off the fit when its residual exceeds max(this, `changeRelTol` x prediction), ms. @default 2 */
  changeAbsTolMs?: number;
  /** @default 0.3 */
  changeRelTol?: number;
  /** Off-fit samples in a row, on the same side, that mean the link changed. @default 2 */
  changeRun?: number;
  /**
   * A link not measured for this long may have changed meanwhile (a cellular radio drops to idle after
   * about 10 s without traffic, and a device moves): the first sample after such a silence that is off
   * the fit is a change on its own, without a second one to confirm it, ms. @default 10000
   */
  staleAfterMs?: number;
  /** Slowest and fastest uplink the fit may report, Mbit/s. @default 0.001 and 100000 */
  minUplinkMbps?: number;
  maxUplinkMbps?: number;
  /** Largest RTT the fit may report, ms. @default 30000 */
  maxRttMs?: number;
}

/**
 * The link as the fit sees it.
 *
 * @example
 * const { rttMs, uplinkMbps, identified }: LinkFit = link.fit(Date.now())
 */
export interface LinkFit {
  /** Intercept: network time of an empty request, ms. */
  rttMs: number;
  /** 8 / slope: uplink bandwidth, Mbit/s. */
  uplinkMbps: number;
  /** True when the slope comes from live samples of different sizes (not a prior or an older fit). */
  identified: boolean;
  /** Live samples. */
  samples: number;
}

/**
 * Uplink bandwidth and RTT from requests of different sizes: a robust line fit of network time on
 * bytes over a window (Theil-Sen with Sievers' weights: the median of the pairwise slopes, each weighted
 * by its size difference and the recency of its two samples, since the same timing noise tilts the
 * slope of two nearby sizes far more than that of two distant ones; the intercept the weighted median
 * of the residuals), so that 1/bandwidth is the slope and RTT the intercept, whatever
 * the payload size (a 500 B payload is too small to time its upload on its own). Samples age
 * (half-life, maximum age); when samples keep landing on one side of the fit, the link changed: the
 * window is cut to them and {@link LinkEstimator.takeChange} says so, so that the client can send a
 * probe of another size to pin the slope down. Without samples of different sizes the last identified
 * slope (while young enough) or the prior bandwidth is used.
 *
 * @example
 * const link = new LinkEstimator({ priors: { uplinkMbps: 10, rttMs: 50 } })
 * link.push(100, 20.1, 0)
 * link.push(10_100, 36.1, 1)
 * link.fit(2) // { rttMs: ~20, uplinkMbps: ~5, identified: true, samples: 2 }
 *
 * @internal Used by `JmdcClient` through `LiveEstimators`; apps see its view in `client.stats()`.
 */
export class LinkEstimator {
  private readonly priors: { uplinkMbps: number; rttMs: number };
  private readonly size: number;
  private readonly halfLifeMs: number;
  private readonly maxAgeMs: number;
  private readonly minSpread: number;
  private readonly absTol: number;
  private readonly relTol: number;
  private readonly run: number;
  /** A link not measured for this long may have changed (see {@link LinkEstimatorOptions.staleAfterMs}), ms. */
  readonly staleAfterMs: number;
  private readonly minSlope: number;
  private readonly maxSlope: number;
  private readonly maxRtt: number;
  private buf: LinkSample[] = [];
  private lastSlope: { slope: number; at: number } | undefined;
  private offRun = 0;
  private offSign = 0;
  private changed = false;
  /** The last slope computed, with the samples it came from (see {@link LinkEstimator.slopeOf}). */
  private slopeMemo: { live: LinkSample[]; slope: number | undefined } | undefined;

  constructor(opts: LinkEstimatorOptions, state?: LinkEstimatorState) {
    this.priors = opts.priors;
    this.size = opts.size ?? 16;
    this.halfLifeMs = opts.halfLifeMs ?? 120_000;
    this.maxAgeMs = opts.maxAgeMs ?? 900_000;
    this.minSpread = opts.minSpreadBytes ?? 256;
    this.absTol = opts.changeAbsTolMs ?? 2;
    this.relTol = opts.changeRelTol ?? 0.3;
    this.run = opts.changeRun ?? 2;
    this.staleAfterMs = opts.staleAfterMs ?? 10_000;
    this.minSlope = 8 / ((opts.maxUplinkMbps ?? DEFAULT_SAMPLE_BOUNDS.maxUplinkMbps) * 1000);
    this.maxSlope = 8 / ((opts.minUplinkMbps ?? DEFAULT_SAMPLE_BOUNDS.minUplinkMbps) * 1000);
    this.maxRtt = opts.maxRttMs ?? DEFAULT_SAMPLE_BOUNDS.maxRttMs;
    for (const s of state?.samples ?? []) this.buf.push({ bytes: s[0], netMs: s[1], at: s[2] });
    this.buf = this.buf.slice(-this.size);
    if (state?.slope) this.lastSlope = { slope: state.slope[0], at: state.slope[1] };
  }

  private priorSlope(): number {
    return 8 / (this.priors.uplinkMbps * 1000);
  }

  private weight(now: number, at: number): number {
    return 2 ** (-Math.max(0, now - at) / this.halfLifeMs);
  }

  private live(now: number): LinkSample[] {
    return this.buf.filter((s) => now - s.at <= this.maxAgeMs);
  }

  /**
   * The slope (ms per byte) from the live samples, or undefined without two sizes far enough apart.
   * Ageing scales every pair's weight by the same factor, which leaves a weighted median where it is:
   * for the same live samples, none newer than `now`, the slope is the one computed last (a call plans,
   * learns and probes with a handful of fits, each O(samples²)).
   */
  private slopeOf(live: readonly LinkSample[], now: number): number | undefined {
    const m = this.slopeMemo;
    const current = live.every((s) => s.at <= now);
    if (current && m && m.live.length === live.length && m.live.every((s, i) => s === live[i])) return m.slope;
    const slope = this.computeSlope(live, now);
    this.slopeMemo = current ? { live: [...live], slope } : undefined;
    return slope;
  }

  private computeSlope(live: readonly LinkSample[], now: number): number | undefined {
    const slopes: number[] = [];
    const weights: number[] = [];
    for (let i = 0; i < live.length; i++) {
      const a = live[i] as LinkSample;
      for (let j = i + 1; j < live.length; j++) {
        const b = live[j] as LinkSample;
        const db = b.bytes - a.bytes;
        if (Math.abs(db) < this.minSpread) continue;
        slopes.push((b.netMs - a.netMs) / db);
        // a pair's slope errs by (timing noise) / |db|: pairs far apart in size count for more
        weights.push(this.weight(now, a.at) * this.weight(now, b.at) * Math.abs(db));
      }
    }
    if (slopes.length === 0) return undefined;
    return Math.min(this.maxSlope, Math.max(this.minSlope, weightedMedian(slopes, weights)));
  }

  private fitSlope(now: number): { slope: number; identified: boolean; live: LinkSample[] } {
    const live = this.live(now);
    const own = this.slopeOf(live, now);
    if (own !== undefined) return { slope: own, identified: true, live };
    const last = this.lastSlope && now - this.lastSlope.at <= this.maxAgeMs ? this.lastSlope.slope : undefined;
    return { slope: last ?? this.priorSlope(), identified: false, live };
  }

  /**
   * The current line: RTT (intercept) and bandwidth (slope) at `now`.
   *
   * @example
   * link.fit(Date.now()).uplinkMbps
   */
  fit(now: number): LinkFit {
    const { slope, identified, live } = this.fitSlope(now);
    let rtt = this.priors.rttMs;
    if (live.length > 0) {
      rtt = weightedMedian(
        live.map((s) => s.netMs - slope * s.bytes),
        live.map((s) => this.weight(now, s.at)),
      );
      rtt = Math.min(this.maxRtt, Math.max(0, rtt));
    }
    return { rttMs: rtt, uplinkMbps: 8 / (slope * 1000), identified, samples: live.length };
  }

  /** Predicted network time of `bytes` at `now`, ms. */
  predict(bytes: number, now: number): number {
    const f = this.fit(now);
    return f.rttMs + (bytes * 8) / (f.uplinkMbps * 1000);
  }

  /**
   * Learns one sample. Returns false when it was discarded (not finite, negative beyond timer noise,
   * beyond the largest plausible RTT + upload).
   */
  push(bytes: number, netMs: number, at: number): boolean {
    if (!(Number.isFinite(bytes) && bytes >= 0 && Number.isFinite(netMs) && Number.isFinite(at))) return false;
    if (netMs < -1 || netMs > this.maxRtt + bytes * this.maxSlope) return false;
    const net = Math.max(0, netMs);
    let stale = false;
    if (this.buf.length > 0) {
      const pred = this.predict(bytes, at);
      const r = net - pred;
      const tol = Math.max(this.absTol, this.relTol * pred);
      if (Math.abs(r) > tol && (this.offRun === 0 || Math.sign(r) === this.offSign)) {
        this.offRun++;
        this.offSign = Math.sign(r);
        stale = at - (this.buf.at(-1) as LinkSample).at >= this.staleAfterMs;
      } else {
        this.offRun = 0;
        this.offSign = 0;
      }
    }
    this.buf.push({ bytes, netMs: net, at });
    if (this.offRun >= this.run || stale) {
      // the link changed: only the samples that say so describe it now, and the old bandwidth no
      // longer does (until samples of two sizes identify the new one, the prior stands)
      this.buf = this.buf.slice(stale ? -1 : -this.run);
      this.lastSlope = undefined;
      this.offRun = 0;
      this.offSign = 0;
      this.changed = true;
    }
    if (this.buf.length > this.size) this.buf.shift();
    const own = this.slopeOf(this.live(at), at);
    if (own !== undefined) this.lastSlope = { slope: own, at };
    return true;
  }

  /** True once after the fit detected a change of the link (then a probe of another size helps). */
  takeChange(): boolean {
    const c = this.changed;
    this.changed = false;
    return c;
  }

  /** Whether the live samples lack two sizes far enough apart to identify the bandwidth. */
  needsSpread(now: number): boolean {
    return this.slopeOf(this.live(now), now) === undefined;
  }

  /** Epoch ms of the newest sample, or undefined. */
  newestAt(): number | undefined {
    return this.buf.at(-1)?.at;
  }

  /** Persisted form. */
  toState(): LinkEstimatorState {
    return {
      samples: this.buf.map((s) => [s.bytes, s.netMs, s.at] as [number, number, number]),
      ...(this.lastSlope ? { slope: [this.lastSlope.slope, this.lastSlope.at] as [number, number] } : {}),
    };
  }
}

/**
 * Persisted form of a {@link LinkEstimator}.
 *
 * @example
 * const restored = new LinkEstimator({ priors }, link.toState())
 */
export interface LinkEstimatorState {
  /** [bytes, netMs, at] per sample, oldest first. */
  samples: Array<[number, number, number]>;
  /** [ms per byte, at] of the last identified slope. */
  slope?: [number, number];
}
