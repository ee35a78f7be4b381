/**
 * `jmdc plan`: the planner's decision for given network conditions, with its predicted cost breakdown
 * and the next best alternatives. Uses this device's calibration from the state file when there is one,
 * the profile's reference timings otherwise. Loads no inference runtime.
 */
import { LiveEstimators } from '../estimators/LiveEstimators.js';
import { defaultStatePath, readState } from '../estimators/stateFile.js';
import { loadModel } from '../model/manifest.js';
import { Planner } from '../planner/planner.js';
import { loadProfile } from '../profile/loadProfile.js';
import type { DeviceCalibration, ProfileTimings } from '../profile/types.js';
import type { Objective, PlanConditions, PlanOption } from '../types/plan.js';
import { num, parseFlags, UsageError } from './args.js';

export const summary = 'the partition/compression decision for given network conditions';

export const usage = `usage: jmdc plan --model ID --uplink-mbps X --rtt-ms Y [options]

  --model ID            model id (models/<id>) or path to a model folder
  --uplink-mbps X       uplink bandwidth, Mbit/s (> 0)
  --rtt-ms Y            round-trip time to the cloud, ms (>= 0)
  --batch N             images per request (default 1)
  --cold-prob P         probability that the function is cold, 0..1 (default 0)
  --init-ms M           cold-start init cost, ms (default: learned, in the state file, else 1500)
  --min-accuracy A      minimize latency subject to validation accuracy >= A (default: the full
                        model's validation accuracy - 0.01, as the SDK; 0 for no floor)
  --max-latency-ms L    maximize accuracy subject to predicted latency <= L
  --cost-weight W       ms that 1 USD per request weighs in the score (default 0)
  --memory-mb MB        Lambda memory for the cost (default 2048)
  --alternatives K      next best options to show (default 3)
  --profile PATH        profile.json (default <model folder>/profile.json)
  --edge-slowdown X     without a calibration: this device runs X times slower than the profile's
                        reference machine (an estimate; 'jmdc calibrate' measures instead)
  --state PATH          state file with this device's calibration (default ~/.local/state/jmdc/<id>.json)
  --json                print one JSON object { decision, predicted, alternatives } as the last line`;

