/**
 * The strategies of the benchmark, as data: each one is a `JmdcClient` whose profile is the shipped
 * profile restricted to the rows that strategy may use (and, where the strategy needs a setting the
 * profile does not list, rows derived from listed ones), plus the client options that switch parts
 * of the planner off. Every strategy therefore runs through the same SDK, transport, proxy and
 * functions; they differ only in what they may choose and what they know.
 */
import { defaultMinAccuracy, type NormalizedProfile, type PlanRow } from '@jmdc/edge-sdk';
import { encodeFeatures, FLOAT32_BITS, rawPayloadBytes } from '@jmdc/edge-sdk/codec';
import { featureDims, type Manifest } from '@jmdc/edge-sdk/model';
import type { WorkerResult } from './protocol.js';

/** Names of the strategies, in the order of the issue (the oracle is measured separately). */
export const STRATEGY_NAMES = [
  'edgeOnlyFull',
  'edgeOnlyPruned',
  'cloudOnlyRaw',
  'cloudOnlyPng',
  'neurosurgeon',
  'jalad',
  'jmdcPublished',
  'jmdc',
] as const;

export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** What the device worker needs to build the client of one strategy (or of one fixed oracle candidate). */
export interface ClientSpec {
  /** Strategy name, or `fixed:<row key>` for an oracle candidate. */
  key: string;
  /** The rows the client's planner may choose from. */
  rows: PlanRow[];
  /** Accuracy floor of the `minimize: 'latency'` objective. */
  minAccuracy: number;
  /** Price cold starts (P(cold) x init) and learn init times. False: cold starts are invisible to the planner. */
  coldAware: boolean;
  /** Background warm-up of probably-cold functions. */
  warmUp: boolean;
  /** Exploration probes that keep the link measured. @default true */
  explore?: boolean;
}

/** A strategy: its client and a short description with the paper it follows. */
export interface Strategy extends ClientSpec {
  /** One of {@link STRATEGY_NAMES}, or `jmdcQuiet` (see {@link quietVariant}). */
  name: StrategyName | 'jmdcQuiet';
  description: string;
  /** Set where the strategy is approximated (what the paper does that the codec cannot); none is at present. */
  approximation?: string;
}

/**
 * A stable key of a row: `edge r025`, `cloud png`, `p2 r050 k0.25 b4 rans tensor`, and for a split
 * through a learned bottleneck `p2 r000 k0.5 b1 rans channel bn`.
 */
export function rowKey(
  r: Pick<PlanRow, 'kind' | 'point' | 'variant' | 'keep' | 'bits' | 'coder' | 'quantScope'> & {
    bottleneck?: boolean;
  },
): string {
  const v = `r${String(Math.round(r.variant * 100)).padStart(3, '0')}`;
  if (r.kind === 'edge-only') return `edge ${v}`;
  if (r.kind === 'cloud-only') return `cloud ${r.coder}`;
  return `p${r.point} ${v} k${r.keep} b${r.bits} ${r.coder} ${r.quantScope}${r.bottleneck ? ' bn' : ''}`;
}

/**
 * Exact payload bytes of one image for a feature setting with coder `none` (its size does not depend on the
 * values). `bits` 32: the float32 frame (the header and 4 bytes per kept value; `quantScope` ignored).
 */
export function uncodedFeatureBytes(
  manifest: Manifest,
  point: number,
  variant: number,
  keep: number,
  bits: number,
  quantScope: 'channel' | 'tensor',
): number {
  const v = manifest.variants.find((x) => Math.abs(x.pruneRatio - variant) < 1e-9);
  if (!v) throw new Error(`no variant ${variant}`);
  const [c, h, w] = featureDims(v, point);
  const keepCount = Math.min(h * w, Math.max(1, Math.ceil(keep * h * w)));
  const features = new Float32Array(c * h * w);
  for (let i = 0; i < features.length; i++) features[i] = (i % 7) / 7;
  const attention = new Float32Array(h * w).map((_, i) => i);
  return encodeFeatures(
    { dims: [c, h, w], batch: 1, features, attention },
    { model: { id: manifest.id, hash: manifest.hash }, point, variant, keepCount, bits, coder: 'none', quantScope },
  ).byteLength;
}

const same = (a: number, b: number) => Math.abs(a - b) < 1e-9;

/**
 * Rows with coder `none` derived from the profile's rows of the same point, variant, keep, bits and
 * scope (the coders are lossless, so the accuracy is the listed one; the bytes are computed exactly).
 */
function uncoded(manifest: Manifest, rows: readonly PlanRow[], pick: (r: PlanRow) => boolean): PlanRow[] {
  const out = new Map<string, PlanRow>();
  for (const r of rows) {
    // the baselines split the network's own features: no learned bottleneck
    if (r.kind !== 'split' || r.bottleneck || !pick(r)) continue;
    const d: PlanRow = {
      ...r,
      coder: 'none',
      meanPayloadBytes: uncodedFeatureBytes(manifest, r.point, r.variant, r.keep, r.bits, r.quantScope),
      synthesized: true,
    };
    const k = rowKey(d);
    if (!out.has(k)) out.set(k, d);
  }
  return [...out.values()];
}

