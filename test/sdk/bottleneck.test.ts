/**
 * JmdcClient with a profile whose best row splits through a learned bottleneck of the tiny fixture:
 * the device runs head + encoder and sends the code flagged as one; the (fake) cloud runs decoder +
 * tail; the result, the plan and the fallback say so.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JmdcClient, type Profile } from '@jmdc/edge-sdk';
import { ErrorCodes } from '@jmdc/edge-sdk/errors';
import { argmaxRows, type Bottleneck, preprocess } from '@jmdc/edge-sdk/model';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeCloud, startFakeCloud } from './fakeCloud.js';
import { tinyProfile } from './tinyProfile.js';

let cloud: FakeCloud;
let images: Uint8Array[];
let bottleneck: Bottleneck;
/** Classes of head -> encoder -> decoder -> tail (uncompressed code), computed here with real ORT. */
let chain: number[];
const clients: JmdcClient[] = [];

beforeAll(async () => {
  cloud = await startFakeCloud();
  const { manifest } = cloud.model;
  const b = manifest.bottlenecks?.find((x) => x.variant === 0 && x.point === 2);
  if (!b) throw new Error('the tiny fixture has no bottleneck at point 2 of r000');
  bottleneck = b;
  const golden = JSON.parse(readFileSync(join(cloud.model.dir, 'golden.json'), 'utf8')) as { images: number[][] };
  images = golden.images.map((im) => Uint8Array.from(im));
  const x = preprocess(manifest, Uint8Array.from(golden.images.flat()), images.length);
  const head = await cloud.runner.head(0, 2, x, images.length, { bottleneck: true });
  const logits = await cloud.runner.tail(0, 2, head.features, images.length, { bottleneck: true });
  chain = argmaxRows(logits, manifest.classes.length);
});

afterAll(async () => {
  await cloud.close();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cloud.idle();
  cloud.hits = [];
  cloud.frames = [];
  cloud.pointFaults.clear();
  cloud.warm.clear();
});

/** The tiny profile plus a bottleneck row at point 2 of r000 that beats every other row (40 bytes). */
function profileWithBottleneck(): Profile {
  const p = tinyProfile();
  p.rows.push({
    point: 2,
    variant: 0,
    keep: 1,
    bits: 8,
    coder: 'none',
    bottleneck: true,
    valAccuracy: 0.91,
    testAccuracy: 0.91,
    meanPayloadBytes: 40,
    float32FeatureBytes: 0,
    headMacs: 0,
    tailMacs: 0,
  });
  p.timings.bottleneckMs = { [bottleneck.id]: { encoderMs: 0.1, decoderMs: 0.1 } };
  return p;
}

async function client(): Promise<JmdcClient> {
  const c = await JmdcClient.create({
    model: cloud.model.dir,
    profile: profileWithBottleneck(),
    endpoints: { localCloudUrl: cloud.url },
    objective: { minimize: 'latency', minAccuracy: 0.9 },
    priors: { initMs: 0 },
    warmUp: false,
    explore: false,
    stateFile: false,
    threads: 1,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    onWarning: () => {},
  });
  clients.push(c);
  return c;
}

describe('JmdcClient through a learned bottleneck (tiny model, real ORT)', () => {
  it('plans the bottleneck row, sends the code flagged as one, and classifies like the uncompressed chain', async () => {
    const c = await client();
    const plan = c.plan();
    expect(plan.decision).toMatchObject({ kind: 'split', point: 2, variant: 0, bottleneck: true });
    // the head includes the encoder's time from the profile
    expect(plan.predicted.edgeMs).toBeCloseTo(2 + 0.1, 6);
    const r = await c.classify(images);
    expect(r.decision.bottleneck).toBe(true);
    expect(r.fallback).toBe(false);
    expect(r.classes).toEqual(chain);
    expect(cloud.frames).toEqual([{ point: 2, variant: 0, bottleneck: true }]);
    // a code of 4 channels is sent where the features have 8
    const [c0, h, w] = bottleneck.codeShape;
    expect(r.bytesSent).toBeLessThan(images.length * c0 * h * w + 200);
  });

  it('finishes on the device with decoder + tail when the function fails', async () => {
    cloud.pointFaults.set(2, { status: 500 });
    const c = await client();
    const r = await c.classify(images);
    expect(r.decision.bottleneck).toBe(true);
    expect(r.fallback).toMatchObject({ reason: 'cloud-error', code: ErrorCodes.CLOUD_ERROR });
    expect(r.classes).toEqual(chain);
  });

  it('calibrate times the encoders of the manifest’s bottlenecks, and the plan uses it', async () => {
    const c = await client();
    // few rounds, and no consistency check between heads (a loaded machine may reorder them): the
    // encoders' timings are under test here
    const cal = await c.calibrate({ repetitions: 3, maxRepetitions: 5, warmup: 1, targetSpread: 10, tolerance: 1000 });
    const ids = (cloud.model.manifest.bottlenecks ?? []).map((b) => b.id);
    expect(Object.keys(cal.bottleneckMs ?? {}).sort()).toEqual([...ids].sort());
    const enc = cal.bottleneckMs?.[bottleneck.id] as number;
    expect(enc).toBeGreaterThan(0);
    const plan = c.plan();
    const head = cal.headMs.r000?.[1] as number;
    const option = [plan, ...plan.alternatives].find((o) => o.decision.bottleneck);
    if (option) expect(option.predicted.edgeMs).toBeCloseTo(head + enc, 6);
  });
});
