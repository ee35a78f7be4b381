import { performance } from 'node:perf_hooks';
import { ErrorCodes, JmdcError, TransportError } from '../errors.js';
import { DeadlineScope } from './deadline.js';
import { classifyNetworkError, errorCode, NOT_SENT_CODES } from './errors.js';
import { errorForStatus, implausibleTimings, parseCloudResponse, RETRYABLE_STATUS } from './response.js';
import { type RetryOptions, RetryPolicy, sendRecorded } from './retry.js';
import type { CredentialsInput } from './sigv4.js';
import type { ExpectedAnswer, RequestTiming, SendOptions, SendResult, TimingBounds, Transport } from './types.js';
import type { HttpTimeouts } from './UrlTransport.js';

/**
 * What the transport needs of a Lambda client: a `LambdaClient` of `@aws-sdk/client-lambda` fits
 * (typed structurally so that apps without that optional package type-check).
 *
 * @example
 * const client: LambdaClientLike = new LambdaClient({ region: 'eu-west-1' })
 */
export interface LambdaClientLike {
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's overloaded, generic send must be assignable
  send(command: any, options?: any): Promise<unknown>;
  destroy(): void;
}

/** The parts of `@aws-sdk/client-lambda` the transport uses (loaded with `import()` on first use). */
export interface LambdaSdk {
  LambdaClient: new (config: Record<string, unknown>) => LambdaClientLike;
  InvokeCommand: new (input: { FunctionName: string; Payload: Uint8Array }) => unknown;
}

/**
 * Options of {@link InvokeTransport}.
 *
 * @example
 * new InvokeTransport({ functions: { 2: 'jmdc-fmnist-vgg16-p2' }, endpoint: 'http://localhost:4566' })
 */
export interface InvokeTransportOptions {
  /** Function name (or ARN) per partition point (0 = cloud-only). */
  functions: Readonly<Record<number, string>>;
  /** A configured client (tests, LocalStack, the local cloud); when given, region/credentials/endpoint are not used. */
  client?: LambdaClientLike;
  /** @default process.env.AWS_REGION ?? 'us-east-1' */
  region?: string;
  /** @default the SDK's default provider chain */
  credentials?: CredentialsInput;
  /** Endpoint of the Lambda API (LocalStack `http://localhost:4566`, the local cloud). @default AWS */
  endpoint?: string;
  /** connectMs and headersMs (as the request timeout) are used. */
  timeouts?: HttpTimeouts;
  retry?: RetryOptions | RetryPolicy;
  /** What every answer must be (a `send`'s `expect` overrides it field by field). @default {} */
  expect?: ExpectedAnswer;
  /** Bounds of plausible timings. @default DEFAULT_TIMING_BOUNDS (900000 ms each) */
  timingBounds?: TimingBounds;
  /** Loads `@aws-sdk/client-lambda` (tests). @default () => import('@aws-sdk/client-lambda') */
  loadSdk?: () => Promise<LambdaSdk>;
}

const THROTTLES = new Set(['TooManyRequestsException', 'ThrottlingException', 'EC2ThrottledException']);

/**
 * Loads the optional peer dependency `@aws-sdk/client-lambda`; `JMDC_ERR_DEPENDENCY_MISSING` when it
 * is not installed.
 *
 * @example
 * const { LambdaClient, InvokeCommand } = await loadLambdaSdk()
 */
export async function loadLambdaSdk(): Promise<LambdaSdk> {
  return importLambdaSdk(() => import(LAMBDA_SDK) as Promise<LambdaSdk>);
}

const LAMBDA_SDK = '@aws-sdk/client-lambda';

