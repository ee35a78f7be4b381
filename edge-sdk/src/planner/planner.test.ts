import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError } from '../errors.js';
import { loadModel } from '../model/manifest.js';
import { loadProfile, normalizeProfile } from '../profile/loadProfile.js';
import type { DeviceCalibration, NormalizedProfile, Profile, ProfileRow } from '../profile/types.js';
import type { Objective, PlanConditions } from '../types/plan.js';
import { batchCost, batchShares, DEFAULT_DEVICE_COSTS, linearMs } from './deviceCosts.js';
import { Planner } from './planner.js';
import { DEFAULT_PRICING, lambdaCostUsd } from './pricing.js';

function row(p: Partial<ProfileRow> & Pick<ProfileRow, 'point' | 'meanPayloadBytes' | 'valAccuracy'>): ProfileRow {
  return {
    variant: 0,
    keep: 1,
    bits: 8,
    coder: 'none',
    testAccuracy: p.valAccuracy,
    float32FeatureBytes: 0,
    headMacs: 0,
    tailMacs: 0,
    ...p,
  };
}

/**
 * A 3-point model whose costs are easy to add by hand (ms per image):
 * head on the device 2 / 8 / 30 at points 1 / 2 / 3, the whole network on the device 60;
 * tail in the cloud 6 (whole) / 5 / 3 / 0.5 from points 0..3; encode 0.5, decode 0.5.
 */
function handProfile(extra: ProfileRow[] = []): NormalizedProfile {
  const raw: Profile = {
    model: 'hand',
    hash: 'sha256:00',
    fullModel: { val: 0.93, test: 0.93 },
    rows: [
      row({ point: 0, kind: 'cloud-only', coder: 'png', meanPayloadBytes: 1000, valAccuracy: 0.93 }),
      row({ point: 1, meanPayloadBytes: 4000, valAccuracy: 0.93, bits: 6, keep: 0.5, coder: 'rans' }),
      row({ point: 2, meanPayloadBytes: 1000, valAccuracy: 0.925, bits: 4, keep: 0.5, coder: 'rans' }),
      row({ point: 3, meanPayloadBytes: 100, valAccuracy: 0.92, bits: 4, keep: 1, coder: 'deflate' }),
      row({ point: -1, kind: 'edge-only', meanPayloadBytes: 0, valAccuracy: 0.93 }),
      ...extra,
    ],
    timings: {
      device: 'hand',
      headMs: { r000: [2, 8, 30], r050: [1, 4, 15] },
      tailMs: { r000: [6, 5, 3, 0.5], r050: [3, 2.5, 1.5, 0.25] },
      fullMs: { r000: 60, r050: 30 },
      encodeMs: 0.5,
      decodeMs: 0.5,
    },
  };
  return normalizeProfile(raw);
}

const FAST = { uplinkMbps: 100, rttMs: 5 } satisfies PlanConditions;

/**
 * The hand-computed sums below leave out the client's work per request (0 ms) and price the PNG at
 * the profile's encode time (0.5 ms): a calibration with no head times (speed 1) that says so. The
 * device-cost model has its own tests ('Planner: the device's own cost of a request').
 */
const HAND_DEVICE: DeviceCalibration = {
  device: 'hand',
  threads: 0,
  headMs: {},
  fullMs: {},
  measuredAt: 0,
  requestMs: { fixedMs: 0, perKiBMs: 0 },
  rawEncodeMs: { png: 0.5 },
};

