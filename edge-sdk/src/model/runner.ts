import { join } from 'node:path';
import { CodecError, ErrorCodes, ModelError } from '../errors.js';
import type { InferenceBackend, InferenceSession } from './backend.js';
import { featureDims, findVariant } from './manifest.js';
import type { LoadedModel, Variant } from './types.js';

export interface HeadOutput {
  /** N*C*H*W features at the partition point. */
  features: Float32Array;
  /** N*H*W spatial attention map at the partition point. */
  attention: Float32Array;
  dims: [number, number, number];
}

/**
 * Runs any head [input -> block p] or tail [block p -> logits] of any variant by chaining the
 * per-block ONNX files. Sessions are created lazily, once per file, and cached.
 *
 * @example
 * const runner = new ModelRunner(loadModel('fmnist-vgg16'), new OrtBackend())
 * const head = await runner.head(0.5, 2, preprocess(manifest, pixels, 1), 1)
 * const logits = await runner.tail(0.5, 2, head.features, 1)
 */
export class ModelRunner {
  readonly model: LoadedModel;
  private readonly backend: InferenceBackend;
  private readonly sessions = new Map<string, Promise<InferenceSession>>();

  constructor(model: LoadedModel, backend: InferenceBackend) {
    this.model = model;
    this.backend = backend;
  }

  get pointCount(): number {
    return this.model.manifest.points.length;
  }

  variant(v: number | string): Variant {
    return findVariant(this.model.manifest, v);
  }

  /** The session of one block (1..points+1, the last is the classifier), created on first use. */
  session(variant: Variant, block: number): Promise<InferenceSession> {
    const entry = variant.blocks[block - 1];
    if (!entry) throw new ModelError(ErrorCodes.WRONG_POINT, `variant ${variant.id} has no block ${block}`);
    const key = entry.file;
    let s = this.sessions.get(key);
    if (!s) {
      s = this.backend.load(join(this.model.dir, entry.file));
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Creates every session a head up to `point` (or a tail from it) needs, so the first request is not slow. */
  async warm(variant: number | string, opts: { headTo?: number; tailFrom?: number }): Promise<void> {
    const v = this.variant(variant);
    const blocks: number[] = [];
    if (opts.headTo !== undefined) for (let b = 1; b <= opts.headTo; b++) blocks.push(b);
    if (opts.tailFrom !== undefined) for (let b = opts.tailFrom + 1; b <= this.pointCount + 1; b++) blocks.push(b);
    await Promise.all(blocks.map((b) => this.session(v, b)));
  }

  private checkPoint(point: number, min: number): void {
    if (!Number.isInteger(point) || point < min || point > this.pointCount) {
      throw new CodecError(ErrorCodes.WRONG_POINT, `partition point must be ${min}..${this.pointCount}, got ${point}`, {
        point,
      });
    }
  }

  /** Runs blocks 1..point on normalized input (N*C*H*W of the manifest's input shape). */
  async head(variant: number | string, point: number, input: Float32Array, batch: number): Promise<HeadOutput> {
    this.checkPoint(point, 1);
    const v = this.variant(variant);
    const [c, h, w] = this.model.manifest.input.shape;
    if (input.length !== batch * c * h * w) {
      throw new CodecError(
        ErrorCodes.SHAPE_MISMATCH,
        `input has ${input.length} values, expected ${batch * c * h * w}`,
      );
    }
    let x: Float32Array = input;
    let dims: number[] = [batch, c, h, w];
    let attention: Float32Array = new Float32Array(0);
    for (let b = 1; b <= point; b++) {
      const s = await this.session(v, b);
      const out = await s.run({ x: { data: x, dims } });
      const f = out.features;
      const a = out.attention;
      if (!f || !a) throw new ModelError(ErrorCodes.MANIFEST_INVALID, `block ${b} of ${v.id} lacks features/attention`);
      x = f.data;
      dims = [...f.dims];
      attention = a.data;
    }
    return { features: x, attention, dims: featureDims(v, point) };
  }

  /**
   * Runs blocks point+1..end and the classifier on features at `point` (0 = the normalized input).
   * Returns N*classes logits.
   */
  async tail(variant: number | string, point: number, features: Float32Array, batch: number): Promise<Float32Array> {
    this.checkPoint(point, 0);
    const v = this.variant(variant);
    const shape = point === 0 ? this.model.manifest.input.shape : featureDims(v, point);
    const per = shape[0] * shape[1] * shape[2];
    if (features.length !== batch * per) {
      throw new CodecError(
        ErrorCodes.SHAPE_MISMATCH,
        `features have ${features.length} values, expected ${batch * per}`,
        {
          expected: [batch, ...shape],
        },
      );
    }
    let x: Float32Array = features;
    let dims: number[] = [batch, ...shape];
    for (let b = point + 1; b <= this.pointCount; b++) {
      const s = await this.session(v, b);
      const out = await s.run({ x: { data: x, dims } });
      const f = out.features;
      if (!f) throw new ModelError(ErrorCodes.MANIFEST_INVALID, `block ${b} of ${v.id} lacks features`);
      x = f.data;
      dims = [...f.dims];
    }
    const cls = await this.session(v, this.pointCount + 1);
    const out = await cls.run({ features: { data: x, dims } });
    if (!out.logits) throw new ModelError(ErrorCodes.MANIFEST_INVALID, `classifier of ${v.id} lacks logits`);
    return out.logits.data;
  }

  /** The whole network on normalized input. */
  full(variant: number | string, input: Float32Array, batch: number): Promise<Float32Array> {
    return this.tail(variant, 0, input, batch);
  }

  /** Releases every cached session. */
  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.release()));
  }
}

/** Index of the largest value of each row of `logits` (N x classes). */
export function argmaxRows(logits: Float32Array, classes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + classes <= logits.length; i += classes) {
    let best = 0;
    for (let j = 1; j < classes; j++) if ((logits[i + j] ?? -Infinity) > (logits[i + best] ?? -Infinity)) best = j;
    out.push(best);
  }
  return out;
}

/** Softmax of each row of `logits` (N x classes). */
export function softmaxRows(logits: Float32Array, classes: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i + classes <= logits.length; i += classes) {
    const row = Array.from(logits.subarray(i, i + classes));
    const m = Math.max(...row);
    const e = row.map((z) => Math.exp(z - m));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(e.map((z) => z / s));
  }
  return out;
}
