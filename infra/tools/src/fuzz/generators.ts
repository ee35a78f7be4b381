/**
 * Generators of hostile input for the wire decoder and the tail function: fast-check arbitraries that a
 * bounded vitest runs with shrinking and `npm run fuzz` samples by the hundred thousand. Every case is an
 * event a Lambda could receive (Function URL or Invoke shape) built from one of these families:
 *
 * - `random-bytes`, `magic-random`: random bytes, bare or behind a valid magic and version;
 * - `bitflip`, `truncate`, `extend`, `header-field`, `body-edit`, `splice`: structured mutations of valid
 *   payloads, the CRC (and where it applies bodyBytes) recomputed so that most of them reach the body;
 *   `header-field` pushes one header field to its limits and past them;
 * - `huge-values`: well-formed features whose values are finite but far beyond any model's range (quantized or
 *   float32);
 * - `float32`: version 2 float32 features frames (bits 32): valid ones, ones with a NaN or infinite value, bit
 *   flips with the CRC recomputed, and cut ones;
 * - `other-target`: valid payloads for another model (id, hash or both), point or variant;
 * - `event-shape`: events of the wrong shape (every field of a Function URL event replaced by anything);
 * - `base64`: the payload's base64 with anomalies (no padding, URL alphabet, whitespace, stray `=`, junk);
 * - `valid`: unmodified valid payloads, which must be answered 200.
 */
import {
  crc32Update,
  encodeFeatures,
  encodeRaw,
  type ModelRef,
  HEADER_OFFSETS as OFF,
  peekHeader,
} from '@jmdc/edge-sdk/codec';
import { featureDims, type LoadedModel } from '@jmdc/edge-sdk/model';
import fc from 'fast-check';

/** How a case must be answered. */
export type Expectation =
  /** 200 with logits */
  | 'ok'
  /** a 4xx with a JMDC_ERR_ code: the input is certainly invalid */
  | 'reject'
  /** 200 or a 4xx with a code: a mutation may leave a valid payload */
  | 'any';

/** One generated input. */
export interface FuzzCase {
  family: string;
  /** The event handed to the function (or sent over HTTP by the cloud runner). */
  event: unknown;
  /** The payload inside the event, when the event carries one intact (the decoder is fuzzed with it too). */
  payload?: Uint8Array;
  expect: Expectation;
}

/** What the generators aim at: one function of one model, and payloads that are valid elsewhere. */
export interface FuzzTarget {
  model: LoadedModel;
  point: number;
  /** Valid payloads for this function (varied coders, bits, keep, scope, batch; raw formats at point 0). */
  seeds: readonly Uint8Array[];
  /** Valid payloads for another model, point or variant: each must be rejected here. */
  foreign: readonly Uint8Array[];
}

// the structured mutations address the version 1 header's fixed offsets, so every seed is a version 1 frame
const HEADER_FIELDS: ReadonlyArray<{ name: string; at: number; width: 1 | 2 | 4 }> = [
  { name: 'version', at: OFF.version, width: 1 },
  { name: 'kind', at: OFF.kind, width: 1 },
  { name: 'flags', at: OFF.flags, width: 1 },
  { name: 'coder', at: OFF.coder, width: 1 },
  { name: 'mode', at: OFF.mode, width: 1 },
  { name: 'bits', at: OFF.bits, width: 1 },
  { name: 'point', at: OFF.point, width: 1 },
  { name: 'variant', at: OFF.variant, width: 1 },
  { name: 'channels', at: OFF.channels, width: 2 },
  { name: 'height', at: OFF.height, width: 2 },
  { name: 'width', at: OFF.width, width: 2 },
  { name: 'batch', at: OFF.batch, width: 2 },
  { name: 'keepCount', at: OFF.keepCount, width: 4 },
  { name: 'valueCount', at: OFF.valueCount, width: 4 },
  { name: 'bodyBytes', at: OFF.bodyBytes, width: 4 },
  { name: 'rawBodyBytes', at: OFF.rawBodyBytes, width: 4 },
  { name: 'modelIdLength', at: OFF.modelIdLength, width: 1 },
];

