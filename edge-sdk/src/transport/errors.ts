import { ErrorCodes, JmdcError, TransportError } from '../errors.js';

/**
 * System and undici error codes that mean the request never left this machine or never reached a
 * listening server: repeating it is always safe.
 *
 * @example
 * NOT_SENT_CODES.has('ECONNREFUSED') // true
 */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/**
 * Codes of a connection that broke after it was established: safe to repeat only when the request
 * body had not been written completely (the function cannot have run).
 *
 * @example
 * RESET_CODES.has('ECONNRESET') // true
 */
export const RESET_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ECONNABORTED',
]);

/**
 * The most specific string `code` of an error: its own, or its `cause`'s when its own is undici's
 * generic `UND_ERR_SOCKET` (which wraps the socket's `ECONNRESET`, ...).
 *
 * @example
 * errorCode(Object.assign(new Error('x'), { cause: { code: 'ECONNREFUSED' } })) // 'ECONNREFUSED'
 */
export function errorCode(e: unknown): string | undefined {
  const o = e as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof o?.code === 'string' && o.code !== 'UND_ERR_SOCKET') return o.code;
  if (typeof o?.cause?.code === 'string') return o.cause.code;
  return typeof o?.code === 'string' ? o.code : undefined;
}

/**
 * What the transport knows about the failed attempt.
 *
 * @example
 * classifyNetworkError(e, { sent: true, what: 'Lambda request' })
 */
export interface NetworkErrorContext {
  /** True when the whole request body was handed to the socket (the function may have run). @default false */
  sent?: boolean;
  /** Prefix of the message, e.g. `'request'` or `'Lambda request'`. @default 'request' */
  what?: string;
}

/**
 * The one classification of network failures used by every transport: maps a socket, DNS, undici or
 * AWS SDK network error to a {@link TransportError} with a stable code, `retryable` only when the
 * request surely did not reach the function, and the original error as `cause`. A {@link JmdcError}
 * is returned unchanged.
 *
 * - `ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN`, `EHOSTUNREACH`, `ENETUNREACH`, `EADDRNOTAVAIL`:
 *   `JMDC_ERR_NETWORK`, retryable;
 * - connect timeout (`UND_ERR_CONNECT_TIMEOUT`): `JMDC_ERR_TIMEOUT`, retryable;
 * - headers/body timeout, `ETIMEDOUT`, an AWS SDK `TimeoutError`: `JMDC_ERR_TIMEOUT`, not retryable;
 * - a reset (`ECONNRESET`, `EPIPE`, ...): `JMDC_ERR_NETWORK`, retryable only when `!ctx.sent`;
 * - anything else: `JMDC_ERR_NETWORK`, not retryable.
 *
 * @example
 * try { await request(url) } catch (e) { throw classifyNetworkError(e, { sent: true }) }
 */
export function classifyNetworkError(e: unknown, ctx: NetworkErrorContext = {}): JmdcError {
  if (e instanceof JmdcError) return e;
  const sent = ctx.sent ?? false;
  const what = ctx.what ?? 'request';
  const code = errorCode(e);
  const name = typeof (e as { name?: unknown })?.name === 'string' ? (e as { name: string }).name : undefined;
  const msg = (e as Error)?.message ?? String(e);
  const make = (c: typeof ErrorCodes.TIMEOUT | typeof ErrorCodes.NETWORK, text: string, retryable: boolean) =>
    new TransportError(
      c,
      text,
      { retryable, details: { ...(code ? { code } : {}), ...(name ? { name } : {}), sent } },
      { cause: e },
    );
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return make(ErrorCodes.TIMEOUT, `connect timeout: ${msg}`, true);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return make(ErrorCodes.TIMEOUT, `headers timeout: ${msg}`, false);
  if (code === 'UND_ERR_BODY_TIMEOUT') return make(ErrorCodes.TIMEOUT, `body timeout: ${msg}`, false);
  if (code && NOT_SENT_CODES.has(code)) return make(ErrorCodes.NETWORK, `cannot connect: ${msg}`, true);
  if (code && RESET_CODES.has(code)) {
    // before the whole body was written the function cannot have run: safe to repeat
    return make(ErrorCodes.NETWORK, `connection lost ${sent ? 'after' : 'before'} the ${what} was sent: ${msg}`, !sent);
  }
  if (code === 'ETIMEDOUT' || name === 'TimeoutError') {
    return make(ErrorCodes.TIMEOUT, `${what} timed out: ${msg}`, false);
  }
  return make(ErrorCodes.NETWORK, `${what} failed: ${msg}`, false);
}
