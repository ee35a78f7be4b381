/**
 * Shapes of `models/<id>/profile.json`, the offline accuracy/size/timing profile written by
 * `npm run profile` (infra/tools), and of the normalized form the planner works on.
 */

/**
 * What a row does: the whole network on the device, a raw image upload, or a split at a point.
 *
 * @example
 * const k: RowKind = rowKind({ point: 0 }, 5) // 'cloud-only'
 */
export type RowKind = 'edge-only' | 'cloud-only' | 'split';

/**
 * The coder of a row: an entropy coder of features for splits (`none`, `deflate`, `brotli`, `rans`),
 * a raw image format for cloud-only rows (`raw`, `png`, `deflate`), `none` for edge-only rows.
 *
 * @example
 * const c: RowCoder = 'rans'
 */
export type RowCoder = 'none' | 'deflate' | 'brotli' | 'rans' | 'raw' | 'png';

/**
 * One setting of the compression grid as `npm run profile` wrote it.
 *
 * @example
 * const row: ProfileRow = profile.rows[0] // { point: 2, variant: 0.5, keep: 0.25, bits: 4, coder: 'rans', valAccuracy: 0.924, ... }
 */
export interface ProfileRow {
  /** Absent in older profiles: then derived from `point` (0 = cloud-only, -1 or points+1 = edge-only). */
  kind?: RowKind;
  /** Partition point 1..P for splits, 0 for cloud-only, -1 (or P+1) for edge-only. */
  point: number;
  /** Prune ratio of the model variant (0, 0.25, 0.5, ...). */
  variant: number;
  /** Fraction of spatial positions kept, (0, 1]. */
  keep: number;
  /**
   * Quantization bits 1..8 (8 for raw images); 32 for a split that sends its features unquantized as float32
   * (coder `none`, `deflate` or `brotli`; no quantization scope).
   */
  bits: number;
  /** Entropy coder of features (`none`, `deflate`, `brotli`, `rans`) or raw format (`png`, `raw`, `deflate`). */
  coder: string;
  /** Quantization parameters per channel (default when absent) or one pair per item. */
  quantScope?: 'channel' | 'tensor';
  /**
   * A split through the variant's learned bottleneck at the point (absent = false): the device sends
   * the encoder's code, the cloud runs the decoder before the tail. Only for splits.
   */
  bottleneck?: boolean;
  valAccuracy: number;
  testAccuracy: number;
  /** Mean bytes of the payload of ONE image at this setting (0 for edge-only). */
  meanPayloadBytes: number;
  /** float32 bytes of the UNPRUNED model's features at the point (also for bottleneck rows). */
  float32FeatureBytes: number;
  /** MACs on the device (with a bottleneck, its encoder's included). */
  headMacs: number;
  /** MACs in the cloud (with a bottleneck, its decoder's included). */
  tailMacs: number;
}

/**
 * Reference timings measured where the profile was made, milliseconds per image.
 *
 * @example
 * profile.timings.headMs.r050?.[1] // ms of the head of r050 up to point 2
 */
export interface ProfileTimings {
  /** Free text naming the machine (`"x86_64 Intel Xeon, 2 threads"`). */
  device: string;
  /** Per variant id: head time up to point p at index p-1. */
  headMs: Record<string, number[]>;
  /** Per variant id: tail time from point p at index p (index 0 = the whole network). */
  tailMs: Record<string, number[]>;
  /** Per variant id: the whole network. */
  fullMs: Record<string, number>;
  /** Mean codec encode time per image. */
  encodeMs: number;
  /** Mean codec decode time per image. */
  decodeMs: number;
  /**
   * Per bottleneck id: its encoder's and decoder's time. Absent entries are estimated from the head and
   * tail times scaled by MACs.
   */
  bottleneckMs?: Record<string, { encoderMs: number; decoderMs: number }>;
}

/**
 * `models/<id>/profile.json`.
 *
 * @example
 * const raw = JSON.parse(readFileSync('models/fmnist-vgg16/profile.json', 'utf8')) as Profile
 */
export interface Profile {
  model: string;
  hash: string;
  fullModel: { val: number; test: number };
  rows: ProfileRow[];
  timings: ProfileTimings;
}

/**
 * A validated row with its kind resolved and its variant id looked up.
 *
 * @example
 * loadProfile(dir).rows.filter((r: PlanRow) => r.kind === 'split' && r.point === 2)
 */
export interface PlanRow {
  kind: RowKind;
  /** 1..P for splits, 0 for cloud-only, -1 for edge-only (normalized). */
  point: number;
  variant: number;
  /** The variant's id in the manifest and in `timings` (`r050`). */
  variantId: string;
  keep: number;
  /** Quantization bits 1..8, or 32: float32 features (see {@link ProfileRow.bits}). */
  bits: number;
  coder: RowCoder;
  /** The quantization scope of a split (`channel` for every other row, and for float32 splits). */
  quantScope: 'channel' | 'tensor';
  /** A split through the variant's learned bottleneck at the point (false for every other row). */
  bottleneck: boolean;
  /** The id of that bottleneck in the manifest, for bottleneck rows. */
  bottleneckId?: string;
  valAccuracy: number;
  testAccuracy: number;
  meanPayloadBytes: number;
  /**
   * The payload bytes at which the device's cost of encoding one image is priced (a calibrated feature coder's
   * cost is linear in the payload it produces), when that is not `meanPayloadBytes`: a row whose encoding does
   * other work per byte than the rows the cost was measured on names the size of a comparable one.
   * @default meanPayloadBytes
   */
  encodePayloadBytes?: number;
  /**
   * True for the rows the loader adds: edge-only rows when the profile has none, and the raw cloud-only
   * upload when it lists none (see `normalizeProfile`).
   */
  synthesized: boolean;
}

