/**
 * The inference backend seam: the model runner, planner and codec never import onnxruntime; the
 * onnxruntime-node implementation lives in `@jmdc/edge-sdk/ort` (runtime/ortBackend.ts).
 */

export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

export interface InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

export interface InferenceBackend {
  /** Creates a session for one ONNX file. */
  load(path: string): Promise<InferenceSession>;
}