describe('Planner on a hand-computed profile', () => {
  const planner = new Planner(handProfile(), { calibration: HAND_DEVICE });

  it('uploads the raw image when the network is fast (cloud-only = 0.5 + 0.08 + 5 + 6.5 ms)', () => {
    const r = planner.plan(FAST);
    expect(r.decision).toEqual({ kind: 'cloud-only', point: 0, variant: 0, keep: 1, bits: 8, coder: 'png' });
    expect(r.predicted.totalMs).toBeCloseTo(12.08, 9);
    expect(r.predicted.uploadMs).toBeCloseTo(0.08, 9);
    expect(r.predicted.cloudMs).toBeCloseTo(6.5, 9);
    expect(r.predicted.rttMs).toBe(5);
    // next best: p1 = 2 + 0.5 + 0.32 + 5 + 5.5
    expect(r.alternatives[0]?.decision.point).toBe(1);
    expect(r.alternatives[0]?.predicted.totalMs).toBeCloseTo(13.32, 9);
    expect(r.alternatives.map((a) => a.predicted.totalMs)).toEqual(
      [...r.alternatives.map((a) => a.predicted.totalMs)].sort((a, b) => a - b),
    );
  });

  it('cuts deep at very low bandwidth (0.1 Mbit/s: point 3 = 30 + 0.5 + 8 + 5 + 1 ms)', () => {
    const r = planner.plan({ uplinkMbps: 0.1, rttMs: 5 });
    expect(r.decision.kind).toBe('split');
    expect(r.decision.point).toBe(3);
    expect(r.predicted.totalMs).toBeCloseTo(44.5, 9);
  });

  it('runs edge-only when the uplink is almost gone (0.01 Mbit/s)', () => {
    const r = planner.plan({ uplinkMbps: 0.01, rttMs: 5 });
    expect(r.decision.kind).toBe('edge-only');
    expect(r.predicted).toMatchObject({ totalMs: 60, edgeMs: 60, uploadMs: 0, rttMs: 0, cloudMs: 0, costUsd: 0 });
  });

  it('runs edge-only when the round trip alone costs more than the whole network (RTT 100 ms)', () => {
    expect(planner.plan({ uplinkMbps: 100, rttMs: 100 }).decision.kind).toBe('edge-only');
    expect(planner.plan({ uplinkMbps: 100, rttMs: 40 }).decision.kind).toBe('cloud-only');
  });

  it('avoids a cold function with a big init cost and suggests warming it', () => {
    const r = planner.plan({ ...FAST, coldProb: [1, 0, 0, 0], initMs: 2000 });
    expect(r.decision.point).toBe(1); // 13.32 ms warm beats 12.08 + 2000 ms cold
    expect(r.warmUp).toEqual({ point: 0, coldProb: 1, gainMs: expect.closeTo(13.32 - 12.08, 9) });
    const allCold = planner.plan({ ...FAST, coldProb: 0.9, initMs: 2000 });
    expect(allCold.decision.kind).toBe('edge-only');
    expect(allCold.warmUp?.point).toBe(0);
    expect(allCold.warmUp?.gainMs).toBeCloseTo(60 - 12.08, 9);
    // the expected cold cost is P(cold) x init
    const p = planner.predict(0, { ...FAST, coldProb: 0.25, initMs: 1000 });
    expect(p.coldMs).toBe(250);
    expect(p.totalMs).toBeCloseTo(262.08, 9);
  });

  it('gives no warm-up hint when every function is warm', () => {
    expect(planner.plan(FAST).warmUp).toBeUndefined();
  });

  it('respects an accuracy floor that excludes the cheapest row', () => {
    expect(planner.plan({ uplinkMbps: 0.1, rttMs: 5 }).decision.point).toBe(3); // acc 0.92
    const r = planner.plan({ uplinkMbps: 0.1, rttMs: 5 }, { minimize: 'latency', minAccuracy: 0.925 });
    expect(r.decision.kind).toBe('edge-only'); // 60 ms beats point 2 at 97.08 ms
    expect(r.predicted.accuracy).toBeGreaterThanOrEqual(0.925);
    expect(r.alternatives.every((a) => a.predicted.accuracy >= 0.925)).toBe(true);
  });

  it('maximizes accuracy within a latency budget', () => {
    const cond = { uplinkMbps: 0.1, rttMs: 5 };
    const within50 = planner.plan(cond, { maximize: 'accuracy', maxLatencyMs: 50 });
    expect(within50.decision.point).toBe(3);
    expect(within50.feasible).toBe(true);
    const within70 = planner.plan(cond, { maximize: 'accuracy', maxLatencyMs: 70 });
    expect(within70.decision.kind).toBe('edge-only');
    expect(within70.predicted.accuracy).toBe(0.93);
    const impossible = planner.plan(cond, { maximize: 'accuracy', maxLatencyMs: 10 });
    expect(impossible.feasible).toBe(false);
    expect(impossible.decision.point).toBe(3); // the fastest row
  });

  it('amortizes the round trip over a batch: edge-only for 1 image, cloud-only for 4 (RTT 70 ms)', () => {
    const one = planner.plan({ uplinkMbps: 100, rttMs: 70, batch: 1 });
    expect(one.decision.kind).toBe('edge-only'); // 60 < 77.08
    const four = planner.plan({ uplinkMbps: 100, rttMs: 70, batch: 4 });
    expect(four.decision.kind).toBe('cloud-only');
    // 4 x (0.5 encode + 0.08 upload) + 70 + 4 x 6.5 = 98.32; edge-only would be 240
    expect(four.predicted.totalMs).toBeCloseTo(98.32, 9);
    expect(four.predicted.edgeMs).toBe(0);
    expect(four.predicted.uploadMs).toBeCloseTo(0.32, 9);
  });

  it('scales cloud time by the learned per-point factor', () => {
    const r = planner.plan({ ...FAST, cloudScale: [10, 1, 1, 1] }); // cloud-only now 65 ms in the cloud
    expect(r.decision.point).toBe(1);
  });

  it('prices every device cost at the learned device speed, and adds the learned per-request extra', () => {
    const base = planner.plan({ ...FAST, batch: 2 });
    const slow = planner.plan({ ...FAST, batch: 2, deviceScale: 3, requestExtraMs: 4 });
    const key = (o: { decision: object }) => JSON.stringify(o.decision);
    for (const o of [slow, ...slow.alternatives]) {
      const b = [base, ...base.alternatives].find((x) => key(x) === key(o));
      if (!b) continue;
      expect(o.predicted.edgeMs).toBeCloseTo(3 * b.predicted.edgeMs, 9);
      expect(o.predicted.encodeMs).toBeCloseTo(3 * b.predicted.encodeMs, 9);
      const cloud = o.decision.kind !== 'edge-only';
      expect(o.predicted.requestMs).toBeCloseTo(cloud ? 3 * b.predicted.requestMs + 4 : 0, 9);
      // the network and the cloud are not the device's
      expect(o.predicted.uploadMs).toBe(b.predicted.uploadMs);
      expect(o.predicted.cloudMs).toBe(b.predicted.cloudMs);
    }
    // a much slower device sends the image instead of running a head
    const r = planner.plan({ uplinkMbps: 0.1, rttMs: 5, deviceScale: 10 });
    expect(r.decision.kind).toBe('cloud-only');
    // a negative extra never makes the per-request work negative
    expect(planner.plan({ ...FAST, requestExtraMs: -1e6 }).predicted.requestMs).toBe(0);
  });

  it('adds the Lambda cost and prefers the free edge when cost weighs a lot', () => {
    const costly = new Planner(handProfile(), { costWeight: 1e9, alternatives: 4, calibration: HAND_DEVICE });
    const r = costly.plan(FAST);
    expect(r.decision.kind).toBe('edge-only');
    const cloud = r.alternatives.find((a) => a.decision.kind === 'cloud-only');
    expect(cloud?.predicted.costUsd).toBeCloseTo(lambdaCostUsd(6.5), 15);
    expect(lambdaCostUsd(1000)).toBeCloseTo(2 * DEFAULT_PRICING.gbSecondUsd + 0.2e-6, 15);
  });

  it('skips points that have no endpoint', () => {
    const only2 = new Planner(handProfile(), { cloudPoints: [2] });
    const r = only2.plan(FAST);
    expect(r.decision.point).toBe(2);
    expect([r, ...r.alternatives].every((o) => o.decision.point === 2 || o.decision.kind === 'edge-only')).toBe(true);
  });

  it('uses head times calibrated on this device, scaling the entries it did not measure', () => {
    const cal = new Planner(handProfile(), {
      calibration: { device: 'pi', threads: 4, headMs: { r000: [4, 16, 60] }, fullMs: {}, measuredAt: 0 },
    });
    const edge = cal.rows.findIndex((r) => r.kind === 'edge-only');
    // the device is 2x slower than the reference: whole network 120 ms, encode 1 ms
    expect(cal.predict(edge, FAST).edgeMs).toBe(120);
    expect(cal.predict(1, FAST)).toMatchObject({ edgeMs: 4, encodeMs: 1 });
  });

  it('rejects an unreachable accuracy floor with JMDC_ERR_NO_PLAN', () => {
    const err = (() => {
      try {
        planner.plan(FAST, { minimize: 'latency', minAccuracy: 0.99 });
      } catch (e) {
        return e;
      }
    })();
    expect(isJmdcError(err, ErrorCodes.NO_PLAN)).toBe(true);
    expect(() => planner.assertFeasible({ minimize: 'latency', minAccuracy: 0.95 })).toThrow(/accuracy/);
  });

  it('rejects bad conditions and objectives with JMDC_ERR_INVALID_ARGUMENT', () => {
    const bad: Array<[PlanConditions, Objective?]> = [
      [{ uplinkMbps: 0, rttMs: 5 }],
      [{ uplinkMbps: Number.NaN, rttMs: 5 }],
      [{ uplinkMbps: 1, rttMs: -1 }],
      [{ uplinkMbps: 1, rttMs: 1, batch: 0 }],
      [{ uplinkMbps: 1, rttMs: 1, coldProb: 1.5 }],
      [{ uplinkMbps: 1, rttMs: 1, deviceScale: 0 }],
      [{ uplinkMbps: 1, rttMs: 1, deviceScale: Number.POSITIVE_INFINITY }],
      [{ uplinkMbps: 1, rttMs: 1, requestExtraMs: Number.NaN }],
      [
        { uplinkMbps: 1, rttMs: 1 },
        { maximize: 'accuracy', maxLatencyMs: -3 },
      ],
    ];
    for (const [c, o] of bad) {
      let err: unknown;
      try {
        planner.plan(c, o);
      } catch (e) {
        err = e;
      }
      expect(isJmdcError(err, ErrorCodes.INVALID_ARGUMENT), JSON.stringify(c)).toBe(true);
    }
  });
});

