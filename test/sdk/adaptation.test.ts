/**
 * The SDK measures what the planner prices: a rate step on the uplink, emulated by a transport that
 * takes bytes / rate + RTT for every request (no real network, no sleeping: the timings it reports
 * are the emulated ones), is tracked within a few requests and changes the decision.
 */

import {
  type ClassifyResult,
  JmdcClient,
  type JmdcClientOptions,
  type Profile,
  type RequestTiming,
  type SendOptions,
  type SendResult,
  type Transport,
} from '@jmdc/edge-sdk';
import { type InferenceBackend, loadModel } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { afterEach, describe, expect, it } from 'vitest';
import { TINY_MODEL_DIR } from './fakeCloud.js';
import { tinyProfile } from './tinyProfile.js';

const HEADER_BYTES = 300;
const SERVER_MS = 1.5;

/** A link of `mbps` and `rttMs` in front of a function that always answers in SERVER_MS. */
class EmulatedLink implements Transport {
  readonly points = [0, 1, 2, 3, 4, 5];
  mbps = 10;
  rttMs = 20;
  readonly sent: Array<{ point: number; bytes: number; probe: boolean }> = [];
  constructor(private readonly modelHash: string) {}

  private netMs(bytes: number): number {
    return this.rttMs + (bytes * 8) / (this.mbps * 1000);
  }

  async send(point: number, payload: Uint8Array, opts: SendOptions = {}): Promise<SendResult> {
    const bytesSent = payload.byteLength + HEADER_BYTES;
    this.sent.push({ point, bytes: payload.byteLength, probe: false });
    const ttfbMs = this.netMs(bytesSent) + SERVER_MS;
    const batch = opts.expect?.batch ?? 1;
    const timing: RequestTiming = {
      point,
      bodyBytes: payload.byteLength,
      bytesSent,
      ttfbMs,
      totalMs: ttfbMs + 0.1,
      status: 200,
      serverMs: SERVER_MS,
      measured: true,
    };
    return {
      response: {
        classes: Array.from({ length: batch }, () => 0),
        logits: Array.from({ length: batch }, () => Array.from({ length: 10 }, (_, k) => (k === 0 ? 1 : 0))),
        serverMs: SERVER_MS,
        decodeMs: 0.5,
        inferMs: 1,
        coldStart: false,
        initMs: 0,
        modelHash: this.modelHash,
        requestId: `emulated-${this.sent.length}`,
      },
      uploadMs: 0,
      uploadMeasured: false,
      totalMs: timing.totalMs,
      serverMs: SERVER_MS,
      attempts: 1,
      bytes: payload.byteLength,
      bytesSent,
      ttfbMs,
      timingsPlausible: true,
      implausible: [],
      requests: [timing],
    };
  }

  async probeUpload(point: number, bytes: number): Promise<RequestTiming> {
    this.sent.push({ point, bytes, probe: true });
    const bytesSent = bytes + HEADER_BYTES;
    const ttfbMs = this.netMs(bytesSent);
    return { point, bodyBytes: bytes, bytesSent, ttfbMs, totalMs: ttfbMs + 0.1, status: 400, measured: true };
  }

  async close(): Promise<void> {}
}

/**
 * Two ways to the cloud at the same accuracy: the image (listed as a raw upload of 3000 B, so that the
 * loader adds no raw row of its own; nothing on the device) and a split
 * at point 2 (300 B after a 20 ms head). At 10 Mbit/s and 20 ms RTT the upload wins (24.4 vs 42.2 ms);
 * at 0.5 Mbit/s the split wins (46.8 vs 70 ms).
 */
function linkProfile(): Profile {
  const base = tinyProfile();
  const r0 = base.rows[0] as Profile['rows'][number];
  return {
    ...base,
    rows: [
      { ...r0, kind: 'cloud-only', point: 0, variant: 0, coder: 'raw', meanPayloadBytes: 3000, valAccuracy: 0.92 },
      { ...r0, kind: 'split', point: 2, variant: 0, coder: 'deflate', meanPayloadBytes: 300, valAccuracy: 0.92 },
      { ...r0, kind: 'edge-only', point: -1, variant: 0, coder: 'none', meanPayloadBytes: 0, valAccuracy: 0.92 },
    ],
    timings: {
      ...base.timings,
      headMs: { r000: [1, 20, 30, 40, 50], r050: [1, 2, 3, 4, 5] },
      tailMs: { r000: [1, 1, 1, 1, 1, 1], r050: [1, 1, 1, 1, 1, 1] },
    },
  };
}

const clients: JmdcClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A client of the tiny model behind `link`, on the test's clock: no warm-up, no state file, one thread. */
async function linkClient(
  link: EmulatedLink,
  now: () => number,
  opts: Pick<JmdcClientOptions, 'priors' | 'explore' | 'bounds' | 'backend'>,
): Promise<JmdcClient> {
  const client = await JmdcClient.create({
    model: TINY_MODEL_DIR,
    profile: linkProfile(),
    transport: link,
    warmUp: false,
    stateFile: false,
    threads: 1,
    // the device costs stay the profile's: the tiny network runs far faster than the profile says here
    bounds: { maxDeviceScale: 1 },
    ...opts,
    clock: { now },
    onWarning: () => {},
  });
  clients.push(client);
  return client;
}

