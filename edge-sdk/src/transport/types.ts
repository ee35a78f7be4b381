/**
 * The success response of a tail function (Function URL body or Invoke payload).
 *
 * @example
 * const { logits, serverMs, coldStart }: CloudResponse = (await transport.send(2, payload)).response
 */
export interface CloudResponse {
  /** Predicted class per image. */
  classes: number[];
  /** Logits per image (N x classes). */
  logits: number[][];
  /** Handler time: decode + inference, ms. */
  serverMs: number;
  decodeMs: number;
  inferMs: number;
  /** True when this invocation ran in a fresh execution environment. */
  coldStart: boolean;
  /** Init duration of the environment (meaningful when `coldStart`), ms. */
  initMs: number;
  /** Manifest hash of the model the function runs. */
  modelHash: string;
  requestId: string;
}

/**
 * What the caller expects of an answer; {@link parseCloudResponse} checks it.
 *
 * @example
 * const expect: ExpectedAnswer = { batch: 1, classes: 10, modelHash: manifest.hash }
 */
export interface ExpectedAnswer {
  /** Images in the request: the number of logit rows. */
  batch?: number;
  /** The model's class count: the width of every logit row. */
  classes?: number;
  /** The model's manifest hash; an answer with another hash is `JMDC_ERR_MODEL_MISMATCH`. */
  modelHash?: string;
}

/**
 * Bounds of the timings an answer may report; a timing outside them marks the answer's timings
 * implausible (see {@link SendResult.timingsPlausible}); its logits are still used.
 *
 * @example
 * new UrlTransport({ urls, timingBounds: { maxServerMs: 30_000 } })
 */
export interface TimingBounds {
  /** Largest plausible `serverMs`, `decodeMs`, `inferMs` (Lambda's longest timeout). @default 900000 */
  maxServerMs?: number;
  /** Largest plausible `initMs`. @default 900000 */
  maxInitMs?: number;
}

/**
 * The timing of one HTTP request (or Invoke call) that was actually sent, successful or not: what the
 * client needs to learn uplink bandwidth and round-trip time from requests of different sizes, e.g.
 * by regressing `ttfbMs - serverMs` on `bytesSent`.
 *
 * @example
 * transport.send(2, payload, { onRequest: (t) => samples.push([t.bytesSent, t.ttfbMs - (t.serverMs ?? 0)]) })
 */
export interface RequestTiming {
  /** Partition point the request went to. */
  point: number;
  /** Request body bytes (for the Invoke transport: the JSON body with the base64 payload). */
  bodyBytes: number;
  /** Body plus the request line and header bytes (approximate: the HTTP/1.1 text the transport wrote). */
  bytesSent: number;
  /**
   * From starting to write the request (headers; the connection is already open) until the response
   * headers arrived, ms: upload + one network round trip + the function's time. For the Invoke
   * transport it is the whole SDK call (connect included; see `measured`).
   */
  ttfbMs: number;
  /** From the start of the attempt (connect included) to the end of the response body, ms. */
  totalMs: number;
  /** HTTP status (or the Invoke result's `statusCode`), when an answer came. */
  status?: number;
  /** `serverMs` the function reported, when it answered with a plausible one. */
  serverMs?: number;
  /** Whether the function reported a cold start with an error answer (an upload probe's refusal). */
  coldStart?: boolean;
  /** False when the transport cannot separate writing from connecting (the Invoke API). */
  measured: boolean;
}

/**
 * Per-request options of {@link Transport.send}.
 *
 * @example
 * await transport.send(2, payload, { deadline: Date.now() + 2000, signal: AbortSignal.timeout(5000) })
 */
export interface SendOptions {
  /** Epoch ms (Date.now() clock) after which the request is abandoned with `JMDC_ERR_DEADLINE`. */
  deadline?: number;
  /** Aborts the request with `JMDC_ERR_ABORTED`. */
  signal?: AbortSignal;
  /** What the answer must be (rows, row width, model hash); defaults from the transport's options. */
  expect?: ExpectedAnswer;
  /** Called once per request actually sent (retries included), successful or not. */
  onRequest?: (timing: RequestTiming) => void;
}

/**
 * A successful exchange with the cloud.
 *
 * @example
 * const { totalMs, ttfbMs, bytesSent, attempts, timingsPlausible }: SendResult = await transport.send(2, payload)
 */
export interface SendResult {
  response: CloudResponse;
  /** Time to hand the request body to the socket, ms (0 when not measurable, see `uploadMeasured`). */
  uploadMs: number;
  /** False when the transport cannot see the upload (the Invoke API). */
  uploadMeasured: boolean;
  /** Start of the last attempt to the end of its response, ms. */
  totalMs: number;
  /** `response.serverMs`. */
  serverMs: number;
  /**
   * Requests actually sent for this call, retries included (1 = no retry). A request that failed
   * before it was written (connection refused, DNS) does not count.
   */
  attempts: number;
  /** Payload bytes of one attempt. */
  bytes: number;
  /** Bytes of the last request on the wire (body + request line and headers, approximate). */
  bytesSent: number;
  /** Start of writing the last request to its response headers, ms (see {@link RequestTiming.ttfbMs}). */
  ttfbMs: number;
  /**
   * False when the answer reported a timing outside its bounds (`serverMs`, `decodeMs`, `inferMs`
   * beyond `maxServerMs` or longer than the request took, `initMs` beyond `maxInitMs`): its logits are
   * valid, but its timings must not be learned (the estimators skip the sample).
   */
  timingsPlausible: boolean;
  /** Names of the implausible timing fields (empty when `timingsPlausible`). */
  implausible: string[];
  /** Every request sent for this call, in order (failed attempts first). */
  requests: RequestTiming[];
}

/**
 * How the SDK reaches the tail function of a partition point. Implementations: {@link UrlTransport}
 * (SigV4-signed POST to a Function URL, or a local cloud URL) and {@link InvokeTransport} (Lambda
 * Invoke API); tests and apps may inject their own.
 *
 * @example
 * const t: Transport = new UrlTransport({ urls: { 1: 'https://abc.lambda-url.eu-west-1.on.aws/' }, region: 'eu-west-1' })
 * const { response, totalMs } = await t.send(1, payload, { deadline: Date.now() + 3000 })
 */
export interface Transport {
  /** Points (0 = cloud-only) this transport has an endpoint for. */
  readonly points: readonly number[];
  /**
   * Sends one payload to the function of `point` and returns its parsed response. Throws
   * `TransportError` (with `retryable`) once retries are exhausted, or `JMDC_ERR_DEADLINE` /
   * `JMDC_ERR_ABORTED`.
   */
  send(point: number, payload: Uint8Array, opts?: SendOptions): Promise<SendResult>;
  /** A light round-trip probe that runs no function, ms; optional. */
  probe?(point: number, opts?: SendOptions): Promise<number>;
  /**
   * Sends `bytes` bytes that the function rejects at once (a payload with a bad magic: 400 without
   * decoding or inference) and returns the request's timing, for learning bandwidth from a known
   * size; optional. Throws like `send` when no 4xx answer comes.
   */
  probeUpload?(point: number, bytes: number, opts?: SendOptions): Promise<RequestTiming>;
  close(): Promise<void>;
}
