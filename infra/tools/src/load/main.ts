/**
 * `npm run load`: many edge clients against the local cloud at once, each a {@link JmdcClient} that
 * always takes the cloud path (cloud-only, point 0), all sharing one set of onnxruntime sessions for their
 * fallbacks, for a fixed time.
 *
 *   npm run load -- [--quick] [--clients N] [--seconds S] [--think-ms T] [--model ID] [--json]
 *
 * The last line of stdout is `{ clients, seconds, requests, failed, p50Ms, p99Ms, rssGrowthPct, ... }`; the exit
 * code is 1 when a request failed or RSS grew by 10% or more.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JmdcClient } from '@jmdc/edge-sdk';
import { num, parseFlags, runCommand } from '@jmdc/edge-sdk/cli';
import { loadModel } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { type LocalCloud, startLocalCloud } from '@jmdc/local-cloud';
import { type CallOutcome, cloudClient, settle } from '../faults/clients.js';
import { processRssMb } from '../fuzz/runCloud.js';
import { gcFunction, SharedSessions } from '../sharedSessions.js';
import { percentile, round } from '../stats.js';

export const usage = `usage: npm run load -- [options]
  --quick          15 s (default 60 s), after a warm-up of 3 s (default 5 s)
  --clients N      concurrent edge clients (default 50)
  --seconds S      measured duration
  --think-ms T     pause of each client between two requests (default 2000: about 25 requests/s offered,
                   what 2 shared cores carry)
  --deadline-ms D  deadline of every classify (default 5000)
  --max-instances M  instances the local cloud may start for the function (default 4)
  --model ID       model id or folder (default fmnist-vgg16)
  --json           print per-second counts as JSON before the summary line
The last line of stdout is one JSON object { clients, seconds, requests, failed, p50Ms, p99Ms, rssGrowthPct, ... }.`;

const FLAGS = {
  quick: { type: 'boolean' },
  clients: { type: 'string' },
  seconds: { type: 'string' },
  'think-ms': { type: 'string' },
  'deadline-ms': { type: 'string' },
  'max-instances': { type: 'string' },
  model: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const growth = (a: number, b: number) => (a > 0 ? round(((b - a) / a) * 100, 1) : 0);

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, FLAGS);
  if (f.help) {
    console.log(usage);
    return 0;
  }
  const quick = f.quick === true;
  const clients = f.clients !== undefined ? num(f.clients, 'clients', { min: 1, int: true }) : 50;
  const seconds = f.seconds !== undefined ? num(f.seconds, 'seconds', { min: 1 }) : quick ? 15 : 60;
  const warmupS = quick ? 3 : 5;
  const thinkMs = f['think-ms'] !== undefined ? num(f['think-ms'], 'think-ms', { min: 0 }) : 2000;
  const deadlineMs = f['deadline-ms'] !== undefined ? num(f['deadline-ms'], 'deadline-ms', { min: 100 }) : 5000;
  const maxInstances =
    f['max-instances'] !== undefined ? num(f['max-instances'], 'max-instances', { min: 1, int: true }) : 4;
  const { dir, manifest } = loadModel(f.model ?? 'fmnist-vgg16');
  const golden = JSON.parse(readFileSync(join(dir, manifest.golden ?? 'golden.json'), 'utf8')) as {
    images: number[][];
  };
  const images = golden.images.map((i) => Uint8Array.from(i));
  const gc = gcFunction();
  let unhandled = 0;
  const onUnhandled = () => {
    unhandled++;
  };
  process.on('unhandledRejection', onUnhandled);

  let cloud: LocalCloud | undefined;
  let backend: SharedSessions | undefined;
  const fleet: JmdcClient[] = [];
  try {
    cloud = await startLocalCloud({
      model: dir,
      points: [0],
      maxInstancesPerFunction: maxInstances,
      onInfo: (l) => process.stderr.write(`local cloud: ${l}\n`),
    });
    backend = new SharedSessions(new OrtBackend({ intraOpThreads: 1 }));
    // every session a fallback may need, loaded before the first reading of RSS (they load once per fleet)
    const shared = backend;
    await Promise.all(manifest.variants.flatMap((v) => v.blocks.map((b) => shared.load(join(dir, b.file)))));
    for (let i = 0; i < clients; i++) {
      fleet.push(await cloudClient({ model: dir, endpoints: cloud.endpoints, point: 0, deadlineMs, backend }));
    }
    const outcomes: CallOutcome[] = [];
    const perSecond: number[] = [];
    let measuring = false;
    let stop = false;
    let tMeasure = 0;
    const loops = fleet.map(async (client, i) => {
      // spread the clients' first requests over one think time
      await sleep((thinkMs * i) / clients);
      for (let k = 0; !stop; k++) {
        const o = await settle(client, images[(i + k) % images.length]!, deadlineMs, 1000);
        if (measuring) {
          outcomes.push(o);
          const s = Math.floor((performance.now() - tMeasure) / 1000);
          perSecond[s] = (perSecond[s] ?? 0) + 1;
        }
        if (thinkMs > 0) await sleep(thinkMs);
      }
    });
    await sleep(warmupS * 1000);
    gc?.();
    const sdkBefore = process.memoryUsage().rss / 2 ** 20;
    const pidsBefore = cloud.pids();
    const cloudBefore = pidsBefore.reduce((s, p) => s + processRssMb(p), 0);
    const coldBefore = cloud.stats().coldStarts;
    const throttlesBefore = cloud.stats().throttles;
    tMeasure = performance.now();
    measuring = true;
    await sleep(seconds * 1000);
    measuring = false;
    const measured = (performance.now() - tMeasure) / 1000;
    gc?.();
    const sdkAfter = process.memoryUsage().rss / 2 ** 20;
    const pidsAfter = cloud.pids();
    const cloudAfter = pidsAfter.reduce((s, p) => s + processRssMb(p), 0);
    const stats = cloud.stats();
    stop = true;
    await Promise.all(loops);

    const ms = outcomes.map((o) => o.ms);
    const failed = outcomes.filter((o) => o.kind !== 'result' || o.fallback).length;
    const sdkGrowth = growth(sdkBefore, sdkAfter);
    // the cloud's RSS over the instances alive at both readings (an instance started in between has no before)
    const both = pidsAfter.filter((p) => pidsBefore.includes(p));
    const cloudGrowth = growth(
      both.length === pidsBefore.length ? cloudBefore : 0,
      both.length === pidsBefore.length ? cloudAfter : 0,
    );
    const line = {
      clients,
      seconds: round(measured, 1),
      requests: outcomes.length,
      failed,
      p50Ms: percentile(ms, 50),
      p99Ms: percentile(ms, 99),
      rssGrowthPct: Math.max(sdkGrowth, cloudGrowth),
      throughputPerS: round(outcomes.length / measured, 1),
      fallbacks: outcomes.filter((o) => o.fallback).length,
      typedErrors: outcomes.filter((o) => o.kind === 'typedError').length,
      lost: outcomes.filter((o) => o.kind === 'lost').length,
      unhandledRejections: unhandled,
      coldStarts: stats.coldStarts - coldBefore,
      coldStartsTotal: stats.coldStarts,
      throttles: stats.throttles - throttlesBefore,
      instances: `${pidsBefore.length}->${pidsAfter.length}`,
      sdkRssMb: `${round(sdkBefore, 1)}->${round(sdkAfter, 1)}`,
      sdkRssGrowthPct: sdkGrowth,
      cloudRssMb: `${round(cloudBefore, 1)}->${round(cloudAfter, 1)}`,
      cloudRssGrowthPct: cloudGrowth,
      thinkMs,
      deadlineMs,
    };
    if (f.json) console.log(JSON.stringify({ perSecond }));
    else {
      console.log(
        `load: ${clients} clients, ${line.seconds} s measured after ${warmupS} s of warm-up, think time ${thinkMs} ms`,
      );
      console.log(
        `  ${line.requests} requests (${line.throughputPerS}/s), failed ${failed}, p50 ${line.p50Ms} ms, p99 ${line.p99Ms} ms`,
      );
      console.log(
        `  cold starts ${line.coldStarts} (total ${line.coldStartsTotal}), throttled ${line.throttles}, instances ${line.instances}`,
      );
      console.log(
        `  RSS: SDK process ${line.sdkRssMb} MB (${sdkGrowth}%), instances ${line.cloudRssMb} MB (${cloudGrowth}%)`,
      );
    }
    console.log(JSON.stringify(line));
    return failed > 0 || unhandled > 0 || line.rssGrowthPct >= 10 ? 1 : 0;
  } finally {
    await Promise.all(fleet.map((c) => c.close().catch(() => {})));
    await backend?.close();
    await cloud?.stop();
    process.off('unhandledRejection', onUnhandled);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCommand('load', { run, usage }, process.argv.slice(2));
}
