/**
 * Plausible ranges of what the estimators learn. A sample outside them is discarded, never learned,
 * and a state file value outside them is dropped on load: one hostile or broken answer (a `serverMs`
 * of 1e6, an `initMs` of 1e308) must not make every later request look hopeless.
 *
 * @example
 * const b: SampleBounds = { ...DEFAULT_SAMPLE_BOUNDS, maxInitMs: 20_000 }
 */
export interface SampleBounds {
  /** Largest plausible handler time (Lambda's longest timeout), ms. @default 900000 */
  maxServerMs: number;
  /** Largest plausible init duration of a cold start (Lambda limits the INIT phase to 10 s; local clouds may be slower), ms. @default 30000 */
  maxInitMs: number;
  /** Largest plausible network round trip, ms. @default 30000 */
  maxRttMs: number;
  /** Slowest plausible uplink, Mbit/s (1 kbit/s). @default 0.001 */
  minUplinkMbps: number;
  /** Fastest plausible uplink, Mbit/s. @default 100000 */
  maxUplinkMbps: number;
  /** Largest plausible ratio of the cloud's time to the profile's reference time. @default 1000 */
  maxCloudScale: number;
  /**
   * Largest plausible ratio of the device's time to its calibration (and smallest: its inverse); 1
   * pins the device costs to the calibration (nothing else is plausible). @default 100
   */
  maxDeviceScale: number;
}

/**
 * The default bounds.
 *
 * @example
 * isPlausible(1e6, 0, DEFAULT_SAMPLE_BOUNDS.maxServerMs) // false
 */
export const DEFAULT_SAMPLE_BOUNDS: Readonly<SampleBounds> = Object.freeze({
  maxServerMs: 900_000,
  maxInitMs: 30_000,
  maxRttMs: 30_000,
  minUplinkMbps: 0.001,
  maxUplinkMbps: 100_000,
  maxCloudScale: 1000,
  maxDeviceScale: 100,
});

/**
 * Whether `x` is a finite number in [min, max].
 *
 * @example
 * isPlausible(Number.NaN, 0, 1) // false
 */
export function isPlausible(x: unknown, min: number, max: number): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max;
}
