/**
 * The SDK as an app developer gets it: `npm pack` (prepack builds dist), the tarball installed into an
 * empty folder from the npm cache (`npm ci --offline`, with a lockfile made from the repository's),
 * and two apps run from that folder — ESM (`.mjs`, top-level await) and CommonJS (a default
 * `npm init -y` project: `.js` with `await import()` inside an async function, the way the README
 * documents) — each classifying a Fashion-MNIST image edge-only with the shipped model and against the
 * local cloud (`@jmdc/local-cloud`: the CDK assembly's bundles in Lambda-runtime processes), found
 * through the `endpoints.json` it writes and signed with credentials from the environment, as an app
 * deployed against AWS would be. Then the README's onnxruntime trim command is run and the ESM app
 * again. One pack and one install are shared by every case.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type InvocationLog, type LocalCloud, startLocalCloud } from '@jmdc/local-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appLockfile, type Lockfile } from './appLockfile.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL_DIR = join(ROOT, 'models', 'fmnist-vgg16');
const golden = JSON.parse(readFileSync(join(MODEL_DIR, 'golden.json'), 'utf8')) as {
  images: number[][];
  labels: number[];
  logits: Record<string, number[][]>;
};

/** The app body; `JmdcClient` is in scope. Prints one JSON line. */
const BODY = `
const env = process.env;
const image = Uint8Array.from(JSON.parse(env.JMDC_IMAGE));
const edgeClient = await JmdcClient.create({ model: env.JMDC_MODEL_DIR, stateFile: false, threads: 1 });
const e = await edgeClient.classify(image);
await edgeClient.close();
const out = { edge: { classes: e.classes, probabilities: e.probabilities, decision: e.decision, fallback: e.fallback } };
if (env.JMDC_ENDPOINTS) {
  const cloudClient = await JmdcClient.create({
    model: env.JMDC_MODEL_DIR,
    profile: env.JMDC_PROFILE,
    endpoints: env.JMDC_ENDPOINTS,
    priors: { initMs: 0 },
    warmUp: false,
    timeouts: { deadlineMs: 60000 },
    stateFile: false,
    threads: 1,
  });
  const c = await cloudClient.classify(image);
  await cloudClient.close();
  out.cloud = { classes: c.classes, decision: c.decision, fallback: c.fallback, attempts: c.attempts, bytesSent: c.bytesSent };
}
console.log(JSON.stringify(out));
`;
const ESM_APP = `import { JmdcClient } from '@jmdc/edge-sdk';\n${BODY}`;
const CJS_APP = `'use strict';\nasync function main() {\n  const { JmdcClient } = await import('@jmdc/edge-sdk');\n${BODY}}\nmain().catch((e) => { console.error(e); process.exit(1); });\n`;

interface AppOut {
  edge: {
    classes: number[];
    probabilities: number[][];
    decision: { kind: string; variant: number };
    fallback: unknown;
  };
  cloud?: {
    classes: number[];
    decision: { kind: string; point: number };
    fallback: unknown;
    attempts: number;
    bytesSent: number;
  };
}

function duBytes(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(path)) n += duBytes(join(path, e));
  return n;
}

function variantKey(v: number): string {
  return `r${String(Math.round(v * 100)).padStart(3, '0')}`;
}

function argmax(row: number[]): number {
  return row.reduce((best, x, i) => (x > (row[best] as number) ? i : best), 0);
}

function softmax(row: number[]): number[] {
  const m = Math.max(...row);
  const ex = row.map((x) => Math.exp(x - m));
  const s = ex.reduce((a, b) => a + b, 0);
  return ex.map((x) => x / s);
}

let tmp: string;
let app: string;
let localCloud: LocalCloud;
let endpointsFile: string;
const served: InvocationLog[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'jmdc-packed-'));
  app = join(tmp, 'app');
  mkdirSync(app);
  const packed = await run('npm', ['pack', '-w', '@jmdc/edge-sdk', '--pack-destination', tmp, '--json'], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string }>;
  const tgz = join(tmp, (info as { filename: string }).filename);
  const pkg = JSON.parse((await run('tar', ['-xOzf', tgz, 'package/package.json'])).stdout);
  const sri = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  const rel = `../${(info as { filename: string }).filename}`;
  const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'jmdc-packed-app',
      version: '1.0.0',
      private: true,
      dependencies: { [pkg.name]: `file:${rel}` },
    }),
  );
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(appLockfile(rootLock, pkg, rel, sri)));
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], {
    cwd: app,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    maxBuffer: 64 * 1024 * 1024,
  });
  writeFileSync(join(app, 'esm.mjs'), ESM_APP);
  writeFileSync(join(app, 'cjs.js'), CJS_APP);

  // the edge device's timings x 1000 (a slow device) and no cold start expected: the planner sends
  // the image to the cloud
  const profile = JSON.parse(readFileSync(join(MODEL_DIR, 'profile.json'), 'utf8'));
  for (const k of ['headMs', 'fullMs'] as const) {
    for (const [v, ms] of Object.entries(profile.timings[k] as Record<string, number | number[]>)) {
      profile.timings[k][v] = Array.isArray(ms) ? ms.map((x) => x * 1000) : ms * 1000;
    }
  }
  writeFileSync(join(tmp, 'profile-slow-device.json'), JSON.stringify(profile));

  localCloud = await startLocalCloud({ model: MODEL_DIR, onInvocation: (l) => served.push(l) });
  endpointsFile = join(tmp, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(localCloud.endpoints));
}, 300_000);

