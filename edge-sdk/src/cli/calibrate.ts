/**
 * `jmdc calibrate`: times the head of every variant up to every partition point (and every whole
 * network, the encoder of every learned bottleneck, and the client's own work per request: signing,
 * the answer, the raw formats and the feature coders of the profile's rows) on this device, and stores the medians in the
 * state file the SDK and `jmdc plan` read.
 */
import { deviceName, measureHeads } from '../client/calibrate.js';
import { deviceWork } from '../client/deviceWork.js';
import { defaultStatePath, readState, STATE_VERSION, writeState } from '../estimators/stateFile.js';
import { loadModel } from '../model/manifest.js';
import { ModelRunner } from '../model/runner.js';
import { loadProfile } from '../profile/loadProfile.js';
import type { PlanRow } from '../profile/types.js';
import { num, parseFlags, progress, UsageError } from './args.js';

export const summary = 'measure head times on this device and store them';

export const usage = `usage: jmdc calibrate --model ID [options]

  --model ID          model id (models/<id>) or path to a model folder
  --threads N         onnxruntime intra-op threads (default 0 = one per core; 4 on a Raspberry Pi 4B)
  --repetitions N     timed rounds at least; each round times every head and whole network once,
                      interleaved (default 7)
  --max-repetitions N rounds at most while a median is not stable (default 41)
  --target-spread X   a median is stable when IQR / median <= X (default 0.15)
  --warmup N          untimed rounds first (default 3)
  --batch N           also time every whole network on N images at once, for the planner's cost of
                      batches (default 8; 1 skips it)
  --attempts N        measurements before inconsistent timings (a head slower than a later head or
                      than the whole network) are rejected (default 3)
  --state PATH        state file (default ~/.local/state/jmdc/<id>.json)
  --json              print the calibration as one JSON object as the last line`;

