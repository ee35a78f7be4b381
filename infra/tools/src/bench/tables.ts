/** The benchmark's cells as Markdown tables (for docs/benchmarks.md). */
import { STRATEGY_NAMES } from './strategies.js';
import type { CellSummary, GoalCheck, RecordsSummary, StrategyStats } from './summary.js';
import type { TracePartSummary, TraceSummary } from './trace.js';

const SHORT: Record<string, string> = {
  edgeOnlyFull: 'edge',
  edgeOnlyPruned: 'edge pruned',
  cloudOnlyRaw: 'cloud raw',
  cloudOnlyPng: 'cloud PNG',
  neurosurgeon: 'Neurosurgeon',
  jalad: 'JALAD',
  jmdcPublished: 'JMDC publ.',
  jmdc: '**jmdc**',
  oracle: 'oracle',
};

function ms(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/**
 * One row per cell: median latency of every strategy (ms), ours' decision, the oracle's row, the
 * three ratios and ours' accuracy loss.
 *
 * @example
 * console.log(cellTable(run.cells))
 */
export function cellTable(cells: readonly CellSummary[]): string {
  return figuresTable(
    ['device', 'Mbit/s', 'RTT', 'batch', 'state'],
    cells.map((c) => ({ label: [c.device, c.uplinkMbps, c.rttMs, c.batch, c.state], s: c, chose: c.decision })),
  );
}

const NAMES = [...STRATEGY_NAMES, 'oracle'];

function header(labels: readonly string[], names: readonly string[], tail: readonly string[]): string[] {
  const head = [...labels, ...names.map((n) => SHORT[n] ?? n), ...tail];
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < labels.length || i >= labels.length + names.length ? '---' : '---:')).join('|')}|`,
  ];
}

/** Median of every strategy, ours' decision, the oracle's row, the three ratios and ours' accuracy loss, per row. */
function figuresTable(
  labels: readonly string[],
  rows: readonly { label: readonly (string | number)[]; s: RecordsSummary; chose: string }[],
): string {
  const tail = ['jmdc chose', 'oracle row', 'jmdc/NS', 'jmdc/best single', 'jmdc/oracle', 'acc. loss (pt)'];
  const lines = header(labels, NAMES, tail);
  for (const { label, s, chose } of rows) {
    lines.push(
      `| ${[
        ...label,
        ...NAMES.map((n) => ms(s.strategies[n]?.medianMs)),
        chose,
        s.oracleDecision,
        s.ratios.oursOverNeurosurgeon,
        s.ratios.oursOverBestSingle,
        s.ratios.oursOverOracle,
        s.oursAccuracyLoss,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** `edge r025 6, cloud png 2`: a count table, most frequent first. */
export function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/**
 * The step trace: per phase and over the whole trace, the medians with ours' decisions, the oracle
 * (per phase: that phase's fastest fixed row; overall: the fixed row fastest over the trace) and
 * the ratios; then the p95 and the bytes per request of every strategy.
 *
 * @example
 * console.log(traceTables(run.trace))
 */
export function traceTables(t: TraceSummary): string {
  const parts: { label: (string | number)[]; p: TracePartSummary }[] = [
    ...t.phases.map((p) => ({ label: [p.label, p.uplinkMbps, p.rttMs, p.rounds], p })),
    { label: ['whole trace', '-', '-', t.rounds], p: t.overall },
  ];
  const labels = ['phase', 'Mbit/s', 'RTT', 'rounds'];
  const medians = figuresTable(
    labels,
    parts.map(({ label, p }) => ({ label, s: p, chose: countsText(p.oursDecisions) })),
  );
  const metric = (title: string, f: (s: StrategyStats) => string): string => {
    const lines = header(labels, NAMES, []);
    for (const { label, p } of parts) {
      lines.push(`| ${[...label, ...NAMES.map((n) => (p.strategies[n] ? f(p.strategies[n]) : '-'))].join(' | ')} |`);
    }
    return `${title}\n\n${lines.join('\n')}`;
  };
  return [
    `Step trace \`${t.name}\` on ${t.device}, batch ${t.batch}, ${t.rounds} rounds, idle gap ${t.gapMs / 1000} s (local cloud idle timeout ${t.idleTimeoutMs / 1000} s; ${t.localCloud.coldStarts} cold starts in ${t.localCloud.invocations} invocations, both passes); median ms:`,
    medians,
    metric('p95 ms:', (s) => ms(s.p95Ms)),
    metric('bytes sent per request:', (s) => String(Math.round(s.bytes))),
    metric('accuracy (%):', (s) => (100 * s.accuracy).toFixed(1)),
  ].join('\n\n');
}

/** Predicted vs measured median of ours, per cell. */
export function predictionTable(cells: readonly CellSummary[]): string {
  const lines = [
    '| device | Mbit/s | RTT | batch | state | jmdc predicted | measured | error |',
    '|---|---|---|---|---|---:|---:|---:|',
  ];
  for (const c of cells) {
    const j = c.strategies.jmdc;
    lines.push(
      `| ${c.device} | ${c.uplinkMbps} | ${c.rttMs} | ${c.batch} | ${c.state} | ${ms(j?.predictedMedianMs)} | ${ms(j?.medianMs)} | ${(100 * c.oursPredictionError).toFixed(0)}% |`,
    );
  }
  return lines.join('\n');
}

const yes = (b: boolean) => (b ? 'yes' : 'no');

/** The goals under the step trace, one list item. */
export function traceGoalLine(t: NonNullable<GoalCheck['trace']>): string {
  return (
    `- under the step trace (${t.trace}, ${t.device}), over the whole trace: ours / best single ${t.oursOverBestSingle} (<= 1.05: ${yes(t.withinBestSingle)}), ` +
    `ours / oracle ${t.oursOverOracle} (<= 1.10: ${yes(t.withinOracle)}), ours / Neurosurgeon ${t.oursOverNeurosurgeon} (not slower: ${yes(t.notSlowerThanNeurosurgeon)}), ` +
    `accuracy loss ${t.oursAccuracyLoss} points (<= 1: ${yes(t.withinAccuracy)}); per phase: within 1.05 x the best single in ${t.phasesWithinBestSingle} of ${t.phases}, ` +
    `within 1.10 x the phase's oracle in ${t.phasesWithinOracle} of ${t.phases}, not slower than Neurosurgeon in ${t.phasesNotSlowerThanNeurosurgeon} of ${t.phases}`
  );
}

/** The goals as a short list. */
function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '-';
}

export function goalLines(g: GoalCheck): string {
  const cells = [
    `- cells: ${g.cells}; ours within 1.0 accuracy point in ${g.withinAccuracy}`,
    `- ours <= 1.05 x the best single strategy in ${g.withinBestSingle} of ${g.cells} (worst ${g.worstOursOverBestSingle}x)`,
    `- ours <= 1.10 x the oracle in ${g.withinOracle} of ${g.cells} (worst ${g.worstOursOverOracle}x)`,
    `- ours not slower than Neurosurgeon in ${g.notSlowerThanNeurosurgeon} of ${g.cells}; geometric mean of ours / Neurosurgeon at <= 1 Mbit/s: ${g.geomeanOursOverNeurosurgeonAtOrBelow1Mbps}`,
    `- ours' predicted median within 20% of the measured one in ${g.warmPredictionWithin20pct} of ${g.warmCells} warm cells`,
    `- accuracy over every measured image of the cells (${g.pooledAccuracy.images}): ours ${pct(g.pooledAccuracy.ours)}, unpruned model ${pct(g.pooledAccuracy.full)}, ${g.pooledAccuracy.lossPoints} points lost`,
  ];
  return [...(g.cells || !g.trace ? cells : []), ...(g.trace ? [traceGoalLine(g.trace)] : [])].join('\n');
}
