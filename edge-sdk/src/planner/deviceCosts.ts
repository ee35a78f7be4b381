import type { DeviceCalibration, LinearCost, PlanRow } from '../profile/types.js';
import { median } from '../util/median.js';

/**
 * The client's own work per request and per cloud-only image on the profile's reference machine,
 * used (scaled by the device's speed relative to that machine) when `calibrate` did not measure it.
 * Rounded up from measurements on a 2-core x64 server (Node 20): SigV4 signing with the SHA-256 of
 * the body (pure-JS HMACs) plus checking a batch-1 answer about 0.25 ms + 0.01 ms per KiB; one
 * 28x28 image as a PNG about 0.2 ms, framed raw or deflated 0.01 / 0.1 ms.
 *
 * @example
 * DEFAULT_DEVICE_COSTS.rawEncodeMs.png // ms per image on the reference machine
 */
export const DEFAULT_DEVICE_COSTS: Readonly<{ requestMs: LinearCost; rawEncodeMs: Readonly<Record<string, number>> }> =
  Object.freeze({
    requestMs: Object.freeze({ fixedMs: 0.4, perKiBMs: 0.015 }),
    rawEncodeMs: Object.freeze({ raw: 0.02, png: 0.3, deflate: 0.15 }),
  });

/**
 * The device's cost of one row's encoding, per image, ms: a cloud-only row's raw format (measured,
 * else the default x `speed`), a split's codec by the row's payload size (`encodePayloadBytes` when the
 * row names one, else `meanPayloadBytes`; measured per coder, else the calibration's or the profile's mean
 * encode time).
 *
 * @example
 * rowEncodeMs(row, cal, profile.timings.encodeMs, 12) // e.g. 3.4 on a slow device
 */
export function rowEncodeMs(
  r: Pick<PlanRow, 'kind' | 'coder' | 'meanPayloadBytes' | 'encodePayloadBytes'>,
  cal: DeviceCalibration | undefined,
  referenceEncodeMs: number,
  speed: number,
): number {
  if (r.kind === 'edge-only') return 0;
  if (r.kind === 'cloud-only') {
    const measured = cal?.rawEncodeMs?.[r.coder];
    if (measured !== undefined) return measured;
    const ref = DEFAULT_DEVICE_COSTS.rawEncodeMs[r.coder];
    return ref !== undefined ? ref * speed : (cal?.encodeMs ?? referenceEncodeMs * speed);
  }
  const rate = cal?.featureEncodeMs?.[r.coder];
  if (rate) return linearMs(rate, r.encodePayloadBytes ?? r.meanPayloadBytes);
  return cal?.encodeMs ?? referenceEncodeMs * speed;
}

/**
 * The client's fixed work per request (signing, the answer), measured or the default x `speed`.
 *
 * @example
 * linearMs(requestCost(cal, 1), 8 * 600) // ms for a batch of 8 PNGs
 */
export function requestCost(cal: DeviceCalibration | undefined, speed: number): LinearCost {
  if (cal?.requestMs) return cal.requestMs;
  const d = DEFAULT_DEVICE_COSTS.requestMs;
  return { fixedMs: d.fixedMs * speed, perKiBMs: d.perKiBMs * speed };
}

/**
 * A {@link LinearCost} at `bytes`, ms.
 *
 * @example
 * linearMs({ fixedMs: 1, perKiBMs: 0.5 }, 2048) // 2
 */
export function linearMs(c: LinearCost, bytes: number): number {
  return c.fixedMs + (c.perKiBMs * bytes) / 1024;
}

/**
 * The share of a variant's batch-1 run on this device that does not grow with the batch (session
 * overhead, thread start-up, memory set-up), from the calibration's whole network at batch 1 and at
 * `batchFullMs.batch`: with t(N) = fixed + N x perImage, the share is fixed / t(1), in [0, 1]. A run of
 * N images then costs t(1) x (share + (1 - share) x N). A variant without both timings takes the median
 * share of those with them; without any, 0 (time grows in proportion to the batch).
 *
 * @example
 * batchShares({ fullMs: { r000: 10 }, batchFullMs: { batch: 8, ms: { r000: 24 } } }) // { r000: 0.8 }
 */
export function batchShares(
  cal: Pick<DeviceCalibration, 'fullMs' | 'batchFullMs'> | undefined,
  variantIds: readonly string[],
): Record<string, number> {
  const own: Record<string, number> = {};
  const b = cal?.batchFullMs;
  if (cal && b && b.batch > 1) {
    for (const [id, tb] of Object.entries(b.ms)) {
      const t1 = cal.fullMs[id];
      if (t1 === undefined || !(t1 > 0) || !(tb > 0)) continue;
      own[id] = Math.max(0, batchCost(t1, { batch: b.batch, ms: tb }, 0).fixedMs / t1);
    }
  }
  const known = Object.values(own);
  const mid = known.length ? median(known) : 0;
  return Object.fromEntries(variantIds.map((id) => [id, own[id] ?? mid]));
}

/**
 * How a device run's time grows with its batch: N images cost `fixedMs + N x perImageMs`. Through the
 * run's batch-1 time and its time on `at.batch` images when both were measured (per image: the slope
 * between them, at least 0); else `share` of the batch-1 time is fixed and the rest is per image (see
 * {@link batchShares}). Either way one image costs `oneMs`.
 *
 * @example
 * batchCost(10, { batch: 8, ms: 24 }, 0) // { fixedMs: 8, perImageMs: 2 }
 * batchCost(10, undefined, 0.4) // { fixedMs: 4, perImageMs: 6 }
 */
export function batchCost(
  oneMs: number,
  at: { batch: number; ms: number } | undefined,
  share: number,
): { fixedMs: number; perImageMs: number } {
  if (at && at.batch > 1 && oneMs > 0 && at.ms > 0) {
    const perImageMs = Math.max(0, (at.ms - oneMs) / (at.batch - 1));
    return { fixedMs: oneMs - perImageMs, perImageMs };
  }
  return { fixedMs: share * oneMs, perImageMs: (1 - share) * oneMs };
}