describe('Planner: default floor, availability, one formula', () => {
  it('defaults the accuracy floor to the full model - 1 point; minAccuracy: 0 removes it', () => {
    // a fast, inaccurate split at point 3 (0.80) beside the hand rows
    const planner = new Planner(
      handProfile([row({ point: 3, meanPayloadBytes: 10, valAccuracy: 0.8, bits: 2, keep: 0.25, coder: 'rans' })]),
    );
    expect(planner.floor()).toBeCloseTo(0.92, 12);
    const slow = { uplinkMbps: 0.1, rttMs: 5 };
    const def = planner.plan(slow);
    expect(def.predicted.accuracy).toBeGreaterThanOrEqual(0.92);
    expect(def.decision).toMatchObject({ kind: 'split', point: 3, bits: 4 });
    const none = planner.plan(slow, { minimize: 'latency', minAccuracy: 0 });
    expect(none.decision).toMatchObject({ kind: 'split', point: 3, bits: 2 });
    expect(none.predicted.accuracy).toBe(0.8);
    // maximize: no default floor
    expect(planner.floor({ maximize: 'accuracy', maxLatencyMs: 10 })).toBe(0);
  });

  it('caps the default floor at the best usable accuracy', () => {
    const p = handProfile();
    const planner = new Planner({ ...p, fullModel: { val: 0.99, test: 0.99 } });
    expect(planner.floor()).toBe(0.93);
    expect(() => planner.assertFeasible()).not.toThrow();
  });

  it('skips rows of unavailable functions, and runs the best edge row when the floor needs the cloud', () => {
    const planner = new Planner(handProfile());
    expect(planner.plan(FAST).decision.kind).toBe('cloud-only');
    const down0 = planner.plan({ ...FAST, available: [false, true, true, true] });
    expect(down0.decision.point).not.toBe(0);
    expect(down0.feasible).toBe(true);
    const allDown = planner.plan({ ...FAST, available: false }, { minimize: 'latency', minAccuracy: 0.93 });
    expect(allDown.decision.kind).toBe('edge-only');
    expect(allDown.feasible).toBe(true); // edge-only r000 reaches 0.93
    // a floor only cloud rows reach, with the cloud down: the device does what it can
    const cloudOnlyAcc = new Planner(
      handProfile([row({ point: 0, kind: 'cloud-only', coder: 'raw', meanPayloadBytes: 900, valAccuracy: 0.95 })]),
    );
    const r = cloudOnlyAcc.plan({ ...FAST, available: false }, { minimize: 'latency', minAccuracy: 0.95 });
    expect(r.decision.kind).toBe('edge-only');
    expect(r.feasible).toBe(false);
    expect(r.alternatives.every((a) => a.decision.kind === 'edge-only')).toBe(true);
  });

  it('predicts with the same formula as it plans (decision and every alternative)', () => {
    const planner = new Planner(handProfile());
    const c = { uplinkMbps: 3, rttMs: 40, batch: 3, coldProb: [0.2, 0.5, 0, 1], initMs: 800, cloudScale: 1.5 };
    const r = planner.plan(c);
    for (const o of [r, ...r.alternatives]) {
      const p = planner.predict(planner.indexOf(o.decision), c);
      expect(p).toEqual(o.predicted);
      const sum = p.edgeMs + p.encodeMs + p.requestMs + p.uploadMs + p.rttMs + p.cloudMs + p.coldMs;
      expect(p.totalMs).toBeCloseTo(sum, 9);
    }
  });

  it('suggests warming a function for maximize: accuracy when a more accurate row would fit once warm', () => {
    const planner = new Planner(
      handProfile([row({ point: 0, kind: 'cloud-only', coder: 'raw', meanPayloadBytes: 900, valAccuracy: 0.95 })]),
    );
    // cold: cloud rows cost + 1000 ms; the budget of 100 ms leaves only the device (0.93)
    const r = planner.plan({ ...FAST, coldProb: 1, initMs: 1000 }, { maximize: 'accuracy', maxLatencyMs: 100 });
    expect(r.decision.kind).toBe('edge-only');
    expect(r.warmUp).toEqual({ point: 0, coldProb: 1, gainMs: 1000 });
    const warm = planner.plan({ ...FAST, coldProb: 0, initMs: 1000 }, { maximize: 'accuracy', maxLatencyMs: 100 });
    expect(warm.predicted.accuracy).toBe(0.95);
    expect(warm.warmUp).toBeUndefined();
  });

  it('rejects objectives with keys of the other kind or unknown keys', () => {
    const bad: unknown[] = [
      { minimize: 'latency', maxLatencyMs: 10 },
      { maximize: 'accuracy', maxLatencyMs: 10, minimise: 'latency' },
      { minimize: 'latency', minAcc: 0.9 },
      { minimize: 'latency', minAccuracy: '0.9' },
    ];
    for (const o of bad) {
      let err: unknown;
      try {
        new Planner(handProfile(), { objective: o as Objective });
      } catch (e) {
        err = e;
      }
      expect(isJmdcError(err, ErrorCodes.INVALID_ARGUMENT), JSON.stringify(o)).toBe(true);
    }
    expect(
      () => new Planner(handProfile(), { objective: { minimize: 'latency', minAcc: 0.9 } as unknown as Objective }),
    ).toThrow(/unknown key 'minAcc'.*known: minimize, minAccuracy/);
    // @ts-expect-error the objective is a discriminated union: no latency budget when minimizing latency
    const wrong: Objective = { minimize: 'latency', maxLatencyMs: 5 };
    expect(wrong.minimize).toBe('latency');
  });
});

