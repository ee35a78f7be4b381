/** The benchmark's pictures (SVG, no dependencies): latency vs uplink, decision maps, predicted vs measured. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { axes, esc, frame, legend, linear, log, path } from '../demo/svg.js';
import type { BenchRun } from './runBench.js';
import type { CellSummary } from './summary.js';

/** Colour of each strategy (and the oracle). */
export const STRATEGY_COLOURS: Record<string, string> = {
  edgeOnlyFull: '#7f7f7f',
  edgeOnlyPruned: '#bcbd22',
  cloudOnlyRaw: '#8c564b',
  cloudOnlyPng: '#e377c2',
  neurosurgeon: '#1f77b4',
  jalad: '#17becf',
  jmdcPublished: '#ff7f0e',
  jmdc: '#d62728',
  oracle: '#2ca02c',
};

const STYLE = `<style>
text{font-family:sans-serif;fill:#222}.title{font-size:14px;font-weight:bold}.tick{font-size:11px}.label{font-size:12px}
.grid{stroke:#e5e5e5}.axis{stroke:#444}.diag{stroke:#444;stroke-dasharray:4 3;fill:none}.band{fill:#eee}
${Object.entries(STRATEGY_COLOURS)
  .map(([k, c]) => `.s-${k}{stroke:${c};fill:none;stroke-width:2}.f-${k}{fill:${c};stroke:none}`)
  .join('\n')}
.s-oracle{stroke-dasharray:5 3}
.k-edge{fill:#c7e9c0}.k-cloud{fill:#fdd0a2}.k-split{fill:#c6dbef}.diff{fill:none;stroke:#d62728;stroke-width:3}
</style>`;

