/**
 * The two ways a payload reaches a tail function: a Function URL request (payload format 2.0) and a
 * direct Invoke with `{ "payload": "<base64>" }`. Everything here is the caller's input: it is checked
 * before use and every failure is a CodecError with INVALID_REQUEST or PAYLOAD_TOO_LARGE.
 */
import { CodecError, ErrorCodes } from './errors.js';

/** The fields of a Function URL event (payload format version 2.0) the handler reads. */
export interface FunctionUrlEvent {
  version?: string;
  rawPath?: string;
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: { requestId?: string; http: { method: string; path?: string } };
}

/** A direct Invoke payload. */
export interface InvokeEvent {
  /** The binary payload, base64 (standard alphabet, padded). */
  payload: string;
}

/** The fields of the Lambda context the handler reads. */
export interface LambdaContext {
  awsRequestId?: string;
  functionName?: string;
  getRemainingTimeInMillis?: () => number;
}

/** A Function URL response. */
export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export type EventShape = 'url' | 'invoke';

/** Tells a Function URL event from an Invoke payload (anything else is treated as an Invoke). */
export function isFunctionUrlEvent(event: unknown): event is FunctionUrlEvent {
  if (typeof event !== 'object' || event === null) return false;
  const rc = (event as { requestContext?: { http?: { method?: unknown } } }).requestContext;
  return typeof rc?.http?.method === 'string';
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function badRequest(message: string, details: Record<string, unknown> = {}): CodecError {
  return new CodecError(ErrorCodes.INVALID_REQUEST, message, details);
}

/** Bytes a base64 string of `length` characters decodes to (at most). */
function base64Bytes(length: number): number {
  return Math.floor((length * 3) / 4);
}

/**
 * Decodes strict base64; rejects a string whose decoded size would exceed `maxBytes` with
 * PAYLOAD_TOO_LARGE before decoding it.
 */
export function decodeBase64(text: string, maxBytes: number, what: string): Uint8Array {
  if (base64Bytes(text.length) > maxBytes + 2) {
    throw new CodecError(ErrorCodes.PAYLOAD_TOO_LARGE, `${what} is larger than ${maxBytes} bytes`, {
      limit: maxBytes,
      base64Chars: text.length,
    });
  }
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw badRequest(`${what} is not valid base64`);
  const buf = Buffer.from(text, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function parseJsonPayload(text: string, maxBytes: number): Uint8Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('request body is not valid JSON');
  }
  return payloadOfInvoke(parsed, maxBytes);
}

function payloadOfInvoke(event: unknown, maxBytes: number): Uint8Array {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw badRequest('expected a JSON object { "payload": "<base64>" }');
  }
  const payload = (event as { payload?: unknown }).payload;
  if (typeof payload !== 'string' || payload.length === 0) {
    throw badRequest('"payload" must be a non-empty base64 string');
  }
  return decodeBase64(payload, maxBytes, 'payload');
}

/**
 * The payload bytes of a direct Invoke: `{ "payload": "<base64>" }`, or the same as a JSON string
 * (a client that double-encoded it).
 */
export function payloadFromInvoke(event: unknown, maxBytes: number): Uint8Array {
  if (typeof event === 'string') return parseJsonPayload(event, maxBytes);
  if (event === undefined || event === null) throw badRequest('empty invoke payload');
  return payloadOfInvoke(event, maxBytes);
}

/**
 * The payload bytes of a Function URL request: `POST` only, with
 * - `application/octet-stream` (or no content type): the payload itself, base64-encoded by Lambda
 *   (`isBase64Encoded: true`), or, from emulators that pass it as a string, one byte per character;
 * - `application/json`: `{ "payload": "<base64>" }`.
 */
export function payloadFromFunctionUrl(event: FunctionUrlEvent, maxBytes: number): Uint8Array {
  const method = event.requestContext.http.method.toUpperCase();
  if (method !== 'POST') throw badRequest(`method ${method} not allowed: POST a payload`, { method });
  const headers: unknown = event.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw badRequest('headers must be an object of strings');
  }
  const rawType: unknown =
    (headers as Record<string, unknown>)['content-type'] ??
    (headers as Record<string, unknown>)['Content-Type'] ??
    'application/octet-stream';
  if (typeof rawType !== 'string') throw badRequest('content-type must be a string', { type: typeof rawType });
  const contentType = (rawType.split(';')[0] as string).trim().toLowerCase();
  const isBase64: unknown = event.isBase64Encoded ?? false;
  if (typeof isBase64 !== 'boolean') throw badRequest('isBase64Encoded must be a boolean');
  const body = event.body;
  if (typeof body !== 'string' || body.length === 0) throw badRequest('request body is empty');
  if (contentType === 'application/octet-stream') {
    if (isBase64) return decodeBase64(body, maxBytes, 'request body');
    if (body.length > maxBytes) {
      throw new CodecError(ErrorCodes.PAYLOAD_TOO_LARGE, `request body is larger than ${maxBytes} bytes`, {
        limit: maxBytes,
      });
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point: one byte per character
    if (/[^\u0000-\u00ff]/.test(body)) throw badRequest('a binary body that is not base64-encoded must be latin1');
    const buf = Buffer.from(body, 'latin1');
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  if (contentType === 'application/json') {
    // the JSON text holds the payload's base64 (4/3 of it) plus a small envelope
    const limit = Math.ceil((maxBytes * 4) / 3) + 1024;
    const text = isBase64 ? Buffer.from(decodeBase64(body, limit, 'request body')).toString('utf8') : body;
    return parseJsonPayload(text, maxBytes);
  }
  throw badRequest(`unsupported content-type ${contentType}: use application/octet-stream or application/json`, {
    contentType,
  });
}
