/**
 * The system end to end on the tiny fixture model: JmdcClient -> shaping proxy (real sockets, paced,
 * delayed) -> local cloud -> the CDK bundle in its Lambda-runtime child process -> back. Both
 * transports (SigV4-signed Function URL, Lambda Invoke through @aws-sdk/client-lambda), classes equal to
 * the whole network run locally, an RTT step on the emulated link that the client tracks and that
 * changes its decision, and predicted against measured latency on the warm link.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { type ClassifyResult, JmdcClient } from '@jmdc/edge-sdk';
import { argmaxRows, loadModel, ModelRunner, preprocess } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { type LocalCloud, startLocalCloud } from '@jmdc/local-cloud';
import { type ShapingProxy, startShapingProxy } from '@jmdc/netem';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TINY_MODEL_DIR } from '../sdk/fakeCloud.js';
import { tinyProfile } from '../sdk/tinyProfile.js';

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const REGION = 'us-east-1';
const model = loadModel(TINY_MODEL_DIR);
const { manifest } = model;
const [C, H, W] = manifest.input.sourceShape as [number, number, number];
const IMAGES = 6;
/** Deterministic test images (the plumbing is under test, not the tiny model's accuracy). */
const images = Array.from({ length: IMAGES }, (_, i) =>
  Uint8Array.from({ length: C * H * W }, (_, k) => (k * 37 + i * 101 + ((k * k) % 29)) % 256),
);

let cloud: LocalCloud;
let proxy: ShapingProxy;
let dir: string;
let endpointsFile: string;
const whole: number[] = [];
const clients: JmdcClient[] = [];

beforeAll(async () => {
  const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
  for (const img of images)
    whole.push(argmaxRows(await runner.full('r000', preprocess(manifest, img, 1), 1), 10)[0] as number);
  await runner.close();
  cloud = await startLocalCloud({ model: TINY_MODEL_DIR, points: [0, 2], idleTimeoutMs: 60_000 });
  const target = new URL(cloud.url);
  proxy = await startShapingProxy({
    target: { host: target.hostname, port: Number(target.port) },
    conditions: { uplinkMbps: 10, downlinkMbps: 20, rttMs: 40 },
  });
  dir = mkdtempSync(join(tmpdir(), 'jmdc-system-'));
  endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(cloud.endpointsAt(proxy.url)));
}, 240_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  await proxy?.close();
  const pids = cloud?.pids() ?? [];
  await cloud?.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  rmSync(dir, { recursive: true, force: true });
});

async function client(transport: 'url' | 'invoke', profile = tinyProfile()): Promise<JmdcClient> {
  const c = await JmdcClient.create({
    model: TINY_MODEL_DIR,
    profile,
    endpoints: endpointsFile,
    transport,
    region: REGION,
    credentials: CREDS,
    objective: { minimize: 'latency', minAccuracy: 0.9 },
    stateFile: false,
    threads: 1,
    // the device costs stay the profile's synthetic ones (500 ms for the whole network; the tiny network
    // runs in about a millisecond here, and how much slower under load depends on the machine)
    bounds: { maxDeviceScale: 1 },
    ...(transport === 'invoke'
      ? { lambdaClient: new LambdaClient({ endpoint: proxy.url, region: REGION, credentials: CREDS, maxAttempts: 1 }) }
      : {}),
  });
  clients.push(c);
  // the warm-up at creation starts the function the planner wants; wait until it is believed warm
  await vi.waitFor(() => expect(Math.min(...(c.conditions().coldProb as number[]).slice(0, 3))).toBeLessThan(0.05), {
    timeout: 30_000,
    interval: 100,
  });
  return c;
}

