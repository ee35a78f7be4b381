/** The demo's figures, computed from the per-request records. */
import { quantile, round } from '../stats.js';
import type { EdgeResult } from './protocol.js';

/** One classified image, as the demo records it. */
export interface RequestRecord extends EdgeResult {
  /** True classes of the request's images. */
  labels: number[];
  /** Label of the scenario phase (or trace step) in force when the request was sent. */
  phase: string;
  /** Conditions the shaping proxy applied when the request was sent. */
  link: { uplinkMbps: number; downlinkMbps: number; rttMs: number };
  /** ms since the first request, on the demo's clock. */
  atMs: number;
}

/**
 * A decision as one short label: `edge-only r000`, `cloud-only`, `split p2 r050 k0.25 b4`, and
 * `split p2 r000 k0.5 b1 bn` through a learned bottleneck.
 */
export function decisionLabel(d: NonNullable<EdgeResult['result']>['decision']): string {
  const variant = `r${String(Math.round(d.variant * 100)).padStart(3, '0')}`;
  if (d.kind === 'edge-only') return `edge-only ${variant}`;
  if (d.kind === 'cloud-only') return 'cloud-only';
  return `split p${d.point} ${variant} k${d.keep} b${d.bits}${d.bottleneck ? ' bn' : ''}`;
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

/** Per-phase figures. */
export interface PhaseSummary {
  phase: string;
  requests: number;
  medianMs: number;
  predictedMedianMs: number;
  decisions: Record<string, number>;
}

/** What the demo prints (and `--json` emits as its last line). */
export interface DemoSummary {
  images: number;
  /** Images per request. */
  batch: number;
  requests: number;
  /** Images that got a class. */
  classified: number;
  /** Images that got neither a class nor a typed error. */
  lost: number;
  /** Images whose request ended with a typed error (no classes). */
  errors: number;
  /** Over the classified images. */
  accuracy: number;
  /** Latency of a request (one batch), ms. */
  medianMs: number;
  p95Ms: number;
  predictedMedianMs: number;
  /** Median of |predicted - measured| / measured over the requests, %. */
  predictionErrorPctMedian: number;
  /** Bytes sent per image (mean). */
  meanBytes: number;
  totalBytes: number;
  /** Requests whose function answered from a cold start. */
  coldStarts: number;
  fallbacks: number;
  fallbacksByReason: Record<string, number>;
  decisions: Record<string, number>;
  decisionsByKind: Record<string, number>;
  /** Times the decision differed from the previous request's. */
  decisionChanges: number;
  phases: PhaseSummary[];
}

/** Summarizes the records of a run of `images` images in batches of `batch`. */
export function summarize(images: number, batch: number, records: readonly RequestRecord[]): DemoSummary {
  const ok = records.filter((r) => r.result !== undefined);
  const res = ok.map((r) => r.result as NonNullable<EdgeResult['result']>);
  const total = res.map((r) => r.timings.totalMs);
  const classified = ok.reduce((n, r) => n + r.count, 0);
  const answered = records.reduce((n, r) => n + r.count, 0);
  let correct = 0;
  for (const r of ok)
    r.labels.forEach((l, i) => {
      if (r.result?.classes[i] === l) correct++;
    });
  const totalBytes = res.reduce((n, r) => n + r.bytesSent, 0);
  const errPct = res
    .filter((r) => r.timings.totalMs > 0)
    .map((r) => (100 * Math.abs(r.predicted.totalMs - r.timings.totalMs)) / r.timings.totalMs);
  const labels = res.map((r) => decisionLabel(r.decision));
  let changes = 0;
  for (let i = 1; i < labels.length; i++) if (labels[i] !== labels[i - 1]) changes++;
  const fallbacks = res.filter((r) => r.fallback !== false);
  const phaseNames = [...new Set(records.map((r) => r.phase))];
  return {
    images,
    batch,
    requests: records.length,
    classified,
    lost: images - answered,
    errors: answered - classified,
    accuracy: round(classified ? correct / classified : Number.NaN, 4),
    medianMs: round(quantile(total, 0.5)),
    p95Ms: round(quantile(total, 0.95)),
    predictedMedianMs: round(
      quantile(
        res.map((r) => r.predicted.totalMs),
        0.5,
      ),
    ),
    predictionErrorPctMedian: round(quantile(errPct, 0.5), 1),
    meanBytes: round(classified ? totalBytes / classified : 0, 1),
    totalBytes,
    coldStarts: res.filter((r) => r.coldStart).length,
    fallbacks: fallbacks.length,
    fallbacksByReason: countBy(fallbacks, (r) => (r.fallback ? r.fallback.reason : 'none')),
    decisions: countBy(labels, (l) => l),
    decisionsByKind: countBy(res, (r) => r.decision.kind),
    decisionChanges: changes,
    phases: phaseNames.map((phase) => {
      const rs = ok.filter((r) => r.phase === phase).map((r) => r.result as NonNullable<EdgeResult['result']>);
      return {
        phase,
        requests: rs.length,
        medianMs: round(
          quantile(
            rs.map((r) => r.timings.totalMs),
            0.5,
          ),
        ),
        predictedMedianMs: round(
          quantile(
            rs.map((r) => r.predicted.totalMs),
            0.5,
          ),
        ),
        decisions: countBy(rs, (r) => decisionLabel(r.decision)),
      };
    }),
  };
}
