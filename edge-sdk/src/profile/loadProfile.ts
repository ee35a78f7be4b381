import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawPayloadBytes } from '../codec/encodeRaw.js';
import { FLOAT32_BITS } from '../codec/header.js';
import { ErrorCodes, JmdcError } from '../errors.js';
import type { Manifest } from '../model/types.js';
import type {
  BottleneckCost,
  NormalizedProfile,
  PlanRow,
  Profile,
  ProfileRow,
  ProfileTimings,
  RowCoder,
  RowKind,
} from './types.js';

const FEATURE_CODERS: ReadonlySet<string> = new Set(['none', 'deflate', 'brotli', 'rans']);
const RAW_FORMATS: ReadonlySet<string> = new Set(['raw', 'png', 'deflate']);

/**
 * Options of {@link normalizeProfile} and {@link loadProfile}.
 *
 * @example
 * normalizeProfile(raw, { pointCount: 5, source: 'my-profile.json' })
 */
export interface NormalizeOptions {
  /** The model's manifest: gives P, the variant ids and the per-variant accuracy of synthesized rows. */
  manifest?: Manifest;
  /** Number of partition points when no manifest is given. @default the length of `timings.headMs` arrays */
  pointCount?: number;
  /** Where the profile came from, for error messages. @default 'profile' */
  source?: string;
}

function bad(source: string, what: string): never {
  throw new JmdcError(ErrorCodes.PROFILE_INVALID, `${source}: ${what}`, { source });
}

function finite(v: unknown, min = -Infinity, max = Infinity): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
}

/**
 * The id of a variant by prune ratio: the manifest's when given, else the exporter's rule
 * (`r` + the percentage on three digits).
 *
 * @example
 * variantIdFor(0.5) // 'r050'
 */
export function variantIdFor(ratio: number, manifest?: Manifest): string {
  const v = manifest?.variants.find((x) => Math.abs(x.pruneRatio - ratio) < 1e-6);
  if (v) return v.id;
  return `r${String(Math.round(ratio * 100)).padStart(3, '0')}`;
}

/**
 * The kind of a row: its `kind` when present, else by point (0 = cloud-only, -1 or P+1 = edge-only).
 *
 * @example
 * rowKind({ point: 0 }, 5) // 'cloud-only'
 */
export function rowKind(row: Pick<ProfileRow, 'kind' | 'point'>, pointCount: number): RowKind {
  if (row.kind !== undefined) return row.kind;
  if (row.point === 0) return 'cloud-only';
  if (row.point === -1 || row.point === pointCount + 1) return 'edge-only';
  return 'split';
}

function checkTimings(t: unknown, source: string, pointCount: number | undefined): ProfileTimings {
  if (typeof t !== 'object' || t === null) bad(source, 'timings missing');
  const o = t as Record<string, unknown>;
  for (const k of ['headMs', 'tailMs', 'fullMs'] as const) {
    if (typeof o[k] !== 'object' || o[k] === null) bad(source, `timings.${k} missing`);
  }
  if (!finite(o.encodeMs, 0) || !finite(o.decodeMs, 0)) bad(source, 'timings.encodeMs/decodeMs must be numbers >= 0');
  const headMs = o.headMs as Record<string, unknown>;
  const tailMs = o.tailMs as Record<string, unknown>;
  const fullMs = o.fullMs as Record<string, unknown>;
  for (const [id, arr] of Object.entries(headMs)) {
    if (!Array.isArray(arr) || !arr.every((x) => finite(x, 0))) bad(source, `timings.headMs.${id} invalid`);
    if (pointCount !== undefined && arr.length !== pointCount) {
      bad(source, `timings.headMs.${id} has ${arr.length} entries, expected ${pointCount}`);
    }
  }
  for (const [id, arr] of Object.entries(tailMs)) {
    if (!Array.isArray(arr) || !arr.every((x) => finite(x, 0))) bad(source, `timings.tailMs.${id} invalid`);
    if (pointCount !== undefined && arr.length !== pointCount + 1) {
      bad(source, `timings.tailMs.${id} has ${arr.length} entries, expected ${pointCount + 1}`);
    }
  }
  for (const [id, v] of Object.entries(fullMs)) if (!finite(v, 0)) bad(source, `timings.fullMs.${id} invalid`);
  const bottleneckMs = o.bottleneckMs;
  if (bottleneckMs !== undefined) {
    if (typeof bottleneckMs !== 'object' || bottleneckMs === null) bad(source, 'timings.bottleneckMs invalid');
    for (const [id, t] of Object.entries(bottleneckMs)) {
      const e = t as { encoderMs?: unknown; decoderMs?: unknown } | null;
      if (typeof e !== 'object' || e === null || !finite(e.encoderMs, 0) || !finite(e.decoderMs, 0)) {
        bad(source, `timings.bottleneckMs.${id} must be { encoderMs, decoderMs } >= 0`);
      }
    }
  }
  return {
    device: typeof o.device === 'string' ? o.device : 'unknown',
    headMs: headMs as Record<string, number[]>,
    tailMs: tailMs as Record<string, number[]>,
    fullMs: fullMs as Record<string, number>,
    encodeMs: o.encodeMs,
    decodeMs: o.decodeMs,
    ...(bottleneckMs !== undefined ? { bottleneckMs: bottleneckMs as ProfileTimings['bottleneckMs'] } : {}),
  };
}

