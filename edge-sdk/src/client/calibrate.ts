import { arch, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ErrorCodes, JmdcError } from '../errors.js';
import type { ModelRunner } from '../model/runner.js';
import type { DeviceCalibration } from '../profile/types.js';
import { describeValue } from '../util/describeValue.js';
import { median } from '../util/median.js';
import { type DeviceWork, fitLinear } from './deviceWork.js';

/**
 * Options of {@link JmdcClient.calibrate} and {@link measureHeads}.
 *
 * @example
 * await client.calibrate({ repetitions: 9, warmup: 3, onProgress: (done, total) => console.error(`${done}/${total}`) })
 */
export interface CalibrateOptions {
  /**
   * Timed rounds at least (each round times every head and every whole network once; after this many,
   * an entry whose median is stable is not timed again). @default 7
   */
  repetitions?: number;
  /** Rounds at most, while some median is not yet stable. @default 41 */
  maxRepetitions?: number;
  /** Untimed rounds first (session creation, caches, CPU frequency). @default 3 */
  warmup?: number;
  /** A median is stable when its interquartile range / median is at most this. @default 0.15 */
  targetSpread?: number;
  /**
   * Relative tolerance of the consistency checks: the head to point p may not take longer than the
   * head to a later point, or than the whole network, by more than this (plus both spreads). @default 0.25
   */
  tolerance?: number;
  /** Absolute tolerance of the consistency checks, ms (timer resolution). @default 0.05 */
  absToleranceMs?: number;
  /** Whole measurements made before an inconsistent result is rejected. @default 3 */
  attempts?: number;
  /**
   * Also time every whole network and every head on a batch of this many images at once (`batchFullMs`,
   * `batchHeadMs`), so that the planner knows how each run's time grows with its batch; 1 skips it. @default 8
   */
  batch?: number;
  /** Called after each timed round: rounds done, the most rounds, and a label. */
  onProgress?: (done: number, total: number, label: string) => void;
  /** Clock for the timings, ms (tests). @default performance.now */
  now?: () => number;
  /**
   * The client's per-request work to time with the heads (see {@link deviceWork}): gives
   * `requestMs`, `rawEncodeMs` and `featureEncodeMs`. @default none
   */
  work?: readonly DeviceWork[];
}

/** A sample of per-request work lasts at least this long (repeated runs, averaged): timer resolution. */
const MIN_WORK_SAMPLE_MS = 0.5;
/** At most this many runs of a piece of per-request work per sample. */
const MAX_WORK_RUNS = 64;

/**
 * A short name of this device: CPU model, architecture, cores.
 *
 * @example
 * deviceName() // 'Cortex-A72 (arm64, 4 cores)'
 */
export function deviceName(): string {
  const c = cpus();
  return `${c[0]?.model?.trim() || 'unknown CPU'} (${arch()}, ${c.length} cores)`;
}

/** The interquartile range of `xs` divided by their median (0 for fewer than 2 samples). */
function relativeIqr(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => {
    const pos = (s.length - 1) * f;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
  };
  const m = median(s);
  return m > 0 ? (q(0.75) - q(0.25)) / m : 0;
}

function int(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) {
    throw new JmdcError(
      ErrorCodes.INVALID_ARGUMENT,
      `${name} must be an integer >= ${min} and <= ${max}, got ${describeValue(v)}`,
    );
  }
  return v;
}

function positive(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `${name} must be a number >= 0, got ${describeValue(v)}`);
  }
  return v;
}

interface Task {
  variant: string;
  /** 1..P for a head, 0 for the whole network. */
  point: number;
  /** Images per run, for a head or the whole network at the larger batch (else 1). */
  batch?: number;
  /** Set for the encoder of a bottleneck (its id). */
  bottleneck?: string;
  /** Set for per-request work (then `variant` and `point` mean nothing). */
  work?: DeviceWork;
  run: () => Promise<unknown>;
  /** Runs per sample (the sample is their mean). */
  runs: number;
  samples: number[];
}

/** Runs a short piece of work `runs` times per sample, so that a sample is above the timer's resolution. */
function workTask(work: DeviceWork): Task {
  const task: Task = {
    variant: '',
    point: -1,
    work,
    runs: 1,
    samples: [],
    run: async () => {
      for (let i = 0; i < task.runs; i++) await work.run();
    },
  };
  return task;
}