const FLAGS = {
  model: { type: 'string' },
  'uplink-mbps': { type: 'string' },
  'rtt-ms': { type: 'string' },
  batch: { type: 'string' },
  'cold-prob': { type: 'string' },
  'init-ms': { type: 'string' },
  'edge-slowdown': { type: 'string' },
  'min-accuracy': { type: 'string' },
  'max-latency-ms': { type: 'string' },
  'cost-weight': { type: 'string' },
  'memory-mb': { type: 'string' },
  alternatives: { type: 'string' },
  profile: { type: 'string' },
  state: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positive(v: unknown, name: string): number {
  const n = num(v, name);
  if (n <= 0) throw new UsageError(`--${name} must be > 0, got ${n}`);
  return n;
}

function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

function table(options: PlanOption[]): string {
  const head = [
    '#',
    'kind',
    'point',
    'variant',
    'keep',
    'bits',
    'coder',
    'bn',
    'total ms',
    'edge',
    'encode',
    'request',
    'upload',
    'rtt',
    'cloud',
    'cold',
    'accuracy',
    'USD/req',
  ];
  const rows = options.map((o, i) => {
    const d = o.decision;
    const p = o.predicted;
    return [
      i === 0 ? '*' : String(i),
      d.kind,
      String(d.point),
      String(d.variant),
      String(d.keep),
      String(d.bits),
      d.coder,
      // a split through the variant's learned bottleneck at the point
      d.bottleneck ? 'yes' : '-',
      fmt(p.totalMs),
      fmt(p.edgeMs),
      fmt(p.encodeMs),
      fmt(p.requestMs),
      fmt(p.uploadMs),
      fmt(p.rttMs),
      fmt(p.cloudMs),
      fmt(p.coldMs),
      fmt(p.accuracy, 4),
      p.costUsd === 0 ? '0' : p.costUsd.toExponential(2),
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((x, c) => x.padStart(widths[c] ?? 0)).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, FLAGS);
  if (f.help) {
    console.log(usage);
    return 0;
  }
  if (!f.model) throw new UsageError('--model is required');
  if (f['min-accuracy'] !== undefined && f['max-latency-ms'] !== undefined) {
    throw new UsageError('give --min-accuracy or --max-latency-ms, not both');
  }
  const conditions: PlanConditions = {
    uplinkMbps: positive(f['uplink-mbps'], 'uplink-mbps'),
    rttMs: num(f['rtt-ms'], 'rtt-ms', { min: 0 }),
    batch: f.batch === undefined ? 1 : num(f.batch, 'batch', { min: 1, max: 64, int: true }),
    coldProb: f['cold-prob'] === undefined ? 0 : num(f['cold-prob'], 'cold-prob', { min: 0, max: 1 }),
  };
  const objective: Objective =
    f['max-latency-ms'] !== undefined
      ? { maximize: 'accuracy', maxLatencyMs: positive(f['max-latency-ms'], 'max-latency-ms') }
      : {
          minimize: 'latency',
          ...(f['min-accuracy'] !== undefined
            ? { minAccuracy: num(f['min-accuracy'], 'min-accuracy', { min: 0, max: 1 }) }
            : {}),
        };
  if (f['init-ms'] !== undefined) conditions.initMs = num(f['init-ms'], 'init-ms', { min: 0 });
  if (f['edge-slowdown'] !== undefined) num(f['edge-slowdown'], 'edge-slowdown', { min: 0.01, max: 1000 });
  if (f['cost-weight'] !== undefined) num(f['cost-weight'], 'cost-weight', { min: 0 });
  if (f['memory-mb'] !== undefined) num(f['memory-mb'], 'memory-mb', { min: 128, max: 10240, int: true });
  if (f.alternatives !== undefined) num(f.alternatives, 'alternatives', { min: 0, max: 100, int: true });

  const model = loadModel(f.model);
  const { manifest } = model;
  const profile = loadProfile(f.profile ?? model.dir, { manifest });
  const statePath = f.state ?? defaultStatePath(manifest.id);
  const { state, warnings } = readState(statePath, { model: manifest.id, modelHash: manifest.hash });
  for (const w of warnings) console.error(`jmdc plan: warning: ${w}`);
  const slowdown = f['edge-slowdown'] === undefined ? undefined : Number(f['edge-slowdown']);
  const calibration = slowdown === undefined ? state?.calibration : scaledReference(profile.timings, slowdown);
  const timingsFrom =
    slowdown !== undefined
      ? `the profile (${profile.timings.device}) scaled by --edge-slowdown ${slowdown} (an estimate, not a calibration)`
      : calibration
        ? `this device's calibration (${calibration.device}, ${statePath})`
        : `the profile (${profile.timings.device}; no calibration in ${statePath})`;
  const learned = new LiveEstimators({ pointCount: manifest.points.length }, state?.estimators);
  const now = learned.conditions(Date.now(), conditions.batch);
  // the network comes from the flags; what was learned about the cloud (init cost, speed) from the state
  conditions.initMs ??= now.initMs;
  conditions.cloudScale = now.cloudScale;
  const planner = new Planner(profile, {
    objective,
    ...(calibration ? { calibration } : {}),
    ...(f['cost-weight'] !== undefined ? { costWeight: Number(f['cost-weight']) } : {}),
    ...(f['memory-mb'] !== undefined ? { pricing: { memoryMb: Number(f['memory-mb']) } } : {}),
    ...(f.alternatives !== undefined ? { alternatives: Number(f.alternatives) } : {}),
  });
  const r = planner.plan(conditions);
  console.error(
    `jmdc plan: ${manifest.id}, ${profile.rows.length} rows, accuracy floor ${planner.floor().toFixed(4)}, edge timings from ${timingsFrom}`,
  );
  if (!r.feasible) console.error('jmdc plan: no setting meets the latency budget; showing the fastest');
  if (f.json) {
    console.log(JSON.stringify({ decision: r.decision, predicted: r.predicted, alternatives: r.alternatives }));
  } else {
    console.log(
      `${manifest.id}: uplink ${conditions.uplinkMbps} Mbit/s, RTT ${conditions.rttMs} ms, batch ${conditions.batch}, ` +
        `P(cold) ${String(conditions.coldProb)}; objective ${JSON.stringify(objective)}`,
    );
    console.log(table([r, ...r.alternatives]));
    if (r.warmUp)
      console.log(`hint: warming the function of point ${r.warmUp.point} would save ${fmt(r.warmUp.gainMs)} ms`);
  }
  return 0;
}

/** The profile's reference edge timings scaled by `x`: a stand-in calibration for a slower device. */
function scaledReference(t: ProfileTimings, x: number): DeviceCalibration {
  const scale = (rec: Record<string, number[]>) =>
    Object.fromEntries(Object.entries(rec).map(([id, arr]) => [id, arr.map((ms) => ms * x)]));
  return {
    device: `${t.device} x${x} (estimate)`,
    threads: 0,
    headMs: scale(t.headMs),
    fullMs: Object.fromEntries(Object.entries(t.fullMs).map(([id, ms]) => [id, ms * x])),
    encodeMs: t.encodeMs * x,
    measuredAt: 0,
  };
}
