import { CodecError, ErrorCodes } from '../errors.js';
import type { DecodedFeatures } from './types.js';

/**
 * Scatters decoded kept values into a dense N*C*H*W Float32Array (NCHW): the dequantized value at each kept
 * position, `fill[c]` (or 0 without `fill`) everywhere else. `fill` must hold C finite values.
 *
 * @example
 * ```ts
 * const decoded = decodePayload(bytes);
 * if (decoded.kind === 'features') {
 *   const dense = reconstructFeatures(decoded, manifest.fill); // feed to the tail
 * }
 * ```
 */
export function reconstructFeatures(decoded: DecodedFeatures, fill?: Float32Array): Float32Array {
  const [c, h, w] = decoded.header.dims;
  const { batch, keepCount: k } = decoded.header;
  const hw = h * w;
  const { mask, values } = decoded;
  if (mask.length !== batch * hw || values.length !== batch * k * c) {
    throw new CodecError(ErrorCodes.SHAPE_MISMATCH, 'mask or values do not match the header', {
      mask: mask.length,
      values: values.length,
    });
  }
  if (fill !== undefined) {
    if (!(fill instanceof Float32Array) || fill.length !== c) {
      throw new CodecError(ErrorCodes.SHAPE_MISMATCH, `fill must be a Float32Array of ${c} values`, { channels: c });
    }
    for (let i = 0; i < c; i++) {
      const v = fill[i] as number;
      if (v - v !== 0) throw new CodecError(ErrorCodes.NON_FINITE, `fill[${i}] is not finite`, { index: i });
    }
  }
  const out = new Float32Array(batch * c * hw);
  const kept = new Int32Array(k);
  let o = 0;
  for (let n = 0; n < batch; n++) {
    let j = 0;
    const mBase = n * hw;
    for (let i = 0; i < hw; i++) {
      if (mask[mBase + i] !== 0) {
        if (j === k) throw new CodecError(ErrorCodes.SHAPE_MISMATCH, `mask of item ${n} has more than ${k} positions`);
        kept[j++] = i;
      }
    }
    if (j !== k) throw new CodecError(ErrorCodes.SHAPE_MISMATCH, `mask of item ${n} has ${j} positions, expected ${k}`);
    for (let ch = 0; ch < c; ch++) {
      const base = (n * c + ch) * hw;
      if (fill !== undefined && k < hw) out.fill(fill[ch] as number, base, base + hw);
      for (let t = 0; t < k; t++) out[base + (kept[t] as number)] = values[o++] as number;
    }
  }
  return out;
}