/** The name of a piece of work in `spread.workMs`: `request:1024`, `answer`, `raw:png`, `feature:rans:812`. */
function workLabel(w: DeviceWork): string {
  if (w.kind === 'raw') return `raw:${w.id}`;
  if (w.kind === 'answer') return 'answer';
  return w.kind === 'feature' ? `feature:${w.id}:${w.bytes}` : `request:${w.bytes}`;
}

type WorkCosts = Pick<DeviceCalibration, 'requestMs' | 'rawEncodeMs' | 'featureEncodeMs'>;

/** The calibration's per-request fields from the medians of the work tasks. */
function workCosts(tasks: readonly Task[]): WorkCosts {
  const points = (pick: (w: DeviceWork) => boolean) =>
    tasks.flatMap((t) => (t.work && pick(t.work) ? [{ bytes: t.work.bytes, ms: median(t.samples) }] : []));
  const out: WorkCosts = {};
  const sign = points((w) => w.kind === 'request');
  const answer = points((w) => w.kind === 'answer');
  if (sign.length > 0 || answer.length > 0) {
    const fit = fitLinear(sign);
    out.requestMs = { fixedMs: fit.fixedMs + answer.reduce((a, p) => a + p.ms, 0), perKiBMs: fit.perKiBMs };
  }
  for (const t of tasks) {
    if (t.work?.kind === 'raw' && t.work.id !== undefined) {
      out.rawEncodeMs ??= {};
      out.rawEncodeMs[t.work.id] = median(t.samples);
    }
  }
  const coders = new Set(tasks.flatMap((t) => (t.work?.kind === 'feature' && t.work.id ? [t.work.id] : [])));
  for (const id of coders) {
    out.featureEncodeMs ??= {};
    out.featureEncodeMs[id] = fitLinear(points((w) => w.kind === 'feature' && w.id === id));
  }
  return out;
}

/**
 * Contradictions in a calibration: a head slower than the head to a later point, or than the whole
 * network, or a head or whole network at batch 1 slower than at the larger batch, beyond `tolerance` (+ both
 * spreads) and `absToleranceMs`. Empty when consistent.
 *
 * @example
 * calibrationIssues({ ...cal, headMs: { r000: [30.3, 2, 3] }, fullMs: { r000: 9.2 } }) // ['r000: head to point 1 (30.300 ms) > whole network (9.200 ms)', ...]
 */
export function calibrationIssues(
  cal: Pick<DeviceCalibration, 'headMs' | 'fullMs' | 'spread' | 'batchFullMs' | 'batchHeadMs'>,
  opts: { tolerance?: number; absToleranceMs?: number } = {},
): string[] {
  const tol = opts.tolerance ?? 0.25;
  const abs = opts.absToleranceMs ?? 0.05;
  const issues: string[] = [];
  const slower = (a: number, sa: number, b: number, sb: number) => a > b * (1 + tol + sa + sb) + abs;
  for (const [id, heads] of Object.entries(cal.headMs)) {
    const hs = cal.spread?.headMs[id] ?? [];
    const full = cal.fullMs[id];
    const fs = cal.spread?.fullMs[id] ?? 0;
    heads.forEach((ms, i) => {
      if (full !== undefined && slower(ms, hs[i] ?? 0, full, fs)) {
        issues.push(`${id}: head to point ${i + 1} (${ms.toFixed(3)} ms) > whole network (${full.toFixed(3)} ms)`);
      }
      for (let j = i + 1; j < heads.length; j++) {
        const later = heads[j] as number;
        if (slower(ms, hs[i] ?? 0, later, hs[j] ?? 0)) {
          issues.push(
            `${id}: head to point ${i + 1} (${ms.toFixed(3)} ms) > head to point ${j + 1} (${later.toFixed(3)} ms)`,
          );
        }
      }
    });
  }
  // a batch of images cannot take less time than one of them
  const b = cal.batchFullMs;
  if (b) {
    for (const [id, ms] of Object.entries(b.ms)) {
      const one = cal.fullMs[id];
      if (one !== undefined && slower(one, cal.spread?.fullMs[id] ?? 0, ms, cal.spread?.batchFullMs?.[id] ?? 0)) {
        issues.push(
          `${id}: whole network at batch ${b.batch} (${ms.toFixed(3)} ms) < at batch 1 (${one.toFixed(3)} ms)`,
        );
      }
    }
  }
  const bh = cal.batchHeadMs;
  if (bh) {
    for (const [id, heads] of Object.entries(bh.ms)) {
      heads.forEach((ms, i) => {
        const one = cal.headMs[id]?.[i];
        const sb = cal.spread?.batchHeadMs?.[id]?.[i] ?? 0;
        if (one !== undefined && slower(one, cal.spread?.headMs[id]?.[i] ?? 0, ms, sb)) {
          issues.push(
            `${id}: head to point ${i + 1} at batch ${bh.batch} (${ms.toFixed(3)} ms) < at batch 1 (${one.toFixed(3)} ms)`,
          );
        }
      });
    }
  }
  return issues;
}

