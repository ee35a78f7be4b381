/**
 * Planner decision time on a 500-row profile.
 *
 *   npx tsx edge-sdk/bench/planner.bench.ts [--runs 20000]
 *
 * Prints a line per phase on stderr and ONE JSON object as the last line of stdout:
 * { bench, rows, runs, medianMs, p90Ms, p99Ms, meanMs, node, cpu }.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Planner } from '../src/planner/planner.js';
import { normalizeProfile } from '../src/profile/loadProfile.js';
import type { Profile, ProfileRow } from '../src/profile/types.js';
import type { PlanConditions } from '../src/types/plan.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20000' } } });
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 100) throw new Error('--runs must be an integer >= 100');

// deterministic pseudo-random numbers (mulberry32)
let seed = 42;
const rand = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const P = 5;
const variants = [0, 0.25, 0.5, 0.75];
const ids = variants.map((v) => `r${String(Math.round(v * 100)).padStart(3, '0')}`);
const base = { testAccuracy: 0, float32FeatureBytes: 0, headMacs: 0, tailMacs: 0 };
const rows: ProfileRow[] = [];
for (const coder of ['raw', 'png', 'deflate', 'png']) {
  rows.push({
    ...base,
    kind: 'cloud-only',
    point: 0,
    variant: 0,
    keep: 1,
    bits: 8,
    coder,
    valAccuracy: 0.935,
    meanPayloadBytes: 400 + rand() * 500,
  });
}
variants.forEach((variant) => {
  rows.push({
    ...base,
    kind: 'edge-only',
    point: -1,
    variant,
    keep: 1,
    bits: 32,
    coder: 'none',
    valAccuracy: 0.935 - variant * 0.02,
    meanPayloadBytes: 0,
  });
});
outer: for (let point = 1; point <= P; point++) {
  for (const variant of variants) {
    for (const keep of [1, 0.75, 0.5, 0.25, 0.125]) {
      for (const bits of [2, 3, 4, 6, 8]) {
        if (rows.length === 500) break outer;
        const acc = 0.935 - variant * 0.02 - (1 - keep) * 0.03 - (8 - bits) * 0.004 - rand() * 0.003;
        const bytes = ((256 * 16 * 16 * 4) / 4 ** point) * (1 - variant) * keep * (bits / 32) * (0.5 + rand() * 0.5);
        rows.push({
          ...base,
          kind: 'split',
          point,
          variant,
          keep,
          bits,
          coder: 'rans',
          valAccuracy: acc,
          meanPayloadBytes: bytes,
        });
      }
    }
  }
}
const raw: Profile = {
  model: 'bench',
  hash: 'sha256:00',
  fullModel: { val: 0.935, test: 0.93 },
  rows,
  timings: {
    device: 'synthetic',
    headMs: Object.fromEntries(ids.map((id, i) => [id, [1, 2, 3, 4, 5].map((x) => x * 4 * (1 - (variants[i] ?? 0)))])),
    tailMs: Object.fromEntries(
      ids.map((id, i) => [id, [20, 16, 12, 8, 4, 1].map((x) => x * (1 - (variants[i] ?? 0)))]),
    ),
    fullMs: Object.fromEntries(ids.map((id, i) => [id, 30 * (1 - (variants[i] ?? 0))])),
    encodeMs: 0.4,
    decodeMs: 0.3,
  },
};
const profile = normalizeProfile(raw);
if (profile.rows.length !== 500) throw new Error(`expected 500 rows, got ${profile.rows.length}`);
const planner = new Planner(profile, { objective: { minimize: 'latency', minAccuracy: 0.9 }, costWeight: 1e5 });

// a pool of varied conditions so no call is a repeat of the previous one
const pool: PlanConditions[] = Array.from({ length: 1024 }, () => ({
  uplinkMbps: 0.05 + rand() * 100,
  rttMs: rand() * 200,
  batch: 1 + Math.floor(rand() * 8),
  coldProb: Array.from({ length: P + 1 }, () => rand()),
  initMs: 500 + rand() * 2000,
  cloudScale: 0.5 + rand(),
}));

let sink = 0;
for (let i = 0; i < 5000; i++) sink += planner.plan(pool[i & 1023] as PlanConditions).predicted.totalMs;
process.stderr.write(`warm-up done (${profile.rows.length} rows)\n`);

const times = new Float64Array(RUNS);
for (let i = 0; i < RUNS; i++) {
  const c = pool[i & 1023] as PlanConditions;
  const t0 = performance.now();
  const r = planner.plan(c);
  times[i] = performance.now() - t0;
  sink += r.predicted.totalMs;
}
times.sort();
const q = (f: number): number => times[Math.min(RUNS - 1, Math.floor(f * RUNS))] as number;
const mean = times.reduce((a, b) => a + b, 0) / RUNS;
process.stderr.write(`checksum ${sink.toFixed(1)}\n`);
console.log(
  JSON.stringify({
    bench: 'planner.decision',
    rows: profile.rows.length,
    runs: RUNS,
    medianMs: Number(q(0.5).toFixed(5)),
    p90Ms: Number(q(0.9).toFixed(5)),
    p99Ms: Number(q(0.99).toFixed(5)),
    meanMs: Number(mean.toFixed(5)),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
  }),
);