function svg(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${STYLE}<rect width="100%" height="100%" fill="#fff"/>${body}</svg>\n`;
}

/** One slice of a device's cells that a chart shows: one batch size and one function state. */
export interface ChartView {
  batch: number;
  state: CellSummary['state'];
}

/** The device's slices, its main one first: warm before cold, then by batch. */
export function viewsOf(cells: readonly CellSummary[], device: string): ChartView[] {
  const views: ChartView[] = [];
  for (const c of cells)
    if (c.device === device && !views.some((v) => v.batch === c.batch && v.state === c.state))
      views.push({ batch: c.batch, state: c.state });
  const rank = (v: ChartView): number => (v.state === 'warm' ? 0 : 1);
  return views.sort((a, b) => rank(a) - rank(b) || a.batch - b.batch);
}

/** The cells of one device and slice (by default its main one). */
function baseCells(cells: readonly CellSummary[], device: string, view?: ChartView): CellSummary[] {
  const v = view ?? viewsOf(cells, device)[0];
  return cells.filter((c) => c.device === device && c.batch === v?.batch && c.state === v?.state);
}

function middleRtt(cells: readonly CellSummary[]): number {
  const rtts = [...new Set(cells.map((c) => c.rttMs))].sort((a, b) => a - b);
  return rtts.includes(40) ? 40 : (rtts[Math.floor(rtts.length / 2)] as number);
}

/** Median latency against uplink, one line per strategy, for one device. */
export function latencyChart(cells: readonly CellSummary[], device: string, view?: ChartView): string {
  const base = baseCells(cells, device, view);
  const rtt = middleRtt(base);
  const cs = base.filter((c) => c.rttMs === rtt).sort((a, b) => a.uplinkMbps - b.uplinkMbps);
  const names = Object.keys(STRATEGY_COLOURS).filter((n) => cs.some((c) => c.strategies[n]));
  const ys = cs.flatMap((c) => names.map((n) => c.strategies[n]?.medianMs ?? Number.NaN)).filter((v) => v > 0);
  const fr = frame(800, 420, { left: 60, right: 170, top: 28, bottom: 44 });
  const x = log(
    [Math.min(...cs.map((c) => c.uplinkMbps)), Math.max(...cs.map((c) => c.uplinkMbps))],
    [fr.left, fr.right],
  );
  const y = linear([0, Math.max(...ys) * 1.1], [fr.bottom, fr.top]);
  const first = cs[0];
  const title = `${device}: median latency vs uplink (RTT ${rtt} ms, batch ${first?.batch ?? 1}, ${first?.state ?? 'warm'})`;
  let body = axes(fr, x, y, { x: 'uplink, Mbit/s', y: 'median latency, ms', title });
  for (const n of names) {
    const pts = cs
      .filter((c) => (c.strategies[n]?.medianMs ?? 0) > 0)
      .map((c) => [x(c.uplinkMbps), y(c.strategies[n]?.medianMs as number)] as [number, number]);
    body += path(pts, `s-${n}`);
    for (const [px, py] of pts) body += `<circle cx="${px}" cy="${py}" r="3" class="f-${n}"/>`;
  }
  // a vertical legend right of the plot
  names.forEach((n, i) => {
    const ly = fr.top + 14 + i * 18;
    body += `<rect x="${fr.right + 14}" y="${ly - 9}" width="10" height="10" class="f-${n}"/>`;
    body += `<text x="${fr.right + 28}" y="${ly}" class="tick">${esc(n)}</text>`;
  });
  return svg(fr.width, fr.height, body);
}

function kindOf(row: string): 'edge' | 'cloud' | 'split' {
  return row.startsWith('edge') ? 'edge' : row.startsWith('cloud') ? 'cloud' : 'split';
}

/** Uplink x RTT, coloured by what the planner chose; a red frame where the oracle's row differs. */
export function decisionMap(cells: readonly CellSummary[], device: string, view?: ChartView): string {
  const base = baseCells(cells, device, view);
  const ups = [...new Set(base.map((c) => c.uplinkMbps))].sort((a, b) => a - b);
  const rtts = [...new Set(base.map((c) => c.rttMs))].sort((a, b) => a - b);
  const cw = 150;
  const ch = 56;
  const left = 80;
  const top = 40;
  const width = Math.max(560, left + cw * ups.length + 20);
  const height = top + ch * rtts.length + 80;
  const first = base[0];
  let body = `<text x="${left}" y="18" class="title">${esc(`${device}: jmdc's decision (batch ${first?.batch ?? 1}, ${first?.state ?? 'warm'})`)}</text>`;
  rtts.forEach((rtt, j) => {
    const py = top + j * ch;
    body += `<text x="${left - 8}" y="${py + ch / 2 + 4}" text-anchor="end" class="tick">${rtt} ms</text>`;
    ups.forEach((u, i) => {
      const px = left + i * cw;
      const c = base.find((k) => k.uplinkMbps === u && k.rttMs === rtt);
      if (!c) return;
      const kind = kindOf(c.decision);
      body += `<rect x="${px + 2}" y="${py + 2}" width="${cw - 4}" height="${ch - 4}" class="k-${kind}"/>`;
      if (c.oracleDecision && c.oracleDecision !== c.decision) {
        body += `<rect x="${px + 3}" y="${py + 3}" width="${cw - 6}" height="${ch - 6}" class="diff"/>`;
      }
      body += `<text x="${px + cw / 2}" y="${py + 20}" text-anchor="middle" class="tick">${esc(c.decision)}</text>`;
      body += `<text x="${px + cw / 2}" y="${py + 36}" text-anchor="middle" class="tick">${esc(`oracle: ${c.oracleDecision}`)}</text>`;
      body += `<text x="${px + cw / 2}" y="${py + 50}" text-anchor="middle" class="tick">${esc(`x${c.ratios.oursOverOracle} of oracle`)}</text>`;
    });
  });
  ups.forEach((u, i) => {
    body += `<text x="${left + i * cw + cw / 2}" y="${top + rtts.length * ch + 16}" text-anchor="middle" class="tick">${u} Mbit/s</text>`;
  });
  body += `<text x="${left}" y="${top + rtts.length * ch + 40}" class="label">uplink (columns) x RTT (rows)</text>`;
  body += legend(left, top + rtts.length * ch + 62, [
    { cls: 'k-edge', name: 'edge-only' },
    { cls: 'k-cloud', name: 'cloud-only' },
    { cls: 'k-split', name: 'split' },
  ]);
  body += `<rect x="${left + 250}" y="${top + rtts.length * ch + 53}" width="10" height="10" class="diff"/>`;
  body += `<text x="${left + 266}" y="${top + rtts.length * ch + 62}" class="tick">differs from the oracle's row</text>`;
  return svg(width, height, body);
}