/**
 * Times, on this device and batch 1, the head of every variant up to every partition point, every
 * whole network (heads and whole networks also at `opts.batch` images per run) and (when the runner has `encode`) the encoder of every bottleneck of the manifest
 * on its point's features, all the same way: `warmup` untimed rounds, then timed rounds in which every
 * entry runs once, in an order that rotates from round to round (so drift and interference hit all
 * alike), until each median is stable (interquartile range / median <= `targetSpread`, at least
 * `repetitions` rounds, at most `maxRepetitions`); an entry stable after `repetitions` rounds is not timed
 * again. The spread of each median is reported. The client's
 * per-request work (`opts.work`, see {@link deviceWork}) is timed in the same rounds, each sample
 * repeating a short piece enough times to last `MIN_WORK_SAMPLE_MS`: it gives `requestMs` (signing
 * fitted as fixed + per KiB, plus the answer check), `rawEncodeMs` and `featureEncodeMs` (fitted per coder). A result
 * whose timings contradict each other (see {@link calibrationIssues}) is measured again, and after
 * `attempts` measurements rejected with `JMDC_ERR_CALIBRATION_INCONSISTENT` (`details.issues`).
 *
 * @example
 * const cal = await measureHeads(runner, { threads: 4 })
 * cal.spread?.fullMs.r000 // e.g. 0.04
 */
