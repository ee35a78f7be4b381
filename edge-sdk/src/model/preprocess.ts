import { CodecError, ErrorCodes } from '../errors.js';
import type { Manifest } from './types.js';

/**
 * uint8 images -> the normalized float32 input of block 1, exactly as in training
 * (models/jmdc_models/data.py): pad by `pad` pixels of `padValue`, then (x/255 - mean) / std per channel.
 *
 * `images` holds `batch` images of the manifest's `sourceShape` (NCHW, e.g. 1x28x28), or of the padded
 * `shape` (then no padding is added).
 *
 * @example
 * const x = preprocess(manifest, pixels, 1) // Float32Array of 1*1*32*32
 */
export function preprocess(manifest: Manifest, images: Uint8Array, batch: number): Float32Array {
  const [c, h, w] = manifest.input.shape;
  const [, sh, sw] = manifest.input.sourceShape;
  const { mean, std, pad, padValue } = manifest.input.normalization;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `batch must be a positive integer, got ${batch}`);
  }
  let srcH: number;
  let srcW: number;
  let off: number;
  if (images.length === batch * c * sh * sw) {
    [srcH, srcW, off] = [sh, sw, pad];
  } else if (images.length === batch * c * h * w) {
    [srcH, srcW, off] = [h, w, 0];
  } else {
    throw new CodecError(
      ErrorCodes.SHAPE_MISMATCH,
      `expected ${batch} image(s) of ${c}x${sh}x${sw} (${batch * c * sh * sw} bytes) or ${c}x${h}x${w}, got ${images.length} bytes`,
      { expected: [batch, c, sh, sw], bytes: images.length },
    );
  }
  const out = new Float32Array(batch * c * h * w);
  const lut = new Float32Array(256 * c);
  for (let ch = 0; ch < c; ch++) {
    const m = Math.fround(mean[ch] ?? 0);
    const s = Math.fround(std[ch] ?? 1);
    for (let v = 0; v < 256; v++) lut[ch * 256 + v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
  }
  for (let n = 0; n < batch; n++) {
    for (let ch = 0; ch < c; ch++) {
      const plane = (n * c + ch) * h * w;
      const src = (n * c + ch) * srcH * srcW;
      const fillValue = lut[ch * 256 + padValue] ?? 0;
      if (off > 0) out.fill(fillValue, plane, plane + h * w);
      for (let y = 0; y < srcH; y++) {
        const row = plane + (y + off) * w + off;
        const srow = src + y * srcW;
        for (let x = 0; x < srcW; x++) out[row + x] = lut[ch * 256 + (images[srow + x] ?? 0)] ?? 0;
      }
    }
  }
  return out;
}
