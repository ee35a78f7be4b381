/**
 * The demo's HTML report: one self-contained file (inline SVG and CSS, no script, no network) with the
 * summary, the per-request latency broken down over time next to the network conditions, the client's
 * estimates against the emulated link, the decisions over time, and predicted against measured latency.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { quantile } from '../stats.js';
import type { DemoRun } from './runDemo.js';
import { decisionLabel, type RequestRecord } from './summary.js';
import { axes, esc, fmt, frame, legend, linear, log, path } from './svg.js';

const W = 960;

type Done = RequestRecord & { result: NonNullable<RequestRecord['result']> };

function done(records: readonly RequestRecord[]): Done[] {
  return records.filter((r): r is Done => r.result !== undefined);
}

function phaseMarks(run: DemoRun, x: (i: number) => number, top: number, bottom: number): string {
  if (run.network.kind !== 'phases') return '';
  const { phases, starts } = run.network;
  return phases
    .map((p, k) => {
      const i = starts[k] ?? 0;
      const px = x(i);
      return `<line x1="${px}" x2="${px}" y1="${top}" y2="${bottom}" class="phase"/><text x="${px + 4}" y="${top + 10}" class="phaselabel">${esc(p.label)}</text>`;
    })
    .join('');
}

/** Latency per request, stacked by where the time went, with cold starts and fallbacks marked. */
export function latencyChart(run: DemoRun): string {
  const rs = done(run.records);
  const fr = frame(W, 340, { left: 60, right: 60, top: 46, bottom: 40 });
  const n = run.records.length;
  const totals = rs.map((r) => r.result.timings.totalMs);
  const cap = Math.max(1, quantile(totals, 0.98) * 1.3);
  const x = linear([0, Math.max(1, n)], [fr.left, fr.right]);
  const y = linear([0, cap], [fr.bottom, fr.top]);
  const bw = Math.max(1, (fr.right - fr.left) / Math.max(1, n) - 0.5);
  const bars: string[] = [];
  for (const r of rs) {
    const t = r.result.timings;
    const network = Math.max(0, t.totalMs - t.edgeMs - t.encodeMs - t.cloudMs);
    let base = 0;
    for (const [v, cls] of [
      [t.edgeMs, 'edge'],
      [t.encodeMs, 'encode'],
      [network, 'net'],
      [t.cloudMs, 'cloud'],
    ] as const) {
      const lo = Math.min(cap, base);
      const hi = Math.min(cap, base + v);
      if (hi > lo)
        bars.push(
          `<rect x="${x(r.index).toFixed(1)}" y="${y(hi).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(lo) - y(hi)).toFixed(1)}" class="${cls}"/>`,
        );
      base += v;
    }
    const top = y(Math.min(cap, t.totalMs));
    if (t.totalMs > cap) bars.push(`<text x="${x(r.index)}" y="${fr.top - 2}" class="clip">${fmt(t.totalMs)}</text>`);
    if (r.result.coldStart)
      bars.push(`<path d="M${x(r.index) + bw / 2},${top - 9}l-4,7h8z" class="cold"><title>cold start</title></path>`);
    if (r.result.fallback)
      bars.push(
        `<text x="${x(r.index)}" y="${top - 2}" class="fallback">x<title>${esc(r.result.fallback.reason)}</title></text>`,
      );
  }
  const predicted = path(
    rs.map((r) => [x(r.index) + bw / 2, y(Math.min(cap, r.result.predicted.totalMs))]),
    'predicted',
  );
  return svg(
    fr,
    axes(fr, x, y, { x: 'request', y: 'latency (ms)', title: 'Latency per request: where the time went' }) +
      phaseMarks(run, x, fr.top, fr.bottom) +
      bars.join('') +
      predicted +
      legend(fr.left, 34, [
        { cls: 'edge', name: 'device inference' },
        { cls: 'encode', name: 'encode' },
        { cls: 'net', name: 'network + queueing' },
        { cls: 'cloud', name: 'cloud (serverMs)' },
        { cls: 'predictedkey', name: 'predicted' },
        { cls: 'cold', name: 'cold start' },
      ]),
  );
}

