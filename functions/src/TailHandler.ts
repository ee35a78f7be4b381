import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CloudResponse } from '@jmdc/edge-sdk';
import type { DecodedPayload, DecodeLimits, ExpectedLayout } from '@jmdc/edge-sdk/codec';
import { DEFAULT_LIMITS, decodePayload, reconstructFeatures } from '@jmdc/edge-sdk/codec';
import type { Bottleneck, InferenceBackend, LoadedModel, Variant } from '@jmdc/edge-sdk/model';
import { featureDims, findVariant, loadModel, ModelRunner, preprocess } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { DEFAULT_MAX_ABS_FEATURE, FUNCTION_LIMITS, type TailHandlerOptions } from './config.js';
import { ErrorCodes, JmdcError, ModelError, statusForCode } from './errors.js';
import {
  type EventShape,
  type FunctionUrlResult,
  isFunctionUrlEvent,
  type LambdaContext,
  payloadFromFunctionUrl,
  payloadFromInvoke,
} from './events.js';
import { assertPoint, selectBottlenecks, verifyPointFiles } from './modelFiles.js';

/**
 * What a successful request returns (the JSON body of a Function URL response): the SDK's
 * {@link CloudResponse} contract plus what ran.
 */
export interface TailResult extends CloudResponse {
  point: number;
  /** Prune ratio of the variant that ran. */
  variant: number;
  /** Id of the bottleneck whose decoder ran (the payload was its code), when one did. */
  bottleneck?: string;
  batch: number;
}

/** What a failed request returns. */
export interface TailErrorBody {
  error: { code: string; message: string };
  requestId: string;
  /** Time spent on the request, ms (a caller learns its network time from errors too, e.g. an upload probe). */
  serverMs: number;
  /** Whether this request found a new instance: its wall time then also holds the instance's start. */
  coldStart: boolean;
  /** The instance's init time, ms, on a cold start. */
  initMs?: number;
}

/** An Invoke response: the JSON object itself with the HTTP-like status added. */
export type InvokeResult = (TailResult | TailErrorBody) & { statusCode: number };

export type TailResponse = FunctionUrlResult | InvokeResult;

interface Inference {
  result: Omit<TailResult, 'serverMs' | 'coldStart' | 'initMs' | 'modelHash' | 'requestId'>;
}

/** The function's limits: {@link FUNCTION_LIMITS} over the codec's defaults, then `overrides`; each a positive integer. */
function resolveLimits(overrides: Partial<DecodeLimits> | undefined): DecodeLimits {
  const limits: DecodeLimits = { ...DEFAULT_LIMITS, ...FUNCTION_LIMITS };
  for (const [k, v] of Object.entries(overrides ?? {}) as Array<[keyof DecodeLimits, number | undefined]>) {
    if (v === undefined) continue;
    if (!(k in limits) || !Number.isSafeInteger(v) || v < 1) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `limit ${k} must be a positive integer`, { [k]: v });
    }
    limits[k] = v;
  }
  return limits;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * The tail function of one partition point: holds the model, one onnxruntime session per tail block
 * of every variant (created at init) and the decode limits; turns a request into logits.
 *
 * @example
 * const tail = await TailHandler.create({ point: 2, modelDir: '/var/task/model' })
 * const res = await tail.handle({ payload: base64 }, context) // { statusCode: 200, classes, logits, ... }
 */
export class TailHandler {
  readonly point: number;
  readonly model: LoadedModel;
  readonly runner: ModelRunner;
  readonly limits: DecodeLimits;
  /** Milliseconds {@link TailHandler.create} took. */
  readonly initMs: number;
  private readonly log: (line: string) => void;
  private readonly fills = new Map<string, Float32Array>();
  /** Per served variant id: its bottleneck at this point, with the code value at dropped positions. */
  private readonly codes = new Map<string, { bottleneck: Bottleneck; fill: Float32Array }>();
  /**
   * What the decoder accepts here: one layout per served variant (point 0: raw images of the source
   * shape), and one per served bottleneck (its code, flagged).
   */
  readonly layouts: readonly ExpectedLayout[];
  /** Ids of the bottlenecks this function serves. */
  readonly bottlenecks: readonly string[];
  /** Largest magnitude of a decoded feature value (see {@link TailHandlerOptions.maxAbsFeature}). */
  readonly maxAbsFeature: number;
  private invocations = 0;