/** MACs of blocks `from..to` of a variant (1-based, the classifier is block P+1). */
function blockMacs(manifest: Manifest, variantId: string, from: number, to: number): number {
  const v = manifest.variants.find((x) => x.id === variantId);
  return (v?.blocks ?? []).filter((b) => b.block >= from && b.block <= to).reduce((a, b) => a + b.macs, 0);
}

/**
 * The raw cloud-only row to add to `rows`, or undefined when they list one (or nothing to derive it
 * from): a copy of the lossless cloud-only row (`png` first, then `deflate`) with coder `raw` and the
 * raw frame's exact bytes, else, when there is no cloud-only row at all, one of variant 0 with the
 * manifest's accuracy (when the profile times its whole network in the cloud).
 */
function syntheticRawRow(rows: readonly PlanRow[], manifest: Manifest, timings: ProfileTimings): PlanRow | undefined {
  const cloud = rows.filter((r) => r.kind === 'cloud-only');
  if (cloud.some((r) => r.coder === 'raw')) return undefined;
  const [c, h, w] = manifest.input.sourceShape;
  const meanPayloadBytes = rawPayloadBytes([c, h, w]);
  if (cloud.length > 0) {
    // png and deflate are lossless: the cloud gets the same pixels as from a raw upload
    const from = cloud.find((r) => r.coder === 'png') ?? cloud.find((r) => r.coder === 'deflate');
    return from ? { ...from, coder: 'raw', keep: 1, bits: 8, meanPayloadBytes, synthesized: true } : undefined;
  }
  const v0 = manifest.variants.find((v) => v.pruneRatio === 0);
  if (!v0 || !finite(timings.tailMs[v0.id]?.[0], 0)) return undefined;
  return {
    kind: 'cloud-only',
    point: 0,
    variant: 0,
    variantId: v0.id,
    keep: 1,
    bits: 8,
    coder: 'raw',
    quantScope: 'channel',
    bottleneck: false,
    valAccuracy: v0.accuracy.val,
    testAccuracy: v0.accuracy.test,
    meanPayloadBytes,
    synthesized: true,
  };
}

/**
 * Validates a parsed profile and resolves what the planner needs: each row's kind and variant id,
 * edge-only points normalized to -1, and the timing entries each row relies on checked to exist.
 * When the profile has no edge-only row, one per variant of known accuracy is added (the manifest's
 * per-variant accuracy, or `fullModel` for variant 0). With a manifest, a raw (uncompressed uint8)
 * cloud-only upload is added when the profile lists none: derived from its lossless cloud-only row
 * (`png`, else `deflate`: the same pixels reach the cloud, so the same accuracy) when it lists one, else
 * from variant 0 with the manifest's accuracy when it lists no cloud-only row at all. Its bytes are
 * the exact size of the raw frame of one image of the manifest's `sourceShape`. Added rows are marked
 * `synthesized: true`. A split may have `bits: 32`: its features sent unquantized as float32 (coder `none`,
 * `deflate` or `brotli`, not `rans`; its quantization scope is normalized to `channel`, which the codec ignores
 * at 32 bits). A row with `bottleneck: true` must be a split whose variant has a bottleneck at
 * its point in the manifest (which must then be given); the bottlenecks such rows use are listed in
 * `bottlenecks`. Throws `JMDC_ERR_PROFILE_INVALID`.
 *
 * @example
 * const profile = normalizeProfile(JSON.parse(text), { manifest })
 * profile.rows.filter((r) => r.kind === 'split').length
 */
