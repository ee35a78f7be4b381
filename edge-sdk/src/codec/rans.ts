/**
 * The `rans` coder: a byte-wise rANS (32-bit state) driven by an adaptive order-0 model over the b-bit
 * symbols, decomposed as a binary tree (as in LZMA's bit trees): a symbol is coded as its b bits, MSB
 * first, and bit j is coded with the probability held by the tree node reached by the bits above it
 * (2^b - 1 nodes; node 1 is the root, node n's children are 2n and 2n+1). That is exactly an adaptive
 * distribution over the 2^b symbols, updated in O(b) per symbol.
 *
 * Model: each node holds P(bit = 0) in 15 bits (32768 = 1), starting at 1/2, and a saturating count n.
 * After each bit it moves toward the bit by 1 / 2^shift(n), shift(n) = clamp(round(log2(n + 2)), 1, 5):
 * about a frequency count for the first bits of a node, then exponential forgetting.
 * P stays in [1, 32767], so both bits always have a nonzero frequency.
 *
 * rANS (Duda; layout of ryg_rans): state x in [2^23, 2^31); to code a bit with frequency f and start c
 * (bit 0: c = 0, f = P; bit 1: c = P, f = 32768 - P) the encoder first emits the low byte of x while
 * x >= 2^16 * f, then x = floor(x / f) * 32768 + (x mod f) + c. The encoder runs over the decisions in
 * reverse (the model pass runs forward first and records each P), so the decoder runs forward:
 * slot = x mod 32768, bit = slot >= P, x = f * (x >> 15) + slot - c, then reads bytes while x < 2^23.
 *
 * Sections: the coder carries a whole features body, in body order, through one rANS stream:
 *   1. the kept-position mask, N*H*W binary symbols with one adaptive context (absent when k = H*W);
 *   2. the (min, scale) bytes as laid out in the body, each byte an 8-bit symbol whose context is
 *      (min or scale) x (byte index within the f16/f32 value): 2 * width bit trees;
 *   3. the N*k*C codes as b-bit symbols with one b-bit tree.
 *
 * Stream: u32 LE final encoder state, then the emitted bytes in decoding order. The encoder starts from
 * x = 2^23, so a complete, untampered stream ends with x = 2^23 exactly when its last byte is consumed:
 * the decoder checks both and throws `CORRUPT_BODY` otherwise.
 */
import { CodecError, ErrorCodes } from '../errors.js';

const PROB_BITS = 15;
const PROB_ONE = 1 << PROB_BITS;
const SLOT_MASK = PROB_ONE - 1;
const RANS_L = 1 << 23;
const RANS_HIGH = 2 ** 31;
/** x_max / f: (RANS_L >> PROB_BITS) << 8. */
const X_MAX_UNIT = (RANS_L >>> PROB_BITS) << 8;
/** Largest adaptation shift (slowest rate). */
export const RANS_MAX_SHIFT = 5;

const SHIFT = (() => {
  const t = new Uint8Array(256);
  for (let n = 0; n < 256; n++) t[n] = Math.min(RANS_MAX_SHIFT, Math.max(1, Math.round(Math.log2(n + 2))));
  return t;
})();

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `bits must be an integer 1..8, got ${bits}`, { bits });
  }
}

/** The three sections of a features body (see the module comment). */
export interface RansSections {
  /** 0/1 per position (N*H*W), or empty. */
  mask: Uint8Array;
  /** The min/scale bytes exactly as in the uncompressed body. */
  params: Uint8Array;
  /** Bytes per min or scale: 2 (f16) or 4 (f32). */
  paramWidth: number;
  /** b-bit codes. */
  codes: Uint8Array;
  bits: number;
}

/** Sizes the decoder needs to split the stream back into sections (all from the validated header). */
export interface RansShape {
  maskCount: number;
  paramBytes: number;
  paramWidth: number;
  codeCount: number;
  bits: number;
}

/** Node offsets of the bit trees in one probability array: mask (2), 2*width byte trees (256 each), codes. */
function treeLayout(paramWidth: number, bits: number): { params: number; codes: number; total: number } {
  const params = 2;
  const codes = params + 2 * paramWidth * 256;
  return { params, codes, total: codes + (1 << bits) };
}

let probScratch = new Uint16Array(0);
let bitScratch = new Uint8Array(0);

/**
 * Encodes the sections of a features body into one rANS stream.
 *
 * @example
 * ```ts
 * const stream = ransEncodeSections({ mask, params, paramWidth: 2, codes, bits: 4 });
 * ```
 */
