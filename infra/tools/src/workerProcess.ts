/**
 * The parent side of a device worker (the demo's and the benchmark's edge processes, served by
 * `serveParent` of deviceWorker.ts): forking it with the workspaces' TypeScript sources, and waiting
 * for its messages.
 */
import { type ChildProcess, fork } from 'node:child_process';

/** Forks `path` (TypeScript through tsx, with the workspaces' `source` condition) with an IPC channel. */
export function forkWorker(path: string): ChildProcess {
  return fork(path, [], {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
}

/**
 * Waits for the worker's next message of `type`; a `fatal` message or the worker's exit rejects.
 *
 * @example
 * const ready = await nextMessage<FromEdge, 'ready'>(child, 'ready')
 */
export function nextMessage<M extends { type: string }, T extends M['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolvePromise, reject) => {
    const onMessage = (m: M): void => {
      if (m.type === type) {
        cleanup();
        resolvePromise(m as Extract<M, { type: T }>);
      } else if (m.type === 'fatal') {
        cleanup();
        const f = m as unknown as { message: string; code?: string };
        reject(Object.assign(new Error(`device worker: ${f.message}`), { code: f.code }));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`device worker exited (${code ?? signal}) before '${type}'`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
