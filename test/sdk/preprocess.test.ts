import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isJmdcError } from '@jmdc/edge-sdk/errors';
import { loadModel, ModelRunner, preprocess } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { describe, expect, it } from 'vitest';
import { TINY_MODEL_DIR } from './fakeCloud.js';

interface Golden {
  images: number[][];
  logits: Record<string, number[][]>;
}

describe('preprocess matches training (tiny fixture, golden.json from the PyTorch pipeline)', () => {
  const model = loadModel(TINY_MODEL_DIR);
  const { manifest } = model;
  const golden = JSON.parse(readFileSync(join(model.dir, 'golden.json'), 'utf8')) as Golden;
  const batch = golden.images.length;
  const pixels = Uint8Array.from(golden.images.flat());

  it('golden images -> preprocess -> whole network reproduce the golden logits (max abs diff <= 1e-4)', async () => {
    const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
    const x = preprocess(manifest, pixels, batch);
    for (const v of manifest.variants) {
      const logits = await runner.full(v.id, x, batch);
      const want = golden.logits[v.id]?.flat() ?? [];
      expect(logits.length).toBe(want.length);
      let max = 0;
      for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs((logits[i] as number) - (want[i] as number)));
      expect(max, v.id).toBeLessThanOrEqual(1e-4);
    }
    await runner.close();
  });

  it('equals the formula pad(x/255 - mean)/std computed independently in float64 (<= 1e-6)', () => {
    const x = preprocess(manifest, pixels, batch);
    const [, h, w] = manifest.input.shape;
    const [, sh, sw] = manifest.input.sourceShape;
    const { mean, std, pad, padValue } = manifest.input.normalization;
    const m = mean[0] as number;
    const s = std[0] as number;
    let max = 0;
    for (let n = 0; n < batch; n++) {
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          const inside = y >= pad && y < pad + sh && xx >= pad && xx < pad + sw;
          const v = inside ? (pixels[n * sh * sw + (y - pad) * sw + (xx - pad)] as number) : padValue;
          max = Math.max(max, Math.abs((x[n * h * w + y * w + xx] as number) - (v / 255 - m) / s));
        }
      }
    }
    expect(max).toBeLessThanOrEqual(1e-6);
  });

  it('rejects a wrong number of bytes with JMDC_ERR_SHAPE_MISMATCH', () => {
    let err: unknown;
    try {
      preprocess(manifest, new Uint8Array(10), 1);
    } catch (e) {
      err = e;
    }
    expect(isJmdcError(err, ErrorCodes.SHAPE_MISMATCH)).toBe(true);
  });
});
