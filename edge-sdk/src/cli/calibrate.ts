/**
 * `jmdc calibrate`: times the head of every variant up to every partition point (and every whole
 * network) on this device, and stores the medians in the state file the SDK and `jmdc plan` read.
 */
import { deviceName, measureHeads } from '../client/calibrate.js';
import { defaultStatePath, readState, STATE_VERSION, writeState } from '../estimators/stateFile.js';
import { loadModel } from '../model/manifest.js';
import { ModelRunner } from '../model/runner.js';
import { num, parseFlags, progress, UsageError } from './args.js';

export const summary = 'measure head times on this device and store them';

export const usage = `usage: jmdc calibrate --model ID [options]

  --model ID          model id (models/<id>) or path to a model folder
  --threads N         onnxruntime intra-op threads (default 0 = one per core; 4 on a Raspberry Pi 4B)
  --repetitions N     timed runs per head, the median is kept (default 5)
  --warmup N          untimed runs first (default 1)
  --state PATH        state file (default ~/.local/state/jmdc/<id>.json)
  --json              print the calibration as one JSON object as the last line`;

const FLAGS = {
  model: { type: 'string' },
  threads: { type: 'string' },
  repetitions: { type: 'string' },
  warmup: { type: 'string' },
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
    f.repetitions === undefined ? 5 : num(f.repetitions, 'repetitions', { min: 1, max: 1000, int: true });
  const warmup = f.warmup === undefined ? 1 : num(f.warmup, 'warmup', { min: 0, max: 100, int: true });
  const model = loadModel(f.model);
  const { manifest } = model;
  const { OrtBackend } = await import('../runtime/index.js');
  const runner = new ModelRunner(model, new OrtBackend({ intraOpThreads: threads }));
  const total = manifest.variants.length * (manifest.points.length + 1);
  console.error(`jmdc calibrate: ${manifest.id} on ${deviceName()}, threads ${threads}, ${repetitions} repetitions`);
  const tick = progress('calibrate', total);
  let cal: Awaited<ReturnType<typeof measureHeads>>;
  try {
    cal = await measureHeads(runner, {
      threads,
      repetitions,
      warmup,
      onProgress: (done, _t, label) => tick(done, label),
    });
  } finally {
    await runner.close();
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
    for (const v of manifest.variants) {
      const heads = (cal.headMs[v.id] ?? []).map((ms, i) => `p${i + 1} ${ms.toFixed(3)}`).join('  ');
      console.log(`${v.id}: ${heads}  whole ${(cal.fullMs[v.id] ?? 0).toFixed(3)} ms`);
    }
    console.log(`stored in ${statePath}`);
  }
  return 0;
}
