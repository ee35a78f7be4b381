/** The benchmark's figures per cell, computed from the per-request records. */
import type { PlanRow } from '@jmdc/edge-sdk';
import { quantile, round } from '../stats.js';
import type { PlannerView, WorkerResult } from './protocol.js';
import { rowKey, type StrategyName } from './strategies.js';
import type { TraceSummary } from './trace.js';

/** One classify call and the true labels of its images. */
export interface CellRecord extends WorkerResult {
  labels: number[];
}

/** Figures of one strategy (or the oracle) in one cell. */
export interface StrategyStats {
  medianMs: number;
  p95Ms: number;
  /** Mean bytes uploaded per request (a request carries `batch` images). */
  bytes: number;
  /** Share of the images of the measured requests classified correctly. */
  accuracy: number;
  /** Requests that met a cold start. */
  coldStarts: number;
  /** Median of the planner's predicted latency. */
  predictedMedianMs: number;
  requests: number;
  /** Requests that ended with an error (not counted in the latencies). */
  errors: number;
  /** Requests finished on the device after the cloud part failed or was abandoned. */
  fallbacks: number;
  /** Decisions (row keys, see `rowKey`) and how often each was taken. */
  decisions: Record<string, number>;
  /**
   * Medians of the parts of a request's time (the client's `timings`): the wait for a probe in flight,
   * planning, the inference on the device, and the rest (encoding, the request, the cloud, and any event-loop work
   * that ran during the call). Absent for records without them.
   */
  parts?: { waitMs: number; planMs: number; edgeMs: number; otherMs: number };
}

/** The figures of a set of interleaved records: a cell, a phase of the step trace, or the whole trace. */
export interface RecordsSummary {
  strategies: Record<string, StrategyStats & { row?: string }>;
  /** Ratios of medians: ours (`jmdc`) over Neurosurgeon, over the best edge-only/cloud-only strategy, over the oracle. */
  ratios: { oursOverNeurosurgeon: number; oursOverBestSingle: number; oursOverOracle: number };
  /** Accuracy points ours lost against the unpruned model on the same images (edge-only full). */
  oursAccuracyLoss: number;
  /** Ours' most frequent decision. */
  decision: string;
  /** The oracle's row. */
  oracleDecision: string;
  /** Every fixed row the oracle was chosen from (within the floor), with its measured median, fastest first. */
  oracleCandidates: Array<{ row: string; medianMs: number }>;
  /** The best of the single strategies (edge-only and cloud-only). */
  bestSingle: string;
  /** |ours' predicted median - measured median| / measured median. */
  oursPredictionError: number;
}

/** A cell's figures, in the JSON shape of the benchmark. */
export interface CellSummary extends RecordsSummary {
  uplinkMbps: number;
  rttMs: number;
  device: string;
  batch: number;
  state: 'warm' | 'cold';
  /** jmdc's estimates and its planner's prices at the end of its measured rounds. */
  jmdcView?: PlannerView;
}

/** What {@link summarizeRecords} needs besides the records. */
export interface SummaryContext {
  /** The strategies measured (record keys). */
  strategies: readonly string[];
  /** Row key -> key of the single-row strategy that measured it (its records count as that row's). */
  fixedOf: Map<string, string>;
  rowsByKey: Map<string, PlanRow>;
  floor: number;
}

export const SINGLE_STRATEGIES: readonly StrategyName[] = [
  'edgeOnlyFull',
  'edgeOnlyPruned',
  'cloudOnlyRaw',
  'cloudOnlyPng',
];

