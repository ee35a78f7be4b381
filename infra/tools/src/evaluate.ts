/**
 * Offline evaluation of one compression setting: head -> encode -> decode -> tail with onnxruntime over a
 * data split, exactly the path a request takes (the codec is the wire codec; only the network is absent).
 */

import type { RowKind } from '@jmdc/edge-sdk';
import type { CoderId, QuantScope } from '@jmdc/edge-sdk/codec';
import { decodePayload, encodeFeatures, encodeRaw, reconstructFeatures } from '@jmdc/edge-sdk/codec';
import type { LoadedModel } from '@jmdc/edge-sdk/model';
import {
  argmaxRows,
  featureDims,
  findVariant,
  getBottleneck,
  type ModelRunner,
  preprocess,
} from '@jmdc/edge-sdk/model';
import type { LabeledImages } from './dataset.js';

export type { RowKind };

export interface Setting {
  kind: RowKind;
  /** 1..points for splits; 0 for cloud-only; points+1 for edge-only. */
  point: number;
  variant: number;
  keep: number;
  bits: number;
  coder: CoderId | 'auto';
  /** What the decoder puts at dropped positions: the model's stored per-channel value, or zeros. */
  fill: 'stored' | 'zero';
  /** Quantization parameters per channel (default) or one pair per item. */
  quantScope?: QuantScope;
  /**
   * Split through the variant's learned bottleneck at the point: the code is sent (flagged as one),
   * `fill: 'stored'` puts the bottleneck's fill at dropped positions, the decoder runs before the tail.
   * The head cache must hold that code ({@link Evaluator.heads} with `bottleneck`). @default false
   */
  bottleneck?: boolean;
}

export interface SettingResult {
  correct: number;
  count: number;
  accuracy: number;
  meanPayloadBytes: number;
  encodeMs: number[];
  decodeMs: number[];
  /** How often each coder won under `auto`. */
  coders: Record<string, number>;
}

const BATCH = 100;

/** Head outputs of every image of a split at one (variant, point), computed in batches and kept. */
export interface HeadCache {
  variant: number;
  point: number;
  /** Id of the bottleneck whose code `features` holds, when the encoder ran. */
  bottleneck?: string;
  dims: [number, number, number];
  features: Float32Array;
  attention: Float32Array;
}

export class Evaluator {
  private readonly normalized: Float32Array;
  /** Called after every batch of every pass (label, images done, images in the split). */
  onProgress: ((label: string, done: number, total: number) => void) | undefined;
  constructor(
    readonly model: LoadedModel,
    readonly runner: ModelRunner,
    readonly data: LabeledImages,
  ) {
    this.normalized = preprocess(model.manifest, data.images, data.count);
  }

  get pointCount(): number {
    return this.model.manifest.points.length;
  }

  private inputSlice(start: number, end: number): Float32Array {
    const per = this.model.manifest.input.shape.reduce((a, b) => a * b, 1);
    return this.normalized.subarray(start * per, end * per);
  }

  /**
   * Head outputs of every image at (variant, point); with `bottleneck`, the code of the variant's
   * bottleneck there (head + encoder) with block p's attention.
   */
  async heads(variant: number, point: number, opts: { bottleneck?: boolean } = {}): Promise<HeadCache> {
    const { manifest } = this.model;
    const b = opts.bottleneck ? getBottleneck(manifest, variant, point) : undefined;
    const dims = b ? b.codeShape : featureDims(findVariant(manifest, variant), point);
    const [c, h, w] = dims;
    const n = this.data.count;
    const features = new Float32Array(n * c * h * w);
    const attention = new Float32Array(n * h * w);
    for (let s = 0; s < n; s += BATCH) {
      const e = Math.min(n, s + BATCH);
      const out = await this.runner.head(variant, point, this.inputSlice(s, e), e - s, { bottleneck: b !== undefined });
      features.set(out.features, s * c * h * w);
      attention.set(out.attention, s * h * w);
      this.onProgress?.(`head p${point}${b ? ` + ${b.id}` : ''}`, e, n);
    }
    return { variant, point, dims, features, attention, ...(b ? { bottleneck: b.id } : {}) };
  }

  /** Uncompressed accuracy of a whole variant. */
  async fullAccuracy(variant: number): Promise<number> {
    let correct = 0;
    const classes = this.model.manifest.classes.length;
    for (let s = 0; s < this.data.count; s += BATCH) {
      const e = Math.min(this.data.count, s + BATCH);
      const logits = await this.runner.full(variant, this.inputSlice(s, e), e - s);
      argmaxRows(logits, classes).forEach((p, i) => {
        if (p === this.data.labels[s + i]) correct++;
      });
      this.onProgress?.(`whole network, variant ${variant}`, e, this.data.count);
    }
    return correct / this.data.count;
  }

