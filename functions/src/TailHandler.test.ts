/**
 * The real tail handler, in-process, with real onnxruntime on real codec payloads, against the golden
 * logits of every model present: the tiny fixture (required) and the shipped fmnist-vgg16 (when built).
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  crc32,
  decodePayload,
  type ExpectedLayout,
  encodeFeatures,
  encodeRaw,
  type FeatureEncodeOptions,
  type ModelRef,
  peekHeader,
  reconstructFeatures,
} from '@jmdc/edge-sdk/codec';
import {
  argmaxRows,
  featureDims,
  type InferenceBackend,
  type LoadedModel,
  loadModel,
  ModelRunner,
  preprocess,
} from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionsFromEnv } from './config.js';
import { ErrorCodes, statusForCode } from './errors.js';
import type { FunctionUrlEvent } from './events.js';
import { createTailHandler, type TailHandler, type TailResponse } from './TailHandler.js';

const REPO = join(import.meta.dirname, '..', '..');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const SHIPPED = join(REPO, 'models', 'fmnist-vgg16');

interface Golden {
  sourceShape: [number, number, number];
  images: number[][];
  labels: number[];
  logits: Record<string, number[][]>;
}

// edge-sdk exports no sub-path for its test helpers; a computed specifier keeps this package's
// type-check (rootDir src) away from edge-sdk's sources while vitest loads the module as usual
const CORPUS_PATH = join(REPO, 'edge-sdk', 'src', 'codec', 'testing', 'malformed.ts');

const MODELS = [{ name: 'tiny fixture tiny-vgg11', dir: TINY }];
if (existsSync(join(SHIPPED, 'manifest.json'))) MODELS.push({ name: 'shipped fmnist-vgg16', dir: SHIPPED });
else console.log(`[TailHandler.test] fmnist-vgg16 not tested: ${SHIPPED}/manifest.json does not exist yet`);

// ---- helpers -------------------------------------------------------------------------------------------

function urlEvent(bytes: Uint8Array, over: Partial<FunctionUrlEvent> = {}): FunctionUrlEvent {
  return {
    version: '2.0',
    rawPath: '/',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(bytes).toString('base64'),
    isBase64Encoded: true,
    requestContext: { requestId: 'url-req', http: { method: 'POST', path: '/' } },
    ...over,
  };
}

const invokeEvent = (bytes: Uint8Array) => ({ payload: Buffer.from(bytes).toString('base64') });

interface Parsed {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
  body: any;
}

/** Status and JSON body of either response shape (Function URL or Invoke). */
function parse(res: TailResponse): Parsed {
  if ('body' in res && typeof res.body === 'string' && 'headers' in res) {
    expect(res.headers['content-type']).toBe('application/json');
    return { status: res.statusCode, body: JSON.parse(res.body) };
  }
  const { statusCode, ...body } = res as { statusCode: number };
  return { status: statusCode, body };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? Number.NaN) - (b[i] ?? Number.NaN)));
  return m;
}

function expectError(p: Parsed, code: string, status = statusForCode(code as never)): void {
  expect(p.body.error?.code, JSON.stringify(p.body)).toBe(code);
  expect(p.status).toBe(status);
  expect(typeof p.body.error.message).toBe('string');
  expect(JSON.stringify(p.body)).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack
}

// ---- per model -----------------------------------------------------------------------------------------

