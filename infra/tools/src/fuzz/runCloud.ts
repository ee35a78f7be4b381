/**
 * The fuzz run through the local cloud: each case goes over HTTP, signed with SigV4, alternately to the
 * Function URL route (`/points/<p>`, the body as a client would send it) and to the Invoke API (the event
 * itself as the JSON payload), and is answered by the bundled handler in its own Lambda-runtime process.
 * The RSS of the instance processes is read from /proc after a warm-up and at the end.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { loadModel } from '@jmdc/edge-sdk/model';
import { type LocalCloud, startLocalCloud } from '@jmdc/local-cloud';
import fc from 'fast-check';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../localSystem.js';
import { type FuzzCase, fuzzCaseArb, fuzzTarget } from './generators.js';
import { addWarmUpFailures, type FuzzStats, growthPct, judge, newStats, type Outcome } from './oracle.js';
import { signPost } from './sign.js';

/** A request still unanswered after this is cut off (and counted as a hang). */
const REQUEST_TIMEOUT_MS = 10_000;

/** Options of {@link runCloud}. */
export interface CloudFuzzOptions {
  /** Model id or folder. */
  model: string;
  points: readonly number[];
  cases: number;
  /** @default 1 */
  seed?: number;
  /** Cases run (and judged) before RSS is first read. @default min(2000, cases) */
  warmup?: number;
  /** @default 250 */
  batch?: number;
  onProgress?: (done: number, stats: FuzzStats) => void;
  /** Progress lines of the local cloud (synth, bundling). */
  onInfo?: (line: string) => void;
  /** A running local cloud to use instead of starting one (it is not stopped). */
  cloud?: LocalCloud;
}

/** The result: counters, RSS of the instance processes, cold starts and instance restarts. */
export interface CloudFuzzResult extends FuzzStats {
  warmupCases: number;
  byRoute: { url: number; invoke: number };
  rssBeforeMb: number;
  rssAfterMb: number;
  rssGrowthPct: number;
  /** RSS of the instances after each tenth of the counted cases. */
  rssSamplesMb: number[];
  instancesBefore: number;
  instancesAfter: number;
  /** Instance processes alive after the warm-up that were gone at the end (a crash or a timeout kills one). */
  instancesReplaced: number;
  coldStarts: number;
  seconds: number;
}

/** Resident set of a process in MiB, from /proc (0 when it is gone). */
export function processRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) of processes in ms, from /proc (clock ticks of 10 ms). */
export function processCpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // the fields after the command name (which may hold spaces) start at field 3
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks * 10;
}

function totalRssMb(pids: readonly number[]): number {
  return Math.round(pids.reduce((s, p) => s + processRssMb(p), 0) * 10) / 10;
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function post(agent: Agent, url: URL, body: Buffer, headers: Record<string, string>): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: url.pathname,
        headers: { ...headers, 'content-length': String(body.length) },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'FUZZ_TIMEOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

function jsonOf(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return 'null';
  }
}

/**
 * What a client would put on the wire for a case on the Function URL route: the payload bytes (octet-stream)
 * or the JSON envelope, or, for an event that is not a Function URL event, that event as a JSON body; and
 * the answer that the request (not the event) calls for.
 */
export function urlRequestOf(c: FuzzCase): { body: Buffer; contentType: string; expect: FuzzCase['expect'] } {
  const e = c.event as { body?: unknown; isBase64Encoded?: unknown; headers?: { 'content-type'?: unknown } } | null;
  const isUrl =
    typeof e === 'object' && e !== null && typeof (e as { requestContext?: unknown }).requestContext === 'object';
  if (isUrl && typeof e.body === 'string' && typeof e.headers?.['content-type'] === 'string') {
    const contentType = e.headers['content-type'];
    if (e.isBase64Encoded === true) {
      // the bytes travel as they are (Lambda, not the client, base64-encodes them): an anomaly of the base64
      // text becomes whatever bytes Node's lenient decoder makes of it
      const body = Buffer.from(e.body, 'base64');
      return { body, contentType, expect: c.family === 'base64' || c.family === 'event-shape' ? 'any' : c.expect };
    }
    return { body: Buffer.from(e.body, 'latin1'), contentType, expect: c.family === 'event-shape' ? 'any' : c.expect };
  }
  const text = typeof c.event === 'string' ? c.event : jsonOf(c.event);
  // the fields of a Function URL event (headers, method, flags) cannot be sent as such: the front builds them,
  // so an event-shape case on this route is just some request
  return { body: Buffer.from(text, 'utf8'), contentType: 'application/json', expect: isUrl ? 'any' : c.expect };
}

/** The body of a Function URL result (`{ statusCode, headers, body: "<json>" }`), parsed; anything else as is. */
function unwrapUrlResult(rest: Record<string, unknown>): unknown {
  if (typeof rest.body !== 'string' || typeof rest.headers !== 'object') return rest;
  try {
    return JSON.parse(rest.body);
  } catch {
    return rest.body;
  }
}

/**
 * Sends one case and turns the answer into an {@link Outcome}: on the URL route the HTTP status and body;
 * on the Invoke route the handler's own `statusCode` inside a 200 (an `X-Amz-Function-Error` is a crash of
 * the function). Refusals of the front itself (a body over 6 MB: 413 `RequestEntityTooLargeException`)
 * count as typed refusals.
 */
