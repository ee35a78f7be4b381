/**
 * The benchmark against the baselines: one local cloud (the CDK assembly's function bundles in
 * Lambda-runtime processes), one shaping proxy in front of it, and per emulated device one worker
 * process under a CPU budget that holds a `JmdcClient` per strategy. In each cell (uplink x RTT x
 * batch x function state) the strategies are interleaved request by request on the same test images;
 * then the oracle's candidates (fixed rows) are measured the same way. The step trace of the demo
 * (trace.ts) runs on one device the same way, on a local cloud and proxy of its own.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { arch, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadProfile, type PlanRow } from '@jmdc/edge-sdk';
import { loadModel } from '@jmdc/edge-sdk/model';
import type { LocalCloud } from '@jmdc/local-cloud';
import { type CpuBudget, type DevicePreset, mulberry32, type ShapingProxy } from '@jmdc/netem';
import { loadSplit } from '../dataset.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startCloudBehindProxy, startDevice } from '../localSystem.js';
import { nextMessage } from '../workerProcess.js';
import type { FromWorker, PlannerView, ToWorker, WorkerReady, WorkerResult } from './protocol.js';
import {
  benchFloor,
  buildStrategies,
  type ClientSpec,
  oracleCandidates,
  paretoRows,
  quietVariant,
  rowKey,
  STRATEGY_NAMES,
  type Strategy,
  type StrategyName,
} from './strategies.js';
import { type CellRecord, type CellSummary, summarizeCell } from './summary.js';
import {
  functionWarmupSpecs,
  summarizeTrace,
  type TraceConfig,
  type TraceRecord,
  type TraceSummary,
  tracePhases,
  traceSchedule,
  WARM_IDLE_TIMEOUT_MS,
} from './trace.js';

/** Downlink of every cell (the answers are a few hundred bytes): an assumption, the issue fixes only the uplink. */
export const BENCH_DOWNLINK_MBPS = 20;

export type FunctionState = 'warm' | 'cold';

