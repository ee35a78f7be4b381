import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClassifyResult, JmdcClient, type JmdcClientOptions } from '@jmdc/edge-sdk';
import { decodePayload, encodeFeatures, rawPayloadBytes, reconstructFeatures } from '@jmdc/edge-sdk/codec';
import { ErrorCodes, isJmdcError, type JmdcError } from '@jmdc/edge-sdk/errors';
import { argmaxRows, featureDims, findVariant, preprocess } from '@jmdc/edge-sdk/model';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeCloud, startFakeCloud } from './fakeCloud.js';
import { tinyProfile } from './tinyProfile.js';

interface Golden {
  images: number[][];
  logits: Record<string, number[][]>;
}

let cloud: FakeCloud;
let golden: Golden;
let images: Uint8Array[];
/** Classes of the whole network per variant, computed here with real ORT. */
const whole: Record<string, number[]> = {};
const stateDir = mkdtempSync(join(tmpdir(), 'jmdc-client-'));
const clients: JmdcClient[] = [];

beforeAll(async () => {
  cloud = await startFakeCloud();
  golden = JSON.parse(readFileSync(join(cloud.model.dir, 'golden.json'), 'utf8')) as Golden;
  images = golden.images.map((im) => Uint8Array.from(im));
  const { manifest } = cloud.model;
  const x = preprocess(manifest, Uint8Array.from(golden.images.flat()), images.length);
  for (const v of manifest.variants) {
    whole[v.id] = argmaxRows(await cloud.runner.full(v.id, x, images.length), manifest.classes.length);
  }
});

afterAll(async () => {
  await cloud.close();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  // a request the client abandoned may still be running in the fake: let it finish before resetting
  await cloud.idle();
  cloud.hits = [];
  cloud.faults = [];
  cloud.pointFaults.clear();
  cloud.warm.clear();
  cloud.headDelayMs = 0;
});

async function client(extra: Partial<JmdcClientOptions> = {}): Promise<JmdcClient> {
  const c = await JmdcClient.create({
    model: cloud.model.dir,
    profile: tinyProfile(),
    endpoints: { localCloudUrl: cloud.url },
    objective: { minimize: 'latency', minAccuracy: 0.9 },
    priors: { initMs: 0 },
    warmUp: false,
    explore: false,
    stateFile: false,
    threads: 1,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    onWarning: () => {},
    ...extra,
  });
  clients.push(c);
  return c;
}

const SPLIT_P2 = {
  kind: 'split',
  point: 2,
  variant: 0,
  keep: 1,
  bits: 8,
  coder: 'deflate',
  quantScope: 'channel',
} as const;