export function normalizeProfile(raw: unknown, opts: NormalizeOptions = {}): NormalizedProfile {
  const source = opts.source ?? 'profile';
  if (typeof raw !== 'object' || raw === null) bad(source, 'not an object');
  const p = raw as Partial<Profile>;
  if (typeof p.model !== 'string' || typeof p.hash !== 'string') bad(source, 'model and hash must be strings');
  const { manifest } = opts;
  if (manifest && (manifest.id !== p.model || manifest.hash !== p.hash)) {
    bad(source, `made for ${p.model} ${p.hash}, but the model is ${manifest.id} ${manifest.hash}`);
  }
  const fullModel = p.fullModel;
  if (!fullModel || !finite(fullModel.val, 0, 1) || !finite(fullModel.test, 0, 1)) bad(source, 'fullModel invalid');
  let pointCount = manifest?.points.length ?? opts.pointCount;
  if (pointCount === undefined) {
    const first = Object.values((p.timings?.headMs ?? {}) as Record<string, unknown[]>)[0];
    if (!Array.isArray(first)) bad(source, 'cannot tell the number of partition points');
    pointCount = first.length;
  }
  const P = pointCount;
  const timings = checkTimings(p.timings, source, P);
  if (!Array.isArray(p.rows) || p.rows.length === 0) bad(source, 'rows missing or empty');

  const rows: PlanRow[] = [];
  const bottlenecks: Record<string, BottleneckCost> = {};
  p.rows.forEach((r: ProfileRow, i) => {
    const at = `rows[${i}]`;
    if (typeof r !== 'object' || r === null) bad(source, `${at} not an object`);
    if (r.kind !== undefined && r.kind !== 'edge-only' && r.kind !== 'cloud-only' && r.kind !== 'split') {
      bad(source, `${at}.kind invalid`);
    }
    if (!Number.isInteger(r.point) || r.point < -1 || r.point > P + 1) bad(source, `${at}.point invalid`);
    const kind = rowKind(r, P);
    if (kind === 'split' && (r.point < 1 || r.point > P)) bad(source, `${at}: a split needs a point 1..${P}`);
    if (kind === 'cloud-only' && r.point !== 0) bad(source, `${at}: cloud-only rows have point 0`);
    if (!finite(r.variant, 0, 0.999)) bad(source, `${at}.variant invalid`);
    if (!finite(r.valAccuracy, 0, 1) || !finite(r.testAccuracy, 0, 1)) bad(source, `${at}: accuracy must be in [0, 1]`);
    if (!finite(r.meanPayloadBytes, 0)) bad(source, `${at}.meanPayloadBytes invalid`);
    if (kind !== 'edge-only') {
      if (!finite(r.keep, Number.MIN_VALUE, 1)) bad(source, `${at}.keep invalid`);
      // a split may send its features unquantized as float32 (bits 32)
      const float32 = kind === 'split' && r.bits === FLOAT32_BITS;
      if (!float32 && (!Number.isInteger(r.bits) || r.bits < 1 || r.bits > 8)) {
        bad(
          source,
          `${at}.bits must be 1..8${kind === 'split' ? ' or 32 (float32)' : ''}, got ${JSON.stringify(r.bits)}`,
        );
      }
      const allowed = kind === 'split' ? FEATURE_CODERS : RAW_FORMATS;
      if (typeof r.coder !== 'string' || !allowed.has(r.coder)) {
        bad(source, `${at}.coder must be one of ${[...allowed].join(', ')}, got ${JSON.stringify(r.coder)}`);
      }
      if (float32 && r.coder === 'rans') bad(source, `${at}: float32 features (bits 32) cannot be rans-coded`);
      if (r.quantScope !== undefined && r.quantScope !== 'channel' && r.quantScope !== 'tensor') {
        bad(source, `${at}.quantScope invalid`);
      }
    }
    if (r.bottleneck !== undefined && typeof r.bottleneck !== 'boolean')
      bad(source, `${at}.bottleneck must be a boolean`);
    const variantId = variantIdFor(r.variant, manifest);
    let bottleneckId: string | undefined;
    if (r.bottleneck === true) {
      if (kind !== 'split') bad(source, `${at}: only splits can use a bottleneck`);
      if (!manifest) bad(source, `${at}: a bottleneck row needs the model's manifest to be checked`);
      const b = manifest.bottlenecks?.find((x) => x.point === r.point && Math.abs(x.variant - r.variant) < 1e-6);
      if (!b) {
        bad(
          source,
          `${at}: the model has no bottleneck for variant ${r.variant} at point ${r.point} (it has ${
            (manifest.bottlenecks ?? []).map((x) => x.id).join(', ') || 'none'
          })`,
        );
      }
      bottleneckId = b.id;
      bottlenecks[b.id] ??= {
        id: b.id,
        point: b.point,
        variant: b.variant,
        variantId,
        encoderMacs: b.encoder.macs,
        decoderMacs: b.decoder.macs,
        headMacs: blockMacs(manifest, variantId, 1, b.point),
        tailMacs: blockMacs(manifest, variantId, b.point + 1, P + 1),
      };
    }
    if (kind === 'edge-only') {
      if (!finite(timings.fullMs[variantId], 0)) bad(source, `${at}: no timings.fullMs.${variantId}`);
    } else {
      if (!finite(timings.tailMs[variantId]?.[r.point], 0)) bad(source, `${at}: no timings.tailMs.${variantId}`);
      if (kind === 'split' && !finite(timings.headMs[variantId]?.[r.point - 1], 0)) {
        bad(source, `${at}: no timings.headMs.${variantId}`);
      }
    }
    rows.push({
      kind,
      point: kind === 'edge-only' ? -1 : r.point,
      variant: r.variant,
      variantId,
      keep: kind === 'edge-only' ? 1 : r.keep,
      bits: kind === 'edge-only' ? 8 : r.bits,
      coder: kind === 'edge-only' ? 'none' : (r.coder as RowCoder),
      // float32 features have no quantization scope: 'channel', whatever the row says
      quantScope: kind === 'split' && r.bits !== FLOAT32_BITS ? (r.quantScope ?? 'channel') : 'channel',
      bottleneck: bottleneckId !== undefined,
      ...(bottleneckId !== undefined ? { bottleneckId } : {}),
      valAccuracy: r.valAccuracy,
      testAccuracy: r.testAccuracy,
      meanPayloadBytes: kind === 'edge-only' ? 0 : r.meanPayloadBytes,
      synthesized: false,
    });
  });

  if (!rows.some((r) => r.kind === 'edge-only')) {
    const known = manifest
      ? manifest.variants.map((v) => ({ ratio: v.pruneRatio, id: v.id, acc: v.accuracy }))
      : [{ ratio: 0, id: variantIdFor(0), acc: fullModel }];
    for (const v of known) {
      if (!finite(timings.fullMs[v.id], 0)) continue;
      rows.push({
        kind: 'edge-only',
        point: -1,
        variant: v.ratio,
        variantId: v.id,
        keep: 1,
        bits: 8,
        coder: 'none',
        quantScope: 'channel',
        bottleneck: false,
        valAccuracy: v.acc.val,
        testAccuracy: v.acc.test,
        meanPayloadBytes: 0,
        synthesized: true,
      });
    }
  }
  if (manifest) {
    const raw = syntheticRawRow(rows, manifest, timings);
    if (raw) rows.push(raw);
  }
  return { model: p.model, hash: p.hash, pointCount: P, fullModel, rows, timings, bottlenecks };
}

/**
 * Reads and normalizes a profile: `path` is a `profile.json` file or a model folder holding one.
 * Throws `JMDC_ERR_PROFILE_NOT_FOUND` when there is none, `JMDC_ERR_PROFILE_INVALID` when it is bad.
 *
 * @example
 * const { dir, manifest } = loadModel('fmnist-vgg16')
 * const profile = loadProfile(dir, { manifest })
 */
export function loadProfile(path: string, opts: NormalizeOptions = {}): NormalizedProfile {
  const file = path.endsWith('.json') ? path : join(path, 'profile.json');
  if (!existsSync(file)) {
    throw new JmdcError(
      ErrorCodes.PROFILE_NOT_FOUND,
      `no profile at ${file} (run from the repository: npm run profile -- --model ${opts.manifest?.id ?? '<id>'})`,
      { file },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new JmdcError(ErrorCodes.PROFILE_INVALID, `${file}: ${(e as Error).message}`, { file }, { cause: e });
  }
  return normalizeProfile(parsed, { ...opts, source: opts.source ?? file });
}
