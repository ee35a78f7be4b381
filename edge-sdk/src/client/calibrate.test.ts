import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError, type JmdcError } from '../errors.js';
import type { HeadOutput, ModelRunner } from '../model/runner.js';
import type { LoadedModel } from '../model/types.js';
import { calibrationIssues, measureHeads } from './calibrate.js';

/**
 * A runner whose heads and whole networks "take" scripted times on a virtual clock: `times(variant,
 * point, call)` gives the duration of a call (point 0 = the whole network).
 */
function fakeRunner(times: (variant: string, point: number, call: number) => number) {
  let clock = 0;
  const calls = new Map<string, number>();
  const tick = (v: string, p: number) => {
    const key = `${v}/${p}`;
    const n = calls.get(key) ?? 0;
    calls.set(key, n + 1);
    clock += times(v, p, n);
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
    head: async (v, p) => {
      tick(String(v), p);
      return {} as HeadOutput;
    },
    full: async (v) => {
      tick(String(v), 0);
      return new Float32Array(0);
    },
  };
  return { runner, now: () => clock, calls };
}

/** Per variant: heads to points 1..3 and the whole network, ms. */
const TRUE: Record<string, number[]> = { r000: [2, 4, 6, 8], r050: [1, 2, 3, 4] };
const at = (v: string, p: number) => (TRUE[v] as number[])[p === 0 ? 3 : p - 1] as number;

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

  it('rejects bad options with JMDC_ERR_INVALID_ARGUMENT', async () => {
    const { runner } = fakeRunner(() => 1);
    const err = (await measureHeads(runner, { repetitions: 0 }).catch((e: unknown) => e)) as JmdcError;
    expect(err.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(err.message).toBe('repetitions must be an integer >= 1 and <= 1000, got 0');
  });
});