describe('JmdcClient with a local fake cloud (tiny model, real ORT)', () => {
  it('classifies one image through a split at point 2; the result equals the whole network', async () => {
    const c = await client();
    const r = await c.classify(images[0] as Uint8Array);
    expect(r.decision).toEqual(SPLIT_P2);
    expect(r.fallback).toBe(false);
    expect(r.classes).toEqual([whole.r000?.[0]]);
    expect(r.bytesSent).toBeGreaterThan(0);
    expect(cloud.hits).toEqual([{ point: 2, bytes: r.bytesSent, via: 'url', status: 200 }]);
    expect(r.coldStart).toBe(true); // first call of that function
    expect(r.probabilities[0]?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(r.timings.edgeMs).toBeGreaterThan(0);
    expect(r.timings.cloudMs).toBeGreaterThan(0);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.edgeMs);
    // 59.48 + the default per-request work for 600 bytes (0.4 + 0.015 x 600 / 1024 ms)
    expect(r.predicted.totalMs).toBeCloseTo(59.8887890625, 6);
    expect(r.attempts).toBe(1);
  });

  it('classifies a batch of 4 in one request', async () => {
    const c = await client();
    const r = await c.classify(images);
    expect(r.classes).toEqual(whole.r000);
    expect(r.probabilities).toHaveLength(4);
    expect(cloud.hits).toHaveLength(1);
    expect(r.decision.kind).toBe('split');
  });

  it('runs a pruned variant with top-k regions, 4 bits and rANS when accuracy allows', async () => {
    const c = await client({ objective: { minimize: 'latency', minAccuracy: 0 } });
    const r = await c.classify(images);
    expect(r.decision).toEqual({
      kind: 'split',
      point: 2,
      variant: 0.5,
      keep: 0.5,
      bits: 4,
      coder: 'rans',
      quantScope: 'channel',
    });
    expect(r.fallback).toBe(false);
    // the same lossy path computed here: head of r050 -> codec -> decode -> tail of r050
    const { manifest } = cloud.model;
    const x = preprocess(manifest, Uint8Array.from(golden.images.flat()), 4);
    const head = await cloud.runner.head('r050', 2, x, 4);
    const payload = encodeFeatures(
      { dims: head.dims, batch: 4, features: head.features, attention: head.attention },
      { model: { id: manifest.id, hash: manifest.hash }, point: 2, variant: 0.5, keep: 0.5, bits: 4, coder: 'rans' },
    );
    const decoded = decodePayload(payload, { expectModelHash: manifest.hash, expectPoint: 2 });
    if (decoded.kind !== 'features') throw new Error('expected a features payload');
    const fill = Float32Array.from(findVariant(manifest, 0.5).fill[1] ?? []);
    const logits = await cloud.runner.tail('r050', 2, reconstructFeatures(decoded, fill), 4);
    expect(r.classes).toEqual(argmaxRows(logits, manifest.classes.length));
    // and mostly the classes of the pruned whole network
    expect(r.classes.filter((k, i) => k === whole.r050?.[i]).length).toBeGreaterThanOrEqual(3);
  });

  it('runs a float32 split row (bits 32, keep 1, coder none): the tail gets the head features exactly', async () => {
    const { manifest } = cloud.model;
    const dims = featureDims(findVariant(manifest, 0), 2);
    const n = dims[0] * dims[1] * dims[2];
    const frame = (batch: number) =>
      encodeFeatures(
        { dims, batch, features: new Float32Array(batch * n), attention: new Float32Array(batch * dims[1] * dims[2]) },
        { model: { id: manifest.id, hash: manifest.hash }, point: 2, variant: 0, bits: 32, coder: 'none' },
      ).byteLength;
    const p = tinyProfile();
    // the only split above the floor: the features of point 2 as they are
    p.rows.push({
      ...p.rows[2]!,
      bits: 32,
      coder: 'none',
      quantScope: 'channel',
      meanPayloadBytes: frame(1),
      valAccuracy: 0.915,
      testAccuracy: 0.915,
    });
    const c = await client({ profile: p, objective: { minimize: 'latency', minAccuracy: 0.912 } });
    const r = await c.classify(images);
    expect(r.decision).toEqual({ ...SPLIT_P2, bits: 32, coder: 'none' });
    expect(r.fallback).toBe(false);
    // header + 4 bytes per value of the batch of 4
    expect(r.bytesSent).toBe(frame(4));
    expect(cloud.hits).toEqual([{ point: 2, bytes: frame(4), via: 'url', status: 200 }]);
    // lossless: the tail on the head's own output gives the whole network's classes
    expect(r.classes).toEqual(whole.r000);
  });

  it('defaults to an accuracy floor of the full model - 1 point (0.91 here): never the 0.88 row', async () => {
    const c = await client({ objective: undefined });
    expect(c.objective).toEqual({ minimize: 'latency' });
    const r = await c.classify(images);
    expect(r.decision).toEqual(SPLIT_P2);
    expect(r.predicted.accuracy).toBe(0.91);
  });

  it('uploads the image uncompressed when only the cloud-only function is reachable', async () => {
    const c = await client({
      endpoints: { 0: { url: `${cloud.url}/points/0` } },
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    });
    // the loader adds the raw upload next to the profile's PNG row (800 B): about as many bytes (807)
    // and cheaper to prepare, so it is chosen
    const r = await c.classify(images);
    expect(r.decision).toMatchObject({ kind: 'cloud-only', point: 0, coder: 'raw' });
    expect(r.classes).toEqual(whole.r000); // lossless: exactly the whole network
    expect(r.bytesSent).toBe(rawPayloadBytes([1, 28, 28], images.length));
    expect(cloud.hits[0]).toMatchObject({ point: 0, bytes: r.bytesSent, status: 200 });
  });

  it('uploads the PNG when the bytes it saves take longer to send than it takes to encode', async () => {
    // a PNG of 200 B: the 607 B it saves take 0.49 ms at the default 10 Mbit/s, it costs 0.28 ms more to encode
    const p = tinyProfile();
    const png = p.rows.find((r) => r.coder === 'png');
    if (png) png.meanPayloadBytes = 200;
    const c = await client({
      profile: p,
      endpoints: { 0: { url: `${cloud.url}/points/0` } },
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    });
    const r = await c.classify(images);
    expect(r.decision).toMatchObject({ kind: 'cloud-only', point: 0, coder: 'png' });
    expect(r.classes).toEqual(whole.r000);
    expect(r.bytesSent).toBeLessThan(rawPayloadBytes([1, 28, 28], images.length));
  });

  it('goes through the Lambda Invoke API with transport: invoke', async () => {
    const c = await client({
      transport: 'invoke',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    });
    const r = await c.classify(images);
    expect(r.fallback).toBe(false);
    expect(r.classes).toEqual(whole.r000);
    expect(cloud.hits[0]).toMatchObject({ point: 2, via: 'invoke', status: 200 });
  });

  it('runs edge-only when the objective demands it (nothing sent)', async () => {
    const c = await client({ objective: { minimize: 'latency', minAccuracy: 0.915 } });
    const r = await c.classify(images);
    expect(r.decision.kind).toBe('edge-only');
    expect(r.classes).toEqual(whole.r000);
    expect(r.bytesSent).toBe(0);
    expect(r.attempts).toBe(0);
    expect(cloud.hits).toHaveLength(0);
  });

  it('plans without running anything: decision, breakdown, alternatives', async () => {
    const c = await client();
    const p = c.plan();
    expect(p.decision).toEqual(SPLIT_P2);
    expect(p.predicted).toMatchObject({ rttMs: 50, edgeMs: 2, encodeMs: 0.5, cloudMs: 6.5, coldMs: 0 });
    // the raw upload the loader adds next to the PNG row comes first, then the PNG upload itself
    expect(p.alternatives.map((a) => [a.decision.kind, a.decision.coder])).toEqual([
      ['cloud-only', 'raw'],
      ['cloud-only', 'png'],
      ['split', 'deflate'],
    ]);
    expect(c.plan({ uplinkMbps: 0.01 }).decision.kind).toBe('edge-only');
    expect(cloud.hits).toHaveLength(0);
  });

  it('rejects an unreachable accuracy floor at creation with JMDC_ERR_NO_PLAN', async () => {
    const e = await client({ objective: { minimize: 'latency', minAccuracy: 0.99 } }).catch((x: unknown) => x);
    expect(isJmdcError(e, ErrorCodes.NO_PLAN)).toBe(true);
  });
});

