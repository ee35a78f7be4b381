/**
 * The `rans` coder: one byte-wise rANS stream (32-bit state) carrying a whole features body with adaptive
 * order-0 models. See docs/wire-format.md, "rans".
 *
 * rANS (Duda; the layout of ryg_rans): state x in [2^23, 2^31), probabilities in 15 bits (M = 32768). To code
 * a symbol with frequency f and cumulative start c, the encoder emits the low byte of x while x >= 2^16 * f,
 * then sets x = floor(x / f) * M + (x mod f) + c. The encoder walks the symbols in reverse (a forward model
 * pass records each (c, f) first), so the decoder walks forward: slot = x mod M, find the symbol whose
 * [c, c + f) holds slot, x = f * (x >> 15) + slot - c, then read bytes while x < 2^23.
 *
 * Sections, in body order:
 *   1. the kept-position mask, N*H*W binary symbols, one adaptive binary context (absent when k = H*W);
 *   2. the (min, scale) bytes exactly as in the uncompressed body, each byte coded MSB first as 8 binary
 *      decisions down a bit tree (LZMA-style); the tree is chosen by (min or scale) x (byte index within
 *      the f16/f32 value): 2 * width trees of 255 nodes;
 *   3. the N*k*C b-bit codes with an adaptive frequency model over the 2^b symbols (below).
 *
 * Binary contexts (sections 1, 2): P(bit = 0) in 15 bits, starting at 1/2, and a saturating count n; after
 * each bit P moves toward it by 1 / 2^shift(n), shift(n) = clamp(round(log2(n + 2)), 1, 5): about a
 * frequency count for the first bits, then exponential forgetting. P stays in [1, 32767].
 *
 * Code model (section 3): counts start at 1 for each of the 2^b symbols and grow by 1 per coded symbol.
 * Frequencies are rebuilt from the counts before symbol 0 and then after epochs of 16, 32, 64, ... symbols
 * (at most 1024): f[s] = max(1, floor(count[s] * M / total)), and the rounding difference goes to the
 * first symbol of largest frequency (M = 2^15 >= 2^b squared keeps it positive). When the total passes
 * 2^16 at a rebuild, every count is halved (rounding up) first, so the model keeps adapting.
 *
 * Stream: u32 LE final encoder state, then the emitted bytes in decoding order. The encoder starts from
 * x = 2^23, so a complete, untampered stream ends with x = 2^23 exactly when its last byte is consumed:
 * the decoder checks both and throws `CORRUPT_BODY` otherwise.
 *
 * Version 2 (wire format 2, selected by {@link RansContext}) changes three models and the initial state:
 *   1. bitmap: binary context = left bit + 2 * upper bit (0 off the map); a position whose value the keep count
 *      already decides (no ones left to place, or as many ones left as positions) is not coded;
 *   2. parameters: the same trees, except that the first min byte (index 0) and the first scale byte (index
 *      G*w) are not coded: the encoder starts from x = 2^23 + byte0 + 256 * byteHalf instead of 2^23, so they
 *      ride in the 32-bit state that every stream flushes anyway (the stream ends in that state, which the
 *      decoder checks to be below 2^23 + 2^16 and reads them from);
 *   3. codes: each b-bit code is coded MSB first down a bit tree of binary contexts (the same adaptation as
 *      sections 1 and 2); the tree's first three levels are chosen by the context
 *      4 * class(left) + class(upper), where left/upper are the codes of the same channel at the kept positions
 *      x - 1 and y - 1 of the same item, class = 0 when that position is dropped or off the map, else
 *      1 + min(code, 2); deeper levels (b >= 4) share one tree.
 */
import { CodecError, ErrorCodes } from '../errors.js';

