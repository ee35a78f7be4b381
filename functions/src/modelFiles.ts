/**
 * Which model files the tail function of one partition point needs. The one rule shared by the
 * handler (it verifies and loads exactly these files) and the CDK app (it copies exactly these files
 * into the function's bundle), so the two can never disagree.
 *
 * This module imports no native code: the CDK app loads it at synth time.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BlockFile, Bottleneck, LoadedModel, Manifest, Variant } from '@jmdc/edge-sdk/model';
import { findVariant, modelFilePath, sha256File, verifyModelFile } from '@jmdc/edge-sdk/model';
import { ErrorCodes, JmdcError, ModelError } from './errors.js';

// the CDK app reads manifests through this module (it depends on @jmdc/functions only)
export type { LoadedModel, Manifest } from '@jmdc/edge-sdk/model';
export { loadModel } from '@jmdc/edge-sdk/model';

/**
 * Checks that `point` is a partition point of the model (0 = cloud-only, the whole network).
 *
 * @example
 * assertPoint(manifest, 2)
 */
export function assertPoint(manifest: Manifest, point: number): void {
  if (!Number.isInteger(point) || point < 0 || point > manifest.points.length) {
    throw new JmdcError(
      ErrorCodes.INVALID_ARGUMENT,
      `partition point must be an integer 0..${manifest.points.length} for model ${manifest.id}, got ${point}`,
      { point },
    );
  }
}

/**
 * The blocks the tail of `variant` runs when the edge stopped after block `point`:
 * blocks point+1..points and the classifier (block points+1).
 *
 * @example
 * tailBlocks(manifest, manifest.variants[0], 3).map((b) => b.file) // ['r000/block4.onnx', 'r000/block5.onnx', 'r000/classifier.onnx']
 */
export function tailBlocks(manifest: Manifest, variant: Variant, point: number): BlockFile[] {
  assertPoint(manifest, point);
  return variant.blocks.filter((b) => b.block > point);
}

/** The fields of a profile row that tell which variant (and bottleneck) a partition point's function must hold. */
export interface PointRow {
  point: number;
  /** Prune ratio of the variant. */
  variant: number;
  /** The row splits through the variant's bottleneck at the point (absent = false). */
  bottleneck?: boolean;
}

/**
 * The rows of `profile.json` in a model folder (only `point` and `variant` of each), or undefined when
 * the folder has no profile. Throws MANIFEST_INVALID on a profile without a `rows` array.
 *
 * @example
 * readProfileRows('models/fmnist-vgg16')?.length // 805
 */
export function readProfileRows(modelDir: string): PointRow[] | undefined {
  const path = join(modelDir, 'profile.json');
  if (!existsSync(path)) return undefined;
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { rows?: unknown };
  if (!Array.isArray(raw.rows)) {
    throw new ModelError(ErrorCodes.MANIFEST_INVALID, `${path} has no rows array`, { path });
  }
  return raw.rows.map((r: { point?: unknown; variant?: unknown; bottleneck?: unknown }, i: number) => {
    if (typeof r.point !== 'number' || typeof r.variant !== 'number') {
      throw new ModelError(ErrorCodes.MANIFEST_INVALID, `${path}: row ${i} lacks a numeric point or variant`, {
        path,
        row: i,
      });
    }
    if (r.bottleneck !== undefined && typeof r.bottleneck !== 'boolean') {
      throw new ModelError(ErrorCodes.MANIFEST_INVALID, `${path}: row ${i} has a non-boolean bottleneck`, {
        path,
        row: i,
      });
    }
    return { point: r.point, variant: r.variant, ...(r.bottleneck === true ? { bottleneck: true } : {}) };
  });
}

/**
 * Ids of the variants the function of `point` serves: those that some profile row of that point uses,
 * in manifest order; every variant when `rows` is undefined (no profile). A point no row uses gets
 * every variant too (it is deployed on purpose, so it serves whatever the edge may send it).
 *
 * @example
 * variantsForPoint(manifest, 0, readProfileRows(dir)) // ['r000']: the only cloud-only row is r000
 */
export function variantsForPoint(manifest: Manifest, point: number, rows?: readonly PointRow[]): string[] {
  assertPoint(manifest, point);
  const all = manifest.variants.map((v) => v.id);
  if (rows === undefined) return all;
  const used = new Set(rows.filter((r) => r.point === point).map((r) => findVariant(manifest, r.variant).id));
  return used.size === 0 ? all : all.filter((id) => used.has(id));
}

/**
 * Ids of the bottlenecks the function of `point` serves: those of the served `variants` (default:
 * every variant) at the point that some bottleneck row (`bottleneck: true`) of that point uses, in
 * manifest order. Without rows (no profile), or when no row uses the point at all, every bottleneck
 * of a served variant at the point (as {@link variantsForPoint} does for variants). Point 0 has none.
 * Throws MANIFEST_INVALID for a bottleneck row whose variant has no bottleneck at the point.
 *
 * @example
 * bottlenecksForPoint(manifest, 2, readProfileRows(dir)) // ['r000-p2']
 */
export function bottlenecksForPoint(
  manifest: Manifest,
  point: number,
  rows?: readonly PointRow[],
  variants?: readonly string[],
): string[] {
  assertPoint(manifest, point);
  const served = new Set(selectVariants(manifest, variants).map((v) => v.pruneRatio));
  const here = (manifest.bottlenecks ?? []).filter(
    (b) => b.point === point && [...served].some((r) => Math.abs(r - b.variant) < 1e-6),
  );
  const atPoint = rows?.filter((r) => r.point === point);
  if (atPoint === undefined || atPoint.length === 0) return here.map((b) => b.id);
  const used = new Set<string>();
  for (const r of atPoint) {
    if (!r.bottleneck) continue;
    const b = (manifest.bottlenecks ?? []).find((x) => x.point === point && Math.abs(x.variant - r.variant) < 1e-6);
    if (!b) {
      throw new ModelError(
        ErrorCodes.MANIFEST_INVALID,
        `a profile row uses a bottleneck of variant ${r.variant} at point ${point}, which the model does not have`,
        { point, variant: r.variant, reason: 'no-bottleneck' },
      );
    }
    used.add(b.id);
  }
  return here.filter((b) => used.has(b.id)).map((b) => b.id);
}

