/**
 * The inputs behind the committed golden payloads in `../__golden__/`. Deterministic: the same code must
 * rebuild the same frames. Changing any of these, or the wire format, means regenerating the files with
 * `npx tsx edge-sdk/src/codec/testing/writeGolden.ts` — and a format change also means a version bump.
 */
import { encodeFeatures } from '../encodeFeatures.js';
import { encodeRaw } from '../encodeRaw.js';
import type { CoderId, FeatureBatch, FeatureEncodeOptions, RawEncodeOptions } from '../types.js';
import { realisticFeatures, syntheticImages } from './synthetic.js';

export const GOLDEN_MODEL = Object.freeze({ id: 'fmnist-vgg16', hash: `sha256:${'9f86d081884c7d65'.repeat(4)}` });

export interface GoldenFeatures {
  file: string;
  kind: 'features';
  input: () => FeatureBatch;
  options: FeatureEncodeOptions;
}
export interface GoldenRaw {
  file: string;
  kind: 'raw';
  images: () => Uint8Array;
  dims: [number, number, number];
  batch: number;
  options: RawEncodeOptions;
}
export type GoldenCase = GoldenFeatures | GoldenRaw;

const small = () => realisticFeatures([16, 4, 4], 1, 2024);
const featureOpts = (coder: CoderId, frameVersion: 1 | 2 = 1): FeatureEncodeOptions => ({
  model: GOLDEN_MODEL,
  point: 2,
  variant: 0.5,
  keep: 0.25,
  bits: 4,
  coder,
  frameVersion,
});
const batch3 = () => {
  const b = realisticFeatures([6, 5, 3], 3, 7);
  for (let i = 0; i < b.features.length; i++) b.features[i] = (b.features[i] as number) * 1e-3 + 1000.3;
  return b;
};

export const GOLDEN_CASES: readonly GoldenCase[] = [
  { file: 'features-none.jmdc', kind: 'features', input: small, options: featureOpts('none') },
  { file: 'features-deflate.jmdc', kind: 'features', input: small, options: featureOpts('deflate') },
  { file: 'features-brotli.jmdc', kind: 'features', input: small, options: featureOpts('brotli') },
  { file: 'features-rans.jmdc', kind: 'features', input: small, options: featureOpts('rans') },
  {
    // batch of 3, odd shape, tensor scope, float32 parameters (a narrow range far from 0 defeats float16), 5 bits
    file: 'features-batch3-tensor-f32-rans.jmdc',
    kind: 'features',
    input: batch3,
    options: {
      model: GOLDEN_MODEL,
      point: 4,
      variant: 0.25,
      keepCount: 7,
      bits: 5,
      coder: 'rans',
      quantScope: 'tensor',
      frameVersion: 1,
    },
  },
  {
    // every position kept (no bitmap), 8 bits
    file: 'features-keepall-b8-none.jmdc',
    kind: 'features',
    input: () => realisticFeatures([5, 3, 3], 2, 99),
    options: { model: GOLDEN_MODEL, point: 1, variant: 0, bits: 8, coder: 'none', frameVersion: 1 },
  },
  {
    file: 'raw-png.jmdc',
    kind: 'raw',
    images: () => syntheticImages([1, 6, 5], 2, 31),
    dims: [1, 6, 5],
    batch: 2,
    options: { model: GOLDEN_MODEL, format: 'png', frameVersion: 1 },
  },
  {
    file: 'raw-raw.jmdc',
    kind: 'raw',
    images: () => syntheticImages([3, 4, 4], 1, 32),
    dims: [3, 4, 4],
    batch: 1,
    options: { model: GOLDEN_MODEL, format: 'raw', frameVersion: 1 },
  },
  // wire format version 2 (the compact frame; rans with the version 2 context models)
  { file: 'v2-features-none.jmdc', kind: 'features', input: small, options: featureOpts('none', 2) },
  { file: 'v2-features-deflate.jmdc', kind: 'features', input: small, options: featureOpts('deflate', 2) },
  { file: 'v2-features-rans.jmdc', kind: 'features', input: small, options: featureOpts('rans', 2) },
  {
    file: 'v2-features-batch3-tensor-f32-rans.jmdc',
    kind: 'features',
    input: batch3,
    options: {
      model: GOLDEN_MODEL,
      point: 4,
      variant: 0.25,
      keepCount: 7,
      bits: 5,
      coder: 'rans',
      quantScope: 'tensor',
    },
  },
  {
    // a bottleneck code: 3 channels in (0, 1), tensor scope, 2 bits
    file: 'v2-bottleneck-rans.jmdc',
    kind: 'features',
    input: () => {
      const b = realisticFeatures([3, 6, 6], 2, 11);
      for (let i = 0; i < b.features.length; i++) b.features[i] = 1 / (1 + Math.exp(-(b.features[i] as number)));
      return b;
    },
    options: {
      model: GOLDEN_MODEL,
      point: 2,
      variant: 0,
      keep: 0.5,
      bits: 2,
      coder: 'rans',
      quantScope: 'tensor',
      bottleneck: true,
    },
  },
  {
    file: 'v2-features-keepall-b8-none.jmdc',
    kind: 'features',
    input: () => realisticFeatures([5, 3, 3], 2, 99),
    options: { model: GOLDEN_MODEL, point: 1, variant: 0, bits: 8, coder: 'none' },
  },
  // float32 features (bits 32: binary32 values, no quantization): with a bitmap, every position kept, deflate
  {
    file: 'v2-features-f32-none.jmdc',
    kind: 'features',
    input: small,
    options: { ...featureOpts('none', 2), bits: 32 },
  },
  {
    // what the Neurosurgeon baseline sends: every position, no entropy coding
    file: 'v2-features-f32-keepall-none.jmdc',
    kind: 'features',
    input: () => realisticFeatures([5, 3, 3], 2, 99),
    options: { model: GOLDEN_MODEL, point: 1, variant: 0, bits: 32, coder: 'none' },
  },
  {
    file: 'v2-features-f32-deflate.jmdc',
    kind: 'features',
    input: small,
    options: { ...featureOpts('deflate', 2), bits: 32 },
  },
  {
    file: 'v2-raw-png.jmdc',
    kind: 'raw',
    images: () => syntheticImages([1, 6, 5], 2, 31),
    dims: [1, 6, 5],
    batch: 2,
    options: { model: GOLDEN_MODEL, format: 'png' },
  },
  {
    file: 'v2-raw-raw.jmdc',
    kind: 'raw',
    images: () => syntheticImages([3, 4, 4], 1, 32),
    dims: [3, 4, 4],
    batch: 1,
    options: { model: GOLDEN_MODEL, format: 'raw' },
  },
];

/** Encodes a golden case from its inputs. */
export function encodeGolden(c: GoldenCase): Uint8Array {
  return c.kind === 'features'
    ? encodeFeatures(c.input(), c.options)
    : encodeRaw(c.images(), c.dims, c.batch, c.options);
}

/** Whether the frame is produced only by our own code (so it must match byte for byte on any machine). */
export function isByteStable(c: GoldenCase): boolean {
  if (c.kind === 'raw') return c.options.format === 'raw';
  return c.options.coder === 'none' || c.options.coder === 'rans';
}