const PROB_BITS = 15;
const PROB_ONE = 1 << PROB_BITS;
const SLOT_MASK = PROB_ONE - 1;
const RANS_L = 1 << 23;
const RANS_HIGH = 2 ** 31;
/** x_max / f: (RANS_L >> PROB_BITS) << 8. */
const X_MAX_UNIT = (RANS_L >>> PROB_BITS) << 8;
/** The decoder finds a code from a table of 2^15 >> 8 = 128 buckets, then a short upward scan. */
const BUCKET_SHIFT = 8;
/** Largest adaptation shift (slowest rate) of the binary contexts. */
export const RANS_MAX_SHIFT = 5;
/** First epoch length of the code model; epochs double up to {@link RANS_MAX_EPOCH}. */
export const RANS_FIRST_EPOCH = 16;
export const RANS_MAX_EPOCH = 1024;
/** Count total above which the code model halves its counts at a rebuild. */
export const RANS_COUNT_LIMIT = 1 << 16;

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

/**
 * The geometry that selects the version 2 context models (wire format version 2): with it the bitmap is coded
 * with its left and upper neighbours as context (and positions the keep count already decides are not coded),
 * and the codes as bit trees whose context is the quantized codes of the left and upper kept neighbours in the
 * same channel. Without it, the version 1 models.
 */
export interface RansContext {
  /** `[C, H, W]` of one item. */
  dims: readonly [number, number, number];
  batch: number;
  /** Kept positions per item. */
  keepCount: number;
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
  /** The version 2 context models; absent: version 1. */
  context?: RansContext;
}

/** Sizes the decoder needs to split the stream back into sections (all from the validated header). */
export interface RansShape {
  maskCount: number;
  paramBytes: number;
  paramWidth: number;
  codeCount: number;
  bits: number;
  /** The version 2 context models; absent: version 1. */
  context?: RansContext;
}

/** Version 2: binary contexts of the bitmap (left bit + 2 * upper bit). */
const V2_MASK_CONTEXTS = 4;
/** Version 2: code contexts: 4 classes (absent, 0, 1, >= 2) of the left neighbour x 4 of the upper one. */
const V2_CODE_CONTEXTS = 16;
/**
 * Version 2: the code context selects the nodes of the first 3 levels of the bit tree (nodes 1..7); deeper
 * nodes (b >= 4) are shared by all contexts. Measured on real features: the same bytes as contexts on every
 * level for b <= 3, and 1.1% fewer code bytes at b = 4 (the low bits barely depend on the neighbours).
 */
const V2_CONTEXT_NODES = 8;

/** Binary context slots of the version 2 code trees for b-bit codes. */
function v2CodeNodes(symbols: number): number {
  return V2_CODE_CONTEXTS * V2_CONTEXT_NODES + symbols;
}

/** The slot of node `node` (1..2^b - 1) of the code tree under context `ctx`, from the code section's base. */
function v2CodeNode(ctx: number, node: number): number {
  return node < V2_CONTEXT_NODES ? ctx * V2_CONTEXT_NODES + node : V2_CODE_CONTEXTS * V2_CONTEXT_NODES + node;
}

/** The class of a neighbour's code for the version 2 code context: 0 absent (not kept / off the map), 1 + min(v, 2). */
function neighbourClass(v: number): number {
  return v < 0 ? 0 : v > 2 ? 3 : v + 1;
}

/**
 * Per item, the index j of each position among the kept ones (-1 when dropped): the codes of channel ch are
 * codes[(n * C + ch) * k + j].
 */
function keptIndex(mask: Uint8Array, n: number, hw: number, all: boolean, out: Int32Array): void {
  let j = 0;
  for (let i = 0; i < hw; i++) out[i] = all || mask[n * hw + i] === 1 ? j++ : -1;
}

/**
 * Calls `visit(ctx, code index)` for every code in order, with its version 2 context (0..15), from the mask
 * (empty when every position is kept) and the codes coded so far. The encoder passes all codes; the decoder
 * fills `codes` inside `visit` before the next call.
 */
