/**
 * Public types of `@jmdc/netem`: link conditions, traces, the shaping proxy and CPU budgets.
 */

/** What happens to a chunk that the link loses. */
export interface LossConditions {
  /** Probability, per chunk of at most `chunkBytes` on one connection and direction, that the chunk is lost. 0..1. */
  rate: number;
  /**
   * `stall`: the chunk is held `stallMs` longer (a stand-in for a TCP retransmission; later chunks queue behind it,
   * order is kept). `reset`: both sockets of the connection are destroyed with a TCP RST.
   */
  mode: 'stall' | 'reset';
  /** Extra delay of a stalled chunk. @default 200 (Linux's minimum TCP retransmission timeout) */
  stallMs?: number;
}

/**
 * The conditions of an emulated link. Rates are of TCP payload bytes (what the application writes), not of IP packets.
 *
 * @example
 * const lte: LinkConditions = { uplinkMbps: 6.8, downlinkMbps: 20, rttMs: 40, jitterMs: 5 }
 */
export interface LinkConditions {
  /** Client -> server rate in Mbit/s (10^6 bit/s). `Infinity`: no rate limit. */
  uplinkMbps: number;
  /** Server -> client rate in Mbit/s. `Infinity`: no rate limit. */
  downlinkMbps: number;
  /** Added round-trip delay in ms, split rttMs/2 each way. */
  rttMs: number;
  /** Per-chunk extra delay, uniform in [0, jitterMs]; order is preserved (no reordering on TCP). @default 0 */
  jitterMs?: number;
  /** Optional loss. @default none */
  loss?: LossConditions;
}

/** A named network profile: its values, where they come from, and what it stands for. */
export interface NetworkProfile extends LinkConditions {
  /** Where each value comes from (publication, measurement, or "assumption"). */
  source: string;
  /** One line on what the profile stands for. */
  description: string;
}

/** One step of a trace: at `atMs` after playback starts, apply `conditions`. */
export interface TraceStep {
  /** Time from the start of playback, ms (non-decreasing along the trace). */
  atMs: number;
  /** A profile name (replaces every condition) or a partial set merged into the current conditions. */
  conditions: Partial<LinkConditions> | string;
  /** Printed by the CLI and passed to `onStep`. */
  label?: string;
}

/** Options of {@link ShapingProxy.playTrace}. */
export interface PlayTraceOptions {
  /** Start again after the last step. @default false */
  loop?: boolean;
  /**
   * Length of one cycle when looping, ms. @default the last step's atMs plus the gap before it (so the last step
   * lasts as long as the one before it); a one-step trace does not loop
   */
  periodMs?: number;
  /** Called after each step is applied, with the step and its index in the trace. */
  onStep?: (step: TraceStep, index: number) => void;
}

/** A trace being played: `stop()` ends it early; `done` resolves after the last step (or after `stop()`). */
export interface TracePlayback {
  stop(): void;
  done: Promise<void>;
}

/** Counters of a proxy since it started. */
export interface ProxyStats {
  /** Connections accepted. */
  connections: number;
  /** Connections open now. */
  openConnections: number;
  /** Bytes delivered client -> server. */
  bytesUp: number;
  /** Bytes delivered server -> client. */
  bytesDown: number;
  /** Connections reset by the `reset` loss mode. */
  resets: number;
  /** Chunks held by the `stall` loss mode. */
  stalls: number;
}

/** A TCP proxy on loopback that shapes the bytes it forwards. */
export interface ShapingProxy {
  /** `http://127.0.0.1:<port>`. The proxy forwards raw TCP bytes to the target unchanged. */
  url: string;
  port: number;
  /** The conditions in force now (a copy). */
  conditions(): LinkConditions;
  /** Applies to bytes not yet sent, including on open connections. A profile name replaces every condition. */
  setConditions(c: Partial<LinkConditions> | string): void;
  /** Plays a trace from now; a second call stops the first playback. */
  playTrace(trace: TraceStep[], opts?: PlayTraceOptions): TracePlayback;
  stats(): ProxyStats;
  /** Stops any trace, closes the listener and destroys every open socket. */
  close(): Promise<void>;
}

