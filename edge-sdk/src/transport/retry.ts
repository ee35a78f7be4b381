import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, JmdcError, TransportError } from '../errors.js';

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
  /** Random source in [0, 1) for the jitter. @default Math.random */
  random?: () => number;
}

/**
 * Retries ONLY failures that are safe to repeat (`TransportError.retryable`: the request did not
 * reach the function, or the service throttled it), with full-jitter exponential backoff, a shared
 * token budget, and never past the request's deadline.
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
  private tokens: number;

  constructor(opts: RetryOptions = {}) {
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.base = opts.baseDelayMs ?? 50;
    this.max = opts.maxDelayMs ?? 1000;
    this.ratio = opts.budgetRatio ?? 0.2;
    this.cap = opts.budgetTokens ?? 10;
    this.random = opts.random ?? Math.random;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1 || this.maxAttempts > 10) {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'retry.maxAttempts must be an integer 1..10');
    }
    if (!(this.base >= 0 && this.max >= this.base && this.ratio >= 0 && this.cap >= 0)) {
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
        const delay = this.random() * Math.min(this.max, this.base * 2 ** (n - 1));
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
