import { ErrorCodes, TransportError } from '../errors.js';
import type { CloudResponse, ExpectedAnswer, TimingBounds } from './types.js';

/**
 * HTTP statuses that are safe to retry: the request was not processed (throttled or not routed).
 *
 * @example
 * RETRYABLE_STATUS.has(503) // true; RETRYABLE_STATUS.has(400) // false
 */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * The largest finite float32, the bound of every logit (a larger one becomes ±Infinity in a
 * `Float32Array`).
 *
 * @example
 * Math.abs(x) <= FLOAT32_MAX
 */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Default {@link TimingBounds}: Lambda's longest timeout (15 min) for every timing.
 *
 * @example
 * DEFAULT_TIMING_BOUNDS.maxServerMs // 900000
 */
export const DEFAULT_TIMING_BOUNDS: Readonly<Required<TimingBounds>> = { maxServerMs: 900_000, maxInitMs: 900_000 };

function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function f32(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= FLOAT32_MAX;
}

/**
 * Validates the JSON of a success response against what was asked. Throws `JMDC_ERR_BAD_RESPONSE`
 * (not retryable) when it is not a tail function's answer: logits not N rows of finite float32
 * values, a row count other than `expect.batch` or a width other than `expect.classes`, `classes`
 * that are not the argmax of their row, `serverMs` missing or negative, `modelHash` missing. Throws
 * `JMDC_ERR_MODEL_MISMATCH` (not retryable) when `modelHash` differs from `expect.modelHash`.
 * Timings are checked separately by {@link implausibleTimings}.
 *
 * @example
 * const r = parseCloudResponse(JSON.parse(text), { batch: 1, classes: 10, modelHash: manifest.hash })
 */
