/**
 * Messages between the benchmark (local cloud, shaping proxy, cells) and its device worker (the
 * `JmdcClient`s of every strategy in one process, so that one CPU budget slows them all alike).
 */
import type { ClassifyResult, Prediction } from '@jmdc/edge-sdk';
import type { ClientSpec } from './strategies.js';

export interface WorkerInit {
  type: 'init';
  model: string;
  endpointsFile: string;
  /** Signing region. @default the endpoints file's */
  region?: string;
  /** Signing keys. @default the AWS credential chain */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** onnxruntime intra-op threads of every client. */
  threads: number;
  /** The first `images` test images are loaded. */
  images: number;
  /** Folder for the per-client state files (the shared calibration is copied into each). */
  stateDir: string;
  /** Timed calibration rounds (min, max). */
  calibrationRounds: [number, number];
}

export type ToWorker =
  | WorkerInit
  /**
   * Closes the clients of the previous cell and creates one per spec (fresh estimators, shared
   * calibration), on `endpointsFile` (default: the one of init).
   */
  | { type: 'clients'; specs: ClientSpec[]; endpointsFile?: string }
  /** Classifies test images [start, start + batch) with the client `key`. */
  | { type: 'classify'; key: string; start: number; batch: number }
  /** What the client `key` believes now and how its planner prices the rows (see {@link PlannerView}). */
  | { type: 'explain'; key: string; batch: number }
  | { type: 'close' };

export interface WorkerReady {
  type: 'ready';
  calibrationMs: number;
  /** Whole network per variant on this (emulated) device, ms. */
  fullMs: Record<string, number>;
  headMs: Record<string, number[]>;
  /** Whole network per variant on a batch of images at once, when calibrated (see `DeviceCalibration`). */
  batchFullMs?: { batch: number; ms: Record<string, number> };
  /** Every head on a batch of images at once, when calibrated. */
  batchHeadMs?: { batch: number; ms: Record<string, number[]> };
}

/** One classify call as the worker saw it. */
export interface WorkerResult {
  type: 'result';
  key: string;
  result?: Pick<
    ClassifyResult,
    'classes' | 'decision' | 'predicted' | 'timings' | 'bytesSent' | 'coldStart' | 'fallback' | 'attempts'
  >;
  error?: { code: string; message: string };
}

/** One row as a client's planner prices it now: its key (see `rowKey`) and the planner's breakdown. */
export type PricedRow = { row: string } & Pick<
  Prediction,
  'totalMs' | 'edgeMs' | 'encodeMs' | 'requestMs' | 'uploadMs' | 'rttMs' | 'cloudMs' | 'coldMs'
>;

/**
 * A client's view at the end of a cell's measured rounds: its live estimates, what it sent in the
 * background, and its planner's prices of the chosen row and of the best row of each kind (edge-only,
 * cloud-only, split), with the current P(cold) and as if every function were warm. It explains a
 * decision: which estimate made the planner prefer its row over the oracle's.
 */
export interface PlannerView {
  uplinkMbps: number;
  rttMs: number;
  bandwidthIdentified: boolean;
  linkSamples: number;
  /** Per point (0 = cloud-only function). */
  coldProb: number[];
  initMs: number[];
  cloudScale: number[];
  /** The device's speed against its calibration, and the per-request extra time (`client.stats()`). */
  deviceScale: number;
  requestExtraMs: number;
  probes: number;
  warmUps: number;
  /** The chosen row, then the best edge-only, cloud-only and split rows (each once). */
  rows: PricedRow[];
  /** The same, every function assumed warm. */
  warmRows: PricedRow[];
}

export type FromWorker =
  | WorkerReady
  | WorkerResult
  | { type: 'explained'; key: string; view?: PlannerView }
  | { type: 'clientsReady'; keys: string[] }
  | { type: 'fatal'; message: string; code?: string };
