/**
 * The step trace of the demo as a cell of the benchmark: the demo's phases (Wi-Fi, 3G, NB-IoT, an
 * idle gap, Wi-Fi again; `defaultScenario` of demo/scenario.ts) laid over the measured rounds of one
 * emulated device, the strategies interleaved request by request as in a cell. This module holds the
 * schedule, the warm-up clients and the per-phase figures; runBench.ts runs it.
 */
import type { PlanRow } from '@jmdc/edge-sdk';
import { type DevicePreset, type LinkConditions, profileConditions } from '@jmdc/netem';
import { DEFAULT_GAP_MS, DEFAULT_IDLE_TIMEOUT_MS, defaultScenario, type Phase, phaseStarts } from '../demo/scenario.js';
import type { PlannerView } from './protocol.js';
import { type ClientSpec, fixedSpec } from './strategies.js';
import { type CellRecord, type RecordsSummary, type SummaryContext, summarizeRecords } from './summary.js';

/** The traces `--trace` knows. */
export const TRACE_NAMES = ['demo'] as const;

export type TraceName = (typeof TRACE_NAMES)[number];

/** How the trace's oracles are defined (stated in the JSON). */
export const TRACE_ORACLE =
  'overall: the fixed row (a fresh single-row client run through the same trace, interleaved with the other candidates on the same images) with the fastest median over all measured requests of the trace, i.e. the best fixed configuration in hindsight; per phase: the fixed row with the fastest median in that phase (it may differ from phase to phase)';

/** What the trace cell runs. */
export interface TraceConfig {
  name: TraceName;
  device: DevicePreset;
  /** Measured rounds over the whole trace; the phases get the demo's fractions of them (at least one each). */
  rounds: number;
  /** Images per request. */
  batch: number;
  /** The idle gap before the last phase, ms. */
  gapMs: number;
  /** The trace's local cloud reaps instances idle this long, ms (below `gapMs`: the gap reaps them). */
  idleTimeoutMs: number;
}

/** The phases of a trace: for `demo`, the demo's default scenario with an idle gap of `gapMs`. */
export function tracePhases(name: TraceName, gapMs: number): Phase[] {
  if (name !== 'demo') throw new Error(`unknown trace '${name}'`);
  return defaultScenario(gapMs);
}

/** Idle timeout of the benchmark's local cloud where nothing should be reaped (warm cells), ms. */
export const WARM_IDLE_TIMEOUT_MS = 3_600_000;

/**
 * The idle timeout of the trace's local cloud for a gap: the demo's ratio (20 s for its 25 s gap), so
 * the gap reaps every idle instance as in the demo; without a gap, that of the warm cells.
 */
export function traceIdleTimeoutMs(gapMs: number): number {
  return gapMs > 0 ? Math.max(1, Math.round((gapMs * DEFAULT_IDLE_TIMEOUT_MS) / DEFAULT_GAP_MS)) : WARM_IDLE_TIMEOUT_MS;
}

/** One phase of the trace, in rounds. */
export interface TracePhasePlan {
  label: string;
  /** What the shaping proxy is set to (a profile of `@jmdc/netem` or explicit conditions). */
  conditions: string | Partial<LinkConditions>;
  uplinkMbps: number;
  downlinkMbps: number;
  rttMs: number;
  jitterMs: number;
  /** First measured round of the phase. */
  fromRound: number;
  rounds: number;
  /** No requests for this long before the phase starts, ms. */
  idleBeforeMs: number;
}

/**
 * The schedule of a trace of `rounds` measured rounds: the demo's phase boundaries (fractions of the
 * run) in rounds, every phase at least one round when `rounds` >= the number of phases.
 *
 * @example
 * traceSchedule(tracePhases('demo', 25_000), 10).map((p) => p.rounds) // [2, 2, 2, 4]
 */
export function traceSchedule(phases: readonly Phase[], rounds: number): TracePhasePlan[] {
  const starts = phaseStarts(phases, rounds);
  return phases.map((p, i) => {
    const from = starts[i] as number;
    const to = i + 1 < starts.length ? (starts[i + 1] as number) : rounds;
    const c: Partial<LinkConditions> =
      typeof p.conditions === 'string' ? profileConditions(p.conditions) : p.conditions;
    return {
      label: p.label,
      conditions: p.conditions,
      uplinkMbps: c.uplinkMbps ?? Number.NaN,
      downlinkMbps: c.downlinkMbps ?? Number.NaN,
      rttMs: c.rttMs ?? Number.NaN,
      jitterMs: c.jitterMs ?? 0,
      fromRound: from,
      rounds: Math.max(0, to - from),
      idleBeforeMs: p.idleBeforeMs ?? 0,
    };
  });
}

