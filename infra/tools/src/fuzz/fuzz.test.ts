/**
 * The bounded fuzz run of CI: the generators of `npm run fuzz` against the real tail handler of the tiny
 * fixture model (real onnxruntime) in this process, a few thousand cases with fast-check's shrinking, and
 * the oracle that judges them.
 */
import { join } from 'node:path';
import { decodePayload } from '@jmdc/edge-sdk/codec';
import { isJmdcError } from '@jmdc/edge-sdk/errors';
import { loadModel } from '@jmdc/edge-sdk/model';
import { createTailHandler, type TailHandler } from '@jmdc/functions';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FuzzCase, fuzzCaseArb, fuzzTarget, wrap } from './generators.js';
import { judge, newStats } from './oracle.js';
import { runCase } from './runInProcess.js';

const TINY = join(import.meta.dirname, '..', '..', '..', '..', 'test', 'fixtures', 'models', 'tiny-vgg11');
const POINTS = [0, 2, 5];
/** Fixed, so that CI is repeatable; set JMDC_FUZZ_SEED to explore. */
const SEED = Number(process.env.JMDC_FUZZ_SEED ?? 20261127);

describe('fuzzing the tail handler in-process (tiny-vgg11)', () => {
  const model = loadModel(TINY);
  const handlers = new Map<number, TailHandler>();

  beforeAll(async () => {
    for (const p of POINTS)
      handlers.set(p, await createTailHandler({ point: p, modelDir: TINY, threads: 1, log: () => {} }));
  });
  afterAll(async () => {
    await Promise.all([...handlers.values()].map((h) => h.close()));
  });

  it.each(POINTS)('point %i: 1,000 generated cases, each a 200 or a typed 4xx as its family demands', async (point) => {
    const tail = handlers.get(point)!;
    const stats = newStats();
    await fc.assert(
      fc.asyncProperty(fuzzCaseArb(fuzzTarget(model, point)), async (c) => {
        const failure = await runCase(tail, c, stats);
        expect(failure, JSON.stringify(stats.failures.at(-1))).toBeUndefined();
      }),
      { numRuns: 1000, seed: SEED + point },
    );
    expect(stats.crashes + stats.decoderCrashes + stats.hangs + stats.status5xx + stats.wrongAnswers).toBe(0);
    // every family was generated and the valid ones were answered 200
    const families = Object.keys(stats.byFamily);
    for (const f of [
      'random-bytes',
      'bitflip',
      'truncate',
      'header-field',
      'other-target',
      'event-shape',
      'base64',
      'valid',
    ]) {
      expect(families).toContain(f);
    }
    if (point > 0) expect(families).toContain('huge-values');
    if (point > 0) {
      // float32 frames: valid ones answered 200, NaN / infinite / cut ones refused
      expect(stats.byFamily.float32!.accepted).toBeGreaterThan(0);
      expect(stats.byFamily.float32!.rejected).toBeGreaterThan(0);
    }
    expect(stats.byFamily.valid!.accepted).toBe(stats.byFamily.valid!.cases);
    expect(stats.byFamily.truncate!.accepted).toBe(0);
  });

  it('the valid seeds decode under the handler’s expectations and every foreign seed is refused', () => {
    for (const point of POINTS) {
      const tail = handlers.get(point)!;
      const target = fuzzTarget(model, point);
      const opts = {
        expectModelHash: tail.modelHash,
        expectModelId: model.manifest.id,
        expectPoint: point,
        expectLayouts: tail.layouts,
        maxAbsValue: tail.maxAbsFeature,
      };
      expect(target.seeds.length).toBeGreaterThanOrEqual(9);
      for (const s of target.seeds) expect(decodePayload(s, opts).header.point).toBe(point);
      expect(target.foreign.length).toBeGreaterThanOrEqual(4);
      for (const s of target.foreign) {
        let code: string | undefined;
        try {
          decodePayload(s, opts);
        } catch (e) {
          if (!isJmdcError(e)) throw e;
          code = e.code;
        }
        expect([point, code]).toEqual([
          point,
          expect.stringMatching(/^JMDC_ERR_(MODEL_MISMATCH|WRONG_POINT|UNKNOWN_VARIANT|SHAPE_MISMATCH)$/),
        ]);
      }
    }
  });
});

describe('the fuzz oracle', () => {
  const payload = Uint8Array.of(1, 2, 3);
  const c = (expect: FuzzCase['expect']): FuzzCase => ({ family: 'f', event: wrap(payload, 'invoke'), expect });
  const ok = { logits: [[0.5, -1]], classes: [0] };
  const err = { error: { code: 'JMDC_ERR_BAD_MAGIC', message: 'not a jmdc payload' } };

  it('counts a 5xx, a throw and a slow answer as status5xx, crash and hang', () => {
    const s = newStats();
    expect(
      judge(s, c('reject'), { status: 500, body: { error: { code: 'JMDC_ERR_INTERNAL', message: 'x' } }, ms: 1 }),
    ).toBe('status 500');
    expect(judge(s, c('reject'), { threw: new Error('boom'), ms: 1 })).toBe('crash');
    expect(judge(s, c('reject'), { status: 400, body: err, ms: 1500 })).toBe('hang');
    expect([s.cases, s.status5xx, s.crashes, s.hangs, s.wrongAnswers]).toEqual([3, 1, 1, 1, 0]);
  });

  it('counts a refused valid input, an accepted invalid one, an untyped 4xx and a stack in a body as wrong answers', () => {
    const s = newStats();
    expect(judge(s, c('ok'), { status: 400, body: err, ms: 1 })).toBe('valid input refused');
    expect(judge(s, c('reject'), { status: 200, body: ok, ms: 1 })).toBe('invalid input answered 200');
    expect(judge(s, c('any'), { status: 400, body: { message: 'bad' }, ms: 1 })).toBe(
      'status 400 without a typed error',
    );
    expect(
      judge(s, c('any'), {
        status: 400,
        body: { error: { code: 'JMDC_ERR_BAD_HEADER', message: 'at decode (/var/task/index.mjs:12:5)' } },
        ms: 1,
      }),
    ).toBe('stack or path in the body');
    expect(judge(s, c('any'), { status: 200, body: { logits: [[Number.NaN, 1]], classes: [1] }, ms: 1 })).toBe(
      '200 without finite logits',
    );
    expect(s.wrongAnswers).toBe(5);
  });

  it('accepts a typed 4xx for what is invalid and a 200 with finite logits for what is valid', () => {
    const s = newStats();
    expect(judge(s, c('reject'), { status: 413, body: err, ms: 1 })).toBeUndefined();
    expect(judge(s, c('ok'), { status: 200, body: ok, ms: 1 })).toBeUndefined();
    expect(judge(s, c('any'), { status: 200, body: ok, ms: 1 })).toBeUndefined();
    expect(s.codes).toEqual({ JMDC_ERR_BAD_MAGIC: 1 });
    expect(s.byFamily.f).toEqual({ cases: 3, accepted: 2, rejected: 1 });
  });
});
