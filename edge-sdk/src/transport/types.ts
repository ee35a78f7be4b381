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
}

/**
 * A successful exchange with the cloud.
 *
 * @example
 * const { totalMs, uploadMs, attempts }: SendResult = await transport.send(2, payload)
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
  /** Attempts made (1 = no retry). */
  attempts: number;
  /** Payload bytes of one attempt. */
  bytes: number;
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
  close(): Promise<void>;
}
