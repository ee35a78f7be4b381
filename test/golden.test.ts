import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isJmdcError } from '@jmdc/edge-sdk/errors';
import { loadModel, ModelRunner, preprocess, verifyModel } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { describe, expect, it } from 'vitest';

interface Golden {
  sourceShape: [number, number, number];
  images: number[][];
  labels: number[];
  logits: Record<string, number[][]>;
}

const MODELS = [
  { name: 'shipped fmnist-vgg16', path: join(import.meta.dirname, '..', 'models', 'fmnist-vgg16') },
  { name: 'tiny fixture', path: join(import.meta.dirname, 'fixtures', 'models', 'tiny-vgg11') },
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? Number.NaN) - (b[i] ?? Number.NaN)));
  return m;
}

describe.each(MODELS)('model artifacts: $name', ({ path }) => {
  const model = loadModel(path);
  const { manifest } = model;
  const golden = JSON.parse(readFileSync(join(model.dir, manifest.golden ?? 'golden.json'), 'utf8')) as Golden;
  const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
  const batch = golden.images.length;
  const pixels = Uint8Array.from(golden.images.flat());
  const input = preprocess(manifest, pixels, batch);
  const classes = manifest.classes.length;

  it('matches the hashes in its manifest', () => {
    expect(() => verifyModel(model)).not.toThrow();
  });

  it('loads every file the manifest lists and each block maps its declared input shape to its output shape', async () => {
    const P = manifest.points.length;
    for (const v of manifest.variants) {
      expect(v.blocks.map((b) => b.block)).toEqual(Array.from({ length: P + 1 }, (_, i) => i + 1));
      for (const b of v.blocks) {
        const s = await runner.session(v, b.block);
        // head blocks take `x`, the classifier takes the last block's `features`
        const input = b.block <= P ? 'x' : 'features';
        expect(s.inputNames).toEqual([input]);
        const per = b.inShape.reduce((a, d) => a * d, 1);
        const out = await s.run({ [input]: { data: new Float32Array(2 * per).fill(0.5), dims: [2, ...b.inShape] } });
        if (b.block <= P) {
          // a head block: features of outShape and a spatial attention map of its H x W
          expect([...s.outputNames].sort()).toEqual(['attention', 'features']);
          expect(out.features?.dims).toEqual([2, ...b.outShape]);
          const [, oh, ow] = b.outShape as [number, number, number];
          expect(out.attention?.data.length).toBe(2 * oh * ow);
          for (const x of out.attention?.data ?? []) {
            expect(x).toBeGreaterThanOrEqual(0);
            expect(x).toBeLessThanOrEqual(1);
          }
        } else {
          // the classifier: one row of logits per item
          expect(s.outputNames).toEqual(['logits']);
          expect(out.logits?.dims).toEqual([2, classes]);
        }
        for (const t of Object.values(out)) expect(t.data.every(Number.isFinite)).toBe(true);
        // both items are equal, so are their outputs
        for (const t of Object.values(out)) {
          const half = t.data.length / 2;
          expect(maxAbsDiff(t.data.subarray(0, half), t.data.subarray(half))).toBe(0);
        }
      }
    }
  });

  it.each(manifest.variants.map((v) => v.id))('whole network of %s reproduces the golden logits', async (id) => {
    const logits = await runner.full(id, input, batch);
    expect(logits.length).toBe(batch * classes);
    expect(maxAbsDiff(logits, golden.logits[id]!.flat())).toBeLessThanOrEqual(1e-4);
  });

  it('head + tail at every point and variant equals the whole network', async () => {
    for (const v of manifest.variants) {
      const whole = golden.logits[v.id]!.flat();
      for (const p of manifest.points) {
        const head = await runner.head(v.id, p.point, input, batch);
        const [c, h, w] = head.dims;
        expect(head.features.length).toBe(batch * c * h * w);
        expect(head.attention.length).toBe(batch * h * w);
        const logits = await runner.tail(v.id, p.point, head.features, batch);
        expect(maxAbsDiff(logits, whole)).toBeLessThanOrEqual(1e-4);
      }
    }
  });

  it('rejects features of the wrong size with JMDC_ERR_SHAPE_MISMATCH', async () => {
    const err = await runner.tail(0, 1, new Float32Array(3), 1).catch((e: unknown) => e);
    expect(isJmdcError(err, ErrorCodes.SHAPE_MISMATCH)).toBe(true);
  });
});