/**
 * The bottlenecks of `manifest` with the given ids, at `point` (UNKNOWN_VARIANT on an id it lacks there);
 * without ids, every bottleneck at the point of the given `variants` (default: every variant).
 *
 * @example
 * selectBottlenecks(manifest, 2, ['r000-p2'])[0]?.decoder.file // 'r000/bottleneck2.dec.onnx'
 */
export function selectBottlenecks(
  manifest: Manifest,
  point: number,
  ids?: readonly string[],
  variants?: readonly string[],
): Bottleneck[] {
  if (ids === undefined) {
    const served = selectVariants(manifest, variants).map((v) => v.pruneRatio);
    return (manifest.bottlenecks ?? []).filter(
      (b) => point > 0 && b.point === point && served.some((r) => Math.abs(r - b.variant) < 1e-6),
    );
  }
  return ids.map((id) => {
    const b = manifest.bottlenecks?.find((x) => x.id === id && x.point === point);
    if (!b) {
      throw new JmdcError(
        ErrorCodes.UNKNOWN_VARIANT,
        `model ${manifest.id} has no bottleneck ${id} at point ${point}`,
        {
          bottleneck: id,
          point,
          available: (manifest.bottlenecks ?? []).filter((x) => x.point === point).map((x) => x.id),
        },
      );
    }
    return b;
  });
}

/** The variants of `manifest` with the given ids (all when `variants` is undefined); UNKNOWN_VARIANT on a bad id. */
function selectVariants(manifest: Manifest, variants?: readonly string[]): Variant[] {
  if (variants === undefined) return manifest.variants;
  return variants.map((id) => findVariant(manifest, id));
}

/**
 * Every file, relative to the model folder, the tail function of `point` needs: `manifest.json`
 * first, then the tail blocks of each variant in `variants` (default: every variant), then the
 * decoder of each bottleneck in `bottlenecks` (ids at this point; default: every bottleneck of those
 * variants at the point).
 *
 * @example
 * modelFilesForPoint(manifest, 5) // ['manifest.json', 'r000/classifier.onnx', 'r050/classifier.onnx']
 * modelFilesForPoint(manifest, 0, ['r000']) // ['manifest.json', 'r000/block1.onnx', ...]
 * modelFilesForPoint(manifest, 2, ['r000'], ['r000-p2']) // [..., 'r000/bottleneck2.dec.onnx']
 */
export function modelFilesForPoint(
  manifest: Manifest,
  point: number,
  variants?: readonly string[],
  bottlenecks?: readonly string[],
): string[] {
  const files = selectVariants(manifest, variants).flatMap((v) => tailBlocks(manifest, v, point).map((b) => b.file));
  for (const b of selectBottlenecks(manifest, point, bottlenecks, variants)) files.push(b.decoder.file);
  return ['manifest.json', ...new Set(files)];
}

/** Total bytes of the ONNX files of {@link modelFilesForPoint} (as the manifest states them). */
export function modelBytesForPoint(
  manifest: Manifest,
  point: number,
  variants?: readonly string[],
  bottlenecks?: readonly string[],
): number {
  let total = 0;
  for (const v of selectVariants(manifest, variants)) for (const b of tailBlocks(manifest, v, point)) total += b.bytes;
  for (const b of selectBottlenecks(manifest, point, bottlenecks, variants)) total += b.decoder.bytes;
  return total;
}

/**
 * Checks the size and sha256 of only the files the tail of `point` loads for `variants` (default:
 * every variant) and the decoders of `bottlenecks` (default: every bottleneck of those variants at the
 * point); a function's bundle carries no
 * other file, so the manifest's content hash cannot be recomputed there.
 * Throws MODEL_NOT_FOUND or MODEL_HASH_MISMATCH (both 500: a broken deployment is our fault), and
 * MANIFEST_INVALID for a block file whose path or link leaves the model folder or is not a file (`modelFilePath`).
 *
 * @example
 * verifyPointFiles(loadModel('/var/task/model'), 2)
 */
export function verifyPointFiles(
  { dir, manifest }: LoadedModel,
  point: number,
  variants?: readonly string[],
  bottlenecks?: readonly string[],
): void {
  let realDir: string;
  try {
    realDir = realpathSync(dir);
  } catch (e) {
    throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `model folder ${dir} not found`, { dir }, { cause: e });
  }
  for (const v of selectVariants(manifest, variants)) {
    for (const b of tailBlocks(manifest, v, point)) {
      // checked right before the read: a plain relative path whose real path stays in the folder
      const path = modelFilePath(dir, b.file, realDir);
      if (!existsSync(path)) throw new ModelError(ErrorCodes.MODEL_NOT_FOUND, `${path} missing`, { file: b.file });
      if (statSync(path).size !== b.bytes || sha256File(path) !== b.sha256) {
        throw new ModelError(ErrorCodes.MODEL_HASH_MISMATCH, `${path} does not match its manifest sha256`, {
          file: b.file,
        });
      }
    }
  }
  for (const b of selectBottlenecks(manifest, point, bottlenecks, variants)) verifyModelFile(dir, b.decoder, realDir);
}
