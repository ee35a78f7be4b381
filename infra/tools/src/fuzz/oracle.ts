/**
 * What counts as a correct answer to a fuzz case, and the counters of a run. Shared by the in-process run
 * and the run through the local cloud.
 */
import type { FuzzCase } from './generators.js';

/** A case taking longer than this is a hang. */
export const HANG_MS = 1000;

const CODE = /^JMDC_ERR_[A-Z0-9_]+$/;
/** A stack frame or a source path in a response body. */
const STACK = /\bat [^\n]*\.(ts|js|mjs|cjs):\d+|node:internal|\/var\/task\//;

/** How one case was answered. */
export interface Outcome {
  /** HTTP-like status; undefined when the call threw or never answered. */
  status?: number;
  /** The parsed JSON body. */
  body?: unknown;
  /** What the call threw (in-process: the handler must never throw). */
  threw?: unknown;
  /** Whether the call was cut off by the runner's timeout. */
  timedOut?: boolean;
  /** Wall-clock milliseconds of the call. */
  ms: number;
  /**
   * CPU milliseconds the serving process spent on the call, when the runner can tell. On a shared machine
   * the wall clock also counts time given to other processes, so a hang is judged on CPU time (and on
   * the runner's timeout for a call that never settles).
   */
  cpuMs?: number;
}

/** Counters of one family (or of the whole run). */
export interface FamilyStats {
  cases: number;
  accepted: number;
  rejected: number;
}

/** The counters of a run; `cases` .. `rssGrowthPct` are the summary line of `npm run fuzz`. */
export interface FuzzStats {
  cases: number;
  crashes: number;
  hangs: number;
  status5xx: number;
  /** Cases whose wall-clock time exceeded {@link HANG_MS} without being hangs (CPU time below it). */
  slowWall: number;
  maxCaseCpuMs: number;
  /** Answers of the wrong kind: a valid payload refused, an invalid one answered 200, a 4xx without a code or with a stack. */
  wrongAnswers: number;
  /** The decoder fuzzed directly with the case's payload: throws that are not typed CodecErrors. */
  decoderCrashes: number;
  maxCaseMs: number;
  byFamily: Record<string, FamilyStats>;
  /** Count of each error code answered. */
  codes: Record<string, number>;
  /** The first failures, for a report. */
  failures: Array<{ family: string; reason: string; detail: string }>;
}

export function newStats(): FuzzStats {
  return {
    cases: 0,
    crashes: 0,
    hangs: 0,
    status5xx: 0,
    wrongAnswers: 0,
    decoderCrashes: 0,
    slowWall: 0,
    maxCaseMs: 0,
    maxCaseCpuMs: 0,
    byFamily: {},
    codes: {},
    failures: [],
  };
}

/** Adds the warm-up's failures to `stats`: a failure during the warm-up is a failure all the same. */
export function addWarmUpFailures(stats: FuzzStats, warm: FuzzStats): void {
  for (const k of ['crashes', 'hangs', 'status5xx', 'wrongAnswers', 'decoderCrashes'] as const) stats[k] += warm[k];
  stats.failures.push(...warm.failures.slice(0, Math.max(0, 20 - stats.failures.length)));
}

function fail(stats: FuzzStats, c: FuzzCase, reason: string, detail: unknown): string {
  if (stats.failures.length < 20) {
    const text =
      typeof detail === 'string' ? detail : JSON.stringify(detail, (_, v) => (typeof v === 'bigint' ? `${v}` : v));
    stats.failures.push({ family: c.family, reason, detail: (text ?? String(detail)).slice(0, 400) });
  }
  return reason;
}

/** A 200 body: one row of finite logits per item and an integer class per row. */
function validSuccess(body: unknown): boolean {
  const b = body as { logits?: unknown; classes?: unknown };
  if (!Array.isArray(b?.logits) || !Array.isArray(b.classes) || b.logits.length !== b.classes.length) return false;
  if (b.logits.length === 0) return false;
  return b.logits.every((row) => Array.isArray(row) && row.length > 1 && row.every((z) => Number.isFinite(z)));
}

/**
 * Judges one outcome and counts it. Returns the failure reason, or undefined when the answer is right:
 * a 4xx with a `JMDC_ERR_` code and no stack for what is invalid, a 200 with finite logits for what is
 * valid, either for a mutation that may have left a valid payload; never a 5xx, a throw, or a hang.
 */
export function judge(stats: FuzzStats, c: FuzzCase, o: Outcome): string | undefined {
  stats.cases++;
  stats.maxCaseMs = Math.max(stats.maxCaseMs, o.ms);
  const fam = stats.byFamily[c.family] ?? { cases: 0, accepted: 0, rejected: 0 };
  stats.byFamily[c.family] = fam;
  fam.cases++;
  if (o.cpuMs !== undefined) stats.maxCaseCpuMs = Math.max(stats.maxCaseCpuMs, o.cpuMs);
  if (o.timedOut || (o.cpuMs ?? o.ms) > HANG_MS) {
    stats.hangs++;
    return fail(stats, c, 'hang', o.timedOut ? `no answer after ${o.ms} ms` : `${o.cpuMs ?? o.ms} ms of CPU`);
  }
  if (o.ms > HANG_MS) stats.slowWall++;
  if (o.threw !== undefined || o.status === undefined) {
    stats.crashes++;
    return fail(stats, c, 'crash', o.threw instanceof Error ? o.threw.stack : o.threw);
  }
  if (o.status >= 500) {
    stats.status5xx++;
    return fail(stats, c, `status ${o.status}`, o.body);
  }
  if (o.status === 200) {
    fam.accepted++;
    if (!validSuccess(o.body)) {
      stats.wrongAnswers++;
      return fail(stats, c, '200 without finite logits', o.body);
    }
    if (c.expect === 'reject') {
      stats.wrongAnswers++;
      return fail(stats, c, 'invalid input answered 200', o.body);
    }
    return undefined;
  }
  fam.rejected++;
  const err = (o.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  if (code !== undefined) stats.codes[code] = (stats.codes[code] ?? 0) + 1;
  if (o.status < 400 || code === undefined || !CODE.test(code) || typeof err?.message !== 'string') {
    stats.wrongAnswers++;
    return fail(stats, c, `status ${o.status} without a typed error`, o.body);
  }
  if (STACK.test(JSON.stringify(o.body))) {
    stats.wrongAnswers++;
    return fail(stats, c, 'stack or path in the body', o.body);
  }
  if (c.expect === 'ok') {
    stats.wrongAnswers++;
    return fail(stats, c, 'valid input refused', o.body);
  }
  return undefined;
}

/** Growth of `after` over `before`, in percent with one decimal. */
export function growthPct(before: number, after: number): number {
  return before > 0 ? Math.round(((after - before) / before) * 1000) / 10 : 0;
}