/**
 * What the planner needs to know of a bottleneck that some row uses: its MACs and those of the head and
 * tail it sits between (for the MAC-scaled estimate of its time when nothing measured it).
 *
 * @example
 * profile.bottlenecks['r000-p2']?.encoderMacs
 */
export interface BottleneckCost {
  id: string;
  point: number;
  variant: number;
  variantId: string;
  encoderMacs: number;
  decoderMacs: number;
  /** MACs of blocks 1..point of the variant. */
  headMacs: number;
  /** MACs of blocks point+1.. and the classifier of the variant. */
  tailMacs: number;
}

/**
 * A profile after {@link normalizeProfile}: what the planner consumes.
 *
 * @example
 * const p: NormalizedProfile = loadProfile(dir, { manifest }) // p.pointCount === 5
 */
export interface NormalizedProfile {
  model: string;
  hash: string;
  /** Number of partition points P. */
  pointCount: number;
  fullModel: { val: number; test: number };
  rows: PlanRow[];
  timings: ProfileTimings;
  /** Per bottleneck id: the bottlenecks the rows use (absent or {} when none does). */
  bottlenecks?: Record<string, BottleneckCost>;
}

/**
 * A device cost that grows with the bytes it handles: `fixedMs + perKiBMs x KiB`.
 *
 * @example
 * const c: LinearCost = { fixedMs: 0.3, perKiBMs: 0.004 } // 1 KiB: 0.304 ms
 */
export interface LinearCost {
  fixedMs: number;
  perKiBMs: number;
}

/**
 * Head times measured on this device by `calibrate()` (ms per image, batch 1, median).
 *
 * @example
 * const cal: DeviceCalibration = await client.calibrate() // cal.headMs.r000 = [ms at point 1, ...]
 */
export interface DeviceCalibration {
  /** Free text naming this device. */
  device: string;
  /** ORT intra-op threads used. */
  threads: number;
  /** Per variant id: head time up to point p at index p-1. */
  headMs: Record<string, number[]>;
  /** Per variant id: the whole network on this device. */
  fullMs: Record<string, number>;
  /**
   * The whole network of every variant run on a batch of `batch` images at once, when measured: with
   * `fullMs` it gives how a run's time grows with its batch (a fixed part per run plus a part per
   * image), which the planner uses for batches above 1 (see `batchShares`).
   */
  batchFullMs?: { batch: number; ms: Record<string, number> };
  /**
   * The head of every variant up to every point (index p-1, as `headMs`) run on a batch of `batch` images
   * at once, when measured: a head's time grows with its batch in its own way (early layers gain little
   * from a batch, the weight-heavy late ones much), so the planner prices a split's device run from its
   * head's own two timings (see `batchCost`).
   */
  batchHeadMs?: { batch: number; ms: Record<string, number[]> };
  /** Codec encode time per image on this device, when measured. */
  encodeMs?: number;
  /** Per bottleneck id: its encoder's time on this device (batch 1, median), when measured. */
  bottleneckMs?: Record<string, number>;
  /**
   * The client's own work per request on this device, without the network: SigV4 signing with the
   * SHA-256 of the body, and checking the answer. Once per request (not per image), when measured.
   */
  requestMs?: LinearCost;
  /** Per raw format (`raw`, `png`, `deflate`): preparing the cloud-only payload of one image, when measured. */
  rawEncodeMs?: Record<string, number>;
  /** Per feature coder (`rans`, `deflate`, ...): encoding one image's features, by its payload size, when measured. */
  featureEncodeMs?: Record<string, LinearCost>;
  /** Epoch ms of the measurement. */
  measuredAt: number;
  /** Spread of each median: interquartile range / median (same layout as `headMs`, `fullMs`). */
  spread?: {
    headMs: Record<string, number[]>;
    fullMs: Record<string, number>;
    bottleneckMs?: Record<string, number>;
    /** Per variant id: the spread of `batchFullMs.ms`. */
    batchFullMs?: Record<string, number>;
    /** Per variant id: the spread of `batchHeadMs.ms` (same layout). */
    batchHeadMs?: Record<string, number[]>;
    /** Per piece of per-request work (`request:1024`, `answer`, `raw:png`, `feature:rans:812`). */
    workMs?: Record<string, number>;
  };
  /** Timed rounds (every head and whole network once per round, interleaved; an entry stable after the minimum rounds stops): the most any entry was timed. */
  repetitions?: number;
  /** Measurements made until the timings were consistent (1 = the first one was). */
  attempts?: number;
}