/** Figures of a list of records (one strategy in one cell). */
export function statsOf(records: readonly CellRecord[]): StrategyStats {
  const ok = records.filter((r) => r.result !== undefined);
  const res = ok.map((r) => r.result as NonNullable<WorkerResult['result']>);
  const total = res.map((r) => r.timings.totalMs);
  let images = 0;
  let correct = 0;
  for (const r of ok) {
    const classes = r.result?.classes ?? [];
    r.labels.forEach((l, i) => {
      images++;
      if (classes[i] === l) correct++;
    });
  }
  const decisions: Record<string, number> = {};
  for (const r of res) {
    const l = rowKey({ ...r.decision, quantScope: r.decision.quantScope ?? 'channel' });
    decisions[l] = (decisions[l] ?? 0) + 1;
  }
  return {
    medianMs: round(quantile(total, 0.5)),
    p95Ms: round(quantile(total, 0.95)),
    bytes: round(res.length ? res.reduce((a, r) => a + r.bytesSent, 0) / res.length : 0, 1),
    accuracy: round(images ? correct / images : Number.NaN, 4),
    coldStarts: res.filter((r) => r.coldStart).length,
    predictedMedianMs: round(
      quantile(
        res.map((r) => r.predicted.totalMs),
        0.5,
      ),
    ),
    requests: records.length,
    errors: records.length - ok.length,
    fallbacks: res.filter((r) => r.fallback !== false).length,
    decisions,
    ...partsOf(res),
  };
}

function partsOf(res: readonly NonNullable<WorkerResult['result']>[]): Pick<StrategyStats, 'parts'> {
  const t = res.map((r) => r.timings);
  if (!t.length || t.some((x) => typeof x.planMs !== 'number' || typeof x.waitMs !== 'number')) return {};
  const med = (xs: number[]) => round(quantile(xs, 0.5), 3);
  return {
    parts: {
      waitMs: med(t.map((x) => x.waitMs)),
      planMs: med(t.map((x) => x.planMs)),
      edgeMs: med(t.map((x) => x.edgeMs)),
      otherMs: med(t.map((x) => x.totalMs - x.waitMs - x.planMs - x.edgeMs)),
    },
  };
}

/** The most frequent key of a count table ('' when empty). */
export function modal(counts: Record<string, number>): string {
  let best = '';
  let n = -1;
  for (const [k, v] of Object.entries(counts)) {
    if (v > n) {
      best = k;
      n = v;
    }
  }
  return best;
}

/**
 * Summarizes interleaved records: per strategy, the oracle (the fastest measured fixed row that
 * reaches the floor: the rows of the single-row strategies and the extra `fixed:` candidates), and
 * the ratios of medians.
 */
export function summarizeRecords(records: readonly CellRecord[], ctx: SummaryContext): RecordsSummary {
  const byKey = new Map<string, CellRecord[]>();
  for (const r of records) {
    const list = byKey.get(r.key) ?? [];
    list.push(r);
    byKey.set(r.key, list);
  }
  const strategies: RecordsSummary['strategies'] = {};
  for (const s of ctx.strategies) strategies[s] = statsOf(byKey.get(s) ?? []);
  // oracle candidates: every measured fixed row within the floor
  let oracle: (StrategyStats & { row: string }) | undefined;
  const candidates: RecordsSummary['oracleCandidates'] = [];
  const consider = (row: string, recs: CellRecord[] | undefined): void => {
    const r = ctx.rowsByKey.get(row);
    if (!recs?.length || !r || r.valAccuracy < ctx.floor) return;
    const st = statsOf(recs);
    if (!Number.isFinite(st.medianMs)) return;
    candidates.push({ row, medianMs: st.medianMs });
    if (!oracle || st.medianMs < oracle.medianMs) oracle = { ...st, row };
  };
  for (const [row, key] of ctx.fixedOf) consider(row, byKey.get(key));
  for (const [key, recs] of byKey) if (key.startsWith('fixed:')) consider(key.slice(6), recs);
  if (oracle) strategies.oracle = oracle;
  const med = (k: string) => strategies[k]?.medianMs ?? Number.NaN;
  const ours = med('jmdc');
  let bestSingle = '';
  for (const s of SINGLE_STRATEGIES) {
    if (strategies[s] && Number.isFinite(med(s)) && (!bestSingle || med(s) < med(bestSingle))) bestSingle = s;
  }
  const j = strategies.jmdc;
  const full = strategies.edgeOnlyFull;
  return {
    strategies,
    ratios: {
      oursOverNeurosurgeon: round(ours / med('neurosurgeon'), 3),
      oursOverBestSingle: round(ours / (bestSingle ? med(bestSingle) : Number.NaN), 3),
      oursOverOracle: round(ours / (oracle?.medianMs ?? Number.NaN), 3),
    },
    oursAccuracyLoss: round(j && full ? 100 * (full.accuracy - j.accuracy) : Number.NaN, 2),
    decision: j ? modal(j.decisions) : '',
    oracleDecision: oracle?.row ?? '',
    oracleCandidates: candidates.sort((a, b) => a.medianMs - b.medianMs),
    bestSingle,
    oursPredictionError: round(j ? Math.abs(j.predictedMedianMs - j.medianMs) / j.medianMs : Number.NaN, 3),
  };
}