/** Values at and past the limits of a field of `width` bytes (and of the decoder's limits). */
function boundaryValues(width: 1 | 2 | 4, original: number): number[] {
  const max = width === 4 ? 0xffffffff : (1 << (8 * width)) - 1;
  const limits = [4, 8, 9, 63, 64, 65, 100, 101, 127, 128, 255, 256, 1023, 1024, 1025, 4095, 4096, 4097];
  const vals = [0, 1, 2, max, max - 1, (max + 1) / 2, original - 1, original + 1, original * 2, original >>> 1];
  if (width > 1) vals.push(...limits, 6 * 1024 * 1024, 64 * 1024 * 1024, 64 * 1024 * 1024 + 1);
  return vals.filter((v) => v >= 0 && v <= max);
}

function readField(bytes: Uint8Array, at: number, width: 1 | 2 | 4): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return width === 1 ? dv.getUint8(at) : width === 2 ? dv.getUint16(at, true) : dv.getUint32(at, true);
}

function writeField(bytes: Uint8Array, at: number, width: 1 | 2 | 4, v: number): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 1) dv.setUint8(at, v);
  else if (width === 2) dv.setUint16(at, v, true);
  else dv.setUint32(at, v >>> 0, true);
}

/** Recomputes the CRC-32 field (bytes [0, 36) and [40, end)) when the frame is long enough to have one. */
export function fixCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length < OFF.modelHash) return bytes;
  const crc = crc32Update(crc32Update(0, bytes, 0, OFF.crc32), bytes, OFF.crc32 + 4, bytes.length);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(OFF.crc32, crc, true);
  return bytes;
}

/** Sets bodyBytes to what follows the header (when the header is readable). */
function fixBodyBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length <= OFF.modelIdLength) return bytes;
  const headerBytes = OFF.modelId + (bytes[OFF.modelIdLength] as number);
  if (bytes.length >= headerBytes) writeField(bytes, OFF.bodyBytes, 4, bytes.length - headerBytes);
  return bytes;
}

