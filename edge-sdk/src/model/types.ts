/** Shapes of `models/<id>/manifest.json`, written by the Python pipeline (models/jmdc_models/export.py). */

export interface BlockFile {
  /** 1-based block index; the classifier is block `points.length + 1`. */
  block: number;
  /** Path relative to the model folder. */
  file: string;
  sha256: string;
  bytes: number;
  inShape: number[];
  outShape: number[];
  macs: number;
  params: number;
}

export interface Variant {
  /** e.g. `r050` for prune ratio 0.5. */
  id: string;
  pruneRatio: number;
  blocks: BlockFile[];
  macs: number;
  params: number;
  /** Per partition point (index point-1): the per-channel value the decoder puts at dropped positions. */
  fill: number[][];
  /** Accuracy of the uncompressed variant. */
  accuracy: { val: number; test: number };
}

/** One ONNX file of a bottleneck (its encoder or its decoder). */
export interface BottleneckFile {
  /** Path relative to the model folder. */
  file: string;
  sha256: string;
  bytes: number;
  /** [C, H, W] without the batch axis. */
  inShape: number[];
  outShape: number[];
  macs: number;
  params: number;
}

/**
 * A learned bottleneck (BottleNet++-style) at partition point `point` of one variant: on the device the
 * encoder turns the point's features [C, H, W] into a code [c, H, W] (values in (0, 1)); the codec sends
 * the code; in the cloud the decoder turns it back into features [C, H, W] for blocks point+1...
 * ONNX io: encoder `features` -> `code`, decoder `code` -> `features` (each with a batch axis).
 *
 * @example
 * const b: Bottleneck = manifest.bottlenecks?.find((x) => x.point === 2 && x.variant === 0)
 */
export interface Bottleneck {
  /** Unique in the manifest, `[a-z0-9-]`, e.g. `r000-p2`. */
  id: string;
  /** Partition point 1..points.length. */
  point: number;
  /** Prune ratio of the variant whose head and tail it sits between. */
  variant: number;
  /** c, the code's channel count. */
  channels: number;
  /** [c, H, W]: H, W are the point's feature H, W of that variant. */
  codeShape: [number, number, number];
  encoder: BottleneckFile;
  decoder: BottleneckFile;
  /** c numbers: the code value the receiver puts at dropped (unsent) positions. */
  fill: number[];
  /** Accuracy with the uncompressed (float) code. */
  accuracy: { val: number; test: number };
}

export interface Normalization {
  scale: number;
  mean: number[];
  std: number[];
  pad: number;
  padValue: number;
}

export interface PartitionPoint {
  point: number;
  /** [C, H, W] of the unpruned model's features at this point. */
  featureShape: [number, number, number];
  attentionShape: [number, number];
}

export interface Manifest {
  id: string;
  /** `sha256:<hex>` over the sorted (path, sha256) pairs of every artifact. */
  hash: string;
  format: number;
  input: {
    /** [C, H, W] the network sees (after padding). */
    shape: [number, number, number];
    /** [C, H, W] of the images an app passes in. */
    sourceShape: [number, number, number];
    dtype: 'uint8';
    layout: 'NCHW';
    normalization: Normalization;
  };
  classes: string[];
  points: PartitionPoint[];
  variants: Variant[];
  /** Learned bottlenecks, at most one per (variant, point); absent or empty for models without them. */
  bottlenecks?: Bottleneck[];
  golden?: string;
  architecture?: Record<string, unknown>;
  data?: Record<string, unknown>;
}

/** A manifest with the folder it was loaded from. */
export interface LoadedModel {
  dir: string;
  manifest: Manifest;
}
