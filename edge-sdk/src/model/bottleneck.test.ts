import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import type { InferenceBackend, InferenceSession, TensorData } from './backend.js';
import {
  artifactFiles,
  filesFor,
  findBottleneck,
  getBottleneck,
  loadModel,
  validateManifest,
  verifyModel,
} from './manifest.js';
import { ModelRunner } from './runner.js';
import type { Bottleneck, Manifest } from './types.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const tmpRoot = mkdtempSync(join(tmpdir(), 'jmdc-bottleneck-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

const HEX = 'a'.repeat(64);

/**
 * A manifest built here: 2 points, variants r000 (features [4,8,8] then [8,4,4]) and r050 (half the
 * channels), with one bottleneck at point 1 of r000 (code [2,8,8]).
 */
function manifest(edit?: (m: Manifest & { bottlenecks: Bottleneck[] }) => void): Manifest & {
  bottlenecks: Bottleneck[];
} {
  const block = (v: string, b: number, outShape: number[]) => ({
    block: b,
    file: `${v}/block${b}.onnx`,
    sha256: HEX,
    bytes: 100,
    inShape: [1],
    outShape,
    macs: 1000 * b,
    params: 10,
  });
  const variant = (id: string, ratio: number, c: number) => ({
    id,
    pruneRatio: ratio,
    blocks: [block(id, 1, [c, 8, 8]), block(id, 2, [2 * c, 4, 4]), { ...block(id, 3, [10]), file: `${id}/cls.onnx` }],
    macs: 6000,
    params: 30,
    fill: [new Array(c).fill(0), new Array(2 * c).fill(0)],
    accuracy: { val: 0.9, test: 0.9 },
  });
  const m = {
    id: 'built',
    hash: `sha256:${HEX}`,
    format: 1,
    input: {
      shape: [1, 16, 16],
      sourceShape: [1, 16, 16],
      dtype: 'uint8',
      layout: 'NCHW',
      normalization: { scale: 1 / 255, mean: [0.5], std: [0.5], pad: 0, padValue: 0 },
    },
    classes: ['a', 'b'],
    points: [
      { point: 1, featureShape: [4, 8, 8], attentionShape: [8, 8] },
      { point: 2, featureShape: [8, 4, 4], attentionShape: [4, 4] },
    ],
    variants: [variant('r000', 0, 4), variant('r050', 0.5, 2)],
    bottlenecks: [
      {
        id: 'r000-p1',
        point: 1,
        variant: 0,
        channels: 2,
        codeShape: [2, 8, 8],
        encoder: {
          file: 'r000/bottleneck1.enc.onnx',
          sha256: HEX,
          bytes: 10,
          inShape: [4, 8, 8],
          outShape: [2, 8, 8],
          macs: 500,
          params: 8,
        },
        decoder: {
          file: 'r000/bottleneck1.dec.onnx',
          sha256: HEX,
          bytes: 20,
          inShape: [2, 8, 8],
          outShape: [4, 8, 8],
          macs: 500,
          params: 8,
        },
        fill: [0.5, 0.25],
        accuracy: { val: 0.88, test: 0.87 },
      },
    ],
  } as unknown as Manifest & { bottlenecks: Bottleneck[] };
  edit?.(m);
  return m;
}

function failure(fn: () => unknown): { code?: string; reason?: unknown; message?: string } {
  try {
    fn();
  } catch (e) {
    const err = e as { code?: string; message?: string; details?: { reason?: unknown } };
    return { code: err.code, reason: err.details?.reason, message: err.message };
  }
  return {};
}

