/**
 * `npm run faults`: the SDK under every fault the local cloud injects, the shaping proxy's loss, stalls
 * and resets, and hostile servers. Every classify must settle within its deadline plus a stated margin with
 * a result (possibly a fallback to the device) or a typed error.
 *
 *   npm run faults -- [--quick] [--requests N] [--model ID] [--deadline-ms D] [--margin-ms M] [--json]
 *
 * The last line of stdout is `{ requests, lost, fallbacks, typedErrors, unhandledRejections, byFault }`;
 * the exit code is 1 when a call was lost, threw an untyped error, or a rejection went unhandled.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JmdcClient } from '@jmdc/edge-sdk';
import { num, parseFlags, runCommand } from '@jmdc/edge-sdk/cli';
import { loadModel } from '@jmdc/edge-sdk/model';
import { type FaultSpec, type LocalCloud, startLocalCloud } from '@jmdc/local-cloud';
import { type LinkConditions, type ShapingProxy, startShapingProxy } from '@jmdc/netem';
import { percentile } from '../stats.js';
import { type CallOutcome, cloudClient, settle } from './clients.js';
import { HOSTILE_KINDS, type HostileKind, startHostileServer } from './hostile.js';

export const usage = `usage: npm run faults -- [options]
  --quick          5 requests per fault (default 20)
  --requests N     requests per fault
  --model ID       model id or folder (default fmnist-vgg16; it needs a profile.json)
  --deadline-ms D  the fixed deadline of every classify (default 2000)
  --margin-ms M    how late past its deadline a call may settle before it counts as lost (default 500)
  --json           print every outcome as JSON before the summary line
The last line of stdout is one JSON object { requests, lost, fallbacks, typedErrors, unhandledRejections, byFault }.`;

const FLAGS = {
  quick: { type: 'boolean' },
  requests: { type: 'string' },
  model: { type: 'string' },
  'deadline-ms': { type: 'string' },
  'margin-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Counts of one fault. */
export interface FaultStats {
  requests: number;
  results: number;
  fallbacks: number;
  typedErrors: number;
  untypedErrors: number;
  lost: number;
  coldStarts: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p50 minus the baseline's p50. */
  addedP50Ms: number;
  /** The largest amount by which a call settled past its deadline (negative: all settled before it). */
  maxPastDeadlineMs: number;
  codes: Record<string, number>;
  /** Decision kinds of the results (cloud-only, split, edge-only). */
  decisions: Record<string, number>;
}

interface Scenario {
  name: string;
  /** Where the client is pointed: the proxy in front of the local cloud, or a hostile server. */
  kind: 'cloud' | 'hostile';
  fault?: FaultSpec;
  link?: Partial<LinkConditions>;
  hostile?: HostileKind;
}

/**
 * Circuit breaker base time of the clients: short, so that every request of a scenario meets its fault
 * (with the default 1 s, the requests after a failure would plan edge-only without trying the cloud).
 */
const CIRCUIT_BASE_MS = 1;

function scenarios(deadlineMs: number): Scenario[] {
  const cloud: Scenario[] = [
    { name: 'baseline', kind: 'cloud' },
    { name: 'drop', kind: 'cloud', fault: { kind: 'drop' } },
    { name: 'status500', kind: 'cloud', fault: { kind: 'status500' } },
    { name: 'throttle', kind: 'cloud', fault: { kind: 'throttle' } },
    { name: 'slow', kind: 'cloud', fault: { kind: 'slow', delayMs: deadlineMs + 1000 } },
    { name: 'coldStorm', kind: 'cloud', fault: { kind: 'coldStorm' } },
    { name: 'dieMidRequest', kind: 'cloud', fault: { kind: 'dieMidRequest' } },
    { name: 'initFailure', kind: 'cloud', fault: { kind: 'initFailure' } },
    { name: 'proxyLoss', kind: 'cloud', link: { loss: { rate: 0.05, mode: 'stall', stallMs: 200 } } },
    { name: 'proxyStall', kind: 'cloud', link: { loss: { rate: 0.5, mode: 'stall', stallMs: deadlineMs } } },
    { name: 'proxyReset', kind: 'cloud', link: { loss: { rate: 0.2, mode: 'reset' } } },
  ];
  return [...cloud, ...HOSTILE_KINDS.map((h) => ({ name: `hostile:${h}`, kind: 'hostile' as const, hostile: h }))];
}

