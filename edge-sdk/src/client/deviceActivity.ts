import { performance } from 'node:perf_hooks';

/**
 * How much of this process's device work (inference, encoding) ran while a request was in flight.
 *
 * A network time is the wall time from writing a request to its answer. When the device computes in
 * the meantime (the next call's head, another client's encoding), the answer may wait for the CPU
 * before it is read: on a slow or single-core device (or a paced emulation of one, which stops the
 * whole process) that wait is tens to hundreds of milliseconds, and the time then says more about the
 * device than about the link. The estimators learn a network time only from requests that device
 * work overlapped for a negligible part of their wall time. The record is per process: every client
 * of the process shares its CPU.
 */
let active = 0;
let since = 0;
let busyMs = 0;

/** Device busy time so far (the union of the device work intervals), ms. */
function busyNow(): number {
  return busyMs + (active > 0 ? performance.now() - since : 0);
}

/** A mark taken when a request starts (see {@link deviceOverlapMs}). */
export function deviceMark(): number {
  return busyNow();
}

/** Device busy time since `mark` was taken, ms. */
export function deviceOverlapMs(mark: number): number {
  return Math.max(0, busyNow() - mark);
}

/**
 * True when device work overlapped a request started at `mark` for at most 2 ms or 5% of its
 * `wallMs`: its wall time is then the network's and the cloud's.
 */
export function deviceQuietSince(mark: number, wallMs: number): boolean {
  return deviceOverlapMs(mark) <= Math.max(2, 0.05 * wallMs);
}

function begin(): void {
  if (active++ === 0) since = performance.now();
}

function end(): void {
  if (--active === 0) busyMs += performance.now() - since;
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