  private constructor(
    opts: TailHandlerOptions,
    model: LoadedModel,
    runner: ModelRunner,
    limits: DecodeLimits,
    layouts: readonly ExpectedLayout[],
    bottlenecks: readonly Bottleneck[],
    initMs: number,
  ) {
    this.point = opts.point;
    this.model = model;
    this.runner = runner;
    this.initMs = initMs;
    this.limits = limits;
    this.log = opts.log ?? ((line) => console.log(line));
    this.layouts = layouts;
    this.maxAbsFeature = opts.maxAbsFeature ?? DEFAULT_MAX_ABS_FEATURE;
    if (opts.point > 0) {
      for (const v of model.manifest.variants) {
        this.fills.set(v.id, Float32Array.from(v.fill[opts.point - 1] ?? []));
      }
    }
    this.bottlenecks = bottlenecks.map((b) => b.id);
    for (const b of bottlenecks) {
      this.codes.set(findVariant(model.manifest, b.variant).id, { bottleneck: b, fill: Float32Array.from(b.fill) });
    }
  }

  /**
   * Loads the model, checks the files this point needs, and creates every session of every variant's
   * tail from this point, so that their cost lands in init and not in the first request.
   */
  static async create(opts: TailHandlerOptions): Promise<TailHandler> {
    const t0 = performance.now();
    const limits = resolveLimits(opts.limits);
    if (opts.maxAbsFeature !== undefined && !(typeof opts.maxAbsFeature === 'number' && opts.maxAbsFeature > 0)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'maxAbsFeature must be a positive number', {
        maxAbsFeature: opts.maxAbsFeature,
      });
    }
    const model = loadModel(opts.modelDir);
    assertPoint(model.manifest, opts.point);
    if (opts.expectModelHash !== undefined && opts.expectModelHash !== model.manifest.hash) {
      throw new ModelError(
        ErrorCodes.MODEL_HASH_MISMATCH,
        `model in ${model.dir} has hash ${model.manifest.hash}, deployment expects ${opts.expectModelHash}`,
        { expected: opts.expectModelHash, actual: model.manifest.hash },
      );
    }
    const variants = (opts.variants ?? model.manifest.variants.map((v) => v.id)).map((id) =>
      findVariant(model.manifest, id),
    );
    const variantIds = variants.map((v) => v.id);
    const bottlenecks = selectBottlenecks(model.manifest, opts.point, opts.bottlenecks, variantIds);
    for (const b of bottlenecks) {
      if (!variants.some((v) => Math.abs(v.pruneRatio - b.variant) < 1e-6)) {
        throw new JmdcError(
          ErrorCodes.INVALID_ARGUMENT,
          `bottleneck ${b.id} belongs to variant ${b.variant}, which this function does not serve`,
          { bottleneck: b.id, served: variantIds },
        );
      }
    }
    const layouts = layoutsFor(model, opts.point, new Set(variantIds), bottlenecks); // fails init when point 0 lacks r000
    verifyPointFiles(
      model,
      opts.point,
      opts.variants,
      bottlenecks.map((b) => b.id),
    );
    const backend: InferenceBackend =
      opts.backend ?? new OrtBackend(opts.threads === undefined ? {} : { intraOpThreads: opts.threads });
    const runner = new ModelRunner(model, backend);
    await Promise.all([
      ...variants.map((v) => runner.warm(v.id, { tailFrom: opts.point })),
      ...bottlenecks.map((b) => runner.warm(b.variant, { tailFrom: opts.point, bottleneck: true })),
    ]);
    return new TailHandler(opts, model, runner, limits, layouts, bottlenecks, round(performance.now() - t0));
  }

  get modelHash(): string {
    return this.model.manifest.hash;
  }

  /**
   * Handles a Function URL event or an Invoke payload. Never throws: errors become a status and a
   * typed `{ error: { code, message } }` body.
   */
  async handle(event: unknown, context?: LambdaContext): Promise<TailResponse> {
    const t0 = performance.now();
    const coldStart = this.invocations++ === 0;
    const shape: EventShape = isFunctionUrlEvent(event) ? 'url' : 'invoke';
    const urlRequestId: unknown =
      shape === 'url' ? (event as { requestContext: { requestId?: unknown } }).requestContext.requestId : undefined;
    const requestId =
      context?.awsRequestId ??
      (typeof urlRequestId === 'string' ? urlRequestId.slice(0, 128) : undefined) ??
      randomUUID();
    let bytes = 0;
    let status: number;
    let body: TailResult | TailErrorBody;
    let logExtra: Record<string, unknown> = {};
    try {
      const payload =
        shape === 'url'
          ? payloadFromFunctionUrl(event as Parameters<typeof payloadFromFunctionUrl>[0], this.limits.maxPayloadBytes)
          : payloadFromInvoke(event, this.limits.maxPayloadBytes);
      bytes = payload.byteLength;
      const { result } = await this.infer(payload);
      status = 200;
      body = {
        ...result,
        serverMs: round(performance.now() - t0),
        coldStart,
        initMs: this.initMs,
        modelHash: this.modelHash,
        requestId,
      };
      logExtra = {
        variant: result.variant,
        batch: result.batch,
        decodeMs: result.decodeMs,
        inferMs: result.inferMs,
      };
    } catch (e) {
      const known = e instanceof JmdcError;
      const code = known ? e.code : ErrorCodes.INTERNAL;
      status = statusForCode(code);
      // our own faults say nothing about their insides; the log line has the details
      const message = status >= 500 ? (known ? e.message : 'internal error') : (e as Error).message;
      body = {
        error: { code, message },
        requestId,
        serverMs: round(performance.now() - t0),
        coldStart,
        ...(coldStart ? { initMs: this.initMs } : {}),
      };
      logExtra = {
        error: (e as Error)?.message ?? String(e),
        ...(known ? { details: e.details } : {}),
        ...(status >= 500 ? { stack: (e as Error)?.stack } : {}),
      };
    }
    const serverMs = round(performance.now() - t0);
    this.log(
      JSON.stringify({
        msg: 'jmdc.tail',
        requestId,
        event: shape,
        point: this.point,
        bytes,
        coldStart,
        serverMs,
        status,
        code: 'error' in body ? body.error.code : 'OK',
        ...logExtra,
      }),
    );
    if (shape === 'url') {
      return { statusCode: status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    }
    return { statusCode: status, ...body };
  }

  /** Decodes, validates and runs one payload (the part of {@link handle} below the event envelope). */
  async infer(payload: Uint8Array): Promise<Inference> {
    const t0 = performance.now();
    // model, point, variant and dims are checked right after the header: nothing is inflated for a payload
    // this function cannot run, and a variant it does not serve has no layout (UNKNOWN_VARIANT)
    const decoded: DecodedPayload = decodePayload(payload, {
      limits: this.limits,
      expectModelHash: this.modelHash,
      expectModelId: this.model.manifest.id,
      expectPoint: this.point,
      expectLayouts: this.layouts,
      maxAbsValue: this.maxAbsFeature,
    });
    const { header } = decoded;
    const variant: Variant = findVariant(this.model.manifest, header.variant);
    // a flagged frame matched a bottleneck layout: the payload is that bottleneck's code
    const code = decoded.kind === 'features' && header.bottleneck ? this.codes.get(variant.id) : undefined;
    if (decoded.kind === 'features' && header.bottleneck && !code) {
      throw new JmdcError(ErrorCodes.UNKNOWN_VARIANT, `no bottleneck of variant ${variant.id} at point ${this.point}`, {
        variant: variant.id,
      });
    }
    const { input, batch } = this.tailInput(decoded, variant, code?.fill);
    const t1 = performance.now();
    const logits = await this.runner.tail(variant.id, this.point, input, batch, { bottleneck: code !== undefined });
    const t2 = performance.now();
    const classes = this.model.manifest.classes.length;
    if (logits.length !== batch * classes) {
      throw new JmdcError(ErrorCodes.INTERNAL, `model returned ${logits.length} logits for ${batch}x${classes}`);
    }
    const rows: number[][] = [];
    const argmax: number[] = [];
    for (let n = 0; n < batch; n++) {
      const row = Array.from(logits.subarray(n * classes, (n + 1) * classes));
      let best = 0;
      for (let j = 0; j < classes; j++) {
        const z = row[j]!;
        if (!Number.isFinite(z)) {
          // features are the caller's numbers (bounded, but still theirs); images are bytes the model must take
          const code = decoded.kind === 'features' ? ErrorCodes.INVALID_FEATURES : ErrorCodes.INTERNAL;
          throw new JmdcError(code, `non-finite logit for item ${n} of variant ${variant.id}`, {
            item: n,
            variant: variant.id,
          });
        }
        if (z > row[best]!) best = j;
      }
      rows.push(row);
      argmax.push(best);
    }
    return {
      result: {
        classes: argmax,
        logits: rows,
        decodeMs: round(t1 - t0),
        inferMs: round(t2 - t1),
        point: this.point,
        variant: variant.pruneRatio,
        ...(code ? { bottleneck: code.bottleneck.id } : {}),
        batch,
      },
    };
  }

  /**
   * The dense N*C*H*W input of the tail: reconstructed features (or a bottleneck's code, dropped
   * positions filled with `codeFill`), or preprocessed images at point 0.
   */
  private tailInput(
    decoded: DecodedPayload,
    variant: Variant,
    codeFill?: Float32Array,
  ): { input: Float32Array; batch: number } {
    // the decoder has matched kind, point and dims against this.layouts: raw images only at point 0,
    // features of the variant's dims at this point otherwise
    const { header } = decoded;
    if (decoded.kind === 'raw') {
      return { input: preprocess(this.model.manifest, decoded.images, header.batch), batch: header.batch };
    }
    const input = reconstructFeatures(decoded, codeFill ?? this.fills.get(variant.id));
    for (let i = 0; i < input.length; i++) {
      if (!Number.isFinite(input[i]!)) {
        throw new JmdcError(ErrorCodes.NON_FINITE, 'payload decodes to a non-finite feature value', { index: i });
      }
    }
    return { input, batch: header.batch };
  }

  /** Releases the onnxruntime sessions. */
  close(): Promise<void> {
    return this.runner.close();
  }
}