describe('bad input is rejected with a stable code before anything is sent', () => {
  const cases: Array<[string, () => unknown, string]> = [
    ['a wrong image size', () => new Uint8Array(100), ErrorCodes.SHAPE_MISMATCH],
    ['NaN pixels', () => Array.from({ length: 784 }, (_, i) => (i === 5 ? Number.NaN : 0)), ErrorCodes.NON_FINITE],
    ['an empty batch', () => [], ErrorCodes.INVALID_ARGUMENT],
    ['pixels out of 0..255', () => Array.from({ length: 784 }, () => 300), ErrorCodes.INVALID_ARGUMENT],
    ['mixed sizes', () => [new Uint8Array(784), new Uint8Array(783)], ErrorCodes.SHAPE_MISMATCH],
    ['65 images', () => Array.from({ length: 65 }, () => new Uint8Array(784)), ErrorCodes.BATCH_OUT_OF_RANGE],
    ['a string', () => 'cat', ErrorCodes.INVALID_ARGUMENT],
  ];
  it.each(cases)('rejects %s', async (_name, make, code) => {
    const c = await client();
    const e = (await c.classify(make() as Uint8Array).catch((x: unknown) => x)) as JmdcError;
    expect(isJmdcError(e)).toBe(true);
    expect(e.code).toBe(code);
    expect(cloud.hits).toHaveLength(0);
  });

  it('accepts a padded 32x32 image and number arrays', async () => {
    const c = await client();
    const padded = new Uint8Array(32 * 32);
    expect((await c.classify(padded)).classes).toHaveLength(1);
    expect((await c.classify(Array.from(images[1] as Uint8Array))).classes).toEqual([whole.r000?.[1]]);
  });

  it('throws JMDC_ERR_CLOSED after close()', async () => {
    const c = await client();
    await c.close();
    const e = await c.classify(images[0] as Uint8Array).catch((x: unknown) => x);
    expect(isJmdcError(e, ErrorCodes.CLOSED)).toBe(true);
  });
});