describe.each(MODELS)('TailHandler on $name', ({ dir }) => {
  const model: LoadedModel = loadModel(dir);
  const { manifest } = model;
  const golden = JSON.parse(readFileSync(join(model.dir, manifest.golden ?? 'golden.json'), 'utf8')) as Golden;
  const batch = golden.images.length;
  const pixels = Uint8Array.from(golden.images.flat());
  const input = preprocess(manifest, pixels, batch);
  const classes = manifest.classes.length;
  const ref: ModelRef = { id: manifest.id, hash: manifest.hash };
  const points = manifest.points.map((p) => p.point);
  const reference = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
  const handlers = new Map<number, TailHandler>();
  const logs: string[] = [];
  const handler = (p: number): TailHandler => handlers.get(p)!;
  const features = async (variant: string, point: number) => {
    const head = await reference.head(variant, point, input, batch);
    return { dims: head.dims, batch, features: head.features, attention: head.attention };
  };
  const encode = async (variantId: string, point: number, opts: Partial<FeatureEncodeOptions> = {}) => {
    const v = manifest.variants.find((x) => x.id === variantId)!;
    return encodeFeatures(await features(variantId, point), {
      model: ref,
      point,
      variant: v.pruneRatio,
      keep: 1,
      bits: 8,
      ...opts,
    });
  };

  beforeAll(async () => {
    for (const p of [0, ...points]) {
      handlers.set(p, await createTailHandler({ point: p, modelDir: dir, threads: 1, log: (l) => logs.push(l) }));
    }
  });
  afterAll(async () => {
    await Promise.all([...handlers.values()].map((h) => h.close()));
    await reference.close();
  });

  it.each(points)('point %i: every variant, keep 1 and 8 bits, gives the whole network’s classes', async (p) => {
    for (const v of manifest.variants) {
      const bytes = await encode(v.id, p, { keep: 1, bits: 8 });
      const res = parse(await handler(p).handle(urlEvent(bytes)));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const whole = golden.logits[v.id]!;
      expect(res.body.classes).toEqual(argmaxRows(Float32Array.from(whole.flat()), classes));
      expect(res.body.logits).toHaveLength(batch);
      // 8-bit quantization of the features: logits move by a small fraction of their range
      const range = Math.max(...whole.flat().map(Math.abs), 1);
      expect(maxAbsDiff(res.body.logits.flat(), whole.flat())).toBeLessThanOrEqual(0.02 * range);
      expect(res.body).toMatchObject({ point: p, variant: v.pruneRatio, batch, modelHash: manifest.hash });
    }
  });

  it.each(points)('point %i: logits equal ModelRunner.tail on the same reconstructed features exactly', async (p) => {
    for (const v of manifest.variants) {
      const bytes = await encode(v.id, p, { keep: 0.5, bits: 4 });
      const decoded = decodePayload(bytes);
      if (decoded.kind !== 'features') throw new Error('expected a features payload');
      const dense = reconstructFeatures(decoded, Float32Array.from(v.fill[p - 1]!));
      const expected = await reference.tail(v.id, p, dense, batch);
      const viaUrl = parse(await handler(p).handle(urlEvent(bytes)));
      const viaInvoke = parse(await handler(p).handle(invokeEvent(bytes)));
      expect(viaUrl.status).toBe(200);
      expect(viaInvoke.status).toBe(200);
      expect(viaUrl.body.logits.flat()).toEqual(Array.from(expected));
      expect(viaInvoke.body.logits).toEqual(viaUrl.body.logits);
      expect(viaInvoke.body.classes).toEqual(argmaxRows(expected, classes));
    }
  });

  it.each(
    points,
  )('point %i: float32 features (bits 32, keep 1, coder none) give the logits of the features sent directly', async (p) => {
    for (const v of manifest.variants) {
      const head = await features(v.id, p);
      const bytes = encodeFeatures(head, {
        model: ref,
        point: p,
        variant: v.pruneRatio,
        keep: 1,
        bits: 32,
        coder: 'none',
      });
      const [c, h, w] = head.dims;
      expect(peekHeader(bytes)).toMatchObject({ bits: 32, hasBitmap: false, bodyBytes: batch * c * h * w * 4 });
      // the tail on the head's own float32 output, no codec in between
      const expected = await reference.tail(v.id, p, head.features, batch);
      for (const event of [urlEvent(bytes), invokeEvent(bytes)]) {
        const res = parse(await handler(p).handle(event));
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.logits.flat()).toEqual(Array.from(expected));
        expect(res.body.classes).toEqual(argmaxRows(expected, classes));
      }
      // with region selection and deflate: the kept values exactly, the variant's fill elsewhere
      const half = encodeFeatures(head, {
        model: ref,
        point: p,
        variant: v.pruneRatio,
        keep: 0.5,
        bits: 32,
        coder: 'deflate',
      });
      const decoded = decodePayload(half);
      if (decoded.kind !== 'features') throw new Error('expected a features payload');
      const dense = reconstructFeatures(decoded, Float32Array.from(v.fill[p - 1]!));
      const res = parse(await handler(p).handle(urlEvent(half)));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.logits.flat()).toEqual(Array.from(await reference.tail(v.id, p, dense, batch)));
    }
  });

  it.each([
    'png',
    'raw',
    'deflate',
  ] as const)('point 0 with a %s raw payload equals the whole network', async (format) => {
    const bytes = encodeRaw(pixels, golden.sourceShape, batch, { model: ref, format });
    const res = parse(await handler(0).handle(urlEvent(bytes)));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const v = manifest.variants.find((x) => Math.abs(x.pruneRatio - res.body.variant) < 1e-9)!;
    expect(maxAbsDiff(res.body.logits.flat(), golden.logits[v.id]!.flat())).toBeLessThanOrEqual(1e-4);
    expect(res.body.classes).toEqual(argmaxRows(Float32Array.from(golden.logits[v.id]!.flat()), classes));
  });

  it('accepts every event shape: URL base64, URL binary string, URL JSON, Invoke object, Invoke JSON string', async () => {
    const p = points[0]!;
    const v = manifest.variants[0]!;
    const bytes = await encode(v.id, p);
    const b64 = Buffer.from(bytes).toString('base64');
    const json = JSON.stringify({ payload: b64 });
    const shapes: unknown[] = [
      urlEvent(bytes),
      urlEvent(bytes, { isBase64Encoded: false, body: Buffer.from(bytes).toString('latin1') }),
      urlEvent(bytes, { isBase64Encoded: false, body: json, headers: { 'content-type': 'application/json' } }),
      urlEvent(bytes, {
        body: Buffer.from(json).toString('base64'),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      }),
      urlEvent(bytes, { headers: {} }),
      { payload: b64 },
      json,
    ];
    const results = await Promise.all(shapes.map(async (e) => parse(await handler(p).handle(e))));
    for (const r of results) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.logits).toEqual(results[0]!.body.logits);
    }
  });

  describe('rejects what the caller got wrong with a 4xx and a code', () => {
    it('a payload for another model hash with 409 JMDC_ERR_MODEL_MISMATCH', async () => {
      const p = points[0]!;
      const bytes = await encode(manifest.variants[0]!.id, p, {
        model: { id: manifest.id, hash: `sha256:${'0'.repeat(64)}` },
      });
      expectError(parse(await handler(p).handle(urlEvent(bytes))), ErrorCodes.MODEL_MISMATCH, 409);
      const raw = encodeRaw(pixels, golden.sourceShape, batch, {
        model: { id: 'other', hash: `sha256:${'1'.repeat(64)}` },
      });
      expectError(parse(await handler(0).handle(invokeEvent(raw))), ErrorCodes.MODEL_MISMATCH, 409);
    });

    it('features with finite but huge values (all 1e38) at every point with 422 JMDC_ERR_INVALID_FEATURES', async () => {
      for (const p of points) {
        for (const v of manifest.variants) {
          const dims = featureDims(v, p);
          const n = dims[0] * dims[1] * dims[2];
          for (const value of [1e38, -1e38, 65505]) {
            const bytes = encodeFeatures(
              {
                dims,
                batch: 1,
                features: new Float32Array(n).fill(value),
                attention: new Float32Array(dims[1] * dims[2]),
              },
              { model: ref, point: p, variant: v.pruneRatio, keep: 1, bits: 8, coder: 'brotli' },
            );
            for (const event of [urlEvent(bytes), invokeEvent(bytes)]) {
              expectError(parse(await handler(p).handle(event)), ErrorCodes.INVALID_FEATURES, 422);
            }
          }
        }
      }
    });

    it('float32 features with a NaN or infinite value in the body with 400 JMDC_ERR_NON_FINITE', async () => {
      const p = points[0]!;
      const v = manifest.variants[0]!;
      const good = await encode(v.id, p, { keep: 1, bits: 32, coder: 'none' });
      const h = peekHeader(good);
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const bytes = good.slice();
        new DataView(bytes.buffer).setFloat32(h.headerBytes + 4 * 3, bad, true);
        // the CRC-32 (the header's last 4 bytes) recomputed, so that the value itself is what is refused
        const crcAt = h.headerBytes - 4;
        const crc = crc32(Buffer.concat([bytes.subarray(0, crcAt), bytes.subarray(crcAt + 4)]));
        new DataView(bytes.buffer).setUint32(crcAt, crc, true);
        for (const event of [urlEvent(bytes), invokeEvent(bytes)]) {
          expectError(parse(await handler(p).handle(event)), ErrorCodes.NON_FINITE, 400);
        }
      }
    });

    it('features at the bound (±65504) still run and give finite logits', async () => {
      const p = points[points.length - 1]!;
      const v = manifest.variants[0]!;
      const dims = featureDims(v, p);
      const n = dims[0] * dims[1] * dims[2];
      const features = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -65504 : 65504));
      const bytes = encodeFeatures(
        { dims, batch: 1, features, attention: new Float32Array(dims[1] * dims[2]) },
        { model: ref, point: p, variant: v.pruneRatio, keep: 1, bits: 8 },
      );
      const r = parse(await handler(p).handle(invokeEvent(bytes)));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.logits[0].every(Number.isFinite)).toBe(true);
    });

    it('raw images in any shape but the model’s source shape with 400 JMDC_ERR_SHAPE_MISMATCH', async () => {
      const [c, h, w] = manifest.input.sourceShape;
      const items = c * h * w;
      const one = pixels.subarray(0, items);
      // the same bytes under every factorisation the issue found accepted (for 1x28x28: 1x1x784, 4x14x14, ...)
      const shapes: Array<[number, number, number]> = [
        [1, 1, items],
        [4, h / 2, w / 2],
        [16, h / 4, w / 4],
        [2 * c, h, w / 2],
        [c, w, h],
      ].filter(
        (d) => d.every((x) => Number.isInteger(x) && x >= 1 && x <= 1024) && d.join() !== [c, h, w].join(),
      ) as Array<[number, number, number]>;
      expect(shapes.length).toBeGreaterThanOrEqual(3);
      for (const dims of shapes) {
        for (const format of ['raw', 'deflate'] as const) {
          const bytes = encodeRaw(one, dims, 1, { model: ref, format });
          expectError(parse(await handler(0).handle(urlEvent(bytes))), ErrorCodes.SHAPE_MISMATCH, 400);
        }
      }
      // two images declared as one of twice the height
      const two = encodeRaw(pixels.subarray(0, 2 * items), [c, 2 * h, w], 1, { model: ref, format: 'raw' });
      expectError(parse(await handler(0).handle(invokeEvent(two))), ErrorCodes.SHAPE_MISMATCH, 400);
    });

    it('a raw frame whose variant byte is not 0 with 400 JMDC_ERR_BAD_HEADER', async () => {
      // the version 1 frame's fixed layout: the variant at byte 11, the CRC at 36
      const bytes = encodeRaw(pixels, golden.sourceShape, batch, { model: ref, format: 'raw', frameVersion: 1 });
      for (const pct of [25, 50, 75]) {
        const bad = bytes.slice();
        bad[11] = pct;
        // CRC over [0, 36) and [40, end)
        const crc = crc32(Buffer.concat([bad.subarray(0, 36), bad.subarray(40)]));
        new DataView(bad.buffer).setUint32(36, crc, true);
        expectError(parse(await handler(0).handle(urlEvent(bad))), ErrorCodes.BAD_HEADER, 400);
      }
    });

    it('a payload naming another model id with the right hash with 409 JMDC_ERR_MODEL_MISMATCH', async () => {
      const p = points[0]!;
      // only version 1 frames carry a model id
      const bytes = await encode(manifest.variants[0]!.id, p, {
        model: { id: `${manifest.id}-x`, hash: manifest.hash },
        frameVersion: 1,
      });
      expectError(parse(await handler(p).handle(urlEvent(bytes))), ErrorCodes.MODEL_MISMATCH, 409);
      const raw = encodeRaw(pixels, golden.sourceShape, batch, {
        model: { id: 'another-model', hash: manifest.hash },
        frameVersion: 1,
      });
      expectError(parse(await handler(0).handle(invokeEvent(raw))), ErrorCodes.MODEL_MISMATCH, 409);
    });

    it('a 1024x128x128 brotli or deflate frame with 400 JMDC_ERR_SHAPE_MISMATCH from its dims, before inflating', async () => {
      const corpus = (await import(/* @vite-ignore */ CORPUS_PATH)) as CorpusModule;
      const p = points[points.length - 1]!;
      const target = { model: ref, point: p, variantPercent: Math.round(manifest.variants[0]!.pruneRatio * 100) };
      for (const coder of ['brotli', 'deflate'] as const) {
        // a body that is no valid stream: only a check before inflating can answer SHAPE_MISMATCH
        for (const body of [undefined, Uint8Array.of(0xff, 0xff, 0xff, 0xff)]) {
          const bytes = corpus.amplificationPayload(coder, body, target);
          expectError(parse(await handler(p).handle(invokeEvent(bytes))), ErrorCodes.SHAPE_MISMATCH, 400);
        }
      }
    });

    it('a Function URL event whose content-type or isBase64Encoded is not a string/boolean with 400 JMDC_ERR_INVALID_REQUEST', async () => {
      const p = points[0]!;
      const bytes = await encode(manifest.variants[0]!.id, p);
      const weird: unknown[] = [42, ['application/octet-stream'], { type: 'application/json' }, true, false, null];
      const events: Array<[string, unknown]> = weird.map((t) => [
        `content-type ${JSON.stringify(t)}`,
        { ...urlEvent(bytes), headers: { 'content-type': t } },
      ]);
      events.push(['Content-Type 7', { ...urlEvent(bytes), headers: { 'Content-Type': 7 } }]);
      events.push(['headers an array', { ...urlEvent(bytes), headers: ['content-type'] }]);
      events.push(['headers a string', { ...urlEvent(bytes), headers: 'content-type: x' }]);
      events.push(['isBase64Encoded "true"', { ...urlEvent(bytes), isBase64Encoded: 'true' }]);
      events.push(['isBase64Encoded 1', { ...urlEvent(bytes), isBase64Encoded: 1 }]);
      for (const [name, event] of events) {
        const r = parse(await handler(p).handle(event));
        // null content-type falls back to the default: the payload goes through
        if (name === 'content-type null') {
          expect(r.status, name).toBe(200);
          continue;
        }
        expect([name, r.status, r.body.error?.code]).toEqual([name, 400, ErrorCodes.INVALID_REQUEST]);
      }
    });

    it('a payload for another partition point with JMDC_ERR_WRONG_POINT', async () => {
      const bytes = await encode(manifest.variants[0]!.id, points[1]!);
      expectError(parse(await handler(points[0]!).handle(urlEvent(bytes))), ErrorCodes.WRONG_POINT, 400);
      const raw = encodeRaw(pixels, golden.sourceShape, batch, { model: ref });
      expectError(parse(await handler(points[0]!).handle(urlEvent(raw))), ErrorCodes.WRONG_POINT, 400);
    });

    it('an unknown variant with 400 JMDC_ERR_UNKNOWN_VARIANT', async () => {
      const p = points[0]!;
      const known = new Set(manifest.variants.map((v) => Math.round(v.pruneRatio * 100)));
      const ratio = [33, 99, 1].find((r) => !known.has(r))! / 100;
      const bytes = encodeFeatures(await features(manifest.variants[0]!.id, p), {
        model: ref,
        point: p,
        variant: ratio,
        bits: 8,
      });
      expectError(parse(await handler(p).handle(urlEvent(bytes))), ErrorCodes.UNKNOWN_VARIANT, 400);
    });

    it('features whose shape is not the variant’s with 400 JMDC_ERR_SHAPE_MISMATCH', async () => {
      const p = points[0]!;
      const [a, b] = manifest.variants;
      if (!b || featureDims(a!, p).join() === featureDims(b, p).join()) return;
      // b's features labelled as variant a
      const bytes = encodeFeatures(await features(b.id, p), { model: ref, point: p, variant: a!.pruneRatio, bits: 8 });
      expectError(parse(await handler(p).handle(urlEvent(bytes))), ErrorCodes.SHAPE_MISMATCH, 400);
    });

    it('a payload over the size limit with 413, before and after base64 decoding', async () => {
      const p = points[0]!;
      const bytes = await encode(manifest.variants[0]!.id, p);
      const small = await createTailHandler({
        point: p,
        modelDir: dir,
        threads: 1,
        limits: { maxPayloadBytes: bytes.length - 1 },
        log: () => {},
      });
      try {
        expectError(parse(await small.handle(urlEvent(bytes))), ErrorCodes.PAYLOAD_TOO_LARGE, 413);
        expectError(parse(await small.handle(invokeEvent(bytes))), ErrorCodes.PAYLOAD_TOO_LARGE, 413);
      } finally {
        await small.close();
      }
      const huge = urlEvent(new Uint8Array(0), { body: 'A'.repeat(9 * 1024 * 1024) });
      expectError(parse(await handler(p).handle(huge)), ErrorCodes.PAYLOAD_TOO_LARGE, 413);
    });

    it('a batch over the limit with JMDC_ERR_BATCH_OUT_OF_RANGE', async () => {
      const p = points[0]!;
      const bytes = await encode(manifest.variants[0]!.id, p);
      const one = await createTailHandler({
        point: p,
        modelDir: dir,
        threads: 1,
        limits: { maxBatch: 1 },
        log: () => {},
      });
      try {
        expectError(parse(await one.handle(urlEvent(bytes))), ErrorCodes.BATCH_OUT_OF_RANGE);
      } finally {
        await one.close();
      }
    });

    it('envelope mistakes with 400 JMDC_ERR_INVALID_REQUEST', async () => {
      const h = handler(points[0]!);
      const bytes = await encode(manifest.variants[0]!.id, points[0]!);
      const cases: Array<[string, unknown]> = [
        ['GET', urlEvent(bytes, { requestContext: { http: { method: 'GET' } } })],
        [
          'garbage JSON body',
          urlEvent(bytes, {
            isBase64Encoded: false,
            body: '{"payload": ',
            headers: { 'content-type': 'application/json' },
          }),
        ],
        [
          'JSON without payload',
          urlEvent(bytes, { isBase64Encoded: false, body: '{"p":1}', headers: { 'content-type': 'application/json' } }),
        ],
        ['missing body', urlEvent(bytes, { body: undefined })],
        ['wrong content-type', urlEvent(bytes, { headers: { 'content-type': 'text/plain' } })],
        ['body that is not base64', urlEvent(bytes, { body: '!!!not base64!!!' })],
        ['non-latin1 binary string', urlEvent(bytes, { isBase64Encoded: false, body: 'ÿ\u20ac' })],
        ['garbage JSON invoke', '{nope'],
        ['invoke without payload', { data: 'x' }],
        ['invoke with a number payload', { payload: 42 }],
        ['invoke with an array', [1, 2, 3]],
        ['null invoke', null],
      ];
      for (const [name, event] of cases) {
        const r = parse(await h.handle(event));
        expect(r.body.error?.code, name).toBe(ErrorCodes.INVALID_REQUEST);
        expect(r.status, name).toBe(400);
      }
    });

    it('an empty or cut payload with the codec’s codes', async () => {
      const p = points[0]!;
      const bytes = await encode(manifest.variants[0]!.id, p);
      for (const cut of [bytes.subarray(0, 10), bytes.subarray(0, bytes.length - 3), bytes.subarray(0, 1)]) {
        const r = parse(await handler(p).handle(invokeEvent(cut)));
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.body.error.code).toMatch(/^JMDC_ERR_/);
      }
    });
  });

  it('writes one structured JSON log line per request', async () => {
    const p = points[0]!;
    const before = logs.length;
    const bytes = await encode(manifest.variants[0]!.id, p);
    await handler(p).handle(urlEvent(bytes), { awsRequestId: 'req-log-1' });
    await handler(p).handle({ payload: 5 }, { awsRequestId: 'req-log-2' });
    const lines = logs.slice(before).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      requestId: 'req-log-1',
      point: p,
      variant: manifest.variants[0]!.pruneRatio,
      batch,
      bytes: bytes.length,
      status: 200,
      code: 'OK',
    });
    for (const k of ['serverMs', 'decodeMs', 'inferMs']) expect(typeof lines[0][k]).toBe('number');
    expect(lines[1]).toMatchObject({ requestId: 'req-log-2', point: p, status: 400, code: ErrorCodes.INVALID_REQUEST });
  });
});

