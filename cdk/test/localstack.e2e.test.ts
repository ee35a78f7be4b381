/**
 * End to end on LocalStack (infra/localstack/docker-compose.yml): deploy the stack (tiny fixture,
 * points 0 and 1, this machine's architecture) with `npm run deploy:local`'s script, then run real
 * requests through Lambda Invoke and through each Function URL, and compare with the golden logits.
 *
 * LocalStack needs Docker, which the development machines here lack: the test runs only when
 * GET http://localhost:4566/_localstack/health answers, and says so when it skips.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DeleteStackCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { encodeFeatures, encodeRaw } from '@jmdc/edge-sdk/codec';
import { argmaxRows, loadModel, ModelRunner, preprocess } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointsFile } from '../lib/endpoints.js';
import { deployLocal, LOCAL_CREDS, TINY } from './localDeploy.js';

const ENDPOINT = process.env.JMDC_LOCAL_ENDPOINT ?? 'http://localhost:4566';
const STACK = `JmdcLocalStackE2e${process.pid}`;

async function localstackHealth(): Promise<string | undefined> {
  try {
    const r = await fetch(`${ENDPOINT}/_localstack/health`, { signal: AbortSignal.timeout(2000) });
    if (!r.ok) return `${ENDPOINT}/_localstack/health answered ${r.status}: not LocalStack (moto_server?)`;
    const body = (await r.json()) as { services?: Record<string, string> };
    const lambda = body.services?.lambda;
    if (lambda === 'disabled' || lambda === undefined) return 'LocalStack is up but its lambda service is not enabled';
    return undefined;
  } catch (e) {
    return `no LocalStack at ${ENDPOINT} (${(e as Error).message}); start it with docker compose -f infra/localstack/docker-compose.yml up -d`;
  }
}

const skipReason = await localstackHealth();
if (skipReason) console.log(`[localstack.e2e] skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('LocalStack end to end (tiny fixture, points 0 and 1)', () => {
  const model = loadModel(TINY);
  const { manifest } = model;
  const golden = JSON.parse(readFileSync(join(TINY, 'golden.json'), 'utf8')) as {
    images: number[][];
    logits: Record<string, number[][]>;
    sourceShape: [number, number, number];
  };
  const batch = golden.images.length;
  const pixels = Uint8Array.from(golden.images.flat());
  const ref = { id: manifest.id, hash: manifest.hash };
  const variant = manifest.variants[0]!;
  const expected = argmaxRows(Float32Array.from(golden.logits[variant.id]!.flat()), manifest.classes.length);
  const lambda = new LambdaClient({ endpoint: ENDPOINT, region: 'us-east-1', credentials: LOCAL_CREDS });
  const cfn = new CloudFormationClient({ endpoint: ENDPOINT, region: 'us-east-1', credentials: LOCAL_CREDS });
  const payloads = new Map<number, Uint8Array>();
  let endpoints: EndpointsFile;
  let work = '';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'jmdc-localstack-'));
    const endpointsFile = join(work, 'endpoints.json');
    await deployLocal({ endpoint: ENDPOINT, work, stack: STACK, points: [0, 1], endpointsFile, timeoutMs: 600_000 });
    endpoints = JSON.parse(readFileSync(endpointsFile, 'utf8')) as EndpointsFile;

    payloads.set(0, encodeRaw(pixels, golden.sourceShape, batch, { model: ref }));
    const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: 1 }));
    const head = await runner.head(variant.id, 1, preprocess(manifest, pixels, batch), batch);
    payloads.set(
      1,
      encodeFeatures(
        { dims: head.dims, batch, features: head.features, attention: head.attention },
        { model: ref, point: 1, variant: variant.pruneRatio, keep: 1, bits: 8 },
      ),
    );
    await runner.close();
  }, 660_000);

  afterAll(async () => {
    await cfn.send(new DeleteStackCommand({ StackName: STACK })).catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('wrote endpoints.json with both points, the model and its hash', () => {
    expect(endpoints).toMatchObject({ model: manifest.id, modelHash: manifest.hash, region: 'us-east-1' });
    expect(Object.keys(endpoints.points).sort()).toEqual(['0', '1']);
  });

  it.each([0, 1])('point %i over Invoke: 200, the whole network’s classes, a cold start then a warm one', async (p) => {
    const send = async () => {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: endpoints.points[String(p)]!.functionName,
          Payload: Buffer.from(JSON.stringify({ payload: Buffer.from(payloads.get(p)!).toString('base64') })),
        }),
      );
      expect(out.FunctionError, Buffer.from(out.Payload ?? []).toString()).toBeUndefined();
      return JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8'));
    };
    const first = await send();
    const second = await send();
    expect(first).toMatchObject({ statusCode: 200, point: p, modelHash: manifest.hash, classes: expected });
    expect(second.coldStart).toBe(false);
    expect(first.initMs).toBeGreaterThan(0);
  }, 300_000);

  it.each([0, 1])('point %i over its Function URL: 200 JSON; a GET is a 400', async (p) => {
    const url = endpoints.points[String(p)]!.url;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: payloads.get(p)!,
    });
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as { classes: number[] };
    expect(res.status).toBe(200);
    expect(body.classes).toEqual(expected);
    const get = await fetch(url);
    expect(get.status).toBe(400);
  }, 300_000);
});