describe('fallback to the device', () => {
  it('finishes locally when the function fails (500): same classes, fallback cloud-error', async () => {
    cloud.pointFaults.set(2, { status: 500 });
    const c = await client();
    const r = await c.classify(images);
    expect(r.fallback).toMatchObject({ reason: 'cloud-error', code: ErrorCodes.CLOUD_ERROR });
    expect(r.classes).toEqual(whole.r000);
    expect(cloud.hits).toHaveLength(1); // a 500 is not retried
  });

  it('retries 503 three times, then finishes locally', async () => {
    cloud.pointFaults.set(2, { status: 503 });
    const c = await client();
    const r = await c.classify(images);
    expect(cloud.hits.map((h) => h.status)).toEqual([503, 503, 503]);
    expect(r.fallback).toMatchObject({ reason: 'cloud-error', code: ErrorCodes.CLOUD_ERROR });
    expect(r.classes).toEqual(whole.r000);
  });

  it('succeeds after one 503 (retried) without a fallback', async () => {
    cloud.faults.push({ status: 503 });
    const c = await client();
    const r = await c.classify(images);
    expect(r.fallback).toBe(false);
    expect(r.attempts).toBe(2);
    expect(r.classes).toEqual(whole.r000);
  });

  it('does not retry a 400 and says cloud-rejected', async () => {
    cloud.pointFaults.set(2, { status: 400 });
    const c = await client();
    const r = await c.classify(images);
    expect(cloud.hits).toHaveLength(1);
    expect(r.fallback).toMatchObject({ reason: 'cloud-rejected', code: ErrorCodes.CLOUD_REJECTED });
  });

  it('skips the cloud when its predicted part would miss the deadline', async () => {
    const c = await client();
    const r = await c.classify(images, { deadlineMs: 20 }); // cloud part predicted at 57 ms
    expect(r.fallback).toMatchObject({ reason: 'deadline', code: ErrorCodes.DEADLINE });
    expect(r.classes).toEqual(whole.r000);
    expect(r.bytesSent).toBe(0);
    expect(cloud.hits).toHaveLength(0);
  });

  it('abandons a cloud answer that comes after the deadline', async () => {
    cloud.pointFaults.set(2, { delayMs: 1500 });
    const c = await client({ priors: { initMs: 0, rttMs: 1 } });
    const t0 = Date.now();
    const r = await c.classify(images, { deadlineMs: 300 });
    expect(Date.now() - t0).toBeLessThan(1400);
    expect(r.fallback).toMatchObject({ reason: 'deadline', code: ErrorCodes.DEADLINE });
    expect(r.classes).toEqual(whole.r000);
  });

  it('finishes locally when the cloud is unreachable (network)', async () => {
    const c = await client({ endpoints: { localCloudUrl: 'http://127.0.0.1:1' } });
    const r = await c.classify(images);
    expect(r.fallback).toMatchObject({ reason: 'network', code: ErrorCodes.NETWORK });
    expect(r.classes).toEqual(whole.r000);
  });

  it('refuses logits from another model build (model-mismatch)', async () => {
    cloud.pointFaults.set(2, { modelHash: `sha256:${'0'.repeat(64)}` });
    const c = await client();
    const r = await c.classify(images);
    expect(r.fallback).toMatchObject({ reason: 'model-mismatch', code: ErrorCodes.MODEL_MISMATCH });
    expect(r.classes).toEqual(whole.r000);
  });

  it('loses nothing under concurrency: 24 parallel calls with failures each return a result', async () => {
    // every 3rd request fails in a different way, some are slow
    for (let i = 0; i < 40; i++) {
      cloud.faults.push(
        i % 6 === 0
          ? { status: 503 }
          : i % 6 === 3
            ? { status: 500 }
            : i % 6 === 4
              ? { destroy: true }
              : i % 5 === 0
                ? { delayMs: 50 }
                : undefined,
      );
    }
    const c = await client();
    const calls = Array.from({ length: 24 }, (_, i) => c.classify(i % 2 ? images : (images[i % 4] as Uint8Array)));
    const settled = await Promise.allSettled(calls);
    const results = settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason)) as Array<
      ClassifyResult | JmdcError
    >;
    expect(results).toHaveLength(24);
    results.forEach((r, i) => {
      if ('classes' in r) {
        expect(r.classes).toEqual(i % 2 ? whole.r000 : [whole.r000?.[i % 4]]);
      } else {
        expect(isJmdcError(r), String(r)).toBe(true);
      }
    });
    // here the device can always finish, so every call has a result
    expect(results.every((r) => 'classes' in r)).toBe(true);
    expect(results.some((r) => 'classes' in r && r.fallback !== false)).toBe(true);
    expect(results.some((r) => 'classes' in r && r.fallback === false)).toBe(true);
  });
});

