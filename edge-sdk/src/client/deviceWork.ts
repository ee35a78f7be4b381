import { encodeFeatures, encodeRaw } from '../codec/index.js';
import type { CoderId, RawFormat } from '../codec/types.js';
import { featureDims } from '../model/manifest.js';
import type { Manifest } from '../model/types.js';
import type { LinearCost, PlanRow } from '../profile/types.js';
import { parseCloudResponse } from '../transport/response.js';
import { RequestSigner } from '../transport/sigv4.js';

/**
 * One piece of the client's per-request work that {@link measureHeads} times next to the heads:
 * signing a body of `bytes` bytes (`request`), checking an answer (`answer`), preparing one image's
 * cloud-only payload in raw format `id` (`raw`), or encoding one image's features with coder `id`
 * into `bytes` bytes (`feature`).
 *
 * @example
 * const work: DeviceWork = { kind: 'raw', id: 'png', bytes: 590, run: () => encodeRaw(px, dims, 1, { model, format: 'png' }) }
 */
export interface DeviceWork {
  kind: 'request' | 'answer' | 'raw' | 'feature';
  /** The raw format or feature coder (`raw` and `feature` work). */
  id?: string;
  /** Bytes handled: the signed body, or the payload the encode produced. */
  bytes: number;
  run: () => unknown;
}

/** Body sizes signed to separate the fixed cost of signing from its SHA-256 per KiB. */
export const SIGN_SIZES: readonly number[] = [1024, 32 * 1024];

/** Deterministic values in [0, 4): timing does not depend on them, the entropy coders' output does. */
function pseudoRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 0x1_0000_0000) * 4;
  }
  return out;
}

/**
 * The per-request work of this client that can be reproduced offline, for {@link measureHeads}:
 * SigV4 signing (the transport's {@link RequestSigner}, with placeholder credentials) of bodies of
 * {@link SIGN_SIZES}, checking a batch-1 answer (`JSON.parse` + {@link parseCloudResponse}), the
 * cloud-only payload of one image in every raw format of `rows` (`raw` always), and per feature coder
 * of the split rows the codec encode of one image at the rows with the smallest and the largest payload.
 *
 * @example
 * const cal = await measureHeads(runner, { work: deviceWork(model.manifest, profile.rows) })
 * cal.requestMs // { fixedMs, perKiBMs }
 */
export function deviceWork(manifest: Manifest, rows: readonly PlanRow[] = []): DeviceWork[] {
  const model = { id: manifest.id, hash: manifest.hash };
  const work: DeviceWork[] = [];
  const signer = new RequestSigner({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDCALIBRATION', secretAccessKey: 'calibration-only' },
  });
  const url = new URL('https://calibration.lambda-url.us-east-1.on.aws/');
  for (const size of SIGN_SIZES) {
    const body = new Uint8Array(size).fill(7);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(size) };
    work.push({ kind: 'request', bytes: size, run: () => signer.sign(url, body, headers) });
  }
  const classes = manifest.classes.length;
  const logits = Array.from(pseudoRandom(classes, 3), (v) => Math.fround(v));
  const answer = JSON.stringify({
    classes: [logits.indexOf(Math.max(...logits))],
    logits: [logits],
    serverMs: 12.5,
    decodeMs: 0.5,
    inferMs: 12,
    coldStart: false,
    initMs: 0,
    modelHash: manifest.hash,
    requestId: '00000000-0000-0000-0000-000000000000',
  });
  const expect = { batch: 1, classes, modelHash: manifest.hash };
  work.push({ kind: 'answer', bytes: answer.length, run: () => parseCloudResponse(JSON.parse(answer), expect) });
  const [c, h, w] = manifest.input.sourceShape;
  // a bright blob with a gradient on black, like a centred object: PNG's filters and deflate see
  // the structure of a real image (random pixels would not compress)
  const pixels = new Uint8Array(c * h * w);
  for (let i = 0; i < pixels.length; i++) {
    const y = Math.floor(i / w) % h;
    const x = i % w;
    const r = Math.hypot((y - h / 2) / (h / 2), (x - w / 2) / (w / 3));
    pixels[i] = r < 1 ? Math.round(255 * (1 - r * r)) : 0;
  }
  const formats = new Set<string>(['raw']);
  for (const r of rows) if (r.kind === 'cloud-only') formats.add(r.coder);
  for (const format of formats) {
    const run = () => encodeRaw(pixels, [c, h, w], 1, { model, format: format as RawFormat });
    work.push({ kind: 'raw', id: format, bytes: run().byteLength, run });
  }
  const byCoder = new Map<string, PlanRow[]>();
  for (const r of rows) {
    if (r.kind !== 'split' || r.bottleneck) continue;
    byCoder.set(r.coder, [...(byCoder.get(r.coder) ?? []), r]);
  }
  for (const [coder, list] of byCoder) {
    const sorted = [...list].sort((a, b) => a.meanPayloadBytes - b.meanPayloadBytes);
    const picks = new Set([sorted[0] as PlanRow, sorted[sorted.length - 1] as PlanRow]);
    for (const r of picks) {
      const v = manifest.variants.find((x) => x.id === r.variantId);
      if (!v) continue;
      const dims = featureDims(v, r.point);
      const input = {
        dims,
        batch: 1,
        features: pseudoRandom(dims[0] * dims[1] * dims[2], 7),
        attention: pseudoRandom(dims[1] * dims[2], 11),
      };
      const opts = {
        model,
        point: r.point,
        variant: r.variant,
        keep: r.keep,
        bits: r.bits,
        coder: coder as CoderId,
        quantScope: r.quantScope,
      };
      const run = () => encodeFeatures(input, opts);
      work.push({ kind: 'feature', id: coder, bytes: run().byteLength, run });
    }
  }
  return work;
}

/**
 * The line through two (bytes, ms) measurements as a {@link LinearCost}, slope and intercept clamped
 * at 0; one measurement (or two of about the same size) is a fixed cost.
 *
 * @example
 * fitLinear([{ bytes: 1024, ms: 0.3 }, { bytes: 32768, ms: 0.9 }]) // { fixedMs: ~0.281, perKiBMs: ~0.0194 }
 */
export function fitLinear(points: ReadonlyArray<{ bytes: number; ms: number }>): LinearCost {
  const s = [...points].sort((a, b) => a.bytes - b.bytes);
  const lo = s[0];
  const hi = s[s.length - 1];
  if (!lo || !hi) return { fixedMs: 0, perKiBMs: 0 };
  if (hi.bytes - lo.bytes < 64) return { fixedMs: Math.max(0, (lo.ms + hi.ms) / 2), perKiBMs: 0 };
  const perKiBMs = Math.max(0, ((hi.ms - lo.ms) * 1024) / (hi.bytes - lo.bytes));
  return { fixedMs: Math.max(0, lo.ms - (perKiBMs * lo.bytes) / 1024), perKiBMs };
}
