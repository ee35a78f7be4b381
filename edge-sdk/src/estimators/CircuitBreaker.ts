/**
 * Options of {@link CircuitBreaker}.
 *
 * @example
 * new CircuitBreaker({ baseMs: 1000, maxMs: 60_000 })
 */
export interface CircuitOptions {
  /** Back-off after the first failure, ms; it doubles with every failure in a row. @default 1000 */
  baseMs?: number;
  /** Longest back-off, ms. @default 60000 */
  maxMs?: number;
}

/**
 * State of one function's breaker: `closed` (usable), `open` (priced unavailable until `until`),
 * `half-open` (the back-off ended: one trial request may go; the others wait for its outcome).
 *
 * @example
 * const s: CircuitState = breaker.state(Date.now())
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A snapshot of one breaker, for stats and the state file.
 *
 * @example
 * const snap: CircuitSnapshot = breaker.snapshot(Date.now()) // { state: 'open', failures: 2, until: ... }
 */
export interface CircuitSnapshot {
  state: CircuitState;
  /** Failures in a row. */
  failures: number;
  /** Epoch ms when an open breaker lets a trial through. */
  until?: number;
  /** The last failure's error code. */
  lastError?: string;
}

/**
 * A circuit breaker for ONE function: closed -> (a failure after retries) open for
 * base x 2^(k-1) (k = failures in a row, at most `maxMs`) -> half-open: one trial request ->
 * closed on success, open again (longer) on failure. While open, the planner prices the function as
 * unavailable, so requests stop paying a timeout each for a cloud that is down.
 *
 * @example
 * const b = new CircuitBreaker({ baseMs: 1000 })
 * b.failure(0, 'JMDC_ERR_NETWORK') // open until 1000
 * b.available(500) // false
 * b.available(1000) // true (half-open)
 * b.tryAcquire(1000) // true: this request is the trial
 * b.success() // closed
 *
 * @internal Used by `JmdcClient` through `LiveEstimators`; apps see its view in `client.stats()`.
 */
export class CircuitBreaker {
  readonly baseMs: number;
  readonly maxMs: number;
  private failures = 0;
  private openUntil = 0;
  private trial = false;
  private lastError: string | undefined;

  constructor(opts: CircuitOptions = {}) {
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 60_000;
  }

  /** The state at `now`. */
  state(now: number): CircuitState {
    if (this.failures === 0) return 'closed';
    return now < this.openUntil ? 'open' : 'half-open';
  }

  /** Whether a request may be planned to this function at `now` (closed, or half-open with no trial out). */
  available(now: number): boolean {
    const s = this.state(now);
    return s === 'closed' || (s === 'half-open' && !this.trial);
  }

  /** Claims the request slot at `now`: always true when closed; once per back-off when half-open. */
  tryAcquire(now: number): boolean {
    const s = this.state(now);
    if (s === 'closed') return true;
    if (s === 'open' || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** A request succeeded: closed. */
  success(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.trial = false;
    this.lastError = undefined;
  }

  /** A request failed at `now` (after its retries): open for the next, longer back-off. */
  failure(now: number, code?: string): void {
    this.failures++;
    this.trial = false;
    this.lastError = code;
    this.openUntil = now + this.backoffMs(this.failures);
  }

  /** A trial that ended without an outcome (aborted): the next request may try again. */
  release(): void {
    this.trial = false;
  }

  /** Back-off after `k` failures in a row, ms. */
  backoffMs(k: number): number {
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.max(0, k - 1));
  }

  snapshot(now: number): CircuitSnapshot {
    const state = this.state(now);
    return {
      state,
      failures: this.failures,
      ...(state !== 'closed' ? { until: this.openUntil } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }
}