function forEachCodeContext(
  c: RansContext,
  mask: Uint8Array,
  codes: Uint8Array,
  visit: (ctx: number, i: number) => void,
): void {
  const [ch, h, w] = c.dims;
  const hw = h * w;
  const k = c.keepCount;
  const all = mask.length === 0;
  const index = new Int32Array(hw);
  const positions = new Int32Array(k);
  let i = 0;
  for (let n = 0; n < c.batch; n++) {
    keptIndex(mask, n, hw, all, index);
    for (let p = 0, j = 0; p < hw; p++) if ((index[p] as number) >= 0) positions[j++] = p;
    for (let cc = 0; cc < ch; cc++) {
      const base = (n * ch + cc) * k;
      for (let j = 0; j < k; j++) {
        const p = positions[j] as number;
        const x = p % w;
        const left = x > 0 ? (index[p - 1] as number) : -1;
        const up = p >= w ? (index[p - w] as number) : -1;
        const l = left < 0 ? 0 : neighbourClass(codes[base + left] as number);
        const u = up < 0 ? 0 : neighbourClass(codes[base + up] as number);
        visit(l * 4 + u, i++);
      }
    }
  }
}

/**
 * Calls `visit(ctx, position)` for every bitmap position that is coded in version 2, in order: the context is
 * the left bit + 2 * the upper bit (0 off the map); a position whose value the keep count already decides (no
 * ones left, or as many ones left as positions) is not coded and gets that value. `mask` is read for the
 * neighbours and, through `decide`, written for the decided positions.
 */
function forEachMaskContext(
  c: RansContext,
  mask: Uint8Array,
  visit: (ctx: number, i: number) => void,
  decide: (i: number, bit: number) => void,
): void {
  const [, h, w] = c.dims;
  const hw = h * w;
  for (let n = 0; n < c.batch; n++) {
    let ones = 0;
    for (let p = 0; p < hw; p++) {
      const i = n * hw + p;
      const left = c.keepCount - ones;
      if (left === 0 || left === hw - p) {
        decide(i, left === 0 ? 0 : 1);
      } else {
        const l = p % w > 0 ? (mask[i - 1] as number) : 0;
        const u = p >= w ? (mask[i - w] as number) : 0;
        visit(l + 2 * u, i);
      }
      ones += mask[i] as number;
    }
  }
}

/** Adaptive frequency model of the codes (section 3), identical on both sides. */
class CodeModel {
  readonly counts: Uint32Array;
  readonly freq: Uint16Array;
  /** cum[s] = sum of freq[0..s); cum[2^b] = M. */
  readonly cum: Uint32Array;
  total: number;
  nextRebuild = 0;
  epoch = RANS_FIRST_EPOCH;

  constructor(readonly symbols: number) {
    this.counts = new Uint32Array(symbols).fill(1);
    this.freq = new Uint16Array(symbols);
    this.cum = new Uint32Array(symbols + 1);
    this.total = symbols;
  }

  /** Recomputes freq/cum from the counts and schedules the next rebuild after symbol `i`. */
  rebuild(i: number): void {
    const { counts, freq, cum, symbols } = this;
    if (this.total > RANS_COUNT_LIMIT) {
      let t = 0;
      for (let s = 0; s < symbols; s++) {
        const c = ((counts[s] as number) + 1) >>> 1;
        counts[s] = c;
        t += c;
      }
      this.total = t;
    }
    const total = this.total;
    let sum = 0;
    let best = 0;
    for (let s = 0; s < symbols; s++) {
      const f = Math.max(1, Math.floor(((counts[s] as number) * PROB_ONE) / total));
      freq[s] = f;
      sum += f;
      if (f > (freq[best] as number)) best = s;
    }
    freq[best] = (freq[best] as number) + PROB_ONE - sum;
    let c = 0;
    for (let s = 0; s < symbols; s++) {
      cum[s] = c;
      c += freq[s] as number;
    }
    cum[symbols] = c;
    this.nextRebuild = i + this.epoch;
    if (this.epoch < RANS_MAX_EPOCH) this.epoch *= 2;
  }
}

/** Node offsets of the binary contexts: mask (node 1), then 2*width byte trees of 256 slots. */
function paramTreeBase(i: number, half: number, paramWidth: number): number {
  return 2 + 256 * ((i < half ? 0 : paramWidth) + (i % paramWidth));
}