/** Runs `load`, turning "module not found" into `JMDC_ERR_DEPENDENCY_MISSING`. */
async function importLambdaSdk(load: () => Promise<LambdaSdk>): Promise<LambdaSdk> {
  try {
    return await load();
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new JmdcError(
        ErrorCodes.DEPENDENCY_MISSING,
        `the invoke transport needs the optional peer dependency ${LAMBDA_SDK}: npm install ${LAMBDA_SDK}@^3`,
        { package: LAMBDA_SDK },
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * Calls the tail function of each point with the Lambda Invoke API (`@aws-sdk/client-lambda`
 * `InvokeCommand`, payload `{ "payload": "<base64>" }`). `@aws-sdk/client-lambda` is an optional peer
 * dependency, imported on the first `send` (`JMDC_ERR_DEPENDENCY_MISSING` when it is not installed);
 * apps that use Function URLs never load it. The SDK's own retries are off; the {@link RetryPolicy}
 * retries throttling (429, honouring `retryAfterSeconds`) and 502/503/504 only. The upload time cannot
 * be seen through the SDK, so `uploadMeasured` is false and `ttfbMs` is the whole call.
 *
 * @example
 * const t = new InvokeTransport({ functions: { 1: 'jmdc-tail-p1' }, region: 'eu-west-1' })
 * const { response } = await t.send(1, payload)
 */
export class InvokeTransport implements Transport {
  readonly points: readonly number[];
  private readonly functions: Map<number, string>;
  private readonly opts: InvokeTransportOptions;
  private sdk: Promise<{ sdk: LambdaSdk; client: LambdaClientLike }> | undefined;
  private readonly ownClient: boolean;
  private readonly retry: RetryPolicy;
  private readonly expect: ExpectedAnswer;
  private readonly bounds: TimingBounds;
  private closed = false;

  constructor(opts: InvokeTransportOptions) {
    this.functions = new Map();
    for (const [k, v] of Object.entries(opts.functions)) {
      const point = Number(k);
      if (!Number.isInteger(point) || point < 0 || typeof v !== 'string' || v.length === 0) {
        throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `bad function for point ${k}: ${String(v)}`);
      }
      this.functions.set(point, v);
    }
    this.points = [...this.functions.keys()].sort((a, b) => a - b);
    this.retry = opts.retry instanceof RetryPolicy ? opts.retry : new RetryPolicy(opts.retry);
    this.ownClient = !opts.client;
    this.expect = { ...(opts.expect ?? {}) };
    this.bounds = { ...(opts.timingBounds ?? {}) };
    this.opts = opts;
  }

  private load(): Promise<{ sdk: LambdaSdk; client: LambdaClientLike }> {
    this.sdk ??= (async () => {
      const o = this.opts;
      const sdk = o.loadSdk ? await importLambdaSdk(o.loadSdk) : await loadLambdaSdk();
      const client =
        o.client ??
        new sdk.LambdaClient({
          region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
          ...(o.credentials ? { credentials: o.credentials } : {}),
          ...(o.endpoint ? { endpoint: o.endpoint } : {}),
          maxAttempts: 1,
          requestHandler: {
            connectionTimeout: o.timeouts?.connectMs ?? 3000,
            requestTimeout: o.timeouts?.headersMs ?? 15000,
          },
        });
      return { sdk, client };
    })();
    // a failed load is not cached: installing the package fixes the next call
    this.sdk.catch(() => {
      this.sdk = undefined;
    });
    return this.sdk;
  }

  /**
   * Invokes the function of `point` with `payload`, retrying what is safe to repeat, and validates the
   * answer. `attempts` counts the invocations sent (a refused connection does not count).
   */
  async send(point: number, payload: Uint8Array, opts: SendOptions = {}): Promise<SendResult> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'transport is closed');
    const name = this.functions.get(point);
    if (!name) throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `no function for point ${point}`, { point });
    const { sdk, client } = await this.load();
    const body = new TextEncoder().encode(JSON.stringify({ payload: Buffer.from(payload).toString('base64') }));
    return sendRecorded(this.retry, opts, (record) =>
      this.once(sdk, client, point, name, body, payload.byteLength, opts, record),
    );
  }

  private async once(
    sdk: LambdaSdk,
    client: LambdaClientLike,
    point: number,
    name: string,
    body: Uint8Array,
    bytes: number,
    opts: SendOptions,
    record: (t: RequestTiming) => void,
  ): Promise<Omit<SendResult, 'attempts' | 'requests'>> {
    const scope = DeadlineScope.start(opts);
    const wireBytes = body.byteLength + 400; // the SDK's request line and SigV4 headers, about
    const t0 = performance.now();
    let sent = true;
    let status: number | undefined;
    let serverMs: number | undefined;
    let doneAt: number | undefined;
    try {
      const out = (await client.send(new sdk.InvokeCommand({ FunctionName: name, Payload: body }), {
        abortSignal: scope.signal,
      })) as { Payload?: Uint8Array; FunctionError?: string; StatusCode?: number };
      doneAt = performance.now();
      const totalMs = doneAt - t0;
      status = out.StatusCode;
      const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new TransportError(ErrorCodes.BAD_RESPONSE, `function ${name} returned no JSON`, { retryable: false });
      }
      if (out.FunctionError) {
        const m = (parsed as { errorMessage?: unknown })?.errorMessage;
        throw new TransportError(ErrorCodes.CLOUD_ERROR, `function ${name} failed: ${String(m ?? out.FunctionError)}`, {
          retryable: false,
          details: { functionError: out.FunctionError },
        });
      }
      const sc = (parsed as { statusCode?: unknown })?.statusCode;
      if (typeof sc === 'number') status = sc;
      if (typeof sc === 'number' && (sc < 200 || sc >= 300)) throw errorForStatus(sc, text, { functionName: name });
      const response = parseCloudResponse(parsed, { ...this.expect, ...(opts.expect ?? {}) });
      const implausible = implausibleTimings(response, this.bounds, totalMs);
      if (implausible.length === 0) serverMs = response.serverMs;
      return {
        response,
        uploadMs: 0,
        uploadMeasured: false,
        totalMs,
        serverMs: response.serverMs,
        bytes,
        bytesSent: wireBytes,
        ttfbMs: totalMs,
        timingsPlausible: implausible.length === 0,
        implausible,
      };
    } catch (e) {
      const reason = scope.reason();
      if (reason) throw reason;
      if (e instanceof JmdcError) throw e;
      const err = classifySdkError(e);
      sent = err.details.sent !== false;
      if (err instanceof TransportError && err.status !== undefined) status = err.status;
      throw err;
    } finally {
      scope.dispose();
      if (sent) {
        const end = doneAt ?? performance.now();
        record({
          point,
          bodyBytes: body.byteLength,
          bytesSent: wireBytes,
          ttfbMs: end - t0,
          totalMs: end - t0,
          ...(status !== undefined ? { status } : {}),
          ...(serverMs !== undefined ? { serverMs } : {}),
          measured: false,
        });
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownClient && this.sdk) {
      const loaded = await this.sdk.catch(() => undefined);
      loaded?.client.destroy();
    }
  }
}

