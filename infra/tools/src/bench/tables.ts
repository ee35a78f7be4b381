/** The benchmark's cells as Markdown tables (for docs/benchmarks.md). */
import { STRATEGY_NAMES } from './strategies.js';
import type { CellSummary, GoalCheck } from './summary.js';

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
  const names = [...STRATEGY_NAMES, 'oracle'];
  const head = [
    'device',
    'Mbit/s',
    'RTT',
    'batch',
    'state',
    ...names.map((n) => SHORT[n] ?? n),
    'jmdc chose',
    'oracle row',
    'jmdc/NS',
    'jmdc/best single',
    'jmdc/oracle',
    'acc. loss (pt)',
  ];
  const lines = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < 5 || i >= 5 + names.length ? '---' : '---:')).join('|')}|`,
  ];
  for (const c of cells) {
    lines.push(
      `| ${[
        c.device,
        c.uplinkMbps,
        c.rttMs,
        c.batch,
        c.state,
        ...names.map((n) => ms(c.strategies[n]?.medianMs)),
        c.decision,
        c.oracleDecision,
        c.ratios.oursOverNeurosurgeon,
        c.ratios.oursOverBestSingle,
        c.ratios.oursOverOracle,
        c.oursAccuracyLoss,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
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

/** The goals as a short list. */
export function goalLines(g: GoalCheck): string {
  return [
    `- cells: ${g.cells}; ours within 1.0 accuracy point in ${g.withinAccuracy}`,
    `- ours <= 1.05 x the best single strategy in ${g.withinBestSingle} of ${g.cells} (worst ${g.worstOursOverBestSingle}x)`,
    `- ours <= 1.10 x the oracle in ${g.withinOracle} of ${g.cells} (worst ${g.worstOursOverOracle}x)`,
    `- ours not slower than Neurosurgeon in ${g.notSlowerThanNeurosurgeon} of ${g.cells}; geometric mean of ours / Neurosurgeon at <= 1 Mbit/s: ${g.geomeanOursOverNeurosurgeonAtOrBelow1Mbps}`,
    `- ours' predicted median within 20% of the measured one in ${g.warmPredictionWithin20pct} of ${g.warmCells} warm cells`,
  ].join('\n');
}
