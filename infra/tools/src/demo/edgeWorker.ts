/**
 * The device side of the demo, in its own process (forked by `runDemo`, which may put it under a CPU
 * budget before it loads anything): a `JmdcClient` that calibrates on this (emulated) device, then
 * classifies the test images the parent asks for, one at a time, and reports each result.
 */
import { JmdcClient } from '@jmdc/edge-sdk';
import { loadModel } from '@jmdc/edge-sdk/model';
import { loadSplit } from '../dataset.js';
import { classifyOutcome, serveParent } from '../deviceWorker.js';
import type { EdgeClassify, EdgeInit, EdgeResult, FromEdge, ToEdge } from './protocol.js';

function send(msg: FromEdge): void {
  process.send?.(msg);
}

let client: JmdcClient | undefined;
let images: Uint8Array | undefined;
let imageBytes = 0;
let firstCallAt: number | undefined;

async function init(msg: EdgeInit): Promise<void> {
  const model = loadModel(msg.model);
  const split = loadSplit(model.dir, 'test', msg.images);
  images = split.images;
  imageBytes = split.imageBytes;
  let lambdaClient: unknown;
  if (msg.transport === 'invoke') {
    const { LambdaClient } = await import('@aws-sdk/client-lambda');
    lambdaClient = new LambdaClient({
      endpoint: msg.invokeEndpoint,
      region: msg.region,
      credentials: msg.credentials,
      maxAttempts: 1,
    });
  }
  client = await JmdcClient.create({
    model: msg.model,
    endpoints: msg.endpointsFile,
    transport: msg.transport,
    region: msg.region,
    credentials: msg.credentials,
    objective: msg.objective as never,
    threads: msg.threads,
    stateFile: false,
    explore: { intervalMs: msg.exploreIntervalMs },
    ...(lambdaClient ? { lambdaClient: lambdaClient as never } : {}),
    onWarning: (m) => process.stderr.write(`edge: ${m}\n`),
  });
  const t0 = performance.now();
  // bounded: a slow emulated device times every head of every variant in each round
  let lastReport = 0;
  const calibration = await client.calibrate({
    repetitions: 5,
    maxRepetitions: 15,
    warmup: 2,
    onProgress: (done, total, label) => {
      const now = performance.now();
      if (now - lastReport > 2000 || done === total) {
        lastReport = now;
        send({ type: 'progress', line: `calibration round ${done}/${total} ${label}` });
      }
    },
  });
  const calibrationMs = performance.now() - t0;
  const full = (calibration as { fullMs?: Record<string, number> }).fullMs ?? {};
  const wholeNetworkMs = full.r000 ?? Object.values(full)[0] ?? null;
  send({ type: 'ready', calibration, calibrationMs, wholeNetworkMs });
}

async function classify({ index, first, count }: EdgeClassify): Promise<void> {
  if (!client || !images) throw new Error('classify before init');
  const now = performance.now();
  firstCallAt ??= now;
  const batch: Uint8Array[] = [];
  for (let i = first; i < first + count; i++) batch.push(images.subarray(i * imageBytes, (i + 1) * imageBytes));
  const out: EdgeResult = {
    type: 'result',
    index,
    first,
    count,
    startedMs: now - firstCallAt,
    estimates: estimates(client),
  };
  Object.assign(out, await classifyOutcome(client, batch));
  out.estimates = estimates(client);
  send(out);
}

function estimates(c: JmdcClient): EdgeResult['estimates'] {
  const cond = c.conditions();
  const cold = cond.coldProb;
  return {
    uplinkMbps: cond.uplinkMbps,
    rttMs: cond.rttMs,
    coldProb: Array.isArray(cold) ? [...cold] : [typeof cold === 'number' ? cold : 0],
  };
}

// requests are served one at a time, in order; when the demo is gone there is nothing to serve
serveParent<ToEdge>(
  async (msg) => {
    if (msg.type === 'init') await init(msg);
    else if (msg.type === 'classify') await classify(msg);
  },
  () => client?.close(),
);
