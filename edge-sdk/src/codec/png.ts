/**
 * Minimal PNG (ISO/IEC 15948) for raw uploads: 8-bit samples, no interlace; grayscale (C = 1),
 * gray + alpha (C = 2), RGB (C = 3), RGBA (C = 4). The encoder picks a filter per row by the usual
 * minimum-sum-of-absolute-differences heuristic; the decoder accepts all five filter types and validates
 * every chunk (lengths, CRCs, order, IHDR fields against the expected shape) before trusting it.
 * Images are passed planar (CHW, as in the NCHW batch) and interleaved only inside the PNG.
 */

import { CodecError, ErrorCodes } from '../errors.js';
import { concatBytes } from './bytes.js';
import { zlibStreamCompress, zlibStreamDecompress } from './coders.js';
import { crc32Update } from './crc32.js';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const COLOR_TYPE_BY_CHANNELS = [-1, 0, 4, 2, 6] as const;
/** zlib level for IDAT. */
export const PNG_ZLIB_LEVEL = 9;

function corrupt(message: string, details: Record<string, unknown> = {}): CodecError {
  return new CodecError(ErrorCodes.CORRUPT_BODY, `png: ${message}`, details);
}

function checkShape(channels: number, height: number, width: number): void {
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `png needs 1..4 channels, got ${channels}`, { channels });
  }
  if (
    !Number.isInteger(height) ||
    !Number.isInteger(width) ||
    height < 1 ||
    width < 1 ||
    height > 0x7fffffff ||
    width > 0x7fffffff
  ) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'png height and width must be positive integers', {
      height,
      width,
    });
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function writeU32BE(dst: Uint8Array, at: number, v: number): void {
  dst[at] = v >>> 24;
  dst[at + 1] = (v >>> 16) & 0xff;
  dst[at + 2] = (v >>> 8) & 0xff;
  dst[at + 3] = v & 0xff;
}