async function sendCase(
  agent: Agent,
  cloud: LocalCloud,
  point: number,
  functionName: string,
  route: 'url' | 'invoke',
  c: FuzzCase,
): Promise<{ outcome: Outcome; expect: FuzzCase['expect'] }> {
  const url = new URL(
    route === 'url'
      ? `${cloud.url}/points/${point}`
      : `${cloud.url}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`,
  );
  const { body, contentType, expect } =
    route === 'url'
      ? urlRequestOf(c)
      : {
          body: Buffer.from(typeof c.event === 'undefined' ? 'null' : jsonOf(c.event)),
          contentType: 'application/json',
          expect: c.expect,
        };
  const outcome: Outcome = { ms: 0 };
  const headers = signPost(url, body, contentType, LOCAL_CREDENTIALS, LOCAL_REGION);
  // the request's own time (signing hashes the body before it): wall clock, and the CPU of this process (the
  // front runs here) and of the instances
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const pids = cloud.pids();
  const instanceCpu0 = processCpuMs(pids);
  try {
    const r = await post(agent, url, body, headers);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.text);
    } catch {
      parsed = r.text;
    }
    const frontError = r.headers['x-amzn-errortype'];
    if (route === 'invoke' && r.status === 200) {
      if (r.headers['x-amz-function-error'] !== undefined) outcome.threw = `function error: ${r.text.slice(0, 300)}`;
      else {
        const { statusCode, ...rest } = (parsed ?? {}) as { statusCode?: number } & Record<string, unknown>;
        outcome.status = statusCode;
        // a Function URL event sent through Invoke is answered in the Function URL result shape
        outcome.body = unwrapUrlResult(rest);
      }
    } else if (r.status === 413 && typeof frontError === 'string' && frontError.startsWith('RequestEntityTooLarge')) {
      outcome.status = 413;
      outcome.body = { error: { code: 'JMDC_ERR_PAYLOAD_TOO_LARGE', message: `refused by the front: ${frontError}` } };
    } else {
      outcome.status = r.status;
      outcome.body = parsed;
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'FUZZ_TIMEOUT') outcome.timedOut = true;
    else outcome.threw = e;
  }
  outcome.ms = Math.round((performance.now() - t0) * 1000) / 1000;
  const cpu = process.cpuUsage(cpu0);
  outcome.cpuMs = Math.round((cpu.user + cpu.system) / 1000 + processCpuMs(pids) - instanceCpu0);
  return { outcome, expect };
}

/**
 * Fuzzes the bundled tail functions of `points` through a local cloud (started here unless given).
 *
 * @example
 * ```ts
 * const r = await runCloud({ model: 'test/fixtures/models/tiny-vgg11', points: [0, 2], cases: 2000 });
 * console.log(r.byRoute, r.status5xx, r.rssGrowthPct);
 * ```
 */
export async function runCloud(opts: CloudFuzzOptions): Promise<CloudFuzzResult> {
  const t0 = performance.now();
  const model = loadModel(opts.model);
  const cloud =
    opts.cloud ??
    (await startLocalCloud({
      model: model.dir,
      points: [...opts.points],
      maxInstancesPerFunction: 1,
      ...(opts.onInfo ? { onInfo: opts.onInfo } : {}),
    }));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const fns = opts.points.map((p) => {
      const f = cloud.functions.find((x) => x.point === p);
      if (!f) throw new Error(`the local cloud serves no function for point ${p}`);
      return f;
    });
    const arbs = opts.points.map((p) => fuzzCaseArb(fuzzTarget(model, p)));
    const seed = opts.seed ?? 1;
    const batch = opts.batch ?? 250;
    const byRoute = { url: 0, invoke: 0 };
    const rssSamples: number[] = [];
    const runBatches = async (total: number, seedOf: (b: number) => number, stats: FuzzStats, count: boolean) => {
      // batches no larger than an even share, so that every function gets some of a short run
      const size = Math.max(1, Math.min(batch, Math.ceil(total / arbs.length)));
      for (let b = 0, done = 0; done < total; b++) {
        const i = b % arbs.length;
        const n = Math.min(size, total - done);
        const cases = fc.sample(arbs[i]!, { numRuns: n, seed: seedOf(b) });
        for (let k = 0; k < cases.length; k++) {
          const route = (b + k) % 2 === 0 ? 'url' : 'invoke';
          if (count) byRoute[route]++;
          const c = cases[k]!;
          const sent = await sendCase(agent, cloud, opts.points[i]!, fns[i]!.name, route, c);
          judge(stats, { ...c, expect: sent.expect }, sent.outcome);
        }
        done += n;
        if (count) {
          // RSS of the instances at every tenth of the run: a leak climbs, a warming allocator levels off
          if (Math.floor((10 * done) / total) > Math.floor((10 * (done - n)) / total)) {
            rssSamples.push(totalRssMb(cloud.pids()));
          }
          opts.onProgress?.(done, stats);
        }
      }
    };
    const warmup = opts.warmup ?? Math.min(2000, opts.cases);
    const warmStats = newStats();
    await runBatches(warmup, (b) => -1 - seed - b, warmStats, false);
    const pidsBefore = cloud.pids();
    const rssBefore = totalRssMb(pidsBefore);
    const coldBefore = cloud.stats().coldStarts;
    const stats = newStats();
    await runBatches(opts.cases, (b) => seed + b, stats, true);
    const pidsAfter = cloud.pids();
    const rssAfter = totalRssMb(pidsAfter);
    addWarmUpFailures(stats, warmStats);
    return {
      ...stats,
      warmupCases: warmup,
      byRoute,
      rssBeforeMb: rssBefore,
      rssAfterMb: rssAfter,
      rssGrowthPct: growthPct(rssBefore, rssAfter),
      rssSamplesMb: rssSamples,
      instancesBefore: pidsBefore.length,
      instancesAfter: pidsAfter.length,
      instancesReplaced: pidsBefore.filter((p) => !pidsAfter.includes(p)).length,
      coldStarts: cloud.stats().coldStarts - coldBefore,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  } finally {
    agent.destroy();
    if (!opts.cloud) await cloud.stop();
  }
}