  /** Evaluates one split setting from cached head outputs (one payload per image, as one request each). */
  async split(cache: HeadCache, s: Setting): Promise<SettingResult> {
    const { manifest } = this.model;
    const ref = { id: manifest.id, hash: manifest.hash };
    const [c, h, w] = cache.dims;
    const per = c * h * w;
    const classes = manifest.classes.length;
    const variant = findVariant(manifest, s.variant);
    const bn = s.bottleneck ? getBottleneck(manifest, s.variant, s.point) : undefined;
    if ((bn?.id ?? undefined) !== cache.bottleneck) {
      throw new Error(
        `the head cache holds ${cache.bottleneck ? `the code of ${cache.bottleneck}` : 'features'}, the setting needs ${bn ? `the code of ${bn.id}` : 'features'}`,
      );
    }
    const stored = bn ? bn.fill : (variant.fill[s.point - 1] ?? []);
    const fill = s.fill === 'stored' ? Float32Array.from(stored) : undefined;
    const encodeMs: number[] = [];
    const decodeMs: number[] = [];
    const coders: Record<string, number> = {};
    let bytes = 0;
    let correct = 0;
    for (let b = 0; b < this.data.count; b += BATCH) {
      const e = Math.min(this.data.count, b + BATCH);
      const dense = new Float32Array((e - b) * per);
      for (let i = b; i < e; i++) {
        const t0 = performance.now();
        const payload = encodeFeatures(
          {
            dims: cache.dims,
            batch: 1,
            features: cache.features.subarray(i * per, (i + 1) * per),
            attention: cache.attention.subarray(i * h * w, (i + 1) * h * w),
          },
          {
            model: ref,
            point: s.point,
            variant: s.variant,
            keep: s.keep,
            bits: s.bits,
            coder: s.coder,
            quantScope: s.quantScope ?? 'channel',
            bottleneck: bn !== undefined,
          },
        );
        const t1 = performance.now();
        const decoded = decodePayload(payload, { expectModelHash: manifest.hash, expectPoint: s.point });
        if (decoded.kind !== 'features') throw new Error('expected a features payload');
        const x = reconstructFeatures(decoded, fill);
        const t2 = performance.now();
        encodeMs.push(t1 - t0);
        decodeMs.push(t2 - t1);
        bytes += payload.length;
        coders[decoded.header.coder] = (coders[decoded.header.coder] ?? 0) + 1;
        dense.set(x, (i - b) * per);
      }
      const logits = await this.runner.tail(s.variant, s.point, dense, e - b, { bottleneck: bn !== undefined });
      argmaxRows(logits, classes).forEach((p, i) => {
        if (p === this.data.labels[b + i]) correct++;
      });
      this.onProgress?.(`${s.kind} p${s.point}`, e, this.data.count);
    }
    const n = this.data.count;
    return { correct, count: n, accuracy: correct / n, meanPayloadBytes: bytes / n, encodeMs, decodeMs, coders };
  }

  /** Cloud-only: the raw uint8 image goes over the wire (PNG by default), the cloud runs the whole network. */
  async cloudOnly(format: 'png' | 'raw' | 'deflate' = 'png'): Promise<SettingResult> {
    const { manifest } = this.model;
    const ref = { id: manifest.id, hash: manifest.hash };
    const dims = manifest.input.sourceShape;
    const per = this.data.imageBytes;
    const classes = manifest.classes.length;
    const encodeMs: number[] = [];
    const decodeMs: number[] = [];
    let bytes = 0;
    let correct = 0;
    for (let b = 0; b < this.data.count; b += BATCH) {
      const e = Math.min(this.data.count, b + BATCH);
      const raw = new Uint8Array((e - b) * per);
      for (let i = b; i < e; i++) {
        const t0 = performance.now();
        const payload = encodeRaw(this.data.images.subarray(i * per, (i + 1) * per), dims, 1, { model: ref, format });
        const t1 = performance.now();
        const decoded = decodePayload(payload, { expectModelHash: manifest.hash, expectPoint: 0 });
        if (decoded.kind !== 'raw') throw new Error('expected a raw payload');
        decodeMs.push(performance.now() - t1);
        encodeMs.push(t1 - t0);
        bytes += payload.length;
        raw.set(decoded.images, (i - b) * per);
      }
      const logits = await this.runner.full(0, preprocess(manifest, raw, e - b), e - b);
      argmaxRows(logits, classes).forEach((p, i) => {
        if (p === this.data.labels[b + i]) correct++;
      });
      this.onProgress?.('cloud-only', e, this.data.count);
    }
    const n = this.data.count;
    return {
      correct,
      count: n,
      accuracy: correct / n,
      meanPayloadBytes: bytes / n,
      encodeMs,
      decodeMs,
      coders: { [format]: n },
    };
  }
}

/** float32 bytes of the UNPRUNED model's features at a point: what an uncompressed split would send. */
export function float32FeatureBytes(model: LoadedModel, point: number): number {
  const p = model.manifest.points[point - 1];
  if (!p) return 0;
  return 4 * p.featureShape[0] * p.featureShape[1] * p.featureShape[2];
}
