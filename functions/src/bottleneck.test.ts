/**
 * Learned bottlenecks in the tail function: the layouts it serves, the decoder before the tail with the
 * bottleneck's fill at dropped positions (real onnxruntime on the tiny fixture's bottlenecks), the typed
 * 4xx answers, and which decoders a point's function carries (the profile-rows rule).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePayload, encodeFeatures, type ModelRef, reconstructFeatures } from '@jmdc/edge-sdk/codec';
import { type Bottleneck, loadModel, ModelRunner, preprocess } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionsFromEnv } from './config.js';
import { ErrorCodes } from './errors.js';
import {
  bottlenecksForPoint,
  modelBytesForPoint,
  modelFilesForPoint,
  selectBottlenecks,
  verifyPointFiles,
} from './modelFiles.js';
import { createTailHandler, type TailHandler, type TailResponse } from './TailHandler.js';

const REPO = join(import.meta.dirname, '..', '..');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const model = loadModel(TINY);
const { manifest } = model;
const ref: ModelRef = { id: manifest.id, hash: manifest.hash };
const BOTTLENECKS = manifest.bottlenecks ?? [];

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
function body(res: TailResponse): { status: number; body: any } {
  const { statusCode, ...rest } = res as { statusCode: number };
  return { status: statusCode, body: rest };
}

const invoke = (bytes: Uint8Array) => ({ payload: Buffer.from(bytes).toString('base64') });

describe('the tiny fixture has bottlenecks to test with', () => {
  it('at least one, at a point >= 1 of r000', () => {
    expect(BOTTLENECKS.length).toBeGreaterThan(0);
    expect(BOTTLENECKS.every((b) => b.point >= 1)).toBe(true);
  });
});

describe.each(BOTTLENECKS.map((b) => [b.id, b] as const))('TailHandler with bottleneck %s', (_id, b: Bottleneck) => {
  const golden = JSON.parse(readFileSync(join(TINY, manifest.golden ?? 'golden.json'), 'utf8')) as {
    images: number[][];
  };
  const batch = golden.images.length;
  const input = preprocess(manifest, Uint8Array.from(golden.images.flat()), batch);
  const reference = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
  let tail: TailHandler;
  let plain: TailHandler;
  const logs: string[] = [];

  beforeAll(async () => {
    tail = await createTailHandler({ point: b.point, modelDir: TINY, threads: 1, log: (l) => logs.push(l) });
    plain = await createTailHandler({ point: b.point, modelDir: TINY, threads: 1, bottlenecks: [], log: () => {} });
  });
  afterAll(async () => {
    await Promise.all([tail.close(), plain.close(), reference.close()]);
  });

  const code = async () => {
    const head = await reference.head(b.variant, b.point, input, batch, { bottleneck: true });
    return { dims: head.dims, batch, features: head.features, attention: head.attention };
  };

  it('serves one flagged layout of the code’s shape beside the plain layouts', () => {
    expect(tail.bottlenecks).toEqual(BOTTLENECKS.filter((x) => x.point === b.point).map((x) => x.id));
    expect(tail.layouts).toContainEqual({ kind: 'features', variant: b.variant, bottleneck: true, dims: b.codeShape });
    expect(tail.layouts.filter((l) => l.bottleneck !== true)).toHaveLength(manifest.variants.length);
    expect(plain.layouts.some((l) => l.bottleneck === true)).toBe(false);
  });

  it('runs the decoder, then the tail: the logits of the reference chain, dropped positions filled with its fill', async () => {
    const c = await code();
    for (const keep of [1, 0.5]) {
      const payload = encodeFeatures(c, {
        model: ref,
        point: b.point,
        variant: b.variant,
        keep,
        bits: 4,
        coder: 'rans',
        bottleneck: true,
      });
      const res = body(await tail.handle(invoke(payload)));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.bottleneck).toBe(b.id);
      // the same decode, filled with the bottleneck's fill, through decoder + tail
      const decoded = decodePayload(payload, { expectModelHash: manifest.hash });
      if (decoded.kind !== 'features') throw new Error('features expected');
      expect(decoded.header.bottleneck).toBe(true);
      const dense = reconstructFeatures(decoded, Float32Array.from(b.fill));
      const logits = await reference.tail(b.variant, b.point, dense, batch, { bottleneck: true });
      const got = (res.body.logits as number[][]).flat();
      for (const [i, z] of got.entries()) expect(z).toBeCloseTo(logits[i] as number, 4);
    }
    expect(logs.at(-1)).toContain('"code":"OK"');
  });

  it('a flagged code where the function serves no bottleneck: 400 JMDC_ERR_UNKNOWN_VARIANT', async () => {
    const payload = encodeFeatures(await code(), {
      model: ref,
      point: b.point,
      variant: b.variant,
      keep: 1,
      bits: 8,
      bottleneck: true,
    });
    const res = body(await plain.handle(invoke(payload)));
    expect(res.body.error?.code).toBe(ErrorCodes.UNKNOWN_VARIANT);
    expect(res.status).toBe(400);
  });

  it('a flagged frame of the features’ shape, or an unflagged frame of the code’s shape: 400 JMDC_ERR_SHAPE_MISMATCH', async () => {
    const head = await reference.head(b.variant, b.point, input, batch);
    const features = { dims: head.dims, batch, features: head.features, attention: head.attention };
    const flagged = encodeFeatures(features, {
      model: ref,
      point: b.point,
      variant: b.variant,
      keep: 1,
      bits: 8,
      bottleneck: true,
    });
    const unflagged = encodeFeatures(await code(), {
      model: ref,
      point: b.point,
      variant: b.variant,
      keep: 1,
      bits: 8,
    });
    for (const p of [flagged, unflagged]) {
      const res = body(await tail.handle(invoke(p)));
      expect(res.body.error?.code).toBe(ErrorCodes.SHAPE_MISMATCH);
      expect(res.status).toBe(400);
    }
  });
});

describe('which bottlenecks and decoder files a point’s function carries', () => {
  const b = BOTTLENECKS[0] as Bottleneck;
  const otherPoint = manifest.points.map((p) => p.point).find((p) => !BOTTLENECKS.some((x) => x.point === p)) as number;

  it('bottlenecksForPoint: those a bottleneck row of the point uses; all of the point without rows or rows there', () => {
    expect(bottlenecksForPoint(manifest, b.point)).toEqual([b.id]);
    expect(bottlenecksForPoint(manifest, b.point, [{ point: b.point, variant: b.variant }])).toEqual([]);
    expect(bottlenecksForPoint(manifest, b.point, [{ point: b.point, variant: b.variant, bottleneck: true }])).toEqual([
      b.id,
    ]);
    expect(bottlenecksForPoint(manifest, b.point, [{ point: 0, variant: 0 }])).toEqual([b.id]);
    expect(bottlenecksForPoint(manifest, otherPoint)).toEqual([]);
    expect(bottlenecksForPoint(manifest, 0)).toEqual([]);
    // a served variant list without the bottleneck's variant
    const other = manifest.variants.find((v) => Math.abs(v.pruneRatio - b.variant) > 1e-6);
    if (other) expect(bottlenecksForPoint(manifest, b.point, undefined, [other.id])).toEqual([]);
  });

  it('a bottleneck row for a variant without a bottleneck there: JMDC_ERR_MANIFEST_INVALID', () => {
    expect(() =>
      bottlenecksForPoint(manifest, otherPoint, [{ point: otherPoint, variant: 0, bottleneck: true }]),
    ).toThrow(expect.objectContaining({ code: ErrorCodes.MANIFEST_INVALID }));
  });

  it('modelFilesForPoint and modelBytesForPoint add the served decoders only', () => {
    const v = manifest.variants.find((x) => Math.abs(x.pruneRatio - b.variant) < 1e-6)?.id as string;
    const without = modelFilesForPoint(manifest, b.point, [v], []);
    const withIt = modelFilesForPoint(manifest, b.point, [v], [b.id]);
    expect(withIt).toEqual([...without, b.decoder.file]);
    expect(withIt).not.toContain(b.encoder.file);
    // by default, every bottleneck of the served variants at the point
    expect(modelFilesForPoint(manifest, b.point, [v])).toEqual(withIt);
    expect(modelBytesForPoint(manifest, b.point, [v], [b.id]) - modelBytesForPoint(manifest, b.point, [v], [])).toBe(
      b.decoder.bytes,
    );
    expect(() => selectBottlenecks(manifest, otherPoint, [b.id])).toThrow(
      expect.objectContaining({ code: ErrorCodes.UNKNOWN_VARIANT }),
    );
  });

  it('verifyPointFiles checks the served decoders: a missing one is JMDC_ERR_MODEL_NOT_FOUND', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'jmdc-bn-files-'));
    try {
      const dir = join(tmp, 'model');
      cpSync(TINY, dir, { recursive: true });
      rmSync(join(dir, b.decoder.file));
      const copy = loadModel(dir);
      expect(() => verifyPointFiles(copy, b.point, undefined, [])).not.toThrow();
      expect(() => verifyPointFiles(copy, b.point, undefined, [b.id])).toThrow(
        expect.objectContaining({ code: ErrorCodes.MODEL_NOT_FOUND }),
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a handler deployed without a bottleneck inits without its decoder', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'jmdc-bn-none-'));
    try {
      const dir = join(tmp, 'model');
      cpSync(TINY, dir, { recursive: true });
      rmSync(join(dir, b.decoder.file));
      const h = await createTailHandler({ point: b.point, modelDir: dir, threads: 1, bottlenecks: [], log: () => {} });
      expect(h.bottlenecks).toEqual([]);
      await h.close();
      await expect(
        createTailHandler({ point: b.point, modelDir: dir, threads: 1, log: () => {} }),
      ).rejects.toMatchObject({
        code: ErrorCodes.MODEL_NOT_FOUND,
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a bottleneck of a variant the function does not serve: init fails with JMDC_ERR_INVALID_ARGUMENT', async () => {
    const other = manifest.variants.find((v) => Math.abs(v.pruneRatio - b.variant) > 1e-6);
    if (!other) return;
    await expect(
      createTailHandler({ point: b.point, modelDir: TINY, threads: 1, variants: [other.id], bottlenecks: [b.id] }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
  });

  it('JMDC_BOTTLENECKS: comma-separated ids, empty for none, unset for the default', () => {
    expect(optionsFromEnv({ JMDC_POINT: '2', JMDC_BOTTLENECKS: 'r000-p2, x' }, '/m').bottlenecks).toEqual([
      'r000-p2',
      'x',
    ]);
    expect(optionsFromEnv({ JMDC_POINT: '2', JMDC_BOTTLENECKS: '' }, '/m').bottlenecks).toEqual([]);
    expect(optionsFromEnv({ JMDC_POINT: '2' }, '/m').bottlenecks).toBeUndefined();
  });
});