/** Largest log (in entries) kept between calls. */
const SCRATCH_KEEP = 1 << 20;
let probScratch = new Uint16Array(0);
let bitScratch = new Uint8Array(0);
let symScratch = new Uint32Array(0);

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
  if (paramWidth !== 2 && paramWidth !== 4)
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'paramWidth must be 2 or 4');
  if (s.context !== undefined) return encodeV2(s, s.context);
  const decisions = mask.length + 8 * params.length;
  // the logs are reused between calls up to SCRATCH_KEEP entries; larger ones are left to the GC
  if (probScratch.length < decisions && decisions <= SCRATCH_KEEP) {
    const size = Math.min(SCRATCH_KEEP, Math.max(decisions, 2 * probScratch.length));
    probScratch = new Uint16Array(size);
    bitScratch = new Uint8Array(size);
  }
  if (symScratch.length < codes.length && codes.length <= SCRATCH_KEEP) {
    symScratch = new Uint32Array(Math.min(SCRATCH_KEEP, Math.max(codes.length, 2 * symScratch.length)));
  }
  const probs = probScratch.length >= decisions ? probScratch : new Uint16Array(decisions);
  const bitLog = bitScratch.length >= decisions ? bitScratch : new Uint8Array(decisions);
  const symLog = symScratch.length >= codes.length ? symScratch : new Uint32Array(codes.length);
  const nodes = 2 + 2 * paramWidth * 256;
  const p0 = new Uint16Array(nodes).fill(PROB_ONE >>> 1);
  const seen = new Uint8Array(nodes);

  // forward model pass, sections 1 and 2: record P(bit = 0) and the bit of each binary decision
  let t = 0;
  for (let i = 0; i < mask.length; i++) {
    const bit = (mask[i] as number) === 0 ? 0 : 1;
    const p = p0[1] as number;
    probs[t] = p;
    bitLog[t++] = bit;
    const n = seen[1] as number;
    p0[1] = bit === 0 ? p + ((PROB_ONE - p) >>> (SHIFT[n] as number)) : p - (p >>> (SHIFT[n] as number));
    if (n < 255) seen[1] = n + 1;
  }
  const half = params.length >>> 1;
  for (let i = 0; i < params.length; i++) {
    const base = paramTreeBase(i, half, paramWidth);
    const v = params[i] as number;
    let node = 1;
    for (let j = 7; j >= 0; j--) {
      const bit = (v >>> j) & 1;
      const idx = base + node;
      const p = p0[idx] as number;
      probs[t] = p;
      bitLog[t++] = bit;
      const n = seen[idx] as number;
      p0[idx] = bit === 0 ? p + ((PROB_ONE - p) >>> (SHIFT[n] as number)) : p - (p >>> (SHIFT[n] as number));
      if (n < 255) seen[idx] = n + 1;
      node = (node << 1) | bit;
    }
  }
  // section 3: record (start << 16 | freq) per code
  const symMask = (1 << bits) - 1;
  const model = new CodeModel(1 << bits);
  const { counts, freq, cum } = model;
  for (let i = 0; i < codes.length; i++) {
    if (i === model.nextRebuild) model.rebuild(i);
    const v = (codes[i] as number) & symMask;
    symLog[i] = ((cum[v] as number) << 16) | (freq[v] as number);
    counts[v] = (counts[v] as number) + 1;
    model.total++;
  }

  return ransWrite(probs, bitLog, t, symLog, codes.length, bits);
}

