import type { EstimatorState } from '../estimators/LiveEstimators.js';
import { type EdgeState, readState, STATE_VERSION, writeState } from '../estimators/stateFile.js';
import type { DeviceCalibration } from '../profile/types.js';
import type { Clock } from './options.js';

/**
 * The state file of a client: read once at creation (implausible values dropped with a warning),
 * saved at most every `intervalMs` after requests, and on `close()`. Saves never overlap.
 *
 * @example
 * const store = new StateStore(path, { model: 'fmnist-vgg16', modelHash }, { clock, warn, intervalMs: 60_000 })
 * const { calibration, estimators } = store.load()
 * store.maybeSave(() => ({ calibration, estimators: est.toState() }))
 */
export class StateStore {
  private lastSave: number;
  private saving: Promise<void> | undefined;

  constructor(
    readonly path: string | undefined,
    private readonly id: { model: string; modelHash: string },
    private readonly opts: { clock: Clock; warn: (m: string) => void; intervalMs: number },
  ) {
    this.lastSave = opts.clock.now();
  }

  /** What a previous run saved (empty without a file, or for a file that cannot be used). */
  load(): { calibration?: DeviceCalibration; estimators?: EstimatorState } {
    if (!this.path) return {};
    const r = readState(this.path, this.id);
    r.warnings.forEach(this.opts.warn);
    return {
      ...(r.state?.calibration ? { calibration: r.state.calibration } : {}),
      ...(r.state?.estimators ? { estimators: r.state.estimators } : {}),
    };
  }

  /** Saves in the background when the last save is older than the interval. */
  maybeSave(snapshot: () => Pick<EdgeState, 'calibration' | 'estimators'>): void {
    if (!this.path || this.saving) return;
    if (this.opts.clock.now() - this.lastSave < this.opts.intervalMs) return;
    this.saving = this.save(snapshot())
      .catch((e: unknown) => this.opts.warn(`cannot save state to ${this.path}: ${(e as Error).message}`))
      .finally(() => {
        this.saving = undefined;
      });
  }

  /** Writes the state now (atomically). */
  async save(parts: Pick<EdgeState, 'calibration' | 'estimators'>): Promise<void> {
    if (!this.path) return;
    await this.saving;
    this.lastSave = this.opts.clock.now();
    await writeState(this.path, {
      version: STATE_VERSION,
      model: this.id.model,
      modelHash: this.id.modelHash,
      savedAt: this.lastSave,
      ...(parts.calibration ? { calibration: parts.calibration } : {}),
      ...(parts.estimators ? { estimators: parts.estimators } : {}),
    });
  }

  /** Waits for a background save. */
  async flush(): Promise<void> {
    await this.saving;
  }
}