describe('estimators, warm-up, calibration and state', () => {
  it('learns cold starts and RTT from responses and restores them after a restart', async () => {
    const stateFile = join(stateDir, 'tiny.json');
    const c1 = await client({ stateFile });
    expect(c1.conditions().coldProb).toEqual([1, 1, 1, 1, 1, 1]);
    await c1.classify(images);
    // the fake takes and reports 40 ms of init on a cold start; the learned cost is what the caller waited
    // beyond the predicted network time, never less than the reported init
    const initAfterCold = (c1.conditions().initMs as number[])[2] as number;
    expect(initAfterCold).toBeGreaterThanOrEqual(40);
    expect(initAfterCold).toBeLessThan(1000);
    // a cold answer is no network sample: the RTT is learned from the next, warm one
    expect(c1.stats().linkSamples).toBe(0);
    await c1.classify(images);
    const cond = c1.conditions();
    expect((cond.coldProb as number[])[2]).toBeLessThan(0.05);
    expect((cond.coldProb as number[])[1]).toBe(1);
    expect(cond.rttMs).toBeLessThan(50); // loopback, not the prior
    await c1.close();
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { version: number; estimators: unknown };
    expect(saved.version).toBe(2);
    const c2 = await client({ stateFile });
    expect((c2.conditions().coldProb as number[])[2]).toBeLessThan(0.05);
    expect(c2.conditions().rttMs).toBeCloseTo(cond.rttMs, 9);
  });

  it('avoids a cold function, warms it in the background, then uses it', async () => {
    const c = await client({ priors: { initMs: 1500 }, warmUp: true });
    // at creation every function is cold (never called): the device (500 ms) beats 59 + 1500 ms
    await vi.waitFor(() => expect(cloud.hits.length).toBeGreaterThan(0), { timeout: 5000 });
    expect(cloud.hits[0]?.point).toBe(2); // the warm-up went to the function the planner wants
    await vi.waitFor(() => expect((c.conditions().coldProb as number[])[2]).toBeLessThan(0.05), { timeout: 5000 });
    const r = await c.classify(images);
    expect(r.decision).toEqual(SPLIT_P2);
    expect(r.coldStart).toBe(false);
    expect(r.classes).toEqual(whole.r000);
  });

  it('probes the RTT while idle when probeIntervalMs is set (HEAD, runs nothing)', async () => {
    const c = await client({ probeIntervalMs: 50, priors: { initMs: 0, rttMs: 500 } });
    await vi.waitFor(() => expect(cloud.hits.some((h) => h.via === 'probe')).toBe(true), { timeout: 3000 });
    await vi.waitFor(() => expect(c.conditions().rttMs).toBeLessThan(500), { timeout: 3000 });
    expect(cloud.hits.every((h) => h.via === 'probe')).toBe(true);
  });

  it('calibrates head times on this device, uses them and stores them', async () => {
    const stateFile = join(stateDir, 'cal.json');
    const c = await client({ stateFile });
    const progress: string[] = [];
    const cal = await c.calibrate({
      repetitions: 3,
      maxRepetitions: 9,
      warmup: 1,
      // the plumbing is under test here (the consistency rule has its own tests with a scripted
      // backend): sub-millisecond heads on a loaded CI machine must not fail it
      tolerance: 10,
      absToleranceMs: 5,
      onProgress: (_d, _t, label) => progress.push(label),
    });
    expect(Object.keys(cal.headMs)).toEqual(['r000', 'r050']);
    expect(cal.headMs.r000).toHaveLength(5);
    for (const ms of [...(cal.headMs.r000 ?? []), ...(cal.headMs.r050 ?? [])]) expect(ms).toBeGreaterThan(0);
    // one progress line per round, between the minimum and the maximum number of rounds
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(cal.repetitions).toBeGreaterThanOrEqual(3);
    expect(cal.repetitions).toBeLessThanOrEqual(9);
    expect(cal.spread?.headMs.r000).toHaveLength(5);
    // the tiny network runs in well under a millisecond here, not the profile's 500 ms: the device wins
    const p = c.plan();
    expect(p.decision.kind).toBe('edge-only');
    expect(p.predicted.edgeMs).toBe(cal.fullMs.r000);
    const split = p.alternatives.find((a) => a.decision.kind === 'split' && a.decision.point === 2);
    expect(split?.predicted.edgeMs).toBe(cal.headMs.r000?.[1]);
    const onDisk = JSON.parse(readFileSync(stateFile, 'utf8')) as { calibration: { headMs: unknown } };
    expect(onDisk.calibration.headMs).toEqual(cal.headMs);
  });
});

