/**
 * The main job: the whole system on one machine. A local Lambda cloud runs the CDK assembly's
 * function bundles; a shaping proxy stands between it and the device; the device is a `JmdcClient` in
 * its own process, optionally under a CPU budget that stands in for a weaker device; Fashion-MNIST test
 * images are classified one at a time while the network changes.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadModel } from '@jmdc/edge-sdk/model';
import type { LocalCloud } from '@jmdc/local-cloud';
import {
  type CpuBudget,
  type DevicePreset,
  type LinkConditions,
  loadTrace,
  type ShapingProxy,
  type TraceStep,
} from '@jmdc/netem';
import { loadSplit } from '../dataset.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startCloudBehindProxy, startDevice } from '../localSystem.js';
import { nextMessage } from '../workerProcess.js';
import type { EdgeReady, EdgeResult, FromEdge, ToEdge } from './protocol.js';
import { type Phase, phaseStarts } from './scenario.js';
import { type DemoSummary, type RequestRecord, summarize } from './summary.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  model: string;
  images: number;
  /** Images per request (the last request may hold fewer). */
  batch: number;
  /** Index-based phases (the default scenario or one `--network` profile), or a time-based trace. */
  network: { phases: Phase[] } | { trace: TraceStep[]; source: string };
  device: DevicePreset;
  objective: Record<string, unknown>;
  transport: 'url' | 'invoke';
  /** The client's minimum time between exploration probes, ms (a demo lasts minutes, not hours). */
  exploreIntervalMs: number;
  /** Idle instances of the local cloud are reaped after this long. */
  idleTimeoutMs: number;
  /** Working folder for the endpoints file. */
  workDir: string;
  /** Progress and info lines. */
  log: (line: string) => void;
  /** Progress of the classification loop (done of total). */
  onProgress?: (done: number, total: number, last?: RequestRecord) => void;
  /** Stops the run early (Ctrl-C): what was started is stopped and the call rejects. */
  signal?: AbortSignal;
}

/** Everything a run produced. */
export interface DemoRun {
  summary: DemoSummary;
  records: RequestRecord[];
  device: { preset: string; cpuFraction: number; method: string; detail: string; wholeNetworkMs: number | null };
  calibrationMs: number;
  cloud: ReturnType<LocalCloud['stats']> & {
    invocationLog: {
      atMs: number;
      functionName: string;
      cold: boolean;
      initMs?: number;
      durationMs: number;
      status: number;
    }[];
  };
  network:
    | { kind: 'phases'; phases: Phase[]; starts: number[] }
    | { kind: 'trace'; source: string; trace: TraceStep[] };
}

const workerPath = join(dirname(fileURLToPath(import.meta.url)), 'edgeWorker.ts');

function send(child: ChildProcess, msg: ToEdge): void {
  child.send(msg);
}

function linkOf(p: ShapingProxy): RequestRecord['link'] {
  const c: LinkConditions = p.conditions();
  return { uplinkMbps: c.uplinkMbps, downlinkMbps: c.downlinkMbps, rttMs: c.rttMs };
}