describe('uplink bandwidth measured from requests of different sizes', () => {
  it('tracks a step from 10 to 0.5 Mbit/s within 5 requests, and the decision changes', async () => {
    const { manifest } = loadModel(TINY_MODEL_DIR);
    const link = new EmulatedLink(manifest.hash);
    let now = 1_000_000;
    const client = await linkClient(link, () => now, { priors: { initMs: 0, uplinkMbps: 10 } });
    const image = new Uint8Array(784).fill(7);
    const step = async (): Promise<ClassifyResult> => {
      now += 50;
      return client.classify(image);
    };
    for (let i = 0; i < 8; i++) {
      const r = await step();
      expect(r.decision.kind).toBe('cloud-only');
      expect(r.fallback).toBe(false);
    }
    expect(client.stats().rttMs).toBeCloseTo(20, 0);
    // the uplink drops to 0.5 Mbit/s
    link.mbps = 0.5;
    const after: ClassifyResult[] = [];
    for (let i = 0; i < 5; i++) after.push(await step());
    const switched = after.findIndex((r) => r.decision.kind === 'split');
    expect(switched).toBeGreaterThanOrEqual(1); // the first request after the step still used the old estimate
    expect(switched).toBeLessThanOrEqual(4); // within 5 requests
    expect(after.slice(switched).every((r) => r.decision.kind === 'split' && r.decision.point === 2)).toBe(true);
    const s = client.stats();
    expect(s.bandwidthIdentified).toBe(true);
    expect(s.uplinkMbps).toBeGreaterThan(0.4);
    expect(s.uplinkMbps).toBeLessThan(0.6);
    expect(s.rttMs).toBeGreaterThan(15);
    expect(s.rttMs).toBeLessThan(25);
    // the probe that pinned the slope down is reported, with its cost
    const probes = after.filter((r) => r.explored !== undefined);
    expect(probes).toHaveLength(1);
    expect(probes[0]?.explored).toEqual({ kind: 'upload-probe', point: 0, bytes: 4096 });
    expect(s.exploration).toEqual({ probes: 1, bytes: 4096 + HEADER_BYTES });
    expect(link.sent.filter((x) => x.probe)).toEqual([{ point: 0, bytes: 4096, probe: true }]);
    // and the planner now predicts the upload at the new rate
    expect(after.at(-1)?.predicted.uploadMs).toBeGreaterThan((300 * 8) / (0.6 * 1000));
  });

  it('explores when the link has not been measured for intervalMs while the device runs everything', async () => {
    const { manifest } = loadModel(TINY_MODEL_DIR);
    const link = new EmulatedLink(manifest.hash);
    link.rttMs = 5;
    let now = 1_000_000;
    // a prior RTT that makes the cloud look hopeless: the device wins and nothing would correct it
    const client = await linkClient(link, () => now, {
      priors: { initMs: 0, rttMs: 2000 },
      explore: { intervalMs: 10_000 },
    });
    const image = new Uint8Array(784);
    now += 1000;
    const r1 = await client.classify(image);
    expect(r1.decision.kind).toBe('edge-only');
    expect(r1.explored).toBeUndefined(); // not yet due
    now += 10_000;
    const r2 = await client.classify(image);
    expect(r2.decision.kind).toBe('edge-only');
    // no function was ever called (all probably cold): an upload probe would time a cold start, so the
    // exploration is a valid tiny request, whose answer reports its cold start
    expect(r2.explored).toMatchObject({ kind: 'warm-up' });
    expect(link.sent.filter((x) => !x.probe)).toHaveLength(1);
    // it measured a 5 ms round trip (its answer is in once the event loop turns): the cloud is planned again
    await new Promise((r) => setTimeout(r, 0));
    now += 10;
    const r3 = await client.classify(image);
    expect(r3.decision.kind).not.toBe('edge-only');
    expect(client.stats().rttMs).toBeLessThan(10);
  });
});

/** The tiny model's sessions, each run `delayMs` slower: a device slower than its profile says. */
function slowBackend(delayMs: number): InferenceBackend {
  const inner = new OrtBackend({ intraOpThreads: 1 });
  return {
    async load(path) {
      const s = await inner.load(path);
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        run: async (feeds) => {
          await new Promise((r) => setTimeout(r, delayMs));
          return s.run(feeds);
        },
        release: () => s.release(),
      };
    },
  };
}

describe('the device priced as it runs now', () => {
  it('learns the device speed from its own runs and prices every device cost with it', async () => {
    const { manifest } = loadModel(TINY_MODEL_DIR);
    const link = new EmulatedLink(manifest.hash);
    let now = 1_000_000;
    const client = await linkClient(link, () => now, {
      priors: { initMs: 0, rttMs: 10_000 },
      explore: false,
      bounds: {},
      backend: slowBackend(40),
    });
    const before = client.plan();
    expect(before.decision.kind).toBe('edge-only');
    expect(client.stats().deviceScale).toBe(1);
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      now += 100;
      const r = await client.classify(new Uint8Array(784));
      expect(r.decision.kind).toBe('edge-only');
      runs.push(r.timings.edgeMs);
    }
    runs.sort((a, b) => a - b);
    const measured = runs[2] as number;
    // the profile says 500 ms for the whole network; it runs in about 40 ms here
    expect(measured).toBeGreaterThanOrEqual(39);
    expect(measured).toBeLessThan(400);
    const s = client.stats();
    expect(s.deviceScale).toBeCloseTo(measured / before.predicted.edgeMs, 1);
    const after = client.plan();
    expect(after.predicted.edgeMs / measured).toBeGreaterThan(0.7);
    expect(after.predicted.edgeMs / measured).toBeLessThan(1.3);
    // the split's head is priced at the same speed
    const split = (p: typeof after) => p.alternatives.find((a) => a.decision.kind === 'split')?.predicted.edgeMs;
    expect(split(after)).toBeCloseTo((split(before) as number) * s.deviceScale, 6);
  });
});
