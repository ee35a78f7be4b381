/**
 * Edge clients that always take the cloud path (their profile holds only the rows of one deployed point),
 * signed with the local cloud's test credentials, and a classify wrapper that checks each call settles.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EndpointsInput, JmdcClient } from '@jmdc/edge-sdk';
import { isJmdcError } from '@jmdc/edge-sdk/errors';
import type { InferenceBackend } from '@jmdc/edge-sdk/model';
import { loadModel } from '@jmdc/edge-sdk/model';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../localSystem.js';

/** The accuracy floor of {@link cloudClient}: above {@link EDGE_ONLY_ACCURACY}, below every row of the model. */
export const FORCED_FLOOR = 0.9;
/** The validation accuracy the edge-only rows are given, so that the planner never chooses them. */
export const EDGE_ONLY_ACCURACY = 0.5;

/**
 * The model's profile with only the rows of `point` (0: cloud-only) and its edge-only rows, these marked
 * {@link EDGE_ONLY_ACCURACY} so that under the floor {@link FORCED_FLOOR} the planner can only choose the
 * cloud; a failed cloud call still falls back to the device.
 */
export function profileForPoint(modelDir: string, point: number): Record<string, unknown> {
  const p = JSON.parse(readFileSync(join(modelDir, 'profile.json'), 'utf8')) as {
    rows: Array<{ point: number; kind?: string; valAccuracy: number }>;
  };
  const rows = p.rows.filter((r) => r.point === point && r.kind !== 'edge-only');
  if (rows.length === 0) throw new Error(`the profile of ${modelDir} has no row for point ${point}`);
  const edge = p.rows.filter((r) => r.kind === 'edge-only').map((r) => ({ ...r, valAccuracy: EDGE_ONLY_ACCURACY }));
  return { ...p, rows: [...rows, ...edge] };
}

/** Options of {@link cloudClient}. */
export interface CloudClientOptions {
  model: string;
  endpoints: EndpointsInput;
  point: number;
  /** Fixed deadline of every classify. */
  deadlineMs: number;
  transport?: 'url' | 'invoke';
  backend?: InferenceBackend;
  /** Circuit breaker base time; a small one keeps every request trying the cloud. @default 1000 */
  circuitBaseMs?: number;
  onWarning?: (m: string) => void;
}

/**
 * A {@link JmdcClient} that only ever plans the cloud rows of `point`, without warm-up, exploration or
 * state file.
 *
 * @example
 * ```ts
 * const c = await cloudClient({ model: 'fmnist-vgg16', endpoints: cloud.endpoints, point: 0, deadlineMs: 2000 });
 * ```
 */
export async function cloudClient(o: CloudClientOptions): Promise<JmdcClient> {
  const { dir } = loadModel(o.model);
  return JmdcClient.create({
    model: dir,
    endpoints: o.endpoints,
    transport: o.transport ?? 'url',
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    profile: profileForPoint(dir, o.point) as never,
    objective: { minimize: 'latency', minAccuracy: FORCED_FLOOR },
    stateFile: false,
    warmUp: false,
    explore: false,
    threads: 1,
    timeouts: { deadlineMs: o.deadlineMs },
    circuit: { baseMs: o.circuitBaseMs ?? 1000, maxMs: 4 * (o.circuitBaseMs ?? 1000) },
    ...(o.backend ? { backend: o.backend } : {}),
    onWarning: o.onWarning ?? (() => {}),
  });
}

/** How one classify call ended. */
export interface CallOutcome {
  kind: 'result' | 'typedError' | 'untypedError' | 'lost';
  ms: number;
  fallback: boolean;
  coldStart?: boolean;
  code?: string;
  /** The decision's kind, for a result. */
  decision?: string;
}

/**
 * Classifies `image` and waits at most `deadlineMs + marginMs`: a call still unsettled then is `lost`.
 */
export async function settle(
  client: JmdcClient,
  image: Uint8Array,
  deadlineMs: number,
  marginMs: number,
): Promise<CallOutcome> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'lost'>((resolve) => {
    timer = setTimeout(() => resolve('lost'), deadlineMs + marginMs);
  });
  try {
    const r = await Promise.race([client.classify(image), limit]);
    const ms = performance.now() - t0;
    if (r === 'lost') return { kind: 'lost', ms, fallback: false };
    return {
      kind: 'result',
      ms,
      fallback: r.fallback !== false,
      coldStart: r.coldStart,
      decision: r.decision.kind,
      ...(r.fallback !== false ? { code: r.fallback.code } : {}),
    };
  } catch (e) {
    const ms = performance.now() - t0;
    return isJmdcError(e)
      ? { kind: 'typedError', ms, fallback: false, code: e.code }
      : { kind: 'untypedError', ms, fallback: false, code: String((e as Error)?.message ?? e).slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}