/**
 * Neurosurgeon's split rows (Kang et al., ASPLOS 2017): at every partition point of the unpruned model, its
 * features as they are, float32 (bits 32), every position, coder `none`. Synthesized from the profile the way
 * {@link rawCloudRow} synthesizes the raw upload: a copy of the unpruned model's edge-only row (float32
 * features are lossless, so the tail computes what the whole network computes: its validation and test
 * accuracy) with the split's setting and the exact frame size of one image at the point.
 *
 * The device's encode cost is priced as that of the 8-bit uncoded encode of the same tensor
 * (`encodePayloadBytes`: the calibration times the `none` coder on quantized rows only, and its per-KiB rate
 * would price four times the bytes as four times the work). It is about the same work: measured on the 2-core
 * x64 machine at the five points of fmnist-vgg16, the float32 encode takes 0.84-1.04x the 8-bit one (no
 * quantization, but four times the bytes through the CRC).
 *
 * @example
 * neurosurgeonRows(manifest, profile).map((r) => r.meanPayloadBytes) // fmnist-vgg16: [32792, 16408, 8216, 4120, 1048]
 */
export function neurosurgeonRows(manifest: Manifest, profile: NormalizedProfile): PlanRow[] {
  const full = profile.rows.find((r) => r.kind === 'edge-only' && same(r.variant, 0));
  if (!full) throw new Error('profile has no edge-only row of the unpruned model');
  return manifest.points.map(({ point }) => ({
    ...full,
    kind: 'split',
    point,
    keep: 1,
    bits: FLOAT32_BITS,
    coder: 'none',
    quantScope: 'channel',
    bottleneck: false,
    meanPayloadBytes: uncodedFeatureBytes(manifest, point, 0, 1, FLOAT32_BITS, 'channel'),
    encodePayloadBytes: uncodedFeatureBytes(manifest, point, 0, 1, 8, 'tensor'),
    synthesized: true,
  }));
}

/** The cloud-only row of a raw uint8 upload (from the profile, or derived from its PNG row: same pixels). */
export function rawCloudRow(manifest: Manifest, profile: NormalizedProfile): PlanRow {
  const listed = profile.rows.find((r) => r.kind === 'cloud-only' && r.coder === 'raw');
  if (listed) return listed;
  const png = profile.rows.find((r) => r.kind === 'cloud-only');
  if (!png) throw new Error('profile has no cloud-only row');
  return { ...png, coder: 'raw', meanPayloadBytes: rawPayloadBytes(manifest.input.sourceShape), synthesized: true };
}

/** The accuracy floor every strategy is held to: the full model's validation accuracy - 1 point. */
export function benchFloor(profile: NormalizedProfile): number {
  return defaultMinAccuracy(profile);
}

/**
 * Builds the eight strategies for a model and its profile.
 *
 * @example
 * const s = buildStrategies(manifest, loadProfile(dir, { manifest }))
 * s.find((x) => x.name === 'neurosurgeon')?.rows.length // edge + cloud + one float32 split per point
 */
