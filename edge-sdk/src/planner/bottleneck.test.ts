import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError } from '../errors.js';
import type { Manifest } from '../model/types.js';
import { normalizeProfile } from '../profile/loadProfile.js';
import type { DeviceCalibration, Profile, ProfileRow } from '../profile/types.js';
import { DEFAULT_DEVICE_COSTS, linearMs } from './deviceCosts.js';
import { Planner } from './planner.js';

/**
 * A 2-point model built here: r000 blocks of 1000 / 2000 MACs and a 1000-MAC classifier, r050 half of
 * that; a bottleneck `r000-p1` at point 1 of r000 (encoder 500 MACs, decoder 1000 MACs).
 */
const MANIFEST = {
  id: 'hand',
  hash: 'sha256:00',
  input: { sourceShape: [1, 4, 4], shape: [1, 4, 4] },
  points: [{ point: 1 }, { point: 2 }],
  variants: [
    {
      id: 'r000',
      pruneRatio: 0,
      blocks: [1000, 2000, 1000].map((macs, i) => ({ block: i + 1, macs })),
      accuracy: { val: 0.93, test: 0.93 },
    },
    {
      id: 'r050',
      pruneRatio: 0.5,
      blocks: [500, 1000, 500].map((macs, i) => ({ block: i + 1, macs })),
      accuracy: { val: 0.9, test: 0.9 },
    },
  ],
  bottlenecks: [
    {
      id: 'r000-p1',
      point: 1,
      variant: 0,
      channels: 2,
      codeShape: [2, 4, 4],
      encoder: { macs: 500 },
      decoder: { macs: 1000 },
      fill: [0.5, 0.5],
    },
  ],
} as unknown as Manifest;

function row(p: Partial<ProfileRow> & Pick<ProfileRow, 'point' | 'meanPayloadBytes' | 'valAccuracy'>): ProfileRow {
  return {
    variant: 0,
    keep: 1,
    bits: 8,
    coder: 'rans',
    testAccuracy: p.valAccuracy,
    float32FeatureBytes: 256,
    headMacs: 0,
    tailMacs: 0,
    ...p,
  };
}

/**
 * Reference times (ms per image): head r000 2 / 8, tail r000 6 / 5 / 3 (from 0 / 1 / 2), whole r000 60;
 * encode and decode 0.5. The bottleneck row and a plain row share point, variant, keep, bits and coder.
 */
function raw(extra: Partial<Profile['timings']> = {}, rows: ProfileRow[] = []): Profile {
  return {
    model: 'hand',
    hash: 'sha256:00',
    fullModel: { val: 0.93, test: 0.93 },
    rows: [
      // listed as the raw upload (of a large image), so the loader adds no raw row sized for the 4x4 input
      row({ point: 0, kind: 'cloud-only', coder: 'raw', meanPayloadBytes: 100_000, valAccuracy: 0.93 }),
      row({ point: 1, meanPayloadBytes: 4000, valAccuracy: 0.93, bits: 1 }),
      row({ point: 1, meanPayloadBytes: 50, valAccuracy: 0.93, bits: 1, bottleneck: true }),
      row({ point: -1, kind: 'edge-only', meanPayloadBytes: 0, valAccuracy: 0.93 }),
      ...rows,
    ],
    timings: {
      device: 'hand',
      headMs: { r000: [2, 8], r050: [1, 4] },
      tailMs: { r000: [6, 5, 3], r050: [3, 2.5, 1.5] },
      fullMs: { r000: 60, r050: 30 },
      encodeMs: 0.5,
      decodeMs: 0.5,
      ...extra,
    },
  };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isJmdcError(e) ? e.code : 'not a JmdcError';
  }
  return undefined;
}

/** 8 Mbit/s: 0.001 ms per byte; RTT 5 ms. */
const LINK = { uplinkMbps: 8, rttMs: 5 };

describe('profile rows with bottleneck: true', () => {
  it('load with the flag and the bottleneck’s id; the costs of the bottlenecks used are listed', () => {
    const p = normalizeProfile(raw(), { manifest: MANIFEST });
    const splits = p.rows.filter((r) => r.kind === 'split');
    expect(splits.map((r) => [r.bottleneck, r.bottleneckId])).toEqual([
      [false, undefined],
      [true, 'r000-p1'],
    ]);
    expect(p.rows.filter((r) => r.kind !== 'split').every((r) => r.bottleneck === false)).toBe(true);
    expect(p.bottlenecks).toEqual({
      'r000-p1': {
        id: 'r000-p1',
        point: 1,
        variant: 0,
        variantId: 'r000',
        encoderMacs: 500,
        decoderMacs: 1000,
        headMacs: 1000,
        tailMacs: 3000,
      },
    });
  });

  it('a row naming a bottleneck the model lacks: PROFILE_INVALID', () => {
    const bad = raw({}, [row({ point: 2, meanPayloadBytes: 10, valAccuracy: 0.9, bottleneck: true })]);
    expect(code(() => normalizeProfile(bad, { manifest: MANIFEST }))).toBe(ErrorCodes.PROFILE_INVALID);
    const pruned = raw({}, [row({ point: 1, variant: 0.5, meanPayloadBytes: 10, valAccuracy: 0.9, bottleneck: true })]);
    expect(code(() => normalizeProfile(pruned, { manifest: MANIFEST }))).toBe(ErrorCodes.PROFILE_INVALID);
  });

  it('a bottleneck on a row that is not a split, a non-boolean flag, or no manifest to check it: PROFILE_INVALID', () => {
    const cloud = raw({}, [
      row({ point: 0, kind: 'cloud-only', coder: 'png', meanPayloadBytes: 10, valAccuracy: 0.9, bottleneck: true }),
    ]);
    expect(code(() => normalizeProfile(cloud, { manifest: MANIFEST }))).toBe(ErrorCodes.PROFILE_INVALID);
    const flag = raw({}, [
      row({ point: 1, meanPayloadBytes: 10, valAccuracy: 0.9, bottleneck: 'yes' as unknown as boolean }),
    ]);
    expect(code(() => normalizeProfile(flag, { manifest: MANIFEST }))).toBe(ErrorCodes.PROFILE_INVALID);
    expect(code(() => normalizeProfile(raw(), { pointCount: 2 }))).toBe(ErrorCodes.PROFILE_INVALID);
  });

  it('timings.bottleneckMs must be { encoderMs, decoderMs } >= 0 per id', () => {
    const ok = raw({ bottleneckMs: { 'r000-p1': { encoderMs: 1, decoderMs: 2 } } });
    expect(normalizeProfile(ok, { manifest: MANIFEST }).timings.bottleneckMs?.['r000-p1']?.decoderMs).toBe(2);
    for (const bad of [{ 'r000-p1': { encoderMs: -1, decoderMs: 2 } }, { 'r000-p1': 3 }, 'x']) {
      const p = raw({ bottleneckMs: bad as unknown as Profile['timings']['bottleneckMs'] });
      expect(code(() => normalizeProfile(p, { manifest: MANIFEST }))).toBe(ErrorCodes.PROFILE_INVALID);
    }
  });
});

