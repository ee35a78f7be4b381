/**
 * Small HTTP servers that answer like a broken or hostile cloud: garbage or wrong-shape JSON, a wrong
 * model hash, a wrong number of logits, a huge body, headers that drip, a redirect, no answer at all.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The kinds of hostile server. */
export const HOSTILE_KINDS = [
  'garbageJson',
  'wrongShapeJson',
  'wrongModelHash',
  'wrongLogitCount',
  'hugeBody',
  'drippingHeaders',
  'redirect',
  'neverAnswers',
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/** A running hostile server. */
export interface HostileServer {
  url: string;
  close(): Promise<void>;
}

/** A plausible answer of the tail function for `batch` items and `classes` classes, with a given model hash. */
function answer(batch: number, classes: number, modelHash: string, logitsPerRow = classes): string {
  const logits = Array.from({ length: batch }, () => Array.from({ length: logitsPerRow }, (_, j) => (j === 1 ? 2 : 0)));
  return JSON.stringify({
    classes: Array.from({ length: batch }, () => 1),
    logits,
    serverMs: 1,
    decodeMs: 0.1,
    inferMs: 0.5,
    coldStart: false,
    initMs: 100,
    modelHash,
    requestId: 'hostile',
    point: 0,
    variant: 0,
    batch,
  });
}

/**
 * Starts a hostile server of `kind` on 127.0.0.1 for a model with `classes` classes and hash `modelHash`.
 *
 * @example
 * ```ts
 * const s = await startHostileServer('drippingHeaders', { classes: 10, modelHash });
 * // point a client's endpoint at s.url ... then
 * await s.close();
 * ```
 */
export async function startHostileServer(
  kind: HostileKind,
  opts: { classes: number; modelHash: string },
): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    req.on('end', () => {
      const json = (status: number, body: string) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      switch (kind) {
        case 'garbageJson':
          return json(200, '{"classes": [1], "logits": [[0.1, 0.2');
        case 'wrongShapeJson':
          return json(200, JSON.stringify({ result: 'ok', logits: 'many', classes: { a: 1 } }));
        case 'wrongModelHash':
          return json(200, answer(1, opts.classes, `sha256:${'e'.repeat(64)}`));
        case 'wrongLogitCount':
          return json(200, answer(1, opts.classes, opts.modelHash, opts.classes - 3));
        case 'hugeBody': {
          // 64 MiB of a JSON array, streamed without a content-length
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(1 << 20, 0x31);
          let sent = 0;
          const push = (): void => {
            while (sent < 64 && !res.destroyed) {
              sent++;
              if (!res.write(chunk)) {
                res.once('drain', push);
                return;
              }
            }
            res.end();
          };
          res.write('[');
          push();
          return;
        }
        case 'drippingHeaders': {
          // one byte of the status line and headers every 200 ms: never a complete head within a deadline
          const head = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}';
          const socket = res.socket;
          if (!socket) return;
          let i = 0;
          const drip = (): void => {
            if (socket.destroyed || i >= head.length) return;
            socket.write(head[i++]!);
            later(200, drip);
          };
          drip();
          return;
        }
        case 'redirect':
          res.writeHead(307, { location: 'http://127.0.0.1:9/elsewhere', 'content-length': '0' });
          res.end();
          return;
        case 'neverAnswers':
          return; // keeps the socket open, says nothing
      }
    });
  };
  const server: Server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
