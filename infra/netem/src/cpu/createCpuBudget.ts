import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetemError, NetemErrorCodes } from '../errors.js';
import type { CpuBudget, CpuBudgetMethod, CpuBudgetOptions, CpuPacing } from '../types/index.js';
import { type Pacer, startPacer } from './pacer.js';

/** The kernel's smallest CFS quota and period, microseconds. */
const MIN_QUOTA_US = 1000;
const MAX_PERIOD_US = 1_000_000;
const NAME_RE = /^[A-Za-z0-9_-]{1,40}$/;
/** Our cgroups are named `jmdc-<name>-<creator pid>-<n>`; a stale one (creator gone, empty) is removed. */
const OWN_RE = /^jmdc-[A-Za-z0-9_-]+-(\d+)-\d+$/;

/** statfs magic numbers of cgroupfs (v1) and cgroup2fs. */
const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

let counter = 0;

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code} (${e.message})` : String(err);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Removes cgroups this module created in `parent` whose creator has exited and which hold no process. */
function removeStale(parent: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = OWN_RE.exec(e);
    if (!m || alive(Number(m[1]))) continue;
    const dir = join(parent, e);
    if (readPids(join(dir, 'cgroup.procs')).length > 0) continue;
    try {
      rmdirSync(dir);
    } catch {
      // another process may be removing it, or it is still in use: leave it
    }
  }
}

/** The period whose quota is the kernel's minimum, so throttling is as fine-grained as it can be. */
function choosePeriod(fraction: number, periodUs: number | undefined): { periodUs: number; quotaUs: number } {
  if (periodUs !== undefined) {
    if (!Number.isInteger(periodUs) || periodUs < MIN_QUOTA_US || periodUs > MAX_PERIOD_US) {
      throw new NetemError(
        NetemErrorCodes.INVALID_ARGUMENT,
        `periodUs must be an integer ${MIN_QUOTA_US}..${MAX_PERIOD_US}, got ${periodUs}`,
        { field: 'periodUs', value: periodUs },
      );
    }
    const quotaUs = Math.round(periodUs * fraction);
    if (quotaUs < MIN_QUOTA_US) {
      throw new NetemError(
        NetemErrorCodes.INVALID_ARGUMENT,
        `periodUs ${periodUs} x cpuFraction ${fraction} is a quota under the kernel's ${MIN_QUOTA_US} us minimum`,
        { field: 'periodUs', value: periodUs },
      );
    }
    return { periodUs, quotaUs };
  }
  const p = Math.min(MAX_PERIOD_US, Math.max(MIN_QUOTA_US, Math.ceil(MIN_QUOTA_US / fraction)));
  return { periodUs: p, quotaUs: Math.max(MIN_QUOTA_US, Math.round(p * fraction)) };
}

interface CgroupPlan {
  method: 'cgroup-v1' | 'cgroup-v2';
  /** The hierarchy directory the cgroup is created in (processes go back there on close). */
  parent: string;
}

/** cgroup hierarchies with a CPU controller under `root`, in the order they are tried. */
function findHierarchies(root: string, reasons: string[]): CgroupPlan[] {
  const plans: CgroupPlan[] = [];
  for (const d of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
    const dir = join(root, d);
    if (existsSync(join(dir, 'cpu.cfs_quota_us'))) {
      plans.push({ method: 'cgroup-v1', parent: dir });
      break;
    }
  }
  for (const dir of [root, join(root, 'unified')]) {
    const ctl = join(dir, 'cgroup.controllers');
    if (!existsSync(ctl)) continue;
    let controllers: string[] = [];
    try {
      controllers = readFileSync(ctl, 'utf8').trim().split(/\s+/);
    } catch (err) {
      reasons.push(`cgroup v2 at ${dir}: cannot read cgroup.controllers: ${errText(err)}`);
      continue;
    }
    if (controllers.includes('cpu')) {
      plans.push({ method: 'cgroup-v2', parent: dir });
      break;
    }
    reasons.push(`cgroup v2 at ${dir}: no cpu controller (it is bound to v1 or not enabled)`);
  }
  if (plans.length === 0 && reasons.length === 0) reasons.push(`no cgroup CPU controller under ${root}`);
  return plans;
}