/** What to run. */
export interface BenchConfig {
  model: string;
  devices: DevicePreset[];
  uplinksMbps: number[];
  rttsMs: number[];
  batches: number[];
  states: FunctionState[];
  /** Measured requests per strategy per cell (and per oracle candidate). */
  requests: number;
  /** Unmeasured rounds per cell before measuring (the clients learn the link; in cold cells as many more under cold starts). */
  warmupRounds: number;
  /** Pareto rows added to the oracle's candidates. @default 2 */
  paretoCandidates?: number;
  /** Only these strategies (tests). @default all */
  strategies?: StrategyName[];
  /**
   * Adds `jmdcQuiet`: jmdc without exploration probes and warm-ups, to see what its background work
   * costs on the device. @default false
   */
  diagnoseBackground?: boolean;
  /** onnxruntime intra-op threads of every client (4 on a real Pi 4B). @default 1 */
  threads?: number;
  /**
   * Timed calibration rounds on each device, [min, max] (until the medians are stable, as `jmdc
   * calibrate`). @default [7, 41]
   */
  calibrationRounds?: [number, number];
  /**
   * Run against functions that are already deployed (AWS after `cdk deploy`, or a local cloud on
   * another host) instead of starting a local cloud and a shaping proxy here: the network is the real
   * one, so the one cell is labelled with the link the user measured; cold cells need the local
   * cloud's fault injection and are refused. @default undefined (local cloud + shaping proxy)
   */
  remote?: {
    endpointsFile: string;
    /** The uplink and RTT the user measured on this link (they label the cell; nothing is shaped). */
    uplinkMbps: number;
    rttMs: number;
    /** Region for signing. @default the endpoints file's */
    region?: string;
    /** Sign with the local cloud's test keys instead of the AWS credential chain. @default false */
    localCredentials?: boolean;
  };
  /**
   * The step trace of the demo on one device, after that device's cells (its own local cloud, with
   * the demo's idle timeout, and shaping proxy). @default undefined (no trace)
   */
  trace?: TraceConfig;
  /**
   * Cells measured before (`--resume`): the matrix's cells that match one of them (device, uplink,
   * RTT, batch, state) are not run again, and these figures are reported for them. @default none
   */
  done?: CellSummary[];
  /** Where the `done` cells came from (file, cell count, that run's machine and device emulation), reported as is. */
  resumedFrom?: ResumedRun[];
  /**
   * Called after each cell that was run, with every cell so far (done ones included) and how the devices
   * measured so far were emulated.
   */
  onCell?: (cells: CellSummary[], progress: Pick<BenchRun, 'machine' | 'deviceEmulation' | 'resumedFrom'>) => void;
  /** Working folder (endpoints file, state files). */
  workDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** How one device was emulated. */
export interface DeviceEmulation {
  device: string;
  cpuFraction: number;
  method: string;
  detail: string;
  threads: number;
  calibrationMs: number;
  /** Whole network per variant, ms, as calibrated on the device. */
  fullMs: Record<string, number>;
  /** The same on a batch of images at once, when calibrated. */
  batchFullMs?: { batch: number; ms: Record<string, number> };
  /** Per variant: the head to every point (index p-1), ms, as calibrated, and at the larger batch. */
  headMs?: Record<string, number[]>;
  batchHeadMs?: { batch: number; ms: Record<string, number[]> };
}

/** One earlier run whose cells `--resume` reports: its machine and device emulation stay with its cells. */
export interface ResumedRun {
  file: string;
  cells: number;
  machine?: unknown;
  deviceEmulation?: unknown;
  wallMs?: number;
  /** The runs that file itself resumed (its cells include theirs). */
  resumedFrom?: ResumedRun[];
}

/** Everything a run produced. */
export interface BenchRun {
  machine: {
    cpu: string;
    /**
     * Where the OS says: the CPU's family and model and its widest vector instructions (`avx512f`,
     * `avx2`, `asimd`, ...). Device emulation is a share of this machine's core, and how fast ONNX
     * Runtime runs on that share depends on them: runs on machines that differ here are not the same devices.
     */
    cpuDetail?: string;
    cores: number;
    arch: string;
    node: string;
    memoryGiB: number;
    loadavgAtStart: number[];
  };
  deviceEmulation: DeviceEmulation[];
  strategies: { name: Strategy['name']; description: string; approximation?: string; rows: number }[];
  floor: number;
  cells: CellSummary[];
  /** Cells taken from an earlier run (`--resume`), not measured in this one. */
  resumedCells?: number;
  /** The earlier runs those cells came from. */
  resumedFrom?: ResumedRun[];
  /** The step trace; null when it did not run. */
  trace: TraceSummary | null;
  /** Null when run against remote functions or without cells. */
  localCloud: { invocations: number; coldStarts: number; throttles: number } | null;
  wallMs: number;
}

const workerPath = join(dirname(fileURLToPath(import.meta.url)), 'benchWorker.ts');

function send(child: ChildProcess, msg: ToWorker): void {
  child.send(msg);
}

async function stopWorker(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  if (child.connected) send(child, { type: 'close' });
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
}

/** One cell of the matrix. */
export interface Cell {
  uplinkMbps: number;
  rttMs: number;
  device: string;
  batch: number;
  state: FunctionState;
}

/** The cells of one device, warm cells first (a cold cell's fault would otherwise leak into nothing, but the order is stated). */
export function cellsOf(cfg: BenchConfig, device: string): Cell[] {
  const out: Cell[] = [];
  const ups = cfg.remote ? [cfg.remote.uplinkMbps] : cfg.uplinksMbps;
  const rtts = cfg.remote ? [cfg.remote.rttMs] : cfg.rttsMs;
  for (const state of cfg.states)
    for (const batch of cfg.batches)
      for (const uplinkMbps of ups) for (const rttMs of rtts) out.push({ uplinkMbps, rttMs, device, batch, state });
  return out;
}

/** The labels of images [start, start + n), wrapping around those loaded (as the device worker does). */
function labelsAt(labels: Uint8Array, start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => labels[(start + i) % labels.length] as number);
}

