/**
 * Benchmark of the local cloud: cold starts (instance init measured in the child, and the first
 * request end to end) and warm requests through the signed Function URL route and the Invoke API,
 * with the front's overhead (end to end minus the handler's own `serverMs`). Prints one JSON object.
 *
 *   npx tsx --conditions source infra/local-cloud/src/bench/coldWarm.ts [--model tiny-vgg11|fmnist-vgg16|<dir>] [--requests 50] [--colds 3]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvokeTransport, UrlTransport } from '@jmdc/edge-sdk';
import { num, parseFlags } from '@jmdc/edge-sdk/cli';
import { encodeRaw } from '@jmdc/edge-sdk/codec';
import { loadModel } from '@jmdc/edge-sdk/model';
import { startLocalCloud } from '../localCloud.js';
import { REPO_ROOT } from '../synth.js';

const f = parseFlags(process.argv.slice(2), {
  model: { type: 'string' },
  requests: { type: 'string' },
  colds: { type: 'string' },
});
const modelArg = f.model ?? 'tiny-vgg11';
const modelDir = modelArg === 'tiny-vgg11' ? join(REPO_ROOT, 'test', 'fixtures', 'models', 'tiny-vgg11') : modelArg;
const requests = f.requests === undefined ? 50 : num(f.requests, 'requests', { int: true, min: 1 });
const colds = f.colds === undefined ? 3 : num(f.colds, 'colds', { int: true, min: 1 });

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(q(0.5)), p95: r(q(0.95)), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const instanceInitMs: number[] = [];
const cloud = await startLocalCloud({
  model: modelDir,
  points: [0],
  onInfo: (l) => process.stderr.write(`${l}\n`),
  onInvocation: (l) => {
    if (l.cold && l.initMs !== undefined) instanceInitMs.push(l.initMs);
  },
});
const { manifest } = loadModel(modelDir);
const golden = JSON.parse(readFileSync(join(modelDir, manifest.golden ?? 'golden.json'), 'utf8')) as {
  sourceShape: [number, number, number];
  images: number[][];
};
const payload = encodeRaw(Uint8Array.from(golden.images[0]!), golden.sourceShape, 1, {
  model: { id: manifest.id, hash: manifest.hash },
});
const name = cloud.endpoints.points['0']!.functionName;
const url = new UrlTransport({
  urls: { 0: cloud.endpoints.points['0']!.url },
  region: 'us-east-1',
  credentials: CREDS,
});
const invoke = new InvokeTransport({
  functions: { 0: name },
  endpoint: cloud.url,
  region: 'us-east-1',
  credentials: CREDS,
});
const coldTotalMs: number[] = [];
const handlerInitMs: number[] = [];
try {
  for (let i = 0; i < colds; i++) {
    cloud.injectFault(name, { kind: 'coldStorm', count: 1 });
    const t0 = performance.now();
    const r = await url.send(0, payload);
    coldTotalMs.push(performance.now() - t0);
    if (r.response.coldStart && r.response.initMs !== undefined) handlerInitMs.push(r.response.initMs);
  }
  const warm = async (t: UrlTransport | InvokeTransport) => {
    const total: number[] = [];
    const overhead: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const r = await t.send(0, payload);
      const ms = performance.now() - t0;
      total.push(ms);
      overhead.push(ms - r.response.serverMs);
    }
    return { totalMs: stats(total), frontOverheadMs: stats(overhead) };
  };
  const urlWarm = await warm(url);
  const invokeWarm = await warm(invoke);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'local-cloud cold/warm',
      model: manifest.id,
      point: 0,
      cold: {
        instanceInitMs: stats(instanceInitMs),
        handlerInitMs: stats(handlerInitMs),
        firstRequestMs: stats(coldTotalMs),
      },
      warmUrl: urlWarm,
      warmInvoke: invokeWarm,
      stats: cloud.stats(),
    })}\n`,
  );
} finally {
  await url.close();
  await invoke.close?.();
  await cloud.stop();
}
