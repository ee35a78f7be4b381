import { performance } from 'node:perf_hooks';

/**
 * How long this process's device work (inference, encoding) could have held up the answer to a
 * request in flight.
 *
 * A network time is the wall time from writing a request to its answer. When the device computes in
 * the meantime (the next call's head, another client's encoding), the answer may wait for the CPU
 * before it is read: on a slow or single-core device (or a paced emulation of one, which stops the
 * whole process) by up to one stretch of that work, tens to hundreds of milliseconds, and the time
 * then says more about the device than about the link. The estimators learn a network time only from
 * requests whose longest overlapping stretch of device work was a negligible part of their wall time
 * (a 4 ms inference during a 600 ms upload is; a 250 ms one during a 60 ms request is not). The
 * record is per process: every client of the process shares its CPU.
 */
const KEPT = 256;
/** Recent stretches of device work, [start, end] in `performance.now()` ms, oldest first. */
const done: Array<[number, number]> = [];
let active = 0;
let since = 0;

/** A mark taken when a request starts (see {@link deviceHoldMs}). */
export function deviceMark(): number {
  return performance.now();
}

/** The longest stretch of device work that overlapped [mark, now], clipped to it, ms. */
export function deviceHoldMs(mark: number): number {
  const now = performance.now();
  let longest = active > 0 ? now - Math.max(since, mark) : 0;
  for (let i = done.length - 1; i >= 0; i--) {
    const [s, e] = done[i] as [number, number];
    if (e < mark) break;
    longest = Math.max(longest, Math.min(e, now) - Math.max(s, mark));
  }
  return Math.max(0, longest);
}

/**
 * True when device work could have held up a request started at `mark` for at most 2 ms or 5% of
 * its `wallMs`: its wall time is then the network's and the cloud's.
 */
export function deviceQuietSince(mark: number, wallMs: number): boolean {
  return deviceHoldMs(mark) <= Math.max(2, 0.05 * wallMs);
}

function begin(): void {
  if (active++ === 0) since = performance.now();
}

function end(): void {
  if (--active > 0) return;
  done.push([since, performance.now()]);
  if (done.length > KEPT) done.shift();
}

/** Runs `fn` as device work (asynchronous: an inference). */
export async function asDeviceWork<T>(fn: () => Promise<T>): Promise<T> {
  begin();
  try {
    return await fn();
  } finally {
    end();
  }
}

/** Runs `fn` as device work (synchronous: an encoding). */
export function asDeviceWorkSync<T>(fn: () => T): T {
  begin();
  try {
    return fn();
  } finally {
    end();
  }
}