/** The emulated link against the client's estimates of it. */
export function linkChart(run: DemoRun): string {
  const rs = run.records;
  const fr = frame(W, 260, { left: 60, right: 60, top: 46, bottom: 40 });
  const n = rs.length;
  const x = linear([0, Math.max(1, n)], [fr.left, fr.right]);
  // estimates beyond 1000x the emulated link's fastest rate are drawn at the edge of the plot
  const links = rs.map((r) => r.link.uplinkMbps).filter((v) => v > 0 && Number.isFinite(v));
  const top = Math.max(...links, 1) * 20;
  const clampUp = (v: number): number => Math.min(top, Math.max(top / 1e5, v));
  const ups = rs
    .flatMap((r) => [r.link.uplinkMbps, clampUp(r.estimates.uplinkMbps)])
    .filter((v) => v > 0 && Number.isFinite(v));
  const up = log([Math.min(...ups, 1) * 0.8, Math.max(...ups, 1) * 1.25], [fr.bottom, fr.top]);
  const rtts = rs.flatMap((r) => [r.link.rttMs, r.estimates.rttMs]).filter(Number.isFinite);
  const rtt = linear([0, Math.max(...rtts, 10) * 1.1], [fr.bottom, fr.top]);
  return svg(
    fr,
    axes(
      fr,
      x,
      up,
      {
        x: 'request',
        y: 'uplink (Mbit/s, log)',
        title: 'Network: emulated link (solid) and the client\u2019s estimate (dashed)',
      },
      { scale: rtt, label: 'RTT (ms)' },
    ) +
      phaseMarks(run, x, fr.top, fr.bottom) +
      path(
        rs.map((r) => [x(r.index), up(r.link.uplinkMbps)]),
        'uplink',
        true,
      ) +
      path(
        rs.map((r) => [x(r.index), up(clampUp(r.estimates.uplinkMbps))]),
        'uplink est',
      ) +
      path(
        rs.map((r) => [x(r.index), rtt(r.link.rttMs)]),
        'rtt',
        true,
      ) +
      path(
        rs.map((r) => [x(r.index), rtt(r.estimates.rttMs)]),
        'rtt est',
      ) +
      legend(fr.left, 34, [
        { cls: 'uplinkkey', name: 'uplink' },
        { cls: 'rttkey', name: 'RTT' },
      ]),
  );
}

/** What the planner chose for each request. */
export function decisionChart(run: DemoRun): string {
  const rs = done(run.records);
  const labels = [...new Set(rs.map((r) => decisionLabel(r.result.decision)))].sort();
  const rowH = 22;
  const fr = frame(W, 70 + rowH * Math.max(1, labels.length), { left: 190, right: 20, top: 28, bottom: 40 });
  const n = run.records.length;
  const x = linear([0, Math.max(1, n)], [fr.left, fr.right]);
  const yOf = (l: string): number => fr.top + rowH * (labels.indexOf(l) + 0.5);
  const parts: string[] = [`<text x="${fr.left}" y="16" class="title">Decisions over time</text>`];
  labels.forEach((l) => {
    parts.push(`<line x1="${fr.left}" x2="${fr.right}" y1="${yOf(l)}" y2="${yOf(l)}" class="grid"/>`);
    parts.push(`<text x="${fr.left - 6}" y="${yOf(l) + 4}" text-anchor="end" class="tick">${esc(l)}</text>`);
  });
  for (const t of x.ticks(8))
    parts.push(`<text x="${x(t)}" y="${fr.bottom + 16}" text-anchor="middle" class="tick">${fmt(t)}</text>`);
  parts.push(`<line x1="${fr.left}" x2="${fr.right}" y1="${fr.bottom}" y2="${fr.bottom}" class="axis"/>`);
  parts.push(
    `<text x="${(fr.left + fr.right) / 2}" y="${fr.height - 6}" text-anchor="middle" class="label">request</text>`,
  );
  parts.push(phaseMarks(run, x, fr.top, fr.bottom));
  for (const r of rs) {
    const cls = r.result.fallback ? 'dot fb' : `dot ${r.result.decision.kind}`;
    parts.push(
      `<circle cx="${x(r.index).toFixed(1)}" cy="${yOf(decisionLabel(r.result.decision))}" r="3" class="${cls}"/>`,
    );
  }
  return svg(fr, parts.join(''));
}

/** Predicted against measured latency, log-log, with the diagonal. */
export function predictedChart(run: DemoRun): string {
  const rs = done(run.records).filter((r) => r.result.timings.totalMs > 0 && r.result.predicted.totalMs > 0);
  const fr = frame(480, 400);
  const all = rs.flatMap((r) => [r.result.timings.totalMs, r.result.predicted.totalMs]);
  const lo = Math.max(0.1, Math.min(...all, 1) * 0.8);
  const hi = Math.max(...all, 10) * 1.25;
  const x = log([lo, hi], [fr.left, fr.right]);
  const y = log([lo, hi], [fr.bottom, fr.top]);
  const dots = rs.map(
    (r) =>
      `<circle cx="${x(r.result.predicted.totalMs).toFixed(1)}" cy="${y(r.result.timings.totalMs).toFixed(1)}" r="2.5" class="dot ${r.result.decision.kind}"/>`,
  );
  return svg(
    fr,
    axes(fr, x, y, { x: 'predicted (ms, log)', y: 'measured (ms, log)', title: 'Predicted vs measured latency' }) +
      `<line x1="${x(lo)}" y1="${y(lo)}" x2="${x(hi)}" y2="${y(hi)}" class="diag"/>` +
      dots.join('') +
      legend(fr.left + 10, fr.top + 14, [
        { cls: 'dot edge-only', name: 'edge-only' },
        { cls: 'dot split', name: 'split' },
        { cls: 'dot cloud-only', name: 'cloud-only' },
      ]),
  );
}