function headerBytesOf(bytes: Uint8Array): number {
  return OFF.modelId + (bytes[OFF.modelIdLength] as number);
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** A Function URL event (payload format 2.0) as Lambda builds it for a POST. */
export function urlEvent(body: string, isBase64Encoded: boolean, contentType = 'application/octet-stream'): unknown {
  return {
    version: '2.0',
    rawPath: '/',
    headers: { 'content-type': contentType },
    body,
    isBase64Encoded,
    requestContext: { requestId: 'fuzz', http: { method: 'POST', path: '/' } },
  };
}

/** The ways a payload travels: Function URL (base64, latin1, JSON, base64 JSON) or Invoke (object, string). */
export const ENVELOPES = [
  'url-base64',
  'url-latin1',
  'url-json',
  'url-json-base64',
  'invoke',
  'invoke-string',
] as const;
export type Envelope = (typeof ENVELOPES)[number];

/** Wraps a payload in an event of the given envelope. */
export function wrap(payload: Uint8Array, envelope: Envelope): unknown {
  const json = JSON.stringify({ payload: b64(payload) });
  switch (envelope) {
    case 'url-base64':
      return urlEvent(b64(payload), true);
    case 'url-latin1':
      return urlEvent(Buffer.from(payload).toString('latin1'), false);
    case 'url-json':
      return urlEvent(json, false, 'application/json');
    case 'url-json-base64':
      return urlEvent(Buffer.from(json).toString('base64'), true, 'application/json; charset=utf-8');
    case 'invoke':
      return { payload: b64(payload) };
    case 'invoke-string':
      return json;
  }
}

const envelopeArb = fc.constantFrom(...ENVELOPES);

function payloadCase(family: string, payload: Uint8Array, expect: Expectation): fc.Arbitrary<FuzzCase> {
  return envelopeArb.map((env) => ({ family, event: wrap(payload, env), payload, expect }));
}

/** A pseudo-random generator for building seeds deterministically. */
function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Valid payloads for `point` of `model`: at point 0 raw images (raw, png, deflate; batch 1..3); at a split
 * point, features of every variant with several coders, bit widths, keep ratios, scopes and batches. Values
 * are those of a ReLU network's features (non-negative, mostly small), and deterministic.
 */
export function validSeeds(
  model: LoadedModel,
  point: number,
  opts: { variants?: readonly string[] } = {},
): Uint8Array[] {
  const { manifest } = model;
  const ref: ModelRef = { id: manifest.id, hash: manifest.hash };
  const rand = lcg(point * 7919 + 17);
  const out: Uint8Array[] = [];
  if (point === 0) {
    const dims = manifest.input.sourceShape as [number, number, number];
    const per = dims[0] * dims[1] * dims[2];
    for (const format of ['raw', 'png', 'deflate'] as const) {
      for (const batch of [1, 2, 3]) {
        const images = Uint8Array.from({ length: batch * per }, (_, i) => (i % dims[2] > 8 && rand() < 0.6 ? 200 : 0));
        out.push(encodeRaw(images, dims, batch, { model: ref, format, frameVersion: 1 }));
      }
    }
    return out;
  }
  const variants = manifest.variants.filter((v) => opts.variants === undefined || opts.variants.includes(v.id));
  const settings = [
    { coder: 'rans', bits: 4, keep: 0.25, scope: 'channel' },
    { coder: 'rans', bits: 2, keep: 0.25, scope: 'tensor' },
    { coder: 'none', bits: 8, keep: 1, scope: 'channel' },
    { coder: 'deflate', bits: 6, keep: 0.5, scope: 'channel' },
    { coder: 'brotli', bits: 3, keep: 0.75, scope: 'tensor' },
    { coder: 'auto', bits: 1, keep: 0.1, scope: 'channel' },
  ] as const;
  for (const v of variants) {
    const dims = featureDims(v, point);
    const hw = dims[1] * dims[2];
    settings.forEach((s, i) => {
      const batch = 1 + (i % 3);
      const features = Float32Array.from({ length: batch * dims[0] * hw }, () => (rand() < 0.5 ? 0 : 4 * rand() ** 2));
      const attention = Float32Array.from({ length: batch * hw }, () => rand());
      out.push(
        encodeFeatures(
          { dims, batch, features, attention },
          {
            model: ref,
            point,
            variant: v.pruneRatio,
            keep: s.keep,
            bits: s.bits,
            coder: s.coder,
            quantScope: s.scope,
            frameVersion: 1,
          },
        ),
      );
    });
  }
  return out;
}

/**
 * Payloads that are valid for something else than (`model`, `point`): another model id with the same hash,
 * another hash with the same id, another point, every variant's features declared as another variant, raw
 * images at a split point and features at point 0, raw images of another shape.
 */
export function foreignSeeds(model: LoadedModel, point: number): Uint8Array[] {
  const { manifest } = model;
  const ref: ModelRef = { id: manifest.id, hash: manifest.hash };
  const others: ModelRef[] = [
    { id: `${manifest.id}-other`, hash: manifest.hash },
    { id: manifest.id, hash: `sha256:${'5a'.repeat(32)}` },
    { id: 'another-model', hash: `sha256:${'00'.repeat(32)}` },
  ];
  const out: Uint8Array[] = [];
  const src = manifest.input.sourceShape as [number, number, number];
  const per = src[0] * src[1] * src[2];
  const image = Uint8Array.from({ length: per }, (_, i) => (i * 37) & 0xff);
  if (point === 0) {
    for (const m of others) out.push(encodeRaw(image, src, 1, { model: m, format: 'raw', frameVersion: 1 }));
    // the same bytes declared in another shape
    out.push(encodeRaw(image, [1, 1, per], 1, { model: ref, format: 'raw', frameVersion: 1 }));
    if (src[2] % 2 === 0)
      out.push(encodeRaw(image, [src[0], 2 * src[1], src[2] / 2], 1, { model: ref, frameVersion: 1 }));
    if (src[1] % 2 === 0 && src[2] % 2 === 0) {
      out.push(
        encodeRaw(image, [4 * src[0], src[1] / 2, src[2] / 2], 1, { model: ref, format: 'deflate', frameVersion: 1 }),
      );
    }
  } else {
    out.push(encodeRaw(image, src, 1, { model: ref, format: 'png', frameVersion: 1 }));
  }
  for (const p of [0, ...manifest.points.map((x) => x.point)]) {
    if (p === 0) continue;
    for (const v of manifest.variants) {
      const dims = featureDims(v, p);
      const n = dims[0] * dims[1] * dims[2];
      const batch = {
        dims,
        batch: 1,
        features: new Float32Array(n).fill(0.5),
        attention: new Float32Array(n / dims[0]),
      };
      if (p !== point)
        out.push(encodeFeatures(batch, { model: ref, point: p, variant: v.pruneRatio, bits: 4, frameVersion: 1 }));
      else {
        for (const m of others)
          out.push(encodeFeatures(batch, { model: m, point: p, variant: v.pruneRatio, bits: 4, frameVersion: 1 }));
        for (const w of manifest.variants) {
          if (w !== v && featureDims(w, p).join() !== dims.join()) {
            out.push(encodeFeatures(batch, { model: ref, point: p, variant: w.pruneRatio, bits: 4, frameVersion: 1 }));
          }
        }
        // a variant the model does not have
        out.push(encodeFeatures(batch, { model: ref, point: p, variant: 0.33, bits: 4, frameVersion: 1 }));
      }
    }
  }
  return out;
}

/** Builds a {@link FuzzTarget}. */
export function fuzzTarget(model: LoadedModel, point: number, opts: { variants?: readonly string[] } = {}): FuzzTarget {
  return { model, point, seeds: validSeeds(model, point, opts), foreign: foreignSeeds(model, point) };
}

/** Features of a valid seed with every kept value replaced by a huge finite one (CRC fixed). */
function hugeValues(target: FuzzTarget): fc.Arbitrary<FuzzCase> | undefined {
  if (target.point === 0) return undefined;
  const { manifest } = target.model;
  const ref: ModelRef = { id: manifest.id, hash: manifest.hash };
  const v = manifest.variants[0]!;
  const dims = featureDims(v, target.point);
  const n = dims[0] * dims[1] * dims[2];
  return fc
    .record({
      value: fc.constantFrom(1e38, -1e38, 3.4e38, 1e30, 1e20, 1e10, 65505, -65505, 1e6),
      coder: fc.constantFrom('none', 'rans', 'brotli', 'deflate'),
      // 32: float32 values, which no coder but rans may carry
      bits: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(32)),
    })
    .map((r) => (r.bits === 32 && r.coder === 'rans' ? { ...r, coder: 'none' } : r))
    .chain(({ value, coder, bits }) => {
      const features = new Float32Array(n).fill(value);
      features[0] = 0;
      const payload = encodeFeatures(
        { dims, batch: 1, features, attention: new Float32Array(dims[1] * dims[2]).fill(1) },
        { model: ref, point: target.point, variant: v.pruneRatio, keep: 1, bits, coder: coder as 'none' },
      );
      return payloadCase('huge-values', payload, 'reject');
    });
}

