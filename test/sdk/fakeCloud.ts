/**
 * A small fake of the cloud half for SDK tests: an HTTP server on 127.0.0.1 that serves
 * - `POST /points/<p>` (the Function URL shape: body = codec payload), and
 * - `POST /2015-03-31/functions/<name>/invocations` (the Lambda Invoke API: `{ "payload": "<base64>" }`,
 *   function names `jmdc-<model>-p<p>`),
 * decodes the payload with the real codec and runs the tail with `ModelRunner` on real onnxruntime,
 * so end-to-end results can be compared with the whole network. The first request to each point
 * reports a cold start. Faults (status codes, delays, dropped connections, a wrong model hash) can be
 * scripted per request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decodePayload, reconstructFeatures } from '@jmdc/edge-sdk/codec';
import { ErrorCodes, isJmdcError, JmdcError, statusForCode } from '@jmdc/edge-sdk/errors';
import type { LoadedModel } from '@jmdc/edge-sdk/model';
import { argmaxRows, findVariant, getBottleneck, loadModel, ModelRunner, preprocess } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';

/** What to do with one request (consumed in order; `undefined` = answer normally). */
export interface Fault {
  /** Answer with this status and a `{ error }` body instead of running the tail. */
  status?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Drop the connection after reading the request. */
  destroy?: boolean;
  /** Report this model hash (`''` for none). */
  modelHash?: string;
  /** Report this `serverMs` (a hostile or broken answer). */
  serverMs?: number;
  /** Report a cold start with this `initMs`. */
  coldInitMs?: number;
  /** Replace the logits by this (e.g. values beyond float32). */
  logits?: number[][];
  /** Never answer (the connection stays open until the server closes). */
  hang?: boolean;
}

export interface FakeCloudHit {
  point: number;
  bytes: number;
  via: 'url' | 'invoke' | 'probe';
  status: number;
}

export interface FakeCloud {
  url: string;
  model: LoadedModel;
  runner: ModelRunner;
  hits: FakeCloudHit[];
  /** The header fields of every frame that reached a tail: point, variant and the bottleneck flag. */
  frames: Array<{ point: number; variant: number; bottleneck: boolean }>;
  /** Per-request faults, consumed first to last. */
  faults: Array<Fault | undefined>;
  /** A fault applied to every request of a point (after the queue is empty). */
  pointFaults: Map<number, Fault>;
  /** Init duration reported with cold starts, ms. */
  initMs: number;
  /** Points that have answered once (warm). */
  warm: Set<number>;
  /** How long a HEAD probe takes to be answered, ms. */
  headDelayMs: number;
  /** Resolves when no request is being handled (requests scripted to hang excepted). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export const TINY_MODEL_DIR = new URL('../fixtures/models/tiny-vgg11/', import.meta.url).pathname;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Starts the fake cloud for a model folder (default: the tiny fixture).
 *
 * @example
 * const cloud = await startFakeCloud()
 * const client = await JmdcClient.create({ model: cloud.model.dir, endpoints: { localCloudUrl: cloud.url }, ... })
 */
export async function startFakeCloud(modelDir = TINY_MODEL_DIR): Promise<FakeCloud> {
  const model = loadModel(modelDir);
  const { manifest } = model;
  const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
  const classes = manifest.classes.length;

  async function tail(point: number, payload: Uint8Array, fault: Fault | undefined) {
    const t0 = performance.now();
    const decoded = decodePayload(payload, { expectModelHash: manifest.hash, expectPoint: point });
    const decodeMs = performance.now() - t0;
    const { header } = decoded;
    const variant = findVariant(manifest, header.variant);
    const t1 = performance.now();
    let logits: Float32Array;
    cloud.frames.push({ point, variant: header.variant, bottleneck: header.bottleneck === true });
    if (decoded.kind === 'features') {
      // a bottleneck code: dropped positions take the bottleneck's fill, its decoder runs before the tail
      const bottleneck = header.bottleneck === true ? getBottleneck(manifest, variant.id, point) : undefined;
      const fill = Float32Array.from(bottleneck?.fill ?? variant.fill[point - 1] ?? []);
      logits = await runner.tail(variant.id, point, reconstructFeatures(decoded, fill), header.batch, {
        bottleneck: bottleneck !== undefined,
      });
    } else {
      logits = await runner.full(variant.id, preprocess(manifest, decoded.images, header.batch), header.batch);
    }
    const inferMs = performance.now() - t1;
    const cold = fault?.coldInitMs !== undefined || !cloud.warm.has(point);
    cloud.warm.add(point);
    // a cold start takes its init time before the handler runs, as in Lambda
    if (cold && fault?.coldInitMs === undefined) await new Promise((r) => setTimeout(r, cloud.initMs));
    const rows: number[][] = [];
    for (let i = 0; i < header.batch; i++) rows.push(Array.from(logits.subarray(i * classes, (i + 1) * classes)));
    return {
      classes: argmaxRows(logits, classes),
      logits: fault?.logits ?? rows,
      serverMs: fault?.serverMs ?? decodeMs + inferMs,
      decodeMs,
      inferMs,
      coldStart: cold,
      initMs: fault?.coldInitMs ?? (cold ? cloud.initMs : 0),
      modelHash: fault?.modelHash ?? manifest.hash,
      requestId: `fake-${cloud.hits.length}`,
    };
  }

  let busy = 0;
  const waiters: Array<() => void> = [];

  /** Runs one request; returns [status, body]. */
  async function handle(point: number, payload: Uint8Array, fault: Fault | undefined): Promise<[number, unknown]> {
    if (fault?.hang) await new Promise<never>(() => {});
    busy++;
    try {
      return await handleNow(point, payload, fault);
    } finally {
      busy--;
      if (busy === 0) for (const w of waiters.splice(0)) w();
    }
  }

  async function handleNow(point: number, payload: Uint8Array, fault: Fault | undefined): Promise<[number, unknown]> {
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.status) {
      return [fault.status, { error: { code: 'FAKE_FAULT', message: `scripted ${fault.status}` } }];
    }
    try {
      if (!Number.isInteger(point) || point < 0 || point > manifest.points.length) {
        throw new JmdcError(ErrorCodes.WRONG_POINT, `no point ${point}`);
      }
      return [200, await tail(point, payload, fault)];
    } catch (e) {
      const code = isJmdcError(e) ? e.code : ErrorCodes.INTERNAL;
      return [statusForCode(code), { error: { code, message: (e as Error).message } }];
    }
  }

