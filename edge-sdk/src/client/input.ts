import { CodecError, ErrorCodes } from '../errors.js';
import type { Manifest } from '../model/types.js';
import type { ImageInput } from '../types/classify.js';

/**
 * A validated batch: the images concatenated, and their [C, H, W] (source or padded shape).
 *
 * @example
 * const { pixels, batch, dims } = toImageBatch([img1, img2], manifest, 64) // batch 2, dims [1, 28, 28]
 */
export interface ImageBatch {
  pixels: Uint8Array;
  batch: number;
  dims: [number, number, number];
}

function toBytes(img: unknown, index: number): Uint8Array {
  if (img instanceof Uint8Array) return img;
  const isArrayLike =
    Array.isArray(img) ||
    (ArrayBuffer.isView(img) && !(img instanceof DataView)) ||
    (typeof img === 'object' && img !== null && typeof (img as { length?: unknown }).length === 'number');
  if (!isArrayLike) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `image ${index} must be a Uint8Array or an array of 0..255`, {
      index,
    });
  }
  const a = img as ArrayLike<number>;
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new CodecError(ErrorCodes.NON_FINITE, `image ${index} has a non-finite value at ${i}`, { index, at: i });
    }
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `image ${index} has ${v} at ${i}; pixels are integers 0..255`, {
        index,
        at: i,
      });
    }
    out[i] = v;
  }
  return out;
}

/**
 * Validates one image or a batch against the model's input shape, before anything runs or is sent:
 * `JMDC_ERR_INVALID_ARGUMENT` (empty batch, not pixels), `JMDC_ERR_NON_FINITE` (NaN/Infinity),
 * `JMDC_ERR_SHAPE_MISMATCH` (wrong size), `JMDC_ERR_BATCH_OUT_OF_RANGE` (more than `maxBatch`).
 *
 * @example
 * const { pixels, batch } = toImageBatch([img1, img2], manifest, 64)
 */
export function toImageBatch(input: ImageInput, manifest: Manifest, maxBatch: number): ImageBatch {
  const [c, sh, sw] = manifest.input.sourceShape;
  const [, h, w] = manifest.input.shape;
  const source = c * sh * sw;
  const padded = c * h * w;
  if (input === null || input === undefined) throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'no image given');
  const list: unknown[] =
    Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number' ? input : [input as unknown];
  if (Array.isArray(input) && input.length === 0) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'empty batch: give at least one image');
  }
  if (list.length > maxBatch) {
    throw new CodecError(ErrorCodes.BATCH_OUT_OF_RANGE, `batch of ${list.length} images; at most ${maxBatch}`, {
      batch: list.length,
      max: maxBatch,
    });
  }
  const images = list.map(toBytes);
  const size = images[0]?.length ?? 0;
  if (size !== source && size !== padded) {
    throw new CodecError(
      ErrorCodes.SHAPE_MISMATCH,
      `an image must have ${source} bytes (${c}x${sh}x${sw})${padded !== source ? ` or ${padded} (${c}x${h}x${w})` : ''}, got ${size}`,
      { expected: [c, sh, sw], bytes: size },
    );
  }
  images.forEach((img, i) => {
    if (img.length !== size) {
      throw new CodecError(ErrorCodes.SHAPE_MISMATCH, `image ${i} has ${img.length} bytes, image 0 has ${size}`, {
        index: i,
      });
    }
  });
  const pixels = images.length === 1 ? (images[0] as Uint8Array) : new Uint8Array(size * images.length);
  if (images.length > 1) {
    images.forEach((img, i) => {
      pixels.set(img, i * size);
    });
  }
  return { pixels, batch: images.length, dims: size === source ? [c, sh, sw] : [c, h, w] };
}
