/**
 * Wire format v1 vs v2 on real features: mean whole-payload bytes per setting, one payload per image (batch 1,
 * as one request each), for the settings the accuracy profile picks on the shipped model and for small-channel
 * bottleneck-like codes.
 *
 *   npx tsx --conditions source edge-sdk/bench/codecV2.bench.ts [--images 1000] [--model models/fmnist-vgg16]
 *
 * The head outputs come from the shipped model (onnxruntime) on the first `--images` Fashion-MNIST test images
 * and are cached under `.jmdc/bench/` (keyed by model hash, variant, point and image count). The
 * "bottleneck-like" settings have no trained bottleneck behind them: they squeeze block p's features into c
 * channels in (0, 1) (the mean of C/c consecutive channels, standardized over the cached images, then a
 * sigmoid), which is the value range and channel count of a learned code. Progress goes to stderr; the last
 * line of stdout is one JSON object.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type CoderId, decodePayload, encodeFeatures, peekHeader, type QuantScope } from '../src/codec/index.js';
import { featureDims, findVariant, loadModel, ModelRunner, preprocess } from '../src/model/index.js';
import { OrtBackend } from '../src/runtime/index.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] as string) : dflt;
};
const IMAGES = Number(arg('images', '1000'));
const MODEL_DIR = arg('model', 'models/fmnist-vgg16');
const DATA = process.env.JMDC_DATA_DIR ?? '/usr/share/datasets/fashion-mnist';
const CACHE = join('.jmdc', 'bench');

interface Setting {
  name: string;
  variant: number;
  point: number;
  keep: number;
  bits: number;
  scope: QuantScope;
  /** Squeeze to this many channels in (0, 1) (a bottleneck-like code). */
  code?: number;
}

const SETTINGS: Setting[] = [
  { name: 'p2 r000 keep .75 b2 tensor', variant: 0, point: 2, keep: 0.75, bits: 2, scope: 'tensor' },
  { name: 'p1 r025 keep 1 b3 tensor', variant: 0.25, point: 1, keep: 1, bits: 3, scope: 'tensor' },
  { name: 'p4 r025 keep .25 b2 tensor', variant: 0.25, point: 4, keep: 0.25, bits: 2, scope: 'tensor' },
  { name: 'p3 r025 keep .5 b2 tensor', variant: 0.25, point: 3, keep: 0.5, bits: 2, scope: 'tensor' },
  { name: 'p2 r000 keep .25 b4 channel', variant: 0, point: 2, keep: 0.25, bits: 4, scope: 'channel' },
  { name: 'code 8x8x8 (p2 r000) keep 1 b2', variant: 0, point: 2, keep: 1, bits: 2, scope: 'tensor', code: 8 },
  { name: 'code 8x8x8 (p2 r000) keep .5 b3', variant: 0, point: 2, keep: 0.5, bits: 3, scope: 'tensor', code: 8 },
  { name: 'code 4x16x16 (p1 r000) keep .5 b2', variant: 0, point: 1, keep: 0.5, bits: 2, scope: 'tensor', code: 4 },
  { name: 'code 16x4x4 (p3 r000) keep 1 b4', variant: 0, point: 3, keep: 1, bits: 4, scope: 'tensor', code: 16 },
];

function readImages(count: number): Uint8Array {
  const buf = gunzipSync(readFileSync(join(DATA, 't10k-images-idx3-ubyte.gz')));
  return new Uint8Array(buf.buffer, buf.byteOffset + 16, count * 28 * 28);
}

interface Head {
  dims: [number, number, number];
  features: Float32Array;
  attention: Float32Array;
}

async function heads(): Promise<Map<string, Head>> {
  const model = loadModel(MODEL_DIR);
  const { manifest } = model;
  const hashKey = manifest.hash.slice(7, 19);
  mkdirSync(CACHE, { recursive: true });
  const out = new Map<string, Head>();
  let runner: ModelRunner | undefined;
  let input: Float32Array | undefined;
  for (const s of SETTINGS) {
    const key = `${s.variant}@${s.point}`;
    if (out.has(key)) continue;
    const dims = featureDims(findVariant(manifest, s.variant), s.point);
    const [c, h, w] = dims;
    const file = join(CACHE, `heads-${hashKey}-v${s.variant}-p${s.point}-n${IMAGES}.bin`);
    if (existsSync(file)) {
      const b = readFileSync(file);
      const all = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      out.set(key, {
        dims,
        features: all.subarray(0, IMAGES * c * h * w),
        attention: all.subarray(IMAGES * c * h * w),
      });
      continue;
    }
    runner ??= new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
    input ??= preprocess(manifest, readImages(IMAGES), IMAGES);
    const per = manifest.input.shape.reduce((a, b) => a * b, 1);
    const features = new Float32Array(IMAGES * c * h * w);
    const attention = new Float32Array(IMAGES * h * w);
    for (let i = 0; i < IMAGES; i += 100) {
      const n = Math.min(100, IMAGES - i);
      const r = await runner.head(s.variant, s.point, input.subarray(i * per, (i + n) * per), n);
      features.set(r.features, i * c * h * w);
      attention.set(r.attention, i * h * w);
    }
    const both = new Float32Array(features.length + attention.length);
    both.set(features);
    both.set(attention, features.length);
    writeFileSync(file, new Uint8Array(both.buffer));
    process.stderr.write(`head ${key}: ${dims.join('x')} cached in ${file}\n`);
    out.set(key, { dims, features, attention });
  }
  await runner?.close();
  return out;
}

