/**
 * Accuracy of the shaping proxy on the benchmark grid: uplink {0.05, 0.25, 1, 5, 20} Mbit/s x RTT {10, 40, 150} ms x
 * payload {100 B, 1 KB, 20 KB}, HTTP/1.1 POSTs from an undici keep-alive agent to a local HTTP server through the
 * proxy. The expected time of a request is RTT + (request bytes on the wire) x 8 / uplink + (response bytes) x 8 /
 * downlink, with the bytes counted by the proxy. Prints one JSON object per cell, then a summary line.
 *
 *   npx tsx --conditions source infra/netem/src/bench/accuracy.ts [--reps 5] [--quick]
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startShapingProxy } from '../startShapingProxy.js';

const { values } = parseArgs({ options: { reps: { type: 'string' }, quick: { type: 'boolean' } } });
const reps = Number(values.reps ?? 5);
const uplinks = values.quick ? [0.25, 5] : [0.05, 0.25, 1, 5, 20];
const rtts = values.quick ? [10, 150] : [10, 40, 150];
const sizes = [100, 1000, 20_000];
const downlinkMbps = 50;

async function drain(req: IncomingMessage): Promise<number> {
  let n = 0;
  for await (const c of req) n += (c as Buffer).length;
  return n;
}

const server = createServer(async (req, res) => {
  const n = await drain(req);
  const body = JSON.stringify({ class: 3, bytes: n, logits: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const target = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const errors: number[] = [];
const baseMs = new Map<number, number>();

/** One grid cell; with `base`, the unshaped baseline of each payload size instead. */
async function cell(up: number, rtt: number, base: boolean): Promise<void> {
  const conditions = base ? 'loopback' : { uplinkMbps: up, downlinkMbps, rttMs: rtt };
  const proxy = await startShapingProxy({ target, conditions, seed: 1 });
  const agent = new Agent({ connections: 1, keepAliveTimeout: 60_000 });
  const post = async (size: number) => {
    const s0 = proxy.stats();
    const t0 = performance.now();
    const res = await request(`${proxy.url}/points/2`, {
      method: 'POST',
      body: Buffer.alloc(size, 7),
      headers: { 'content-type': 'application/octet-stream' },
      dispatcher: agent,
    });
    await res.body.text();
    const ms = performance.now() - t0;
    const s1 = proxy.stats();
    return { ms, upBytes: s1.bytesUp - s0.bytesUp, downBytes: s1.bytesDown - s0.bytesDown };
  };
  await post(10); // open the connection (handshake) outside the timing
  // the baseline also warms up the JIT of the client, the server and the proxy
  if (base) for (let i = 0; i < 30; i++) await post(sizes[i % sizes.length]!);
  for (const size of sizes) {
    const runs = [];
    for (let i = 0; i < (base ? Math.max(reps, 15) : reps); i++) runs.push(await post(size));
    const last = runs[runs.length - 1]!;
    const measuredMs = median(runs.map((r) => r.ms));
    if (base) {
      baseMs.set(size, measuredMs);
      console.log(JSON.stringify({ baseline: 'unshaped', payloadBytes: size, medianMs: +measuredMs.toFixed(2) }));
      continue;
    }
    // shaping adds to what the HTTP stack costs unshaped on this machine (the baseline)
    const shapedMs = rtt + (last.upBytes * 8) / (up * 1000) + (last.downBytes * 8) / (downlinkMbps * 1000);
    const expectedMs = shapedMs + baseMs.get(size)!;
    const errorPct = ((measuredMs - expectedMs) / expectedMs) * 100;
    errors.push(Math.abs(errorPct));
    console.log(
      JSON.stringify({
        uplinkMbps: up,
        rttMs: rtt,
        payloadBytes: size,
        wireBytesUp: last.upBytes,
        wireBytesDown: last.downBytes,
        shapedMs: +shapedMs.toFixed(2),
        expectedMs: +expectedMs.toFixed(2),
        medianMs: +measuredMs.toFixed(2),
        minMs: +Math.min(...runs.map((r) => r.ms)).toFixed(2),
        maxMs: +Math.max(...runs.map((r) => r.ms)).toFixed(2),
        errorMs: +(measuredMs - expectedMs).toFixed(2),
        errorPct: +errorPct.toFixed(2),
      }),
    );
  }
  await agent.destroy();
  await proxy.close();
}

await cell(0, 0, true);
for (const up of uplinks) for (const rtt of rtts) await cell(up, rtt, false);
server.closeAllConnections();
server.close();
console.log(
  JSON.stringify({
    summary: 'proxy accuracy',
    cells: errors.length,
    reps,
    medianAbsErrorPct: +median(errors).toFixed(2),
    maxAbsErrorPct: +Math.max(...errors).toFixed(2),
  }),
);
