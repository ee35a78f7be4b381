/**
 * `npm run bench`: the strategies side by side on the local cloud, behind the shaping proxy, on this
 * machine and emulated weaker devices (see runBench.ts). Progress on stderr; the last stdout line
 * is one JSON summary; `--json FILE` writes every cell.
 *
 *   npm run bench -- [--quick] [--json FILE] [--devices host,pi4,pi-zero2] [--uplinks 0.05,0.25,1,5,20]
 *                    [--rtts 10,40,150] [--batches 1,16] [--states warm,cold] [--requests N] [--warmup N]
 *                    [--trace demo|none] [--trace-only] [--trace-device D] [--trace-requests N]
 *                    [--svg-dir DIR | --no-svg]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { num, parseFlags, UsageError } from '@jmdc/edge-sdk/cli';
import { isJmdcError } from '@jmdc/edge-sdk/errors';
import { DEVICE_PRESETS, type DevicePreset, devicePreset } from '@jmdc/netem';
import { DEFAULT_DEVICE, DEFAULT_GAP_MS } from '../demo/scenario.js';
import { writeCharts } from './charts.js';
import {
  type BenchConfig,
  type BenchRun,
  type FunctionState,
  machineInfo,
  type ResumedRun,
  runBench,
} from './runBench.js';
import { type CellSummary, checkGoals } from './summary.js';
import { cellTable, goalLines, predictionTable, traceTables } from './tables.js';
import { TRACE_NAMES, type TraceConfig, type TraceName, traceBrief, traceIdleTimeoutMs, tracePhases } from './trace.js';

/** The full matrix of the benchmark. */
export const FULL_MATRIX = {
  devices: ['host', 'pi4', 'pi-zero2'],
  uplinksMbps: [0.05, 0.25, 1, 5, 20],
  rttsMs: [10, 40, 150],
  batches: [1, 16],
  states: ['warm', 'cold'] as FunctionState[],
  requests: 30,
  warmupRounds: 4,
  /** The step trace of the demo, after the cells. */
  trace: 'demo' as TraceName | 'none',
  /** Measured rounds of the trace (every strategy once per round). */
  traceRounds: 40,
};

/** `--quick`: a few cells that finish in about three minutes on 2 shared cores. */
export const QUICK_MATRIX = {
  devices: ['host', 'pi-zero2'],
  uplinksMbps: [0.25, 5],
  rttsMs: [40],
  batches: [1],
  states: ['warm'] as FunctionState[],
  requests: 5,
  warmupRounds: 2,
  /** No trace by default: with it a quick run would take well over its three minutes. */
  trace: 'none' as TraceName | 'none',
  /** Rounds of the shortened trace of `--quick --trace demo`. */
  traceRounds: 12,
};

const PHASE_LABELS = tracePhases('demo', DEFAULT_GAP_MS)
  .map((p) => p.label)
  .join(', ');

