/**
 * Messages between the demo (the cloud side: local cloud, shaping proxy, report) and its edge worker
 * (the device side: a `JmdcClient` in its own process, so that a CPU budget can slow it alone).
 */
import type { ClassifyResult, PlanConditions } from '@jmdc/edge-sdk';

/** How the edge worker builds its client. */
export interface EdgeInit {
  type: 'init';
  model: string;
  /** The endpoints file the client reads (URLs rebased on the shaping proxy). */
  endpointsFile: string;
  transport: 'url' | 'invoke';
  /** Origin of the Lambda Invoke API for the `invoke` transport (the shaping proxy). */
  invokeEndpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  objective: Record<string, unknown>;
  /** onnxruntime intra-op threads on the device (the device is a fraction of one core: 1). */
  threads: number;
  /** Minimum time between two exploration probes of the client, ms. */
  exploreIntervalMs: number;
  /** The test split's first `images` images are classified. */
  images: number;
}

/** Classify images `first`..`first + count - 1` of the split as one batch; `index` numbers the request. */
export interface EdgeClassify {
  type: 'classify';
  index: number;
  first: number;
  count: number;
}

export type ToEdge = EdgeInit | EdgeClassify | { type: 'close' };

/** What the device measured in calibration (ms per head, and the whole network per variant). */
export interface EdgeReady {
  type: 'ready';
  calibration: unknown;
  calibrationMs: number;
  wholeNetworkMs: number | null;
}

/** One classify call as the worker saw it. */
export interface EdgeResult {
  type: 'result';
  /** The request's number. */
  index: number;
  /** Its first image and how many it classified (a batch). */
  first: number;
  count: number;
  /** ms since the worker's first classify call. */
  startedMs: number;
  result?: Pick<
    ClassifyResult,
    'classes' | 'decision' | 'predicted' | 'timings' | 'bytesSent' | 'coldStart' | 'fallback' | 'attempts'
  >;
  error?: { code: string; message: string };
  /** The client's estimates right after the call. */
  estimates: Pick<PlanConditions, 'uplinkMbps' | 'rttMs'> & { coldProb: number[] };
}

export type FromEdge =
  | EdgeReady
  | EdgeResult
  | { type: 'progress'; line: string }
  | { type: 'fatal'; message: string; code?: string };
