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
const featureOpts = (coder: CoderId): FeatureEncodeOptions => ({
  model: GOLDEN_MODEL,
  point: 2,
  variant: 0.5,
  keep: 0.25,
  bits: 4,
  coder,
});

export const GOLDEN_CASES: readonly GoldenCase[] = [
  { file: 'features-none.jmdc', kind: 'features', input: small, options: featureOpts('none') },
  { file: 'features-deflate.jmdc', kind: 'features', input: small, options: featureOpts('deflate') },
  { file: 'features-brotli.jmdc', kind: 'features', input: small, options: featureOpts('brotli') },
  { file: 'features-rans.jmdc', kind: 'features', input: small, options: featureOpts('rans') },
  {
    // batch of 3, odd shape, tensor scope, float32 parameters (a narrow range far from 0 defeats float16), 5 bits
    file: 'features-batch3-tensor-f32-rans.jmdc',
    kind: 'features',
    input: () => {
      const b = realisticFeatures([6, 5, 3], 3, 7);
      for (let i = 0; i < b.features.length; i++) b.features[i] = (b.features[i] as number) * 1e-3 + 1000.3;
      return b;
    },
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
    // every position kept (no bitmap), 8 bits
    file: 'features-keepall-b8-none.jmdc',
    kind: 'features',
    input: () => realisticFeatures([5, 3, 3], 2, 99),
    options: { model: GOLDEN_MODEL, point: 1, variant: 0, bits: 8, coder: 'none' },
  },
  {
    file: 'raw-png.jmdc',
    kind: 'raw',
    images: () => syntheticImages([1, 6, 5], 2, 31),
    dims: [1, 6, 5],
    batch: 2,
    options: { model: GOLDEN_MODEL, format: 'png' },
  },
  {
    file: 'raw-raw.jmdc',
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
