import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, ModelError } from '../errors.js';
import type { Bottleneck, BottleneckFile, LoadedModel, Manifest, Variant } from './types.js';

/**
 * A model id and a variant id: lowercase letters, digits, `.`, `_` and `-`, starting with a letter or
 * digit, 1..64 characters. Lowercase only, so an id names one folder on case-insensitive file systems too.
 */
const MODEL_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VARIANT_ID = MODEL_ID;
/** A bottleneck id: lowercase letters, digits and `-`, starting with a letter or digit, 1..64 characters. */
const BOTTLENECK_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
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
  validateBottlenecks(dir, o.bottlenecks, points.length, variants);
  return m as unknown as Manifest;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Checks `bottlenecks` (absent or an array): unique ids, one per (variant, point), a point 1..P of a
 * variant the manifest has, `codeShape` = [channels, H, W] with the variant's H, W at the point, an
 * encoder [C, H, W] -> codeShape and a decoder codeShape -> [C, H, W] (the variant's features at the
 * point), plain relative file paths, `fill` of `channels` numbers in [0, 1] and accuracies in [0, 1].
 * Failures are MANIFEST_INVALID with `details.reason` `invalid-bottleneck` (`duplicate-bottleneck-id`,
 * `duplicate-bottleneck`, `unsafe-path` where they apply) and `details.bottleneck`.
 */
function validateBottlenecks(dir: string, raw: unknown, P: number, variants: readonly Variant[]): void {
  if (raw === undefined) return;
  if (!Array.isArray(raw)) fail(dir, 'bottlenecks must be an array', { reason: 'invalid-bottleneck' });
  const ids = new Set<string>();
  const slots = new Set<string>();
  raw.forEach((b: unknown, i) => {
    const at = `bottlenecks[${i}]`;
    if (!isObject(b)) fail(dir, `${at} is not an object`, { reason: 'invalid-bottleneck' });
    const id = b.id;
    function bad(what: string, reason = 'invalid-bottleneck'): never {
      fail(dir, `${at} (${JSON.stringify(id)}): ${what}`, { bottleneck: id, reason });
    }
    if (typeof id !== 'string' || !BOTTLENECK_ID.test(id)) bad(`id invalid (${BOTTLENECK_ID.source})`);
    if (ids.has(id as string)) bad('id appears twice', 'duplicate-bottleneck-id');
    ids.add(id as string);
    if (!Number.isInteger(b.point) || (b.point as number) < 1 || (b.point as number) > P) bad(`point must be 1..${P}`);
    const v =
      typeof b.variant === 'number'
        ? variants.find((x) => Math.abs(x.pruneRatio - (b.variant as number)) < 1e-6)
        : undefined;
    if (!v) bad(`variant ${JSON.stringify(b.variant)} is not the prune ratio of a variant`);
    const point = b.point as number;
    const slot = `${v.id}/${point}`;
    if (slots.has(slot)) bad(`a second bottleneck for variant ${v.id} at point ${point}`, 'duplicate-bottleneck');
    slots.add(slot);
    const feat = v.blocks[point - 1]?.outShape;
    if (!isShape(feat, 3)) bad(`variant ${v.id} has no [C, H, W] features at point ${point}`);
    if (!Number.isInteger(b.channels) || (b.channels as number) < 1) bad('channels must be a positive integer');
    const code = b.codeShape;
    if (!isShape(code, 3) || code[0] !== b.channels || code[1] !== feat[1] || code[2] !== feat[2]) {
      bad(`codeShape must be [channels, ${feat[1]}, ${feat[2]}], got ${JSON.stringify(code)}`);
    }
    function file(f: unknown, name: 'encoder' | 'decoder', inShape: number[], outShape: number[]): void {
      if (!isObject(f)) bad(`${name} missing`);
      checkFile(dir, f.file, `${at} (${String(id)}) ${name}`);
      if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) bad(`${name}.sha256 must be 64 hex digits`);
      if (!Number.isSafeInteger(f.bytes) || (f.bytes as number) < 0) bad(`${name}.bytes invalid`);
      if (!isShape(f.inShape) || !sameShape(f.inShape, inShape)) {
        bad(`${name}.inShape must be ${JSON.stringify(inShape)}, got ${JSON.stringify(f.inShape)}`);
      }
      if (!isShape(f.outShape) || !sameShape(f.outShape, outShape)) {
        bad(`${name}.outShape must be ${JSON.stringify(outShape)}, got ${JSON.stringify(f.outShape)}`);
      }
      for (const k of ['macs', 'params'] as const) {
        if (typeof f[k] !== 'number' || !Number.isFinite(f[k]) || (f[k] as number) < 0) bad(`${name}.${k} invalid`);
      }
    }
    file(b.encoder, 'encoder', feat, code);
    file(b.decoder, 'decoder', code, feat);
    const fill = b.fill;
    if (
      !Array.isArray(fill) ||
      fill.length !== b.channels ||
      !fill.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1)
    ) {
      bad('fill must hold one number in [0, 1] per code channel');
    }
    const acc = b.accuracy;
    const unit = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1;
    if (!isObject(acc) || !unit(acc.val) || !unit(acc.test)) bad('accuracy must be { val, test } in [0, 1]');
  });
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
  for (const b of manifest.bottlenecks ?? []) files.push(b.encoder.file, b.decoder.file);
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

