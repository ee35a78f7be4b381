import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError, type JmdcError } from '../errors.js';
import { readState, STATE_VERSION } from '../estimators/stateFile.js';
import type { HeadOutput, ModelRunner } from '../model/runner.js';
import type { LoadedModel, Manifest } from '../model/types.js';
import type { PlanRow } from '../profile/types.js';
import { calibrationIssues, measureHeads } from './calibrate.js';
import { type DeviceWork, deviceWork, fitLinear, SIGN_SIZES } from './deviceWork.js';

/**
 * A runner whose heads and whole networks "take" scripted times on a virtual clock: `times(variant,
 * point, call, batch)` gives the duration of a call (point 0 = the whole network, -N = the whole network
 * on a batch of N images; a head on a batch of N images has its point and `batch` N, key `v/pxN`).
 */
function fakeRunner(times: (variant: string, point: number, call: number, batch: number) => number) {
  let clock = 0;
  const calls = new Map<string, number>();
  const tick = (v: string, p: number, batch = 1) => {
    const key = batch > 1 ? `${v}/${p}x${batch}` : `${v}/${p}`;
    const n = calls.get(key) ?? 0;
    calls.set(key, n + 1);
    clock += times(v, p, n, batch);
  };
  const model = {
    dir: '/fake',
    manifest: {
      input: { shape: [1, 4, 4] },
      points: [{ point: 1 }, { point: 2 }, { point: 3 }],
      variants: [{ id: 'r000' }, { id: 'r050' }],
    },
  } as unknown as LoadedModel;
  const runner: Pick<ModelRunner, 'model' | 'head' | 'full'> = {
    model,
    head: async (v, p, _input, n) => {
      tick(String(v), p, n);
      return {} as HeadOutput;
    },
    full: async (v, _input, n) => {
      tick(String(v), n > 1 ? -n : 0);
      return new Float32Array(0);
    },
  };
  /** Per-request work that "takes" `ms` on the same virtual clock. */
  const work = (w: Omit<DeviceWork, 'run'>, ms: number): DeviceWork => ({
    ...w,
    run: () => {
      clock += ms;
    },
  });
  return { runner, now: () => clock, calls, work };
}

/** Per variant: heads to points 1..3 and the whole network, ms. */
const TRUE: Record<string, number[]> = { r000: [2, 4, 6, 8], r050: [1, 2, 3, 4] };
/**
 * A whole network on N images at once costs 40% of its batch-1 run once and 60% per image; a head on
 * a batch (`batch` N) 10% once and 90% per image.
 */
const at = (v: string, p: number, batch = 1) =>
  p < 0
    ? (TRUE[v]?.[3] as number) * (0.4 + 0.6 * -p)
    : ((TRUE[v] as number[])[p === 0 ? 3 : p - 1] as number) * (p > 0 ? 0.1 + 0.9 * batch : 1);