describe('manifest bottlenecks: validation', () => {
  it('accepts a consistent bottleneck, an empty list and none', () => {
    expect(validateManifest(manifest()).bottlenecks?.[0]?.id).toBe('r000-p1');
    expect(() =>
      validateManifest(
        manifest((m) => {
          m.bottlenecks = [];
        }),
      ),
    ).not.toThrow();
    expect(() =>
      validateManifest(
        manifest((m) => {
          delete (m as Partial<typeof m>).bottlenecks;
        }),
      ),
    ).not.toThrow();
  });

  const first = (m: { bottlenecks: Bottleneck[] }) => m.bottlenecks[0] as Bottleneck;
  const cases: Array<[string, (m: Manifest & { bottlenecks: Bottleneck[] }) => void, string]> = [
    [
      'bottlenecks not an array',
      (m) => {
        (m as unknown as Record<string, unknown>).bottlenecks = {};
      },
      'invalid-bottleneck',
    ],
    [
      'an entry that is not an object',
      (m) => {
        m.bottlenecks[0] = 3 as unknown as Bottleneck;
      },
      'invalid-bottleneck',
    ],
    [
      'an id with capitals',
      (m) => {
        first(m).id = 'R000-p1';
      },
      'invalid-bottleneck',
    ],
    [
      'an id with a slash',
      (m) => {
        first(m).id = '../x';
      },
      'invalid-bottleneck',
    ],
    [
      'point 0',
      (m) => {
        first(m).point = 0;
      },
      'invalid-bottleneck',
    ],
    [
      'point past the last',
      (m) => {
        first(m).point = 3;
      },
      'invalid-bottleneck',
    ],
    [
      'a variant the model lacks',
      (m) => {
        first(m).variant = 0.25;
      },
      'invalid-bottleneck',
    ],
    [
      'channels not matching codeShape',
      (m) => {
        first(m).channels = 3;
      },
      'invalid-bottleneck',
    ],
    [
      'codeShape H of another point',
      (m) => {
        first(m).codeShape = [2, 4, 4];
      },
      'invalid-bottleneck',
    ],
    [
      'encoder input of another shape',
      (m) => {
        first(m).encoder.inShape = [8, 4, 4];
      },
      'invalid-bottleneck',
    ],
    [
      'encoder output not the code',
      (m) => {
        first(m).encoder.outShape = [4, 8, 8];
      },
      'invalid-bottleneck',
    ],
    [
      'decoder input not the code',
      (m) => {
        first(m).decoder.inShape = [4, 8, 8];
      },
      'invalid-bottleneck',
    ],
    [
      'decoder output not the features',
      (m) => {
        first(m).decoder.outShape = [2, 8, 8];
      },
      'invalid-bottleneck',
    ],
    [
      'a short sha256',
      (m) => {
        first(m).encoder.sha256 = 'abc';
      },
      'invalid-bottleneck',
    ],
    [
      'negative bytes',
      (m) => {
        first(m).decoder.bytes = -1;
      },
      'invalid-bottleneck',
    ],
    ['missing macs', (m) => delete (first(m).decoder as Partial<Bottleneck['decoder']>).macs, 'invalid-bottleneck'],
    [
      'an encoder file outside the folder',
      (m) => {
        first(m).encoder.file = '../enc.onnx';
      },
      'unsafe-path',
    ],
    [
      'an absolute decoder file',
      (m) => {
        first(m).decoder.file = '/tmp/dec.onnx';
      },
      'unsafe-path',
    ],
    [
      'fill of the wrong length',
      (m) => {
        first(m).fill = [0.5];
      },
      'invalid-bottleneck',
    ],
    [
      'fill outside [0, 1]',
      (m) => {
        first(m).fill = [0.5, 2];
      },
      'invalid-bottleneck',
    ],
    [
      'accuracy above 1',
      (m) => {
        first(m).accuracy = { val: 1.5, test: 0.9 };
      },
      'invalid-bottleneck',
    ],
    ['an encoder that is missing', (m) => delete (first(m) as Partial<Bottleneck>).encoder, 'invalid-bottleneck'],
    ['the same id twice', (m) => m.bottlenecks.push({ ...first(m), point: 2 }), 'duplicate-bottleneck-id'],
    [
      'two bottlenecks for one (variant, point)',
      (m) => m.bottlenecks.push({ ...structuredClone(first(m)), id: 'other' }),
      'duplicate-bottleneck',
    ],
  ];
  it.each(cases)('%s: MANIFEST_INVALID (%s)', (_name, edit, reason) => {
    const f = failure(() => validateManifest(manifest(edit)));
    expect(f.code).toBe(ErrorCodes.MANIFEST_INVALID);
    expect(f.reason).toBe(reason);
  });

  it('a bottleneck of a pruned variant is checked against that variant’s shapes', () => {
    const ok = manifest((m) => {
      const b = structuredClone(first(m));
      Object.assign(b, { id: 'r050-p1', variant: 0.5, channels: 1, codeShape: [1, 8, 8], fill: [0.5] });
      b.encoder.inShape = [2, 8, 8];
      b.encoder.outShape = [1, 8, 8];
      b.decoder.inShape = [1, 8, 8];
      b.decoder.outShape = [2, 8, 8];
      m.bottlenecks.push(b);
    });
    expect(validateManifest(ok).bottlenecks).toHaveLength(2);
    // r000's feature shape at point 1 is not r050's
    const bad = manifest((m) => m.bottlenecks.push({ ...structuredClone(first(m)), id: 'r050-p1', variant: 0.5 }));
    expect(failure(() => validateManifest(bad)).code).toBe(ErrorCodes.MANIFEST_INVALID);
  });
});