function tryCreate(
  plan: CgroupPlan,
  name: string,
  periodUs: number,
  quotaUs: number,
  setQuota: boolean,
): { dir: string } | { reason: string } {
  const dir = join(plan.parent, `jmdc-${name}-${process.pid}-${counter++}`);
  let made = false;
  try {
    const fsType = statfsSync(plan.parent).type;
    const want = plan.method === 'cgroup-v1' ? CGROUP_SUPER_MAGIC : CGROUP2_SUPER_MAGIC;
    if (fsType !== want) {
      return {
        reason: `${plan.method} at ${plan.parent}: not a cgroup filesystem (statfs type 0x${fsType.toString(16)})`,
      };
    }
    removeStale(plan.parent);
    if (plan.method === 'cgroup-v2') {
      const sub = join(plan.parent, 'cgroup.subtree_control');
      const enabled = readFileSync(sub, 'utf8').trim().split(/\s+/);
      if (!enabled.includes('cpu')) writeFileSync(sub, '+cpu');
    }
    mkdirSync(dir);
    made = true;
    const control = plan.method === 'cgroup-v1' ? 'cpu.cfs_quota_us' : 'cpu.max';
    if (!existsSync(join(dir, control))) throw new Error(`the new cgroup has no ${control}`);
    if (!setQuota) {
      // membership only: the pacer reads cgroup.procs, and children forked inside stay inside
    } else if (plan.method === 'cgroup-v1') {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
      const back = Number(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim());
      if (back !== quotaUs) throw new Error(`cpu.cfs_quota_us reads back ${back}, not ${quotaUs}`);
    } else {
      writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
      const back = readFileSync(join(dir, 'cpu.max'), 'utf8').trim();
      if (back !== `${quotaUs} ${periodUs}`) throw new Error(`cpu.max reads back '${back}'`);
    }
    return { dir };
  } catch (err) {
    if (made) {
      try {
        rmdirSync(dir);
      } catch {
        // best effort: removeStale takes it next time
      }
    }
    return { reason: `${plan.method} at ${plan.parent}: ${errText(err)}` };
  }
}

/**
 * Creates a CPU budget of `cpuFraction` of one core. With a writable cgroup CPU controller (v1 `cpu.cfs_quota_us`,
 * else v2 `cpu.max`), processes added with `addProcess(pid)` join a cgroup (children they fork later too) and are
 * slowed: by default by a pacer that stops and continues them so that they get `cpuFraction` of wall time, with `pacing: 'quota'` by the
 * kernel's CFS quota (the period is then the shortest whose quota is the kernel's 1 ms minimum). When no cgroup can be written (not root, read-only cgroupfs, no CPU controller) it
 * returns method `single-thread` with the reasons in `detail` and never throws for that: the caller then runs ORT with
 * one thread. A fraction of 1 or more returns `none`.
 *
 * @example
 * const budget = await createCpuBudget({ cpuFraction: 0.15, name: 'pi4' })
 * console.log(budget.method, budget.detail)
 * const child = fork('edge.js', [], { env: { ORT_THREADS: String(budget.recommendedThreads) } })
 * budget.addProcess(child.pid!)
 * // ... later
 * await budget.close()
 */