function svg(fr: { width: number; height: number }, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${fr.width} ${fr.height}" width="${fr.width}" height="${fr.height}" role="img">${body}</svg>`;
}

function table(rows: [string, string | number][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('')}</table>`;
}

const CSS = `body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f5f5f5;font-weight:600}
svg{display:block;margin:8px 0;background:#fff}.title{font-weight:600;font-size:13px}.tick{font-size:11px;fill:#444}
.label{font-size:12px;fill:#222}.grid{stroke:#eee}.axis{stroke:#888}.phase{stroke:#999;stroke-dasharray:4 3}
.phaselabel{font-size:11px;fill:#666}.edge{fill:#4e79a7}.encode{fill:#b07aa1}.net{fill:#f28e2b}.cloud{fill:#59a14f}
.predicted{fill:none;stroke:#222;stroke-width:1;opacity:.6}.predictedkey{fill:#222}.cold{fill:#e15759}
.fallback{font-size:11px;fill:#000;font-weight:700}.clip{font-size:9px;fill:#e15759}
.uplink{fill:none;stroke:#4e79a7;stroke-width:2}.rtt{fill:none;stroke:#e15759;stroke-width:2}.est{stroke-dasharray:5 3;stroke-width:1.5}
.uplinkkey{fill:#4e79a7}.rttkey{fill:#e15759}.diag{stroke:#999;stroke-dasharray:4 3}
.dot{stroke:none}.edge-only{fill:#4e79a7}.split{fill:#f28e2b}.cloud-only{fill:#59a14f}.fb{fill:#000}`;

/** The report as one HTML string. */
export function renderReport(run: DemoRun): string {
  const s = run.summary;
  const cold = run.cloud.invocationLog.filter((l) => l.cold);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>jmdc demo report</title><style>${CSS}</style></head><body>
<h1>jmdc demo: split inference on the local cloud</h1>
<p>${s.images} Fashion-MNIST test images classified one at a time by a device emulated as <b>${esc(run.device.preset)}</b>
(${run.device.cpuFraction} of one core of this machine, ${esc(run.device.method)}; whole network ${run.device.wholeNetworkMs?.toFixed(1) ?? '?'} ms as calibrated on it),
through a shaping proxy, against Lambda functions running in the local cloud.</p>
<h2>Summary</h2>
${table([
  ['images / classified / lost / errors', `${s.images} / ${s.classified} / ${s.lost} / ${s.errors}`],
  ['accuracy', `${(100 * s.accuracy).toFixed(2)}%`],
  ['latency median / p95', `${s.medianMs} / ${s.p95Ms} ms`],
  ['predicted median; median |predicted - measured|', `${s.predictedMedianMs} ms; ${s.predictionErrorPctMedian}%`],
  ['bytes sent per image (mean) / in all', `${s.meanBytes} / ${s.totalBytes} B`],
  ['cold starts seen by requests / in the local cloud', `${s.coldStarts} / ${run.cloud.coldStarts}`],
  ['local cloud invocations (requests, warm-ups, retries)', run.cloud.invocations],
  [
    'fallbacks',
    `${s.fallbacks} ${Object.entries(s.fallbacksByReason)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`,
  ],
  ['decision changes', s.decisionChanges],
])}
<h2>Latency</h2>${latencyChart(run)}
<h2>Network</h2>${linkChart(run)}
<h2>Decisions</h2>${decisionChart(run)}
<table><tr><th>decision</th><th>requests</th></tr>${Object.entries(s.decisions)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`)
    .join('')}</table>
<h2>Phases</h2><table><tr><th>phase</th><th>requests</th><th>median ms</th><th>predicted median ms</th><th>decisions</th></tr>${s.phases
    .map(
      (p) =>
        `<tr><td>${esc(p.phase)}</td><td>${p.requests}</td><td>${p.medianMs}</td><td>${p.predictedMedianMs}</td><td>${esc(
          Object.entries(p.decisions)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', '),
        )}</td></tr>`,
    )
    .join('')}</table>
<h2>Predicted vs measured</h2>${predictedChart(run)}
<h2>Cold starts in the local cloud</h2><table><tr><th>at (s)</th><th>function</th><th>init ms</th><th>duration ms</th><th>status</th></tr>${cold
    .map(
      (l) =>
        `<tr><td>${(l.atMs / 1000).toFixed(1)}</td><td>${esc(l.functionName)}</td><td>${l.initMs?.toFixed(0) ?? ''}</td><td>${l.durationMs.toFixed(0)}</td><td>${l.status}</td></tr>`,
    )
    .join('')}</table>
</body></html>
`;
}

/** Writes the report to `file` and, beside it, every request as recorded (records.json) for analysis beyond it. */
export function writeReport(file: string, run: DemoRun): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderReport(run));
  writeFileSync(join(dirname(file), 'records.json'), `${JSON.stringify(run.records)}\n`);
}