/** Options of {@link startShapingProxy}. */
export interface ShapingProxyOptions {
  /** Where the proxy forwards to. */
  target: { host: string; port: number };
  /** Initial conditions: a profile name or values (missing values come from `loopback`). @default 'loopback' */
  conditions?: Partial<LinkConditions> | string;
  /** Port to listen on (127.0.0.1). @default 0 (any free port) */
  port?: number;
  /** Largest chunk the link sends at once, bytes. @default 1024 */
  chunkBytes?: number;
  /** Bytes queued per direction (link queue plus the receiver's socket buffer) before the sender is paused. @default 262144 */
  maxQueueBytes?: number;
  /**
   * Emulate the TCP handshake: a new connection's first client bytes leave one RTT after it was accepted, as they
   * would after SYN / SYN-ACK on a real link. @default true
   */
  handshake?: boolean;
  /** Seed of the random numbers used for jitter and loss (reproducible runs). @default a random seed */
  seed?: number;
}

/** A device preset: a fraction of ONE core of this machine that stands in for a weaker device (an approximation). */
export interface DevicePreset {
  name: string;
  /** Fraction of one core of this machine, 0 < f <= 1. */
  cpuFraction: number;
  description: string;
  /** Why this fraction: the published numbers it is derived from. */
  basis: string;
}

/** How a CPU budget is enforced. */
export type CpuBudgetMethod = 'cgroup-v1' | 'cgroup-v2' | 'single-thread' | 'none';

/** How a cgroup budget slows its processes (see {@link CpuBudget.pacing}). */
export type CpuPacing = 'duty-cycle' | 'quota';

/** A CPU budget that processes join. */
export interface CpuBudget {
  /** `cgroup-v1` (cpu.cfs_quota_us), `cgroup-v2` (cpu.max), `single-thread` (no cgroup could be written: the caller runs ORT with one thread), `none` (no limit asked). */
  method: CpuBudgetMethod;
  /** The fraction of one core that was asked for. */
  cpuFraction: number;
  /** One line saying what was done, or why the budget fell back to `single-thread`. */
  detail: string;
  /** Intra-op threads the budgeted process should use (1 under any limit). */
  recommendedThreads: number;
  /** The cgroup directory, for the cgroup methods. */
  cgroupPath?: string;
  /**
   * How the cgroup methods slow their processes: `duty-cycle` (a pacer stops and continues them so that they get
   * `cpuFraction` of wall time at a granularity of about a millisecond; every ms of work is slowed evenly) or `quota` (the kernel's CFS quota: exact on average, but enforced at
   * scheduler ticks, so work of a few ms between idle waits runs at full speed). Undefined for the other methods.
   */
  pacing?: CpuPacing;
  /** Cycle of `duty-cycle` pacing, ms. */
  cycleMs?: number;
  /** CFS period and quota in microseconds, for `quota` pacing. */
  periodUs?: number;
  quotaUs?: number;
  /** Moves a process (all its threads) into the budget; children it forks afterwards inherit it. */
  addProcess(pid: number): void;
  /** Moves every process back to the parent cgroup and removes the cgroup. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createCpuBudget}. */
export interface CpuBudgetOptions {
  /** Fraction of one core of this machine, > 0. 1 or more: no limit (`none`). */
  cpuFraction: number;
  /** A name for the cgroup (letters, digits, `-`, `_`). @default 'budget' */
  name?: string;
  /** Where cgroupfs is mounted (tests point it at a fake tree). @default '/sys/fs/cgroup' */
  cgroupRoot?: string;
  /**
   * `duty-cycle`: a pacer process outside the budget stops and continues the cgroup's processes so that they get
   * `cpuFraction` of wall time (a CPU credit checked against the cgroup's usage counter every `cycleMs / 4`; a fixed
   * duty cycle where there is no counter): short jobs are slowed evenly, like on a slower core. `quota`: the kernel's
   * CFS quota only. @default 'duty-cycle'
   */
  pacing?: CpuPacing;
  /**
   * Cycle of `duty-cycle` pacing, ms (0.5..50): the credit is checked every quarter cycle and capped at
   * `cpuFraction x cycleMs`. Shorter is finer-grained but costs the pacer more CPU. @default 4
   */
  cycleMs?: number;
  /**
   * CFS period in microseconds, for `quota` pacing. @default the shortest period whose quota is at least the kernel's 1 ms minimum
   * (1000 / cpuFraction us), so that a job of a few ms is slowed evenly instead of running at full speed and then
   * stalling for most of a 100 ms period
   */
  periodUs?: number;
}
