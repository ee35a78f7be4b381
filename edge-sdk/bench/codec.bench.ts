/**
 * Codec benchmark: payload bytes and encode/decode medians per coder and setting, plus the sweeps that chose
 * the coder parameters (brotli quality, deflate level, f16 vs f32 quantization parameters).
 *
 *   npx tsx edge-sdk/bench/codec.bench.ts [--reps 400]
 *
 * Progress goes to stderr; the last line of stdout is one JSON object. Times are microseconds, medians over
 * `reps` repetitions after a warm-up; `encDec` is the median of per-repetition encode + decode.
 */
import { brotliCompressSync, constants, deflateRawSync } from 'node:zlib';
import {
  type CoderId,
  decodePayload,
  dequantize,
  encodeFeatures,
  encodeRaw,
  type FeatureBatch,
  peekHeader,
  quantize,
  reconstructFeatures,
  selectTopK,
} from '../src/codec/index.js';
import { realisticFeatures, syntheticImages, uniformFeatures } from '../src/codec/testing/synthetic.js';

const repsArg = process.argv.indexOf('--reps');
const REPS = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 400;
const MODEL = { id: 'fmnist-vgg16', hash: `sha256:${'5e'.repeat(32)}` };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const us = (ms: number): number => Math.round(ms * 10000) / 10;

/** Times `enc` then `dec(enc())` per repetition. */
function time<T>(
  reps: number,
  enc: () => T,
  dec: (x: T) => unknown,
): { encode: number; decode: number; encDec: number } {
  const warm = Math.max(20, reps >> 2);
  for (let i = 0; i < warm; i++) dec(enc());
  const e: number[] = [];
  const d: number[] = [];
  const ed: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const x = enc();
    const t1 = performance.now();
    dec(x);
    const t2 = performance.now();
    e.push(t1 - t0);
    d.push(t2 - t1);
    ed.push(t2 - t0);
  }
  return { encode: us(median(e)), decode: us(median(d)), encDec: us(median(ed)) };
}

interface Setting {
  name: string;
  dims: [number, number, number];
  batch: number;
  keep: number;
  bits: number;
}
const SETTINGS: Setting[] = [
  { name: '64x8x8 k.25 b4', dims: [64, 8, 8], batch: 1, keep: 0.25, bits: 4 },
  { name: '64x8x8 k.5 b6', dims: [64, 8, 8], batch: 1, keep: 0.5, bits: 6 },
  { name: '128x16x16 k.25 b4', dims: [128, 16, 16], batch: 1, keep: 0.25, bits: 4 },
  { name: '128x16x16 k.5 b6', dims: [128, 16, 16], batch: 1, keep: 0.5, bits: 6 },
  { name: '256x4x4 k.5 b8', dims: [256, 4, 4], batch: 1, keep: 0.5, bits: 8 },
  { name: '64x16x16 k.25 b2 N8', dims: [64, 16, 16], batch: 8, keep: 0.25, bits: 2 },
  { name: '128x8x8 k1 b6 N4', dims: [128, 8, 8], batch: 4, keep: 1, bits: 6 },
];
const CODERS: Array<CoderId | 'auto'> = ['none', 'deflate', 'brotli', 'rans', 'auto'];
const DATA: Record<string, (dims: [number, number, number], batch: number, seed: number) => FeatureBatch> = {
  realistic: realisticFeatures,
  uniform: uniformFeatures,
};

const features: Array<Record<string, unknown>> = [];
const winners: Record<string, { best: string; bytes: Record<string, number>; ransVsBestZlib: number }> = {};
for (const [dataName, gen] of Object.entries(DATA)) {
  for (const s of SETTINGS) {
    const input = gen(s.dims, s.batch, 11);
    const bytes: Record<string, number> = {};
    for (const coder of CODERS) {
      const opts = { model: MODEL, point: 2, variant: 0.5, keep: s.keep, bits: s.bits, coder };
      const payload = encodeFeatures(input, opts);
      const header = peekHeader(payload);
      const t = time(
        s.batch > 1 || s.dims[1] > 8 ? Math.max(50, REPS >> 2) : REPS,
        () => encodeFeatures(input, opts),
        (p) => decodePayload(p),
      );
      bytes[coder] = payload.length;
      features.push({
        data: dataName,
        setting: s.name,
        coder,
        chosen: header.coder,
        params: header.paramPrecision,
        bytes: payload.length,
        uncompressedBody: header.rawBodyBytes,
        float32Bytes: s.batch * s.dims[0] * s.dims[1] * s.dims[2] * 4,
        ...t,
      });
      process.stderr.write(
        `${dataName} ${s.name} ${coder}: ${payload.length} B, enc ${t.encode} us, dec ${t.decode} us\n`,
      );
    }
    const fixed = ['none', 'deflate', 'brotli', 'rans'];
    const best = fixed.reduce((a, b) => ((bytes[b] as number) < (bytes[a] as number) ? b : a));
    const zl = Math.min(bytes.deflate as number, bytes.brotli as number);
    winners[`${dataName} ${s.name}`] = {
      best,
      bytes,
      ransVsBestZlib: Math.round(((bytes.rans as number) / zl) * 1000) / 1000,
    };
  }
}

