import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, ModelError } from '../errors.js';
import type { LoadedModel, Manifest, Variant } from './types.js';

/**
 * A model id and a variant id: lowercase letters, digits, `.`, `_` and `-`, starting with a letter or
 * digit, 1..64 characters. Lowercase only, so an id names one folder on case-insensitive file systems too.
 */
const MODEL_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VARIANT_ID = MODEL_ID;
/** Longest file path a manifest may name, in characters. */
const MAX_FILE_PATH = 1024;

/**
 * Whether `model` names a folder by path rather than a model id: it is absolute, `.` or `..`, or
 * contains `/` or `\`.
 */
function isPathLike(model: string): boolean {
  return isAbsolute(model) || model === '.' || model === '..' || model.includes('/') || model.includes('\\');
}

/**
 * Finds the folder of a model. `model` is either
 * - a path (absolute, `.`, `..`, or anything containing `/` or `\`, e.g. `./my-model` or
 *   `/var/task/model`): the folder itself, which must hold `manifest.json`; where a path points is the
 *   caller's choice; or
 * - a model id: a plain name matching `^[a-z0-9][a-z0-9._-]{0,63}$` (so it can never climb out of a
 *   models folder), looked up as `<root>/<id>` in `$JMDC_MODELS_DIR`, then in `models/` of the current
 *   directory and its parents, then in the repository's `models/`. A bare name is never taken as a
 *   folder relative to the current directory: write `./name` for that.
 *
 * Throws MODEL_NOT_FOUND (details.reason says why) for an empty string, a string with a NUL byte, a
 * name that is neither a path nor a valid id, or a model found nowhere; INVALID_ARGUMENT for a non-string.
 *
 * @example
 * const dir = resolveModelDir('fmnist-vgg16') // -> /path/to/repo/models/fmnist-vgg16
 * resolveModelDir('./test/fixtures/models/tiny-vgg11') // a path: used as is
 * resolveModelDir('../../etc') // a path without manifest.json: MODEL_NOT_FOUND
 */
export function resolveModelDir(model: string): string {
  if (typeof model !== 'string') {
    throw new ModelError(
      ErrorCodes.INVALID_ARGUMENT,
      `model must be a string (an id or a folder), got ${typeof model}`,
    );
  }
  if (!model) throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, 'no model given', { reason: 'empty' });
  if (model.includes('\0')) {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, 'a model id or folder cannot contain a NUL byte', {
      model,
      reason: 'nul',
    });
  }
  if (isPathLike(model)) {
    if (existsSync(join(model, 'manifest.json'))) return resolve(model);
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `no manifest.json in ${model}`, { model, reason: 'no-manifest' });
  }
  if (!MODEL_ID.test(model)) {
    throw new ModelError(
      ErrorCodes.MODEL_NOT_FOUND,
      `${JSON.stringify(model)} is not a model id (${MODEL_ID.source}) nor a path (one with / in it)`,
      { model, reason: 'invalid-id' },
    );
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
    reason: 'not-found',
  });
}

function fail(dir: string, what: string, details: Record<string, unknown> = {}): never {
  throw new ModelError(ErrorCodes.MANIFEST_INVALID, `${join(dir, 'manifest.json')}: ${what}`, { dir, ...details });
}

