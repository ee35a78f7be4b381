import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, JmdcError, TransportError } from '../errors.js';
import type { RequestTiming, SendOptions } from './types.js';

/**
 * Retry settings (validated once by {@link RetryPolicy}).
 *
 * @example
 * new RetryPolicy({ maxAttempts: 4, baseDelayMs: 20, budgetRatio: 0.1 })
 */
export interface RetryOptions {
  /** Attempts per request, the first included. @default 3 */
  maxAttempts?: number;
  /** Backoff base: attempt n waits a uniform random time in [0, min(maxDelayMs, baseDelayMs x 2^(n-1))]. @default 50 */
  baseDelayMs?: number;
  /** @default 1000 */
  maxDelayMs?: number;
  /**
   * The retry budget: every request adds this many tokens, every retry spends one, so retries stay
   * below this fraction of requests when the cloud is failing (no retry storm). @default 0.2
   */
  budgetRatio?: number;
  /** Tokens at start and at most. @default 10 */
  budgetTokens?: number;
  /**
   * Longest `Retry-After` (429/503) waited for when the request has no deadline; a longer one ends
   * the retries at once. With a deadline, a `Retry-After` that ends at or after it ends them.
   * @default 10000
   */
  maxRetryAfterMs?: number;
  /** Random source in [0, 1) for the jitter. @default Math.random */
  random?: () => number;
}

/**
 * Retries ONLY failures that are safe to repeat (`TransportError.retryable`: the request did not
 * reach the function, or the service throttled it), with full-jitter exponential backoff, a shared
 * token budget, and never past the request's deadline. A `Retry-After` of a 429/503
 * (`details.retryAfterMs` of the error) is honoured: the next attempt waits at least that long, and
 * when that would reach the deadline (or exceed `maxRetryAfterMs` without one) the policy gives up
 * at once with a retryable `JMDC_ERR_CLOUD_ERROR` (`details.retryAfterMs`) so that the caller falls
 * back instead of waiting.
 *
 * @example
 * const policy = new RetryPolicy({ maxAttempts: 3 })
 * const { value, attempts } = await policy.run(() => sendOnce(), { deadline: Date.now() + 2000 })
 */
export class RetryPolicy {
  readonly maxAttempts: number;
  private readonly base: number;
  private readonly max: number;
  private readonly ratio: number;
  private readonly cap: number;
  private readonly random: () => number;
  private readonly maxRetryAfter: number;
  private tokens: number;

  constructor(opts: RetryOptions = {}) {
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.base = opts.baseDelayMs ?? 50;
    this.max = opts.maxDelayMs ?? 1000;
    this.ratio = opts.budgetRatio ?? 0.2;
    this.cap = opts.budgetTokens ?? 10;
    this.random = opts.random ?? Math.random;
    this.maxRetryAfter = opts.maxRetryAfterMs ?? 10_000;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1 || this.maxAttempts > 10) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'retry.maxAttempts must be an integer 1..10');
    }
    if (!(this.base >= 0 && this.max >= this.base && this.ratio >= 0 && this.cap >= 0 && this.maxRetryAfter >= 0)) {
      throw new JmdcError(
        ErrorCodes.INVALID_ARGUMENT,
        'retry delays and budget must be >= 0 (maxDelayMs >= baseDelayMs)',
      );
    }
    this.tokens = this.cap;
  }

  /** Tokens left in the retry budget. */
  get budget(): number {
    return this.tokens;
  }

  /** Runs `attempt` (given its 1-based number) until it succeeds or must not be repeated. */
  async run<T>(
    attempt: (n: number) => Promise<T>,
    ctx: { deadline?: number; signal?: AbortSignal; now?: () => number } = {},
  ): Promise<{ value: T; attempts: number }> {
    const now = ctx.now ?? Date.now;
    this.tokens = Math.min(this.cap, this.tokens + this.ratio);
    for (let n = 1; ; n++) {
      try {
        return { value: await attempt(n), attempts: n };
      } catch (e) {
        if (!(e instanceof TransportError) || !e.retryable || n >= this.maxAttempts || this.tokens < 1) throw e;
        let delay = this.random() * Math.min(this.max, this.base * 2 ** (n - 1));
        const retryAfter = e.details.retryAfterMs;
        if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) {
          const left = ctx.deadline === undefined ? this.maxRetryAfter : ctx.deadline - now();
          if (retryAfter >= left) {
            throw new TransportError(
              e.code,
              `${e.message} (Retry-After ${Math.round(retryAfter)} ms ${ctx.deadline === undefined ? `exceeds ${this.maxRetryAfter} ms` : `reaches past the deadline, ${Math.round(left)} ms left`})`,
              {
                retryable: true,
                ...(e.status !== undefined ? { status: e.status } : {}),
                details: { ...e.details, retryAfterExceeded: true },
              },
              { cause: e },
            );
          }
          delay = Math.max(delay, retryAfter);
        }
        if (ctx.deadline !== undefined && now() + delay >= ctx.deadline) throw e;
        this.tokens -= 1;
        try {
          await sleep(delay, undefined, { signal: ctx.signal });
        } catch {
          throw new JmdcError(ErrorCodes.ABORTED, 'request aborted', {}, { cause: ctx.signal?.reason });
        }
      }
    }
  }
}

/**
 * One `Transport.send`: runs `attempt` under `policy` until it succeeds or must not be repeated, giving it
 * a `record` that collects every request actually written (and passes each to `opts.onRequest`). The
 * result carries them and their count as `requests` and `attempts`; a thrown error, their count
 * ({@link attemptsOf}).
 *
 * @example
 * return sendRecorded(this.retry, opts, (record) => this.once(point, payload, opts, record))
 */
export async function sendRecorded<T extends object>(
  policy: RetryPolicy,
  opts: SendOptions,
  attempt: (record: (t: RequestTiming) => void) => Promise<T>,
): Promise<T & { attempts: number; requests: RequestTiming[] }> {
  const requests: RequestTiming[] = [];
  const record = (t: RequestTiming) => {
    requests.push(t);
    opts.onRequest?.(t);
  };
  try {
    const { value } = await policy.run(() => attempt(record), opts);
    return { ...value, attempts: requests.length, requests };
  } catch (e) {
    throw withAttempts(e, requests.length);
  }
}

const SENT = new WeakMap<object, number>();

/**
 * Records on a thrown error how many requests were actually sent for the call that failed (the
 * transports call it before rethrowing).
 *
 * @example
 * throw withAttempts(e, requestsWritten)
 */
export function withAttempts<E>(e: E, sent: number): E {
  if (typeof e === 'object' && e !== null) SENT.set(e, sent);
  return e;
}

/**
 * How many requests a failed `Transport.send` actually sent (retries included) before it threw `e`;
 * 0 when none was written (connection refused, deadline passed before sending) or `e` did not come
 * from a transport.
 *
 * @example
 * try { await transport.send(2, payload) } catch (e) { result.attempts = attemptsOf(e) }
 */
export function attemptsOf(e: unknown): number {
  return typeof e === 'object' && e !== null ? (SENT.get(e) ?? 0) : 0;
}
