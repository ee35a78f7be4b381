import { ErrorCodes, JmdcError } from '../errors.js';

/**
 * Milliseconds left until `deadline` (epoch ms, `Date.now()` clock); `Infinity` when there is none.
 *
 * @example
 * remainingMs(Date.now() + 500) // ~500
 */
export function remainingMs(deadline: number | undefined, now: number = Date.now()): number {
  return deadline === undefined ? Number.POSITIVE_INFINITY : deadline - now;
}

/**
 * One attempt's cancellation: a signal that aborts at the deadline (reason `JMDC_ERR_DEADLINE`) or
 * when the caller's signal aborts (reason `JMDC_ERR_ABORTED`, the caller's reason as `cause`).
 * Always `dispose()` it (clears the timer and the listener).
 *
 * @example
 * const scope = DeadlineScope.start({ deadline: Date.now() + 2000, signal })
 * try { await fetchSomething({ signal: scope.signal }) } catch (e) { throw scope.reason() ?? e } finally { scope.dispose() }
 */
export class DeadlineScope {
  /** Aborts at the deadline or with the caller's signal. */
  readonly signal: AbortSignal;
  /** The remaining time when the scope started, ms (`Infinity` without a deadline). */
  readonly budgetMs: number;
  private readonly ac: AbortController;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly caller: AbortSignal | undefined;
  private readonly onAbort: () => void;

  private constructor(opts: { deadline?: number; signal?: AbortSignal }) {
    this.ac = new AbortController();
    this.signal = this.ac.signal;
    this.caller = opts.signal;
    this.budgetMs = remainingMs(opts.deadline);
    const budget = this.budgetMs;
    this.timer = Number.isFinite(budget)
      ? setTimeout(
          () =>
            this.ac.abort(
              new JmdcError(ErrorCodes.DEADLINE, `no response before the deadline (${Math.round(budget)} ms)`, {
                budgetMs: Math.round(budget),
              }),
            ),
          budget,
        )
      : undefined;
    this.onAbort = () =>
      this.ac.abort(new JmdcError(ErrorCodes.ABORTED, 'request aborted', {}, { cause: this.caller?.reason }));
    this.caller?.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * Starts a scope, or throws `JMDC_ERR_ABORTED` when the caller's signal has already aborted and
   * `JMDC_ERR_DEADLINE` when the deadline has passed (nothing is sent then).
   */
  static start(opts: { deadline?: number; signal?: AbortSignal }): DeadlineScope {
    if (opts.signal?.aborted) {
      throw new JmdcError(ErrorCodes.ABORTED, 'request aborted', {}, { cause: opts.signal.reason });
    }
    if (remainingMs(opts.deadline) <= 0) {
      throw new JmdcError(ErrorCodes.DEADLINE, 'deadline passed before the request was sent');
    }
    return new DeadlineScope(opts);
  }

  /** The deadline or abort error when the scope has aborted, else undefined. */
  reason(): JmdcError | undefined {
    return this.ac.signal.aborted && this.ac.signal.reason instanceof JmdcError ? this.ac.signal.reason : undefined;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onAbort);
  }
}