export async function createCpuBudget(opts: CpuBudgetOptions): Promise<CpuBudget> {
  const fraction = opts.cpuFraction;
  if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction <= 0) {
    throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `cpuFraction must be a finite number > 0, got ${fraction}`, {
      field: 'cpuFraction',
      value: fraction,
    });
  }
  const name = opts.name ?? 'budget';
  if (!NAME_RE.test(name)) {
    throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `name must match ${NAME_RE}, got '${name}'`, {
      field: 'name',
      value: name,
    });
  }
  const root = opts.cgroupRoot ?? '/sys/fs/cgroup';
  const pids = new Set<number>();
  if (fraction >= 1) {
    return fallback('none', fraction, `cpuFraction ${fraction}: no limit (the host itself)`, pids);
  }
  const pacing: CpuPacing = opts.pacing ?? 'duty-cycle';
  if (pacing !== 'duty-cycle' && pacing !== 'quota') {
    throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `pacing must be 'duty-cycle' or 'quota', got '${pacing}'`, {
      field: 'pacing',
      value: pacing,
    });
  }
  const cycleMs = opts.cycleMs ?? 4;
  if (typeof cycleMs !== 'number' || !(cycleMs >= 0.5 && cycleMs <= 50)) {
    throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `cycleMs must be 0.5..50, got ${cycleMs}`, {
      field: 'cycleMs',
      value: cycleMs,
    });
  }
  const { periodUs, quotaUs } = choosePeriod(fraction, opts.periodUs);
  const reasons: string[] = [];
  for (const plan of findHierarchies(root, reasons)) {
    const r = tryCreate(plan, name, periodUs, quotaUs, pacing === 'quota');
    if ('reason' in r) {
      reasons.push(r.reason);
      continue;
    }
    if (pacing === 'quota') return cgroupBudget(plan, r.dir, fraction, { pacing, periodUs, quotaUs }, pids);
    const acct = accounting(plan, root, r.dir);
    try {
      const pacer = await startPacer(join(r.dir, 'cgroup.procs'), fraction, cycleMs, acct.usage);
      return cgroupBudget(plan, r.dir, fraction, { pacing, cycleMs, pacer, acct }, pids);
    } catch (err) {
      for (const d of [acct.dir, r.dir]) {
        if (!d) continue;
        try {
          rmdirSync(d);
        } catch {
          // removeStale takes it next time
        }
      }
      reasons.push(`the duty-cycle pacer did not start: ${errText(err)}`);
    }
  }
  const uid = process.getuid?.();
  const who = uid === undefined ? '' : uid === 0 ? ' (running as root)' : ` (not root: uid ${uid})`;
  return fallback(
    'single-thread',
    fraction,
    `no cgroup CPU quota could be set${who}: ${reasons.join('; ')}; the edge runs with one thread at full speed of one core`,
    pids,
  );
}

/**
 * Moves every process of a cgroup (children forked inside included) to `parent` and removes it; a process that is
 * exiting can linger in cgroup.procs for a moment, so this retries briefly. A cgroup that cannot be removed is left
 * for `removeStale` on a later run: a budget must not fail its caller's shutdown.
 */
async function removeCgroup(dir: string, parent: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    for (const pid of readPids(join(dir, 'cgroup.procs'))) {
      try {
        writeFileSync(join(parent, 'cgroup.procs'), String(pid));
      } catch {
        // exited meanwhile
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') return;
    }
    await sleep(25);
  }
}

function fallback(method: CpuBudgetMethod, cpuFraction: number, detail: string, pids: Set<number>): CpuBudget {
  return {
    method,
    cpuFraction,
    detail,
    recommendedThreads: method === 'none' ? 0 : 1,
    addProcess(pid: number): void {
      pids.add(pid);
    },
    async close(): Promise<void> {
      pids.clear();
    },
  };
}

/** Where the pacer reads the budget's CPU usage: v1 `cpuacct.usage` (ns), v2 `cpu.stat` (usage_usec). */
interface Accounting {
  usage?: { file: string; kind: 'ns' | 'v2' };
  /** A second cgroup in a separate v1 cpuacct hierarchy, which processes join too. */
  dir?: string;
  /** Why there is no usage counter. */
  reason?: string;
}