/** Version 2 (see {@link RansContext}): context-modelled bitmap, the same parameter trees, bit-tree codes. */
function encodeV2(s: RansSections, c: RansContext): Uint8Array {
  const { mask, params, paramWidth, codes, bits } = s;
  const decisions = mask.length + 8 * params.length + bits * codes.length;
  const probs = new Uint16Array(decisions);
  const bitLog = new Uint8Array(decisions);
  const symbols = 1 << bits;
  const nodes = V2_MASK_CONTEXTS + 2 * paramWidth * 256 + v2CodeNodes(symbols);
  const p0 = new Uint16Array(nodes).fill(PROB_ONE >>> 1);
  const seen = new Uint8Array(nodes);
  let t = 0;
  const code = (idx: number, bit: number): void => {
    const p = p0[idx] as number;
    probs[t] = p;
    bitLog[t++] = bit;
    const n = seen[idx] as number;
    p0[idx] = bit === 0 ? p + ((PROB_ONE - p) >>> (SHIFT[n] as number)) : p - (p >>> (SHIFT[n] as number));
    if (n < 255) seen[idx] = n + 1;
  };
  if (mask.length > 0) {
    forEachMaskContext(
      c,
      mask,
      (ctx, i) => code(ctx, mask[i] === 0 ? 0 : 1),
      () => {},
    );
  }
  const half = params.length >>> 1;
  const paramBase = V2_MASK_CONTEXTS - 2;
  const carried = params.length >= 2;
  for (let i = 0; i < params.length; i++) {
    if (carried && (i === 0 || i === half)) continue; // carried by the initial state
    const base = paramBase + paramTreeBase(i, half, paramWidth);
    const v = params[i] as number;
    let node = 1;
    for (let j = 7; j >= 0; j--) {
      const bit = (v >>> j) & 1;
      code(base + node, bit);
      node = (node << 1) | bit;
    }
  }
  const codeBase = V2_MASK_CONTEXTS + 2 * paramWidth * 256;
  const symMask = symbols - 1;
  forEachCodeContext(c, mask, codes, (ctx, i) => {
    const v = (codes[i] as number) & symMask;
    let node = 1;
    for (let j = bits - 1; j >= 0; j--) {
      const bit = (v >>> j) & 1;
      code(codeBase + v2CodeNode(ctx, node), bit);
      node = (node << 1) | bit;
    }
  });
  const x0 = carried ? RANS_L + (params[0] as number) + 256 * (params[half] as number) : RANS_L;
  return ransWrite(probs, bitLog, t, new Uint32Array(0), 0, bits, x0);
}

/**
 * The rANS pass proper: `t` binary decisions (P(0) and bit logged) followed by `symCount` frequency-coded
 * symbols (start << 16 | freq), encoded in reverse; returns the stream (state, then bytes in decoding order).
 */
