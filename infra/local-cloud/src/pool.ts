/**
 * The instances of one function: warm reuse, cold starts up to the concurrency limit, idle reaping.
 */
import type { FunctionSpec } from './assembly.js';
import { Instance } from './instance.js';

/** Options shared by every pool of a local cloud. */
export interface PoolOptions {
  region: string;
  idleTimeoutMs: number;
  /** Limit when the function has no reserved concurrency. */
  maxInstances: number;
  onLog?: (functionName: string, instanceId: string, line: string) => void;
  /** Called when an instance's process has exited. */
  onInstanceExit?: (inst: Instance) => void;
}

/** An instance for one request, or why there is none. */
export type Acquired = { inst: Instance; cold: boolean } | { throttled: true };

/** The instances of one function. */
export class FunctionPool {
  readonly spec: FunctionSpec;
  /** The concurrency limit: reserved concurrency, else the cloud's per-function cap. */
  readonly limit: number;
  readonly instances = new Set<Instance>();
  private readonly opts: PoolOptions;

  constructor(spec: FunctionSpec, opts: PoolOptions) {
    this.spec = spec;
    this.opts = opts;
    this.limit = spec.reserved ?? opts.maxInstances;
  }

  /** Idle instances, most recently used first (Lambda tends to reuse the warmest one). */
  idle(): Instance[] {
    return [...this.instances]
      .filter((i) => i.state === 'idle' && !i.claimed && !i.killed)
      .sort((a, b) => b.lastUsed - a.lastUsed);
  }

  /**
   * An idle instance (warm), else a new one (cold) while under the limit, else throttled.
   * `fresh` forces a new instance (with `extraEnv`), as an injected init failure needs.
   */
  async acquire(fresh = false, extraEnv?: Record<string, string>): Promise<Acquired> {
    if (!fresh) {
      const warm = this.idle()[0];
      if (warm) {
        warm.claimed = true;
        clearTimeout(warm.idleTimer);
        return { inst: warm, cold: false };
      }
    }
    if (this.instances.size >= this.limit) return { throttled: true };
    const inst = new Instance({
      spec: this.spec,
      region: this.opts.region,
      ...(extraEnv ? { extraEnv } : {}),
      onLog: (line) => this.opts.onLog?.(this.spec.name, inst.id, line),
      onExit: (i) => {
        this.instances.delete(i);
        this.opts.onInstanceExit?.(i);
      },
    });
    inst.claimed = true;
    this.instances.add(inst);
    await inst.start();
    return { inst, cold: true };
  }

  /** Marks an instance idle again and arms its reaper. */
  release(inst: Instance): void {
    inst.claimed = false;
    if (inst.state === 'dead') return;
    clearTimeout(inst.idleTimer);
    inst.idleTimer = setTimeout(() => {
      if (inst.state === 'idle' && !inst.claimed) void inst.kill();
    }, this.opts.idleTimeoutMs);
    inst.idleTimer.unref();
  }

  /** Kills every idle instance (a storm of cold starts); returns how many. */
  killIdle(): number {
    const idle = this.idle();
    for (const i of idle) void i.kill();
    return idle.length;
  }

  /** Kills every instance; resolves when all have exited. */
  async stop(): Promise<void> {
    await Promise.all([...this.instances].map((i) => i.kill()));
  }
}