// ---- property: the planner's choice is never worse than any feasible row (independent brute force) ----

const rowArb = (P: number) =>
  fc.record({
    point: fc.integer({ min: -1, max: P }),
    variant: fc.constantFrom(0, 0.5),
    meanPayloadBytes: fc.integer({ min: 1, max: 200_000 }),
    valAccuracy: fc.double({ min: 0.5, max: 0.95, noNaN: true }),
  });

const timesArb = (n: number) => fc.array(fc.double({ min: 0, max: 200, noNaN: true }), { minLength: n, maxLength: n });

const caseArb = fc.integer({ min: 1, max: 5 }).chain((P) =>
  fc.record({
    P: fc.constant(P),
    rows: fc.array(rowArb(P), { minLength: 1, maxLength: 40 }),
    head0: timesArb(P),
    head5: timesArb(P),
    tail0: timesArb(P + 1),
    tail5: timesArb(P + 1),
    full: fc.tuple(fc.double({ min: 0, max: 500, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true })),
    enc: fc.double({ min: 0, max: 5, noNaN: true }),
    dec: fc.double({ min: 0, max: 5, noNaN: true }),
    cond: fc.record({
      uplinkMbps: fc.double({ min: 0.01, max: 1000, noNaN: true }),
      rttMs: fc.double({ min: 0, max: 500, noNaN: true }),
      batch: fc.integer({ min: 1, max: 16 }),
      coldProb: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: P + 1, maxLength: P + 1 }),
      initMs: fc.double({ min: 0, max: 3000, noNaN: true }),
    }),
    floor: fc.double({ min: 0, max: 0.9, noNaN: true }),
    budget: fc.double({ min: 1, max: 3000, noNaN: true }),
  }),
);