// brotli quality and deflate level sweeps on the uncompressed bodies of the realistic settings
const sweeps: Array<Record<string, unknown>> = [];
for (const s of SETTINGS.slice(0, 4)) {
  const input = realisticFeatures(s.dims, s.batch, 11);
  const p = encodeFeatures(input, { model: MODEL, point: 2, variant: 0.5, keep: s.keep, bits: s.bits, coder: 'none' });
  const body = p.subarray(peekHeader(p).headerBytes);
  for (const q of [1, 3, 4, 5, 6, 8, 9, 11]) {
    const opts = { params: { [constants.BROTLI_PARAM_QUALITY]: q, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } };
    const out = brotliCompressSync(body, opts);
    const t = time(
      q >= 10 ? 30 : 200,
      () => brotliCompressSync(body, opts),
      () => 0,
    );
    sweeps.push({ setting: s.name, coder: `brotli q${q}`, body: body.length, bytes: out.length, encode: t.encode });
  }
  for (const level of [1, 4, 6, 9]) {
    const out = deflateRawSync(body, { level });
    const t = time(
      200,
      () => deflateRawSync(body, { level }),
      () => 0,
    );
    sweeps.push({
      setting: s.name,
      coder: `deflate l${level}`,
      body: body.length,
      bytes: out.length,
      encode: t.encode,
    });
  }
}

// f16 vs f32 (min, scale): body bytes and reconstruction error against the float features
const params: Array<Record<string, unknown>> = [];
for (const s of SETTINGS.slice(0, 5)) {
  const input = realisticFeatures(s.dims, s.batch, 11);
  const [c, h, w] = s.dims;
  const hw = h * w;
  const k = Math.max(1, Math.ceil(s.keep * h * w));
  const mask = selectTopK(input.attention, hw, k);
  const kept: number[] = [];
  for (let i = 0; i < hw; i++) if (mask[i]) kept.push(i);
  const values = new Float32Array(c * k);
  for (let ch = 0; ch < c; ch++)
    for (let j = 0; j < k; j++) values[ch * k + j] = input.features[ch * hw + (kept[j] as number)] as number;
  const row: Record<string, unknown> = { setting: s.name };
  for (const prec of ['f16', 'f32'] as const) {
    const q = quantize(values, k, s.bits, prec === 'f16' ? 'auto' : 'f32');
    const back = dequantize(q.codes, k, q.params);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < values.length; i++) {
      const e = Math.abs((back[i] as number) - (values[i] as number));
      sum += e;
      if (e > max) max = e;
    }
    row[prec] = {
      used: q.precision,
      paramBytes: c * 2 * (q.precision === 'f16' ? 2 : 4),
      meanAbsErr: sum / values.length,
      maxAbsErr: max,
    };
  }
  params.push(row);
}

// raw mode: a batch of 8 Fashion-MNIST-sized and 8 CIFAR-sized images
const raw: Array<Record<string, unknown>> = [];
for (const dims of [
  [1, 28, 28],
  [3, 32, 32],
] as Array<[number, number, number]>) {
  const images = syntheticImages(dims, 8, 5);
  for (const format of ['raw', 'png', 'deflate'] as const) {
    const payload = encodeRaw(images, dims, 8, { model: MODEL, format });
    const t = time(
      Math.max(50, REPS >> 2),
      () => encodeRaw(images, dims, 8, { model: MODEL, format }),
      (p) => decodePayload(p),
    );
    raw.push({ dims: dims.join('x'), batch: 8, format, bytes: payload.length, pixels: images.length, ...t });
  }
}

// the cloud side's whole path for the target setting: decode + reconstruct into a dense tensor
const target = realisticFeatures([64, 8, 8], 1, 11);
const fill = new Float32Array(64).fill(-0.81);
const targetPayload = encodeFeatures(target, { model: MODEL, point: 2, variant: 0.5, keep: 0.25, bits: 4 });
const cloud = time(
  REPS,
  () => targetPayload,
  (p) => {
    const d = decodePayload(p);
    if (d.kind === 'features') reconstructFeatures(d, fill);
  },
);

const pick = (coder: string) =>
  features.find((r) => r.data === 'realistic' && r.setting === '64x8x8 k.25 b4' && r.coder === coder) as Record<
    string,
    unknown
  >;
console.log(
  JSON.stringify({
    node: process.version,
    reps: REPS,
    target: {
      setting: '64x8x8 keep 0.25 bits 4, realistic, batch 1',
      encDecMedianUs: Object.fromEntries(CODERS.map((c) => [c, pick(c).encDec])),
      bytes: Object.fromEntries(CODERS.map((c) => [c, pick(c).bytes])),
      decodeAndReconstructUs: cloud.decode,
    },
    winners,
    features,
    sweeps,
    params,
    raw,
  }),
);