describe('calibration', () => {
  it('times heads and whole networks the same way, after warm-up rounds, and reports the spread', async () => {
    // +-5% deterministic noise; the first call of every entry (warm-up) is 20x slower
    const { runner, now, calls } = fakeRunner((v, p, n) => (n === 0 ? 20 : 1 + 0.05 * Math.sin(n * 7.1)) * at(v, p));
    const cal = await measureHeads(runner, { now, warmup: 1, repetitions: 5 });
    expect(cal.attempts).toBe(1);
    expect(cal.repetitions).toBe(5); // stable at once: the minimum number of rounds
    for (const v of ['r000', 'r050']) {
      for (const [i, ms] of (cal.headMs[v] as number[]).entries()) expect(ms / at(v, i + 1)).toBeCloseTo(1, 1);
      expect((cal.fullMs[v] as number) / at(v, 0)).toBeCloseTo(1, 1);
      for (const s of cal.spread?.headMs[v] ?? []) expect(s).toBeLessThan(0.11);
      expect(cal.spread?.fullMs[v]).toBeLessThan(0.11);
    }
    // every entry ran once to warm up and once per round: heads exactly as often as whole networks
    expect(new Set(calls.values())).toEqual(new Set([6]));
  });

  it('keeps measuring while a median is unstable, up to maxRepetitions', async () => {
    // the whole network of r000 alternates 4 and 12 ms for its first 10 timed calls, then settles at 8
    const { runner, now } = fakeRunner((v, p, n) => (v === 'r000' && p === 0 && n < 11 ? (n % 2 ? 4 : 12) : at(v, p)));
    const progress: number[] = [];
    const cal = await measureHeads(runner, {
      now,
      warmup: 1,
      repetitions: 3,
      maxRepetitions: 60,
      onProgress: (d) => progress.push(d),
    });
    expect(cal.repetitions).toBeGreaterThan(10);
    expect(cal.repetitions).toBeLessThan(60);
    expect(progress).toEqual(Array.from({ length: cal.repetitions as number }, (_, i) => i + 1));
    expect(cal.spread?.fullMs.r000).toBeLessThanOrEqual(0.15);
    expect(cal.fullMs.r000).toBe(8);
  });

  it('stops timing an entry once its median is stable, while the rounds go on for the others', async () => {
    // as above: only the whole network of r000 is unstable for its first 10 timed calls
    const { runner, now, calls } = fakeRunner((v, p, n) =>
      v === 'r000' && p === 0 && n < 11 ? (n % 2 ? 4 : 12) : at(v, p),
    );
    const cal = await measureHeads(runner, { now, warmup: 1, repetitions: 3, maxRepetitions: 60 });
    expect(cal.repetitions).toBeGreaterThan(10);
    // 1 warm-up + the minimum 3 rounds for every stable entry, all rounds for the unstable one
    expect(calls.get('r050/2')).toBe(4);
    expect(calls.get('r000/1x8')).toBe(4);
    expect(calls.get('r000/0')).toBe(1 + (cal.repetitions as number));
    expect(cal.headMs.r050).toEqual([1, 2, 3]);
  });

  it('measures again when a head is slower than the whole network, and keeps the consistent result', async () => {
    // during the first measurement (1 warm-up + 3 rounds), something else slows the head to point 1 of
    // r000 down (30 ms, while the whole network takes 8 ms)
    const { runner, now } = fakeRunner((v, p, n) => (v === 'r000' && p === 1 && n < 4 ? 30 : at(v, p)));
    const cal = await measureHeads(runner, { now, warmup: 1, repetitions: 3 });
    expect(cal.attempts).toBe(2);
    expect(cal.headMs.r000).toEqual([2, 4, 6]);
  });

  it('rejects timings that stay inconsistent with JMDC_ERR_CALIBRATION_INCONSISTENT', async () => {
    const { runner, now } = fakeRunner((v, p) => (v === 'r050' && p === 3 ? 30 : at(v, p)));
    const err = (await measureHeads(runner, { now, warmup: 0, repetitions: 3, attempts: 2 }).catch(
      (e: unknown) => e,
    )) as JmdcError;
    expect(isJmdcError(err, ErrorCodes.CALIBRATION_INCONSISTENT)).toBe(true);
    expect(err.details.issues).toEqual(['r050: head to point 3 (30.000 ms) > whole network (4.000 ms)']);
    expect(err.message).toMatch(/after 2 measurements/);
  });

  it('names each contradiction: a head slower than a later head or than the whole network', () => {
    const issues = calibrationIssues({ headMs: { r000: [30.3, 2, 9] }, fullMs: { r000: 9.2 } });
    expect(issues).toEqual([
      'r000: head to point 1 (30.300 ms) > whole network (9.200 ms)',
      'r000: head to point 1 (30.300 ms) > head to point 2 (2.000 ms)',
      'r000: head to point 1 (30.300 ms) > head to point 3 (9.000 ms)',
    ]);
    // within noise: 10% slower with 25% tolerance is fine
    expect(calibrationIssues({ headMs: { r000: [1.1, 1] }, fullMs: { r000: 2 } })).toEqual([]);
  });

  it('times every whole network and every head on a batch of images too, unless batch is 1', async () => {
    const { runner, now, calls } = fakeRunner((v, p, _n, b) => at(v, p, b));
    const cal = await measureHeads(runner, { now, warmup: 1, repetitions: 3, batch: 16 });
    // 8 ms x (0.4 + 0.6 x 16) and 4 ms x the same
    expect(cal.batchFullMs).toEqual({ batch: 16, ms: { r000: 80, r050: 40 } });
    expect(cal.spread?.batchFullMs).toEqual({ r000: 0, r050: 0 });
    expect(calls.get('r000/-16')).toBe(4);
    // heads: batch-1 time x (0.1 + 0.9 x 16)
    expect(cal.batchHeadMs?.batch).toBe(16);
    expect(cal.batchHeadMs?.ms.r000?.map((ms) => +ms.toFixed(6))).toEqual([29, 58, 87]);
    expect(cal.batchHeadMs?.ms.r050?.map((ms) => +ms.toFixed(6))).toEqual([14.5, 29, 43.5]);
    expect(cal.spread?.batchHeadMs).toEqual({ r000: [0, 0, 0], r050: [0, 0, 0] });
    expect(calls.get('r050/3x16')).toBe(4);
    expect(calls.get('r050/3')).toBe(4);
    const one = await measureHeads(fakeRunner((v, p) => at(v, p)).runner, { now, batch: 1 });
    expect(one.batchFullMs).toBeUndefined();
    expect(one.batchHeadMs).toBeUndefined();
    // the default is 8 images
    expect((await measureHeads(runner, { now, warmup: 0, repetitions: 1 })).batchFullMs?.batch).toBe(8);
  });

  it('names a batch that ran faster than one image as a contradiction', () => {
    const cal = { headMs: { r000: [1, 2] }, fullMs: { r000: 3, r050: 2 } };
    expect(calibrationIssues({ ...cal, batchFullMs: { batch: 8, ms: { r000: 1.5, r050: 2 } } })).toEqual([
      'r000: whole network at batch 8 (1.500 ms) < at batch 1 (3.000 ms)',
    ]);
    expect(calibrationIssues({ ...cal, batchHeadMs: { batch: 8, ms: { r000: [0.5, 2] } } })).toEqual([
      'r000: head to point 1 at batch 8 (0.500 ms) < at batch 1 (1.000 ms)',
    ]);
    // within the tolerance (and the spreads) a batch may take as long as one image
    const spread = { headMs: { r000: [0, 0] }, fullMs: {}, batchHeadMs: { r000: [0.5, 0] } };
    expect(calibrationIssues({ ...cal, spread, batchHeadMs: { batch: 8, ms: { r000: [0.7, 1.7] } } })).toEqual([]);
  });

  it('rejects bad options with JMDC_ERR_INVALID_ARGUMENT', async () => {
    const { runner } = fakeRunner(() => 1);
    const err = (await measureHeads(runner, { repetitions: 0 }).catch((e: unknown) => e)) as JmdcError;
    expect(err.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(err.message).toBe('repetitions must be an integer >= 1 and <= 1000, got 0');
  });

  it("times the client's per-request work with the heads: signing as fixed + per KiB, the answer, raw formats, coders", async () => {
    const { runner, now, work } = fakeRunner((v, p) => at(v, p));
    const cal = await measureHeads(runner, {
      now,
      warmup: 1,
      repetitions: 3,
      work: [
        // signing: 0.2 ms + 0.01 ms per KiB; checking the answer 0.05 ms
        work({ kind: 'request', bytes: 1024 }, 0.21),
        work({ kind: 'request', bytes: 32 * 1024 }, 0.52),
        work({ kind: 'answer', bytes: 400 }, 0.05),
        work({ kind: 'raw', id: 'raw', bytes: 800 }, 0.01),
        work({ kind: 'raw', id: 'png', bytes: 500 }, 0.3),
        // rans: 0.1 ms + 0.5 ms per KiB
        work({ kind: 'feature', id: 'rans', bytes: 512 }, 0.35),
        work({ kind: 'feature', id: 'rans', bytes: 8192 }, 4.1),
        work({ kind: 'feature', id: 'none', bytes: 300 }, 0.02),
      ],
    });
    expect(cal.requestMs?.fixedMs).toBeCloseTo(0.2 + 0.05, 9);
    expect(cal.requestMs?.perKiBMs).toBeCloseTo(0.01, 9);
    expect(cal.rawEncodeMs).toEqual({ raw: expect.closeTo(0.01, 9), png: expect.closeTo(0.3, 9) });
    expect(cal.featureEncodeMs?.rans?.fixedMs).toBeCloseTo(0.1, 9);
    expect(cal.featureEncodeMs?.rans?.perKiBMs).toBeCloseTo(0.5, 9);
    // one size only: a fixed cost
    expect(cal.featureEncodeMs?.none).toEqual({ fixedMs: expect.closeTo(0.02, 9), perKiBMs: 0 });
    expect(Object.keys(cal.spread?.workMs ?? {})).toContain('raw:png');
    // the heads are measured as before, interleaved with the work
    expect(cal.headMs.r000).toEqual([2, 4, 6]);
  });

  it('fits fixed + per KiB through two sizes, clamped at 0', () => {
    expect(
      fitLinear([
        { bytes: 3072, ms: 3 },
        { bytes: 1024, ms: 2 },
      ]),
    ).toEqual({ fixedMs: 1.5, perKiBMs: 0.5 });
    expect(
      fitLinear([
        { bytes: 1024, ms: 2 },
        { bytes: 4096, ms: 1 },
      ]),
    ).toEqual({ fixedMs: 2, perKiBMs: 0 });
    expect(fitLinear([])).toEqual({ fixedMs: 0, perKiBMs: 0 });
  });

  it('reproduces the real per-request work offline: the transport signer, the answer check, the codecs', async () => {
    const manifest = {
      id: 'tiny',
      hash: `sha256:${'a'.repeat(64)}`,
      classes: ['a', 'b', 'c'],
      input: { shape: [1, 4, 4], sourceShape: [1, 8, 8] },
      variants: [{ id: 'r000', pruneRatio: 0, blocks: [{ outShape: [4, 4, 4] }] }],
    } as unknown as Manifest;
    const split = (coder: PlanRow['coder'], keep: number, bytes: number) =>
      ({
        kind: 'split',
        point: 1,
        variant: 0,
        variantId: 'r000',
        keep,
        bits: 4,
        coder,
        quantScope: 'channel',
        bottleneck: false,
        meanPayloadBytes: bytes,
      }) as PlanRow;
    const rows = [
      { kind: 'cloud-only', coder: 'png' } as PlanRow,
      split('rans', 0.25, 20),
      split('rans', 1, 60),
      split('deflate', 0.5, 40),
    ];
    const work = deviceWork(manifest, rows);
    expect(work.map((w) => `${w.kind}:${w.id ?? ''}`)).toEqual([
      ...SIGN_SIZES.map(() => 'request:'),
      'answer:',
      'raw:raw',
      'raw:png',
      'feature:rans',
      'feature:rans',
      'feature:deflate',
    ]);
    for (const w of work) await w.run();
    const { runner } = fakeRunner(() => 0);
    const cal = await measureHeads(runner, { warmup: 0, repetitions: 1, maxRepetitions: 1, work });
    expect(cal.requestMs?.fixedMs).toBeGreaterThan(0);
    expect(Object.keys(cal.rawEncodeMs ?? {}).sort()).toEqual(['png', 'raw']);
    expect(Object.keys(cal.featureEncodeMs ?? {}).sort()).toEqual(['deflate', 'rans']);
  });

  it('loads calibrations without the per-request fields, and refuses malformed ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-cal-'));
    const expectId = { model: 'tiny', modelHash: 'sha256:aa' };
    const base = { device: 'pi', threads: 4, headMs: { r000: [1, 2] }, fullMs: { r000: 3 }, measuredAt: 1 };
    const read = (calibration: object) => {
      const path = join(dir, 'state.json');
      writeFileSync(path, JSON.stringify({ version: STATE_VERSION, ...expectId, savedAt: 1, calibration }));
      return readState(path, expectId).state?.calibration;
    };
    expect(read(base)).toEqual(base);
    const full = {
      ...base,
      requestMs: { fixedMs: 3, perKiBMs: 0.1 },
      rawEncodeMs: { png: 4, raw: 0.2 },
      featureEncodeMs: { rans: { fixedMs: 0.5, perKiBMs: 2 } },
      batchFullMs: { batch: 8, ms: { r000: 10 } },
      batchHeadMs: { batch: 8, ms: { r000: [4, 7] } },
    };
    expect(read(full)).toEqual(full);
    for (const bad of [
      { requestMs: { fixedMs: -1, perKiBMs: 0 } },
      { requestMs: 3 },
      { rawEncodeMs: { png: 'slow' } },
      { featureEncodeMs: { rans: { fixedMs: 1 } } },
      { batchFullMs: { batch: 1, ms: { r000: 3 } } },
      { batchFullMs: { batch: 8.5, ms: { r000: 3 } } },
      { batchFullMs: { batch: 8, ms: { r000: -3 } } },
      { batchFullMs: { batch: 8 } },
      { batchHeadMs: { batch: 8, ms: { r000: 4 } } },
      { batchHeadMs: { batch: 8, ms: { r000: [4, -1] } } },
      { batchHeadMs: { batch: 300, ms: { r000: [4, 7] } } },
      { batchHeadMs: null },
    ]) {
      expect(read({ ...base, ...bad })).toBeUndefined();
    }
  });
});
