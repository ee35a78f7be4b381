import { spawn } from 'node:child_process';
import { NetemError, NetemErrorCodes } from '../errors.js';
import type { CpuBudget, CpuBudgetMethod } from '../types/index.js';

/** Options of {@link measureCpuFraction}. */
export interface MeasureCpuOptions {
  /** CPU time of the long loop outside the budget, ms (inside it takes about workMs / fraction). @default 300 */
  workMs?: number;
  /** CPU time of one short job, ms (about one inference of the shipped model on this machine). @default 1.5 */
  jobMs?: number;
  /** Short jobs run back to back after the long loop; their median wall time is compared. @default 30 */
  jobs?: number;
  /** Kill a measurement child that has not answered after this long, ms. @default 120000 */
  timeoutMs?: number;
}

/** What {@link measureCpuFraction} measured. */
export interface CpuFractionMeasurement {
  method: CpuBudgetMethod;
  /** The fraction the budget was asked for. */
  cpuFraction: number;
  /**
   * The fraction of one core the long loop got: the CPU time it needs (measured outside, which other load on the
   * machine does not change) over the wall time it took inside.
   */
  measuredFraction: number;
  /** The same for the median short job: what a `calibrate()` of few-ms heads inside the budget sees. */
  jobFraction: number;
  /** Outside wall ms / inside wall ms of the long loop (other load slows the outside run too). */
  wallRatio: number;
  /** CPU time / wall time of the long loop inside the budget (the share the kernel granted). */
  insideCpuShare: number;
  outsideMs: number;
  insideMs: number;
  outsideJobMedianMs: number;
  insideJobMedianMs: number;
  /** Median CPU time of a short job inside: insideJobMedianMs / insideJobCpuMs is the job's slowdown, whatever the
   * other load on the machine does to the outside run. */
  insideJobCpuMs: number;
  /** Loop size, in blocks of 100,000 multiply-adds, of the long loop and of one short job. */
  blocks: number;
  jobBlocks: number;
}

interface ChildResult {
  blocks: number;
  jobBlocks: number;
  long: { wallMs: number; cpuMs: number };
  jobs: number[];
  jobCpu: number[];
}

// A fixed integer loop. Each child warms up, then runs the long loop and the short jobs and prints one JSON line.
const CHILD = `
const { performance } = require('node:perf_hooks');
let sink = 0;
function block() { let x = sink | 1; for (let i = 0; i < 100000; i++) x = (Math.imul(x, 1103515245) + 12345) | 0; sink ^= x; }
function run(n) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < n; i++) block();
  const wallMs = performance.now() - t0; const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}
process.stdin.once('data', (d) => {
  const cmd = JSON.parse(String(d));
  run(20);
  let blocks = cmd.blocks;
  if (!blocks) {
    for (let n = 20; ; n *= 2) { const r = run(n); if (r.cpuMs >= 40) { blocks = Math.max(1, Math.round(n * cmd.workMs / r.cpuMs)); break; } }
  }
  const long = run(blocks);
  const jobBlocks = cmd.jobBlocks || Math.max(1, Math.round(blocks * cmd.jobMs / long.cpuMs));
  const jobs = [];
  const jobCpu = [];
  for (let i = 0; i < cmd.jobs; i++) { const r = run(jobBlocks); jobs.push(r.wallMs); jobCpu.push(r.cpuMs); }
  process.stdout.write(JSON.stringify({ blocks, jobBlocks, long, jobs, jobCpu, sink }) + '\\n', () => process.exit(0));
});
process.stdout.write('ready\\n');
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function runChild(cmd: Record<string, number>, timeoutMs: number, budget?: CpuBudget): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let settled = false;
    const fail = (message: string, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new NetemError(NetemErrorCodes.MEASURE_FAILED, message, { stderr: err.slice(-2000) }, { cause }));
    };
    const timer = setTimeout(() => fail(`CPU measurement child did not finish within ${timeoutMs} ms`), timeoutMs);
    child.on('error', (e) => fail(`cannot start the CPU measurement child: ${e.message}`, e));
    child.stderr.on('data', (d: Buffer) => {
      err += String(d);
    });
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      if (out === 'ready\n') {
        out = '';
        try {
          if (budget) budget.addProcess(child.pid!);
        } catch (e) {
          fail(`cannot add the measurement child to the budget: ${(e as Error).message}`, e);
          return;
        }
        child.stdin.end(JSON.stringify(cmd));
      }
    });
    child.on('exit', (code, signal) => {
      if (settled) return;
      clearTimeout(timer);
      try {
        const r = JSON.parse(out) as ChildResult;
        settled = true;
        resolve(r);
      } catch (e) {
        fail(`CPU measurement child exited (${signal ?? code}) without a result`, e);
      }
    });
  });
}

/**
 * Measures the fraction of one core a budget delivers: the same fixed integer loop runs in a child outside the
 * budget and in a child inside it (added before it starts); the CPU time the work needs (outside) over the wall time
 * it took inside is reported, for one long loop and for the median of short jobs of about one inference each. Takes about workMs x (1 + 1/fraction).
 *
 * @example
 * const budget = await createCpuBudget({ cpuFraction: 0.25 })
 * const m = await measureCpuFraction(budget) // m.measuredFraction ≈ 0.25 when m.method is a cgroup
 * await budget.close()
 */
export async function measureCpuFraction(
  budget: CpuBudget,
  opts: MeasureCpuOptions = {},
): Promise<CpuFractionMeasurement> {
  const workMs = opts.workMs ?? 300;
  const jobMs = opts.jobMs ?? 1.5;
  const jobs = opts.jobs ?? 30;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  for (const [k, v, min] of [
    ['workMs', workMs, 10],
    ['jobMs', jobMs, 0.1],
    ['jobs', jobs, 1],
    ['timeoutMs', timeoutMs, 100],
  ] as const) {
    if (!Number.isFinite(v) || v < min) {
      throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `${k} must be a number >= ${min}, got ${v}`, {
        field: k,
        value: v,
      });
    }
  }
  const outside = await runChild({ blocks: 0, jobBlocks: 0, workMs, jobMs, jobs: Math.round(jobs) }, timeoutMs);
  const inside = await runChild(
    { blocks: outside.blocks, jobBlocks: outside.jobBlocks, workMs, jobMs, jobs: Math.round(jobs) },
    timeoutMs,
    budget,
  );
  const outsideJobMedianMs = median(outside.jobs);
  const insideJobMedianMs = median(inside.jobs);
  return {
    method: budget.method,
    cpuFraction: budget.cpuFraction,
    measuredFraction: outside.long.cpuMs / inside.long.wallMs,
    jobFraction: median(outside.jobCpu) / insideJobMedianMs,
    wallRatio: outside.long.wallMs / inside.long.wallMs,
    insideCpuShare: inside.long.cpuMs / inside.long.wallMs,
    outsideMs: outside.long.wallMs,
    insideMs: inside.long.wallMs,
    outsideJobMedianMs,
    insideJobMedianMs,
    insideJobCpuMs: median(inside.jobCpu),
    blocks: outside.blocks,
    jobBlocks: outside.jobBlocks,
  };
}
