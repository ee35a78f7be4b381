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
  golden?: string;
  architecture?: Record<string, unknown>;
  data?: Record<string, unknown>;
}

/** A manifest with the folder it was loaded from. */
export interface LoadedModel {
  dir: string;
  manifest: Manifest;
}