// ---- the codec's malformed corpus ---------------------------------------------------------------------

interface MalformedCase {
  name: string;
  bytes: Uint8Array;
  code: string;
  options?: {
    expectModelHash?: string;
    expectModelId?: string;
    expectPoint?: number;
    expectLayouts?: readonly ExpectedLayout[];
    maxAbsValue?: number;
  };
}
interface CorpusModule {
  malformedCorpus(): MalformedCase[];
  CORPUS_MODEL: { id: string; hash: string };
  CORPUS_POINT: number;
  CORPUS_LAYOUTS: readonly ExpectedLayout[];
  amplificationPayload(
    coder: 'brotli' | 'deflate',
    body: Uint8Array | undefined,
    target: { model: ModelRef; point: number; variantPercent: number },
  ): Uint8Array;
}

describe('every case of the codec’s malformed corpus', async () => {
  const corpus = (await import(/* @vite-ignore */ CORPUS_PATH)) as CorpusModule;
  const cases = corpus.malformedCorpus();
  const P = corpus.CORPUS_POINT;
  const handlers = new Map<string, TailHandler>();
  let tmp = '';

  /**
   * The tail of (hash, point, bound) on a copy of the tiny model whose manifest claims to be the corpus
   * model: its id, `hash`, and the shapes of {@link CorpusModule.CORPUS_LAYOUTS} (raw images and the
   * features of each variant at the corpus point). No case runs inference, so the ONNX files stay the tiny
   * model's.
   */
  const tailFor = async (hash: string, point: number, maxAbsFeature?: number): Promise<TailHandler> => {
    const key = `${hash}@${point}@${maxAbsFeature}`;
    let h = handlers.get(key);
    if (!h) {
      const dir = join(tmp, String(handlers.size));
      cpSync(TINY, dir, { recursive: true });
      const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      const raw = corpus.CORPUS_LAYOUTS.find((l) => l.kind === 'raw')!.dims;
      const pad = m.input.normalization.pad as number;
      m.input.sourceShape = [...raw];
      m.input.shape = [raw[0], raw[1] + 2 * pad, raw[2] + 2 * pad];
      for (const v of m.variants) {
        const l = corpus.CORPUS_LAYOUTS.find((x) => x.kind === 'features' && x.variant === v.pruneRatio);
        if (!l) continue;
        v.blocks[P - 1].outShape = [...l.dims];
        v.fill[P - 1] = new Array(l.dims[0]).fill(0);
      }
      // the corpus serves no bottleneck (a bottleneck code is one of its refused cases)
      m.bottlenecks = [];
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, id: corpus.CORPUS_MODEL.id, hash }));
      const opts = { point, modelDir: dir, threads: 1, log: () => {} };
      h = await createTailHandler(maxAbsFeature === undefined ? opts : { ...opts, maxAbsFeature });
      handlers.set(key, h);
    }
    return h;
  };

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'jmdc-corpus-'));
  });
  afterAll(async () => {
    await Promise.all([...handlers.values()].map((h) => h.close()));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is not empty', () => expect(cases.length).toBeGreaterThan(10));

  // the handler's own expectations (its manifest hash and point) play the role of the case's options
  it.each(
    cases.map((c) => [c.name, c] as const),
  )('%s: its status and code over a Function URL and Invoke, never 5xx', async (_, c) => {
    // raw (cloud-only) cases go to the point-0 function; a header too broken to read fails at any point
    let point = P;
    try {
      point = peekHeader(c.bytes).point;
    } catch {}
    // a case that expects other layouts than the corpus model's names a receiver of features only
    const layouts = c.options?.expectLayouts;
    if (layouts !== undefined && layouts !== corpus.CORPUS_LAYOUTS) {
      expect(layouts.every((l) => l.kind === 'features')).toBe(true);
      point = P;
    }
    if (c.options?.expectModelId !== undefined) expect(c.options.expectModelId).toBe(corpus.CORPUS_MODEL.id);
    const h = await tailFor(
      c.options?.expectModelHash ?? corpus.CORPUS_MODEL.hash,
      c.options?.expectPoint ?? point,
      c.options?.maxAbsValue,
    );
    // an empty payload never reaches the codec: the envelope has no body, INVALID_REQUEST (also a 400)
    const code = c.bytes.length === 0 ? ErrorCodes.INVALID_REQUEST : c.code;
    for (const res of [await h.handle(urlEvent(c.bytes)), await h.handle(invokeEvent(c.bytes))]) {
      const r = parse(res);
      expectError(r, code);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
  });
});

// ---- behaviour independent of the model ------------------------------------------------------------------

describe('TailHandler lifecycle and our own faults', () => {
  const model = loadModel(TINY);
  const { manifest } = model;
  const P = manifest.points.length;
  const golden = JSON.parse(readFileSync(join(TINY, 'golden.json'), 'utf8')) as Golden;
  const pixels = Uint8Array.from(golden.images.flat());
  const batch = golden.images.length;
  const ref: ModelRef = { id: manifest.id, hash: manifest.hash };
  const rawPayload = () => encodeRaw(pixels, golden.sourceShape, batch, { model: ref, format: 'raw' });
  /** Features at the last point: the classifier input, N*C*1*1, so a fake backend only fakes one block. */
  const lastPointPayload = () => {
    const dims = featureDims(manifest.variants[0]!, P);
    const n = dims[0] * dims[1] * dims[2];
    return encodeFeatures(
      {
        dims,
        batch: 1,
        features: new Float32Array(n).fill(0.5),
        attention: new Float32Array(dims[1] * dims[2]).fill(1),
      },
      { model: ref, point: P, variant: manifest.variants[0]!.pruneRatio, bits: 8 },
    );
  };
  const fakeBackend = (
    run: () => Promise<Record<string, { data: Float32Array; dims: number[] }>>,
  ): InferenceBackend => ({
    load: async () => ({ inputNames: ['features'], outputNames: ['logits'], run, release: async () => {} }),
  });

  it('reports coldStart true for the first request only, and the same initMs on every response', async () => {
    const h = await createTailHandler({ point: 0, modelDir: TINY, threads: 1, log: () => {} });
    try {
      const a = parse(await h.handle(invokeEvent(rawPayload()), { awsRequestId: 'a' }));
      const b = parse(await h.handle(urlEvent(rawPayload()), { awsRequestId: 'b' }));
      const c = parse(await h.handle({ payload: '' }, { awsRequestId: 'c' }));
      expect([a.body.coldStart, b.body.coldStart]).toEqual([true, false]);
      expect(c.status).toBe(400);
      expect(a.body.initMs).toBeGreaterThan(0);
      expect(a.body.initMs).toBe(h.initMs);
      expect(b.body.initMs).toBe(h.initMs);
      expect([a.body.requestId, b.body.requestId, c.body.requestId]).toEqual(['a', 'b', 'c']);
      for (const k of ['serverMs', 'decodeMs', 'inferMs']) expect(a.body[k]).toBeGreaterThanOrEqual(0);
      expect(a.body.serverMs).toBeGreaterThanOrEqual(a.body.inferMs);
    } finally {
      await h.close();
    }
  });

  it('creates every session of every variant’s tail at init', async () => {
    const loaded: string[] = [];
    const backend: InferenceBackend = {
      load: async (path) => {
        loaded.push(path.slice(model.dir.length + 1));
        return { inputNames: [], outputNames: [], run: async () => ({}), release: async () => {} };
      },
    };
    await createTailHandler({ point: 3, modelDir: TINY, backend, log: () => {} });
    const want = manifest.variants.flatMap((v) => v.blocks.filter((b) => b.block > 3).map((b) => b.file));
    expect(loaded.sort()).toEqual(want.sort());
  });

  it('answers non-finite logits from features with 422 JMDC_ERR_INVALID_FEATURES, from images with 500 JMDC_ERR_INTERNAL', async () => {
    // every block passes its input through; the classifier answers NaN
    const backend: InferenceBackend = {
      load: async () => ({
        inputNames: ['x'],
        outputNames: ['features', 'logits'],
        run: async (inputs) => {
          const x = Object.values(inputs)[0]!;
          return {
            features: { data: x.data, dims: [...x.dims] },
            logits: { data: new Float32Array(10 * x.dims[0]!).fill(Number.NaN), dims: [x.dims[0]!, 10] },
          };
        },
        release: async () => {},
      }),
    };
    const tail = await createTailHandler({ point: P, modelDir: TINY, backend, log: () => {} });
    expectError(parse(await tail.handle(invokeEvent(lastPointPayload()))), ErrorCodes.INVALID_FEATURES, 422);
    const whole = await createTailHandler({ point: 0, modelDir: TINY, backend, log: () => {} });
    expectError(parse(await whole.handle(invokeEvent(rawPayload()))), ErrorCodes.INTERNAL, 500);
  });

  it('answers an unexpected exception with 500 JMDC_ERR_INTERNAL, no message or stack in the body, the stack in the log', async () => {
    const logs: string[] = [];
    const backend = fakeBackend(async () => {
      throw new Error('ort exploded at /secret/path');
    });
    const h = await createTailHandler({ point: P, modelDir: TINY, backend, log: (l) => logs.push(l) });
    const res = parse(await h.handle(urlEvent(lastPointPayload())));
    expectError(res, ErrorCodes.INTERNAL, 500);
    expect(JSON.stringify(res.body)).not.toContain('secret');
    const line = JSON.parse(logs[0]!);
    expect(line).toMatchObject({ status: 500, code: ErrorCodes.INTERNAL });
    expect(line.stack).toContain('ort exploded');
  });

  describe('verifies at init only the files its point loads', () => {
    let tmp = '';
    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), 'jmdc-tail-'));
      cpSync(TINY, tmp, { recursive: true });
    });
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    it('a corrupted head block does not stop the tail of point 3; a corrupted tail block does (MODEL_HASH_MISMATCH)', async () => {
      const v = manifest.variants[0]!;
      const head = join(tmp, v.blocks[0]!.file);
      writeFileSync(head, Buffer.concat([readFileSync(head), Buffer.from([0])]));
      const ok = await createTailHandler({ point: 3, modelDir: tmp, threads: 1, log: () => {} });
      await ok.close();
      const tail = join(tmp, v.blocks[4]!.file);
      copyFileSync(head, tail);
      await expect(createTailHandler({ point: 3, modelDir: tmp, threads: 1 })).rejects.toMatchObject({
        code: ErrorCodes.MODEL_HASH_MISMATCH,
      });
    });

    it('a missing tail block fails init with MODEL_NOT_FOUND', async () => {
      rmSync(join(tmp, manifest.variants[1]!.blocks[P]!.file));
      await expect(createTailHandler({ point: P, modelDir: tmp, threads: 1 })).rejects.toMatchObject({
        code: ErrorCodes.MODEL_NOT_FOUND,
      });
    });
  });

  it('fails init when the deployment expects another model hash, or the point is not one of the model', async () => {
    await expect(
      createTailHandler({ point: 1, modelDir: TINY, expectModelHash: `sha256:${'f'.repeat(64)}` }),
    ).rejects.toMatchObject({ code: ErrorCodes.MODEL_HASH_MISMATCH });
    await expect(createTailHandler({ point: P + 1, modelDir: TINY })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
    });
    await expect(createTailHandler({ point: 1, modelDir: TINY, limits: { maxBatch: 0 } })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
    });
  });
});

