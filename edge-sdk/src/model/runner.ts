import { join } from 'node:path';
import { CodecError, ErrorCodes, ModelError } from '../errors.js';
import type { InferenceBackend, InferenceSession } from './backend.js';
import { featureDims, findVariant, getBottleneck } from './manifest.js';
import type { Bottleneck, LoadedModel, Variant } from './types.js';

export interface HeadOutput {
  /**
   * N*C*H*W features at the partition point; with a bottleneck, the N*c*H*W code its encoder made of
   * them.
   */
  features: Float32Array;
  /** N*H*W spatial attention map at the partition point (block p's, also with a bottleneck). */
  attention: Float32Array;
  /** [C, H, W] of `features` (the bottleneck's `codeShape` with one). */
  dims: [number, number, number];
  /** Id of the bottleneck whose encoder ran, when one did. */
  bottleneck?: string;
}

/**
 * Options of {@link ModelRunner.head} and {@link ModelRunner.tail}.
 *
 * @example
 * await runner.head(0, 2, x, 1, { bottleneck: true }) // features are the code of the bottleneck r000-p2
 */
export interface SplitOptions {
  /**
   * Run the variant's bottleneck at the point: the head ends with its encoder (features -> code), the
   * tail starts with its decoder (code -> features). UNKNOWN_VARIANT when the variant has none there.
   * @default false
   */
  bottleneck?: boolean;
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
    return this.fileSession(entry.file);
  }

  /** The session of one ONNX file of the model (a path relative to its folder), created on first use. */
  private fileSession(file: string): Promise<InferenceSession> {
    let s = this.sessions.get(file);
    if (!s) {
      s = this.backend.load(join(this.model.dir, file));
      s.catch(() => this.sessions.delete(file));
      this.sessions.set(file, s);
    }
    return s;
  }

  /** The bottleneck of a variant at a point (UNKNOWN_VARIANT when it has none). */
  bottleneck(variant: number | string, point: number): Bottleneck {
    return getBottleneck(this.model.manifest, variant, point);
  }

  /**
   * Creates every session a head up to `point` (or a tail from it) needs, so the first request is not
   * slow; with `bottleneck`, also the encoder (head) or decoder (tail) of the variant's bottleneck there.
   */
  async warm(
    variant: number | string,
    opts: { headTo?: number; tailFrom?: number; bottleneck?: boolean },
  ): Promise<void> {
    const v = this.variant(variant);
    const blocks: number[] = [];
    if (opts.headTo !== undefined) for (let b = 1; b <= opts.headTo; b++) blocks.push(b);
    if (opts.tailFrom !== undefined) for (let b = opts.tailFrom + 1; b <= this.pointCount + 1; b++) blocks.push(b);
    const files: string[] = [];
    if (opts.bottleneck) {
      if (opts.headTo !== undefined) files.push(this.bottleneck(v.id, opts.headTo).encoder.file);
      if (opts.tailFrom !== undefined) files.push(this.bottleneck(v.id, opts.tailFrom).decoder.file);
    }
    await Promise.all([...blocks.map((b) => this.session(v, b)), ...files.map((f) => this.fileSession(f))]);
  }

  /**
   * Runs a bottleneck's encoder on N*C*H*W features (the point's, of its variant): N*c*H*W code.
   *
   * @example
   * const code = await runner.encode(runner.bottleneck(0, 2), head.features, 1)
   */
  async encode(b: Bottleneck, features: Float32Array, batch: number): Promise<Float32Array> {
    return this.runBottleneck(b, 'encoder', features, batch);
  }

  /**
   * Runs a bottleneck's decoder on N*c*H*W code: N*C*H*W features for the variant's blocks point+1...
   *
   * @example
   * const features = await runner.decode(runner.bottleneck(0, 2), code, 1)
   */
  async decode(b: Bottleneck, code: Float32Array, batch: number): Promise<Float32Array> {
    return this.runBottleneck(b, 'decoder', code, batch);
  }

  private async runBottleneck(
    b: Bottleneck,
    part: 'encoder' | 'decoder',
    x: Float32Array,
    batch: number,
  ): Promise<Float32Array> {
    const f = b[part];
    const per = f.inShape.reduce((a, c) => a * c, 1);
    if (x.length !== batch * per) {
      throw new CodecError(
        ErrorCodes.SHAPE_MISMATCH,
        `${part} of bottleneck ${b.id} takes ${batch * per} values, got ${x.length}`,
        { expected: [batch, ...f.inShape] },
      );
    }
    const [input, output] = part === 'encoder' ? ['features', 'code'] : ['code', 'features'];
    const s = await this.fileSession(f.file);
    const out = (await s.run({ [input as string]: { data: x, dims: [batch, ...f.inShape] } }))[output as string];
    if (!out) throw new ModelError(ErrorCodes.MANIFEST_INVALID, `${part} of bottleneck ${b.id} lacks '${output}'`);
    return out.data;
  }

  private checkPoint(point: number, min: number): void {
    if (!Number.isInteger(point) || point < min || point > this.pointCount) {
      throw new CodecError(ErrorCodes.WRONG_POINT, `partition point must be ${min}..${this.pointCount}, got ${point}`, {
        point,
      });
    }
  }

  /**
   * Runs blocks 1..point on normalized input (N*C*H*W of the manifest's input shape); with
   * `opts.bottleneck`, then the bottleneck's encoder: `features` is the code, `attention` block p's.
   */
  async head(
    variant: number | string,
    point: number,
    input: Float32Array,
    batch: number,
    opts: SplitOptions = {},
  ): Promise<HeadOutput> {
    this.checkPoint(point, 1);
    const v = this.variant(variant);
    const bn = opts.bottleneck ? this.bottleneck(v.id, point) : undefined;
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
    if (bn) return { features: await this.encode(bn, x, batch), attention, dims: bn.codeShape, bottleneck: bn.id };
    return { features: x, attention, dims: featureDims(v, point) };
  }

  /**
   * Runs blocks point+1..end and the classifier on features at `point` (0 = the normalized input);
   * with `opts.bottleneck`, `features` is the N*c*H*W code of the variant's bottleneck at the point and
   * its decoder runs first. Returns N*classes logits.
   */
  async tail(
    variant: number | string,
    point: number,
    features: Float32Array,
    batch: number,
    opts: SplitOptions = {},
  ): Promise<Float32Array> {
    this.checkPoint(point, 0);
    const v = this.variant(variant);
    const bn = opts.bottleneck ? this.bottleneck(v.id, point) : undefined;
    const shape = bn ? bn.codeShape : point === 0 ? this.model.manifest.input.shape : featureDims(v, point);
    const per = shape[0] * shape[1] * shape[2];
    if (features.length !== batch * per) {
      throw new CodecError(
        ErrorCodes.SHAPE_MISMATCH,
        `${bn ? `the code of bottleneck ${bn.id} has` : 'features have'} ${features.length} values, expected ${batch * per}`,
        {
          expected: [batch, ...shape],
        },
      );
    }
    let x: Float32Array = bn ? await this.decode(bn, features, batch) : features;
    let dims: number[] = [batch, ...(bn ? bn.decoder.outShape : shape)];
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