export function buildStrategies(manifest: Manifest, profile: NormalizedProfile): Strategy[] {
  const floor = benchFloor(profile);
  const rows = profile.rows;
  const edge = rows.filter((r) => r.kind === 'edge-only');
  const edgeFull = edge.filter((r) => same(r.variant, 0));
  const edgePruned = edge.filter((r) => r.variant > 0 && r.valAccuracy >= floor);
  const png = rows.filter((r) => r.kind === 'cloud-only' && r.coder === 'png');
  const raw = rawCloudRow(manifest, profile);
  const full8 = (r: PlanRow) => same(r.variant, 0) && r.bits === 8 && same(r.keep, 1) && r.quantScope === 'channel';
  const neuroSplits = neurosurgeonRows(manifest, profile);
  const jaladSplits = rows.filter((r) => r.kind === 'split' && !r.bottleneck && full8(r) && r.coder !== 'none');
  const jmdc6 = uncoded(manifest, rows, (r) => r.bits === 6 && r.quantScope === 'channel');
  const s = (
    name: StrategyName,
    description: string,
    rs: PlanRow[],
    o: { coldAware: boolean; warmUp: boolean; minAccuracy?: number; approximation?: string },
  ): Strategy => ({
    name,
    key: name,
    description,
    rows: rs,
    minAccuracy: o.minAccuracy ?? floor,
    coldAware: o.coldAware,
    warmUp: o.warmUp,
    ...(o.approximation ? { approximation: o.approximation } : {}),
  });
  return [
    s('edgeOnlyFull', 'edge-only, the unpruned model', edgeFull, { coldAware: false, warmUp: false, minAccuracy: 0 }),
    s(
      'edgeOnlyPruned',
      'edge-only, the fastest pruned variant (on this device) within the accuracy floor',
      edgePruned.length ? edgePruned : edgeFull,
      { coldAware: false, warmUp: false, minAccuracy: 0 },
    ),
    s('cloudOnlyRaw', 'cloud-only, the raw uint8 image', [raw], { coldAware: false, warmUp: false, minAccuracy: 0 }),
    s('cloudOnlyPng', 'cloud-only, the image as PNG', png, { coldAware: false, warmUp: false, minAccuracy: 0 }),
    s(
      'neurosurgeon',
      'Neurosurgeon (Kang et al., ASPLOS 2017): best split point of the unpruned model by the latency model, the features as float32 (uncompressed: no quantization, no region selection, no entropy coding), raw image for cloud-only',
      [...edgeFull, raw, ...neuroSplits],
      { coldAware: false, warmUp: false },
    ),
    s(
      'jalad',
      'JALAD (Li et al., ICPADS 2018): best split of the unpruned model, 8-bit quantization plus entropy coding, no region selection',
      [...edgeFull, ...png, ...jaladSplits],
      { coldAware: false, warmUp: false },
    ),
    s(
      'jmdcPublished',
      'JMDC as published (Ding et al., JPDC 2023): channel pruning + region selection + 6-bit quantization, latency-min under the floor, no entropy coding, no cold-start awareness',
      [...edge, raw, ...jmdc6],
      { coldAware: false, warmUp: false },
    ),
    s('jmdc', 'jmdc: every row of the profile, entropy coding, cold-start-aware planning, warm-up', [...rows], {
      coldAware: true,
      warmUp: true,
    }),
  ];
}

/**
 * jmdc without its background work (no exploration probes, no warm-ups): a diagnostic strategy that
 * shows what that work costs on a slow device.
 *
 * @example
 * quietVariant(buildStrategies(manifest, profile).find((s) => s.name === 'jmdc')!).key // 'jmdcQuiet'
 */
export function quietVariant(ours: Strategy): Strategy {
  return {
    ...ours,
    name: 'jmdcQuiet',
    key: 'jmdcQuiet',
    description: 'diagnostic: jmdc without exploration probes and warm-ups',
    warmUp: false,
    explore: false,
  };
}

/** A client that always uses one row (an oracle candidate). */
export function fixedSpec(row: PlanRow): ClientSpec {
  return { key: `fixed:${rowKey(row)}`, rows: [row], minAccuracy: 0, coldAware: false, warmUp: false };
}

/**
 * The oracle's candidates once the strategies ran: the rows of the single-row strategies count with
 * their own records (`fixedOf`: row key -> strategy key); every other row the strategies chose, and
 * the Pareto rows, become fixed clients (`extra`) where they reach the floor.
 */
export function oracleCandidates(
  strategies: readonly Strategy[],
  records: readonly Pick<WorkerResult, 'result'>[],
  pareto: readonly PlanRow[],
  rowsByKey: ReadonlyMap<string, PlanRow>,
  floor: number,
): { fixedOf: Map<string, string>; extra: ClientSpec[] } {
  const fixedOf = new Map<string, string>();
  for (const s of strategies) if (s.rows.length === 1) fixedOf.set(rowKey(s.rows[0] as PlanRow), s.key);
  const wanted = new Set<string>();
  for (const r of records) {
    if (!r.result) continue;
    const d = r.result.decision;
    const k = rowKey({ ...d, quantScope: d.quantScope ?? 'channel' });
    if (!fixedOf.has(k)) wanted.add(k);
  }
  for (const r of pareto) if (!fixedOf.has(rowKey(r))) wanted.add(rowKey(r));
  const extra: ClientSpec[] = [];
  for (const k of wanted) {
    const row = rowsByKey.get(k);
    if (row && row.valAccuracy >= floor) extra.push(fixedSpec(row));
  }
  return { fixedOf, extra };
}

/**
 * A few rows on the Pareto front of (payload bytes, head MACs proxy = point and variant) among the
 * rows that reach the floor: the smallest payload at each point, the cheapest head's variant
 * first. Oracle candidates beside the rows the strategies chose.
 */
export function paretoRows(profile: NormalizedProfile, floor: number, count = 3): PlanRow[] {
  const ok = profile.rows.filter((r) => r.kind === 'split' && r.valAccuracy >= floor);
  const best = new Map<number, PlanRow>();
  for (const r of ok) {
    const b = best.get(r.point);
    if (!b || r.meanPayloadBytes < b.meanPayloadBytes) best.set(r.point, r);
  }
  return [...best.values()].sort((a, b) => a.meanPayloadBytes - b.meanPayloadBytes).slice(0, count);
}