function readU32BE(src: Uint8Array, at: number): number {
  return (
    (((src[at] as number) << 24) |
      ((src[at + 1] as number) << 16) |
      ((src[at + 2] as number) << 8) |
      (src[at + 3] as number)) >>>
    0
  );
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  writeU32BE(out, 0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  writeU32BE(out, 8 + data.length, crc32Update(0, out, 4, 8 + data.length));
  return out;
}

/**
 * Encodes one planar (CHW) 8-bit image as PNG.
 *
 * @example
 * ```ts
 * const png = encodePng(pixels, 1, 28, 28); // grayscale 28x28
 * ```
 */
export function encodePng(image: Uint8Array, channels: number, height: number, width: number, offset = 0): Uint8Array {
  checkShape(channels, height, width);
  const plane = height * width;
  if (offset < 0 || offset + channels * plane > image.length) {
    throw new CodecError(ErrorCodes.SHAPE_MISMATCH, 'image is shorter than channels * height * width', {
      length: image.length,
    });
  }
  const stride = width * channels;
  const filtered = new Uint8Array(height * (1 + stride));
  let prev = new Uint8Array(stride);
  let row = new Uint8Array(stride);
  const cand = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) row[x * channels + c] = image[offset + c * plane + y * width + x] as number;
    }
    const base = y * (1 + stride);
    let bestCost = Number.POSITIVE_INFINITY;
    for (let f = 0; f <= 4; f++) {
      let cost = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= channels ? (row[i - channels] as number) : 0;
        const b = prev[i] as number;
        const cc = i >= channels ? (prev[i - channels] as number) : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >>> 1 : paeth(a, b, cc);
        const v = ((row[i] as number) - pred) & 0xff;
        cand[i] = v;
        cost += v < 128 ? v : 256 - v;
      }
      if (cost < bestCost) {
        bestCost = cost;
        filtered[base] = f;
        filtered.set(cand, base + 1);
      }
    }
    const t = prev;
    prev = row;
    row = t;
  }
  const ihdr = new Uint8Array(13);
  writeU32BE(ihdr, 0, width);
  writeU32BE(ihdr, 4, height);
  ihdr[8] = 8;
  ihdr[9] = COLOR_TYPE_BY_CHANNELS[channels] as number;
  return concatBytes([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlibStreamCompress(filtered, PNG_ZLIB_LEVEL)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * Decodes a PNG that must be exactly `channels` x `height` x `width` (8-bit, no interlace) into planar
 * CHW bytes, written to `out` at `outOffset` (a new array when omitted). Every defect throws
 * `CORRUPT_BODY`; an IDAT stream inflating past the image size throws `DECODED_TOO_LARGE`.
 *
 * @example
 * ```ts
 * const pixels = decodePng(png, 1, 28, 28);
 * ```
 */
export function decodePng(
  png: Uint8Array,
  channels: number,
  height: number,
  width: number,
  out?: Uint8Array,
  outOffset = 0,
): Uint8Array {
  checkShape(channels, height, width);
  const plane = height * width;
  const dst = out ?? new Uint8Array(channels * plane);
  if (outOffset < 0 || outOffset + channels * plane > dst.length) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'output buffer too small for the image');
  }
  const len = png.length;
  if (len < SIGNATURE.length) throw corrupt('shorter than the signature', { length: len });
  for (let i = 0; i < SIGNATURE.length; i++) if (png[i] !== SIGNATURE[i]) throw corrupt('bad signature');
  let pos = SIGNATURE.length;
  let sawHeader = false;
  let sawEnd = false;
  let idatState = 0; // 0 before, 1 inside the IDAT run, 2 after it
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  while (!sawEnd) {
    if (pos + 12 > len) throw corrupt('truncated chunk', { offset: pos });
    const dataLen = readU32BE(png, pos);
    if (dataLen > 0x7fffffff || dataLen > len - pos - 12)
      throw corrupt('chunk length past the end', { offset: pos, dataLen });
    let type = '';
    for (let i = 0; i < 4; i++) {
      const ch = png[pos + 4 + i] as number;
      if (!((ch >= 65 && ch <= 90) || (ch >= 97 && ch <= 122))) throw corrupt('invalid chunk type', { offset: pos });
      type += String.fromCharCode(ch);
    }
    const dataStart = pos + 8;
    const dataEnd = dataStart + dataLen;
    if (crc32Update(0, png, pos + 4, dataEnd) !== readU32BE(png, dataEnd))
      throw corrupt(`${type} chunk CRC mismatch`, { offset: pos });
    if (!sawHeader && type !== 'IHDR') throw corrupt('first chunk is not IHDR', { type });
    if (idatState === 1 && type !== 'IDAT') idatState = 2;
    switch (type) {
      case 'IHDR': {
        if (sawHeader) throw corrupt('second IHDR');
        if (dataLen !== 13) throw corrupt('IHDR length is not 13', { dataLen });
        sawHeader = true;
        const w = readU32BE(png, dataStart);
        const h = readU32BE(png, dataStart + 4);
        if (w !== width || h !== height)
          throw corrupt('IHDR size differs from the header dims', { w, h, width, height });
        if (png[dataStart + 8] !== 8) throw corrupt('bit depth is not 8', { bitDepth: png[dataStart + 8] });
        if (png[dataStart + 9] !== COLOR_TYPE_BY_CHANNELS[channels]) {
          throw corrupt('color type does not match the channel count', { colorType: png[dataStart + 9], channels });
        }
        if (png[dataStart + 10] !== 0 || png[dataStart + 11] !== 0)
          throw corrupt('unknown compression or filter method');
        if (png[dataStart + 12] !== 0) throw corrupt('interlaced images are not supported');
        break;
      }
      case 'PLTE':
        // a suggested palette is legal for truecolor (C = 3, 4) before IDAT; it is ignored
        if (
          (channels !== 3 && channels !== 4) ||
          idatState !== 0 ||
          dataLen % 3 !== 0 ||
          dataLen === 0 ||
          dataLen > 768
        ) {
          throw corrupt('unexpected PLTE chunk');
        }
        break;
      case 'IDAT':
        if (idatState === 2) throw corrupt('IDAT chunks are not consecutive');
        idatState = 1;
        idat.push(png.subarray(dataStart, dataEnd));
        idatBytes += dataLen;
        break;
      case 'IEND':
        if (dataLen !== 0) throw corrupt('IEND has data');
        sawEnd = true;
        break;
      default:
        // bit 5 of the first letter clear (uppercase) = critical: an unknown one cannot be ignored
        if (((png[pos + 4] as number) & 0x20) === 0) throw corrupt(`unknown critical chunk ${type}`);
    }
    pos = dataEnd + 4;
  }
  if (pos !== len) throw corrupt('bytes after IEND', { extra: len - pos });
  if (idat.length === 0) throw corrupt('no IDAT chunk');
  let zdata: Uint8Array;
  if (idat.length === 1) zdata = idat[0] as Uint8Array;
  else {
    zdata = new Uint8Array(idatBytes);
    let at = 0;
    for (const part of idat) {
      zdata.set(part, at);
      at += part.length;
    }
  }
  const stride = width * channels;
  const raw = zlibStreamDecompress(zdata, height * (1 + stride));
  // unfilter in place, row by row
  for (let y = 0; y < height; y++) {
    const base = y * (1 + stride);
    const f = raw[base] as number;
    const cur = base + 1;
    const up = cur - (1 + stride);
    switch (f) {
      case 0:
        break;
      case 1:
        for (let i = channels; i < stride; i++)
          raw[cur + i] = ((raw[cur + i] as number) + (raw[cur + i - channels] as number)) & 0xff;
        break;
      case 2:
        if (y > 0)
          for (let i = 0; i < stride; i++) raw[cur + i] = ((raw[cur + i] as number) + (raw[up + i] as number)) & 0xff;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= channels ? (raw[cur + i - channels] as number) : 0;
          const b = y > 0 ? (raw[up + i] as number) : 0;
          raw[cur + i] = ((raw[cur + i] as number) + ((a + b) >>> 1)) & 0xff;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= channels ? (raw[cur + i - channels] as number) : 0;
          const b = y > 0 ? (raw[up + i] as number) : 0;
          const c = y > 0 && i >= channels ? (raw[up + i - channels] as number) : 0;
          raw[cur + i] = ((raw[cur + i] as number) + paeth(a, b, c)) & 0xff;
        }
        break;
      default:
        throw corrupt('unknown filter type', { row: y, filter: f });
    }
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++)
        dst[outOffset + c * plane + y * width + x] = raw[cur + x * channels + c] as number;
    }
  }
  return dst;
}