/**
 * Checks one file the manifest names against its size and sha256, right before reading it
 * ({@link modelFilePath}): MODEL_NOT_FOUND when missing, MODEL_HASH_MISMATCH when different.
 *
 * @example
 * verifyModelFile(dir, manifest.variants[0].blocks[0])
 */
export function verifyModelFile(
  dir: string,
  entry: Pick<BottleneckFile, 'file' | 'sha256' | 'bytes'>,
  realDir = realModelDir(dir),
): void {
  const path = existingModelFile(dir, entry.file, realDir);
  if (statSync(path).size !== entry.bytes || sha256File(path) !== entry.sha256) {
    throw new ModelError(ErrorCodes.MODEL_HASH_MISMATCH, `${path} does not match its manifest sha256`, {
      file: entry.file,
    });
  }
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
  const files: Array<Pick<BottleneckFile, 'file' | 'sha256' | 'bytes'>> = manifest.variants.flatMap((v) => v.blocks);
  for (const b of manifest.bottlenecks ?? []) files.push(b.encoder, b.decoder);
  for (const f of files) verifyModelFile(dir, f, realDir);
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

/**
 * The bottleneck of a variant (prune ratio or id) at a partition point, or undefined when it has none.
 *
 * @example
 * findBottleneck(manifest, 0, 2)?.codeShape // [8, 8, 8]
 */
export function findBottleneck(manifest: Manifest, variant: number | string, point: number): Bottleneck | undefined {
  const v = findVariant(manifest, variant);
  return manifest.bottlenecks?.find((b) => b.point === point && Math.abs(b.variant - v.pruneRatio) < 1e-6);
}

/**
 * The bottleneck of a variant at a point; UNKNOWN_VARIANT (details.reason `no-bottleneck`) when it has none.
 *
 * @example
 * getBottleneck(manifest, 0.5, 2).id // 'r050-p2'
 */
export function getBottleneck(manifest: Manifest, variant: number | string, point: number): Bottleneck {
  const b = findBottleneck(manifest, variant, point);
  if (!b) {
    throw new ModelError(
      ErrorCodes.UNKNOWN_VARIANT,
      `model ${manifest.id} has no bottleneck for variant ${variant} at point ${point}`,
      {
        variant,
        point,
        reason: 'no-bottleneck',
        available: (manifest.bottlenecks ?? []).map((x) => x.id),
      },
    );
  }
  return b;
}

/**
 * Which side of a split {@link filesFor} lists: the device's (blocks 1..point and the encoder), the
 * cloud's (blocks point+1.., the classifier and the decoder), or both.
 */
export type SplitSide = 'head' | 'tail' | 'both';

/**
 * The files (relative to the model folder) that one split needs: blocks 1..point of the variant for
 * the head, blocks point+1.. and the classifier for the tail (point 0: the whole network), plus the
 * encoder (head) and decoder (tail) of its bottleneck when `bottleneck` is true (UNKNOWN_VARIANT when
 * the variant has none at the point).
 *
 * @example
 * filesFor(manifest, { point: 2, variant: 0, bottleneck: true, side: 'tail' })
 * // ['r000/block3.onnx', 'r000/block4.onnx', 'r000/block5.onnx', 'r000/classifier.onnx', 'r000/bottleneck2.dec.onnx']
 */
export function filesFor(
  manifest: Manifest,
  opts: { point: number; variant: number | string; bottleneck?: boolean; side?: SplitSide },
): string[] {
  const side = opts.side ?? 'both';
  const v = findVariant(manifest, opts.variant);
  const P = manifest.points.length;
  if (!Number.isInteger(opts.point) || opts.point < 0 || opts.point > P) {
    throw new ModelError(ErrorCodes.WRONG_POINT, `partition point must be 0..${P}, got ${opts.point}`, {
      point: opts.point,
    });
  }
  const b = opts.bottleneck ? getBottleneck(manifest, v.id, opts.point) : undefined;
  const files: string[] = [];
  if (side !== 'tail') {
    files.push(...v.blocks.filter((x) => x.block <= opts.point).map((x) => x.file));
    if (b) files.push(b.encoder.file);
  }
  if (side !== 'head') {
    files.push(...v.blocks.filter((x) => x.block > opts.point).map((x) => x.file));
    if (b) files.push(b.decoder.file);
  }
  return files;
}