/** Recomputes the CRC-32 of a version 2 frame whose header is still readable (the CRC ends the header). */
function fixCrcV2(bytes: Uint8Array): Uint8Array {
  const crcAt = peekHeader(bytes).headerBytes - 4;
  const crc = crc32Update(crc32Update(0, bytes, 0, crcAt), bytes, crcAt + 4, bytes.length);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(crcAt, crc, true);
  return bytes;
}

/**
 * Version 2 float32 features frames (bits 32) for a split point: valid ones of a served variant ('ok'), the same
 * with one value replaced by a NaN or an infinity ('reject': `NON_FINITE`), with bit flips and the CRC recomputed
 * ('any'), or cut short ('reject'). The seeds are version 1 frames, which cannot carry float32 values.
 */
function float32Frames(target: FuzzTarget): fc.Arbitrary<FuzzCase> | undefined {
  if (target.point === 0) return undefined;
  const { manifest } = target.model;
  const ref: ModelRef = { id: manifest.id, hash: manifest.hash };
  return fc
    .record({
      variant: fc.constantFrom(...manifest.variants),
      batch: fc.integer({ min: 1, max: 3 }),
      keep: fc.constantFrom(1, 1, 0.5, 0.1),
      coder: fc.constantFrom('none', 'none', 'deflate', 'brotli', 'auto'),
      seed: fc.nat(),
      defect: fc.constantFrom('none', 'nan', 'infinity', 'bitflip', 'truncate'),
      at: fc.nat(),
      flips: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    })
    .chain((r) => {
      const dims = featureDims(r.variant, target.point);
      const hw = dims[1] * dims[2];
      const rand = lcg(r.seed + 1);
      const features = Float32Array.from({ length: r.batch * dims[0] * hw }, () => (rand() < 0.5 ? 0 : 4 * rand()));
      const attention = Float32Array.from({ length: r.batch * hw }, () => rand());
      // a defect in a value needs the values in the clear: coder none
      const coder = r.defect === 'nan' || r.defect === 'infinity' ? 'none' : r.coder;
      const valid = encodeFeatures(
        { dims, batch: r.batch, features, attention },
        { model: ref, point: target.point, variant: r.variant.pruneRatio, keep: r.keep, bits: 32, coder },
      );
      const out = valid.slice();
      const h = peekHeader(out);
      if (r.defect === 'none') return payloadCase('float32', out, 'ok');
      if (r.defect === 'truncate') return payloadCase('float32', out.slice(0, r.at % out.length), 'reject');
      if (r.defect === 'bitflip') {
        for (const f of r.flips) {
          const bit = (h.headerBytes * 8 + (f % ((out.length - h.headerBytes) * 8))) % (out.length * 8);
          out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
        }
        return payloadCase('float32', fixCrcV2(out), 'any');
      }
      const valuesAt = h.headerBytes + h.rawBodyBytes - 4 * h.valueCount;
      const value = r.defect === 'nan' ? Number.NaN : r.at % 2 === 0 ? Infinity : -Infinity;
      new DataView(out.buffer).setFloat32(valuesAt + 4 * (r.at % h.valueCount), value, true);
      return payloadCase('float32', fixCrcV2(out), 'reject');
    });
}

