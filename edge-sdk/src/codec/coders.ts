/**
 * The zlib-based coders (`deflate`: raw DEFLATE, RFC 1951; `brotli`: RFC 7932) and their bounded decoders.
 * Parameters were picked with `edge-sdk/bench/codec.bench.ts` (see docs/wire-format.md).
 */
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  deflateSync,
  inflateRawSync,
  inflateSync,
} from 'node:zlib';
import { CodecError, ErrorCodes } from '../errors.js';
import type { CoderId } from './types.js';

/**
 * zlib level of the `deflate` coder (and of raw `deflate` uploads). Measured on feature bodies of 0.8-13 KB:
 * level 4 is within 1.3% of level 9 in bytes and 1.2-30x faster.
 */
export const DEFLATE_LEVEL = 4;
/**
 * Brotli quality of the `brotli` coder. Measured on feature bodies of 0.8-13 KB: quality 4 was smaller than
 * 5-9 on every one (the higher qualities switch match finders) and 2-4x faster; 10-11 save 3-10% more but
 * take 1-17 ms.
 */
export const BROTLI_QUALITY = 4;

/** Wire ids of the coders (header byte 7). */
export const CODER_IDS: Readonly<Record<CoderId, number>> = Object.freeze({ none: 0, deflate: 1, brotli: 2, rans: 3 });
/** Coders by wire id. */
export const CODERS_BY_ID: readonly CoderId[] = Object.freeze(['none', 'deflate', 'brotli', 'rans'] as const);

function view(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Compresses with the `deflate` or `brotli` coder. */
export function zlibCompress(coder: 'deflate' | 'brotli', body: Uint8Array): Uint8Array {
  if (coder === 'deflate') return view(deflateRawSync(body, { level: DEFLATE_LEVEL }));
  return view(
    brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }),
  );
}

/** zlib-format (RFC 1950) DEFLATE, as PNG's IDAT needs. */
export function zlibStreamCompress(body: Uint8Array, level: number): Uint8Array {
  return view(deflateSync(body, { level }));
}

type Inflater = (buf: Uint8Array, opts: { maxOutputLength: number; info: true }) => unknown;

function bounded(inflate: Inflater, what: string, src: Uint8Array, expectedBytes: number): Uint8Array {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = inflate(src, { maxOutputLength: expectedBytes, info: true }) as typeof result;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CodecError(ErrorCodes.DECODED_TOO_LARGE, `${what} inflates past its declared ${expectedBytes} bytes`, {
        expectedBytes,
      });
    }
    throw new CodecError(ErrorCodes.CORRUPT_BODY, `${what} stream is corrupt`, { expectedBytes }, { cause: e });
  }
  if (result.buffer.byteLength !== expectedBytes) {
    throw new CodecError(ErrorCodes.CORRUPT_BODY, `${what} inflates to fewer bytes than declared`, {
      expectedBytes,
      actual: result.buffer.byteLength,
    });
  }
  if (result.engine.bytesWritten !== src.length) {
    throw new CodecError(ErrorCodes.CORRUPT_BODY, `${what} stream has trailing bytes`, {
      consumed: result.engine.bytesWritten,
      length: src.length,
    });
  }
  return view(result.buffer);
}

/**
 * Decompresses a `deflate`/`brotli` body that must inflate to exactly `expectedBytes` (>= 1). zlib stops at
 * `expectedBytes` (`maxOutputLength`), so a bomb never allocates more: `DECODED_TOO_LARGE` when the stream
 * holds more, `CORRUPT_BODY` when it is invalid, shorter, or followed by unused bytes.
 */
export function zlibDecompress(coder: 'deflate' | 'brotli', src: Uint8Array, expectedBytes: number): Uint8Array {
  return coder === 'deflate'
    ? bounded(inflateRawSync as unknown as Inflater, 'deflate', src, expectedBytes)
    : bounded(brotliDecompressSync as unknown as Inflater, 'brotli', src, expectedBytes);
}

/** Bounded zlib-format (RFC 1950) inflate, for PNG. Same errors as {@link zlibDecompress}. */
export function zlibStreamDecompress(src: Uint8Array, expectedBytes: number): Uint8Array {
  return bounded(inflateSync as unknown as Inflater, 'png zlib', src, expectedBytes);
}
