/**
 * Which variants and files a point's function carries (the profile-rows rule), and that the handler
 * loads only those: a function deployed with variants ['r000'] needs no other block and refuses a
 * payload of another variant with JMDC_ERR_UNKNOWN_VARIANT.
 */
import { cpSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFeatures } from '@jmdc/edge-sdk/codec';
import { featureDims, loadModel } from '@jmdc/edge-sdk/model';
import { afterAll, describe, expect, it } from 'vitest';
import { optionsFromEnv } from './config.js';
import { ErrorCodes } from './errors.js';
import { modelFilesForPoint, readProfileRows, variantsForPoint, verifyPointFiles } from './modelFiles.js';
import { createTailHandler } from './TailHandler.js';

const REPO = join(import.meta.dirname, '..', '..');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const { manifest } = loadModel(TINY);

describe('variantsForPoint', () => {
  it('keeps, in manifest order, the variants the rows of that point use', () => {
    const rows = [
      { point: 0, variant: 0 },
      { point: 2, variant: 0.5 },
      { point: 2, variant: 0 },
    ];
    expect(variantsForPoint(manifest, 0, rows)).toEqual(['r000']);
    expect(variantsForPoint(manifest, 2, rows)).toEqual(['r000', 'r050']);
    // no row for point 1: it serves every variant; no profile at all: every variant
    expect(variantsForPoint(manifest, 1, rows)).toEqual(['r000', 'r050']);
    expect(variantsForPoint(manifest, 3)).toEqual(['r000', 'r050']);
  });

  it('rejects a row naming a variant the model lacks with JMDC_ERR_UNKNOWN_VARIANT', () => {
    expect(() => variantsForPoint(manifest, 1, [{ point: 1, variant: 0.3 }])).toThrow(
      expect.objectContaining({ code: ErrorCodes.UNKNOWN_VARIANT }),
    );
  });

  it('selects only the chosen variants’ tail blocks', () => {
    const files = modelFilesForPoint(manifest, 0, ['r000']);
    expect(files[0]).toBe('manifest.json');
    expect(files.slice(1).every((f) => f.startsWith('r000/'))).toBe(true);
    expect(files).toHaveLength(1 + manifest.variants[0]!.blocks.length);
  });
});

describe('readProfileRows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jmdc-rows-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads point and variant of each row; undefined without a profile', () => {
    expect(readProfileRows(TINY)).toBeUndefined();
    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ rows: [{ point: 0, variant: 0, keep: 1 }] }));
    expect(readProfileRows(dir)).toEqual([{ point: 0, variant: 0 }]);
  });

  it('rejects a profile without rows with JMDC_ERR_MANIFEST_INVALID', () => {
    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ model: 'x' }));
    expect(() => readProfileRows(dir)).toThrow(expect.objectContaining({ code: ErrorCodes.MANIFEST_INVALID }));
  });
});

describe('a handler deployed with some variants only', () => {
  const work = mkdtempSync(join(tmpdir(), 'jmdc-variants-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('inits without the other variants’ files and refuses their payloads', async () => {
    const p = 2;
    for (const f of modelFilesForPoint(manifest, p, ['r000'])) {
      cpSync(join(TINY, f), join(work, f), { recursive: true });
    }
    const opts = optionsFromEnv({ JMDC_POINT: String(p), JMDC_VARIANTS: 'r000', JMDC_THREADS: '1' }, work);
    expect(opts.variants).toEqual(['r000']);
    const tail = await createTailHandler({ ...opts, log: () => {} });
    try {
      const ref = { id: manifest.id, hash: manifest.hash };
      const payloadOf = (variantIdx: number) => {
        const v = manifest.variants[variantIdx]!;
        const dims = featureDims(v, p);
        const n = dims[0] * dims[1] * dims[2];
        return encodeFeatures(
          {
            dims,
            batch: 1,
            features: new Float32Array(n).fill(0.25),
            attention: new Float32Array(dims[1] * dims[2]).fill(1),
          },
          { model: ref, point: p, variant: v.pruneRatio, bits: 8 },
        );
      };
      const ok = (await tail.handle({ payload: Buffer.from(payloadOf(0)).toString('base64') })) as {
        statusCode: number;
        variant: number;
      };
      expect(ok.statusCode).toBe(200);
      expect(ok.variant).toBe(0);
      const refused = (await tail.handle({ payload: Buffer.from(payloadOf(1)).toString('base64') })) as {
        statusCode: number;
        error: { code: string };
      };
      expect(refused.statusCode).toBe(400);
      expect(refused.error.code).toBe(ErrorCodes.UNKNOWN_VARIANT);
    } finally {
      await tail.close();
    }
  });
});

describe('verifyPointFiles: paths and links', () => {
  const work = mkdtempSync(join(tmpdir(), 'jmdc-pointfiles-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('passes for the fixture; a tail block linked outside the folder is JMDC_ERR_MANIFEST_INVALID', () => {
    const dir = join(work, 'model');
    cpSync(TINY, dir, { recursive: true });
    const model = loadModel(dir);
    expect(() => verifyPointFiles(model, 4)).not.toThrow();
    renameSync(join(dir, 'r000', 'classifier.onnx'), join(work, 'classifier.onnx'));
    symlinkSync(join(work, 'classifier.onnx'), join(dir, 'r000', 'classifier.onnx'));
    expect(() => verifyPointFiles(model, 4)).toThrow(
      expect.objectContaining({
        code: ErrorCodes.MANIFEST_INVALID,
        details: expect.objectContaining({ reason: 'outside-model-folder' }),
      }),
    );
  });

  it('a hand-made manifest with a NUL, .. or absolute block file is JMDC_ERR_MANIFEST_INVALID before any read', () => {
    for (const file of ['r000/classifier.onnx\0', '../x.onnx', '/etc/passwd', 'r000\\classifier.onnx']) {
      const m = structuredClone(manifest);
      m.variants[0]!.blocks.at(-1)!.file = file;
      expect(() => verifyPointFiles({ dir: TINY, manifest: m }, 4, ['r000'])).toThrow(
        expect.objectContaining({ code: ErrorCodes.MANIFEST_INVALID }),
      );
    }
  });
});
