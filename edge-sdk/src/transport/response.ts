import { ErrorCodes, TransportError } from '../errors.js';
import type { CloudResponse } from './types.js';

/**
 * HTTP statuses that are safe to retry: the request was not processed (throttled or not routed).
 *
 * @example
 * RETRYABLE_STATUS.has(503) // true; RETRYABLE_STATUS.has(400) // false
 */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Validates the JSON of a success response. Throws `JMDC_ERR_CLOUD_ERROR` (not retryable) when
 * it is not a tail function's answer.
 *
 * @example
 * const r = parseCloudResponse(JSON.parse(text))
 */
export function parseCloudResponse(body: unknown): CloudResponse {
  const fail = (what: string): never => {
    throw new TransportError(ErrorCodes.CLOUD_ERROR, `malformed cloud response: ${what}`, { retryable: false });
  };
  if (typeof body !== 'object' || body === null) fail('not an object');
  const o = body as Record<string, unknown>;
  if (!Array.isArray(o.logits) || o.logits.length === 0) fail('logits missing');
  const logits = o.logits as unknown[];
  const width = Array.isArray(logits[0]) ? (logits[0] as unknown[]).length : 0;
  if (width < 1 || !logits.every((row) => Array.isArray(row) && row.length === width && row.every(num))) {
    fail('logits must be N rows of finite numbers');
  }
  if (!Array.isArray(o.classes) || o.classes.length !== logits.length || !o.classes.every(Number.isInteger)) {
    fail('classes must hold one integer per image');
  }
  if (!num(o.serverMs) || o.serverMs < 0) fail('serverMs missing');
  return {
    classes: o.classes as number[],
    logits: logits as number[][],
    serverMs: o.serverMs as number,
    decodeMs: num(o.decodeMs) ? o.decodeMs : 0,
    inferMs: num(o.inferMs) ? o.inferMs : 0,
    coldStart: o.coldStart === true,
    initMs: num(o.initMs) ? o.initMs : 0,
    modelHash: typeof o.modelHash === 'string' ? o.modelHash : '',
    requestId: typeof o.requestId === 'string' ? o.requestId : '',
  };
}

/**
 * The error for a non-2xx answer: 429/502/503/504 are retryable `JMDC_ERR_CLOUD_ERROR`, any other
 * 4xx is `JMDC_ERR_CLOUD_REJECTED` (never retried), any other 5xx `JMDC_ERR_CLOUD_ERROR`. The
 * function's own `{ error: { code, message } }` is kept in `details.cloudCode` / the message.
 *
 * @example
 * throw errorForStatus(503, '{"error":{"code":"JMDC_ERR_INTERNAL","message":"busy"}}')
 */
export function errorForStatus(status: number, bodyText: string, extra: Record<string, unknown> = {}): TransportError {
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
  const code = status >= 400 && status < 500 && !retryable ? ErrorCodes.CLOUD_REJECTED : ErrorCodes.CLOUD_ERROR;
  return new TransportError(code, `cloud answered ${status}${cloudCode ? ` ${cloudCode}` : ''}: ${message}`, {
    retryable,
    status,
    details: { ...extra, ...(cloudCode ? { cloudCode } : {}) },
  });
}