/** The planner's predicted median against the measured one, per cell and planning strategy. */
export function predictedChart(cells: readonly CellSummary[]): string {
  const names = ['neurosurgeon', 'jalad', 'jmdcPublished', 'jmdc'];
  const pts: { n: string; p: number; m: number; cold: boolean }[] = [];
  for (const c of cells)
    for (const n of names) {
      const s = c.strategies[n];
      if (s && s.predictedMedianMs > 0 && s.medianMs > 0)
        pts.push({ n, p: s.predictedMedianMs, m: s.medianMs, cold: c.state === 'cold' });
    }
  const vs = pts.flatMap((q) => [q.p, q.m]);
  const lo = Math.min(...vs, 1) * 0.8;
  const hi = Math.max(...vs, 10) * 1.25;
  const fr = frame(600, 540, { left: 60, right: 20, top: 28, bottom: 70 });
  const x = log([lo, hi], [fr.left, fr.right]);
  const y = log([lo, hi], [fr.bottom, fr.top]);
  let body = axes(fr, x, y, {
    x: 'predicted median, ms',
    y: 'measured median, ms',
    title: 'Predicted vs measured median latency (dashed: equal; band: ±20%)',
  });
  const band: [number, number][] = [
    [x(lo), y(lo * 1.2)],
    [x(hi / 1.2), y(hi)],
    [x(hi), y(hi)],
    [x(hi), y(hi / 1.2)],
    [x(lo * 1.2), y(lo)],
    [x(lo), y(lo)],
  ];
  body += `<polygon points="${band.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}" class="band" opacity="0.6"/>`;
  body += path(
    [
      [x(lo), y(lo)],
      [x(hi), y(hi)],
    ],
    'diag',
  );
  for (const q of pts) {
    body += q.cold
      ? `<rect x="${x(q.p) - 3}" y="${y(q.m) - 3}" width="6" height="6" class="f-${q.n}"/>`
      : `<circle cx="${x(q.p)}" cy="${y(q.m)}" r="3.5" class="f-${q.n}"/>`;
  }
  body += legend(
    fr.left,
    fr.bottom + 36,
    names.map((n) => ({ cls: `f-${n}`, name: n })),
  );
  body += `<text x="${fr.right}" y="${fr.bottom + 36}" text-anchor="end" class="tick">circle: warm, square: cold</text>`;
  return svg(fr.width, fr.height, body);
}

/** Writes every chart of a run into `dir`; returns the file paths. */
export function writeCharts(dir: string, run: Pick<BenchRun, 'cells' | 'deviceEmulation'>): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, content: string): void => {
    const f = join(dir, name);
    writeFileSync(f, content);
    files.push(f);
  };
  // every device with cells, those emulated in this run first (a resumed run's cells may come from others)
  const devices = [...new Set([...run.deviceEmulation.map((d) => d.device), ...run.cells.map((c) => c.device)])];
  // per device, its main slice (warm, smallest batch) under the plain name, every other slice with its batch and state
  for (const device of devices) {
    viewsOf(run.cells, device).forEach((view, i) => {
      const suffix = i === 0 ? '' : `-b${view.batch}-${view.state}`;
      put(`bench-latency-${device}${suffix}.svg`, latencyChart(run.cells, device, view));
      put(`bench-decisions-${device}${suffix}.svg`, decisionMap(run.cells, device, view));
    });
  }
  if (run.cells.length) put('bench-predicted.svg', predictedChart(run.cells));
  return files;
}
