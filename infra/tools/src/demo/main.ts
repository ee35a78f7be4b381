/**
 * `npm start`: the demo on the embedded local cloud (see runDemo.ts).
 *
 *   npm start -- [--images N] [--network PROFILE | --trace FILE] [--device PRESET]
 *                [--objective latency|accuracy] [--min-accuracy A] [--max-latency-ms L]
 *                [--transport url|invoke] [--report FILE] [--json]
 */
import { join, resolve } from 'node:path';
import { num, parseFlags, UsageError } from '@jmdc/edge-sdk/cli';
import { isJmdcError } from '@jmdc/edge-sdk/errors';
import { devicePreset, NETWORK_PROFILES } from '@jmdc/netem';
import { writeReport } from './report.js';
import { type DemoOptions, runDemo, traceFromFile } from './runDemo.js';
import { DEFAULT_DEVICE, DEFAULT_GAP_MS, DEFAULT_IDLE_TIMEOUT_MS, defaultScenario } from './scenario.js';
import type { RequestRecord } from './summary.js';
import { decisionLabel } from './summary.js';

export { DEFAULT_DEVICE };
const DEFAULT_IMAGES = 480;
const DEFAULT_BATCH = 8;
const DEFAULT_EXPLORE_MS = 3_000;

export const usage = `usage: npm start -- [options]
  --images N            test images to classify (default ${DEFAULT_IMAGES})
  --batch B             images per request (default ${DEFAULT_BATCH}; the planner prices the batch)
  --model ID            model id or folder (default fmnist-vgg16)
  --network PROFILE     one network profile for the whole run (${Object.keys(NETWORK_PROFILES).join(', ')})
  --trace FILE          a JSON trace [{ "atMs": 0, "conditions": "wifi" | {...}, "label": "..." }, ...]
                        (default: Wi-Fi, 3G, NB-IoT, then an idle gap of ${DEFAULT_GAP_MS / 1000} s and Wi-Fi again)
  --gap-ms MS           idle gap of the default scenario (default ${DEFAULT_GAP_MS})
  --idle-timeout-ms MS  the local cloud reaps idle instances after this (default ${DEFAULT_IDLE_TIMEOUT_MS})
  --explore-ms MS        the client's minimum time between exploration probes (default ${DEFAULT_EXPLORE_MS};
                        the SDK's default is 30000, for devices that run for hours)
  --device PRESET       emulated device, a fraction of one core of this machine (default ${DEFAULT_DEVICE}; 'host' = no limit)
  --objective latency|accuracy   minimize latency (default) or maximize accuracy
  --min-accuracy A      accuracy floor for latency (default: the SDK's, full model's validation accuracy - 1 point)
  --max-latency-ms L    latency budget for --objective accuracy
  --transport url|invoke   SigV4-signed Function URL POSTs (default) or the Lambda Invoke API
  --report FILE         HTML report (default .jmdc/demo/report.html)
  --json                the last line of stdout is one JSON object
The demo synthesizes (or reuses) the CDK assembly for this machine's architecture, starts the local
cloud and the shaping proxy, and stops everything it started before it exits.`;

