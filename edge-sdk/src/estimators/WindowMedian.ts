import { median } from '../util/median.js';

/**
 * The median of the last `size` samples: a single outlier never moves it past its neighbours, and a
 * step change is followed once more than half of the window holds new samples (3 of 5).
 *
 * @example
 * const m = new WindowMedian(5)
 * for (const x of [10, 10, 100, 10]) m.push(x)
 * m.value() // 10
 *
 * @internal Used by `JmdcClient` through `LiveEstimators`; apps see its view in `client.stats()`.
 */
export class WindowMedian {
  readonly size: number;
  private buf: number[] = [];

  constructor(size = 5, samples: readonly number[] = []) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`window size must be a positive integer, got ${size}`);
    this.size = size;
    for (const s of samples) this.push(s);
  }

  /** Adds a sample; non-finite values are ignored. */
  push(x: number): void {
    if (!Number.isFinite(x)) return;
    this.buf.push(x);
    if (this.buf.length > this.size) this.buf.shift();
  }

  get count(): number {
    return this.buf.length;
  }

  /** The median of the window, or `fallback` when it is empty. */
  value(fallback = Number.NaN): number {
    return this.buf.length === 0 ? fallback : median(this.buf);
  }

  /** The samples, oldest first (for persistence). */
  samples(): number[] {
    return [...this.buf];
  }
}