describe('Planner: a bottleneck row’s head includes its encoder, its tail its decoder', () => {
  const bottleneckRow = (planner: Planner) => planner.rows.findIndex((r) => r.bottleneck);

  it('MAC-scaled when nothing measured them: encoder 2 x 500/1000, decoder 5 x 1000/3000', () => {
    const planner = new Planner(normalizeProfile(raw(), { manifest: MANIFEST }));
    const p = planner.predict(bottleneckRow(planner), LINK);
    expect(p.edgeMs).toBeCloseTo(2 + 1, 9);
    expect(p.encodeMs).toBeCloseTo(0.5, 9);
    expect(p.uploadMs).toBeCloseTo(0.05, 9);
    expect(p.cloudMs).toBeCloseTo(5 + 5 / 3 + 0.5, 9);
    // the client's work per request: the reference default for the payload (speed 1, nothing calibrated)
    expect(p.requestMs).toBeCloseTo(linearMs(DEFAULT_DEVICE_COSTS.requestMs, 50), 9);
    expect(p.totalMs).toBeCloseTo(3 + 0.5 + p.requestMs + 0.05 + 5 + (5 + 5 / 3 + 0.5), 9); // RTT 5
    // the plain row at the same point pays neither
    const plain = planner.rows.findIndex((r) => r.kind === 'split' && !r.bottleneck);
    expect(planner.predict(plain, LINK).edgeMs).toBeCloseTo(2, 9);
    expect(planner.predict(plain, LINK).cloudMs).toBeCloseTo(5.5, 9);
  });

  it('the profile’s measured encoder and decoder times, the encoder scaled by the device’s speed', () => {
    const profile = normalizeProfile(raw({ bottleneckMs: { 'r000-p1': { encoderMs: 2, decoderMs: 0.2 } } }), {
      manifest: MANIFEST,
    });
    const planner = new Planner(profile);
    const i = bottleneckRow(planner);
    expect(planner.predict(i, LINK).edgeMs).toBeCloseTo(4, 9);
    expect(planner.predict(i, LINK).cloudMs).toBeCloseTo(5 + 0.2 + 0.5, 9);
    // a device twice as slow as the reference, which did not time the encoder
    const slow: DeviceCalibration = {
      device: 'slow',
      threads: 1,
      headMs: { r000: [4, 16] },
      fullMs: { r000: 120 },
      measuredAt: 0,
    };
    planner.setCalibration(slow);
    expect(planner.predict(i, LINK).edgeMs).toBeCloseTo(4 + 2 * 2, 9);
  });

  it('the encoder time calibrate measured on this device, added to the calibrated head', () => {
    const planner = new Planner(normalizeProfile(raw(), { manifest: MANIFEST }), {
      calibration: {
        device: 'pi',
        threads: 1,
        headMs: { r000: [3, 9] },
        fullMs: { r000: 70 },
        bottleneckMs: { 'r000-p1': 4 },
        measuredAt: 0,
      },
    });
    expect(planner.predict(bottleneckRow(planner), LINK).edgeMs).toBeCloseTo(3 + 4, 9);
    // without a measured encoder: the calibrated head scaled by MACs
    planner.setCalibration({ device: 'pi', threads: 1, headMs: { r000: [3, 9] }, fullMs: { r000: 70 }, measuredAt: 0 });
    expect(planner.predict(bottleneckRow(planner), LINK).edgeMs).toBeCloseTo(3 + 1.5, 9);
  });

  it('a chosen bottleneck row carries bottleneck: true; indexOf tells it from the plain row', () => {
    const planner = new Planner(normalizeProfile(raw(), { manifest: MANIFEST }));
    // a slow link: 50 B beats 4000 B and the 100 kB image
    const r = planner.plan({ uplinkMbps: 0.1, rttMs: 5 });
    expect(r.decision).toEqual({
      kind: 'split',
      point: 1,
      variant: 0,
      keep: 1,
      bits: 1,
      coder: 'rans',
      quantScope: 'channel',
      bottleneck: true,
    });
    expect(planner.indexOf(r.decision)).toBe(bottleneckRow(planner));
    const plain = { ...r.decision };
    delete plain.bottleneck;
    expect(planner.indexOf(plain)).toBe(planner.rows.findIndex((x) => x.kind === 'split' && !x.bottleneck));
    expect(r.alternatives.every((a) => a.decision.bottleneck === undefined)).toBe(true);
  });
});
