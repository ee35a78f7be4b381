import { arch, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ErrorCodes, JmdcError } from '../errors.js';
import type { ModelRunner } from '../model/runner.js';
import type { DeviceCalibration } from '../profile/types.js';
import { median } from '../util/median.js';

/**
 * Options of {@link JmdcClient.calibrate}.
 *
 * @example
 * await client.calibrate({ repetitions: 7, warmup: 2, onProgress: (done, total) => console.error(`${done}/${total}`) })
 */
export interface CalibrateOptions {
  /** Timed runs per head (the median is kept). @default 5 */
  repetitions?: number;
  /** Untimed runs first (session creation, caches). @default 1 */
  warmup?: number;
  /** Called after each measured head: done and total counts, and what was measured (`r050 head 3`). */
  onProgress?: (done: number, total: number, label: string) => void;
}

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

/**
 * Times, on this device and batch 1, the head of every variant up to every partition point and
 * every whole network: `warmup` untimed runs, then the median of `repetitions`.
 *
 * @example
 * const cal = await measureHeads(runner, { repetitions: 5, threads: 4 })
 */
export async function measureHeads(
  runner: ModelRunner,
  opts: CalibrateOptions & { threads?: number } = {},
): Promise<DeviceCalibration> {
  const reps = opts.repetitions ?? 5;
  const warmup = opts.warmup ?? 1;
  if (!Number.isInteger(reps) || reps < 1 || reps > 1000 || !Number.isInteger(warmup) || warmup < 0) {
    throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'repetitions must be an integer 1..1000 and warmup >= 0');
  }
  const { manifest } = runner.model;
  const [c, h, w] = manifest.input.shape;
  // a mid-grey image: timing does not depend on the values
  const input = new Float32Array(c * h * w).fill(0.1);
  const P = manifest.points.length;
  const total = manifest.variants.length * (P + 1);
  let done = 0;
  const headMs: Record<string, number[]> = {};
  const fullMs: Record<string, number> = {};
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < warmup; i++) await fn();
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await fn();
      t.push(performance.now() - t0);
    }
    return median(t);
  };
  for (const v of manifest.variants) {
    headMs[v.id] = [];
    for (let p = 1; p <= P; p++) {
      (headMs[v.id] as number[]).push(await time(() => runner.head(v.id, p, input, 1)));
      opts.onProgress?.(++done, total, `${v.id} head ${p}`);
    }
    fullMs[v.id] = await time(() => runner.full(v.id, input, 1));
    opts.onProgress?.(++done, total, `${v.id} whole network`);
  }
  return { device: deviceName(), threads: opts.threads ?? 0, headMs, fullMs, measuredAt: Date.now() };
}
