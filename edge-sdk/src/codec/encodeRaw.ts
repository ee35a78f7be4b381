import { deflateRawSync } from 'node:zlib';
import { CodecError, ErrorCodes } from '../errors.js';
import { DEFLATE_LEVEL } from './coders.js';
import { encodeModelRef, frameBytesV2, RAW_FORMAT_IDS, writeFrame } from './header.js';
import { encodePng } from './png.js';
import type { RawEncodeOptions, RawFormat } from './types.js';

function isU16Positive(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0xffff;
}

/**
 * Exact bytes of the payload {@link encodeRaw} writes for format `'raw'` in the default (version 2) frame:
 * the header (fixed part, the varints of C, H, W, N and the body length, the CRC) plus N*C*H*W pixel bytes.
 * The size does not depend on the pixels or on the model.
 *
 * @example
 * rawPayloadBytes([1, 28, 28]) // 807 = 23 header bytes + 784 pixels
 */
export function rawPayloadBytes(dims: readonly [number, number, number], batch = 1): number {
  const [c, h, w] = dims;
  return frameBytesV2({ dims: [c, h, w], batch, flags: 0, keepCount: 0 }, batch * c * h * w);
}

/**
 * Frames a batch of 8-bit images (NCHW, `dims = [C, H, W]`) for a cloud-only request (partition point 0).
 * Formats: `'raw'` (the bytes as they are), `'png'` (one PNG per item, C = 1..4, each prefixed by its u32 LE
 * length), `'deflate'` (raw DEFLATE of the whole batch).
 * Throws `CodecError`: `SHAPE_MISMATCH` (length vs dims), `INVALID_ARGUMENT`.
 *
 * @example
 * ```ts
 * const payload = encodeRaw(pixels, [1, 28, 28], 4, { model: { id: 'fmnist-vgg16', hash }, format: 'png' });
 * ```
 */
export function encodeRaw(
  images: Uint8Array,
  dims: readonly [number, number, number],
  batch: number,
  opts: RawEncodeOptions,
): Uint8Array {
  if (!(images instanceof Uint8Array)) throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'images must be a Uint8Array');
  if (!Array.isArray(dims) || dims.length !== 3 || !dims.every(isU16Positive)) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'dims must be [C, H, W], each an integer 1..65535', { dims });
  }
  if (!isU16Positive(batch))
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'batch must be an integer 1..65535', { batch });
  if (opts === null || typeof opts !== 'object')
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'options are required');
  const format: RawFormat = opts.format ?? 'png';
  if (!Object.hasOwn(RAW_FORMAT_IDS, format)) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `unknown raw format ${String(format)}`, { format });
  }
  const [c, h, w] = dims;
  const itemBytes = c * h * w;
  if (images.length !== batch * itemBytes) {
    throw new CodecError(
      ErrorCodes.SHAPE_MISMATCH,
      `images has ${images.length} bytes, N*C*H*W = ${batch * itemBytes}`,
      {
        length: images.length,
        expected: batch * itemBytes,
      },
    );
  }
  if (images.length > 0xffffffff) throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'batch too large for one payload');
  if (format === 'png' && c > 4)
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `png needs 1..4 channels, got ${c}`, { c });
  const frameVersion = opts.frameVersion ?? 2;
  if (frameVersion !== 1 && frameVersion !== 2) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `frameVersion must be 1 or 2, got ${String(frameVersion)}`, {
      frameVersion,
    });
  }
  const model = encodeModelRef(opts.model);

  let body: Uint8Array;
  if (format === 'raw') body = images;
  else if (format === 'deflate') {
    const buf = deflateRawSync(images, { level: DEFLATE_LEVEL });
    body = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } else {
    const pngs: Uint8Array[] = [];
    let total = 0;
    for (let n = 0; n < batch; n++) {
      const png = encodePng(images, c, h, w, n * itemBytes);
      pngs.push(png);
      total += 4 + png.length;
    }
    body = new Uint8Array(total);
    const dv = new DataView(body.buffer);
    let at = 0;
    for (const png of pngs) {
      dv.setUint32(at, png.length, true);
      body.set(png, at + 4);
      at += 4 + png.length;
    }
  }
  return writeFrame(
    {
      version: frameVersion,
      kind: 'raw',
      flags: 0,
      coder: 'none',
      mode: RAW_FORMAT_IDS[format],
      bits: 8,
      point: 0,
      variantPercent: 0,
      dims: [c, h, w],
      batch,
      keepCount: 0,
      valueCount: images.length,
      rawBodyBytes: images.length,
      modelId: model.id,
      modelHash: model.hash,
    },
    body,
  );
}