function progressBar(total: number, json: boolean): (done: number, rec?: RequestRecord) => void {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  return (done, rec) => {
    const frac = done / total;
    const what = rec?.result
      ? `${decisionLabel(rec.result.decision)} ${rec.result.timings.totalMs.toFixed(1)} ms`
      : (rec?.error?.code ?? '');
    if (tty) {
      const width = 30;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      process.stderr.write(`\r[${bar}] ${done}/${total} ${rec?.phase ?? ''}: ${what}`.padEnd(110).slice(0, 110));
      if (done === total) process.stderr.write('\n');
    } else if (!json || Math.floor(frac * 10) !== lastDecile) {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile)
        process.stderr.write(`${done}/${total} (${(100 * frac).toFixed(0)}%) ${rec?.phase ?? ''}: ${what}\n`);
      lastDecile = decile;
    }
  };
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    images: { type: 'string' },
    batch: { type: 'string' },
    model: { type: 'string' },
    network: { type: 'string' },
    trace: { type: 'string' },
    'gap-ms': { type: 'string' },
    'idle-timeout-ms': { type: 'string' },
    'explore-ms': { type: 'string' },
    device: { type: 'string' },
    objective: { type: 'string' },
    'min-accuracy': { type: 'string' },
    'max-latency-ms': { type: 'string' },
    transport: { type: 'string' },
    report: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) {
    console.log(usage);
    return 0;
  }
  const images = f.images === undefined ? DEFAULT_IMAGES : num(f.images, 'images', { min: 1, max: 10_000, int: true });
  const batch = f.batch === undefined ? DEFAULT_BATCH : num(f.batch, 'batch', { min: 1, max: 64, int: true });
  const gapMs = f['gap-ms'] === undefined ? DEFAULT_GAP_MS : num(f['gap-ms'], 'gap-ms', { min: 0 });
  const idleTimeoutMs =
    f['idle-timeout-ms'] === undefined
      ? DEFAULT_IDLE_TIMEOUT_MS
      : num(f['idle-timeout-ms'], 'idle-timeout-ms', { min: 100 });
  const exploreIntervalMs =
    f['explore-ms'] === undefined ? DEFAULT_EXPLORE_MS : num(f['explore-ms'], 'explore-ms', { min: 100 });
  if (f.network && f.trace) throw new UsageError('--network and --trace exclude each other');
  if (f.network && !NETWORK_PROFILES[f.network]) {
    throw new UsageError(`unknown network profile '${f.network}' (known: ${Object.keys(NETWORK_PROFILES).join(', ')})`);
  }
  let network: DemoOptions['network'];
  if (f.trace) network = traceFromFile(f.trace);
  else if (f.network) network = { phases: [{ from: 0, label: f.network, conditions: f.network }] };
  else network = { phases: defaultScenario(gapMs) };
  let device: DemoOptions['device'];
  try {
    device = devicePreset(f.device ?? DEFAULT_DEVICE);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const objectiveKind = f.objective ?? 'latency';
  let objective: Record<string, unknown>;
  if (objectiveKind === 'latency') {
    if (f['max-latency-ms'] !== undefined) throw new UsageError('--max-latency-ms goes with --objective accuracy');
    objective = { minimize: 'latency' };
    if (f['min-accuracy'] !== undefined)
      objective.minAccuracy = num(f['min-accuracy'], 'min-accuracy', { min: 0, max: 1 });
  } else if (objectiveKind === 'accuracy') {
    if (f['min-accuracy'] !== undefined) throw new UsageError('--min-accuracy goes with --objective latency');
    objective = { maximize: 'accuracy' };
    if (f['max-latency-ms'] !== undefined)
      objective.maxLatencyMs = num(f['max-latency-ms'], 'max-latency-ms', { min: 0 });
  } else {
    throw new UsageError(`--objective must be latency or accuracy, got ${objectiveKind}`);
  }
  const transport = f.transport ?? 'url';
  if (transport !== 'url' && transport !== 'invoke')
    throw new UsageError(`--transport must be url or invoke, got ${transport}`);
  const workDir = resolve('.jmdc', 'demo');
  const reportFile = resolve(f.report ?? join(workDir, 'report.html'));
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const bar = progressBar(images, f.json === true);
  // Ctrl-C or SIGTERM: stop what the demo started, then exit
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) process.exit(130);
    log(`\n${sig}: stopping the local cloud, the proxy and the device...`);
    stop.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const demo = await runDemo({
    model: f.model ?? 'fmnist-vgg16',
    images,
    batch,
    network,
    device,
    objective,
    transport,
    idleTimeoutMs,
    exploreIntervalMs,
    workDir,
    log,
    onProgress: (done, _total, rec) => bar(done, rec),
    signal: stop.signal,
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  writeReport(reportFile, demo);
  const s = demo.summary;
  const lines = [
    '',
    `images ${s.images} in ${s.requests} requests of ${s.batch}, classified ${s.classified}, lost ${s.lost}, errors ${s.errors}`,
    `accuracy ${(100 * s.accuracy).toFixed(2)}%`,
    `latency per request median ${s.medianMs} ms, p95 ${s.p95Ms} ms (predicted median ${s.predictedMedianMs} ms; median |predicted - measured| ${s.predictionErrorPctMedian}%)`,
    `bytes sent: mean ${s.meanBytes} B per image, ${s.totalBytes} B in all`,
    `cold starts seen by requests ${s.coldStarts}; local cloud: ${demo.cloud.invocations} invocations, ${demo.cloud.coldStarts} cold starts`,
    `fallbacks ${s.fallbacks}${
      s.fallbacks
        ? ` (${Object.entries(s.fallbacksByReason)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`
        : ''
    }`,
    `decisions (${s.decisionChanges} changes):`,
    ...Object.entries(s.decisions)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${k.padEnd(28)} ${v}`),
    'by phase:',
    ...s.phases.map(
      (p) =>
        `  ${p.phase.padEnd(24)} ${String(p.requests).padStart(5)} requests, median ${p.medianMs} ms (predicted ${p.predictedMedianMs}): ${Object.entries(
          p.decisions,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
    ),
    `report: ${reportFile}`,
  ];
  console.log(lines.join('\n'));
  if (f.json) {
    console.log(
      JSON.stringify({
        ...s,
        device: demo.device,
        transport,
        localCloud: {
          invocations: demo.cloud.invocations,
          coldStarts: demo.cloud.coldStarts,
          throttles: demo.cloud.throttles,
        },
        report: reportFile,
      }),
    );
  }
  return s.lost === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  try {
    process.exitCode = await run(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`npm start: ${e.message}\n\n${usage}`);
      process.exitCode = 2;
    } else if (isJmdcError(e)) {
      console.error(`npm start: ${e.code}: ${e.message}`);
      process.exitCode = 1;
    } else {
      console.error(`npm start: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    }
  }
}

await main();