export function ransEncodeSections(s: RansSections): Uint8Array {
  const { mask, params, paramWidth, codes, bits } = s;
  checkBits(bits);
  if (paramWidth !== 2 && paramWidth !== 4) throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'paramWidth must be 2 or 4');
  const decisions = mask.length + 8 * params.length + bits * codes.length;
  if (probScratch.length < decisions) {
    const size = Math.max(decisions, 2 * probScratch.length);
    probScratch = new Uint16Array(size);
    bitScratch = new Uint8Array(size);
  }
  const probs = probScratch;
  const bitLog = bitScratch;
  const trees = treeLayout(paramWidth, bits);
  const p0 = new Uint16Array(trees.total).fill(PROB_ONE >>> 1);
  const seen = new Uint8Array(trees.total);

  // forward: the model pass records P(bit = 0) and the bit of each decision
  let t = 0;
  for (let i = 0; i < mask.length; i++) {
    const bit = (mask[i] as number) === 0 ? 0 : 1;
    const p = p0[1] as number;
    probs[t] = p;
    bitLog[t++] = bit;
    const n = seen[1] as number;
    const sh = SHIFT[n] as number;
    p0[1] = bit === 0 ? p + ((PROB_ONE - p) >>> sh) : p - (p >>> sh);
    if (n < 255) seen[1] = n + 1;
  }
  const half = params.length >>> 1;
  for (let i = 0; i < params.length; i++) {
    const base = trees.params + 256 * ((i < half ? 0 : paramWidth) + (i % paramWidth));
    const v = params[i] as number;
    let node = 1;
    for (let j = 7; j >= 0; j--) {
      const bit = (v >>> j) & 1;
      const idx = base + node;
      const p = p0[idx] as number;
      probs[t] = p;
      bitLog[t++] = bit;
      const n = seen[idx] as number;
      const sh = SHIFT[n] as number;
      p0[idx] = bit === 0 ? p + ((PROB_ONE - p) >>> sh) : p - (p >>> sh);
      if (n < 255) seen[idx] = n + 1;
      node = (node << 1) | bit;
    }
  }
  const symMask = (1 << bits) - 1;
  const cb = trees.codes;
  for (let i = 0; i < codes.length; i++) {
    const v = (codes[i] as number) & symMask;
    let node = 1;
    for (let j = bits - 1; j >= 0; j--) {
      const bit = (v >>> j) & 1;
      const idx = cb + node;
      const p = p0[idx] as number;
      probs[t] = p;
      bitLog[t++] = bit;
      const n = seen[idx] as number;
      const sh = SHIFT[n] as number;
      p0[idx] = bit === 0 ? p + ((PROB_ONE - p) >>> sh) : p - (p >>> sh);
      if (n < 255) seen[idx] = n + 1;
      node = (node << 1) | bit;
    }
  }

  // reverse: rANS encoding, bytes written from the end of `out` toward its start
  let out = new Uint8Array(Math.ceil(decisions / 8) + 16);
  let pos = out.length;
  let x = RANS_L;
  while (t > 0) {
    if (pos < 64) {
      const grown = new Uint8Array(out.length * 2 + 64);
      grown.set(out.subarray(pos), grown.length - (out.length - pos));
      pos += grown.length - out.length;
      out = grown;
    }
    // at most 2 bytes per decision: 16 decisions per growth check
    const stop = t > 16 ? t - 16 : 0;
    while (t > stop) {
      const p = probs[--t] as number;
      let start: number;
      let freq: number;
      if (bitLog[t] === 0) {
        start = 0;
        freq = p;
      } else {
        start = p;
        freq = PROB_ONE - p;
      }
      const xMax = X_MAX_UNIT * freq;
      while (x >= xMax) {
        out[--pos] = x & 0xff;
        x >>= 8;
      }
      // x < 2^31 and freq < 2^15: int32 division, and the result stays below 2^31
      const q = (x / freq) | 0;
      x = (q << PROB_BITS) + (x - q * freq) + start;
    }
  }
  if (pos < 4) {
    const grown = new Uint8Array(out.length + 4);
    grown.set(out.subarray(pos), grown.length - (out.length - pos));
    pos += 4;
    out = grown;
  }
  pos -= 4;
  out[pos] = x & 0xff;
  out[pos + 1] = (x >>> 8) & 0xff;
  out[pos + 2] = (x >>> 16) & 0xff;
  out[pos + 3] = (x >>> 24) & 0xff;
  return out.subarray(pos);
}

function corrupt(message: string, details: Record<string, unknown> = {}): CodecError {
  return new CodecError(ErrorCodes.CORRUPT_BODY, `rans: ${message}`, details);
}

