import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import {
  computeContentHash,
  loadModel,
  modelFilePath,
  resolveModelDir,
  unsafeFilePathReason,
  validateManifest,
  verifyModel,
} from './manifest.js';
import type { LoadedModel, Manifest } from './types.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const SHIPPED = join(REPO, 'models', 'fmnist-vgg16');

const tmpRoot = mkdtempSync(join(tmpdir(), 'jmdc-manifest-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

let n = 0;
/** A fresh copy of the tiny model at <case>/model, with a readable file at <case>/outside.json next to it. */
function copyTiny(): { root: string; dir: string; outside: string } {
  const root = join(tmpRoot, `case${n++}`);
  const dir = join(root, 'model');
  mkdirSync(root);
  cpSync(TINY, dir, { recursive: true });
  const outside = join(root, 'outside.json');
  writeFileSync(outside, '{"secret":true}');
  return { root, dir, outside };
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

function editManifest(dir: string, edit: (m: Record<string, unknown> & Manifest) => void): void {
  const m = readManifest(dir) as Record<string, unknown> & Manifest;
  edit(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

function codeOf(fn: () => unknown): { code?: string; reason?: unknown; name?: string } {
  try {
    fn();
  } catch (e) {
    const err = e as { code?: string; name?: string; details?: { reason?: unknown } };
    return { code: err.code, reason: err.details?.reason, name: err.name };
  }
  return {};
}

describe('loadModel: the shipped model and the tiny fixture', () => {
  it.each([
    ['tiny fixture', TINY],
    ['shipped fmnist-vgg16', SHIPPED],
  ])('%s loads and verifies', (_name, dir) => {
    const model = loadModel(dir);
    expect(model.dir).toBe(dir);
    expect(() => verifyModel(model)).not.toThrow();
  });

  it('an unmodified copy loads and verifies', () => {
    const { dir } = copyTiny();
    expect(() => verifyModel(loadModel(dir))).not.toThrow();
  });
});

describe('manifest paths: golden', () => {
  it.each([
    ['../outside.json'],
    ['r000/../../outside.json'],
    ['/etc/passwd'],
    ['..\\outside.json'],
    ['golden.json\0'],
    ['./golden.json'],
    ['r000//block1.onnx'],
    [''],
    ['C:/golden.json'],
    [42],
    [null],
  ])('golden %j: loadModel throws MANIFEST_INVALID (unsafe-path)', (golden) => {
    const { dir } = copyTiny();
    editManifest(dir, (m) => {
      m.golden = golden as string;
    });
    expect(codeOf(() => loadModel(dir))).toEqual({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'unsafe-path',
      name: 'ModelError',
    });
  });

  it('verifyModel of a hand-made LoadedModel with golden ../x throws MANIFEST_INVALID before reading it', () => {
    const { dir } = copyTiny();
    const manifest = { ...readManifest(dir), golden: '../outside.json' };
    const model: LoadedModel = { dir, manifest };
    expect(codeOf(() => verifyModel(model))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'unsafe-path',
    });
    expect(codeOf(() => computeContentHash(dir, ['../outside.json']))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
    });
  });
});

describe('manifest: variant ids', () => {
  it.each([
    ['../evil'],
    ['a/b'],
    ['r000\0'],
    [''],
    ['UPPER'],
    ['.hidden'],
    ['x'.repeat(65)],
    [7],
    [null],
  ])('variant id %j: MANIFEST_INVALID (invalid-variant-id)', (id) => {
    const { dir } = copyTiny();
    editManifest(dir, (m) => {
      (m.variants[1] as { id: unknown }).id = id;
    });
    expect(codeOf(() => loadModel(dir))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'invalid-variant-id',
    });
  });

  it('two variants with one id: MANIFEST_INVALID (duplicate-variant-id)', () => {
    const m = structuredClone(readManifest(TINY));
    m.variants[1]!.id = m.variants[0]!.id;
    expect(codeOf(() => validateManifest(m, TINY))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'duplicate-variant-id',
    });
  });

  it('a variant, block or point that is not an object: MANIFEST_INVALID, not a TypeError', () => {
    for (const edit of [
      (m: Manifest) => {
        (m.variants as unknown[])[0] = null;
      },
      (m: Manifest) => {
        (m.variants[0]!.blocks as unknown[])[0] = null;
      },
      (m: Manifest) => {
        (m.points as unknown[])[0] = 'x';
      },
      (m: Manifest) => {
        (m.variants[0]!.fill as unknown[])[0] = null;
      },
      (m: Manifest) => {
        (m.input as { normalization: unknown }).normalization = null;
      },
      (m: Manifest) => {
        (m as { input: unknown }).input = 3;
      },
    ]) {
      const m = structuredClone(readManifest(TINY));
      edit(m);
      expect(codeOf(() => validateManifest(m, TINY)).code).toBe(ErrorCodes.MANIFEST_INVALID);
    }
  });
});

describe('manifest paths: block files', () => {
  it.each([
    ['r000/block1.onnx\0'],
    ['r000/\0/block1.onnx'],
    ['r000/block1\n.onnx'],
    ['../outside.json'],
    ['r000/../../outside.json'],
    ['/etc/passwd'],
    ['r000\\block1.onnx'],
    ['r000/./block1.onnx'],
    ['x'.repeat(1025)],
  ])('block file %j: MANIFEST_INVALID (unsafe-path) at load time', (file) => {
    const { dir } = copyTiny();
    editManifest(dir, (m) => {
      m.variants[0]!.blocks[1]!.file = file;
    });
    expect(codeOf(() => loadModel(dir))).toMatchObject({ code: ErrorCodes.MANIFEST_INVALID, reason: 'unsafe-path' });
  });

  it('verifyModel of a hand-made LoadedModel with a NUL in a block file: MANIFEST_INVALID, not ERR_INVALID_ARG_VALUE', () => {
    const manifest = structuredClone(readManifest(TINY));
    manifest.variants[0]!.blocks[0]!.file = 'r000/block1.onnx\0';
    expect(codeOf(() => verifyModel({ dir: TINY, manifest }))).toMatchObject({ code: ErrorCodes.MANIFEST_INVALID });
  });

  it('unsafeFilePathReason accepts plain relative paths only', () => {
    expect(unsafeFilePathReason('r000/block1.onnx')).toBeUndefined();
    expect(unsafeFilePathReason('golden.json')).toBeUndefined();
    expect(unsafeFilePathReason('a..b/c..d')).toBeUndefined();
    for (const bad of ['..', '.', 'a/', '/a', 'a\\b', 'a\0', '', 'a/../b'])
      expect(unsafeFilePathReason(bad)).toBeTypeOf('string');
  });
});

describe('symbolic links', () => {
  it('a block file linked to a file outside the folder: MANIFEST_INVALID (outside-model-folder)', () => {
    const { root, dir } = copyTiny();
    const target = join(root, 'block2.onnx');
    renameSync(join(dir, 'r000', 'block2.onnx'), target);
    symlinkSync(target, join(dir, 'r000', 'block2.onnx'));
    expect(codeOf(() => loadModel(dir))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'outside-model-folder',
    });
  });

  it('a variant folder linked to a folder outside: MANIFEST_INVALID (outside-model-folder)', () => {
    const { root, dir } = copyTiny();
    renameSync(join(dir, 'r050'), join(root, 'r050'));
    symlinkSync(join(root, 'r050'), join(dir, 'r050'), 'dir');
    expect(codeOf(() => loadModel(dir))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'outside-model-folder',
    });
  });

  it('golden.json linked outside (relative link): MANIFEST_INVALID', () => {
    const { dir } = copyTiny();
    unlinkSync(join(dir, 'golden.json'));
    symlinkSync('../outside.json', join(dir, 'golden.json'));
    expect(codeOf(() => loadModel(dir))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'outside-model-folder',
    });
  });

  it('manifest.json linked to a manifest outside the folder: MANIFEST_INVALID', () => {
    const { root, dir } = copyTiny();
    renameSync(join(dir, 'manifest.json'), join(root, 'manifest.json'));
    symlinkSync(join(root, 'manifest.json'), join(dir, 'manifest.json'));
    expect(codeOf(() => loadModel(dir))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'outside-model-folder',
    });
  });

  it('a link to nothing: MODEL_NOT_FOUND; a block file that is a folder: MANIFEST_INVALID (not-a-file)', () => {
    const a = copyTiny();
    unlinkSync(join(a.dir, 'r000', 'block3.onnx'));
    symlinkSync(join(a.root, 'missing.onnx'), join(a.dir, 'r000', 'block3.onnx'));
    expect(codeOf(() => loadModel(a.dir)).code).toBe(ErrorCodes.MODEL_NOT_FOUND);
    const b = copyTiny();
    unlinkSync(join(b.dir, 'r000', 'block3.onnx'));
    mkdirSync(join(b.dir, 'r000', 'block3.onnx'));
    expect(codeOf(() => loadModel(b.dir))).toMatchObject({ code: ErrorCodes.MANIFEST_INVALID, reason: 'not-a-file' });
  });

  it('verifyModel checks links again before reading (a link made after loadModel)', () => {
    const { root, dir } = copyTiny();
    const model = loadModel(dir);
    renameSync(join(dir, 'r000', 'block1.onnx'), join(root, 'block1.onnx'));
    symlinkSync(join(root, 'block1.onnx'), join(dir, 'r000', 'block1.onnx'));
    expect(codeOf(() => verifyModel(model))).toMatchObject({
      code: ErrorCodes.MANIFEST_INVALID,
      reason: 'outside-model-folder',
    });
    expect(codeOf(() => modelFilePath(dir, 'r000/block1.onnx')).code).toBe(ErrorCodes.MANIFEST_INVALID);
  });

  it('links that stay inside the folder are followed, and the model folder itself may be a link', () => {
    const { root, dir } = copyTiny();
    renameSync(join(dir, 'golden.json'), join(dir, 'r000', 'golden-data.json'));
    symlinkSync('r000/golden-data.json', join(dir, 'golden.json'));
    const link = join(root, 'linked-model');
    symlinkSync(dir, link, 'dir');
    expect(() => verifyModel(loadModel(dir))).not.toThrow();
    expect(() => verifyModel(loadModel(link))).not.toThrow();
  });

  it('a missing block file is allowed at load time (a tail bundle holds only some blocks); verifyModel reports it', () => {
    const { dir } = copyTiny();
    unlinkSync(join(dir, 'r000', 'block1.onnx'));
    const model = loadModel(dir);
    expect(codeOf(() => verifyModel(model)).code).toBe(ErrorCodes.MODEL_NOT_FOUND);
  });
});