export const usage = `usage: npm run bench -- [options]
  --quick               a few cells (${QUICK_MATRIX.devices.join(', ')}; ${QUICK_MATRIX.uplinksMbps.join(', ')} Mbit/s; ${QUICK_MATRIX.rttsMs.join(', ')} ms; batch 1; warm; ${QUICK_MATRIX.requests} requests), about 3 minutes
  --json FILE           write the whole result (machine, deviceEmulation, cells) to FILE; while the run
                        goes on, FILE holds the cells measured so far and the devices' emulation
                        ("partial": true)
  --resume FILE[,FILE]  skip the cells these files (earlier --json runs, whole or partial) already have,
                        and report their figures for them: a long matrix can run in parts, one after
                        another or side by side (each file's machine and device emulation go along
                        as resumedFrom); a cell in two files is an error
  --report              measure nothing: write the runs of --resume as one (--json, --markdown, the
                        charts; the trace of the last file that has one)
  --devices LIST        device presets (default ${FULL_MATRIX.devices.join(',')}; known: ${Object.keys(DEVICE_PRESETS).join(', ')})
  --uplinks LIST        uplink Mbit/s (default ${FULL_MATRIX.uplinksMbps.join(',')})
  --rtts LIST           RTT ms (default ${FULL_MATRIX.rttsMs.join(',')})
  --batches LIST        images per request (default ${FULL_MATRIX.batches.join(',')})
  --states LIST         warm,cold (default warm,cold; cold: every measured request finds its function reaped)
  --requests N          measured requests per strategy per cell (default ${FULL_MATRIX.requests})
  --warmup N            unmeasured rounds per cell first (default ${FULL_MATRIX.warmupRounds})
  --model ID            model (default fmnist-vgg16)
  --threads N           onnxruntime intra-op threads on the device (default 1: the emulated devices are
                        fractions of one core; 4 on a real Pi 4B)
  --svg-dir DIR         where the charts go (default docs/img); --no-svg for none
  --markdown FILE       write the cells, the predictions and the goals as Markdown tables
  --diagnose-background also run jmdcQuiet: jmdc without exploration probes and warm-ups
  --trace demo|none     the demo's step trace as a cell (${PHASE_LABELS}) after the matrix, on one
                        device: fresh clients, every strategy interleaved, a local cloud of its own with the
                        demo's idle timeout (default demo; none with --quick or --endpoints)
  --trace-only          the step trace alone, no matrix cells (implies --trace demo)
  --trace-device D      the trace's device preset (default ${DEFAULT_DEVICE}, the demo's)
  --trace-requests N    measured rounds of the trace, split over its phases as in the demo
                        (default ${FULL_MATRIX.traceRounds}; ${QUICK_MATRIX.traceRounds} with --quick)
  --trace-batch B       images per request in the trace (default 1)
  --trace-gap-ms MS     the idle gap before the last phase (default ${DEFAULT_GAP_MS}, the demo's; the trace's
                        local cloud reaps instances idle for 0.8 x the gap, as the demo's 20 s for 25 s;
                        0: no gap, nothing reaped)
  --endpoints FILE      run against deployed functions (AWS after cdk deploy, or 'npm run local-cloud' on another
                        host) instead of a local cloud and shaping proxy here; needs --link; warm cells only
  --link MBPS,MS        the uplink and RTT you measured on that link (they label the cell; nothing is shaped)
  --region R            signing region with --endpoints (default: the endpoints file's)
  --local-credentials   sign with the local cloud's test keys (a local cloud on another host) instead of the AWS chain
The options after --quick override its cells.`;

/** The cells of an earlier `--json` file (whole or partial), with where they came from; a usage error when it has none. */
function readRun(file: string): { cells: CellSummary[]; from: ResumedRun; run: Partial<BenchRun> } {
  let run: Partial<
    Record<
      'cells' | 'machine' | 'deviceEmulation' | 'wallMs' | 'strategies' | 'floor' | 'trace' | 'resumedFrom',
      unknown
    >
  >;
  try {
    run = JSON.parse(readFileSync(file, 'utf8')) as typeof run;
  } catch (e) {
    throw new UsageError(`--resume ${file}: ${(e as Error).message}`);
  }
  const cells = run?.cells;
  const ok = (c: unknown): c is CellSummary => {
    const x = c as Partial<CellSummary> | null;
    return (
      typeof x === 'object' &&
      x !== null &&
      typeof x.device === 'string' &&
      typeof x.uplinkMbps === 'number' &&
      typeof x.rttMs === 'number' &&
      typeof x.batch === 'number' &&
      (x.state === 'warm' || x.state === 'cold') &&
      typeof x.strategies === 'object'
    );
  };
  if (!Array.isArray(cells) || !cells.every(ok)) throw new UsageError(`--resume ${file}: no bench cells in it`);
  return {
    cells,
    run: run as Partial<BenchRun>,
    from: {
      file: basename(file),
      cells: cells.length,
      ...(run.machine === undefined ? {} : { machine: run.machine }),
      ...(run.deviceEmulation === undefined ? {} : { deviceEmulation: run.deviceEmulation }),
      ...(typeof run.wallMs === 'number' ? { wallMs: run.wallMs } : {}),
      ...(Array.isArray(run.resumedFrom) ? { resumedFrom: run.resumedFrom as ResumedRun[] } : {}),
    },
  };
}