export async function measureHeads(
  runner: Pick<ModelRunner, 'model' | 'head' | 'full'> & Partial<Pick<ModelRunner, 'encode'>>,
  opts: CalibrateOptions & { threads?: number } = {},
): Promise<DeviceCalibration> {
  const reps = int(opts.repetitions, 'repetitions', 7, 1, 1000);
  const maxReps = Math.max(reps, int(opts.maxRepetitions, 'maxRepetitions', Math.max(41, reps), 1, 10_000));
  const warmup = int(opts.warmup, 'warmup', 3, 0, 100);
  const attempts = int(opts.attempts, 'attempts', 3, 1, 10);
  const batch = int(opts.batch, 'batch', 8, 1, 256);
  const target = positive(opts.targetSpread, 'targetSpread', 0.15);
  const check = {
    tolerance: positive(opts.tolerance, 'tolerance', 0.25),
    absToleranceMs: positive(opts.absToleranceMs, 'absToleranceMs', 0.05),
  };
  const now = opts.now ?? (() => performance.now());
  const { manifest } = runner.model;
  const [c, h, w] = manifest.input.shape;
  // a mid-grey image: timing does not depend on the values
  const input = new Float32Array(c * h * w).fill(0.1);
  const inputs = batch > 1 ? new Float32Array(c * h * w * batch).fill(0.1) : input;
  const P = manifest.points.length;
  let issues: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const tasks: Task[] = [];
    for (const v of manifest.variants) {
      for (let p = 1; p <= P; p++)
        tasks.push({ variant: v.id, point: p, run: () => runner.head(v.id, p, input, 1), runs: 1, samples: [] });
      tasks.push({ variant: v.id, point: 0, run: () => runner.full(v.id, input, 1), runs: 1, samples: [] });
      if (batch > 1) {
        for (let p = 1; p <= P; p++) {
          const run = () => runner.head(v.id, p, inputs, batch);
          tasks.push({ variant: v.id, point: p, batch, run, runs: 1, samples: [] });
        }
        const run = () => runner.full(v.id, inputs, batch);
        tasks.push({ variant: v.id, point: 0, batch, run, runs: 1, samples: [] });
      }
    }
    const encode = runner.encode?.bind(runner);
    for (const b of encode ? (manifest.bottlenecks ?? []) : []) {
      const v = manifest.variants.find((x) => Math.abs(x.pruneRatio - b.variant) < 1e-6);
      if (!v) continue;
      // the encoder alone, on the point's features (computed once: timing does not depend on the values)
      let features: Float32Array | undefined;
      tasks.push({
        variant: v.id,
        point: b.point,
        bottleneck: b.id,
        run: async () => {
          features ??= (await runner.head(v.id, b.point, input, 1)).features;
          return (encode as NonNullable<typeof encode>)(b, features, 1);
        },
        runs: 1,
        samples: [],
      });
    }
    const work = (opts.work ?? []).map(workTask);
    tasks.push(...work);
    for (let i = 0; i < warmup; i++) for (const t of tasks) await t.run();
    for (const t of work) {
      const t0 = now();
      await t.run();
      const ms = now() - t0;
      t.runs = ms > 0 ? Math.min(MAX_WORK_RUNS, Math.max(1, Math.ceil(MIN_WORK_SAMPLE_MS / ms))) : 1;
    }
    for (let round = 0; round < maxReps; round++) {
      for (let k = 0; k < tasks.length; k++) {
        const t = tasks[(k + round) % tasks.length] as Task;
        // an entry whose median has settled is not timed again; the rounds go on for the others
        if (t.samples.length >= reps && relativeIqr(t.samples) <= target) continue;
        const t0 = now();
        await t.run();
        t.samples.push((now() - t0) / t.runs);
      }
      const worst = Math.max(...tasks.map((t) => relativeIqr(t.samples)));
      opts.onProgress?.(
        round + 1,
        maxReps,
        `attempt ${attempt}, round ${round + 1}, largest spread ${worst.toFixed(3)}`,
      );
      if (round + 1 >= reps && worst <= target) break;
    }
    const cal: DeviceCalibration = {
      device: deviceName(),
      threads: opts.threads ?? 0,
      headMs: {},
      fullMs: {},
      measuredAt: Date.now(),
      spread: { headMs: {}, fullMs: {} },
      repetitions: Math.max(0, ...tasks.map((t) => t.samples.length)),
      attempts: attempt,
    };
    Object.assign(cal, workCosts(tasks));
    for (const t of tasks) {
      const spread = cal.spread as NonNullable<DeviceCalibration['spread']>;
      if (t.work) {
        spread.workMs ??= {};
        spread.workMs[workLabel(t.work)] = relativeIqr(t.samples);
      } else if (t.bottleneck !== undefined) {
        cal.bottleneckMs ??= {};
        spread.bottleneckMs ??= {};
        cal.bottleneckMs[t.bottleneck] = median(t.samples);
        spread.bottleneckMs[t.bottleneck] = relativeIqr(t.samples);
      } else if (t.batch !== undefined && t.point > 0) {
        cal.batchHeadMs ??= { batch: t.batch, ms: {} };
        spread.batchHeadMs ??= {};
        const heads = cal.batchHeadMs.ms[t.variant] ?? [];
        const spreads = spread.batchHeadMs[t.variant] ?? [];
        heads[t.point - 1] = median(t.samples);
        spreads[t.point - 1] = relativeIqr(t.samples);
        cal.batchHeadMs.ms[t.variant] = heads;
        spread.batchHeadMs[t.variant] = spreads;
      } else if (t.batch !== undefined) {
        cal.batchFullMs ??= { batch: t.batch, ms: {} };
        spread.batchFullMs ??= {};
        cal.batchFullMs.ms[t.variant] = median(t.samples);
        spread.batchFullMs[t.variant] = relativeIqr(t.samples);
      } else if (t.point === 0) {
        cal.fullMs[t.variant] = median(t.samples);
        spread.fullMs[t.variant] = relativeIqr(t.samples);
      } else {
        const heads = cal.headMs[t.variant] ?? [];
        const spreads = spread.headMs[t.variant] ?? [];
        heads.push(median(t.samples));
        spreads.push(relativeIqr(t.samples));
        cal.headMs[t.variant] = heads;
        spread.headMs[t.variant] = spreads;
      }
    }
    issues = calibrationIssues(cal, check);
    if (issues.length === 0) return cal;
  }
  throw new JmdcError(
    ErrorCodes.CALIBRATION_INCONSISTENT,
    `timings still inconsistent after ${attempts} measurements (is something else using the CPU?): ${issues.slice(0, 3).join('; ')}`,
    { issues },
  );
}
