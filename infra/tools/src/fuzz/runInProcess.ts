/**
 * The in-process fuzz run: the tail handler of each point (real onnxruntime) and the wire decoder, fed
 * generated cases in batches, with the RSS of this process measured after a warm-up and at the end.
 */
import { performance } from 'node:perf_hooks';
import { decodePayload } from '@jmdc/edge-sdk/codec';
import { isJmdcError } from '@jmdc/edge-sdk/errors';
import { loadModel } from '@jmdc/edge-sdk/model';
import { createTailHandler, type TailHandler, type TailResponse } from '@jmdc/functions';
import fc from 'fast-check';
import { gcFunction } from '../sharedSessions.js';
import { type FuzzCase, type FuzzTarget, fuzzCaseArb, fuzzTarget } from './generators.js';
import { addWarmUpFailures, type FuzzStats, growthPct, judge, newStats, type Outcome } from './oracle.js';

/** Options of {@link runInProcess}. */
export interface InProcessOptions {
  /** Model id or folder. */
  model: string;
  /** Partition points whose tail functions are fuzzed (cases are spread evenly). */
  points: readonly number[];
  /** Total cases. */
  cases: number;
  /**
   * fast-check seed of the first batch (batch i uses seed + i).
   * @default 1
   */
  seed?: number;
  /**
   * Cases generated per batch.
   * @default 500
   */
  batch?: number;
  /**
   * Cases run before the counted ones and before RSS is first measured (they are judged but not counted):
   * the allocator's high-water mark, onnxruntime's arenas and the JIT settle during them.
   * @default min(5000, cases)
   */
  warmup?: number;
  /** Called after each batch with the cases done so far. */
  onProgress?: (done: number, stats: FuzzStats) => void;
}

/** The result of a run: the counters plus RSS before and after. */
export interface InProcessResult extends FuzzStats {
  warmupCases: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  heapBeforeMb: number;
  heapAfterMb: number;
  rssGrowthPct: number;
  seconds: number;
}

/** A call that has not settled after this long is a hang even if it uses no CPU (a promise never settled). */
export const SETTLE_TIMEOUT_MS = 10_000;

/** Status and JSON body of either response shape. */
export function parseResponse(res: TailResponse): { status: number; body: unknown } {
  if ('headers' in res && typeof (res as { body?: unknown }).body === 'string') {
    return { status: res.statusCode, body: JSON.parse((res as { body: string }).body) };
  }
  const { statusCode, ...body } = res as { statusCode: number };
  return { status: statusCode, body };
}

function memoryMb(gc: (() => void) | undefined): { rss: number; heap: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  const mb = (x: number) => Math.round((x / 2 ** 20) * 10) / 10;
  return { rss: mb(m.rss), heap: mb(m.heapUsed) };
}

/** Runs one case against a handler (and its payload against the decoder with the handler's options). */
export async function runCase(tail: TailHandler, c: FuzzCase, stats: FuzzStats): Promise<string | undefined> {
  if (c.payload !== undefined) {
    try {
      decodePayload(c.payload, {
        limits: tail.limits,
        expectModelHash: tail.modelHash,
        expectModelId: tail.model.manifest.id,
        expectPoint: tail.point,
        expectLayouts: tail.layouts,
        maxAbsValue: tail.maxAbsFeature,
      });
    } catch (e) {
      if (!isJmdcError(e)) {
        stats.decoderCrashes++;
        if (stats.failures.length < 20)
          stats.failures.push({ family: c.family, reason: 'decoder crash', detail: String(e) });
      }
    }
  }
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const outcome: Outcome = { ms: 0 };
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      tail.handle(c.event, { awsRequestId: 'fuzz' }),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), SETTLE_TIMEOUT_MS);
      }),
    ]);
    if (answer === 'timeout') outcome.timedOut = true;
    else {
      const r = parseResponse(answer);
      outcome.status = r.status;
      outcome.body = r.body;
    }
  } catch (e) {
    outcome.threw = e ?? 'undefined';
  } finally {
    clearTimeout(timer);
  }
  const cpu = process.cpuUsage(cpu0);
  outcome.cpuMs = Math.round((cpu.user + cpu.system) / 10) / 100;
  outcome.ms = Math.round((performance.now() - t0) * 1000) / 1000;
  return judge(stats, c, outcome);
}

/**
 * Fuzzes the tail functions of `points` of `model` in this process.
 *
 * @example
 * ```ts
 * const r = await runInProcess({ model: 'test/fixtures/models/tiny-vgg11', points: [0, 2, 5], cases: 10_000 });
 * console.log(r.cases, r.crashes, r.status5xx, r.rssGrowthPct);
 * ```
 */
export async function runInProcess(opts: InProcessOptions): Promise<InProcessResult> {
  const t0 = performance.now();
  const model = loadModel(opts.model);
  const seed = opts.seed ?? 1;
  const batch = opts.batch ?? 500;
  const gc = gcFunction();
  const handlers: TailHandler[] = [];
  const targets: FuzzTarget[] = [];
  try {
    for (const point of opts.points) {
      handlers.push(await createTailHandler({ point, modelDir: model.dir, threads: 1, log: () => {} }));
      targets.push(fuzzTarget(model, point));
    }
    const arbs = targets.map((t) => fuzzCaseArb(t));
    const warmup = opts.warmup ?? Math.min(5000, opts.cases);
    const warmStats = newStats();
    // warm-up batches use seeds below the counted ones' (negative), so they never repeat them
    for (let b = 0, done = 0; done < warmup; b++) {
      const n = Math.min(batch, warmup - done);
      const cases = fc.sample(arbs[b % arbs.length]!, { numRuns: n, seed: -1 - seed - b });
      for (const c of cases) await runCase(handlers[b % arbs.length]!, c, warmStats);
      done += n;
    }
    const before = memoryMb(gc);
    const stats = newStats();
    let done = 0;
    for (let b = 0; done < opts.cases; b++) {
      const i = b % handlers.length;
      const n = Math.min(batch, opts.cases - done);
      const cases = fc.sample(arbs[i]!, { numRuns: n, seed: seed + b });
      for (const c of cases) await runCase(handlers[i]!, c, stats);
      done += n;
      opts.onProgress?.(done, stats);
    }
    const after = memoryMb(gc);
    addWarmUpFailures(stats, warmStats);
    return {
      ...stats,
      warmupCases: warmup,
      rssBeforeMb: before.rss,
      rssAfterMb: after.rss,
      heapBeforeMb: before.heap,
      heapAfterMb: after.heap,
      rssGrowthPct: growthPct(before.rss, after.rss),
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  } finally {
    await Promise.all(handlers.map((h) => h.close()));
  }
}