/**
 * Decodes a complete stream of {@link ransEncodeSections} given the section sizes.
 * Throws `CORRUPT_BODY` if the stream ends early, has bytes left over, or does not end in the initial state.
 *
 * @example
 * ```ts
 * const { mask, params, codes } = ransDecodeSections(stream, { maskCount, paramBytes, paramWidth: 2, codeCount, bits: 4 });
 * ```
 */
export function ransDecodeSections(src: Uint8Array, shape: RansShape): { mask: Uint8Array; params: Uint8Array; codes: Uint8Array } {
  const { maskCount, paramBytes, paramWidth, codeCount, bits } = shape;
  checkBits(bits);
  if (paramWidth !== 2 && paramWidth !== 4) throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'paramWidth must be 2 or 4');
  const len = src.length;
  if (len < 4) throw corrupt('stream shorter than its 4-byte state', { length: len });
  let x = ((src[0] as number) | ((src[1] as number) << 8) | ((src[2] as number) << 16) | ((src[3] as number) << 24)) >>> 0;
  if (x < RANS_L || x >= RANS_HIGH) throw corrupt('initial state out of range', { state: x });
  let p = 4;
  const trees = treeLayout(paramWidth, bits);
  const p0 = new Uint16Array(trees.total).fill(PROB_ONE >>> 1);
  const seen = new Uint8Array(trees.total);
  const bit = (idx: number): number => {
    const pr = p0[idx] as number;
    const slot = x & SLOT_MASK;
    const n = seen[idx] as number;
    const sh = SHIFT[n] as number;
    let b: number;
    if (slot < pr) {
      b = 0;
      x = pr * (x >>> PROB_BITS) + slot;
      p0[idx] = pr + ((PROB_ONE - pr) >>> sh);
    } else {
      b = 1;
      x = (PROB_ONE - pr) * (x >>> PROB_BITS) + slot - pr;
      p0[idx] = pr - (pr >>> sh);
    }
    if (n < 255) seen[idx] = n + 1;
    while (x < RANS_L) {
      if (p >= len) throw corrupt('stream ended early');
      x = (x << 8) | (src[p++] as number);
    }
    return b;
  };
  const mask = new Uint8Array(maskCount);
  for (let i = 0; i < maskCount; i++) mask[i] = bit(1);
  const params = new Uint8Array(paramBytes);
  const half = paramBytes >>> 1;
  for (let i = 0; i < paramBytes; i++) {
    const base = trees.params + 256 * ((i < half ? 0 : paramWidth) + (i % paramWidth));
    let node = 1;
    for (let j = 0; j < 8; j++) node = (node << 1) | bit(base + node);
    params[i] = node - 256;
  }
  const codes = new Uint8Array(codeCount);
  const nodes = 1 << bits;
  const cb = trees.codes;
  for (let i = 0; i < codeCount; i++) {
    let node = 1;
    for (let j = 0; j < bits; j++) {
      const idx = cb + node;
      const pr = p0[idx] as number;
      const slot = x & SLOT_MASK;
      const n = seen[idx] as number;
      const sh = SHIFT[n] as number;
      let b: number;
      if (slot < pr) {
        b = 0;
        x = pr * (x >>> PROB_BITS) + slot;
        p0[idx] = pr + ((PROB_ONE - pr) >>> sh);
      } else {
        b = 1;
        x = (PROB_ONE - pr) * (x >>> PROB_BITS) + slot - pr;
        p0[idx] = pr - (pr >>> sh);
      }
      if (n < 255) seen[idx] = n + 1;
      while (x < RANS_L) {
        if (p >= len) throw corrupt('stream ended early', { symbol: i });
        x = (x << 8) | (src[p++] as number);
      }
      node = (node << 1) | b;
    }
    codes[i] = node - nodes;
  }
  if (x !== RANS_L || p !== len) throw corrupt('stream does not end in the initial state', { state: x, left: len - p });
  return { mask, params, codes };
}

const EMPTY = new Uint8Array(0);

/**
 * Encodes b-bit symbols alone (no mask, no parameters) into a rANS stream.
 *
 * @example
 * ```ts
 * const stream = ransEncode(codes, 4);
 * ransDecode(stream, 4, codes.length); // equals codes
 * ```
 */
export function ransEncode(symbols: Uint8Array, bits: number): Uint8Array {
  return ransEncodeSections({ mask: EMPTY, params: EMPTY, paramWidth: 2, codes: symbols, bits });
}

/**
 * Decodes `count` b-bit symbols from a stream of {@link ransEncode}.
 *
 * @example
 * ```ts
 * const codes = ransDecode(stream, 4, 1024);
 * ```
 */
export function ransDecode(src: Uint8Array, bits: number, count: number): Uint8Array {
  return ransDecodeSections(src, { maskCount: 0, paramBytes: 0, paramWidth: 2, codeCount: count, bits }).codes;
}