describe('Planner property', () => {
  it('never picks a row that is worse than a feasible row (brute force over every row)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const raw: Profile = {
          model: 'prop',
          hash: 'sha256:00',
          fullModel: { val: 0.9, test: 0.9 },
          rows: c.rows.map((r) =>
            row({
              ...r,
              kind: r.point === -1 ? 'edge-only' : r.point === 0 ? 'cloud-only' : 'split',
              coder: r.point === 0 ? 'raw' : 'none',
            }),
          ),
          timings: {
            device: 'prop',
            headMs: { r000: c.head0, r050: c.head5 },
            tailMs: { r000: c.tail0, r050: c.tail5 },
            fullMs: { r000: c.full[0], r050: c.full[1] },
            encodeMs: c.enc,
            decodeMs: c.dec,
          },
        };
        const profile = normalizeProfile(raw);
        const planner = new Planner(profile);
        const N = c.cond.batch;
        // the cost model written out independently of the planner's arrays
        const expected = profile.rows.map((r) => {
          if (r.kind === 'edge-only') return N * (raw.timings.fullMs[r.variantId] as number);
          const head = r.kind === 'split' ? (raw.timings.headMs[r.variantId]?.[r.point - 1] as number) : 0;
          const tail = raw.timings.tailMs[r.variantId]?.[r.point] as number;
          // a raw upload's framing and the client's work per request: the reference defaults (speed 1)
          const enc = r.kind === 'cloud-only' ? (DEFAULT_DEVICE_COSTS.rawEncodeMs.raw as number) : c.enc;
          return (
            N * (head + enc) +
            linearMs(DEFAULT_DEVICE_COSTS.requestMs, N * r.meanPayloadBytes) +
            (N * r.meanPayloadBytes * 8) / (c.cond.uplinkMbps * 1000) +
            c.cond.rttMs +
            N * (tail + c.dec) +
            (c.cond.coldProb[r.point] as number) * c.cond.initMs
          );
        });
        const eps = 1e-6;
        const feasible = profile.rows.map((r, i) => ({ acc: r.valAccuracy, t: expected[i] as number }));
        const byFloor = feasible.filter((r) => r.acc >= c.floor);
        if (byFloor.length === 0) {
          expect(() => planner.plan(c.cond, { minimize: 'latency', minAccuracy: c.floor })).toThrow();
        } else {
          const r = planner.plan(c.cond, { minimize: 'latency', minAccuracy: c.floor });
          expect(r.predicted.accuracy).toBeGreaterThanOrEqual(c.floor);
          for (const f of byFloor) expect(r.predicted.totalMs).toBeLessThanOrEqual(f.t + eps * (1 + f.t));
        }
        const m = planner.plan(c.cond, { maximize: 'accuracy', maxLatencyMs: c.budget });
        const inBudget = feasible.filter((f) => f.t <= c.budget);
        if (inBudget.length > 0) {
          expect(m.feasible).toBe(true);
          expect(m.predicted.totalMs).toBeLessThanOrEqual(c.budget);
          // accuracies within 1e-12 are a tie, broken by latency
          for (const f of inBudget) expect(m.predicted.accuracy).toBeGreaterThanOrEqual(f.acc - 1e-12);
        } else {
          expect(m.feasible).toBe(false);
          for (const f of feasible) expect(m.predicted.totalMs).toBeLessThanOrEqual(f.t + eps * (1 + f.t));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("Planner: the device's own cost of a request", () => {
  /** PNG and raw uploads of the same image (lossless: same accuracy), a split and a slow edge-only row. */
  function uploads(): NormalizedProfile {
    return handProfile([
      row({ point: 0, kind: 'cloud-only', coder: 'raw', meanPayloadBytes: 1120, valAccuracy: 0.93 }),
    ]);
  }
  const png = (p: Planner) => p.rows.findIndex((r) => r.coder === 'png');
  const raw = (p: Planner) => p.rows.findIndex((r) => r.coder === 'raw');
  /** A device 20x slower than the profile's reference (heads measured, nothing else). */
  const SLOW: DeviceCalibration = {
    device: 'slow',
    threads: 1,
    headMs: { r000: [40, 160, 600] },
    fullMs: { r000: 1200 },
    measuredAt: 0,
  };
  const LINK = { uplinkMbps: 5, rttMs: 5 };

  it('chooses the PNG on the reference device, the raw upload where encoding the PNG costs more than its saved bytes', () => {
    const ref = new Planner(uploads());
    // the 120 bytes the PNG saves take 0.96 ms at 1 Mbit/s; it costs 0.3 - 0.02 ms more to prepare
    const pngRef = ref.predict(png(ref), LINK);
    const rawRef = ref.predict(raw(ref), LINK);
    expect(pngRef.encodeMs).toBeCloseTo(DEFAULT_DEVICE_COSTS.rawEncodeMs.png as number, 9);
    expect(rawRef.encodeMs).toBeCloseTo(DEFAULT_DEVICE_COSTS.rawEncodeMs.raw as number, 9);
    expect(ref.plan({ uplinkMbps: 1, rttMs: 5 }).decision.coder).toBe('png');
    // 20x slower device, nothing but heads calibrated: the defaults scale with its speed
    const slow = new Planner(uploads(), { calibration: SLOW });
    expect(slow.predict(png(slow), LINK).encodeMs).toBeCloseTo(
      20 * (DEFAULT_DEVICE_COSTS.rawEncodeMs.png as number),
      9,
    );
    expect(slow.plan({ uplinkMbps: 1, rttMs: 5 }).decision.coder).toBe('raw');
    // a slow link makes the saved bytes worth the encoding again (120 B at 0.05 Mbit/s: 19 ms)
    expect(slow.plan({ uplinkMbps: 0.05, rttMs: 5, coldProb: [0, 1, 1, 1], initMs: 1e6 }).decision.coder).toBe('png');
    // measured by calibrate: used as they are
    const measured = new Planner(uploads(), { calibration: { ...SLOW, rawEncodeMs: { png: 2, raw: 0.1 } } });
    expect(measured.predict(png(measured), LINK).encodeMs).toBe(2);
    expect(measured.plan({ uplinkMbps: 1, rttMs: 5 }).decision.coder).toBe('raw');
    expect(measured.plan({ uplinkMbps: 0.2, rttMs: 5, coldProb: [0, 1, 1, 1], initMs: 1e6 }).decision.coder).toBe(
      'png',
    );
  });

  it('adds the fixed cost once per request, whatever the batch, and its per-KiB part by the payload', () => {
    const requestMs = { fixedMs: 10, perKiBMs: 0.5 };
    const planner = new Planner(uploads(), { calibration: { ...SLOW, requestMs } });
    const i = raw(planner);
    const one = planner.predict(i, { ...LINK, batch: 1 });
    const eight = planner.predict(i, { ...LINK, batch: 8 });
    expect(one.requestMs).toBeCloseTo(10 + (0.5 * 1120) / 1024, 9);
    expect(eight.requestMs).toBeCloseTo(10 + (0.5 * 8 * 1120) / 1024, 9);
    expect(eight.encodeMs).toBeCloseTo(8 * one.encodeMs, 9);
    for (const p of [one, eight]) {
      const sum = p.edgeMs + p.encodeMs + p.requestMs + p.uploadMs + p.rttMs + p.cloudMs + p.coldMs;
      expect(p.totalMs).toBeCloseTo(sum, 9);
    }
    // edge-only rows send nothing
    const edge = planner.rows.findIndex((r) => r.kind === 'edge-only');
    expect(planner.predict(edge, LINK).requestMs).toBe(0);
    // without calibration: the reference default, scaled by the device's speed (20x here)
    const slow = new Planner(uploads(), { calibration: SLOW });
    expect(slow.predict(i, LINK).requestMs).toBeCloseTo(20 * linearMs(DEFAULT_DEVICE_COSTS.requestMs, 1120), 9);
  });

  it("prices a split's encoding by its coder's measured rate and its payload size", () => {
    const featureEncodeMs = { rans: { fixedMs: 0.1, perKiBMs: 1 } };
    const planner = new Planner(uploads(), { calibration: { ...SLOW, featureEncodeMs, encodeMs: 7 } });
    const at = (point: number) => planner.rows.findIndex((r) => r.kind === 'split' && r.point === point);
    // rans rows: 4000 and 1000 bytes per image
    expect(planner.predict(at(1), LINK).encodeMs).toBeCloseTo(0.1 + 4000 / 1024, 9);
    expect(planner.predict(at(2), { ...LINK, batch: 2 }).encodeMs).toBeCloseTo(2 * (0.1 + 1000 / 1024), 9);
    // a coder calibrate did not time (deflate): the calibration's mean encode time
    expect(planner.predict(at(3), LINK).encodeMs).toBe(7);
  });

  it('prices a float32 row: its upload and signing by its payload, its encoding at encodePayloadBytes when given', () => {
    // point 2 as float32 features (bits 32, coder none): 16,407 bytes a image instead of 1,000
    const f32 = row({ point: 2, meanPayloadBytes: 16407, valAccuracy: 0.93, bits: 32, keep: 1, coder: 'none' });
    const profile = handProfile([f32]);
    const featureEncodeMs = { none: { fixedMs: 0.2, perKiBMs: 0.5 } };
    const requestMs = { fixedMs: 1, perKiBMs: 0.25 };
    const cal = { ...SLOW, featureEncodeMs, requestMs };
    const planner = new Planner(profile, { calibration: cal });
    const i = planner.rows.findIndex((r) => r.bits === 32);
    expect(planner.rows[i]).toMatchObject({ kind: 'split', point: 2, bits: 32, quantScope: 'channel' });
    const p = planner.predict(i, LINK);
    expect(p.uploadMs).toBeCloseTo((16407 * 8) / 5e3, 9);
    expect(p.requestMs).toBeCloseTo(1 + (0.25 * 16407) / 1024, 9);
    expect(p.encodeMs).toBeCloseTo(0.2 + (0.5 * 16407) / 1024, 9);
    // priced as the 8-bit row of the same tensor (4,123 bytes): the upload stays the float32 one
    const rows = profile.rows.map((r) => (r.bits === 32 ? { ...r, encodePayloadBytes: 4123 } : r));
    const named = new Planner({ ...profile, rows }, { calibration: cal }).predict(i, LINK);
    expect(named.encodeMs).toBeCloseTo(0.2 + (0.5 * 4123) / 1024, 9);
    expect(named.uploadMs).toBe(p.uploadMs);
    expect(named.requestMs).toBe(p.requestMs);
  });
});

describe('Planner on the shipped profile: the raw upload the loader adds next to the PNG row', () => {
  const { dir, manifest } = loadModel('fmnist-vgg16');
  const profile = loadProfile(dir, { manifest });
  /** A device at 0.06 of the reference core: every head and whole network 1 / 0.06 times slower. */
  const SPEED = 0.06;
  const t = profile.timings;
  const slow: DeviceCalibration = {
    device: 'slow',
    threads: 1,
    headMs: Object.fromEntries(Object.entries(t.headMs).map(([id, a]) => [id, a.map((ms) => ms / SPEED)])),
    fullMs: Object.fromEntries(Object.entries(t.fullMs).map(([id, ms]) => [id, ms / SPEED])),
    measuredAt: 0,
  };
  // no accuracy loss (the floor is the full model's): the cloud-only uploads, the whole network on the
  // device and a few splits qualify (under the default floor, a pruned edge-only variant is faster still)
  const planner = new Planner(profile, {
    calibration: slow,
    objective: { minimize: 'latency', minAccuracy: profile.fullModel.val },
  });
  const at = (coder: string) => planner.rows.findIndex((r) => r.kind === 'cloud-only' && r.coder === coder);

  it('lists both uploads with the same accuracy', () => {
    expect(at('png')).toBeGreaterThanOrEqual(0);
    expect(at('raw')).toBeGreaterThanOrEqual(0);
    expect(planner.rows[at('raw')]?.valAccuracy).toBe(planner.rows[at('png')]?.valAccuracy);
  });

  it('uploads the raw image on a slow device with a fast link (20 Mbit/s, 10 ms)', () => {
    const fast = { uplinkMbps: 20, rttMs: 10 };
    const d = planner.plan(fast).decision;
    expect([d.kind, d.coder]).toEqual(['cloud-only', 'raw']);
    // encoding the PNG costs the slow device more than the ~270 bytes it saves take at 20 Mbit/s
    expect(planner.predict(at('raw'), fast).totalMs).toBeLessThan(planner.predict(at('png'), fast).totalMs);
  });

  it('does not prefer the raw upload to the PNG on a slow link (0.05 Mbit/s)', () => {
    const slowLink = { uplinkMbps: 0.05, rttMs: 10 };
    expect(planner.plan(slowLink).decision.coder).not.toBe('raw');
    expect(planner.predict(at('png'), slowLink).totalMs).toBeLessThan(planner.predict(at('raw'), slowLink).totalMs);
  });
});

describe("Planner: the device's cost of a batch", () => {
  // r000's whole network: 60 ms for one image, 270 ms for 8 at once = 30 ms once + 30 ms per image
  const batched: DeviceCalibration = {
    ...HAND_DEVICE,
    headMs: { r000: [2, 8, 30], r050: [1, 4, 15] },
    fullMs: { r000: 60, r050: 30 },
    batchFullMs: { batch: 8, ms: { r000: 270 } },
  };
  const edgeOnly = (p: Planner) => p.rows.findIndex((r) => r.kind === 'edge-only' && r.variantId === 'r000');
  const split1 = (p: Planner) => p.rows.findIndex((r) => r.kind === 'split' && r.point === 1);

  it('takes the share of a run that does not grow with the batch from the two whole-network timings', () => {
    expect(batchShares(batched, ['r000', 'r050'])).toEqual({ r000: 0.5, r050: 0.5 });
    // clamped: a batch as fast as one image is all fixed; one slower than 8 separate runs is all per image
    const cal = { fullMs: { a: 10, b: 10, c: 10 }, batchFullMs: { batch: 8, ms: { a: 5, b: 100, c: 45 } } };
    expect(batchShares(cal, ['a', 'b', 'c', 'd'])).toEqual({ a: 1, b: 0, c: 0.5, d: 0.5 });
    expect(batchShares({ fullMs: { a: 10 } }, ['a'])).toEqual({ a: 0 });
    expect(batchShares(undefined, ['a'])).toEqual({ a: 0 });
  });

  it('prices a batch of N on the device at its batch-1 time x (share + (1 - share) x N)', () => {
    const planner = new Planner(handProfile(), { calibration: batched });
    const linear = new Planner(handProfile(), { calibration: { ...batched, batchFullMs: undefined } });
    const slow = { uplinkMbps: 0.01, rttMs: 5 };
    expect(planner.predict(edgeOnly(planner), { ...slow, batch: 1 }).edgeMs).toBeCloseTo(60, 9);
    expect(planner.predict(edgeOnly(planner), { ...slow, batch: 16 }).edgeMs).toBeCloseTo(60 * 8.5, 9);
    expect(linear.predict(edgeOnly(linear), { ...slow, batch: 16 }).edgeMs).toBeCloseTo(960, 9);
    // a split's head takes r000's share; the device speed scales the whole run
    const head = planner.predict(split1(planner), { ...FAST, batch: 16, deviceScale: 2 });
    expect(head.edgeMs).toBeCloseTo(2 * 8.5 * 2, 9);
    // the encoding stays per image
    expect(head.encodeMs).toBeCloseTo(
      linear.predict(split1(linear), { ...FAST, batch: 16, deviceScale: 2 }).encodeMs,
      9,
    );
  });

  it("prices a head timed at the larger batch on its own line, not the whole network's share", () => {
    // the head to point 1 of r000: 2 ms for one image, 16 for 8 (2 per image, nothing fixed), where the
    // whole network's share (0.5) would price 16 images at 17 ms
    const half = row({ point: 1, variant: 0.5, meanPayloadBytes: 2000, valAccuracy: 0.92, bits: 6, coder: 'rans' });
    const own = new Planner(handProfile([half]), {
      calibration: { ...batched, batchHeadMs: { batch: 8, ms: { r000: [16, 40, 150] } } },
    });
    const planner = new Planner(handProfile(), { calibration: batched });
    const c = { ...FAST, batch: 16, deviceScale: 2 };
    expect(own.predict(split1(own), c).edgeMs).toBeCloseTo(2 * 32, 9);
    expect(planner.predict(split1(planner), c).edgeMs).toBeCloseTo(2 * 17, 9);
    // one image costs its batch-1 time either way
    expect(own.predict(split1(own), { ...FAST, batch: 1 }).edgeMs).toBeCloseTo(2, 9);
    // the whole network keeps its own line; a head of r050, not timed at the batch, the share
    expect(own.predict(edgeOnly(own), { ...FAST, batch: 16 }).edgeMs).toBeCloseTo(60 * 8.5, 9);
    const r050 = own.rows.findIndex((r) => r.kind === 'split' && r.variantId === 'r050' && r.point === 1);
    expect(own.predict(r050, { ...FAST, batch: 16 }).edgeMs).toBeCloseTo(1 * 8.5, 9);
  });

  it('fits a run through its two timings: per image the slope (at least 0), one image its own time', () => {
    expect(batchCost(10, { batch: 8, ms: 24 }, 0.9)).toEqual({ fixedMs: 8, perImageMs: 2 });
    // steeper than separate runs (a batch-1 time at the timer's grain): the slope all the same
    expect(batchCost(1, { batch: 9, ms: 33 }, 0)).toEqual({ fixedMs: -3, perImageMs: 4 });
    // a batch as fast as one image: all fixed
    expect(batchCost(10, { batch: 8, ms: 9 }, 0)).toEqual({ fixedMs: 10, perImageMs: 0 });
    // without the batch's time: the share
    expect(batchCost(10, undefined, 0.4)).toEqual({ fixedMs: 4, perImageMs: 6 });
  });

  it('keeps the device for a batch the linear price would send away', () => {
    // 16 images: 510 ms on the device against 960 by the linear price; the PNG upload at 0.2 Mbit/s is
    // about 640 ms + the RTT and the cloud
    const link = { uplinkMbps: 0.2, rttMs: 5, batch: 16, coldProb: [0, 1, 1, 1], initMs: 1e6 };
    const planner = new Planner(handProfile(), { calibration: batched });
    const linear = new Planner(handProfile(), { calibration: { ...batched, batchFullMs: undefined } });
    expect(planner.plan(link).decision.kind).toBe('edge-only');
    expect(linear.plan(link).decision.kind).toBe('cloud-only');
  });
});
