import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { ErrorCodes, JmdcError, TransportError } from '../errors.js';
import { errorForStatus, parseCloudResponse } from './response.js';
import { type RetryOptions, RetryPolicy } from './retry.js';
import { type CredentialsInput, RequestSigner } from './sigv4.js';
import type { CloudResponse, SendOptions, SendResult, Transport } from './types.js';

/**
 * Timeouts of one HTTP attempt.
 *
 * @example
 * new UrlTransport({ urls, timeouts: { connectMs: 1000, headersMs: 5000 } })
 */
export interface HttpTimeouts {
  /** TCP (+TLS) connect. @default 3000 */
  connectMs?: number;
  /** From the request to the response headers (includes the function's run time and a cold start). @default 15000 */
  headersMs?: number;
  /** Between two chunks of the response body. @default 10000 */
  bodyMs?: number;
}

/**
 * Options of {@link UrlTransport}.
 *
 * @example
 * new UrlTransport({ urls: { 0: 'http://127.0.0.1:9000/points/0' }, signing: false, local: true })
 */
export interface UrlTransportOptions {
  /** Function URL (or local cloud URL) per partition point (0 = cloud-only). */
  urls: Readonly<Record<number, string>>;
  /** Region for SigV4. @default process.env.AWS_REGION ?? 'us-east-1' */
  region?: string;
  /** @default fromNodeProviderChain() of @aws-sdk/credential-providers (loaded on first use) */
  credentials?: CredentialsInput;
  /**
   * Sign requests with SigV4. `false` is allowed only together with `local: true` (a local cloud on
   * loopback or a private URL that does not check signatures). @default true
   */
  signing?: boolean;
  /** Marks the URLs as a local cloud, which makes `signing: false` legal. @default false */
  local?: boolean;
  timeouts?: HttpTimeouts;
  retry?: RetryOptions | RetryPolicy;
  /** Keep-alive time of idle connections. @default 60000 */
  keepAliveMs?: number;
  /** Connections per origin. @default 8 */
  connections?: number;
  /** Largest response body accepted. @default 1 MiB */
  maxResponseBytes?: number;
  /** An undici dispatcher to use instead of the transport's own keep-alive Agent. */
  dispatcher?: Agent;
}

const CHUNK = 16 * 1024;

const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

function errCode(e: unknown): string | undefined {
  const o = e as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof o?.code === 'string' && o.code !== 'UND_ERR_SOCKET') return o.code;
  if (typeof o?.cause?.code === 'string') return o.cause.code;
  return typeof o?.code === 'string' ? o.code : undefined;
}

/** Lazily loads the default credential chain (keeps the AWS SDK off the startup path). */
async function defaultCredentials(): Promise<CredentialsInput> {
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return fromNodeProviderChain();
}

/**
 * POSTs payloads to the Function URL of each partition point over keep-alive connections (undici
 * `Agent`), SigV4-signed for `lambda` in the region, with connect/headers/body timeouts and retries of
 * the failures that are safe to repeat (see {@link RetryPolicy}).
 *
 * The upload time it reports is the time to hand the body to the socket in 16 KiB chunks, waiting for
 * the socket to drain: a fair measure of the link for payloads bigger than the socket's send buffer,
 * near 0 for small ones (the estimators ignore those).
 *
 * @example
 * const t = new UrlTransport({
 *   urls: { 1: 'https://abc.lambda-url.eu-west-1.on.aws/', 2: 'https://def.lambda-url.eu-west-1.on.aws/' },
 *   region: 'eu-west-1',
 * })
 * const { response } = await t.send(2, payload, { deadline: Date.now() + 3000 })
 * await t.close()
 */
export class UrlTransport implements Transport {
  readonly points: readonly number[];
  private readonly urls: Map<number, URL>;
  private readonly agent: Agent;
  private readonly ownAgent: boolean;
  private readonly retry: RetryPolicy;
  private readonly signing: boolean;
  private readonly region: string;
  private readonly credentials: CredentialsInput | undefined;
  private signer: Promise<RequestSigner> | undefined;
  private readonly headersMs: number;
  private readonly bodyMs: number;
  private readonly maxResponseBytes: number;
  private closed = false;

