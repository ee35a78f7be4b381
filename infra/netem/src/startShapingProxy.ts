import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetemError, NetemErrorCodes } from './errors.js';
import { type DirectionConditions, PacedPipe } from './link/PacedPipe.js';
import { playTrace } from './playTrace.js';
import { profileConditions, resolveConditions } from './profiles.js';
import { mulberry32 } from './random.js';
import type {
  LinkConditions,
  PlayTraceOptions,
  ProxyStats,
  ShapingProxy,
  ShapingProxyOptions,
  TracePlayback,
  TraceStep,
} from './types/index.js';

interface Connection {
  client: Socket;
  upstream: Socket;
  up: PacedPipe;
  down: PacedPipe;
}

function checkInt(name: string, v: number | undefined, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `${name} must be an integer ${min}..${max}, got ${v}`, {
      field: name,
      value: v,
    });
  }
  return v;
}

/**
 * Starts a shaping TCP proxy on 127.0.0.1 in front of `target`. Every accepted connection is forwarded, bytes
 * unchanged, through two {@link PacedPipe}s (uplink client -> target, downlink target -> client) that apply the
 * current rate, delay, jitter and loss. Half-close is passed on in each direction, errors on either side destroy both
 * sockets, and a sender is paused while its direction holds more than `maxQueueBytes`.
 *
 * @example
 * const proxy = await startShapingProxy({ target: { host: '127.0.0.1', port: 18790 }, conditions: 'lte' })
 * const res = await fetch(`${proxy.url}/points/2`, { method: 'POST', body })
 * proxy.setConditions({ uplinkMbps: 0.5 })
 * await proxy.close()
 */
export async function startShapingProxy(opts: ShapingProxyOptions): Promise<ShapingProxy> {
  const { target } = opts;
  if (!target || typeof target.host !== 'string' || !Number.isInteger(target.port) || target.port < 1) {
    throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, 'target must be { host, port } with a port 1..65535', {
      field: 'target',
    });
  }
  const chunkBytes = checkInt('chunkBytes', opts.chunkBytes, 1, 65_536, 1024);
  const maxQueueBytes = checkInt('maxQueueBytes', opts.maxQueueBytes, 1024, 1 << 30, 256 * 1024);
  const port = checkInt('port', opts.port, 0, 65_535, 0);
  const handshake = opts.handshake ?? true;
  const random = mulberry32(opts.seed ?? Math.floor(Math.random() * 2 ** 32));

  let current = resolveConditions(opts.conditions ?? 'loopback', profileConditions('loopback'));
  const up: DirectionConditions = { mbps: 0, oneWayMs: 0, jitterMs: 0 };
  const down: DirectionConditions = { mbps: 0, oneWayMs: 0, jitterMs: 0 };
  const derive = (): void => {
    const oneWayMs = current.rttMs / 2;
    Object.assign(up, { mbps: current.uplinkMbps, oneWayMs, jitterMs: current.jitterMs ?? 0, loss: current.loss });
    Object.assign(down, {
      mbps: current.downlinkMbps,
      oneWayMs,
      jitterMs: current.jitterMs ?? 0,
      loss: current.loss,
    });
  };
  derive();

  const stats: ProxyStats = { connections: 0, openConnections: 0, bytesUp: 0, bytesDown: 0, resets: 0, stalls: 0 };
  const open = new Set<Connection>();
  let closed = false;
  let playback: TracePlayback | undefined;

  const onConnection = (client: Socket): void => {
    if (closed) {
      client.destroy();
      return;
    }
    stats.connections++;
    stats.openConnections++;
    client.setNoDelay(true);
    const upstream = createConnection({ host: target.host, port: target.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    let torn = false;
    const teardown = (reset: boolean): void => {
      if (torn) return;
      torn = true;
      conn.up.stop();
      conn.down.stop();
      for (const s of [client, upstream]) {
        if (s.destroyed) continue;
        if (reset && s.readyState !== 'opening') {
          try {
            s.resetAndDestroy();
            continue;
          } catch {
            // no TCP handle left: a plain destroy below
          }
        }
        s.destroy();
      }
    };
    const hooks = (dir: DirectionConditions, count: (n: number) => void) => ({
      conditions: () => dir,
      random,
      delivered: count,
      stalled: () => {
        stats.stalls++;
      },
      reset: () => {
        stats.resets++;
        teardown(true);
      },
    });
    const notBefore = handshake ? performance.now() + current.rttMs : 0;
    const conn: Connection = {
      client,
      upstream,
      up: new PacedPipe(
        client,
        upstream,
        hooks(up, (n) => {
          stats.bytesUp += n;
        }),
        { chunkBytes, maxQueueBytes, notBefore },
      ),
      down: new PacedPipe(
        upstream,
        client,
        hooks(down, (n) => {
          stats.bytesDown += n;
        }),
        { chunkBytes, maxQueueBytes },
      ),
    };
    open.add(conn);
    let closedSockets = 0;
    const onClose = (from: PacedPipe, into: PacedPipe) => (): void => {
      closedSockets++;
      // nothing more can be written into a closed socket; what it sent before its FIN is still delivered, but a
      // socket that closed without a FIN (destroyed) takes the connection down with it
      into.stop();
      if (!from.sourceEnded) teardown(false);
      if (closedSockets === 2) {
        teardown(false);
        open.delete(conn);
        stats.openConnections--;
      }
    };
    // an error on either side (refused, reset by the peer) ends the connection on both
    client.on('error', () => teardown(true));
    upstream.on('error', () => teardown(true));
    client.on('close', onClose(conn.up, conn.down));
    upstream.on('close', onClose(conn.down, conn.up));
  };

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, onConnection);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(
        new NetemError(
          NetemErrorCodes.LISTEN_FAILED,
          `cannot listen on 127.0.0.1:${port}: ${err.message}`,
          { port },
          {
            cause: err,
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;

  const ensureOpen = (what: string): void => {
    if (closed) throw new NetemError(NetemErrorCodes.CLOSED, `${what} on a closed proxy`);
  };
  const setConditions = (c: Partial<LinkConditions> | string): void => {
    ensureOpen('setConditions');
    current = resolveConditions(c, current);
    derive();
    for (const conn of open) {
      conn.up.poke();
      conn.down.poke();
    }
  };

  return {
    url: `http://127.0.0.1:${boundPort}`,
    port: boundPort,
    conditions: () => resolveConditions({}, current),
    setConditions,
    playTrace(trace: TraceStep[], playOpts?: PlayTraceOptions): TracePlayback {
      ensureOpen('playTrace');
      playback?.stop();
      const p = playTrace(trace, setConditions, playOpts);
      playback = p;
      return p;
    },
    stats: () => ({ ...stats }),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      playback?.stop();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of open) {
        conn.up.stop();
        conn.down.stop();
        conn.client.destroy();
        conn.upstream.destroy();
      }
      await done;
    },
  };
}