describe('resolveModelDir: ids and paths', () => {
  const saved = process.env.JMDC_MODELS_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.JMDC_MODELS_DIR;
    else process.env.JMDC_MODELS_DIR = saved;
  });

  function modelsDir(): { models: string; root: string } {
    const { root, dir } = copyTiny();
    const models = join(root, 'models');
    mkdirSync(models);
    renameSync(dir, join(models, 'tiny-vgg11'));
    // a model next to the models folder, which no id may reach
    cpSync(join(models, 'tiny-vgg11'), join(root, 'evil'), { recursive: true });
    process.env.JMDC_MODELS_DIR = models;
    return { models, root };
  }

  it('an id is looked up in $JMDC_MODELS_DIR', () => {
    const { models } = modelsDir();
    expect(resolveModelDir('tiny-vgg11')).toBe(join(models, 'tiny-vgg11'));
    expect(loadModel('tiny-vgg11').manifest.id).toBe('tiny-vgg11');
  });

  it.each([
    ['UPPER'],
    ['Tiny-vgg11'],
    ['.hidden'],
    ['-x'],
    ['a b'],
    ['x'.repeat(65)],
    ['..evil'],
  ])('%j is neither an id nor a path: MODEL_NOT_FOUND (invalid-id)', (id) => {
    modelsDir();
    expect(codeOf(() => resolveModelDir(id))).toMatchObject({ code: ErrorCodes.MODEL_NOT_FOUND, reason: 'invalid-id' });
  });

  it.each([
    ['../evil'],
    ['../../etc'],
    ['..'],
    ['models/../evil'],
    ['..\\evil'],
  ])('%j is a path (relative to the current directory), never looked up under a models folder', (p) => {
    modelsDir();
    expect(codeOf(() => resolveModelDir(p))).toMatchObject({ code: ErrorCodes.MODEL_NOT_FOUND, reason: 'no-manifest' });
  });

  it('a NUL byte: MODEL_NOT_FOUND (nul); not a string: INVALID_ARGUMENT; empty: MODEL_NOT_FOUND', () => {
    modelsDir();
    expect(codeOf(() => resolveModelDir('tiny-vgg11\0'))).toMatchObject({
      code: ErrorCodes.MODEL_NOT_FOUND,
      reason: 'nul',
    });
    expect(codeOf(() => resolveModelDir(7 as unknown as string)).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => resolveModelDir('')).code).toBe(ErrorCodes.MODEL_NOT_FOUND);
  });

  it('a path given explicitly is the caller’s choice', () => {
    const { root } = modelsDir();
    expect(resolveModelDir(join(root, 'evil'))).toBe(join(root, 'evil'));
  });
});