/**
 * One fixed client per function (point 0: a cloud-only row; point p: the smallest plain split row at
 * p), whose requests warm every function before the trace starts.
 */
export function functionWarmupSpecs(points: readonly number[], rows: Iterable<PlanRow>): ClientSpec[] {
  const best = new Map<number, PlanRow>();
  for (const r of rows) {
    if (r.kind === 'edge-only' || r.bottleneck) continue;
    const p = r.kind === 'cloud-only' ? 0 : r.point;
    const b = best.get(p);
    if (!b || r.meanPayloadBytes < b.meanPayloadBytes) best.set(p, r);
  }
  const out: ClientSpec[] = [];
  for (const p of [...new Set(points)].sort((a, b) => a - b)) {
    const row = best.get(p);
    if (row) out.push({ ...fixedSpec(row), key: `warm:p${p}` });
  }
  return out;
}

/** One classify call of the trace, with its phase (index into the schedule). */
export interface TraceRecord extends CellRecord {
  phase: number;
}

/** Ours' decisions (row key -> requests) beside the figures of a phase or of the whole trace. */
export type TracePartSummary = RecordsSummary & { oursDecisions: Record<string, number> };

/** The figures of one phase. */
export type TracePhaseSummary = Omit<TracePhasePlan, 'conditions'> &
  TracePartSummary & {
    /** jmdc's view when the phase's conditions were set, before its first round (after the gap, for the last phase). */
    jmdcViewAtStart?: PlannerView;
    /** jmdc's view after the phase's last round. */
    jmdcView?: PlannerView;
  };

/** The trace cell, in the JSON shape of the benchmark (`trace` next to `cells`). */
export interface TraceSummary {
  name: TraceName;
  device: string;
  batch: number;
  rounds: number;
  gapMs: number;
  idleTimeoutMs: number;
  /** The trace's local cloud over both passes (strategies and oracle candidates, warm-ups included). */
  localCloud: { invocations: number; coldStarts: number; throttles: number };
  /** How the oracles are defined. */
  oracle: string;
  phases: TracePhaseSummary[];
  overall: TracePartSummary;
}

function part(records: readonly CellRecord[], ctx: SummaryContext): TracePartSummary {
  const s = summarizeRecords(records, ctx);
  return { ...s, oursDecisions: { ...(s.strategies.jmdc?.decisions ?? {}) } };
}

/**
 * Per phase and over the whole trace: every strategy's figures, ours' decisions, the oracle (per
 * phase: that phase's fastest fixed row; overall: the fixed row fastest over the whole trace) and
 * the ratios of medians.
 */
export function summarizeTrace(
  meta: Omit<TraceSummary, 'oracle' | 'phases' | 'overall'>,
  plan: readonly TracePhasePlan[],
  records: readonly TraceRecord[],
  ctx: SummaryContext,
): TraceSummary {
  return {
    ...meta,
    oracle: TRACE_ORACLE,
    phases: plan.map(({ conditions: _c, ...p }, i) => ({
      ...p,
      ...part(
        records.filter((r) => r.phase === i),
        ctx,
      ),
    })),
    overall: part(records, ctx),
  };
}

/** The trace in the benchmark's one-line JSON summary. */
export function traceBrief(t: TraceSummary): Record<string, unknown> {
  const brief = (p: TracePartSummary) => ({
    medians: Object.fromEntries(Object.entries(p.strategies).map(([k, v]) => [k, v.medianMs])),
    p95: Object.fromEntries(Object.entries(p.strategies).map(([k, v]) => [k, v.p95Ms])),
    decisions: p.oursDecisions,
    oracle: p.oracleDecision,
    bestSingle: p.bestSingle,
    ratios: p.ratios,
    oursAccuracyLoss: p.oursAccuracyLoss,
  });
  return {
    name: t.name,
    device: t.device,
    batch: t.batch,
    rounds: t.rounds,
    gapMs: t.gapMs,
    localCloud: t.localCloud,
    phases: t.phases.map((p) => ({
      phase: p.label,
      uplinkMbps: p.uplinkMbps,
      rttMs: p.rttMs,
      rounds: p.rounds,
      ...brief(p),
    })),
    overall: brief(t.overall),
  };
}