/**
 * Runs the demo; everything it starts (local cloud and its instances, proxy, worker, CPU budget) is
 * stopped before it returns or throws.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoRun> {
  const { log } = opts;
  const model = loadModel(opts.model);
  const labels = loadSplit(model.dir, 'test', opts.images).labels;
  const images = Math.min(opts.images, labels.length);

  let cloud: LocalCloud | undefined;
  let proxy: ShapingProxy | undefined;
  let budget: CpuBudget | undefined;
  let child: ChildProcess | undefined;
  let trace: { stop(): void; done: Promise<void> } | undefined;
  const t0 = performance.now();
  const invocationLog: DemoRun['cloud']['invocationLog'] = [];
  try {
    log(`local cloud: model ${model.manifest.id}, idle timeout ${opts.idleTimeoutMs} ms`);
    const first =
      'phases' in opts.network
        ? (opts.network.phases[0]?.conditions ?? 'loopback')
        : (opts.network.trace[0]?.conditions ?? 'loopback');
    mkdirSync(opts.workDir, { recursive: true });
    const system = await startCloudBehindProxy(
      {
        model: model.dir,
        idleTimeoutMs: opts.idleTimeoutMs,
        onInfo: (line) => log(`local cloud: ${line}`),
        onInvocation: (l) =>
          invocationLog.push({
            atMs: performance.now() - t0,
            functionName: l.functionName,
            cold: l.cold,
            ...(l.initMs !== undefined ? { initMs: l.initMs } : {}),
            durationMs: l.durationMs,
            status: l.status,
          }),
      },
      first,
      opts.workDir,
    );
    ({ cloud, proxy } = system);
    const { endpointsFile } = system;
    log(`local cloud at ${cloud.url}, shaping proxy at ${proxy.url}`);

    const cpuFraction = opts.device.cpuFraction;
    const dev = await startDevice(workerPath, opts.device, `demo-${process.pid}`);
    ({ child, budget } = dev);
    child.on('message', (m: FromEdge) => {
      if (m.type === 'progress') log(`device: ${m.line}`);
    });
    const { method } = dev;
    const detail = dev.detail ?? 'no limit';
    log(`device: ${opts.device.name}, ${cpuFraction} of one core of this machine (${detail})`);
    send(child, {
      type: 'init',
      model: model.dir,
      endpointsFile,
      transport: opts.transport,
      invokeEndpoint: proxy.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      objective: opts.objective,
      threads: 1,
      exploreIntervalMs: opts.exploreIntervalMs,
      images,
    });
    opts.signal?.throwIfAborted();
    log('calibrating the device (heads and whole network, under its CPU budget)...');
    const ready: EdgeReady = await nextMessage<FromEdge, 'ready'>(child, 'ready');
    log(
      `calibrated in ${(ready.calibrationMs / 1000).toFixed(1)} s: whole network ${ready.wholeNetworkMs?.toFixed(1) ?? '?'} ms on this device`,
    );

    const records: RequestRecord[] = [];
    const phases = 'phases' in opts.network ? opts.network.phases : undefined;
    const requests = Math.ceil(images / opts.batch);
    const starts = phases ? phaseStarts(phases, requests) : [];
    let phaseLabel = phases?.[0]?.label ?? 'trace';
    const runStart = performance.now();
    if (!phases && 'trace' in opts.network) {
      const steps = opts.network.trace;
      phaseLabel = steps[0]?.label ?? 'step 0';
      trace = proxy.playTrace(steps, {
        onStep: (s, i) => {
          phaseLabel = s.label ?? `step ${i}`;
          log(`trace: ${phaseLabel} at ${((performance.now() - runStart) / 1000).toFixed(1)} s`);
        },
      });
    }
    for (let i = 0; i < requests; i++) {
      opts.signal?.throwIfAborted();
      if (phases) {
        const k = starts.indexOf(i);
        if (k >= 0) {
          const p = phases[k] as Phase;
          if (p.idleBeforeMs) {
            log(`idle for ${(p.idleBeforeMs / 1000).toFixed(0)} s (no requests)...`);
            await sleep(p.idleBeforeMs, undefined, opts.signal ? { signal: opts.signal } : {});
          }
          proxy.setConditions(p.conditions);
          phaseLabel = p.label;
          if (k > 0) log(`network: ${p.label}`);
        }
      }
      const link = linkOf(proxy);
      const atMs = performance.now() - runStart;
      const phase = phaseLabel;
      const reply = nextMessage<FromEdge, 'result'>(child, 'result');
      const first = i * opts.batch;
      const count = Math.min(opts.batch, images - first);
      send(child, { type: 'classify', index: i, first, count });
      const r: EdgeResult = await reply;
      const rec: RequestRecord = { ...r, labels: Array.from(labels.subarray(first, first + count)), phase, link, atMs };
      records.push(rec);
      opts.onProgress?.(first + count, images, rec);
    }
    trace?.stop();

    const stats = cloud.stats();
    const summary = summarize(images, opts.batch, records);
    send(child, { type: 'close' });
    return {
      summary,
      records,
      device: { preset: opts.device.name, cpuFraction, method, detail, wholeNetworkMs: ready.wholeNetworkMs },
      calibrationMs: ready.calibrationMs,
      cloud: { ...stats, invocationLog },
      network: phases
        ? { kind: 'phases', phases, starts }
        : {
            kind: 'trace',
            source: (opts.network as { source: string }).source,
            trace: (opts.network as { trace: TraceStep[] }).trace,
          },
    };
  } finally {
    trace?.stop();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      if (child.connected) child.disconnect();
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await budget?.close().catch(() => {});
    await proxy?.close().catch(() => {});
    await cloud?.stop();
  }
}

/** Reads a trace file for `--trace`. */
export function traceFromFile(path: string): { trace: TraceStep[]; source: string } {
  return { trace: loadTrace(resolve(path)), source: path };
}
