import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';

/** SCHED_FIFO priority of the pacer when it can have one. */
const RT_PRIORITY = 20;

/**
 * The pacer: a small Node process, outside the budget, that slows the processes of a cgroup with SIGSTOP / SIGCONT.
 * With a CPU usage counter for the cgroup (v1 `cpuacct.usage`, v2 `cpu.stat`), it keeps a credit of CPU time that
 * accrues at `fraction` of wall time, capped at one cycle's share, and stops the processes while the credit is used
 * up, checking every quarter `cycleMs`: every millisecond of work is slowed to `fraction`, an idle process is never
 * stopped, and other load on the machine does not cut the share further. Without a counter it runs a fixed duty
 * cycle (run `fraction x cycleMs` of every `cycleMs`). Its timing runs in a worker thread on `Atomics.wait`, whose
 * timeouts have sub-millisecond precision (setTimeout has 1 ms), on an absolute schedule so that late wake-ups do not
 * add up. Every process is continued when the pacer stops (stdin closed, SIGTERM, or its parent gone).
 *
 * Why not the CFS quota alone: the kernel enforces `cpu.cfs_quota_us` at scheduler ticks (4 ms at HZ=250), so a
 * process runs a few ms at full speed and is then throttled; a 1.5 ms inference between network waits is not slowed
 * at all. A duty cycle slows every millisecond of work evenly, which is what a slower core does.
 */
const WORKER = `
const { workerData } = require('node:worker_threads');
const { openSync, readFileSync, readSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const { shared, procsFile, usageFile, usageKind, fraction, cycleMs } = workerData;
let pids = [];
const refresh = () => {
  try { pids = readFileSync(procsFile, 'utf8').split('\\n').filter(Boolean).map(Number); } catch { pids = []; }
};
const signal = (sig) => { for (const p of pids) { try { process.kill(p, sig); } catch {} } };
const stopped = () => Atomics.load(shared, 0) !== 0;
const sleepUntil = (t) => {
  for (;;) {
    const left = t - performance.now();
    if (left <= 0 || stopped()) return;
    Atomics.wait(shared, 0, 0, left);
  }
};
// one descriptor, re-read from offset 0 (cgroup files regenerate on each read): one syscall per check
const usageFd = usageFile ? openSync(usageFile, 'r') : -1;
const usageBuf = Buffer.alloc(4096);
const usageText = () => usageBuf.toString('latin1', 0, readSync(usageFd, usageBuf, 0, usageBuf.length, 0));
const usageMs = usageKind === 'ns'
  ? () => Number(usageText()) / 1e6
  : () => Number(/usage_usec (\\d+)/.exec(usageText())[1]) / 1000;
refresh();
const t0 = performance.now();
if (usageFile) {
  // credit: CPU time accrues at fraction x wall time, capped at one cycle's share; the processes run while it is
  // positive and are stopped while it is not, checked every quarter cycle against the cgroup's CPU usage counter
  const tick = cycleMs / 4;
  const cap = fraction * cycleMs;
  let credit = cap;
  let last = t0;
  let lastUsage = usageMs();
  let running = true;
  signal('SIGCONT');
  for (let k = 1; !stopped(); k++) {
    sleepUntil(t0 + k * tick);
    if (stopped()) break;
    if (k % 20 === 0) {
      refresh();
      if (!running) signal('SIGSTOP');
    }
    const now = performance.now();
    const u = usageMs();
    credit = Math.min(cap, credit + fraction * (now - last)) - (u - lastUsage);
    last = now;
    lastUsage = u;
    if (credit <= 0 && running) { signal('SIGSTOP'); running = false; }
    else if (credit > 0 && !running) { signal('SIGCONT'); running = true; }
  }
} else {
  // no usage counter: a fixed duty cycle, run fraction x cycleMs of every cycleMs
  const runMs = fraction * cycleMs;
  for (let k = 0; !stopped(); k++) {
    if (k % 5 === 0) refresh();
    signal('SIGCONT');
    sleepUntil(t0 + k * cycleMs + runMs);
    if (stopped()) break;
    signal('SIGSTOP');
    sleepUntil(t0 + (k + 1) * cycleMs);
  }
}
refresh();
signal('SIGCONT');
`;

const PACER = String.raw`
const { Worker } = require('node:worker_threads');
const [procsFile, usageFile, usageKind, fraction, cycleMs, parentPid] = process.argv.slice(1);
const shared = new Int32Array(new SharedArrayBuffer(8));
const worker = new Worker(${JSON.stringify(WORKER)}, {
  eval: true,
  workerData: { shared, procsFile, usageFile, usageKind, fraction: Number(fraction), cycleMs: Number(cycleMs) },
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  Atomics.store(shared, 0, 1);
  Atomics.notify(shared, 0);
};
worker.on('exit', () => process.exit(0));
worker.on('error', (e) => { console.error(String(e)); process.exit(1); });
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('data', () => {});
process.stdin.on('end', stop);
process.stdin.on('error', stop);
setInterval(() => { try { process.kill(Number(parentPid), 0); } catch { stop(); } }, 250).unref();
process.stdout.write('ready\n');
`;

/** A running pacer. */
export interface Pacer {
  pid: number;
  /** Whether it runs at real-time priority (SCHED_FIFO). */
  realtime: boolean;
  /** Stops the duty cycle and continues every process of the cgroup. */
  stop(): Promise<void>;
}

/**
 * Starts a pacer over the processes listed in `procsFile` (a cgroup's `cgroup.procs`), with the cgroup's CPU usage
 * counter when there is one.
 *
 * @example
 * const pacer = await startPacer('/sys/fs/cgroup/cpu/jmdc-pi4-1-0/cgroup.procs', 0.15, 2)
 * await pacer.stop()
 */
export async function startPacer(
  procsFile: string,
  fraction: number,
  cycleMs: number,
  usage?: { file: string; kind: 'ns' | 'v2' },
): Promise<Pacer> {
  const args = [
    '-e',
    PACER,
    procsFile,
    usage?.file ?? '',
    usage?.kind ?? '',
    String(fraction),
    String(cycleMs),
    String(process.pid),
  ];
  // real-time priority (root) so that the pacer's stop and continue land on time on a busy machine; it sleeps almost
  // all the time, so it cannot starve anything. Where real-time scheduling is refused (a container without
  // CAP_SYS_NICE or real-time runtime), chrt fails and the pacer runs at normal priority.
  const rt = process.getuid?.() === 0 && existsSync('/usr/bin/chrt');
  let child: ChildProcess | undefined;
  let realtime = false;
  for (const tryRt of rt ? [true, false] : [false]) {
    const c = tryRt
      ? spawn('/usr/bin/chrt', ['-f', String(RT_PRIORITY), process.execPath, ...args], {
          stdio: ['pipe', 'pipe', 'ignore'],
        })
      : spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const started = await Promise.race([
      once(c.stdout!, 'data').then(([line]) => String(line).trim() === 'ready'),
      once(c, 'exit').then(() => false),
      once(c, 'error').then(() => false),
    ]);
    if (started) {
      child = c;
      realtime = tryRt;
      break;
    }
    c.kill('SIGKILL');
  }
  if (!child) throw new Error('the pacer exited before it started');
  const exited = once(child, 'exit');
  let stopped: Promise<void> | undefined;
  const proc = child;
  return {
    pid: child.pid!,
    realtime,
    stop(): Promise<void> {
      stopped ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.stdin!.end();
          const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
          await exited;
          clearTimeout(t);
        }
      })();
      return stopped;
    },
  };
}