/** Block features squeezed to `code` channels in (0, 1): channel-group means, standardized, then a sigmoid. */
function squeeze(head: Head, code: number): Head {
  const [c, h, w] = head.dims;
  const hw = h * w;
  const group = Math.floor(c / code);
  const out = new Float32Array(IMAGES * code * hw);
  for (let n = 0; n < IMAGES; n++) {
    for (let j = 0; j < code; j++) {
      for (let i = 0; i < hw; i++) {
        let s = 0;
        for (let g = 0; g < group; g++) s += head.features[(n * c + j * group + g) * hw + i] as number;
        out[(n * code + j) * hw + i] = s / group;
      }
    }
  }
  for (let j = 0; j < code; j++) {
    let sum = 0;
    let sq = 0;
    for (let n = 0; n < IMAGES; n++) {
      for (let i = 0; i < hw; i++) {
        const v = out[(n * code + j) * hw + i] as number;
        sum += v;
        sq += v * v;
      }
    }
    const m = sum / (IMAGES * hw);
    const sd = Math.sqrt(Math.max(1e-12, sq / (IMAGES * hw) - m * m));
    for (let n = 0; n < IMAGES; n++) {
      for (let i = 0; i < hw; i++) {
        const at = (n * code + j) * hw + i;
        out[at] = 1 / (1 + Math.exp(-((out[at] as number) - m) / sd));
      }
    }
  }
  return { dims: [code, h, w], features: out, attention: head.attention };
}

async function main(): Promise<void> {
  const model = loadModel(MODEL_DIR);
  const ref = { id: model.manifest.id, hash: model.manifest.hash };
  const cache = await heads();
  const rows: Record<string, unknown>[] = [];
  for (const s of SETTINGS) {
    let head = cache.get(`${s.variant}@${s.point}`) as Head;
    if (s.code !== undefined) head = squeeze(head, s.code);
    const [c, h, w] = head.dims;
    const per = c * h * w;
    const sums: Record<string, number> = {};
    let header2 = 0;
    for (let i = 0; i < IMAGES; i++) {
      const input = {
        dims: head.dims,
        batch: 1,
        features: head.features.subarray(i * per, (i + 1) * per),
        attention: head.attention.subarray(i * h * w, (i + 1) * h * w),
      };
      const base = { model: ref, point: s.point, variant: s.variant, keep: s.keep, bits: s.bits, quantScope: s.scope };
      for (const [label, frameVersion, coder] of [
        ['v1 rans', 1, 'rans'],
        ['v1 auto', 1, 'auto'],
        ['v2 rans', 2, 'rans'],
        ['v2 auto', 2, 'auto'],
      ] as const) {
        const p = encodeFeatures(input, {
          ...base,
          coder: coder as CoderId | 'auto',
          frameVersion,
          bottleneck: s.code !== undefined && frameVersion === 2,
        });
        sums[label] = (sums[label] ?? 0) + p.length;
        if (label === 'v2 rans') {
          header2 += peekHeader(p).headerBytes;
          if (i < 20) decodePayload(p, { expectModelHash: ref.hash }); // the bench's payloads decode
        }
      }
    }
    // encode + decode medians (µs) of the rans coder per version, on the first 200 images
    const timing: Record<string, number> = {};
    for (const frameVersion of [1, 2] as const) {
      const times: number[] = [];
      for (let rep = 0; rep < 2; rep++) {
        for (let i = 0; i < Math.min(200, IMAGES); i++) {
          const input = {
            dims: head.dims,
            batch: 1,
            features: head.features.subarray(i * per, (i + 1) * per),
            attention: head.attention.subarray(i * h * w, (i + 1) * h * w),
          };
          const t0 = performance.now();
          const p = encodeFeatures(input, {
            model: ref,
            point: s.point,
            variant: s.variant,
            keep: s.keep,
            bits: s.bits,
            quantScope: s.scope,
            coder: 'rans',
            frameVersion,
          });
          decodePayload(p);
          if (rep === 1) times.push(performance.now() - t0);
        }
      }
      times.sort((a, b) => a - b);
      timing[`v${frameVersion}RansEncDecUs`] = Math.round((times[times.length >> 1] as number) * 10000) / 10;
    }
    const mean = (k: string) => Math.round(((sums[k] as number) / IMAGES) * 10) / 10;
    const row = {
      setting: s.name,
      dims: head.dims,
      v1Rans: mean('v1 rans'),
      v1Auto: mean('v1 auto'),
      v2Rans: mean('v2 rans'),
      v2Auto: mean('v2 auto'),
      v2HeaderBytes: Math.round((header2 / IMAGES) * 10) / 10,
      v2VsV1Auto: `${Math.round((mean('v2 auto') / mean('v1 auto') - 1) * 1000) / 10}%`,
      ...timing,
    };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
  process.stdout.write(`${JSON.stringify({ images: IMAGES, model: ref, rows })}\n`);
}

await main();
