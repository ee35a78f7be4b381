import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, ModelError } from '../errors.js';
import type { LoadedModel, Manifest, Variant } from './types.js';

const MODEL_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Finds the folder of a model: `model` is a path to a folder holding `manifest.json`, or a model id
 * looked up in `$JMDC_MODELS_DIR`, then in `models/` of the current directory and its parents.
 *
 * @example
 * const dir = resolveModelDir('fmnist-vgg16') // -> /path/to/repo/models/fmnist-vgg16
 */
export function resolveModelDir(model: string): string {
  if (!model) throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, 'no model given');
  if (existsSync(join(model, 'manifest.json'))) return resolve(model);
  if (!MODEL_ID.test(model)) {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `no manifest.json in ${model}`, { model });
  }
  const roots: string[] = [];
  if (process.env.JMDC_MODELS_DIR) roots.push(process.env.JMDC_MODELS_DIR);
  for (let d = process.cwd(); ; d = dirname(d)) {
    roots.push(join(d, 'models'));
    if (dirname(d) === d) break;
  }
  // the repository layout: edge-sdk/{src,dist}/model -> ../../../models
  roots.push(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models'));
  for (const root of roots) {
    const dir = join(root, model);
    if (existsSync(join(dir, 'manifest.json'))) return resolve(dir);
  }
  throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `model ${model} not found (looked in ${roots.join(', ')})`, {
    model,
  });
}

function fail(dir: string, what: string): never {
  throw new ModelError(ErrorCodes.MANIFEST_INVALID, `${join(dir, 'manifest.json')}: ${what}`, { dir });
}

function isShape(v: unknown, len?: number): v is number[] {
  return (
    Array.isArray(v) &&
    (len === undefined || v.length === len) &&
    v.every((x) => Number.isInteger(x) && x > 0 && x <= 1 << 20)
  );
}

/** Checks the structure of a parsed manifest; throws MANIFEST_INVALID naming the first problem. */
export function validateManifest(m: unknown, dir = '.'): Manifest {
  if (typeof m !== 'object' || m === null) fail(dir, 'not an object');
  const o = m as Record<string, unknown>;
  if (typeof o.id !== 'string' || !MODEL_ID.test(o.id)) fail(dir, 'id missing or invalid');
  if (typeof o.hash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(o.hash)) fail(dir, 'hash must be sha256:<64 hex>');
  const input = o.input as Manifest['input'] | undefined;
  if (!input || !isShape(input.shape, 3) || !isShape(input.sourceShape, 3)) fail(dir, 'input shapes invalid');
  const norm = input.normalization;
  if (!norm || norm.mean?.length !== input.shape[0] || norm.std?.length !== input.shape[0]) {
    fail(dir, 'normalization must have one mean and std per input channel');
  }
  if (!norm.std.every((s) => s > 0) || !Number.isInteger(norm.pad) || norm.pad < 0) fail(dir, 'normalization invalid');
  if (
    input.sourceShape[1] + 2 * norm.pad !== input.shape[1] ||
    input.sourceShape[2] + 2 * norm.pad !== input.shape[2]
  ) {
    fail(dir, 'sourceShape + 2*pad must equal shape');
  }
  if (!Array.isArray(o.classes) || o.classes.length < 2) fail(dir, 'classes missing');
  const points = o.points as Manifest['points'];
  if (!Array.isArray(points) || points.length < 1) fail(dir, 'points missing');
  points.forEach((p, i) => {
    if (p.point !== i + 1 || !isShape(p.featureShape, 3)) fail(dir, `points[${i}] invalid`);
  });
  const variants = o.variants as Variant[];
  if (!Array.isArray(variants) || variants.length < 1) fail(dir, 'variants missing');
  for (const v of variants) {
    if (typeof v.pruneRatio !== 'number' || v.pruneRatio < 0 || v.pruneRatio >= 1) fail(dir, 'pruneRatio invalid');
    if (!Array.isArray(v.blocks) || v.blocks.length !== points.length + 1) {
      fail(dir, `variant ${v.id}: expected ${points.length + 1} block files`);
    }
    v.blocks.forEach((b, i) => {
      if (b.block !== i + 1 || typeof b.file !== 'string' || isAbsolute(b.file) || normalize(b.file).startsWith('..')) {
        fail(dir, `variant ${v.id}: block ${i + 1} file invalid`);
      }
      if (!isShape(b.outShape) || !/^[0-9a-f]{64}$/.test(b.sha256))
        fail(dir, `variant ${v.id}: block ${i + 1} invalid`);
    });
    if (!Array.isArray(v.fill) || v.fill.length !== points.length) fail(dir, `variant ${v.id}: fill invalid`);
    v.fill.forEach((f, i) => {
      if (f.length !== v.blocks[i]?.outShape[0]) fail(dir, `variant ${v.id}: fill[${i}] length`);
    });
  }
  return m as Manifest;
}