const FLAGS = {
  model: { type: 'string' },
  threads: { type: 'string' },
  repetitions: { type: 'string' },
  'max-repetitions': { type: 'string' },
  'target-spread': { type: 'string' },
  attempts: { type: 'string' },
  warmup: { type: 'string' },
  batch: { type: 'string' },
  state: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, FLAGS);
  if (f.help) {
    console.log(usage);
    return 0;
  }
  if (!f.model) throw new UsageError('--model is required');
  const threads = f.threads === undefined ? 0 : num(f.threads, 'threads', { min: 0, max: 256, int: true });
  const repetitions =
    f.repetitions === undefined ? 7 : num(f.repetitions, 'repetitions', { min: 1, max: 1000, int: true });
  const warmup = f.warmup === undefined ? 3 : num(f.warmup, 'warmup', { min: 0, max: 100, int: true });
  const extra = {
    ...(f['max-repetitions'] !== undefined
      ? { maxRepetitions: num(f['max-repetitions'], 'max-repetitions', { min: 1, max: 10_000, int: true }) }
      : {}),
    ...(f['target-spread'] !== undefined ? { targetSpread: num(f['target-spread'], 'target-spread', { min: 0 }) } : {}),
    ...(f.batch !== undefined ? { batch: num(f.batch, 'batch', { min: 1, max: 256, int: true }) } : {}),
    ...(f.attempts !== undefined ? { attempts: num(f.attempts, 'attempts', { min: 1, max: 10, int: true }) } : {}),
  };
  const model = loadModel(f.model);
  const { manifest } = model;
  const { OrtBackend } = await import('../runtime/index.js');
  const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: threads }));
  let rows: PlanRow[] = [];
  try {
    rows = loadProfile(model.dir, { manifest }).rows;
  } catch {
    // without a profile: signing, the answer and the raw upload only (no feature coders to time)
  }
  console.error(
    `jmdc calibrate: ${manifest.id} on ${deviceName()}, threads ${threads}, at least ${repetitions} interleaved rounds`,
  );
  let tick: ((done: number, extra?: string) => void) | undefined;
  let cal: Awaited<ReturnType<typeof measureHeads>>;
  try {
    cal = await measureHeads(runner, {
      threads,
      repetitions,
      warmup,
      work: deviceWork(manifest, rows),
      ...extra,
      onProgress: (done, total, label) => {
        tick ??= progress('calibrate', total);
        tick(done, label);
      },
    });
  } finally {
    await runner.close();
  }
  const spreads = [...Object.values(cal.spread?.headMs ?? {}).flat(), ...Object.values(cal.spread?.fullMs ?? {})];
  const worst = spreads.length ? Math.max(...spreads) : 0;
  const target = extra.targetSpread ?? 0.15;
  if (worst > target) {
    console.error(
      `jmdc calibrate: warning: medians not stable after ${cal.repetitions} rounds (largest IQR / median ${worst.toFixed(2)} > ${target}); is something else using the CPU?`,
    );
  }
  const statePath = f.state ?? defaultStatePath(manifest.id);
  const expect = { model: manifest.id, modelHash: manifest.hash };
  const { state, warnings } = readState(statePath, expect);
  for (const w of warnings) console.error(`jmdc calibrate: warning: ${w}`);
  await writeState(statePath, {
    version: STATE_VERSION,
    ...expect,
    savedAt: Date.now(),
    calibration: cal,
    ...(state?.estimators ? { estimators: state.estimators } : {}),
  });
  if (f.json) {
    console.log(JSON.stringify(cal));
  } else {
    const pct = (x: number | undefined) => `±${((x ?? 0) * 100).toFixed(0)}%`;
    for (const v of manifest.variants) {
      const sp = cal.spread?.headMs[v.id] ?? [];
      const heads = (cal.headMs[v.id] ?? []).map((ms, i) => `p${i + 1} ${ms.toFixed(3)} ${pct(sp[i])}`).join('  ');
      console.log(`${v.id}: ${heads}  whole ${(cal.fullMs[v.id] ?? 0).toFixed(3)} ${pct(cal.spread?.fullMs[v.id])} ms`);
    }
    const b = cal.batchFullMs;
    if (b) {
      const whole = manifest.variants
        .map((v) => `${v.id} ${(b.ms[v.id] ?? 0).toFixed(3)} ${pct(cal.spread?.batchFullMs?.[v.id])}`)
        .join('  ');
      console.log(`whole network at batch ${b.batch}: ${whole} ms`);
    }
    const bh = cal.batchHeadMs;
    for (const v of bh ? manifest.variants : []) {
      const sp = cal.spread?.batchHeadMs?.[v.id] ?? [];
      const heads = (bh?.ms[v.id] ?? []).map((ms, i) => `p${i + 1} ${ms.toFixed(3)} ${pct(sp[i])}`).join('  ');
      console.log(`${v.id} at batch ${bh?.batch}: ${heads} ms`);
    }
    for (const [id, ms] of Object.entries(cal.bottleneckMs ?? {})) {
      console.log(`bottleneck ${id}: encoder ${ms.toFixed(3)} ${pct(cal.spread?.bottleneckMs?.[id])} ms`);
    }
    const req = cal.requestMs;
    if (req)
      console.log(`per request: ${req.fixedMs.toFixed(3)} ms + ${req.perKiBMs.toFixed(4)} ms/KiB (signing, answer)`);
    for (const [format, ms] of Object.entries(cal.rawEncodeMs ?? {}))
      console.log(`cloud-only ${format}: ${ms.toFixed(3)} ms/image`);
    for (const [coder, c] of Object.entries(cal.featureEncodeMs ?? {})) {
      console.log(`features ${coder}: ${c.fixedMs.toFixed(3)} ms + ${c.perKiBMs.toFixed(4)} ms/KiB per image`);
    }
    console.log(
      `medians of ${cal.repetitions} interleaved rounds (spread: interquartile range / median), measurement ${cal.attempts} of at most ${extra.attempts ?? 3}`,
    );
    console.log(`stored in ${statePath}`);
  }
  return 0;
}