/** Whether a measured cell is the matrix cell `c`. */
function sameCell(a: Cell, c: Cell): boolean {
  return (
    a.device === c.device &&
    a.uplinkMbps === c.uplinkMbps &&
    a.rttMs === c.rttMs &&
    a.batch === c.batch &&
    a.state === c.state
  );
}

/** The cells in the order of the matrix (devices, then as {@link cellsOf}); cells outside it last. */
function inMatrixOrder(cfg: BenchConfig, cells: CellSummary[]): CellSummary[] {
  const order = cfg.devices.flatMap((d) => cellsOf(cfg, d.name));
  const rank = (c: CellSummary): number => {
    const i = order.findIndex((o) => sameCell(c, o));
    return i < 0 ? order.length : i;
  };
  return [...cells].sort((a, b) => rank(a) - rank(b));
}

/**
 * The CPU's family and model and its widest vector instructions, from Linux's `/proc/cpuinfo` text (or
 * the file), e.g. `family 25 model 17, avx512f`; undefined where there is no such file.
 *
 * @example
 * cpuDetail('cpu family\t: 25\nmodel\t\t: 17\nflags\t\t: fpu avx2 avx512f\n') // 'family 25 model 17, avx512f'
 */
export function cpuDetail(text?: string): string | undefined {
  let info = text;
  if (info === undefined) {
    try {
      info = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info as string)?.[1]?.trim();
  const flags = new Set((field('flags') ?? field('Features') ?? '').split(/\s+/));
  const simd = ['avx512f', 'avx2', 'avx', 'sse4_2', 'sve', 'asimd', 'neon'].find((f) => flags.has(f));
  const family = field('cpu family');
  const model = field('model');
  const parts = [
    family !== undefined && model !== undefined
      ? `family ${family} model ${model}`
      : field('CPU part')
        ? `part ${field('CPU part')}`
        : undefined,
    simd,
  ].filter((x): x is string => x !== undefined && x !== '');
  return parts.length ? parts.join(', ') : undefined;
}

/** This machine, as a run's `machine` reports it (the load average now). */
export function machineInfo(): BenchRun['machine'] {
  const cpu = cpus();
  const detail = cpuDetail();
  return {
    cpu: cpu[0]?.model?.trim() ?? 'unknown',
    ...(detail ? { cpuDetail: detail } : {}),
    cores: cpu.length,
    arch: arch(),
    node: process.version,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * Runs the benchmark; everything it starts (local cloud and its instances, proxy, workers, CPU
 * budgets) is stopped before it returns or throws.
 */
export async function runBench(cfg: BenchConfig): Promise<BenchRun> {
  const { log } = cfg;
  const t0 = performance.now();
  const model = loadModel(cfg.model);
  const profile = loadProfile(model.dir, { manifest: model.manifest });
  const floor = benchFloor(profile);
  const all = buildStrategies(model.manifest, profile);
  const strategies: Strategy[] = cfg.strategies
    ? all.filter((s) => cfg.strategies?.includes(s.name as StrategyName))
    : [...all];
  const ours = all.find((s) => s.name === 'jmdc');
  if (cfg.diagnoseBackground && ours) strategies.push(quietVariant(ours));
  const trace = cfg.trace;
  const maxBatch = Math.max(...cfg.batches);
  // each cell of a device measures its own slice of the test split (see `runCell`)
  const cellsPerDevice = cfg.uplinksMbps.length * cfg.rttsMs.length * cfg.batches.length * cfg.states.length;
  const imagesNeeded = Math.min(
    10_000,
    Math.max(
      cfg.devices.length ? (cellsPerDevice * cfg.requests + 2 * cfg.warmupRounds + 1) * maxBatch : 0,
      trace ? (trace.rounds + cfg.warmupRounds + 1) * trace.batch : 0,
    ),
  );
  const labels = loadSplit(model.dir, 'test', imagesNeeded).labels;
  const machine = machineInfo();
  const rowsByKey = new Map<string, PlanRow>();
  for (const s of all) for (const r of s.rows) if (!rowsByKey.has(rowKey(r))) rowsByKey.set(rowKey(r), r);
  const pareto = paretoRows(profile, floor, cfg.paretoCandidates ?? 2);
  for (const r of pareto) if (!rowsByKey.has(rowKey(r))) rowsByKey.set(rowKey(r), r);

  let cloud: LocalCloud | undefined;
  let proxy: ShapingProxy | undefined;
  const emulations: DeviceEmulation[] = [];
  const cells: CellSummary[] = [];
  mkdirSync(cfg.workDir, { recursive: true });
  const remote = cfg.remote;
  if (remote && cfg.states.includes('cold')) {
    throw new Error('cold cells need the local cloud (its fault injection reaps the functions): use --states warm');
  }
  if (remote && trace) throw new Error('the step trace needs the local cloud and the shaping proxy');
  if (!cfg.devices.length && !trace) throw new Error('nothing to run: no devices and no trace');
  // the trace's device runs after the cells of the devices listed (its own worker when not listed)
  const devices = [...cfg.devices];
  if (trace && !devices.some((d) => d.name === trace.device.name)) devices.push(trace.device);
  let traceSummary: TraceSummary | null = null;
  const done = cfg.done ?? [];
  const isDone = (c: Cell): boolean => done.some((d) => sameCell(d, c));
  try {
    let endpointsFile = '';
    if (remote) {
      endpointsFile = remote.endpointsFile;
      log(
        `remote functions from ${endpointsFile}; the link is not shaped (labelled ${remote.uplinkMbps} Mbit/s, ${remote.rttMs} ms)`,
      );
    } else if (cfg.devices.some((d) => cellsOf(cfg, d.name).some((c) => !isDone(c)))) {
      log(`local cloud: model ${model.manifest.id}`);
      const system = await startCloudBehindProxy(
        { model: model.dir, idleTimeoutMs: WARM_IDLE_TIMEOUT_MS, onInfo: (line) => log(`local cloud: ${line}`) },
        'loopback',
        cfg.workDir,
      );
      ({ cloud, proxy, endpointsFile } = system);
      log(`local cloud at ${cloud.url}, shaping proxy at ${proxy.url}`);
    }

    for (const device of devices) {
      cfg.signal?.throwIfAborted();
      const listed = cfg.devices.includes(device);
      const todo = listed ? cellsOf(cfg, device.name).filter((c) => !isDone(c)) : [];
      const withTrace = trace !== undefined && trace.device.name === device.name;
      if (!todo.length && !withTrace) {
        if (listed) log(`device ${device.name}: every cell measured before (--resume)`);
        continue;
      }
      const r = await runDevice(cfg, device, {
        cloud,
        proxy,
        endpointsFile,
        modelDir: model.dir,
        strategies,
        rowsByKey,
        pareto,
        floor,
        labels,
        imagesNeeded,
        cells: todo,
        ...(withTrace ? { trace } : {}),
        onCell: (c, emulation) => {
          cells.push(c);
          if (!emulations.includes(emulation)) emulations.push(emulation);
          cfg.onCell?.(inMatrixOrder(cfg, [...done, ...cells]), {
            machine,
            deviceEmulation: emulations,
            ...(cfg.resumedFrom?.length ? { resumedFrom: cfg.resumedFrom } : {}),
          });
        },
      });
      if (!emulations.includes(r.emulation)) emulations.push(r.emulation);
      if (r.trace) traceSummary = r.trace;
    }
    const st = cloud?.stats();
    return {
      machine,
      deviceEmulation: emulations,
      strategies: strategies.map((s) => ({
        name: s.name,
        description: s.description,
        ...(s.approximation ? { approximation: s.approximation } : {}),
        rows: s.rows.length,
      })),
      floor,
      cells: inMatrixOrder(cfg, [...done, ...cells]),
      ...(done.length ? { resumedCells: done.length } : {}),
      ...(cfg.resumedFrom?.length ? { resumedFrom: cfg.resumedFrom } : {}),
      trace: traceSummary,
      localCloud: st ? { invocations: st.invocations, coldStarts: st.coldStarts, throttles: st.throttles } : null,
      wallMs: Math.round(performance.now() - t0),
    };
  } finally {
    await proxy?.close().catch(() => {});
    await cloud?.stop();
  }
}

interface DeviceContext {
  cloud: LocalCloud | undefined;
  proxy: ShapingProxy | undefined;
  endpointsFile: string;
  modelDir: string;
  strategies: Strategy[];
  rowsByKey: Map<string, PlanRow>;
  pareto: PlanRow[];
  floor: number;
  labels: Uint8Array;
  imagesNeeded: number;
}

async function runDevice(
  cfg: BenchConfig,
  device: DevicePreset,
  ctx: DeviceContext & {
    cells: Cell[];
    trace?: TraceConfig;
    onCell?: (c: CellSummary, emulation: DeviceEmulation) => void;
  },
): Promise<{ emulation: DeviceEmulation; cells: CellSummary[]; trace?: TraceSummary }> {
  const { log } = cfg;
  let child: ChildProcess | undefined;
  let budget: CpuBudget | undefined;
  const stateDir = join(cfg.workDir, `state-${device.name}`);
  rmSync(stateDir, { recursive: true, force: true });
  try {
    const dev = await startDevice(workerPath, device, `bench-${process.pid}`);
    ({ child, budget } = dev);
    const { method } = dev;
    const detail = dev.detail ?? 'this machine at full speed';
    // one intra-op thread by default: the budgets are fractions of one core, and the host shares its
    // cores; a real Pi runs the benchmark's device side with --threads 4
    const threads = cfg.threads ?? 1;
    log(`device ${device.name}: ${device.cpuFraction} of one core (${method}: ${detail}); calibrating...`);
    const ready = nextMessage<FromWorker, 'ready'>(child, 'ready');
    send(child, {
      type: 'init',
      model: cfg.model,
      endpointsFile: ctx.endpointsFile,
      ...(cfg.remote?.region ? { region: cfg.remote.region } : cfg.remote ? {} : { region: LOCAL_REGION }),
      ...(cfg.remote && !cfg.remote.localCredentials ? {} : { credentials: LOCAL_CREDENTIALS }),
      threads,
      images: ctx.imagesNeeded,
      stateDir,
      calibrationRounds: cfg.calibrationRounds ?? [7, 41],
    });
    const r: WorkerReady = await ready;
    log(
      `device ${device.name}: calibrated in ${(r.calibrationMs / 1000).toFixed(1)} s, whole network r000 ${r.fullMs.r000?.toFixed(2)} ms` +
        (r.batchFullMs ? `, ${r.batchFullMs.ms.r000?.toFixed(2)} ms at batch ${r.batchFullMs.batch}` : ''),
    );
    const emulation: DeviceEmulation = {
      device: device.name,
      cpuFraction: device.cpuFraction,
      method,
      detail,
      threads,
      calibrationMs: Math.round(r.calibrationMs),
      fullMs: r.fullMs,
      ...(r.batchFullMs ? { batchFullMs: r.batchFullMs } : {}),
      headMs: r.headMs,
      ...(r.batchHeadMs ? { batchHeadMs: r.batchHeadMs } : {}),
    };
    const out: CellSummary[] = [];
    const { cells } = ctx;
    const cellMs: number[] = [];
    for (const [i, cell] of cells.entries()) {
      cfg.signal?.throwIfAborted();
      const t = performance.now();
      const summary = await runCell(cfg, child, cell, ctx);
      out.push(summary);
      ctx.onCell?.(summary, emulation);
      cellMs.push(performance.now() - t);
      const j = summary.strategies;
      log(
        `[${device.name} ${i + 1}/${cells.length}] ${cell.uplinkMbps} Mbit/s, ${cell.rttMs} ms, batch ${cell.batch}, ${cell.state}: ` +
          `jmdc ${j.jmdc?.medianMs ?? '-'} ms (${summary.decision}), neurosurgeon ${j.neurosurgeon?.medianMs ?? '-'}, ` +
          `oracle ${j.oracle?.medianMs ?? '-'} (${summary.oracleDecision}) in ${((cellMs.at(-1) ?? 0) / 1000).toFixed(0)} s` +
          timeLeftText(cellMs, cells.length - i - 1, device.name),
      );
    }
    if (!ctx.trace) return { emulation, cells: out };
    cfg.signal?.throwIfAborted();
    const t = performance.now();
    const trace = await runTrace(cfg, child, ctx.trace, ctx);
    const o = trace.overall;
    log(
      `[${device.name} trace ${trace.name}] jmdc ${o.strategies.jmdc?.medianMs ?? '-'} ms, neurosurgeon ${o.strategies.neurosurgeon?.medianMs ?? '-'}, ` +
        `best single ${o.bestSingle} ${o.strategies[o.bestSingle]?.medianMs ?? '-'}, oracle ${o.strategies.oracle?.medianMs ?? '-'} (${o.oracleDecision}) ` +
        `in ${((performance.now() - t) / 1000).toFixed(0)} s`,
    );
    return { emulation, cells: out, trace };
  } finally {
    await stopWorker(child);
    await budget?.close().catch(() => {});
  }
}

/**
 * What a device's progress line adds after a cell: the time its `left` cells will take at the mean of
 * the cells measured so far (`cellMs`), or nothing when none is left. A cell's time depends on its link
 * and state, so this is a rough guide, not a promise.
 */
export function timeLeftText(cellMs: readonly number[], left: number, device: string): string {
  if (left <= 0 || cellMs.length === 0) return '';
  const ms = (cellMs.reduce((a, b) => a + b, 0) / cellMs.length) * left;
  const min = Math.round(ms / 60_000);
  const text =
    ms < 90_000 ? `${Math.round(ms / 1000)} s` : min < 90 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
  return `; about ${text} left on ${device} (${left} cell${left === 1 ? '' : 's'})`;
}

/** Classifies one batch with the client `key` and records it. */
async function classifyOnce(child: ChildProcess, key: string, start: number, batch: number): Promise<WorkerResult> {
  const reply = nextMessage<FromWorker, 'result'>(child, 'result');
  send(child, { type: 'classify', key, start, batch });
  return reply;
}

/**
 * The order of round `round` over `keys`: a shuffle seeded by the round's number (the same in every run).
 * Neither the first place nor the predecessor of a strategy is fixed: after another strategy's request its
 * aftermath (a cold start, an answer) can still load the machine, and a rotation by one per round would put
 * every strategy after the same one in nearly every round.
 */
export function roundOrder(keys: readonly string[], round: number): string[] {
  const out = [...keys];
  const next = mulberry32(round);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out;
}

/**
 * Runs `rounds` rounds over `keys`, each round every key once in the order {@link roundOrder} gives
 * round `firstRound + i`, on images [firstImage + round x batch, ...).
 */
async function interleave(
  child: ChildProcess,
  keys: string[],
  rounds: number,
  batch: number,
  firstImage: number,
  onResult?: (r: WorkerResult, start: number) => void,
  firstRound = 0,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const start = firstImage + round * batch;
    for (const key of roundOrder(keys, firstRound + round)) {
      const r = await classifyOnce(child, key, start, batch);
      onResult?.(r, start);
    }
  }
}

/** The planner's view of the client `key` now (see {@link PlannerView}). */
async function explainClient(child: ChildProcess, key: string, batch: number): Promise<PlannerView | undefined> {
  const reply = nextMessage<FromWorker, 'explained'>(child, 'explained');
  send(child, { type: 'explain', key, batch });
  return (await reply).view;
}

/** Replaces the worker's clients (on `endpointsFile`, default the init's); resolves with the keys of those it could create. */
async function setClients(child: ChildProcess, specs: ClientSpec[], endpointsFile?: string): Promise<string[]> {
  const ready = nextMessage<FromWorker, 'clientsReady'>(child, 'clientsReady');
  send(child, { type: 'clients', specs, ...(endpointsFile ? { endpointsFile } : {}) });
  return (await ready).keys;
}

async function runCell(cfg: BenchConfig, child: ChildProcess, cell: Cell, ctx: DeviceContext): Promise<CellSummary> {
  const { proxy, cloud } = ctx;
  proxy?.setConditions({
    uplinkMbps: cell.uplinkMbps,
    downlinkMbps: BENCH_DOWNLINK_MBPS,
    rttMs: cell.rttMs,
    jitterMs: 0,
  });
  const records: CellRecord[] = [];
  const record = (r: WorkerResult, start: number): void => {
    records.push({ ...r, labels: labelsAt(ctx.labels, start, cell.batch) });
  };
  // the measured rounds of the cell's k-th place in the device's matrix classify images from
  // k x requests x batch on (after the warm-up rounds' images; wrapping around what was loaded), so
  // the cells together cover much more of the test split than one cell's images
  const place = Math.max(
    0,
    cellsOf(cfg, cell.device).findIndex((c) => sameCell(c, cell)),
  );
  const measuredFrom = 2 * cfg.warmupRounds * cell.batch + place * cfg.requests * cell.batch;
  const cold = cell.state === 'cold';
  let view: PlannerView | undefined;
  const measure = async (specs: ClientSpec[], explainKey?: string): Promise<void> => {
    cloud?.clearFaults();
    const keys = await setClients(child, specs);
    // the clients learn the link on warm functions
    await interleave(child, keys, cfg.warmupRounds, cell.batch, 0);
    if (cold) {
      // every request from here on finds its function reaped: the cold-start-aware client learns it
      cloud?.injectFault('*', { kind: 'coldStorm' });
      await interleave(child, keys, cfg.warmupRounds, cell.batch, cfg.warmupRounds * cell.batch);
    }
    await interleave(child, keys, cfg.requests, cell.batch, measuredFrom, record);
    if (explainKey && keys.includes(explainKey)) view = await explainClient(child, explainKey, cell.batch);
    cloud?.clearFaults();
  };
  try {
    await measure(ctx.strategies, 'jmdc');
    // the oracle's candidates: the rows the strategies used and a few Pareto rows, as fixed clients
    const { fixedOf, extra } = oracleCandidates(ctx.strategies, records, ctx.pareto, ctx.rowsByKey, ctx.floor);
    if (extra.length > 0) await measure(extra);
    const summary = summarizeCell(cell, records, {
      strategies: ctx.strategies.map((s) => s.name),
      fixedOf,
      rowsByKey: ctx.rowsByKey,
      floor: ctx.floor,
    });
    return view ? { ...summary, jmdcView: view } : summary;
  } finally {
    cloud?.clearFaults();
  }
}

export { STRATEGY_NAMES };

/**
 * The step trace on one device: a local cloud with the trace's idle timeout and a shaping proxy of
 * its own; per pass (the strategies, then the oracle's candidates as fixed clients) every function is
 * warmed by one fixed client per function, then the pass's fresh clients run the measured rounds phase by phase
 * (the proxy set to each phase's conditions; the idle gap spent without requests, so the local
 * cloud reaps what it keeps idle longer than its timeout).
 */
async function runTrace(
  cfg: BenchConfig,
  child: ChildProcess,
  tc: TraceConfig,
  ctx: DeviceContext,
): Promise<TraceSummary> {
  const { log } = cfg;
  const plan = traceSchedule(tracePhases(tc.name, tc.gapMs), tc.rounds);
  const workDir = join(cfg.workDir, 'trace');
  mkdirSync(workDir, { recursive: true });
  log(
    `trace ${tc.name} on ${tc.device.name}: ${tc.rounds} rounds of batch ${tc.batch} (${plan.map((p) => `${p.label} ${p.rounds}`).join(', ')}); local cloud idle timeout ${tc.idleTimeoutMs} ms`,
  );
  const system = await startCloudBehindProxy(
    { model: ctx.modelDir, idleTimeoutMs: tc.idleTimeoutMs, onInfo: (line) => log(`trace local cloud: ${line}`) },
    plan[0]?.conditions ?? 'loopback',
    workDir,
  );
  const { proxy, endpointsFile } = system;
  try {
    const warmSpecs = functionWarmupSpecs(
      system.cloud.functions.map((f) => f.point),
      ctx.rowsByKey.values(),
    );
    const records: TraceRecord[] = [];
    const firstImage = cfg.warmupRounds * tc.batch;
    // jmdc's view at the start and the end of each phase (strategies' pass only)
    const views: Array<{ start?: PlannerView; end?: PlannerView }> = plan.map(() => ({}));
    const pass = async (specs: ClientSpec[], what: string): Promise<void> => {
      proxy.setConditions(plan[0]?.conditions ?? 'loopback');
      // fresh clients (they learn each phase's link while it runs), created with the warm-up clients
      // so that the functions are warmed right before the first measured round
      const all = await setClients(child, [...warmSpecs, ...specs], endpointsFile);
      const warm = new Set(warmSpecs.map((w) => w.key));
      await interleave(
        child,
        all.filter((k) => warm.has(k)),
        cfg.warmupRounds,
        tc.batch,
        0,
      );
      const keys = all.filter((k) => !warm.has(k));
      for (const [i, p] of plan.entries()) {
        cfg.signal?.throwIfAborted();
        if (p.idleBeforeMs > 0) {
          log(`trace ${what}: idle for ${(p.idleBeforeMs / 1000).toFixed(1)} s (no requests)`);
          await sleep(p.idleBeforeMs, undefined, cfg.signal ? { signal: cfg.signal } : {});
        }
        proxy.setConditions(p.conditions);
        const explain = keys.includes('jmdc');
        if (explain) (views[i] as { start?: PlannerView }).start = await explainClient(child, 'jmdc', tc.batch);
        const t = performance.now();
        const record = (r: WorkerResult, start: number): void => {
          records.push({ ...r, phase: i, labels: labelsAt(ctx.labels, start, tc.batch) });
        };
        await interleave(child, keys, p.rounds, tc.batch, firstImage + p.fromRound * tc.batch, record, p.fromRound);
        if (explain) (views[i] as { end?: PlannerView }).end = await explainClient(child, 'jmdc', tc.batch);
        log(`trace ${what}: ${p.label}, ${p.rounds} rounds in ${((performance.now() - t) / 1000).toFixed(0)} s`);
      }
    };
    await pass(ctx.strategies, 'strategies');
    const { fixedOf, extra } = oracleCandidates(ctx.strategies, records, ctx.pareto, ctx.rowsByKey, ctx.floor);
    if (extra.length > 0) await pass(extra, `oracle candidates (${extra.length})`);
    const st = system.cloud.stats();
    const summary = summarizeTrace(
      {
        name: tc.name,
        device: tc.device.name,
        batch: tc.batch,
        rounds: tc.rounds,
        gapMs: tc.gapMs,
        idleTimeoutMs: tc.idleTimeoutMs,
        localCloud: { invocations: st.invocations, coldStarts: st.coldStarts, throttles: st.throttles },
      },
      plan,
      records,
      { strategies: ctx.strategies.map((s) => s.name), fixedOf, rowsByKey: ctx.rowsByKey, floor: ctx.floor },
    );
    summary.phases.forEach((ph, i) => {
      const v = views[i];
      if (v?.start) ph.jmdcViewAtStart = v.start;
      if (v?.end) ph.jmdcView = v.end;
    });
    return summary;
  } finally {
    await proxy.close().catch(() => {});
    await system.cloud.stop();
  }
}