/** The cells of one or more earlier runs (`--resume A,B`); a cell measured in two of them is a usage error. */
export function readRuns(files: string[]): { cells: CellSummary[]; from: ResumedRun[]; runs: Partial<BenchRun>[] } {
  const cells: CellSummary[] = [];
  const from: ResumedRun[] = [];
  const runs: Partial<BenchRun>[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const r = readRun(file);
    for (const c of r.cells) {
      const key = `${c.device} ${c.uplinkMbps} Mbit/s ${c.rttMs} ms batch ${c.batch} ${c.state}`;
      const other = seen.get(key);
      if (other !== undefined) throw new UsageError(`--resume: the cell ${key} is in both ${other} and ${file}`);
      seen.set(key, file);
    }
    cells.push(...r.cells);
    from.push(r.from);
    runs.push(r.run);
  }
  return { cells, from, runs };
}

/** Devices in the order of the presets, then the rest by name. */
const DEVICE_ORDER = Object.keys(DEVICE_PRESETS);

/**
 * `--report`: the runs of `--resume` as one, nothing measured. The cells in matrix order (device, warm
 * before cold, batch, uplink, RTT); the trace of the last file that has one; this machine's `machine`,
 * no `deviceEmulation` of its own (each file's is in `resumedFrom`).
 */
export function reportRuns(resumed: ReturnType<typeof readRuns>): BenchRun {
  const rank = (d: string) => {
    const i = DEVICE_ORDER.indexOf(d);
    return i < 0 ? DEVICE_ORDER.length : i;
  };
  const cells = [...resumed.cells].sort(
    (a, b) =>
      rank(a.device) - rank(b.device) ||
      a.device.localeCompare(b.device) ||
      (a.state === b.state ? 0 : a.state === 'warm' ? -1 : 1) ||
      a.batch - b.batch ||
      a.uplinkMbps - b.uplinkMbps ||
      a.rttMs - b.rttMs,
  );
  const withStrategies = resumed.runs.find((r) => Array.isArray(r.strategies));
  const traced = [...resumed.runs].reverse().find((r) => r.trace);
  return {
    machine: machineInfo(),
    deviceEmulation: [],
    strategies: withStrategies?.strategies ?? [],
    floor: resumed.runs.find((r) => typeof r.floor === 'number')?.floor ?? Number.NaN,
    cells,
    resumedCells: cells.length,
    resumedFrom: resumed.from,
    trace: traced?.trace ?? null,
    localCloud: null,
    wallMs: 0,
  };
}