describe('SDK -> shaping proxy -> local cloud -> bundle, on the tiny model', () => {
  it.each([
    'url',
    'invoke',
  ] as const)('the %s transport classifies through the cloud with the classes of the whole network', async (kind) => {
    const c = await client(kind);
    const before = cloud.stats().invocations;
    const results: ClassifyResult[] = [];
    for (const img of images) results.push(await c.classify(img));
    for (const r of results) {
      expect(r.fallback).toBe(false);
      expect(r.decision.kind).not.toBe('edge-only');
      expect(r.bytesSent).toBeGreaterThan(0);
    }
    expect(results.map((r) => r.classes[0])).toEqual(whole);
    expect(cloud.stats().invocations - before).toBeGreaterThanOrEqual(IMAGES);
    expect(proxy.stats().bytesUp).toBeGreaterThan(0);
  }, 120_000);

  it('a learned bottleneck: the device sends the code, the bundle of point 2 runs its decoder, classes of the chain', async () => {
    const b = manifest.bottlenecks?.find((x) => x.point === 2 && x.variant === 0);
    expect(b, 'the tiny fixture has a bottleneck at point 2 of r000').toBeDefined();
    if (!b) return;
    // head -> encoder -> decoder -> tail, uncompressed, run here
    const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
    const chain: number[] = [];
    for (const img of images) {
      const head = await runner.head(0, 2, preprocess(manifest, img, 1), 1, { bottleneck: true });
      chain.push(argmaxRows(await runner.tail(0, 2, head.features, 1, { bottleneck: true }), 10)[0] as number);
    }
    await runner.close();
    const profile = tinyProfile();
    // beats every other row: 40 bytes at point 2
    profile.rows.push({
      point: 2,
      variant: 0,
      keep: 1,
      bits: 8,
      coder: 'none',
      bottleneck: true,
      valAccuracy: 0.92,
      testAccuracy: 0.92,
      meanPayloadBytes: 40,
      float32FeatureBytes: 0,
      headMacs: 0,
      tailMacs: 0,
    });
    profile.timings.bottleneckMs = { [b.id]: { encoderMs: 0.1, decoderMs: 0.1 } };
    // every other row below any accuracy floor, so the choice does not hang on this machine's live timings
    for (const r of profile.rows) if (!r.bottleneck) r.valAccuracy = Math.min(r.valAccuracy, 0.05);
    const c = await client('url', profile);
    const results: ClassifyResult[] = [];
    for (const img of images) results.push(await c.classify(img));
    for (const r of results) {
      expect(r.fallback).toBe(false);
      expect(r.decision).toMatchObject({ kind: 'split', point: 2, bottleneck: true });
    }
    expect(results.map((r) => r.classes[0])).toEqual(chain);
  }, 120_000);

  it('tracks an RTT step on the emulated link and moves to the device within a few requests; predicts the warm link', async () => {
    proxy.setConditions({ uplinkMbps: 10, downlinkMbps: 20, rttMs: 40 });
    const c = await client('url');
    const warm: ClassifyResult[] = [];
    for (let i = 0; i < 8; i++) warm.push(await c.classify(images[i % IMAGES] as Uint8Array));
    const cloudWarm = warm.filter((r) => r.decision.kind !== 'edge-only' && !r.coldStart).slice(2);
    expect(cloudWarm.length).toBeGreaterThanOrEqual(4);
    // predicted vs measured on the warm 40 ms link, the link's part alone: the call's time less the
    // device's work and the function's reported time, against RTT + upload + the request's own work.
    // The profile's synthetic head and tail times are not this machine's, so they are left out.
    const link = cloudWarm.map((r) => {
      const t = r.timings;
      const measured = t.totalMs - t.edgeMs - t.encodeMs - t.waitMs - t.planMs - t.cloudMs;
      const predicted = r.predicted.rttMs + r.predicted.uploadMs + r.predicted.requestMs;
      return { measured, predicted, excess: Math.abs(predicted - measured) - 0.35 * measured };
    });
    const excess = link.map((l) => l.excess).sort((a, b) => a - b);
    expect(excess[Math.floor(excess.length / 2)]).toBeLessThan(5);
    // the same link with 700 ms RTT: the split (~700 ms) now loses to the device (500 ms in the profile)
    proxy.setConditions({ rttMs: 700 });
    const after: ClassifyResult[] = [];
    for (let i = 0; i < 6; i++) after.push(await c.classify(images[i % IMAGES] as Uint8Array));
    const firstEdge = after.findIndex((r) => r.decision.kind === 'edge-only');
    expect(firstEdge).toBeGreaterThanOrEqual(0);
    expect(firstEdge).toBeLessThanOrEqual(3);
    expect(after.slice(firstEdge).every((r) => r.decision.kind === 'edge-only')).toBe(true);
    expect(c.conditions().rttMs).toBeGreaterThan(400);
  }, 180_000);
});
