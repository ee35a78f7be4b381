/** Inference sessions shared by many clients in one process, and a garbage collector for RSS readings. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { InferenceBackend, InferenceSession } from '@jmdc/edge-sdk/model';

/**
 * A backend whose sessions are shared by every client: one onnxruntime session per ONNX file for the
 * whole fleet (a session may run several calls at once), released once at the end.
 */
export class SharedSessions implements InferenceBackend {
  private readonly sessions = new Map<string, Promise<InferenceSession>>();
  constructor(private readonly inner: InferenceBackend) {}

  load(path: string): Promise<InferenceSession> {
    let s = this.sessions.get(path);
    if (!s) {
      s = this.inner.load(path);
      this.sessions.set(path, s);
    }
    return s.then((x) => ({
      inputNames: x.inputNames,
      outputNames: x.outputNames,
      run: (feeds) => x.run(feeds),
      release: async () => {}, // a client's close() leaves the shared session alone
    }));
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.release()));
  }
}

/** A collector of garbage, when V8 lets us have one (RSS is measured after a collection). */
export function gcFunction(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
