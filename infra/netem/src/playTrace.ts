import { performance } from 'node:perf_hooks';
import { NetemError, NetemErrorCodes } from './errors.js';
import { loadTrace } from './trace.js';
import type { LinkConditions, PlayTraceOptions, TracePlayback, TraceStep } from './types/index.js';

/**
 * Plays a trace against an `apply` function: each step is applied at its `atMs` after the start, timed from one
 * start instant (timer lateness does not add up over a long trace). Looping restarts every `periodMs`.
 *
 * @example
 * const p = playTrace(loadTrace('trace.json'), (c) => proxy.setConditions(c), { onStep: (s) => console.log(s.label) })
 * await p.done
 */
export function playTrace(
  trace: TraceStep[],
  apply: (c: Partial<LinkConditions> | string) => void,
  opts: PlayTraceOptions = {},
): TracePlayback {
  const steps = loadTrace(trace);
  const last = steps[steps.length - 1]!;
  const prev = steps.length > 1 ? steps[steps.length - 2]! : undefined;
  const loop = (opts.loop ?? false) && (opts.periodMs !== undefined || steps.length > 1);
  const periodMs = opts.periodMs ?? (prev ? last.atMs + (last.atMs - prev.atMs) : last.atMs);
  if (loop && (!Number.isFinite(periodMs) || periodMs <= last.atMs)) {
    throw new NetemError(
      NetemErrorCodes.INVALID_ARGUMENT,
      `periodMs must be greater than the last step's atMs (${last.atMs}), got ${periodMs}`,
      { field: 'periodMs', value: periodMs },
    );
  }
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // a failure is reported through `done`; a caller that never awaits it does not get an unhandled rejection
  done.catch(() => {});
  let cycle = 0;
  let i = 0;
  const finish = (): void => {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    resolveDone();
  };
  const next = (): void => {
    if (stopped) return;
    // apply every step that is due (several at once when atMs repeats or the loop fell behind)
    for (;;) {
      const step = steps[i]!;
      const dueAt = t0 + cycle * periodMs + step.atMs;
      const now = performance.now();
      if (dueAt > now + 0.5) {
        timer = setTimeout(next, Math.max(0, Math.floor(dueAt - now)));
        return;
      }
      try {
        apply(step.conditions);
        opts.onStep?.(step, i);
      } catch (err) {
        stopped = true;
        rejectDone(err);
        return;
      }
      i++;
      if (i === steps.length) {
        if (!loop) {
          finish();
          return;
        }
        i = 0;
        cycle++;
      }
    }
  };
  next();
  return { stop: finish, done };
}