/**
 * Maps an `@aws-sdk/client-lambda` error: throttling and 502/503/504 are retryable
 * `JMDC_ERR_CLOUD_ERROR` (a throttle's `retryAfterSeconds` in `details.retryAfterMs`), 403 and
 * credential failures `JMDC_ERR_CREDENTIALS`, other 4xx `JMDC_ERR_CLOUD_REJECTED`, other statuses
 * `JMDC_ERR_CLOUD_ERROR`; network failures go through {@link classifyNetworkError}. `details.sent` is
 * false when the request surely was not sent.
 */
function classifySdkError(e: unknown): JmdcError {
  const o = e as {
    name?: string;
    message?: string;
    retryAfterSeconds?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = o?.$metadata?.httpStatusCode;
  const name = o?.name ?? '';
  const message = o?.message ?? String(e);
  if (THROTTLES.has(name) || (status !== undefined && RETRYABLE_STATUS.has(status))) {
    const ra = Number(o.retryAfterSeconds);
    const retryAfterMs = o.retryAfterSeconds !== undefined && Number.isFinite(ra) && ra >= 0 ? ra * 1000 : undefined;
    return new TransportError(
      ErrorCodes.CLOUD_ERROR,
      `Lambda ${name || status}: ${message}`,
      {
        retryable: true,
        ...(status !== undefined ? { status } : {}),
        details: { name, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
      },
      { cause: e },
    );
  }
  if (status !== undefined && status >= 400 && status < 500) {
    const code = name.includes('Credential') || status === 403 ? ErrorCodes.CREDENTIALS : ErrorCodes.CLOUD_REJECTED;
    return new TransportError(
      code,
      `Lambda ${name}: ${message}`,
      { retryable: false, status, details: { name } },
      { cause: e },
    );
  }
  if (status !== undefined) {
    return new TransportError(
      ErrorCodes.CLOUD_ERROR,
      `Lambda ${name}: ${message}`,
      { retryable: false, status, details: { name } },
      { cause: e },
    );
  }
  if (name === 'CredentialsProviderError') {
    return new TransportError(
      ErrorCodes.CREDENTIALS,
      message,
      { retryable: false, details: { sent: false } },
      { cause: e },
    );
  }
  const code = errorCode(e);
  return classifyNetworkError(e, { sent: !(code && NOT_SENT_CODES.has(code)), what: 'Lambda request' });
}
