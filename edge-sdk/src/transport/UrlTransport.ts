import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { ErrorCodes, JmdcError, TransportError } from '../errors.js';
import { DeadlineScope } from './deadline.js';
import { classifyNetworkError, errorCode } from './errors.js';
import { assertSigningAllowed, type HostLookup, isLoopbackAddress } from './loopback.js';
import { errorForStatus, implausibleTimings, parseCloudResponse } from './response.js';
import { type RetryOptions, RetryPolicy, sendRecorded, withAttempts } from './retry.js';
import { type CredentialsInput, RequestSigner } from './sigv4.js';
import type { ExpectedAnswer, RequestTiming, SendOptions, SendResult, TimingBounds, Transport } from './types.js';

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
 * new UrlTransport({ urls: { 0: 'http://127.0.0.1:9000/points/0' }, signing: false })
 */
export interface UrlTransportOptions {
  /** Function URL (or local cloud URL) per partition point (0 = cloud-only). */
  urls: Readonly<Record<number, string>>;
  /** Region for SigV4. @default process.env.AWS_REGION ?? 'us-east-1' */
  region?: string;
  /** @default fromNodeProviderChain() of @aws-sdk/credential-providers (loaded on first use) */
  credentials?: CredentialsInput;
  /**
   * Sign requests with SigV4. `false` is allowed only when every URL's host is a loopback address
   * (127.0.0.0/8, ::1) or a name that resolves only to loopback addresses (`localhost`): an IP
   * literal elsewhere is refused here, a name is resolved before the first request (and again at
   * every connect), and a refusal is `JMDC_ERR_INVALID_ARGUMENT`. @default true
   */
  signing?: boolean;
  timeouts?: HttpTimeouts;
  retry?: RetryOptions | RetryPolicy;
  /** Keep-alive time of idle connections. @default 60000 */
  keepAliveMs?: number;
  /** Connections per origin. @default 8 */
  connections?: number;
  /** Largest response body accepted (`JMDC_ERR_RESPONSE_TOO_LARGE` beyond it). @default 1 MiB */
  maxResponseBytes?: number;
  /** What every answer must be (a `send`'s `expect` overrides it field by field). @default {} */
  expect?: ExpectedAnswer;
  /** Bounds of plausible timings. @default DEFAULT_TIMING_BOUNDS (900000 ms each) */
  timingBounds?: TimingBounds;
  /**
   * An undici dispatcher to use instead of the transport's own keep-alive Agent (then the connect-time
   * loopback check of unsigned requests is not installed; the check before the first request is).
   */
  dispatcher?: Agent;
  /** Host resolution for the loopback check (tests). @default dns.lookup with all: true */
  lookup?: HostLookup;
}

const CHUNK = 16 * 1024;

/** Lazily loads the default credential chain (keeps the AWS SDK off the startup path). */
async function defaultCredentials(): Promise<CredentialsInput> {
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return fromNodeProviderChain();
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `net.connect` lookup that resolves like `dns.lookup` but fails when the host resolves to any
 * non-loopback address: unsigned requests cannot be redirected off the machine by a changed DNS
 * answer between the check and the connect.
 */
function loopbackOnlyLookup(host: string, options: LookupAllOptions | number | object, cb: LookupCallback): void {
  const opts = typeof options === 'object' ? options : {};
  dnsLookup(host, { ...(opts as object), all: true }, (err, addresses) => {
    if (err) return cb(err, []);
    const outside = addresses.filter((a) => !isLoopbackAddress(a.address));
    if (addresses.length === 0 || outside.length > 0) {
      const e: NodeJS.ErrnoException = new Error(
        `unsigned request refused: ${host} resolves to ${outside.map((a) => a.address).join(', ') || 'nothing'}`,
      );
      e.code = 'JMDC_NOT_LOOPBACK';
      return cb(e, []);
    }
    if ((opts as { all?: boolean }).all) return cb(null, addresses);
    const first = addresses[0] as LookupAddress;
    return cb(null, first.address, first.family);
  });
}

/**
 * The error of a failed request: the connect-time loopback refusal of an unsigned request (undici
 * throws the lookup's own error, code `JMDC_NOT_LOOPBACK`, or carries it as the cause) is
 * `JMDC_ERR_INVALID_ARGUMENT`; anything else is classified by {@link classifyNetworkError}.
 */
function requestError(e: unknown, sent: boolean): JmdcError {
  if (errorCode(e) === 'JMDC_NOT_LOOPBACK') {
    const refusal = (e as { code?: unknown }).code === 'JMDC_NOT_LOOPBACK' ? e : (e as { cause: unknown }).cause;
    return new JmdcError(ErrorCodes.INVALID_ARGUMENT, (refusal as Error).message, {}, { cause: e });
  }
  return classifyNetworkError(e, { sent });
}

/** Request line and header bytes as HTTP/1.1 writes them (approximate: undici may add a header or two). */
function headerBytes(url: URL, headers: Record<string, string>): number {
  let n = `POST ${url.pathname}${url.search} HTTP/1.1\r\n`.length + `host: ${url.host}\r\n`.length;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'host') n += k.length + v.length + 4;
  return n + 'connection: keep-alive\r\n\r\n'.length;
}

