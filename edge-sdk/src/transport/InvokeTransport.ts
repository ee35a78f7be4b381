import { performance } from 'node:perf_hooks';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ErrorCodes, JmdcError, TransportError } from '../errors.js';
import { errorForStatus, parseCloudResponse, RETRYABLE_STATUS } from './response.js';
import { type RetryOptions, RetryPolicy } from './retry.js';
import type { CredentialsInput } from './sigv4.js';
import type { SendOptions, SendResult, Transport } from './types.js';
import type { HttpTimeouts } from './UrlTransport.js';

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
  client?: LambdaClient;
  /** @default process.env.AWS_REGION ?? 'us-east-1' */
  region?: string;
  /** @default the SDK's default provider chain */
  credentials?: CredentialsInput;
  /** Endpoint of the Lambda API (LocalStack `http://localhost:4566`, the local cloud). @default AWS */
  endpoint?: string;
  /** connectMs and headersMs (as the request timeout) are used. */
  timeouts?: HttpTimeouts;
  retry?: RetryOptions | RetryPolicy;
}

const THROTTLES = new Set(['TooManyRequestsException', 'ThrottlingException', 'EC2ThrottledException']);

/**
 * Calls the tail function of each point with the Lambda Invoke API (`@aws-sdk/client-lambda`
 * `InvokeCommand`, payload `{ "payload": "<base64>" }`). The SDK's own retries are off; the
 * {@link RetryPolicy} retries throttling (429) and 502/503/504 only. The upload time cannot be seen
 * through the SDK, so `uploadMeasured` is false.
 *
 * @example
 * const t = new InvokeTransport({ functions: { 1: 'jmdc-tail-p1' }, region: 'eu-west-1' })
 * const { response } = await t.send(1, payload)
 */
export class InvokeTransport implements Transport {
  readonly points: readonly number[];
  private readonly functions: Map<number, string>;
  private readonly client: LambdaClient;
  private readonly ownClient: boolean;
  private readonly retry: RetryPolicy;
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
    this.client =
      opts.client ??
      new LambdaClient({
        region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        maxAttempts: 1,
        requestHandler: {
          connectionTimeout: opts.timeouts?.connectMs ?? 3000,
          requestTimeout: opts.timeouts?.headersMs ?? 15000,
        },
      });
  }

  async send(point: number, payload: Uint8Array, opts: SendOptions = {}): Promise<SendResult> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'transport is closed');
    const name = this.functions.get(point);
    if (!name) throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `no function for point ${point}`, { point });
    const body = new TextEncoder().encode(JSON.stringify({ payload: Buffer.from(payload).toString('base64') }));
    const { value, attempts } = await this.retry.run(() => this.once(name, body, payload.byteLength, opts), opts);
    return { ...value, attempts };
  }

  private async once(
    name: string,
    body: Uint8Array,
    bytes: number,
    opts: SendOptions,
  ): Promise<Omit<SendResult, 'attempts'>> {
    const remaining = opts.deadline === undefined ? Number.POSITIVE_INFINITY : opts.deadline - Date.now();
    if (remaining <= 0) throw new JmdcError(ErrorCodes.DEADLINE, 'deadline passed before the request was sent');
    if (opts.signal?.aborted) throw new JmdcError(ErrorCodes.ABORTED, 'request aborted');
    const ac = new AbortController();
    const timer = Number.isFinite(remaining)
      ? setTimeout(() => ac.abort(new JmdcError(ErrorCodes.DEADLINE, 'no response before the deadline')), remaining)
      : undefined;
    const onAbort = () => ac.abort(new JmdcError(ErrorCodes.ABORTED, 'request aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const t0 = performance.now();
    try {
      const out = await this.client.send(new InvokeCommand({ FunctionName: name, Payload: body }), {
        abortSignal: ac.signal,
      });
      const totalMs = performance.now() - t0;
      const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new TransportError(ErrorCodes.CLOUD_ERROR, `function ${name} returned no JSON`, { retryable: false });
      }
      if (out.FunctionError) {
        const m = (parsed as { errorMessage?: unknown })?.errorMessage;
        throw new TransportError(ErrorCodes.CLOUD_ERROR, `function ${name} failed: ${String(m ?? out.FunctionError)}`, {
          retryable: false,
          details: { functionError: out.FunctionError },
        });
      }
      const sc = (parsed as { statusCode?: unknown })?.statusCode;
      if (typeof sc === 'number' && (sc < 200 || sc >= 300)) throw errorForStatus(sc, text, { functionName: name });
      const response = parseCloudResponse(parsed);
      return { response, uploadMs: 0, uploadMeasured: false, totalMs, serverMs: response.serverMs, bytes };
    } catch (e) {
      if (ac.signal.aborted && ac.signal.reason instanceof JmdcError) throw ac.signal.reason;
      if (e instanceof JmdcError) throw e;
      throw classifySdkError(e);
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownClient) this.client.destroy();
  }
}

function classifySdkError(e: unknown): TransportError {
  const o = e as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = o?.$metadata?.httpStatusCode;
  const name = o?.name ?? '';
  const message = o?.message ?? String(e);
  if (THROTTLES.has(name) || (status !== undefined && RETRYABLE_STATUS.has(status))) {
    return new TransportError(
      ErrorCodes.CLOUD_ERROR,
      `Lambda ${name || status}: ${message}`,
      {
        retryable: true,
        ...(status !== undefined ? { status } : {}),
        details: { name },
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
  const code = o?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH') {
    return new TransportError(
      ErrorCodes.NETWORK,
      `cannot connect: ${message}`,
      { retryable: true, details: { code } },
      { cause: e },
    );
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT') {
    return new TransportError(
      ErrorCodes.TIMEOUT,
      `Lambda request timed out: ${message}`,
      { retryable: false, details: { code } },
      { cause: e },
    );
  }
  if (name === 'CredentialsProviderError') {
    return new TransportError(ErrorCodes.CREDENTIALS, message, { retryable: false }, { cause: e });
  }
  return new TransportError(
    ErrorCodes.NETWORK,
    `Lambda request failed: ${message}`,
    { retryable: false, details: { code, name } },
    { cause: e },
  );
}
