import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DeviceCalibration } from '../profile/types.js';
import type { AgedSample } from './AgedSamples.js';
import { DEFAULT_SAMPLE_BOUNDS, isPlausible } from './bounds.js';
import type { ColdStartState } from './ColdStartModel.js';
import type { EstimatorState } from './LiveEstimators.js';

/**
 * Version of the state file format; a file with another version is ignored.
 *
 * @example
 * readState(path, expect).state?.version === STATE_VERSION // true
 */
export const STATE_VERSION = 2;

/**
 * What a restarted app remembers: this device's calibration and the live estimates.
 *
 * @example
 * const s: EdgeState = { version: STATE_VERSION, model: 'fmnist-vgg16', modelHash, savedAt: Date.now() }
 */
export interface EdgeState {
  version: typeof STATE_VERSION;
  model: string;
  modelHash: string;
  /** Epoch ms. */
  savedAt: number;
  calibration?: DeviceCalibration;
  estimators?: EstimatorState;
}

/**
 * Default state file of a model: `$JMDC_STATE_DIR/<id>.json`, else `$XDG_STATE_HOME/jmdc/<id>.json`,
 * else `~/.local/state/jmdc/<id>.json`.
 *
 * @example
 * defaultStatePath('fmnist-vgg16') // '/home/pi/.local/state/jmdc/fmnist-vgg16.json'
 */
export function defaultStatePath(modelId: string): string {
  const dir =
    process.env.JMDC_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'jmdc');
  return join(dir, `${modelId}.json`);
}

const MAX_SAMPLES = 64;

function samples(v: unknown): v is number[] {
  return Array.isArray(v) && v.length <= MAX_SAMPLES && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

function checkCalibration(c: unknown): c is DeviceCalibration {
  if (typeof c !== 'object' || c === null) return false;
  const o = c as Record<string, unknown>;
  if (typeof o.device !== 'string' || typeof o.threads !== 'number' || typeof o.measuredAt !== 'number') return false;
  if (typeof o.headMs !== 'object' || o.headMs === null || typeof o.fullMs !== 'object' || o.fullMs === null) {
    return false;
  }
  if (!Object.values(o.headMs).every((a) => samples(a) && a.every((x) => x >= 0 && x <= 600_000))) return false;
  if (!Object.values(o.fullMs).every((x) => isPlausible(x, 0, 600_000))) return false;
  if (
    o.bottleneckMs !== undefined &&
    (typeof o.bottleneckMs !== 'object' ||
      o.bottleneckMs === null ||
      !Object.values(o.bottleneckMs).every((x) => isPlausible(x, 0, 600_000)))
  ) {
    return false;
  }
  const ms = (x: unknown) => isPlausible(x, 0, 600_000);
  if (o.batchFullMs !== undefined && !batchTimings(o.batchFullMs, ms)) return false;
  if (o.batchHeadMs !== undefined && !batchTimings(o.batchHeadMs, (a) => samples(a) && a.every(ms))) return false;
  if (o.requestMs !== undefined && !linearCost(o.requestMs)) return false;
  if (o.rawEncodeMs !== undefined && !record(o.rawEncodeMs, (x) => isPlausible(x, 0, 600_000))) return false;
  if (o.featureEncodeMs !== undefined && !record(o.featureEncodeMs, linearCost)) return false;
  return o.encodeMs === undefined || (typeof o.encodeMs === 'number' && o.encodeMs >= 0);
}

/** `{ batch, ms }` with an integer batch in [2, 256] and every value of `ms` passing `ok`. */
function batchTimings(v: unknown, ok: (x: unknown) => boolean): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Record<string, unknown>;
  return typeof b.batch === 'number' && Number.isInteger(b.batch) && b.batch >= 2 && b.batch <= 256 && record(b.ms, ok);
}

/** An object whose every value passes `ok`. */
function record(v: unknown, ok: (x: unknown) => boolean): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(ok);
}

/** A plausible {@link LinearCost}: both parts in [0, 600000] ms. */
function linearCost(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return isPlausible(o.fixedMs, 0, 600_000) && isPlausible(o.perKiBMs, 0, 600_000);
}