describe('manifest bottlenecks: lookup and files', () => {
  const m = validateManifest(manifest());

  it('findBottleneck / getBottleneck by prune ratio or variant id', () => {
    expect(findBottleneck(m, 0, 1)?.id).toBe('r000-p1');
    expect(findBottleneck(m, 'r000', 1)?.id).toBe('r000-p1');
    expect(findBottleneck(m, 0, 2)).toBeUndefined();
    expect(findBottleneck(m, 0.5, 1)).toBeUndefined();
    const f = failure(() => getBottleneck(m, 0.5, 1));
    expect(f.code).toBe(ErrorCodes.UNKNOWN_VARIANT);
    expect(f.reason).toBe('no-bottleneck');
  });

  it('filesFor lists the head with the encoder and the tail with the decoder', () => {
    expect(filesFor(m, { point: 1, variant: 0, bottleneck: true, side: 'head' })).toEqual([
      'r000/block1.onnx',
      'r000/bottleneck1.enc.onnx',
    ]);
    expect(filesFor(m, { point: 1, variant: 0, bottleneck: true, side: 'tail' })).toEqual([
      'r000/block2.onnx',
      'r000/cls.onnx',
      'r000/bottleneck1.dec.onnx',
    ]);
    expect(filesFor(m, { point: 1, variant: 'r050' })).toEqual([
      'r050/block1.onnx',
      'r050/block2.onnx',
      'r050/cls.onnx',
    ]);
    expect(filesFor(m, { point: 0, variant: 0, side: 'tail' })).toEqual([
      'r000/block1.onnx',
      'r000/block2.onnx',
      'r000/cls.onnx',
    ]);
    expect(failure(() => filesFor(m, { point: 2, variant: 0, bottleneck: true })).code).toBe(
      ErrorCodes.UNKNOWN_VARIANT,
    );
    expect(failure(() => filesFor(m, { point: 3, variant: 0 })).code).toBe(ErrorCodes.WRONG_POINT);
  });

  it('artifactFiles (what the content hash covers) includes both bottleneck files', () => {
    expect(artifactFiles(m)).toEqual(
      expect.arrayContaining(['r000/bottleneck1.enc.onnx', 'r000/bottleneck1.dec.onnx']),
    );
  });
});

describe('the tiny fixture’s bottlenecks', () => {
  it('load, and verifyModel checks their files and the content hash over them', () => {
    const model = loadModel(TINY);
    expect((model.manifest.bottlenecks ?? []).length).toBeGreaterThan(0);
    expect(() => verifyModel(model)).not.toThrow();
  });

  it('a changed decoder file: MODEL_HASH_MISMATCH naming it', () => {
    const dir = join(tmpRoot, 'changed');
    cpSync(TINY, dir, { recursive: true });
    const model = loadModel(dir);
    const b = model.manifest.bottlenecks?.[0] as Bottleneck;
    const path = join(dir, b.decoder.file);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    writeFileSync(path, bytes);
    const err = (() => {
      try {
        verifyModel(model);
      } catch (e) {
        return e as { code?: string; details?: { file?: string } };
      }
      return {};
    })();
    expect(err.code).toBe(ErrorCodes.MODEL_HASH_MISMATCH);
    expect(err.details?.file).toBe(b.decoder.file);
  });
});