function list(v: string | undefined, name: string): number[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((x) => num(x.trim(), name, { min: 0 }));
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    quick: { type: 'boolean' },
    json: { type: 'string' },
    resume: { type: 'string' },
    report: { type: 'boolean' },
    threads: { type: 'string' },
    devices: { type: 'string' },
    uplinks: { type: 'string' },
    rtts: { type: 'string' },
    batches: { type: 'string' },
    states: { type: 'string' },
    requests: { type: 'string' },
    warmup: { type: 'string' },
    model: { type: 'string' },
    'svg-dir': { type: 'string' },
    'no-svg': { type: 'boolean' },
    markdown: { type: 'string' },
    'diagnose-background': { type: 'boolean' },
    endpoints: { type: 'string' },
    link: { type: 'string' },
    region: { type: 'string' },
    'local-credentials': { type: 'boolean' },
    trace: { type: 'string' },
    'trace-only': { type: 'boolean' },
    'trace-device': { type: 'string' },
    'trace-requests': { type: 'string' },
    'trace-batch': { type: 'string' },
    'trace-gap-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) {
    console.log(usage);
    return 0;
  }
  if (f.report) {
    if (!f.resume) throw new UsageError('--report needs --resume FILE[,FILE]: the runs to write as one');
    const measuring = (['quick', 'trace-only', 'endpoints', 'diagnose-background'] as const).filter(
      (k) => f[k] !== undefined,
    );
    if (measuring.length) throw new UsageError(`--report measures nothing: --${measuring[0]} does not go with it`);
  }
  const base = f.quick ? QUICK_MATRIX : FULL_MATRIX;
  const preset = (n: string): DevicePreset => {
    try {
      return devicePreset(n);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const deviceNames = f.devices?.split(',').map((s) => s.trim()) ?? base.devices;
  const traceOnly = f['trace-only'] === true;
  if (traceOnly && f.devices !== undefined) throw new UsageError('--trace-only runs no cells: use --trace-device');
  const devices: DevicePreset[] = traceOnly ? [] : deviceNames.map(preset);
  const trace = traceConfig(f, base, traceOnly, f.endpoints !== undefined, preset);
  const states = [...(f.states?.split(',').map((s) => s.trim()) ?? base.states)] as FunctionState[];
  for (const s of states) if (s !== 'warm' && s !== 'cold') throw new UsageError(`--states: warm or cold, got '${s}'`);
  const batches = list(f.batches, 'batches') ?? base.batches;
  for (const b of batches)
    if (!(Number.isInteger(b) && b >= 1 && b <= 64)) throw new UsageError('--batches: integers 1..64');
  const uplinks = list(f.uplinks, 'uplinks') ?? base.uplinksMbps;
  if (uplinks.some((u) => !(u > 0))) throw new UsageError('--uplinks must be > 0');
  let remote: BenchConfig['remote'];
  if (f.endpoints) {
    const link = list(f.link, 'link');
    if (!link || link.length !== 2 || !((link[0] as number) > 0)) {
      throw new UsageError('--endpoints needs --link UPLINK_MBPS,RTT_MS (what you measured on that link)');
    }
    if (f.states === undefined) states.splice(0, states.length, 'warm');
    if (states.includes('cold'))
      throw new UsageError('--endpoints: cold cells need the local cloud; use --states warm');
    remote = {
      endpointsFile: resolve(f.endpoints),
      uplinkMbps: link[0] as number,
      rttMs: link[1] as number,
      ...(f.region ? { region: f.region } : {}),
      ...(f['local-credentials'] ? { localCredentials: true } : {}),
    };
  } else if (f.link || f.region || f['local-credentials']) {
    throw new UsageError('--link, --region and --local-credentials go with --endpoints');
  }
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) process.exit(130);
    log(`\n${sig}: stopping the local cloud, the proxy and the devices...`);
    stop.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const resumed = f.resume
    ? readRuns(
        f.resume
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
          .map((x) => resolve(x)),
      )
    : undefined;
  const done = resumed?.cells ?? [];
  const jsonFile = f.json ? resolve(f.json) : undefined;
  const cfg: BenchConfig = {
    ...(done.length ? { done, resumedFrom: resumed?.from ?? [] } : {}),
    ...(jsonFile
      ? {
          onCell: (cells: CellSummary[], progress: Pick<BenchRun, 'machine' | 'deviceEmulation' | 'resumedFrom'>) => {
            mkdirSync(dirname(jsonFile), { recursive: true });
            const partial = { partial: true, ...progress, cells };
            writeFileSync(jsonFile, `${JSON.stringify(partial, null, 2)}\n`);
          },
        }
      : {}),
    model: f.model ?? 'fmnist-vgg16',
    ...(f.threads === undefined ? {} : { threads: num(f.threads, 'threads', { min: 1, max: 64, int: true }) }),
    devices,
    uplinksMbps: uplinks,
    rttsMs: list(f.rtts, 'rtts') ?? base.rttsMs,
    batches,
    states,
    requests: f.requests === undefined ? base.requests : num(f.requests, 'requests', { min: 1, int: true }),
    warmupRounds: f.warmup === undefined ? base.warmupRounds : num(f.warmup, 'warmup', { min: 1, int: true }),
    ...(remote ? { remote } : {}),
    ...(f['diagnose-background'] ? { diagnoseBackground: true } : {}),
    ...(trace ? { trace } : {}),
    workDir: resolve('.jmdc', 'bench'),
    log,
    signal: stop.signal,
  };
  const links = remote ? 1 : cfg.uplinksMbps.length * cfg.rttsMs.length;
  const cellCount = cfg.devices.length * links * cfg.batches.length * cfg.states.length;
  if (f.report) log(`bench: ${done.length} cells from ${f.resume} (--report: nothing measured)`);
  else if (done.length) log(`bench: ${done.length} cells from ${f.resume} (--resume) are not run again`);
  if (!f.report)
    log(
      `bench: ${cellCount} cells, ${cfg.requests} measured requests per strategy per cell` +
        (trace ? `; step trace ${trace.name} on ${trace.device.name}, ${trace.rounds} rounds` : '; no trace'),
    );
  let result: BenchRun;
  try {
    result = resumed && f.report ? reportRuns(resumed) : await runBench(cfg);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const goals = checkGoals(result.cells, result.trace);
  const out = { ...result, goals };
  if (f.json) {
    const file = resolve(f.json);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    log(`bench: wrote ${file}`);
  }
  if (f.markdown) {
    const file = resolve(f.markdown);
    mkdirSync(dirname(file), { recursive: true });
    const tables = result.cells.length ? [cellTable(result.cells), predictionTable(result.cells)] : [];
    if (result.trace) tables.push(traceTables(result.trace));
    writeFileSync(file, `${[...tables, goalLines(goals)].join('\n\n')}\n`);
    log(`bench: wrote ${file}`);
  }
  if (!f['no-svg'] && result.cells.length) {
    const files = writeCharts(resolve(f['svg-dir'] ?? 'docs/img'), result);
    log(`bench: charts ${files.join(', ')}`);
  }
  console.log(
    JSON.stringify({
      cells: result.cells.length,
      wallMs: result.wallMs,
      machine: result.machine,
      deviceEmulation: result.deviceEmulation,
      goals,
      perCell: result.cells.map((c) => ({
        device: c.device,
        uplinkMbps: c.uplinkMbps,
        rttMs: c.rttMs,
        batch: c.batch,
        state: c.state,
        decision: c.decision,
        oracle: c.oracleDecision,
        medians: Object.fromEntries(Object.entries(c.strategies).map(([k, v]) => [k, v.medianMs])),
        ratios: c.ratios,
      })),
      trace: result.trace ? traceBrief(result.trace) : null,
    }),
  );
  return 0;
}

/** The trace cell's settings from the flags; undefined when no trace runs. */
function traceConfig(
  f: Record<string, string | boolean | undefined>,
  base: typeof FULL_MATRIX,
  traceOnly: boolean,
  remote: boolean,
  preset: (name: string) => DevicePreset,
): TraceConfig | undefined {
  const str = (k: string) => (typeof f[k] === 'string' ? (f[k] as string) : undefined);
  const given = str('trace');
  if (given !== undefined && given !== 'none' && !TRACE_NAMES.includes(given as TraceName)) {
    throw new UsageError(`--trace: ${[...TRACE_NAMES, 'none'].join(' or ')}, got '${given}'`);
  }
  if (traceOnly && given === 'none') throw new UsageError('--trace-only and --trace none exclude each other');
  const name = given ?? (traceOnly ? 'demo' : remote ? 'none' : base.trace);
  const detail = ['trace-device', 'trace-requests', 'trace-batch', 'trace-gap-ms'].filter((k) => f[k] !== undefined);
  if (name === 'none') {
    if (detail.length) throw new UsageError(`--${detail[0]} needs the trace (--trace demo or --trace-only)`);
    return undefined;
  }
  if (remote) throw new UsageError('--endpoints: the step trace needs the local cloud and the shaping proxy');
  const phases = tracePhases(name as TraceName, DEFAULT_GAP_MS).length;
  const gapMs =
    str('trace-gap-ms') === undefined ? DEFAULT_GAP_MS : num(str('trace-gap-ms'), 'trace-gap-ms', { min: 0 });
  if (gapMs > 0 && gapMs < 1000) throw new UsageError('--trace-gap-ms: 0 (no gap) or at least 1000');
  return {
    name: name as TraceName,
    device: preset(str('trace-device') ?? DEFAULT_DEVICE),
    rounds:
      str('trace-requests') === undefined
        ? base.traceRounds
        : num(str('trace-requests'), 'trace-requests', { min: phases, int: true }),
    batch:
      str('trace-batch') === undefined ? 1 : num(str('trace-batch'), 'trace-batch', { min: 1, max: 64, int: true }),
    gapMs,
    idleTimeoutMs: traceIdleTimeoutMs(gapMs),
  };
}

async function main(): Promise<void> {
  try {
    process.exitCode = await run(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`npm run bench: ${e.message}\n\n${usage}`);
      process.exitCode = 2;
    } else if (isJmdcError(e)) {
      console.error(`npm run bench: ${e.code}: ${e.message}`);
      process.exitCode = 1;
    } else {
      console.error(`npm run bench: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();
