/**
 * The real bundles of the tiny fixture model, synthesized for this machine's architecture by `cdk synth`
 * (cached in .jmdc/local-cloud), run by the local cloud and called through the SDK's own transports:
 * the signed Function URL transport and the Invoke transport (@aws-sdk/client-lambda). The classes equal
 * the whole network run locally.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvokeTransport, UrlTransport } from '@jmdc/edge-sdk';
import { encodeFeatures, encodeRaw } from '@jmdc/edge-sdk/codec';
import { argmaxRows, loadModel, ModelRunner, preprocess } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InvocationLog, type LocalCloud, startLocalCloud } from './index.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const model = loadModel(TINY);
const { manifest } = model;
const golden = JSON.parse(readFileSync(join(TINY, 'golden.json'), 'utf8')) as {
  sourceShape: [number, number, number];
  images: number[][];
};
const batch = golden.images.length;
const pixels = Uint8Array.from(golden.images.flat());
const ref = { id: manifest.id, hash: manifest.hash };

let cloud: LocalCloud;
const logs: InvocationLog[] = [];
const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
let expected: number[] = [];
let featurePayload: Uint8Array;

beforeAll(async () => {
  cloud = await startLocalCloud({
    model: TINY,
    points: [0, 2],
    onInvocation: (l) => logs.push(l),
    onInfo: (l) => console.log(`[tinyModel.test] ${l}`),
  });
  const input = preprocess(manifest, pixels, batch);
  expected = argmaxRows(await runner.full('r000', input, batch), manifest.classes.length);
  const head = await runner.head('r000', 2, input, batch);
  featurePayload = encodeFeatures(
    { dims: head.dims, batch, features: head.features, attention: head.attention },
    { model: ref, point: 2, variant: 0, keep: 1, bits: 8 },
  );
}, 180_000);

afterAll(async () => {
  await runner.close();
  const pids = cloud.pids();
  await cloud.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
});

describe('the tiny model on the local cloud', () => {
  it('serves the x86_64/arm64 assembly of the host with the template names and one point per function', () => {
    expect(cloud.functions.map((f) => f.point)).toEqual([0, 2]);
    for (const f of cloud.functions) {
      expect(f.name).toMatch(/^Jmdc-Point\dFunction[0-9A-F]{8}$/);
      expect(f).toMatchObject({ memoryMb: 2048, timeoutS: 15 });
    }
    expect(cloud.endpoints).toMatchObject({ model: manifest.id, modelHash: manifest.hash });
  });

  it('answers the signed Function URL transport with the classes of the whole network, cold then warm', async () => {
    const t = new UrlTransport({
      urls: { 0: cloud.endpoints.points['0']!.url, 2: cloud.endpoints.points['2']!.url },
      region: 'us-east-1',
      credentials: CREDS,
    });
    try {
      const raw = encodeRaw(pixels, golden.sourceShape, batch, { model: ref });
      const cold = await t.send(0, raw);
      expect(cold.response.classes).toEqual(expected);
      expect(cold.response.coldStart).toBe(true);
      expect(cold.response.initMs).toBeGreaterThan(0);
      const warm = await t.send(0, raw);
      expect(warm.response.coldStart).toBe(false);
      const split = await t.send(2, featurePayload);
      expect(split.response.classes).toEqual(expected);
      const coldLog = logs.find((l) => l.point === 0 && l.cold)!;
      expect(coldLog).toMatchObject({ route: 'url', status: 200 });
      // the handler's own init (model + sessions) happens inside the instance's measured init
      expect(coldLog.initMs!).toBeGreaterThanOrEqual(cold.response.initMs!);
    } finally {
      await t.close?.();
    }
  });

  it('answers the Invoke transport (client-lambda with an endpoint override) the same', async () => {
    const t = new InvokeTransport({
      functions: { 0: cloud.endpoints.points['0']!.functionName, 2: cloud.endpoints.points['2']!.functionName },
      endpoint: cloud.url,
      region: 'us-east-1',
      credentials: CREDS,
    });
    try {
      const r = await t.send(2, featurePayload);
      expect(r.response.classes).toEqual(expected);
      expect(logs.at(-1)).toMatchObject({ route: 'invoke', status: 200, point: 2, cold: false });
    } finally {
      await t.close?.();
    }
    expect(cloud.stats()).toMatchObject({ coldStarts: 2, throttles: 0 });
  });
});