  function nextFault(point: number): Fault | undefined {
    return cloud.faults.length > 0 ? cloud.faults.shift() : cloud.pointFaults.get(point);
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readBody(req);
      const url = req.url ?? '';
      let m = /^\/points\/(\d+)$/.exec(url);
      if (m && req.method === 'HEAD') {
        if (cloud.headDelayMs > 0) await new Promise((r) => setTimeout(r, cloud.headDelayMs));
        cloud.hits.push({ point: Number(m[1]), bytes: 0, via: 'probe', status: 200 });
        res.end();
        return;
      }
      if (m && req.method === 'POST') {
        const point = Number(m[1]);
        const fault = nextFault(point);
        if (fault?.hang) cloud.hits.push({ point, bytes: body.length, via: 'url', status: 0 });
        if (fault?.destroy) {
          cloud.hits.push({ point, bytes: body.length, via: 'url', status: 0 });
          req.socket.destroy();
          return;
        }
        const [status, out] = await handle(point, body, fault);
        cloud.hits.push({ point, bytes: body.length, via: 'url', status });
        res.statusCode = status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(out));
        return;
      }
      m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url);
      if (m && req.method === 'POST') {
        const name = decodeURIComponent(m[1] ?? '');
        const pm = new RegExp(`^jmdc-${manifest.id}-p(\\d+)$`).exec(name);
        res.setHeader('content-type', 'application/json');
        if (!pm) {
          res.statusCode = 404;
          res.setHeader('x-amzn-errortype', 'ResourceNotFoundException');
          res.end(JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }));
          return;
        }
        const point = Number(pm[1]);
        const fault = nextFault(point);
        let payload: Uint8Array;
        try {
          payload = Buffer.from(String((JSON.parse(body.toString('utf8')) as { payload?: unknown }).payload), 'base64');
        } catch {
          payload = new Uint8Array(0);
        }
        const [status, out] = await handle(point, payload, fault);
        cloud.hits.push({ point, bytes: payload.length, via: 'invoke', status });
        res.statusCode = 200;
        res.end(JSON.stringify(status === 200 ? out : { statusCode: status, ...(out as object) }));
        return;
      }
      res.statusCode = 404;
      res.end('{"error":{"code":"NOT_FOUND","message":"no route"}}');
    })().catch((e: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: { code: 'JMDC_ERR_INTERNAL', message: String(e) } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cloud: FakeCloud = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    model,
    runner,
    hits: [],
    frames: [],
    faults: [],
    pointFaults: new Map(),
    initMs: 40,
    warm: new Set(),
    headDelayMs: 0,
    idle() {
      return busy === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r));
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await runner.close();
    },
  };
  return cloud;
}