function num(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Keeps the plausible parts of a cold-start state; says what was dropped. */
function sanitizeCold(c: unknown, dropped: string[], where: string): ColdStartState | undefined {
  if (typeof c !== 'object' || c === null) {
    dropped.push(`${where}: not an object`);
    return undefined;
  }
  const o = c as Record<string, unknown>;
  if (!Array.isArray(o.bins) || o.bins.length > 16) {
    dropped.push(`${where}.bins malformed`);
    return undefined;
  }
  const bins: Array<[number, number]> = [];
  for (const b of o.bins) {
    if (Array.isArray(b) && b.length === 2 && b.every((x) => num(x) && x >= 0 && x <= 1e6)) {
      bins.push([b[0] as number, b[1] as number]);
    } else {
      dropped.push(`${where}.bins: implausible counts`);
      bins.push([0, 0]);
    }
  }
  const initMs: number[] = [];
  for (const x of Array.isArray(o.initMs) ? o.initMs.slice(-MAX_SAMPLES) : []) {
    if (isPlausible(x, 0, DEFAULT_SAMPLE_BOUNDS.maxInitMs)) initMs.push(x);
    else dropped.push(`${where}.initMs ${String(x)}`);
  }
  return {
    bins,
    initMs,
    ...(num(o.lastActivityAt) ? { lastActivityAt: o.lastActivityAt } : {}),
    ...(num(o.decayedAt) ? { decayedAt: o.decayedAt } : {}),
  };
}

/** Keeps the plausible parts of the estimators' state; says what was dropped. Undefined when unusable. */
function sanitizeEstimators(e: unknown, dropped: string[]): EstimatorState | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as Record<string, unknown>;
  const link = o.link as Record<string, unknown> | undefined;
  if (typeof link !== 'object' || link === null || !Array.isArray(link.samples)) return undefined;
  if (typeof o.cloudScale !== 'object' || o.cloudScale === null || typeof o.coldStart !== 'object' || !o.coldStart) {
    return undefined;
  }
  const b = DEFAULT_SAMPLE_BOUNDS;
  const maxSlope = 8 / (b.minUplinkMbps * 1000);
  const samples: Array<[number, number, number]> = [];
  for (const x of link.samples.slice(-MAX_SAMPLES)) {
    if (
      Array.isArray(x) &&
      x.length === 3 &&
      isPlausible(x[0], 0, 64 * 1024 * 1024) &&
      isPlausible(x[1], 0, b.maxRttMs + (x[0] as number) * maxSlope) &&
      num(x[2])
    ) {
      samples.push([x[0], x[1], x[2]] as [number, number, number]);
    } else dropped.push(`link sample ${JSON.stringify(x)}`);
  }
  let slope: [number, number] | undefined;
  if (link.slope !== undefined) {
    const sl = link.slope as unknown[];
    if (
      Array.isArray(sl) &&
      sl.length === 2 &&
      isPlausible(sl[0], 8 / (b.maxUplinkMbps * 1000), maxSlope) &&
      num(sl[1])
    ) {
      slope = [sl[0], sl[1]] as [number, number];
    } else dropped.push(`link slope ${JSON.stringify(link.slope)}`);
  }
  const cloudScale: Record<string, AgedSample[]> = {};
  for (const [p, arr] of Object.entries(o.cloudScale as Record<string, unknown>)) {
    const kept: AgedSample[] = [];
    for (const x of Array.isArray(arr) ? arr.slice(-MAX_SAMPLES) : []) {
      const s = x as Partial<AgedSample>;
      if (typeof s === 'object' && s !== null && isPlausible(s.v, 1 / b.maxCloudScale, b.maxCloudScale) && num(s.at)) {
        kept.push({ v: s.v, at: s.at });
      } else dropped.push(`cloudScale[${p}] ${JSON.stringify(x)}`);
    }
    if (kept.length) cloudScale[p] = kept;
  }
  const coldStart: Record<string, ColdStartState> = {};
  for (const [p, c] of Object.entries(o.coldStart as Record<string, unknown>)) {
    const kept = sanitizeCold(c, dropped, `coldStart[${p}]`);
    if (kept) coldStart[p] = kept;
  }
  const deviceScale = agedSamples(o.deviceScale, 'deviceScale', 1 / b.maxDeviceScale, b.maxDeviceScale, dropped);
  const requestExtra = agedSamples(o.requestExtra, 'requestExtra', -b.maxRttMs, b.maxRttMs, dropped);
  return {
    link: { samples, ...(slope ? { slope } : {}) },
    cloudScale,
    coldStart,
    ...(deviceScale.length ? { deviceScale } : {}),
    ...(requestExtra.length ? { requestExtra } : {}),
  };
}