/** The base64 of a seed with one anomaly: each must be answered 400 (or, if it is still valid base64, anything). */
function base64Anomaly(seeds: readonly Uint8Array[]): fc.Arbitrary<FuzzCase> {
  const anomalies = [
    (s: string) => s.replace(/=+$/, ''),
    (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_'),
    (s: string) => `${s.slice(0, 8)}\n${s.slice(8)}`,
    (s: string) => ` ${s}`,
    (s: string) => `${s}=`,
    (s: string) => `${s}====`,
    (s: string) => `${s.slice(0, 5)}*${s.slice(6)}`,
    (s: string) => s.slice(0, -1),
    (s: string) => `data:application/octet-stream;base64,${s}`,
    (s: string) => Buffer.from(s).toString('base64'),
    (s: string) => `${s}\u0000`,
    (s: string) => `${s.slice(0, 4)}\u00e9${s.slice(5)}`,
    (s: string) => s.toLowerCase(),
    (_: string) => 'A'.repeat(9 * 1024 * 1024),
    (_: string) => '',
    (_: string) => '====',
  ];
  return fc
    .record({
      seed: fc.constantFrom(...seeds),
      which: fc.integer({ min: 0, max: anomalies.length - 1 }),
      shape: fc.constantFrom('url', 'url-json', 'invoke'),
    })
    .map(({ seed, which, shape }) => {
      const text = anomalies[which]!(b64(seed));
      const event =
        shape === 'url'
          ? urlEvent(text, true)
          : shape === 'url-json'
            ? urlEvent(JSON.stringify({ payload: text }), false, 'application/json')
            : { payload: text };
      // without padding or +/ characters the first two leave the seed's base64 as it was; lower case can
      // still be base64; the rest never decodes to a valid payload
      return { family: 'base64', event, expect: which <= 1 || which === 12 ? 'any' : 'reject' } as FuzzCase;
    });
}

/** Whether a value is absent, or becomes `null` in JSON (as the Invoke route carries events). */
function jsonNull(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));
}