function ransWrite(
  probs: Uint16Array,
  bitLog: Uint8Array,
  t: number,
  symLog: Uint32Array,
  symCount: number,
  bits: number,
  initialState = RANS_L,
): Uint8Array {
  let out = new Uint8Array(Math.ceil((t + bits * symCount) / 8) + 16);
  let pos = out.length;
  let x = initialState;
  const total = symCount + t;
  let left = total;
  while (left > 0) {
    if (pos < 32) {
      const grown = new Uint8Array(out.length * 2 + 32);
      grown.set(out.subarray(pos), grown.length - (out.length - pos));
      pos += grown.length - out.length;
      out = grown;
    }
    // at most 2 bytes per step: 16 steps per growth check
    const stop = left > 16 ? left - 16 : 0;
    while (left > stop) {
      left--;
      let start: number;
      let f: number;
      if (left >= t) {
        const sf = symLog[left - t] as number;
        start = sf >>> 16;
        f = sf & 0xffff;
      } else {
        const p = probs[left] as number;
        if (bitLog[left] === 0) {
          start = 0;
          f = p;
        } else {
          start = p;
          f = PROB_ONE - p;
        }
      }
      const xMax = X_MAX_UNIT * f;
      while (x >= xMax) {
        out[--pos] = x & 0xff;
        x >>= 8;
      }
      // x < 2^31 and f < 2^15: int32 division, and the result stays below 2^31
      const q = (x / f) | 0;
      x = (q << PROB_BITS) + (x - q * f) + start;
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
export function ransDecodeSections(
  src: Uint8Array,
  shape: RansShape,
): { mask: Uint8Array; params: Uint8Array; codes: Uint8Array } {
  const { maskCount, paramBytes, paramWidth, codeCount, bits } = shape;
  checkBits(bits);
  if (paramWidth !== 2 && paramWidth !== 4)
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'paramWidth must be 2 or 4');
  const len = src.length;
  if (len < 4) throw corrupt('stream shorter than its 4-byte state', { length: len });
  let x =
    ((src[0] as number) | ((src[1] as number) << 8) | ((src[2] as number) << 16) | ((src[3] as number) << 24)) >>> 0;
  if (x < RANS_L || x >= RANS_HIGH) throw corrupt('initial state out of range', { state: x });
  let p = 4;
  const symbols = 1 << bits;
  const ctx = shape.context;
  const nodes =
    ctx === undefined ? 2 + 2 * paramWidth * 256 : V2_MASK_CONTEXTS + 2 * paramWidth * 256 + v2CodeNodes(symbols);
  const p0 = new Uint16Array(nodes).fill(PROB_ONE >>> 1);
  const seen = new Uint8Array(nodes);
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
  if (ctx === undefined) for (let i = 0; i < maskCount; i++) mask[i] = bit(1);
  else if (maskCount > 0) {
    forEachMaskContext(
      ctx,
      mask,
      (m, i) => {
        mask[i] = bit(m);
      },
      (i, b) => {
        mask[i] = b;
      },
    );
  }
  const params = new Uint8Array(paramBytes);
  const half = paramBytes >>> 1;
  const paramBase = ctx === undefined ? 0 : V2_MASK_CONTEXTS - 2;
  const carried = ctx !== undefined && paramBytes >= 2;
  for (let i = 0; i < paramBytes; i++) {
    if (carried && (i === 0 || i === half)) continue;
    const base = paramBase + paramTreeBase(i, half, paramWidth);
    let node = 1;
    for (let j = 0; j < 8; j++) node = (node << 1) | bit(base + node);
    params[i] = node - 256;
  }
  const codes = new Uint8Array(codeCount);
  if (ctx !== undefined) {
    const codeBase = V2_MASK_CONTEXTS + 2 * paramWidth * 256;
    forEachCodeContext(ctx, mask, codes, (m, i) => {
      let node = 1;
      for (let j = 0; j < bits; j++) node = (node << 1) | bit(codeBase + v2CodeNode(m, node));
      codes[i] = node - symbols;
    });
    // the encoder's initial state: 2^23 + the two parameter bytes it carries (0 without them)
    if (x < RANS_L || x >= RANS_L + (carried ? 1 << 16 : 1) || p !== len)
      throw corrupt('stream does not end in an initial state', { state: x, left: len - p });
    if (carried) {
      params[0] = x & 0xff;
      params[half] = (x >>> 8) & 0xff;
    }
    return { mask, params, codes };
  }
  const model = new CodeModel(symbols);
  const { counts, freq, cum } = model;
  const bucket = new Uint8Array(PROB_ONE >>> BUCKET_SHIFT);
  for (let i = 0; i < codeCount; i++) {
    if (i === model.nextRebuild) {
      model.rebuild(i);
      // bucket[j] = the symbol holding slot j << BUCKET_SHIFT
      let sym = 0;
      for (let j = 0; j < bucket.length; j++) {
        const at = j << BUCKET_SHIFT;
        while ((cum[sym + 1] as number) <= at) sym++;
        bucket[j] = sym;
      }
    }
    const slot = x & SLOT_MASK;
    // the symbol s with cum[s] <= slot < cum[s + 1]: start at the bucket's first symbol, scan up
    let lo = bucket[slot >>> BUCKET_SHIFT] as number;
    while ((cum[lo + 1] as number) <= slot) lo++;
    x = (freq[lo] as number) * (x >>> PROB_BITS) + slot - (cum[lo] as number);
    while (x < RANS_L) {
      if (p >= len) throw corrupt('stream ended early', { symbol: i });
      x = (x << 8) | (src[p++] as number);
    }
    codes[i] = lo;
    counts[lo] = (counts[lo] as number) + 1;
    model.total++;
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