/**
 * The layouts the function of `point` accepts: features of each served variant's shape at the point, or at
 * point 0 raw images of the model's source shape for the unpruned variant (the only one a raw frame names).
 */
function layoutsFor(
  model: LoadedModel,
  point: number,
  served: ReadonlySet<string>,
  bottlenecks: readonly Bottleneck[],
): ExpectedLayout[] {
  const variants = model.manifest.variants.filter((v) => served.has(v.id));
  if (point === 0) {
    if (!variants.some((v) => v.pruneRatio === 0)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'the point-0 function must serve the unpruned variant', {
        served: [...served],
      });
    }
    return [{ kind: 'raw', variant: 0, dims: model.manifest.input.sourceShape as [number, number, number] }];
  }
  const layouts: ExpectedLayout[] = variants.map((v) => ({
    kind: 'features',
    variant: v.pruneRatio,
    dims: featureDims(v, point),
  }));
  for (const b of bottlenecks) {
    layouts.push({ kind: 'features', variant: b.variant, bottleneck: true, dims: b.codeShape });
  }
  return layouts;
}

/**
 * Creates the tail function of one partition point (loads the model and creates every session).
 *
 * @example
 * const tail = await createTailHandler({ point: 0, modelDir: 'test/fixtures/models/tiny-vgg11', threads: 1 })
 * const res = await tail.handle(functionUrlEvent, context)
 * console.log(tail.initMs)
 */
export function createTailHandler(opts: TailHandlerOptions): Promise<TailHandler> {
  return TailHandler.create(opts);
}
