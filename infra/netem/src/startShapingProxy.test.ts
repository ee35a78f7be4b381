import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NetemErrorCodes } from './errors.js';
import { startShapingProxy } from './startShapingProxy.js';
import type { ShapingProxy, TraceStep } from './types/index.js';

// A local HTTP server: POST answers with the number of body bytes and their sha256 once the whole body is in.
let http: HttpServer;
let httpPort = 0;
const httpSockets = new Set<Socket>();

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  http = createServer(async (req, res) => {
    const body = await readBody(req);
    const out = JSON.stringify({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
  http.keepAliveTimeout = 30_000;
  http.on('connection', (s: Socket) => {
    httpSockets.add(s);
    s.on('close', () => httpSockets.delete(s));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  httpPort = (http.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of httpSockets) s.destroy();
  await new Promise<void>((r) => http.close(() => r()));
});

const proxies: ShapingProxy[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.destroy();
  for (const p of proxies.splice(0)) await p.close();
});

async function proxyTo(
  port: number,
  opts: Partial<Parameters<typeof startShapingProxy>[0]> = {},
): Promise<ShapingProxy> {
  const p = await startShapingProxy({ target: { host: '127.0.0.1', port }, seed: 7, ...opts });
  proxies.push(p);
  return p;
}

function agent(): Agent {
  const a = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
  agents.push(a);
  return a;
}

async function post(
  proxy: ShapingProxy,
  a: Agent,
  body: Buffer,
): Promise<{ ms: number; bytes: number; sha256: string }> {
  const t0 = performance.now();
  const res = await request(`${proxy.url}/points/1`, { method: 'POST', body, dispatcher: a });
  const json = (await res.body.json()) as { bytes: number; sha256: string };
  return { ms: performance.now() - t0, ...json };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Upper bound of a timing band: +25% plus a fixed allowance for event-loop delays when the test shares two cores with
 * other work. The lower bounds carry no allowance: they are what fails when the proxy does not shape.
 */
const upper = (expectedMs: number): number => expectedMs * 1.25 + 15;

describe('startShapingProxy: rate and delay', () => {
  it('a 20 KB upload at 1 Mbit/s and 40 ms RTT takes about 160 ms + 40 ms on a warm connection', async () => {
    const proxy = await proxyTo(httpPort, { conditions: { uplinkMbps: 1, downlinkMbps: 100, rttMs: 40 } });
    const a = agent();
    await post(proxy, a, Buffer.alloc(10)); // opens the connection (handshake RTT) outside the timing
    const body = randomBytes(20_000);
    const r = await post(proxy, a, body);
    const expected = ((20_000 * 8) / 1e6) * 1000 + 40;
    expect(r.bytes).toBe(20_000);
    expect(r.sha256).toBe(sha(body));
    expect(r.ms).toBeGreaterThan(expected * 0.75);
    expect(r.ms).toBeLessThan(upper(expected));
    expect(proxy.stats().connections).toBe(1);
  });

  it('the round trip of a tiny request is the configured RTT', async () => {
    const proxy = await proxyTo(httpPort, {
      conditions: { uplinkMbps: Number.POSITIVE_INFINITY, downlinkMbps: 1000, rttMs: 40 },
    });
    const a = agent();
    await post(proxy, a, Buffer.alloc(10));
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push((await post(proxy, a, Buffer.alloc(100))).ms);
    times.sort((x, y) => x - y);
    const med = times[2]!;
    expect(med).toBeGreaterThan(40 * 0.9);
    expect(med).toBeLessThan(upper(40));
  });

  it('a new connection pays one extra RTT for the emulated handshake', async () => {
    const proxy = await proxyTo(httpPort, { conditions: { uplinkMbps: 1000, downlinkMbps: 1000, rttMs: 60 } });
    const a = agent();
    const first = await post(proxy, a, Buffer.alloc(100));
    const second = await post(proxy, a, Buffer.alloc(100));
    expect(first.ms).toBeGreaterThan(2 * 60 * 0.9);
    expect(second.ms).toBeLessThan(upper(60));
    expect(second.ms).toBeGreaterThan(60 * 0.9);
  });

  it('loopback passes bytes without added delay', async () => {
    const proxy = await proxyTo(httpPort);
    const a = agent();
    await post(proxy, a, Buffer.alloc(10));
    const r = await post(proxy, a, randomBytes(20_000));
    expect(r.bytes).toBe(20_000);
    // 20 KB at 1 Mbit/s would take 160 ms; unshaped loopback is far below that
    expect(r.ms).toBeLessThan(80);
    expect(proxy.conditions()).toEqual({
      uplinkMbps: Number.POSITIVE_INFINITY,
      downlinkMbps: Number.POSITIVE_INFINITY,
      rttMs: 0,
    });
  });

  it('setConditions applies to bytes not yet sent on an open connection', async () => {
    const proxy = await proxyTo(httpPort, { conditions: { uplinkMbps: 0.1, downlinkMbps: 100, rttMs: 0 } });
    const a = agent();
    await post(proxy, a, Buffer.alloc(10));
    const body = randomBytes(20_000); // 1.6 s at 0.1 Mbit/s
    const pending = post(proxy, a, body);
    await new Promise((r) => setTimeout(r, 200));
    proxy.setConditions({ uplinkMbps: 10 });
    const r = await pending;
    expect(proxy.conditions().uplinkMbps).toBe(10);
    expect(r.sha256).toBe(sha(body));
    // ~2.5 KB went at 0.1 Mbit/s in 200 ms, the remaining 17.5 KB at 10 Mbit/s in ~14 ms
    expect(r.ms).toBeGreaterThan(200);
    expect(r.ms).toBeLessThan(600);
  });

  it('a new RTT applies to bytes not yet sent; bytes already on the wire keep their delay', async () => {
    const proxy = await proxyTo(httpPort, { conditions: { uplinkMbps: 1000, downlinkMbps: 1000, rttMs: 300 } });
    const a = agent();
    await post(proxy, a, Buffer.alloc(10));
    const pending = post(proxy, a, Buffer.alloc(100));
    await new Promise((r) => setTimeout(r, 50));
    proxy.setConditions({ rttMs: 0 }); // the request left 50 ms ago: it still takes 150 ms one way
    const r = await pending;
    // 150 ms up (already on the wire) + 0 ms down, not 300 ms (all re-timed) nor 50 ms (dropped delay)
    expect(r.ms).toBeGreaterThan(150 * 0.95);
    expect(r.ms).toBeLessThan(upper(150));
  });

  it('jitter delays chunks without reordering them (a 1 MB body arrives intact)', async () => {
    const proxy = await proxyTo(httpPort, {
      conditions: { uplinkMbps: 400, downlinkMbps: 400, rttMs: 4, jitterMs: 3 },
      maxQueueBytes: 16 * 1024,
    });
    const a = agent();
    const body = randomBytes(1 << 20);
    const r = await post(proxy, a, body);
    expect(r.bytes).toBe(1 << 20);
    expect(r.sha256).toBe(sha(body));
    expect(proxy.stats().bytesUp).toBeGreaterThan(1 << 20);
  });

  it('undici keep-alive: many requests share one proxied connection', async () => {
    const proxy = await proxyTo(httpPort, { conditions: 'wifi' });
    const a = agent();
    for (let i = 0; i < 8; i++) {
      const body = randomBytes(100 + i * 500);
      const r = await post(proxy, a, body);
      expect(r.sha256).toBe(sha(body));
    }
    const s = proxy.stats();
    expect(s.connections).toBe(1);
    expect(s.openConnections).toBe(1);
    expect(s.bytesDown).toBeGreaterThan(8 * 100);
  });
});

/** A raw TCP server: echoes what it reads and ends its side when the client ends. */
async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

async function stopServer(e: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const s of e.sockets) s.destroy();
  await new Promise<void>((r) => e.server.close(() => r()));
}

describe('startShapingProxy: TCP behaviour', () => {
  it('passes half-close on: data sent before end() is echoed back, then the client sees end', async () => {
    const echo = await echoServer();
    try {
      const proxy = await proxyTo(echo.port, { conditions: { uplinkMbps: 50, downlinkMbps: 50, rttMs: 10 } });
      const s = connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
      const payload = randomBytes(50_000);
      const got: Buffer[] = [];
      s.on('data', (d) => got.push(d));
      s.end(payload);
      await once(s, 'end');
      expect(sha(Buffer.concat(got))).toBe(sha(payload));
      s.destroy();
    } finally {
      await stopServer(echo);
    }
  });

  it('stall loss holds each chunk stallMs longer and counts it', async () => {
    const echo = await echoServer();
    try {
      const proxy = await proxyTo(echo.port, {
        conditions: { uplinkMbps: 1000, downlinkMbps: 1000, rttMs: 0, loss: { rate: 1, mode: 'stall', stallMs: 100 } },
        handshake: false,
      });
      const s = connect({ host: '127.0.0.1', port: proxy.port });
      await once(s, 'connect');
      const t0 = performance.now();
      s.write('ping');
      await once(s, 'data');
      const ms = performance.now() - t0;
      // stalled once each way
      expect(ms).toBeGreaterThan(190);
      expect(ms).toBeLessThan(upper(200));
      expect(proxy.stats().stalls).toBe(2);
      s.destroy();
    } finally {
      await stopServer(echo);
    }
  });

  it('reset loss destroys both sockets: the client gets ECONNRESET and the server sees the close', async () => {
    const echo = await echoServer();
    try {
      const proxy = await proxyTo(echo.port, {
        conditions: { uplinkMbps: 1000, downlinkMbps: 1000, rttMs: 0, loss: { rate: 1, mode: 'reset' } },
        handshake: false,
      });
      const s = connect({ host: '127.0.0.1', port: proxy.port });
      await once(s, 'connect');
      await new Promise((r) => setTimeout(r, 20)); // the upstream side is connected
      expect(echo.sockets.size).toBe(1);
      const err = once(s, 'error');
      s.write('ping');
      const [e] = (await err) as [NodeJS.ErrnoException];
      expect(e.code).toBe('ECONNRESET');
      await new Promise((r) => setTimeout(r, 20));
      expect(echo.sockets.size).toBe(0);
      expect(proxy.stats().resets).toBe(1);
      expect(proxy.stats().openConnections).toBe(0);
    } finally {
      await stopServer(echo);
    }
  });

  it('a refused upstream closes the client connection and the proxy keeps serving', async () => {
    const dead = createTcpServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const proxy = await proxyTo(port);
    const s = connect({ host: '127.0.0.1', port: proxy.port });
    const errors: string[] = [];
    s.on('error', (e: NodeJS.ErrnoException) => errors.push(String(e.code)));
    await new Promise((r) => s.on('close', r));
    // the proxy had accepted, so the refusal reaches the client as a reset (or a plain close)
    expect(errors.every((c) => c === 'ECONNRESET')).toBe(true);
    expect(proxy.stats().openConnections).toBe(0);
    expect(proxy.stats().connections).toBe(1);
  });

  it('close() destroys open connections and leaves no socket or timer behind', async () => {
    const echo = await echoServer();
    try {
      const resources = (kind: (r: string) => boolean): number => process.getActiveResourcesInfo().filter(kind).length;
      const isTcp = (r: string): boolean => r.startsWith('TCP');
      const isTimer = (r: string): boolean => r === 'Timeout';
      const before = resources(isTcp);
      const timersBefore = resources(isTimer); // the test runner's own timeout is one
      const proxy = await startShapingProxy({
        target: { host: '127.0.0.1', port: echo.port },
        conditions: { uplinkMbps: 0.01, downlinkMbps: 0.01, rttMs: 500 },
      });
      const s = connect({ host: '127.0.0.1', port: proxy.port });
      s.on('error', () => {});
      await once(s, 'connect');
      s.write(randomBytes(10_000)); // queued for seconds
      await new Promise((r) => setTimeout(r, 20));
      const closed = new Promise((r) => s.on('close', r));
      expect(proxy.stats().openConnections).toBe(1);
      expect(resources(isTimer)).toBeGreaterThan(timersBefore); // a chunk is waiting for its departure time
      await proxy.close();
      await closed;
      await new Promise((r) => setTimeout(r, 20));
      expect(proxy.stats().openConnections).toBe(0);
      // the listener, the accepted socket and the upstream socket are gone (sockets of earlier tests may close too)
      expect(resources(isTcp)).toBeLessThanOrEqual(before);
      // the queued chunks' pacing timers are cleared
      expect(resources(isTimer)).toBeLessThanOrEqual(timersBefore);
      expect(() => proxy.setConditions('lte')).toThrow(expect.objectContaining({ code: NetemErrorCodes.CLOSED }));
      await proxy.close(); // idempotent
    } finally {
      await stopServer(echo);
    }
  });
});

describe('startShapingProxy: conditions and traces', () => {
  it('rejects invalid conditions and unknown profiles with typed errors', async () => {
    const proxy = await proxyTo(httpPort, { conditions: 'lte' });
    expect(proxy.conditions()).toMatchObject({ uplinkMbps: 6.8, rttMs: 40 });
    expect(() => proxy.setConditions({ rttMs: -1 })).toThrow(
      expect.objectContaining({ code: NetemErrorCodes.INVALID_CONDITIONS }),
    );
    expect(() => proxy.setConditions({ uplinkMbps: 0 })).toThrow(
      expect.objectContaining({ code: NetemErrorCodes.INVALID_CONDITIONS }),
    );
    expect(() => proxy.setConditions('5g-dream')).toThrow(
      expect.objectContaining({ code: NetemErrorCodes.UNKNOWN_PROFILE }),
    );
    await expect(
      startShapingProxy({ target: { host: '127.0.0.1', port: httpPort }, chunkBytes: 0 }),
    ).rejects.toMatchObject({
      code: NetemErrorCodes.INVALID_ARGUMENT,
    });
    expect(proxy.conditions()).toMatchObject({ uplinkMbps: 6.8, rttMs: 40 });
  });

  it('plays a trace: each step applies at its time, partial steps merge, profile steps replace', async () => {
    const proxy = await proxyTo(httpPort, { conditions: 'lte' });
    const trace: TraceStep[] = [
      { atMs: 0, conditions: { rttMs: 10 }, label: 'near' },
      { atMs: 120, conditions: { rttMs: 150, uplinkMbps: 0.5 }, label: 'far' },
      { atMs: 240, conditions: '3g', label: '3g' },
    ];
    const seen: { i: number; at: number; rtt: number }[] = [];
    const t0 = performance.now();
    const p = proxy.playTrace(trace, {
      onStep: (_s, i) => seen.push({ i, at: performance.now() - t0, rtt: proxy.conditions().rttMs }),
    });
    await p.done;
    expect(seen.map((s) => s.i)).toEqual([0, 1, 2]);
    expect(seen.map((s) => s.rtt)).toEqual([10, 150, 150]);
    expect(seen[0]!.at).toBeLessThan(15);
    expect(Math.abs(seen[1]!.at - 120)).toBeLessThan(20);
    expect(Math.abs(seen[2]!.at - 240)).toBeLessThan(20);
    expect(proxy.conditions()).toEqual({ uplinkMbps: 1.4, downlinkMbps: 4, rttMs: 150, jitterMs: 10 });
  });

  it('loops a trace until stopped, and a new playback stops the previous one', async () => {
    const proxy = await proxyTo(httpPort);
    const steps: number[] = [];
    const p = proxy.playTrace(
      [
        { atMs: 0, conditions: { rttMs: 5 } },
        { atMs: 30, conditions: { rttMs: 6 } },
      ],
      { loop: true, onStep: (_s, i) => steps.push(i) },
    );
    await new Promise((r) => setTimeout(r, 200));
    const q = proxy.playTrace([{ atMs: 0, conditions: { rttMs: 77 } }]);
    await p.done;
    await q.done;
    const n = steps.length;
    // period 60 ms: about 4 cycles of 2 steps in 200 ms
    expect(n).toBeGreaterThanOrEqual(6);
    expect(n).toBeLessThanOrEqual(10);
    await new Promise((r) => setTimeout(r, 80));
    expect(steps.length).toBe(n);
    expect(proxy.conditions().rttMs).toBe(77);
  });
});