describe('optionsFromEnv', () => {
  it('reads point, model folder, threads, hash and limits', () => {
    expect(
      optionsFromEnv(
        {
          JMDC_POINT: '2',
          JMDC_THREADS: '1',
          JMDC_MAX_BATCH: '8',
          JMDC_MAX_PAYLOAD_BYTES: '1000',
          JMDC_MODEL_HASH: 'sha256:x',
        },
        '/var/task/model',
      ),
    ).toEqual({
      point: 2,
      modelDir: '/var/task/model',
      threads: 1,
      expectModelHash: 'sha256:x',
      limits: { maxBatch: 8, maxPayloadBytes: 1000 },
    });
    expect(optionsFromEnv({ JMDC_POINT: '3', JMDC_MAX_ABS_FEATURE: '1e4' }, '/x').maxAbsFeature).toBe(10_000);
    expect(optionsFromEnv({ JMDC_POINT: '0', JMDC_MODEL_DIR: '/m' }, '/x')).toEqual({
      point: 0,
      modelDir: '/m',
      limits: {},
    });
  });

  it.each([
    [{}, 'JMDC_POINT is not set'],
    [{ JMDC_POINT: 'two' }, 'JMDC_POINT'],
    [{ JMDC_POINT: '-1' }, 'JMDC_POINT'],
    [{ JMDC_POINT: '1', JMDC_MAX_BATCH: '0' }, 'JMDC_MAX_BATCH'],
    [{ JMDC_POINT: '1', JMDC_THREADS: '1.5' }, 'JMDC_THREADS'],
    [{ JMDC_POINT: '1', JMDC_MAX_ABS_FEATURE: '0' }, 'JMDC_MAX_ABS_FEATURE'],
    [{ JMDC_POINT: '1', JMDC_MAX_ABS_FEATURE: 'big' }, 'JMDC_MAX_ABS_FEATURE'],
    [{ JMDC_POINT: '1', JMDC_MAX_ABS_FEATURE: 'Infinity' }, 'JMDC_MAX_ABS_FEATURE'],
  ])('rejects %j with INVALID_ARGUMENT naming the variable', (env, message) => {
    expect(() => optionsFromEnv(env, '/m')).toThrow(message);
    try {
      optionsFromEnv(env, '/m');
    } catch (e) {
      expect((e as { code: string }).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });
});