  constructor(opts: UrlTransportOptions) {
    this.urls = new Map();
    for (const [k, v] of Object.entries(opts.urls)) {
      const point = Number(k);
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `endpoint of point ${k} is not a URL: ${v}`);
      }
      if (!Number.isInteger(point) || point < 0 || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
        throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `bad endpoint for point ${k}: ${v}`);
      }
      this.urls.set(point, url);
    }
    this.points = [...this.urls.keys()].sort((a, b) => a - b);
    this.signing = opts.signing ?? true;
    if (!this.signing && !opts.local) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'signing: false is only allowed for a local cloud URL');
    }
    this.region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.credentials = opts.credentials;
    const t = opts.timeouts ?? {};
    const connectMs = t.connectMs ?? 3000;
    this.headersMs = t.headersMs ?? 15000;
    this.bodyMs = t.bodyMs ?? 10000;
    for (const [k, v] of Object.entries({ connectMs, headersMs: this.headersMs, bodyMs: this.bodyMs })) {
      if (!(Number.isFinite(v) && v > 0)) throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `timeouts.${k} must be > 0`);
    }
    this.maxResponseBytes = opts.maxResponseBytes ?? 1024 * 1024;
    this.retry = opts.retry instanceof RetryPolicy ? opts.retry : new RetryPolicy(opts.retry);
    this.ownAgent = !opts.dispatcher;
    this.agent =
      opts.dispatcher ??
      new Agent({
        connect: { timeout: connectMs },
        keepAliveTimeout: opts.keepAliveMs ?? 60_000,
        keepAliveMaxTimeout: Math.max(opts.keepAliveMs ?? 60_000, 60_000),
        connections: opts.connections ?? 8,
        headersTimeout: this.headersMs,
        bodyTimeout: this.bodyMs,
      });
  }

  private url(point: number): URL {
    const u = this.urls.get(point);
    if (!u) throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `no endpoint for point ${point}`, { point });
    return u;
  }

  private getSigner(): Promise<RequestSigner> {
    this.signer ??= (async () =>
      new RequestSigner({ region: this.region, credentials: this.credentials ?? (await defaultCredentials()) }))();
    return this.signer;
  }

  async send(point: number, payload: Uint8Array, opts: SendOptions = {}): Promise<SendResult> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'transport is closed');
    const url = this.url(point);
    const { value, attempts } = await this.retry.run(() => this.once(url, payload, opts), opts);
    return { ...value, attempts };
  }

  private async once(url: URL, payload: Uint8Array, opts: SendOptions): Promise<Omit<SendResult, 'attempts'>> {
    if (opts.signal?.aborted)
      throw new JmdcError(ErrorCodes.ABORTED, 'request aborted', {}, { cause: opts.signal.reason });
    const remaining = opts.deadline === undefined ? Number.POSITIVE_INFINITY : opts.deadline - Date.now();
    if (remaining <= 0) throw new JmdcError(ErrorCodes.DEADLINE, 'deadline passed before the request was sent');
    let headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(payload.byteLength),
    };
    if (this.signing) headers = await (await this.getSigner()).sign(url, payload, headers);

    const ac = new AbortController();
    const deadlineErr = new JmdcError(
      ErrorCodes.DEADLINE,
      `no response before the deadline (${Math.round(remaining)} ms)`,
    );
    const timer = Number.isFinite(remaining) ? setTimeout(() => ac.abort(deadlineErr), remaining) : undefined;
    const onAbort = () =>
      ac.abort(new JmdcError(ErrorCodes.ABORTED, 'request aborted', {}, { cause: opts.signal?.reason }));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const t0 = performance.now();
    let sentAt: number | undefined;
    async function* body(): AsyncGenerator<Buffer> {
      for (let off = 0; off < buf.length; off += CHUNK) yield buf.subarray(off, Math.min(buf.length, off + CHUNK));
      sentAt = performance.now();
    }
    try {
      const res = await request(url, {
        method: 'POST',
        headers,
        // undici writes an async iterable chunk by chunk, waiting for the socket to drain (its typings
        // list only streams and buffers)
        body: body() as unknown as Readable,
        dispatcher: this.agent,
        signal: ac.signal,
        headersTimeout: this.headersMs,
        bodyTimeout: this.bodyMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res.body) {
        size += (c as Buffer).length;
        if (size > this.maxResponseBytes) {
          res.body.destroy();
          throw new TransportError(ErrorCodes.CLOUD_ERROR, `response larger than ${this.maxResponseBytes} bytes`, {
            retryable: false,
            status: res.statusCode,
          });
        }
        chunks.push(c as Buffer);
      }
      const totalMs = performance.now() - t0;
      const text = Buffer.concat(chunks).toString('utf8');
      if (res.statusCode < 200 || res.statusCode >= 300) throw errorForStatus(res.statusCode, text, { url: url.href });
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new TransportError(ErrorCodes.CLOUD_ERROR, 'cloud response is not JSON', {
          retryable: false,
          status: 200,
        });
      }
      const response: CloudResponse = parseCloudResponse(parsed);
      const uploadMs = (sentAt ?? t0) - t0;
      return {
        response,
        uploadMs,
        uploadMeasured: true,
        totalMs,
        serverMs: response.serverMs,
        bytes: payload.byteLength,
      };
    } catch (e) {
      throw this.classify(e, ac.signal, sentAt !== undefined);
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Maps a failure to a typed error; retryable only when the request surely did not reach the function. */
  private classify(e: unknown, signal: AbortSignal, sent: boolean): JmdcError {
    if (signal.aborted && signal.reason instanceof JmdcError) return signal.reason;
    if (e instanceof JmdcError) return e;
    const code = errCode(e);
    const msg = (e as Error)?.message ?? String(e);
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new TransportError(
        ErrorCodes.TIMEOUT,
        `connect timeout: ${msg}`,
        { retryable: true, details: { code } },
        { cause: e },
      );
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new TransportError(
        ErrorCodes.TIMEOUT,
        `${code === 'UND_ERR_HEADERS_TIMEOUT' ? 'headers' : 'body'} timeout`,
        {
          retryable: false,
          details: { code },
        },
        { cause: e },
      );
    }
    if (code && NOT_SENT_CODES.has(code)) {
      return new TransportError(
        ErrorCodes.NETWORK,
        `cannot connect: ${msg}`,
        { retryable: true, details: { code } },
        { cause: e },
      );
    }
    if (code && RESET_CODES.has(code)) {
      // before the whole body was written the function cannot have run: safe to repeat
      return new TransportError(
        ErrorCodes.NETWORK,
        `connection lost ${sent ? 'after' : 'before'} the request was sent: ${msg}`,
        {
          retryable: !sent,
          details: { code, sent },
        },
        { cause: e },
      );
    }
    return new TransportError(
      ErrorCodes.NETWORK,
      `request failed: ${msg}`,
      { retryable: false, details: { code, sent } },
      { cause: e },
    );
  }

  /**
   * Times an unsigned `HEAD` to the point's URL: a Function URL with `AWS_IAM` auth refuses it at its
   * front door (403) without running the function, so this measures the network round trip only.
   */
  async probe(point: number, opts: SendOptions = {}): Promise<number> {
    const url = this.url(point);
    const t0 = performance.now();
    const signal = opts.signal ?? AbortSignal.timeout(this.headersMs);
    try {
      const res = await request(url, {
        method: 'HEAD',
        dispatcher: this.agent,
        signal,
        headersTimeout: this.headersMs,
      });
      await res.body.dump();
    } catch (e) {
      throw this.classify(e, signal, false);
    }
    return performance.now() - t0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownAgent) await this.agent.close();
  }
}
