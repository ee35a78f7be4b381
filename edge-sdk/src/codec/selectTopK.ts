import { CodecError, ErrorCodes } from '../errors.js';

/**
 * Number of kept positions for a keep ratio: max(1, ceil(keep * H * W)), evaluated as `(keep * H) * W`
 * in float64, exactly like the Python pipeline's `math.ceil(keep * h * w)`.
 *
 * @example
 * ```ts
 * keepCountFor(0.25, 8, 8); // 16
 * ```
 */
export function keepCountFor(keep: number, h: number, w: number): number {
  if (!(Number.isFinite(keep) && keep > 0 && keep <= 1)) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `keep must be a ratio in (0, 1], got ${keep}`, { keep });
  }
  return Math.min(h * w, Math.max(1, Math.ceil(keep * h * w)));
}

let scratch = new Float32Array(0);

/**
 * Top-k spatial positions of one item's attention map, as a 0/1 mask of `hw` bytes.
 * Ties are broken deterministically: higher attention first, then lower flat index
 * (so `-0` and `+0` tie). Reads `attention[offset, offset + hw)`.
 *
 * @example
 * ```ts
 * selectTopK(Float32Array.of(0.1, 0.9, 0.5, 0.9), 4, 2); // Uint8Array [0, 1, 0, 1]
 * ```
 */
export function selectTopK(attention: Float32Array, hw: number, k: number, offset = 0, out?: Uint8Array): Uint8Array {
  if (!Number.isInteger(hw) || hw < 1 || offset < 0 || offset + hw > attention.length) {
    throw new CodecError(ErrorCodes.SHAPE_MISMATCH, 'attention is shorter than hw', {
      hw,
      offset,
      length: attention.length,
    });
  }
  if (!Number.isInteger(k) || k < 1 || k > hw) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `k must be an integer 1..${hw}, got ${k}`, { k, hw });
  }
  const mask = out ?? new Uint8Array(hw);
  if (k === hw) {
    mask.fill(1, 0, hw);
    return mask;
  }
  mask.fill(0, 0, hw);
  // k-th largest value by a native numeric sort, then: every value above it, and the lowest indices among
  // the values equal to it until k are taken.
  if (scratch.length < hw && hw <= 1 << 16)
    scratch = new Float32Array(Math.min(1 << 16, Math.max(hw, 2 * scratch.length)));
  const sorted = scratch.length >= hw ? scratch.subarray(0, hw) : new Float32Array(hw);
  sorted.set(attention.subarray(offset, offset + hw));
  sorted.sort();
  const threshold = sorted[hw - k] as number;
  let above = 0;
  for (let i = 0; i < hw; i++) {
    if ((attention[offset + i] as number) > threshold) {
      mask[i] = 1;
      above++;
    }
  }
  let ties = k - above;
  for (let i = 0; i < hw && ties > 0; i++) {
    if ((attention[offset + i] as number) === threshold) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}