/** Events of the wrong shape: anything at all, or a Function URL event with one field replaced by anything. */
function eventShape(seeds: readonly Uint8Array[]): fc.Arbitrary<FuzzCase> {
  const anyValue = fc.oneof(
    fc.anything({ maxDepth: 2 }),
    fc.constantFrom(42, -1, 0, true, false, null, [], {}, ['application/json'], { toString: 'x' }, '', Number.NaN),
  );
  const whole = anyValue.map((event) => ({ family: 'event-shape', event, expect: 'reject' }) as FuzzCase);
  const fields = [
    'headers',
    'content-type',
    'body',
    'isBase64Encoded',
    'method',
    'requestContext',
    'http',
    'requestId',
  ];
  const field = fc
    .record({ seed: fc.constantFrom(...seeds), field: fc.constantFrom(...fields), value: anyValue })
    .map(({ seed, field, value }) => {
      const e = urlEvent(b64(seed), true) as Record<string, unknown> & {
        headers: Record<string, unknown>;
        requestContext: Record<string, unknown> & { http: Record<string, unknown> };
      };
      let expect: Expectation = 'reject';
      if (field === 'content-type') e.headers['content-type'] = value;
      else if (field === 'method') e.requestContext.http.method = value;
      else if (field === 'http') e.requestContext.http = value as Record<string, unknown>;
      else if (field === 'requestId') {
        e.requestContext.requestId = value;
        expect = 'ok';
      } else e[field] = value;
      // a few replacements leave a valid request (no headers: octet-stream; a method that is not a string: an Invoke)
      if (
        field !== 'requestId' &&
        (jsonNull(value) || value === true || field === 'requestContext' || field === 'http')
      ) {
        expect = 'any';
      }
      if (field === 'headers' && typeof value === 'object' && value !== null && !Array.isArray(value)) expect = 'any';
      return { family: 'event-shape', event: e, expect } as FuzzCase;
    });
  return fc.oneof(whole, field);
}

/**
 * The arbitrary of every family for one target, weighted toward structured mutations (which reach the deepest
 * checks).
 *
 * @example
 * ```ts
 * const target = fuzzTarget(loadModel('tiny-vgg11'), 2);
 * for (const c of fc.sample(fuzzCaseArb(target), { numRuns: 100, seed: 1 })) await tail.handle(c.event);
 * ```
 */