function isShape(v: unknown, len?: number): v is number[] {
  return (
    Array.isArray(v) &&
    (len === undefined || v.length === len) &&
    v.every((x) => Number.isInteger(x) && x > 0 && x <= 1 << 20)
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Why `file` is not a safe path relative to a model folder, or undefined when it is. A safe path is a
 * non-empty string of at most 1024 characters made of plain segments joined by `/`: no empty, `.` or `..`
 * segment (so not absolute and already normalized), no backslash, no NUL or other control character.
 */
export function unsafeFilePathReason(file: unknown): string | undefined {
  if (typeof file !== 'string') return 'not a string';
  if (file.length === 0 || file.length > MAX_FILE_PATH) return `empty or longer than ${MAX_FILE_PATH} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(file)) return 'contains a NUL or control character';
  if (file.includes('\\')) return 'contains a backslash';
  if (isAbsolute(file) || /^[A-Za-z]:/.test(file)) return 'is absolute';
  if (file.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) {
    return "has an empty, '.' or '..' segment";
  }
  return undefined;
}

function checkFile(dir: string, file: unknown, where: string): void {
  const why = unsafeFilePathReason(file);
  if (why !== undefined) fail(dir, `${where}: file ${JSON.stringify(file)} ${why}`, { file, reason: 'unsafe-path' });
}

/**
 * Checks the structure of a parsed manifest; throws MANIFEST_INVALID naming the first problem
 * (details.reason is `unsafe-path` for a file path that is not a plain relative path, see
 * {@link unsafeFilePathReason}). Checks the model id, every variant id (`^[a-z0-9][a-z0-9._-]{0,63}$`,
 * unique), every block file and `golden`. Reads no file.
 */
export function validateManifest(m: unknown, dir = '.'): Manifest {
  if (!isObject(m)) fail(dir, 'not an object');
  const o = m;
  if (typeof o.id !== 'string' || !MODEL_ID.test(o.id)) fail(dir, 'id missing or invalid', { reason: 'invalid-id' });
  if (typeof o.hash !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(o.hash)) fail(dir, 'hash must be sha256:<64 hex>');
  if (o.golden !== undefined) checkFile(dir, o.golden, 'golden');
  if (!isObject(o.input)) fail(dir, 'input missing');
  const input = o.input as unknown as Manifest['input'];
  if (!isShape(input.shape, 3) || !isShape(input.sourceShape, 3)) fail(dir, 'input shapes invalid');
  const norm = input.normalization;
  if (
    !isObject(norm) ||
    !Array.isArray(norm.mean) ||
    !Array.isArray(norm.std) ||
    norm.mean.length !== input.shape[0] ||
    norm.std.length !== input.shape[0]
  ) {
    fail(dir, 'normalization must have one mean and std per input channel');
  }
  if (
    !norm.mean.every((x) => Number.isFinite(x)) ||
    !norm.std.every((s) => Number.isFinite(s) && s > 0) ||
    !Number.isInteger(norm.pad) ||
    norm.pad < 0
  ) {
    fail(dir, 'normalization invalid');
  }
  if (
    input.sourceShape[1] + 2 * norm.pad !== input.shape[1] ||
    input.sourceShape[2] + 2 * norm.pad !== input.shape[2]
  ) {
    fail(dir, 'sourceShape + 2*pad must equal shape');
  }
  if (!Array.isArray(o.classes) || o.classes.length < 2 || !o.classes.every((c) => typeof c === 'string')) {
    fail(dir, 'classes missing or not strings');
  }
  const points = o.points as Manifest['points'];
  if (!Array.isArray(points) || points.length < 1) fail(dir, 'points missing');
  points.forEach((p, i) => {
    if (!isObject(p) || p.point !== i + 1 || !isShape(p.featureShape, 3)) fail(dir, `points[${i}] invalid`);
  });
  const variants = o.variants as Variant[];
  if (!Array.isArray(variants) || variants.length < 1) fail(dir, 'variants missing');
  const ids = new Set<string>();
  variants.forEach((v, vi) => {
    if (!isObject(v)) fail(dir, `variants[${vi}] is not an object`);
    if (typeof v.id !== 'string' || !VARIANT_ID.test(v.id)) {
      fail(dir, `variants[${vi}]: id ${JSON.stringify(v.id)} invalid (${VARIANT_ID.source})`, {
        variant: v.id,
        reason: 'invalid-variant-id',
      });
    }
    if (ids.has(v.id)) fail(dir, `variant ${v.id} appears twice`, { variant: v.id, reason: 'duplicate-variant-id' });
    ids.add(v.id);
    if (typeof v.pruneRatio !== 'number' || v.pruneRatio < 0 || v.pruneRatio >= 1) fail(dir, 'pruneRatio invalid');
    if (!Array.isArray(v.blocks) || v.blocks.length !== points.length + 1) {
      fail(dir, `variant ${v.id}: expected ${points.length + 1} block files`);
    }
    v.blocks.forEach((b, i) => {
      if (!isObject(b) || b.block !== i + 1) fail(dir, `variant ${v.id}: block ${i + 1} invalid`);
      checkFile(dir, b.file, `variant ${v.id}: block ${i + 1}`);
      if (
        !isShape(b.outShape) ||
        typeof b.sha256 !== 'string' ||
        !/^[0-9a-f]{64}$/.test(b.sha256) ||
        !Number.isSafeInteger(b.bytes) ||
        b.bytes < 0
      )
        fail(dir, `variant ${v.id}: block ${i + 1} invalid`);
    });
    if (!Array.isArray(v.fill) || v.fill.length !== points.length) fail(dir, `variant ${v.id}: fill invalid`);
    v.fill.forEach((f, i) => {
      if (!Array.isArray(f) || f.length !== v.blocks[i]?.outShape[0]) fail(dir, `variant ${v.id}: fill[${i}] length`);
    });
  });
  return m as unknown as Manifest;
}

/**
 * The path of `file` (a path relative to the model folder `dir`) after checking that it stays inside
 * the folder: `file` must be a plain relative path ({@link unsafeFilePathReason}; MANIFEST_INVALID
 * otherwise) and, when it exists, its real path (symbolic links resolved, in `file` and in its folders)
 * must lie inside the real path of `dir` and be a regular file (MANIFEST_INVALID, details.reason
 * `outside-model-folder` or `not-a-file`). A link to nothing is MODEL_NOT_FOUND. A missing file is
 * allowed here (a tail function's bundle holds only some blocks); reading it is the caller's concern.
 *
 * @example
 * readFileSync(modelFilePath(dir, 'r000/block1.onnx'))
 */
export function modelFilePath(dir: string, file: string, realDir = realModelDir(dir)): string {
  checkFile(dir, file, 'model file');
  const path = join(dir, file);
  if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return path;
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `${path} is a link to a missing file`, { file }, { cause: e });
  }
  const rel = relative(realDir, real);
  if (rel === '' || isAbsolute(rel) || rel.split(sep)[0] === '..') {
    fail(dir, `${file} resolves to ${real}, outside the model folder ${realDir}`, {
      file,
      reason: 'outside-model-folder',
    });
  }
  if (!statSync(real).isFile()) fail(dir, `${file} is not a regular file`, { file, reason: 'not-a-file' });
  return path;
}

/** The real path of a model folder (MODEL_NOT_FOUND when it does not exist). */
function realModelDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch (e) {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `model folder ${dir} not found`, { dir }, { cause: e });
  }
}

/**
 * Loads and validates `manifest.json` of a model (by id or folder, see {@link resolveModelDir}).
 * Before returning, checks that `manifest.json` and every file the manifest names that exists (block
 * files, `golden`) resolve, links followed, inside the model folder ({@link modelFilePath}); no file is
 * read through a manifest path before that. Throws MODEL_NOT_FOUND or MANIFEST_INVALID.
 *
 * @example
 * const { dir, manifest } = loadModel('fmnist-vgg16')
 * console.log(manifest.points.map((p) => p.featureShape))
 */
export function loadModel(model: string): LoadedModel {
  const dir = resolveModelDir(model);
  const realDir = realModelDir(dir);
  const manifestPath = modelFilePath(dir, 'manifest.json', realDir);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(manifestPath, 'utf8'));
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
  const manifest = validateManifest(parsed, dir);
  for (const f of new Set(artifactFiles(manifest))) modelFilePath(dir, f, realDir);
  return { dir, manifest };
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

/**
 * The manifest's content hash recomputed from the files on disk (same rule as the Python exporter).
 * Each file is checked with {@link modelFilePath} before it is read; a missing one is MODEL_NOT_FOUND.
 */
export function computeContentHash(dir: string, files: string[]): string {
  const realDir = realModelDir(dir);
  const h = createHash('sha256');
  for (const f of [...files].sort()) h.update(`${f}\0${sha256File(existingModelFile(dir, f, realDir))}\n`);
  return `sha256:${h.digest('hex')}`;
}

function existingModelFile(dir: string, file: string, realDir: string): string {
  const path = modelFilePath(dir, file, realDir);
  if (!existsSync(path)) throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `${path} missing`, { file });
  return path;
}

/**
 * Recomputes every file's sha256 and the content hash; throws MODEL_HASH_MISMATCH on any difference,
 * MODEL_NOT_FOUND for a missing file, MANIFEST_INVALID for a path that leaves the model folder
 * ({@link modelFilePath}, checked again here right before each read).
 *
 * @example
 * verifyModel(loadModel('fmnist-vgg16'))
 */
export function verifyModel({ dir, manifest }: LoadedModel): void {
  const realDir = realModelDir(dir);
  for (const v of manifest.variants) {
    for (const b of v.blocks) {
      const path = existingModelFile(dir, b.file, realDir);
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