afterAll(async () => {
  await localCloud?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function runApp(file: string, cloud: boolean): Promise<AppOut> {
  const { stdout } = await run(process.execPath, [file], {
    cwd: app,
    timeout: 60_000,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      JMDC_MODEL_DIR: MODEL_DIR,
      JMDC_IMAGE: JSON.stringify(golden.images[0]),
      // the credentials the local cloud accepts, from the environment as the AWS credential chain reads them
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_PROFILE: '',
      ...(cloud ? { JMDC_ENDPOINTS: endpointsFile, JMDC_PROFILE: join(tmp, 'profile-slow-device.json') } : {}),
    },
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as AppOut;
}

function expectGoldenEdge(out: AppOut): void {
  expect(out.edge.decision.kind).toBe('edge-only');
  expect(out.edge.fallback).toBe(false);
  const logits = golden.logits[variantKey(out.edge.decision.variant)]?.[0] as number[];
  expect(out.edge.classes).toEqual([argmax(logits)]);
  const want = softmax(logits);
  (out.edge.probabilities[0] as number[]).forEach((p, i) => {
    expect(p).toBeCloseTo(want[i] as number, 4);
  });
}

describe('the packed SDK in an empty app', () => {
  it('installs without @aws-sdk/client-lambda (an optional peer) and without sources or tests', () => {
    const sdk = join(app, 'node_modules', '@jmdc', 'edge-sdk');
    expect(existsSync(join(sdk, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(sdk, 'src'))).toBe(false);
    expect(existsSync(join(sdk, 'dist', 'transport', 'UrlTransport.test.js'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@aws-sdk', 'client-lambda'))).toBe(false);
  });

  it('ESM app: classifies edge-only like the golden logits, and through the local cloud, signed', async () => {
    const before = served.length;
    const out = await runApp('esm.mjs', true);
    expectGoldenEdge(out);
    const cloud = out.cloud as NonNullable<AppOut['cloud']>;
    expect(cloud.decision.kind).toBe('cloud-only');
    expect(cloud.fallback).toBe(false);
    expect(cloud.attempts).toBe(1);
    expect(cloud.bytesSent).toBeGreaterThan(0);
    const answered = served.slice(before).filter((s) => s.status === 200);
    expect(answered).toHaveLength(1);
    expect(answered[0]).toMatchObject({ point: 0, route: 'url' });
    expect(cloud.classes).toEqual([argmax(golden.logits.r000?.[0] as number[])]);
  });

  it('CommonJS app (dynamic import in an async function) gives the same answers', async () => {
    const before = served.length;
    const out = await runApp('cjs.js', true);
    expectGoldenEdge(out);
    expect(out.cloud?.decision.kind).toBe('cloud-only');
    expect(out.cloud?.fallback).toBe(false);
    const answered = served.slice(before).filter((s) => s.status === 200);
    expect(answered).toHaveLength(1);
    expect(out.cloud?.classes).toEqual([argmax(golden.logits.r000?.[0] as number[])]);
  });

  it("the README's onnxruntime trim keeps only this platform's binary, and the app still runs", async () => {
    const readme = readFileSync(join(ROOT, 'edge-sdk', 'README.md'), 'utf8');
    const m = /<!-- trim-onnxruntime -->\s*```sh\n([\s\S]*?)```/.exec(readme);
    expect(m, 'README has a trim-onnxruntime block').not.toBeNull();
    const ort = join(app, 'node_modules', 'onnxruntime-node');
    const before = duBytes(join(app, 'node_modules'));
    await run('bash', ['-euo', 'pipefail', '-c', m?.[1] as string], { cwd: app });
    const after = duBytes(join(app, 'node_modules'));
    const left: string[] = [];
    for (const napi of readdirSync(join(ort, 'bin'))) {
      for (const os of readdirSync(join(ort, 'bin', napi))) {
        for (const arch of readdirSync(join(ort, 'bin', napi, os))) left.push(`${os}/${arch}`);
      }
    }
    expect(left).toEqual([`${process.platform}/${process.arch}`]);
    console.log(
      JSON.stringify({
        nodeModulesBytes: { beforeTrim: before, afterTrim: after },
        onnxruntimeNodeBytesAfterTrim: duBytes(ort),
        platform: `${process.platform}-${process.arch}`,
      }),
    );
    expectGoldenEdge(await runApp('esm.mjs', false));
  });
});
