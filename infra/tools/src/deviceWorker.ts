/**
 * What the forked device workers (the benchmark's and the demo's) share: one classify call turned into
 * the result or typed error they report, and the loop that serves the parent's messages.
 */
import { type ClassifyResult, isJmdcError, type JmdcClient } from '@jmdc/edge-sdk';

/** One classify call as a worker reports it: the fields of the result the parent reads, or the error. */
export interface ClassifyOutcome {
  result?: Pick<
    ClassifyResult,
    'classes' | 'decision' | 'predicted' | 'timings' | 'bytesSent' | 'coldStart' | 'fallback' | 'attempts'
  >;
  error?: { code: string; message: string };
}

/** Classifies `images` (one image alone, several as a batch); an error is returned, never thrown. */
export async function classifyOutcome(client: JmdcClient, images: Uint8Array[]): Promise<ClassifyOutcome> {
  try {
    const r = await client.classify(images.length === 1 ? (images[0] as Uint8Array) : images);
    return {
      result: {
        classes: r.classes,
        decision: r.decision,
        predicted: r.predicted,
        timings: r.timings,
        bytesSent: r.bytesSent,
        coldStart: r.coldStart,
        fallback: r.fallback,
        attempts: r.attempts,
      },
    };
  } catch (e) {
    return {
      error: isJmdcError(e)
        ? { code: e.code, message: e.message }
        : { code: 'UNEXPECTED', message: (e as Error).message },
    };
  }
}

/**
 * Serves the parent's messages one at a time, in order. `handle` runs each message but `close`; an error
 * it throws is sent back as `{ type: 'fatal', message, code? }`. On `close`, `close()` runs and the worker
 * disconnects; when the parent goes away, `close()` runs and the process exits (after 2 s at the latest).
 */
export function serveParent<M extends { type: string }>(
  handle: (msg: Exclude<M, { type: 'close' }>) => Promise<void>,
  close: () => Promise<unknown> | undefined,
): void {
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (msg: M) => {
    queue = queue.then(async () => {
      try {
        if (msg.type === 'close') {
          await close();
          process.disconnect?.();
        } else await handle(msg as Exclude<M, { type: 'close' }>);
      } catch (e) {
        process.send?.({ type: 'fatal', message: (e as Error).message, ...(isJmdcError(e) ? { code: e.code } : {}) });
      }
    });
  });
  process.on('disconnect', () => {
    void close()?.finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