function accounting(plan: CgroupPlan, root: string, dir: string): Accounting {
  if (plan.method === 'cgroup-v2') return { usage: { file: join(dir, 'cpu.stat'), kind: 'v2' } };
  if (existsSync(join(dir, 'cpuacct.usage'))) return { usage: { file: join(dir, 'cpuacct.usage'), kind: 'ns' } };
  const parent = join(root, 'cpuacct');
  const acctDir = join(parent, basename(dir));
  try {
    if (statfsSync(parent).type !== CGROUP_SUPER_MAGIC) return { reason: `${parent} is not a cgroup filesystem` };
    removeStale(parent);
    mkdirSync(acctDir);
    if (!existsSync(join(acctDir, 'cpuacct.usage'))) {
      rmdirSync(acctDir);
      return { reason: `${acctDir} has no cpuacct.usage` };
    }
    return { usage: { file: join(acctDir, 'cpuacct.usage'), kind: 'ns' }, dir: acctDir };
  } catch (err) {
    return { reason: `no cpuacct cgroup: ${errText(err)}` };
  }
}

type Pacing =
  | { pacing: 'quota'; periodUs: number; quotaUs: number }
  | { pacing: 'duty-cycle'; cycleMs: number; pacer: Pacer; acct: Accounting };

function cgroupBudget(plan: CgroupPlan, dir: string, cpuFraction: number, p: Pacing, pids: Set<number>): CpuBudget {
  let closed = false;
  let limit: string;
  if (p.pacing === 'quota') {
    limit =
      plan.method === 'cgroup-v1'
        ? `cpu.cfs_quota_us ${p.quotaUs} / cpu.cfs_period_us ${p.periodUs}`
        : `cpu.max "${p.quotaUs} ${p.periodUs}"`;
  } else if (p.acct.usage) {
    limit = `CPU credit of ${cpuFraction} x wall time, checked every ${p.cycleMs / 4} ms against ${p.acct.usage.file} (SIGSTOP/SIGCONT by pacer pid ${p.pacer.pid}${p.pacer.realtime ? ', real-time priority' : ''})`;
  } else {
    limit = `a duty cycle of ${(cpuFraction * p.cycleMs).toFixed(3)} ms run / ${p.cycleMs} ms (SIGCONT/SIGSTOP by pacer pid ${p.pacer.pid}${p.pacer.realtime ? ', real-time priority' : ''}; ${p.acct.reason})`;
  }
  return {
    method: plan.method,
    cpuFraction,
    detail: `${plan.method}: ${dir} with ${limit} (${cpuFraction} of one core)`,
    recommendedThreads: 1,
    cgroupPath: dir,
    pacing: p.pacing,
    ...(p.pacing === 'quota' ? { periodUs: p.periodUs, quotaUs: p.quotaUs } : { cycleMs: p.cycleMs }),
    addProcess(pid: number): void {
      if (closed) throw new NetemError(NetemErrorCodes.CLOSED, 'addProcess on a closed CPU budget');
      if (!Number.isInteger(pid) || pid <= 0) {
        throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `pid must be a positive integer, got ${pid}`, {
          field: 'pid',
          value: pid,
        });
      }
      try {
        writeFileSync(join(dir, 'cgroup.procs'), String(pid));
        if (p.pacing === 'duty-cycle' && p.acct.dir) writeFileSync(join(p.acct.dir, 'cgroup.procs'), String(pid));
      } catch (err) {
        throw new NetemError(
          NetemErrorCodes.CGROUP_WRITE,
          `cannot move pid ${pid} into ${dir}: ${errText(err)}`,
          { pid, cgroup: dir },
          { cause: err },
        );
      }
      pids.add(pid);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (p.pacing === 'duty-cycle') {
        await p.pacer.stop();
        // the pacer continues every process on its way out; a pacer that had to be killed did not
        for (const pid of readPids(join(dir, 'cgroup.procs'))) {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // exited meanwhile
          }
        }
      }
      const groups: [string, string][] = [[dir, plan.parent]];
      if (p.pacing === 'duty-cycle' && p.acct.dir) groups.push([p.acct.dir, dirname(p.acct.dir)]);
      for (const [g, parent] of groups) await removeCgroup(g, parent);
      pids.clear();
    },
  };
}