/** A backend that records which files ran with which feeds, and answers with tensors of the manifest's shapes. */
function recordingBackend(m: Manifest) {
  const runs: Array<{ file: string; input: string; dims: readonly number[] }> = [];
  const backend: InferenceBackend = {
    load: async (path): Promise<InferenceSession> => {
      const file = path.slice(path.indexOf('r0'));
      const b = (m.bottlenecks ?? []).find((x) => x.encoder.file === file || x.decoder.file === file);
      const block = m.variants.flatMap((v) => v.blocks).find((x) => x.file === file);
      return {
        inputNames: [],
        outputNames: [],
        release: async () => {},
        run: async (feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> => {
          const [input, t] = Object.entries(feeds)[0] as [string, TensorData];
          runs.push({ file, input, dims: t.dims });
          const n = t.dims[0] as number;
          const tensor = (shape: readonly number[], v: number): TensorData => ({
            data: new Float32Array(n * shape.reduce((a, c) => a * c, 1)).fill(v),
            dims: [n, ...shape],
          });
          if (b && file === b.encoder.file) return { code: tensor(b.codeShape, 0.5) };
          if (b && file === b.decoder.file) return { features: tensor(b.decoder.outShape, 1) };
          const out = block?.outShape ?? [];
          if (out.length === 1) return { logits: tensor(out, 2) };
          return { features: tensor(out, 1), attention: tensor(out.slice(1), 0.1) };
        },
      };
    },
  };
  return { backend, runs };
}

describe('ModelRunner with a bottleneck', () => {
  const m = validateManifest(manifest());
  const input = new Float32Array(2 * 16 * 16);

  it('head + encoder: the code of codeShape and block p’s attention; decoder + tail: logits', async () => {
    const { backend, runs } = recordingBackend(m);
    const runner = new ModelRunner({ dir: '/m', manifest: m }, backend);
    const head = await runner.head(0, 1, input, 2, { bottleneck: true });
    expect(head.dims).toEqual([2, 8, 8]);
    expect(head.bottleneck).toBe('r000-p1');
    expect(head.features.length).toBe(2 * 2 * 8 * 8);
    expect(head.features[0]).toBeCloseTo(0.5);
    expect(head.attention.length).toBe(2 * 8 * 8);
    expect(runs.map((r) => [r.file, r.input])).toEqual([
      ['r000/block1.onnx', 'x'],
      ['r000/bottleneck1.enc.onnx', 'features'],
    ]);
    expect(runs[1]?.dims).toEqual([2, 4, 8, 8]);
    runs.length = 0;
    const logits = await runner.tail(0, 1, head.features, 2, { bottleneck: true });
    expect(logits.length).toBe(2 * 10);
    expect(runs.map((r) => [r.file, r.input, r.dims])).toEqual([
      ['r000/bottleneck1.dec.onnx', 'code', [2, 2, 8, 8]],
      ['r000/block2.onnx', 'x', [2, 4, 8, 8]],
      ['r000/cls.onnx', 'features', [2, 8, 4, 4]],
    ]);
  });

  it('without the option: no bottleneck file runs', async () => {
    const { backend, runs } = recordingBackend(m);
    const runner = new ModelRunner({ dir: '/m', manifest: m }, backend);
    const head = await runner.head(0, 1, input, 2);
    expect(head.dims).toEqual([4, 8, 8]);
    expect(head.bottleneck).toBeUndefined();
    await runner.tail(0, 1, head.features, 2);
    expect(runs.some((r) => r.file.includes('bottleneck'))).toBe(false);
  });

  it('a variant without a bottleneck at the point: UNKNOWN_VARIANT; a code of the wrong size: SHAPE_MISMATCH', async () => {
    const { backend } = recordingBackend(m);
    const runner = new ModelRunner({ dir: '/m', manifest: m }, backend);
    await expect(runner.head(0.5, 1, input, 2, { bottleneck: true })).rejects.toMatchObject({
      code: ErrorCodes.UNKNOWN_VARIANT,
    });
    await expect(runner.tail(0, 1, new Float32Array(2 * 4 * 8 * 8), 2, { bottleneck: true })).rejects.toMatchObject({
      code: ErrorCodes.SHAPE_MISMATCH,
    });
  });

  it('warm creates the encoder or decoder session with the blocks', async () => {
    const { backend } = recordingBackend(m);
    const loaded: string[] = [];
    const runner = new ModelRunner(
      { dir: '/m', manifest: m },
      {
        load: (p) => {
          loaded.push(p.slice(p.indexOf('r0')));
          return backend.load(p);
        },
      },
    );
    await runner.warm(0, { tailFrom: 1, bottleneck: true });
    expect(loaded.sort()).toEqual(['r000/block2.onnx', 'r000/bottleneck1.dec.onnx', 'r000/cls.onnx']);
  });
});

describe('ModelRunner on the tiny fixture (onnxruntime)', () => {
  it('head + encoder -> decoder + tail gives the golden bottleneck logits', async () => {
    const model = loadModel(TINY);
    const golden = JSON.parse(readFileSync(join(TINY, 'golden.json'), 'utf8')) as {
      bottlenecks?: Record<string, number[][]>;
      images?: number[][];
    };
    const { OrtBackend } = await import('../runtime/index.js');
    const { preprocess } = await import('./preprocess.js');
    const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
    try {
      const images = golden.images ?? [];
      expect(images.length).toBeGreaterThan(0);
      const x = preprocess(model.manifest, Uint8Array.from(images.flat()), images.length);
      for (const b of model.manifest.bottlenecks ?? []) {
        const expected = golden.bottlenecks?.[b.id];
        expect(expected, `golden logits of ${b.id}`).toBeDefined();
        const head = await runner.head(b.variant, b.point, x, images.length, { bottleneck: true });
        expect(head.dims).toEqual(b.codeShape);
        for (const v of head.features) expect(v > 0 && v < 1).toBe(true);
        const logits = await runner.tail(b.variant, b.point, head.features, images.length, { bottleneck: true });
        const flat = (expected ?? []).flat();
        expect(logits.length).toBe(flat.length);
        for (const [i, z] of flat.entries()) expect(logits[i]).toBeCloseTo(z, 3);
      }
    } finally {
      await runner.close();
    }
  });
});