describe('a failing cloud is avoided (circuit breaker per function)', () => {
  it('stops planning a refused cloud after the first failures, until the back-off ends; then one trial', async () => {
    let now = 1_000_000;
    // the device costs stay the profile's (the tiny network runs far faster than its 500 ms here, and a
    // learned device speed would keep every request on the device after the first failures)
    const c = await client({
      endpoints: { localCloudUrl: 'http://127.0.0.1:1' },
      clock: { now: () => now },
      bounds: { maxDeviceScale: 1 },
    });
    const results: ClassifyResult[] = [];
    for (let i = 0; i < 30; i++) results.push(await c.classify(images[i % 4] as Uint8Array));
    // the three cloud rows that reach the floor (split at 2, cloud-only, split at 1) fail once each, then the device runs
    const cloudPlanned = results.filter((r) => r.decision.kind !== 'edge-only');
    expect(cloudPlanned.map((r) => r.decision.point)).toEqual([2, 0, 1]);
    expect(cloudPlanned.every((r) => r.fallback !== false && r.fallback.reason === 'network')).toBe(true);
    expect(results.slice(3).every((r) => r.decision.kind === 'edge-only' && r.fallback === false)).toBe(true);
    for (const [i, r] of results.entries()) expect(r.classes).toEqual([whole.r000?.[i % 4]]);
    const s = c.stats();
    expect(s.points[2]?.circuit).toMatchObject({ state: 'open', failures: 1, lastError: ErrorCodes.NETWORK });
    expect(s.requests).toEqual({ sent: 3, failed: 3, fallbacks: 3 });
    // the back-off (1 s) ends: one trial request to point 2 only, which fails and doubles the back-off
    now += 1000;
    const trial = await c.classify(images[0] as Uint8Array);
    expect(trial.decision.point).toBe(2);
    expect(c.stats().points[2]?.circuit).toMatchObject({ state: 'open', failures: 2, until: now + 2000 });
    // the other two back-offs ended too: one trial each, then the device again
    expect((await c.classify(images[0] as Uint8Array)).decision.point).toBe(0);
    expect((await c.classify(images[0] as Uint8Array)).decision.point).toBe(1);
    expect((await c.classify(images[0] as Uint8Array)).decision.kind).toBe('edge-only');
    expect(c.stats().requests.sent).toBe(6);
  });

  it('pays the derived deadline once against a server that never answers, then avoids that function', async () => {
    cloud.pointFaults.set(2, { hang: true });
    const c = await client();
    const first = await c.classify(images);
    // no deadline given: max(1000 ms floor, 3 x 59.5 ms predicted) = 1000 ms, not a fixed 10 s
    expect(first.deadlineMs).toBe(1000);
    expect(first.fallback).toMatchObject({ reason: 'deadline', code: ErrorCodes.DEADLINE });
    expect(first.classes).toEqual(whole.r000);
    const second = await c.classify(images);
    expect(second.decision.kind).not.toBe('edge-only');
    expect(second.decision.point).not.toBe(2);
    expect(second.fallback).toBe(false);
    expect(second.classes).toEqual(whole.r000);
    expect(cloud.hits.filter((h) => h.point === 2)).toHaveLength(1);
    expect(c.stats().points[2]?.circuit.state).toBe('open');
    // the function had never answered (it may have been starting): the wait taught the link nothing
    // (and the second call, the first to its function, was cold: no sample either)
    expect(c.stats().linkSamples).toBe(0);
  });

  it('learns a lower bound of the link from a request a warm function did not answer by its deadline', async () => {
    const c = await client({ timeouts: { deadlineMs: 400 } });
    await c.classify(images); // cold: no network sample
    const warm = await c.classify(images);
    expect(warm.decision).toEqual(SPLIT_P2);
    expect(c.stats().linkSamples).toBe(1);
    const before = c.stats().rttMs;
    // the link stops delivering answers in time (here: the function holds them)
    cloud.pointFaults.set(2, { hang: true });
    const late = await c.classify(images);
    expect(late.fallback).toMatchObject({ reason: 'deadline' });
    // the request waited 400 ms: the link took at least that, less the function's predicted time
    const s = c.stats();
    expect(s.linkSamples).toBe(2);
    expect(s.rttMs).toBeGreaterThan(before);
  });

  it('derives the deadline from the prediction, with a full cold start when the function may be cold', async () => {
    const c = await client({ priors: { initMs: 300, rttMs: 100 } });
    const p = c.plan({ coldProb: 0.6 });
    expect(p.decision).toEqual(SPLIT_P2);
    expect(p.predicted.coldMs).toBeCloseTo(180, 9);
    // 3 x (predicted - 0.6 x 300 + 300)
    expect(c.deadlineFor(p)).toBeCloseTo(3 * (p.predicted.totalMs + 120), 6);
    const fixed = await client({ timeouts: { deadlineMs: 250 } });
    expect(fixed.deadlineFor(p)).toBe(250);
    const floor = await client({ timeouts: { deadlineFloorMs: 5000, deadlineFactor: 2 } });
    expect(floor.deadlineFor(floor.plan())).toBe(5000);
  });
});