function summarize(outcomes: CallOutcome[], deadlineMs: number, baselineP50: number): FaultStats {
  const ms = outcomes.map((o) => o.ms);
  const codes: Record<string, number> = {};
  for (const o of outcomes) if (o.code) codes[o.code] = (codes[o.code] ?? 0) + 1;
  const p50 = percentile(ms, 50);
  return {
    requests: outcomes.length,
    results: outcomes.filter((o) => o.kind === 'result').length,
    fallbacks: outcomes.filter((o) => o.fallback).length,
    typedErrors: outcomes.filter((o) => o.kind === 'typedError').length,
    untypedErrors: outcomes.filter((o) => o.kind === 'untypedError').length,
    lost: outcomes.filter((o) => o.kind === 'lost').length,
    coldStarts: outcomes.filter((o) => o.coldStart === true).length,
    decisions: outcomes.reduce<Record<string, number>>((m, o) => {
      if (o.decision) m[o.decision] = (m[o.decision] ?? 0) + 1;
      return m;
    }, {}),
    p50Ms: p50,
    p99Ms: percentile(ms, 99),
    maxMs: percentile(ms, 100),
    addedP50Ms: Math.round((p50 - baselineP50) * 10) / 10,
    maxPastDeadlineMs: Math.round((Math.max(...ms) - deadlineMs) * 10) / 10,
    codes,
  };
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, FLAGS);
  if (f.help) {
    console.log(usage);
    return 0;
  }
  const perFault = f.requests !== undefined ? num(f.requests, 'requests', { min: 1, int: true }) : f.quick ? 5 : 20;
  const deadlineMs = f['deadline-ms'] !== undefined ? num(f['deadline-ms'], 'deadline-ms', { min: 100 }) : 2000;
  const marginMs = f['margin-ms'] !== undefined ? num(f['margin-ms'], 'margin-ms', { min: 0 }) : 500;
  const { dir, manifest } = loadModel(f.model ?? 'fmnist-vgg16');
  const golden = JSON.parse(readFileSync(join(dir, manifest.golden ?? 'golden.json'), 'utf8')) as {
    images: number[][];
  };
  const images = golden.images.map((i) => Uint8Array.from(i));

  let unhandledRejections = 0;
  const onUnhandled = (e: unknown) => {
    unhandledRejections++;
    process.stderr.write(`faults: unhandled rejection: ${String((e as Error)?.stack ?? e)}\n`);
  };
  process.on('unhandledRejection', onUnhandled);

  const t0 = performance.now();
  let cloud: LocalCloud | undefined;
  let proxy: ShapingProxy | undefined;
  const byFault: Record<string, FaultStats> = {};
  const all: Record<string, CallOutcome[]> = {};
  try {
    cloud = await startLocalCloud({
      model: dir,
      points: [0],
      idleTimeoutMs: 120_000,
      maxInstancesPerFunction: 2,
      onInfo: (l) => process.stderr.write(`local cloud: ${l}\n`),
    });
    const target = new URL(cloud.url);
    proxy = await startShapingProxy({ target: { host: target.hostname, port: Number(target.port) }, seed: 7 });
    let baselineP50 = 0;
    for (const s of scenarios(deadlineMs)) {
      let client: JmdcClient | undefined;
      let hostile: Awaited<ReturnType<typeof startHostileServer>> | undefined;
      try {
        if (s.kind === 'hostile') {
          hostile = await startHostileServer(s.hostile!, {
            classes: manifest.classes.length,
            modelHash: manifest.hash,
          });
          client = await cloudClient({
            model: dir,
            endpoints: { points: { '0': { url: hostile.url } } },
            point: 0,
            deadlineMs,
            circuitBaseMs: CIRCUIT_BASE_MS,
          });
        } else {
          proxy.setConditions({ ...proxy.conditions(), loss: undefined } as LinkConditions);
          client = await cloudClient({
            model: dir,
            endpoints: cloud.endpointsAt(proxy.url),
            point: 0,
            deadlineMs,
            circuitBaseMs: CIRCUIT_BASE_MS,
          });
          // one request before the fault: an instance is warm, as in a running fleet
          await settle(client, images[0]!, deadlineMs, marginMs);
          if (s.link) proxy.setConditions({ ...proxy.conditions(), ...s.link });
          if (s.fault) cloud.injectFault('*', s.fault);
        }
        const outcomes: CallOutcome[] = [];
        for (let i = 0; i < perFault; i++) {
          outcomes.push(await settle(client, images[i % images.length]!, deadlineMs, marginMs));
        }
        all[s.name] = outcomes;
        byFault[s.name] = summarize(outcomes, deadlineMs, baselineP50);
        if (s.name === 'baseline') baselineP50 = byFault[s.name]!.p50Ms;
        process.stderr.write(`faults: ${s.name.padEnd(24)} ${JSON.stringify(byFault[s.name])}\n`);
      } finally {
        cloud.clearFaults();
        await client?.close().catch(() => {});
        await hostile?.close();
      }
    }
  } finally {
    await proxy?.close();
    await cloud?.stop();
    // late rejections of abandoned work show up on the next turns of the event loop
    await new Promise((r) => setTimeout(r, 200));
    process.off('unhandledRejection', onUnhandled);
  }
  const sum = (k: keyof FaultStats) => Object.values(byFault).reduce((s, x) => s + (x[k] as number), 0);
  const line = {
    requests: sum('requests'),
    lost: sum('lost'),
    fallbacks: sum('fallbacks'),
    typedErrors: sum('typedErrors'),
    unhandledRejections,
    untypedErrors: sum('untypedErrors'),
    deadlineMs,
    marginMs,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    byFault: Object.fromEntries(
      Object.entries(byFault).map(([k, v]) => [
        k,
        {
          requests: v.requests,
          fallbacks: v.fallbacks,
          typedErrors: v.typedErrors,
          lost: v.lost,
          p50Ms: v.p50Ms,
          p99Ms: v.p99Ms,
          addedP50Ms: v.addedP50Ms,
          maxPastDeadlineMs: v.maxPastDeadlineMs,
        },
      ]),
    ),
  };
  if (f.json) console.log(JSON.stringify({ byFault, outcomes: all }));
  else {
    console.log(
      `faults: deadline ${deadlineMs} ms + margin ${marginMs} ms, ${perFault} requests per fault, ${line.seconds} s`,
    );
    console.log('  fault                     req  fallback  typedErr  lost   p50 ms   p99 ms  +p50 ms  codes');
    for (const [k, v] of Object.entries(byFault)) {
      console.log(
        `  ${k.padEnd(24)} ${String(v.requests).padStart(4)} ${String(v.fallbacks).padStart(9)} ${String(v.typedErrors).padStart(9)} ${String(v.lost).padStart(5)} ${String(v.p50Ms).padStart(8)} ${String(v.p99Ms).padStart(8)} ${String(v.addedP50Ms).padStart(8)}  ${Object.entries(
          v.codes,
        )
          .map(([c, n]) => `${c.replace('JMDC_ERR_', '')}x${n}`)
          .join(' ')} ${JSON.stringify(v.decisions)}`,
      );
    }
  }
  console.log(JSON.stringify(line));
  return line.lost + line.untypedErrors + line.unhandledRejections > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCommand('faults', { run, usage }, process.argv.slice(2));
}