/** Summarizes one cell (see {@link summarizeRecords}). */
export function summarizeCell(
  cell: Omit<CellSummary, keyof RecordsSummary>,
  records: readonly CellRecord[],
  ctx: SummaryContext,
): CellSummary {
  return { ...cell, ...summarizeRecords(records, ctx) };
}

/** Geometric mean (NaN when empty or any value is not positive). */
export function geomean(xs: readonly number[]): number {
  if (xs.length === 0 || xs.some((x) => !(x > 0))) return Number.NaN;
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

/** The thresholds: ours over the best single strategy, over the oracle, over Neurosurgeon; accuracy points lost. */
export const GOAL_LIMITS = { bestSingle: 1.05, oracle: 1.1, neurosurgeon: 1, accuracyPoints: 1 } as const;

/** The goals under the step trace: over the whole trace (the clause that must hold), and phase by phase. */
export interface TraceGoalCheck {
  trace: string;
  device: string;
  /** Ratios of the medians over every measured request of the trace. */
  oursOverBestSingle: number;
  oursOverOracle: number;
  oursOverNeurosurgeon: number;
  oursAccuracyLoss: number;
  withinBestSingle: boolean;
  /** Against the best fixed row over the whole trace. */
  withinOracle: boolean;
  notSlowerThanNeurosurgeon: boolean;
  withinAccuracy: boolean;
  phases: number;
  phasesWithinBestSingle: number;
  /** Against each phase's own fastest fixed row. */
  phasesWithinOracle: number;
  phasesNotSlowerThanNeurosurgeon: number;
}

/** The goals, checked over the cells (and, where it ran, the step trace). */
export interface GoalCheck {
  cells: number;
  /** Cells where ours lost at most 1 accuracy point. */
  withinAccuracy: number;
  /** Cells with ours <= 1.05 x the best single strategy. */
  withinBestSingle: number;
  /** Cells with ours <= 1.10 x the oracle. */
  withinOracle: number;
  /** Cells with ours <= Neurosurgeon. */
  notSlowerThanNeurosurgeon: number;
  /** Geometric mean of ours / Neurosurgeon over the cells at 1 Mbit/s and below. */
  geomeanOursOverNeurosurgeonAtOrBelow1Mbps: number;
  /** Warm cells whose predicted median is within 20% of the measured one, of all warm cells. */
  warmPredictionWithin20pct: number;
  warmCells: number;
  worstOursOverBestSingle: number;
  worstOursOverOracle: number;
  /**
   * Accuracy over every measured image of the cells (each cell classifies its own slice of the test
   * split, so the pool spans many more images than one cell): ours, the unpruned model, and the points
   * ours lost.
   */
  pooledAccuracy: { images: number; ours: number; full: number; lossPoints: number };
  /** The goals under the step trace; null when the trace did not run. */
  trace: TraceGoalCheck | null;
}

function max(xs: readonly number[]): number {
  return xs.length ? Math.max(...xs) : Number.NaN;
}

type Ratios = RecordsSummary['ratios'];
const withinBestSingle = (r: Ratios) => r.oursOverBestSingle <= GOAL_LIMITS.bestSingle;
const withinOracle = (r: Ratios) => r.oursOverOracle <= GOAL_LIMITS.oracle;
const notSlowerThanNs = (r: Ratios) => r.oursOverNeurosurgeon <= GOAL_LIMITS.neurosurgeon;

/** The goals under the step trace (NaN ratios, e.g. a strategy that did not run, count as not met). */
export function checkTraceGoals(t: TraceSummary): TraceGoalCheck {
  const o = t.overall;
  const count = (f: (r: Ratios) => boolean) => t.phases.filter((p) => f(p.ratios)).length;
  return {
    trace: t.name,
    device: t.device,
    ...o.ratios,
    oursAccuracyLoss: o.oursAccuracyLoss,
    withinBestSingle: withinBestSingle(o.ratios),
    withinOracle: withinOracle(o.ratios),
    notSlowerThanNeurosurgeon: notSlowerThanNs(o.ratios),
    withinAccuracy: o.oursAccuracyLoss <= GOAL_LIMITS.accuracyPoints,
    phases: t.phases.length,
    phasesWithinBestSingle: count(withinBestSingle),
    phasesWithinOracle: count(withinOracle),
    phasesNotSlowerThanNeurosurgeon: count(notSlowerThanNs),
  };
}

/** The goals of the benchmark over `cells` and the step trace (the counts say where they are met). */
export function checkGoals(cells: readonly CellSummary[], trace?: TraceSummary | null): GoalCheck {
  const finite = (xs: number[]) => xs.filter(Number.isFinite);
  const warm = cells.filter((c) => c.state === 'warm');
  return {
    cells: cells.length,
    withinAccuracy: cells.filter((c) => c.oursAccuracyLoss <= GOAL_LIMITS.accuracyPoints).length,
    withinBestSingle: cells.filter((c) => withinBestSingle(c.ratios)).length,
    withinOracle: cells.filter((c) => withinOracle(c.ratios)).length,
    notSlowerThanNeurosurgeon: cells.filter((c) => notSlowerThanNs(c.ratios)).length,
    geomeanOursOverNeurosurgeonAtOrBelow1Mbps: round(
      geomean(finite(cells.filter((c) => c.uplinkMbps <= 1).map((c) => c.ratios.oursOverNeurosurgeon))),
      3,
    ),
    warmPredictionWithin20pct: warm.filter((c) => c.oursPredictionError <= 0.2).length,
    warmCells: warm.length,
    worstOursOverBestSingle: max(finite(cells.map((c) => c.ratios.oursOverBestSingle))),
    worstOursOverOracle: max(finite(cells.map((c) => c.ratios.oursOverOracle))),
    pooledAccuracy: pooledAccuracy(cells),
    trace: trace ? checkTraceGoals(trace) : null,
  };
}

/** Ours' and the unpruned model's accuracy over the images of every cell (weighted by images measured). */
export function pooledAccuracy(cells: readonly CellSummary[]): GoalCheck['pooledAccuracy'] {
  let images = 0;
  let ours = 0;
  let full = 0;
  for (const c of cells) {
    const j = c.strategies.jmdc;
    const f = c.strategies.edgeOnlyFull;
    if (!j || !f || !Number.isFinite(j.accuracy) || !Number.isFinite(f.accuracy)) continue;
    const n = Math.min(j.requests, f.requests) * c.batch;
    images += n;
    ours += j.accuracy * n;
    full += f.accuracy * n;
  }
  const a = images ? ours / images : Number.NaN;
  const b = images ? full / images : Number.NaN;
  return { images, ours: round(a, 4), full: round(b, 4), lossPoints: round(100 * (b - a), 2) };
}

export { rowKey };