describe('answers are believed only when plausible', () => {
  it('does not learn serverMs 1e6 or initMs 1e308: later requests still go to the cloud', async () => {
    cloud.faults.push({ serverMs: 1e6 }, { coldInitMs: 1e308 });
    const warnings: string[] = [];
    const c = await client({ onWarning: (m) => warnings.push(m) });
    const r1 = await c.classify(images);
    const r2 = await c.classify(images);
    for (const r of [r1, r2]) expect(r.classes).toEqual(whole.r000);
    for (let i = 0; i < 3; i++) {
      const r = await c.classify(images);
      // priced as before: no DEADLINE fallback for a cloud believed to take 1e6 ms or to start in 1e308 ms
      expect(r.decision.kind).not.toBe('edge-only');
      expect(r.predicted.totalMs).toBeLessThan(100);
      expect(r.fallback).toBe(false);
    }
    const s = c.stats();
    expect(s.discarded).toBe(2);
    // learned from the real cold start (40 ms of init plus what the caller waited beyond the network), never 1e308
    for (const p of s.points) expect(p.initMs).toBeLessThan(1000);
    expect(s.points[2]?.cloudScale).toBeLessThan(1000);
    expect(warnings.some((w) => /implausible/.test(w))).toBe(true);
  });

  it('finishes locally when the logits are beyond float32 or the model hash is missing', async () => {
    const big = Array.from({ length: 4 }, () => [1e39, ...Array.from({ length: 9 }, () => 0)]);
    cloud.faults.push({ logits: big }, { modelHash: '' });
    const c = await client();
    const r1 = await c.classify(images);
    expect(r1.fallback).not.toBe(false);
    expect(r1.classes).toEqual(whole.r000);
    for (const row of r1.probabilities) for (const p of row) expect(Number.isFinite(p)).toBe(true);
    const r2 = await c.classify(images);
    expect(r2.fallback).not.toBe(false);
    expect(r2.classes).toEqual(whole.r000);
  });
});

describe('warm-up for both objectives, and stats', () => {
  it('warms a function for maximize: accuracy too', async () => {
    const c = await client({
      objective: { maximize: 'accuracy', maxLatencyMs: 200 },
      priors: { initMs: 1500 },
      warmUp: true,
    });
    await vi.waitFor(() => expect(cloud.hits.length).toBeGreaterThan(0), { timeout: 5000 });
    expect(cloud.hits[0]).toMatchObject({ status: 200, via: 'url' });
    await vi.waitFor(() => expect(c.stats().warmUps.sent).toBe(1), { timeout: 5000 });
    await vi.waitFor(() => expect(Math.min(...(c.conditions().coldProb as number[]))).toBeLessThan(0.05), {
      timeout: 5000,
    });
    const r = await c.classify(images);
    expect(r.decision.kind).not.toBe('edge-only');
    expect(r.predicted.totalMs).toBeLessThanOrEqual(200);
    expect(r.classes).toEqual(r.decision.variant === 0 ? whole.r000 : r.classes);
  });

  it('reports estimates, circuit states and what was sent', async () => {
    const c = await client();
    await c.classify(images); // cold: no network sample
    await c.classify(images); // warm
    const s = c.stats();
    expect(s.requests).toEqual({ sent: 2, failed: 0, fallbacks: 0 });
    expect(s.linkSamples).toBe(1);
    expect(s.rttMs).toBeLessThan(50);
    expect(s.points).toHaveLength(6);
    expect(s.points[2]).toMatchObject({ point: 2, circuit: { state: 'closed', failures: 0 } });
    expect(s.points[2]?.initMs).toBeGreaterThanOrEqual(40);
    expect(s.points[2]?.coldProb).toBeLessThan(0.05);
    expect(s.points[1]?.idleMs).toBeNull();
    expect(s.exploration).toEqual({ probes: 0, bytes: 0 });
  });
});