/** The plausible samples of an optional list (absent: none). */
function agedSamples(list: unknown, name: string, min: number, max: number, dropped: string[]): AgedSample[] {
  const kept: AgedSample[] = [];
  if (list === undefined) return kept;
  for (const x of Array.isArray(list) ? list.slice(-MAX_SAMPLES) : [list]) {
    const s = x as Partial<AgedSample>;
    if (typeof s === 'object' && s !== null && isPlausible(s.v, min, max) && num(s.at)) kept.push({ v: s.v, at: s.at });
    else dropped.push(`${name} ${JSON.stringify(x)}`);
  }
  return kept;
}

/**
 * Result of {@link readState}: the usable state (possibly partial) and why parts were dropped.
 *
 * @example
 * const { state, warnings }: ReadStateResult = readState(path, { model: 'fmnist-vgg16', modelHash })
 */
export interface ReadStateResult {
  state: EdgeState | undefined;
  warnings: string[];
}

/**
 * Reads a state file. A missing file is no state; an unreadable, corrupt, old-version or
 * malformed file is ignored with a warning; a file for another build of the model (other hash)
 * keeps only the network estimates (bandwidth, RTT). Never throws.
 *
 * @example
 * const { state, warnings } = readState(defaultStatePath('fmnist-vgg16'), { model: 'fmnist-vgg16', modelHash })
 */
export function readState(path: string, expect: { model: string; modelHash: string }): ReadStateResult {
  if (!existsSync(path)) return { state: undefined, warnings: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return { state: undefined, warnings: [`ignoring state file ${path}: ${(e as Error).message}`] };
  }
  const o = parsed as Partial<EdgeState> | null;
  if (typeof o !== 'object' || o === null)
    return { state: undefined, warnings: [`ignoring state file ${path}: not an object`] };
  if (o.version !== STATE_VERSION) {
    return {
      state: undefined,
      warnings: [`ignoring state file ${path}: version ${String(o.version)}, expected ${STATE_VERSION}`],
    };
  }
  if (o.model !== expect.model) {
    return { state: undefined, warnings: [`ignoring state file ${path}: it is for model ${String(o.model)}`] };
  }
  const warnings: string[] = [];
  const state: EdgeState = {
    version: STATE_VERSION,
    model: expect.model,
    modelHash: expect.modelHash,
    savedAt: typeof o.savedAt === 'number' ? o.savedAt : 0,
  };
  const sameBuild = o.modelHash === expect.modelHash;
  if (o.calibration !== undefined) {
    if (!checkCalibration(o.calibration)) warnings.push(`ignoring the calibration in ${path}: malformed`);
    else if (!sameBuild)
      warnings.push(`ignoring the calibration in ${path}: made for model hash ${String(o.modelHash)}`);
    else state.calibration = o.calibration;
  }
  if (o.estimators !== undefined) {
    const dropped: string[] = [];
    const est = sanitizeEstimators(o.estimators, dropped);
    if (!est) warnings.push(`ignoring the estimates in ${path}: malformed`);
    else {
      if (dropped.length > 0) {
        warnings.push(
          `dropped ${dropped.length} implausible value${dropped.length > 1 ? 's' : ''} from the estimates in ${path}: ${dropped
            .slice(0, 5)
            .join('; ')}${dropped.length > 5 ? '; ...' : ''}`,
        );
      }
      if (!sameBuild) {
        warnings.push(`keeping only the network estimates of ${path}: made for model hash ${String(o.modelHash)}`);
        state.estimators = { link: est.link, cloudScale: {}, coldStart: {} };
      } else state.estimators = est;
    }
  }
  return { state, warnings };
}

/**
 * Writes a state file atomically (a temporary file in the same folder, then rename), creating the
 * folder when needed.
 *
 * @example
 * await writeState(path, { version: 1, model: 'fmnist-vgg16', modelHash, savedAt: Date.now(), calibration })
 */
export async function writeState(path: string, state: EdgeState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