export function fuzzCaseArb(target: FuzzTarget): fc.Arbitrary<FuzzCase> {
  const { seeds, foreign } = target;
  const seed = fc.constantFrom(...seeds);
  // the CRC is recomputed 9 times in 10, so that most mutations reach the body
  const crcFix = fc.integer({ min: 0, max: 9 }).map((n) => n > 0);

  const randomBytes = fc
    .uint8Array({ minLength: 0, maxLength: 2048 })
    .chain((bytes) => payloadCase('random-bytes', bytes, 'reject'));
  const magicRandom = fc.uint8Array({ maxLength: 600 }).chain((tail) => {
    const bytes = new Uint8Array(5 + tail.length);
    bytes.set([0x4a, 0x4d, 0x44, 0x43, 1]);
    bytes.set(tail, 5);
    return payloadCase('magic-random', bytes, 'reject');
  });
  const bitflip = fc
    .record({ seed, flips: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fix: crcFix })
    .chain(({ seed, flips, fix }) => {
      const out = seed.slice();
      for (const f of flips) {
        const bit = f % (out.length * 8);
        out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
      }
      if (fix) fixCrc(out);
      return payloadCase('bitflip', out, fix ? 'any' : 'reject');
    });
  const truncate = fc.record({ seed, at: fc.nat() }).chain(({ seed, at }) => {
    const out = seed.slice(0, at % seed.length);
    return payloadCase('truncate', out, 'reject');
  });
  const extend = fc
    .record({ seed, extra: fc.uint8Array({ minLength: 1, maxLength: 64 }), fixLength: fc.boolean(), fix: crcFix })
    .chain(({ seed, extra, fixLength, fix }) => {
      const out = new Uint8Array(seed.length + extra.length);
      out.set(seed);
      out.set(extra, seed.length);
      if (fixLength) fixBodyBytes(out);
      if (fix) fixCrc(out);
      return payloadCase('extend', out, 'reject');
    });
  const headerField = fc
    .record({
      seed,
      field: fc.constantFrom(...HEADER_FIELDS),
      pick: fc.nat(),
      random: fc.nat(),
      fix: crcFix,
    })
    .chain(({ seed, field, pick, random, fix }) => {
      const out = seed.slice();
      const original = readField(out, field.at, field.width);
      const values = boundaryValues(field.width, original);
      const max = field.width === 4 ? 0xffffffff : (1 << (8 * field.width)) - 1;
      const v =
        pick % (values.length + 1) === values.length ? random % (max + 1) : (values[pick % values.length] as number);
      writeField(out, field.at, field.width, v);
      if (fix) fixCrc(out);
      return payloadCase('header-field', out, v === original && fix ? 'ok' : 'any');
    });
  const bodyEdit = fc
    .record({
      seed,
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
    })
    .chain(({ seed, edits }) => {
      const out = seed.slice();
      const hb = headerBytesOf(out);
      const body = out.length - hb;
      for (const [at, v] of edits) out[hb + (at % body)] = v;
      fixCrc(out);
      return payloadCase('body-edit', out, 'any');
    });
  const splice = fc.record({ a: seed, b: fc.constantFrom(...seeds, ...foreign) }).chain(({ a, b }) => {
    const ha = headerBytesOf(a);
    const hb = headerBytesOf(b);
    const out = new Uint8Array(ha + (b.length - hb));
    out.set(a.subarray(0, ha));
    out.set(b.subarray(hb), ha);
    fixBodyBytes(out);
    fixCrc(out);
    return payloadCase('splice', out, 'any');
  });
  const otherTarget = fc.constantFrom(...foreign).chain((p) => payloadCase('other-target', p, 'reject'));
  const valid = seed.chain((p) => payloadCase('valid', p, 'ok'));

  const families: Array<{ weight: number; arbitrary: fc.Arbitrary<FuzzCase> }> = [
    { weight: 2, arbitrary: randomBytes },
    { weight: 2, arbitrary: magicRandom },
    { weight: 5, arbitrary: bitflip },
    { weight: 2, arbitrary: truncate },
    { weight: 2, arbitrary: extend },
    { weight: 6, arbitrary: headerField },
    { weight: 4, arbitrary: bodyEdit },
    { weight: 2, arbitrary: splice },
    { weight: 2, arbitrary: otherTarget },
    { weight: 2, arbitrary: eventShape(seeds) },
    { weight: 2, arbitrary: base64Anomaly(seeds) },
    { weight: 1, arbitrary: valid },
  ];
  const huge = hugeValues(target);
  if (huge !== undefined) families.push({ weight: 2, arbitrary: huge });
  const float32 = float32Frames(target);
  if (float32 !== undefined) families.push({ weight: 2, arbitrary: float32 });
  return fc.oneof(...families);
}