describe('bounded exploration through the real URL transport', () => {
  it('sends one upload probe (rejected at once by the function) when the link has one request size only', async () => {
    let now = 5_000_000;
    const c = await client({ explore: { intervalMs: 10_000 }, clock: { now: () => now } });
    const r1 = await c.classify(images);
    expect(r1.explored).toBeUndefined();
    expect(c.stats().bandwidthIdentified).toBe(false);
    now += 10_000;
    const r2 = await c.classify(images);
    expect(r2.explored).toEqual({ kind: 'upload-probe', point: 2, bytes: 4096 });
    now += 500;
    // its timing gives the fit a second request size: the bandwidth is now measured, not the prior
    await vi.waitFor(() => expect(c.stats().bandwidthIdentified).toBe(true), { timeout: 5000 });
    // the function ran to refuse the probe: its idle time counts from the probe's answer
    expect(c.stats().points[2]?.idleMs).toBe(0);
    // the function refused the probe's body before decoding anything; the request was measured
    expect(cloud.hits.map((h) => [h.point, h.bytes, h.status])).toEqual([
      [2, r1.bytesSent, 200],
      [2, r2.bytesSent, 200],
      [2, 4096, 400],
    ]);
    const s = c.stats();
    expect(s.exploration.probes).toBe(1);
    expect(s.exploration.bytes).toBeGreaterThan(4096); // body + request head
    // not due again before another interval
    now += 1000;
    expect((await c.classify(images)).explored).toBeUndefined();
  });

  it('probes at the first call after an idle gap the link was not measured in; the next call waits for its answer', async () => {
    let now = 7_000_000;
    cloud.headDelayMs = 120;
    // priors that make the cloud look hopeless: every call runs on the device, and no call measures the link
    const c = await client({
      explore: { intervalMs: 1e9 },
      priors: { initMs: 0, uplinkMbps: 0.001, rttMs: 20_000 },
      clock: { now: () => now },
    });
    const r1 = await c.classify(images);
    expect(r1.decision.kind).toBe('edge-only');
    expect(r1.explored).toBeUndefined();
    now += 5_000; // shorter than the link's staleAfterMs (10 s): no probe
    expect((await c.classify(images)).explored).toBeUndefined();
    now += 15_000;
    const r3 = await c.classify(images);
    // no function has answered yet (it may be cold): a HEAD, which starts nothing
    expect(r3.explored).toEqual({ kind: 'probe', point: 2, bytes: 0 });
    expect(c.stats().linkSamples).toBe(0);
    // the next call comes at once: it waits for the probe's answer (120 ms here) before it plans and runs
    now += 10;
    const r4 = await c.classify(images);
    expect(c.stats().linkSamples).toBe(1);
    expect(r4.timings.totalMs).toBeGreaterThanOrEqual(100);
    // the wait is its own part of the call's time, apart from planning and the inference
    const t = r4.timings;
    expect(t.waitMs).toBeGreaterThanOrEqual(100);
    expect(t.planMs).toBeGreaterThan(0);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.waitMs + t.planMs + t.edgeMs);
    expect(r1.timings.waitMs).toBe(0);
    expect(r4.explored).toBeUndefined();
    expect(cloud.hits.filter((h) => h.via === 'probe')).toHaveLength(1);
  });

  it('does not wait for a probe with explore.waitMs 0; probeSettled() waits for it', async () => {
    let now = 8_000_000;
    cloud.headDelayMs = 300;
    const c = await client({
      explore: { intervalMs: 1e9, waitMs: 0 },
      priors: { initMs: 0, uplinkMbps: 0.001, rttMs: 20_000 },
      clock: { now: () => now },
    });
    await c.classify(images);
    now += 15_000;
    expect((await c.classify(images)).explored).toMatchObject({ kind: 'probe' });
    now += 10;
    await c.classify(images);
    // the call did not wait: the probe is still out
    expect(c.stats().linkSamples).toBe(0);
    expect(c.stats().exploration.probes).toBe(1);
    // an app can wait for it: not long enough, then until it is answered
    await c.probeSettled(20);
    expect(c.stats().linkSamples).toBe(0);
    await c.probeSettled();
    expect(c.stats().linkSamples).toBe(1);
  });
});