/**
 * Loads and validates `manifest.json` of a model (by id or folder).
 *
 * @example
 * const { dir, manifest } = loadModel('fmnist-vgg16')
 * console.log(manifest.points.map((p) => p.featureShape))
 */
export function loadModel(model: string): LoadedModel {
  const dir = resolveModelDir(model);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    throw new ModelError(
      ErrorCodes.MANIFEST_INVALID,
      `${dir}/manifest.json: ${(e as Error).message}`,
      { dir },
      {
        cause: e,
      },
    );
  }
  return { dir, manifest: validateManifest(parsed, dir) };
}

/** Lists every artifact file of a manifest (relative paths). */
export function artifactFiles(manifest: Manifest): string[] {
  const files = manifest.variants.flatMap((v) => v.blocks.map((b) => b.file));
  if (manifest.golden) files.push(manifest.golden);
  return files;
}

/** sha256 hex of a file. */
export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The manifest's content hash recomputed from the files on disk (same rule as the Python exporter). */
export function computeContentHash(dir: string, files: string[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort()) h.update(`${f}\0${sha256File(join(dir, f))}\n`);
  return `sha256:${h.digest('hex')}`;
}

/**
 * Recomputes every file's sha256 and the content hash; throws MODEL_HASH_MISMATCH on any difference.
 *
 * @example
 * verifyModel(loadModel('fmnist-vgg16'))
 */
export function verifyModel({ dir, manifest }: LoadedModel): void {
  for (const v of manifest.variants) {
    for (const b of v.blocks) {
      const path = join(dir, b.file);
      if (!resolve(path).startsWith(resolve(dir) + sep)) fail(dir, `${b.file} escapes the model folder`);
      if (!existsSync(path)) throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `${path} missing`, { file: b.file });
      if (statSync(path).size !== b.bytes || sha256File(path) !== b.sha256) {
        throw new ModelError(ErrorCodes.MODEL_HASH_MISMATCH, `${path} does not match its manifest sha256`, {
          file: b.file,
        });
      }
    }
  }
  const actual = computeContentHash(dir, artifactFiles(manifest));
  if (actual !== manifest.hash) {
    throw new ModelError(ErrorCodes.MODEL_HASH_MISMATCH, `content hash ${actual} != manifest ${manifest.hash}`, {
      expected: manifest.hash,
      actual,
    });
  }
}

/**
 * Finds a variant by prune ratio (0.5) or id (`r050`).
 *
 * @example
 * findVariant(manifest, 0.5).id // 'r050'
 */
export function findVariant(manifest: Manifest, variant: number | string): Variant {
  const v = manifest.variants.find((x) =>
    typeof variant === 'number' ? Math.abs(x.pruneRatio - variant) < 1e-6 : x.id === variant,
  );
  if (!v) {
    throw new ModelError(ErrorCodes.UNKNOWN_VARIANT, `model ${manifest.id} has no variant ${variant}`, {
      variant,
      available: manifest.variants.map((x) => x.pruneRatio),
    });
  }
  return v;
}

/** Feature dims [C, H, W] of a variant at a partition point (1..points.length). */
export function featureDims(variant: Variant, point: number): [number, number, number] {
  const b = variant.blocks[point - 1];
  if (!b || point < 1 || b.outShape.length !== 3) {
    throw new ModelError(ErrorCodes.WRONG_POINT, `no partition point ${point}`, { point });
  }
  return b.outShape as [number, number, number];
}