/**
 * `serverMs` and `coldStart` of an error body (the tail function reports both with its errors too: a
 * cold answer's wall time also holds the instance's start, so it is no network sample).
 */
function errorTimingOf(text: string): { serverMs?: number; coldStart?: boolean } {
  try {
    const o = JSON.parse(text) as { serverMs?: unknown; coldStart?: unknown } | null;
    const v = o?.serverMs;
    return {
      ...(typeof v === 'number' && Number.isFinite(v) && v >= 0 ? { serverMs: v } : {}),
      ...(typeof o?.coldStart === 'boolean' ? { coldStart: o.coldStart } : {}),
    };
  } catch {
    return {};
  }
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

type Attempt = Omit<SendResult, 'attempts' | 'requests'>;

/**
 * POSTs payloads to the Function URL of each partition point over keep-alive connections (undici
 * `Agent`), SigV4-signed for `lambda` in the region, with connect/headers/body timeouts, a cap on the
 * response size, redirects never followed, every answer validated (see {@link parseCloudResponse})
 * and retries of the failures that are safe to repeat (see {@link RetryPolicy}; `Retry-After`
 * honoured within the deadline).
 *
 * Timings per request ({@link RequestTiming}): `ttfbMs` runs from writing the request (the connection
 * is open then) to its response headers, so `ttfbMs - serverMs` is upload + one round trip; the
 * upload time alone (`uploadMs`) is the time to hand the body to the socket in 16 KiB chunks, a fair
 * measure of the link only for payloads bigger than the socket's send buffer.
 *
 * @example
 * const t = new UrlTransport({
 *   urls: { 1: 'https://abc.lambda-url.eu-west-1.on.aws/', 2: 'https://def.lambda-url.eu-west-1.on.aws/' },
 *   region: 'eu-west-1',
 *   expect: { classes: 10, modelHash: manifest.hash },
 * })
 * const { response, attempts, ttfbMs } = await t.send(2, payload, { deadline: Date.now() + 3000, expect: { batch: 1 } })
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
  private unsignedOk: Promise<void> | undefined;
  private readonly lookup: HostLookup | undefined;
  private readonly headersMs: number;
  private readonly bodyMs: number;
  private readonly maxResponseBytes: number;
  private readonly expect: ExpectedAnswer;
  private readonly bounds: TimingBounds;
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
    this.lookup = opts.lookup;
    if (!this.signing) {
      // IP literals are decided here; names are resolved before the first request
      for (const u of this.urls.values()) {
        const h = u.hostname.replace(/^\[|\]$/g, '');
        if (isIP(h) !== 0 && !isLoopbackAddress(h)) {
          throw new JmdcError(
            ErrorCodes.INVALID_ARGUMENT,
            `signing: false sends image data unsigned, which is allowed only to loopback addresses (127.0.0.0/8, ::1): ${h} is not one`,
            { hosts: [h] },
          );
        }
      }
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
    if (!(Number.isInteger(this.maxResponseBytes) && this.maxResponseBytes > 0)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'maxResponseBytes must be a positive integer');
    }
    this.expect = { ...(opts.expect ?? {}) };
    this.bounds = { ...(opts.timingBounds ?? {}) };
    this.retry = opts.retry instanceof RetryPolicy ? opts.retry : new RetryPolicy(opts.retry);
    this.ownAgent = !opts.dispatcher;
    this.agent =
      opts.dispatcher ??
      new Agent({
        connect: { timeout: connectMs, ...(this.signing ? {} : { lookup: loopbackOnlyLookup }) },
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

  /** Before the first unsigned request: every host must resolve to loopback addresses only. */
  private checkUnsigned(): Promise<void> {
    if (this.signing) return Promise.resolve();
    this.unsignedOk ??= assertSigningAllowed(
      [...this.urls.values()].map((u) => u.href),
      false,
      this.lookup,
    );
    return this.unsignedOk;
  }

  /**
   * Sends `payload` to the function of `point`, retrying what is safe to repeat, and validates the
   * answer (`opts.expect` over the transport's `expect`). `attempts` in the result (and
   * {@link attemptsOf} of a thrown error) counts the requests actually written.
   */
  async send(point: number, payload: Uint8Array, opts: SendOptions = {}): Promise<SendResult> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'transport is closed');
    const url = this.url(point);
    await this.checkUnsigned();
    return sendRecorded(this.retry, opts, async (record) => {
      const a = await this.once(point, url, payload, opts, record);
      // null only answers a probe (probe = false here)
      if (!a) throw new JmdcError(ErrorCodes.INTERNAL, 'no answer');
      return a;
    });
  }

  private async once(
    point: number,
    url: URL,
    payload: Uint8Array,
    opts: SendOptions,
    record: (t: RequestTiming) => void,
    probe = false,
  ): Promise<Attempt | null> {
    const scope = DeadlineScope.start(opts);
    let headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(payload.byteLength),
    };
    try {
      if (this.signing) headers = await (await this.getSigner()).sign(url, payload, headers);
    } catch (e) {
      scope.dispose();
      throw e;
    }
    const wireBytes = payload.byteLength + headerBytes(url, headers);
    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const t0 = performance.now();
    let writeAt: number | undefined;
    let sentAt: number | undefined;
    let headersAt: number | undefined;
    let status: number | undefined;
    let serverMs: number | undefined;
    let coldStart: boolean | undefined;
    // redirects are never followed: undici follows none without a redirect interceptor, and a 3xx
    // becomes JMDC_ERR_REDIRECT. undici pulls the body only once the connection is open and the request head is written
    async function* body(): AsyncGenerator<Buffer> {
      writeAt = performance.now();
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
        signal: scope.signal,
        headersTimeout: this.headersMs,
        bodyTimeout: this.bodyMs,
      });
      headersAt = performance.now();
      status = res.statusCode;
      const declared = Number(header(res.headers['content-length']));
      if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
        res.body.destroy();
        throw this.tooLarge(status, declared);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res.body) {
        size += (c as Buffer).length;
        if (size > this.maxResponseBytes) {
          res.body.destroy();
          throw this.tooLarge(status);
        }
        chunks.push(c as Buffer);
      }
      const totalMs = performance.now() - t0;
      const text = Buffer.concat(chunks).toString('utf8');
      if (status < 200 || status >= 300) {
        ({ serverMs, coldStart } = errorTimingOf(text));
        // an upload probe expects the function's fast 4xx refusal
        if (probe && status >= 400 && status < 500 && status !== 429) return null;
        throw errorForStatus(
          status,
          text,
          { url: url.href },
          { retryAfter: header(res.headers['retry-after']), location: header(res.headers.location) },
        );
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new TransportError(ErrorCodes.BAD_RESPONSE, 'cloud response is not JSON', {
          retryable: false,
          status,
        });
      }
      const response = parseCloudResponse(parsed, { ...this.expect, ...(opts.expect ?? {}) });
      const ttfbMs = headersAt - (writeAt ?? t0);
      const implausible = implausibleTimings(response, this.bounds, ttfbMs);
      if (implausible.length === 0) serverMs = response.serverMs;
      return {
        response,
        uploadMs: (sentAt ?? t0) - (writeAt ?? t0),
        uploadMeasured: true,
        totalMs,
        serverMs: response.serverMs,
        bytes: payload.byteLength,
        bytesSent: wireBytes,
        ttfbMs,
        timingsPlausible: implausible.length === 0,
        implausible,
      };
    } catch (e) {
      const reason = scope.reason();
      if (reason) throw reason;
      throw requestError(e, sentAt !== undefined);
    } finally {
      scope.dispose();
      if (writeAt !== undefined) {
        record({
          point,
          bodyBytes: payload.byteLength,
          bytesSent: wireBytes,
          ttfbMs: headersAt !== undefined ? headersAt - writeAt : Number.NaN,
          totalMs: performance.now() - t0,
          ...(status !== undefined ? { status } : {}),
          ...(serverMs !== undefined ? { serverMs } : {}),
          ...(coldStart !== undefined ? { coldStart } : {}),
          measured: true,
        });
      }
    }
  }

  private tooLarge(status: number, declared?: number): TransportError {
    return new TransportError(
      ErrorCodes.RESPONSE_TOO_LARGE,
      `response larger than ${this.maxResponseBytes} bytes${declared !== undefined ? ` (content-length ${declared})` : ''}`,
      { retryable: false, status, details: { maxResponseBytes: this.maxResponseBytes } },
    );
  }

  /**
   * Times an unsigned `HEAD` to the point's URL: a Function URL with `AWS_IAM` auth refuses it at its
   * front door (403) without running the function, so this measures the network round trip only.
   */
  async probe(point: number, opts: SendOptions = {}): Promise<number> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'transport is closed');
    const url = this.url(point);
    await this.checkUnsigned();
    const scope = DeadlineScope.start({
      ...opts,
      ...(opts.deadline === undefined ? { deadline: Date.now() + this.headersMs } : {}),
    });
    const t0 = performance.now();
    try {
      const res = await request(url, {
        method: 'HEAD',
        dispatcher: this.agent,
        signal: scope.signal,
        headersTimeout: this.headersMs,
      });
      await res.body.dump();
    } catch (e) {
      throw scope.reason() ?? requestError(e, false);
    } finally {
      scope.dispose();
    }
    return performance.now() - t0;
  }

  /**
   * Sends `bytes` zero bytes (signed like any request) to the point's function, which rejects them at
   * once (no jmdc magic: 400 `JMDC_ERR_BAD_MAGIC` before decoding or inference), and returns the
   * request's timing: `ttfbMs - serverMs` is the upload of `bytesSent` bytes plus one round trip, for
   * learning bandwidth from a known size. Cost: one invocation of the function (billed at Lambda's
   * 1 ms minimum plus the request fee; it also keeps the function warm) and `bytesSent` bytes of
   * uplink. Never retried. Throws like {@link send} when the answer is not a 4xx (a 2xx is
   * `JMDC_ERR_BAD_RESPONSE`).
   *
   * @example
   * const small = await t.probeUpload(2, 256)
   * const large = await t.probeUpload(2, 16_384)
   * const mbps = ((large.bytesSent - small.bytesSent) * 8) / 1000 / ((large.ttfbMs - (large.serverMs ?? 0)) - (small.ttfbMs - (small.serverMs ?? 0)))
   */
  async probeUpload(point: number, bytes: number, opts: SendOptions = {}): Promise<RequestTiming> {
    if (this.closed) throw new JmdcError(ErrorCodes.CLOSED, 'transport is closed');
    if (!(Number.isInteger(bytes) && bytes >= 1 && bytes <= 6 * 1024 * 1024)) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `probe size must be an integer 1..6291456 bytes, got ${bytes}`);
    }
    const url = this.url(point);
    await this.checkUnsigned();
    let timing: RequestTiming | undefined;
    const record = (t: RequestTiming) => {
      timing = t;
      opts.onRequest?.(t);
    };
    let out: Attempt | null;
    try {
      out = await this.once(point, url, new Uint8Array(bytes), opts, record, true);
    } catch (e) {
      throw withAttempts(e, timing ? 1 : 0);
    }
    if (out !== null || !timing) {
      throw withAttempts(
        new TransportError(ErrorCodes.BAD_RESPONSE, 'the function accepted a probe of zero bytes', {
          retryable: false,
        }),
        1,
      );
    }
    return timing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownAgent) await this.agent.close();
  }
}
