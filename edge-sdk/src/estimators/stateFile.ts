import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DeviceCalibration } from '../profile/types.js';
import type { ColdStartState } from './ColdStartModel.js';
import type { EstimatorState } from './LiveEstimators.js';

/**
 * Version of the state file format; a file with another version is ignored.
 *
 * @example
 * readState(path, expect).state?.version === STATE_VERSION // true
 */
export const STATE_VERSION = 1;

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
  if (!Object.values(o.headMs).every((a) => samples(a) && a.every((x) => x >= 0))) return false;
  if (!Object.values(o.fullMs).every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) return false;
  return o.encodeMs === undefined || (typeof o.encodeMs === 'number' && o.encodeMs >= 0);
}

function checkCold(c: unknown): c is ColdStartState {
  if (typeof c !== 'object' || c === null) return false;
  const o = c as Record<string, unknown>;
  if (o.lastActivityAt !== undefined && !(typeof o.lastActivityAt === 'number' && Number.isFinite(o.lastActivityAt))) {
    return false;
  }
  if (!Array.isArray(o.bins) || o.bins.length > 16) return false;
  if (!o.bins.every((b) => Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number' && x >= 0))) {
    return false;
  }
  return samples(o.initMs);
}

function checkEstimators(e: unknown): e is EstimatorState {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  if (!samples(o.uplinkMbps) || !o.uplinkMbps.every((x) => x > 0) || !samples(o.rttMs)) return false;
  if (typeof o.cloudScale !== 'object' || o.cloudScale === null || typeof o.coldStart !== 'object' || !o.coldStart) {
    return false;
  }
  return Object.values(o.cloudScale).every(samples) && Object.values(o.coldStart).every(checkCold);
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
    if (!checkEstimators(o.estimators)) warnings.push(`ignoring the estimates in ${path}: malformed`);
    else if (!sameBuild) {
      warnings.push(`keeping only the network estimates of ${path}: made for model hash ${String(o.modelHash)}`);
      state.estimators = {
        uplinkMbps: o.estimators.uplinkMbps,
        rttMs: o.estimators.rttMs,
        cloudScale: {},
        coldStart: {},
      };
    } else state.estimators = o.estimators;
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