export function parseCloudResponse(body: unknown, expect: ExpectedAnswer = {}): CloudResponse {
  const fail = (what: string): never => {
    throw new TransportError(ErrorCodes.BAD_RESPONSE, `malformed cloud response: ${what}`, { retryable: false });
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('not an object');
  const o = body as Record<string, unknown>;
  // the model first: another model's answer may have another shape
  if (typeof o.modelHash !== 'string' || o.modelHash.length === 0) fail('modelHash missing');
  const modelHash = o.modelHash as string;
  if (expect.modelHash !== undefined && modelHash !== expect.modelHash) {
    throw new TransportError(
      ErrorCodes.MODEL_MISMATCH,
      `the function runs model ${modelHash}, this device ${expect.modelHash}`,
      { retryable: false, details: { expected: expect.modelHash, actual: modelHash } },
    );
  }
  if (!Array.isArray(o.logits) || o.logits.length === 0) fail('logits missing');
  const logits = o.logits as unknown[];
  const width = Array.isArray(logits[0]) ? (logits[0] as unknown[]).length : 0;
  if (width < 1 || !logits.every((row) => Array.isArray(row) && row.length === width)) {
    fail('logits must be N rows of the same width');
  }
  const rows = logits as unknown[][];
  if (!rows.every((row) => row.every(f32))) fail('logits must be finite float32 values');
  if (expect.batch !== undefined && rows.length !== expect.batch) {
    fail(`${rows.length} rows of logits for ${expect.batch} images`);
  }
  if (expect.classes !== undefined && width !== expect.classes) {
    fail(`rows of ${width} logits for a model of ${expect.classes} classes`);
  }
  const classes = o.classes;
  if (!Array.isArray(classes) || classes.length !== rows.length || !classes.every(Number.isInteger)) {
    fail('classes must hold one integer per image');
  }
  (classes as number[]).forEach((c, i) => {
    const row = rows[i] as number[];
    // the argmax, ties allowed: the class's logit is the row's largest (compared as float32)
    let best = Number.NEGATIVE_INFINITY;
    for (const x of row) best = Math.max(best, Math.fround(x));
    if (c < 0 || c >= width || Math.fround(row[c] as number) !== best)
      fail(`class ${c} of image ${i} is not its argmax`);
  });
  if (!num(o.serverMs) || o.serverMs < 0) fail('serverMs missing');
  return {
    classes: classes as number[],
    logits: rows as number[][],
    serverMs: o.serverMs as number,
    decodeMs: num(o.decodeMs) ? o.decodeMs : 0,
    inferMs: num(o.inferMs) ? o.inferMs : 0,
    coldStart: o.coldStart === true,
    initMs: num(o.initMs) ? o.initMs : 0,
    modelHash,
    requestId: typeof o.requestId === 'string' ? o.requestId : '',
  };
}

/**
 * The timing fields of an answer that cannot be true: `serverMs`, `decodeMs`, `inferMs` below 0,
 * above `bounds.maxServerMs` or (when `elapsedMs`, the time the request took as seen here, is given)
 * longer than the request itself (plus 5 ms and 1% for clock granularity); `initMs` below 0 or above
 * `bounds.maxInitMs`. An empty list means plausible.
 *
 * @example
 * implausibleTimings({ ...response, serverMs: 1e6 }, {}, 40) // ['serverMs']
 */
export function implausibleTimings(
  r: Pick<CloudResponse, 'serverMs' | 'decodeMs' | 'inferMs' | 'initMs'>,
  bounds: TimingBounds = {},
  elapsedMs?: number,
): string[] {
  const maxServer = bounds.maxServerMs ?? DEFAULT_TIMING_BOUNDS.maxServerMs;
  const maxInit = bounds.maxInitMs ?? DEFAULT_TIMING_BOUNDS.maxInitMs;
  const within =
    elapsedMs !== undefined && Number.isFinite(elapsedMs) ? Math.min(maxServer, elapsedMs * 1.01 + 5) : maxServer;
  const out: string[] = [];
  for (const k of ['serverMs', 'decodeMs', 'inferMs'] as const) {
    const v = r[k];
    if (!(Number.isFinite(v) && v >= 0 && v <= within)) out.push(k);
  }
  if (!(Number.isFinite(r.initMs) && r.initMs >= 0 && r.initMs <= maxInit)) out.push('initMs');
  return out;
}

/**
 * Parses a `Retry-After` value (delay in seconds, or an HTTP-date) into a delay in ms from `now`;
 * undefined when absent or unreadable. A date in the past gives 0.
 *
 * @example
 * parseRetryAfter('2') // 2000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:58 GMT')) // 2000
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * The error for a non-2xx answer: 3xx is `JMDC_ERR_REDIRECT` (never followed: a Function URL does
 * not redirect), 429/502/503/504 are retryable `JMDC_ERR_CLOUD_ERROR` (a 429/503 `Retry-After` kept
 * in `details.retryAfterMs`), any other 4xx is `JMDC_ERR_CLOUD_REJECTED` (never retried), any other
 * 5xx `JMDC_ERR_CLOUD_ERROR`. The function's own `{ error: { code, message } }` is kept in
 * `details.cloudCode` / the message.
 *
 * @example
 * throw errorForStatus(503, '{"error":{"code":"JMDC_ERR_INTERNAL","message":"busy"}}', {}, { retryAfter: '1' })
 */
export function errorForStatus(
  status: number,
  bodyText: string,
  extra: Record<string, unknown> = {},
  headers: { retryAfter?: string | undefined; location?: string | undefined } = {},
): TransportError {
  if (status >= 300 && status < 400) {
    return new TransportError(
      ErrorCodes.REDIRECT,
      `cloud answered ${status} (a redirect${headers.location ? ` to ${headers.location.slice(0, 200)}` : ''}); redirects are never followed`,
      { retryable: false, status, details: { ...extra, ...(headers.location ? { location: headers.location } : {}) } },
    );
  }
  let cloudCode: string | undefined;
  let message = bodyText.slice(0, 300);
  try {
    const parsed = JSON.parse(bodyText) as { error?: { code?: unknown; message?: unknown }; message?: unknown };
    if (parsed && typeof parsed.error === 'object' && parsed.error) {
      if (typeof parsed.error.code === 'string') cloudCode = parsed.error.code;
      if (typeof parsed.error.message === 'string') message = parsed.error.message;
    } else if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  const retryable = RETRYABLE_STATUS.has(status);
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(headers.retryAfter) : undefined;
  const code = status >= 400 && status < 500 && !retryable ? ErrorCodes.CLOUD_REJECTED : ErrorCodes.CLOUD_ERROR;
  return new TransportError(code, `cloud answered ${status}${cloudCode ? ` ${cloudCode}` : ''}: ${message}`, {
    retryable,
    status,
    details: {
      ...extra,
      ...(cloudCode ? { cloudCode } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  });
}
