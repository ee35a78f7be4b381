import * as ort from 'onnxruntime-node';
import type { InferenceBackend, InferenceSession, TensorData } from '../model/backend.js';

export interface OrtBackendOptions {
  /**
   * Threads for one operator. On a 4-core Raspberry Pi 4B, 4; on a 2-core Lambda (>= 1769 MB), 2.
   * @default 0 (onnxruntime's default: one per physical core)
   */
  intraOpThreads?: number;
  /** @default 'all' */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

class OrtSession implements InferenceSession {
  constructor(private readonly s: ort.InferenceSession) {}
  get inputNames(): readonly string[] {
    return this.s.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.s.outputNames;
  }
  async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
    const out = await this.s.run(inputs);
    const res: Record<string, TensorData> = {};
    for (const [k, v] of Object.entries(out)) res[k] = { data: v.data as Float32Array, dims: v.dims };
    return res;
  }
  release(): Promise<void> {
    return this.s.release();
  }
}

/**
 * onnxruntime-node (CPU execution provider) behind the {@link InferenceBackend} seam.
 *
 * @example
 * const runner = new ModelRunner(loadModel('fmnist-vgg16'), new OrtBackend({ intraOpThreads: 4 }))
 */
export class OrtBackend implements InferenceBackend {
  constructor(private readonly opts: OrtBackendOptions = {}) {}
  async load(path: string): Promise<InferenceSession> {
    const s = await ort.InferenceSession.create(path, {
      intraOpNumThreads: this.opts.intraOpThreads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: this.opts.graphOptimizationLevel ?? 'all',
    });
    return new OrtSession(s);
  }
}
