/**
 * Uniform b-bit quantization with one (min, scale) pair per group of consecutive values.
 *
 * code = clamp(floor((x - min) / scale + 0.5), 0, 2^b - 1) (round half up, in float64), and
 * x' = fround(min + code * scale). `scale` is rounded *up* to the stored precision and `min` *down*, so
 * min + (2^b - 1) * scale >= max and every value satisfies |x - x'| <= scale / 2 (plus the float32 rounding
 * of x'). When max == min the scale is 0 and every code is 0.
 */
import { CodecError, ErrorCodes } from '../errors.js';
import { f16Round } from './float16.js';
import type { ParamPrecision } from './types.js';

/** Per-group dequantization parameters. Values are exactly representable in the stored precision. */
export interface QuantParams {
  min: Float32Array;
  scale: Float32Array;
}

/** Result of {@link quantize}. */
export interface Quantized {
  codes: Uint8Array;
  params: QuantParams;
  precision: ParamPrecision;
}

/**
 * An f16 pair is accepted only when its scale is at most this factor above the f32 scale (i.e. the error
 * bound grows by at most 1/64), for every group; otherwise the payload uses f32 pairs.
 */
export const F16_SCALE_SLACK = 1 + 1 / 64;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Smallest float32 >= x.
 *
 * @example
 * ```ts
 * f32RoundUp(0.1); // 0.10000000149011612
 * ```
 */
export function f32RoundUp(x: number): number {
  const f = Math.fround(x);
  if (f >= x || Number.isNaN(f)) return f;
  if (f === 0) return 2 ** -149;
  f32[0] = f;
  if (f > 0) u32[0] = (u32[0] as number) + 1;
  else u32[0] = (u32[0] as number) - 1;
  return f32[0] as number;
}

function checkGroups(length: number, groupSize: number): number {
  if (!Number.isInteger(groupSize) || groupSize < 1 || length % groupSize !== 0) {
    throw new CodecError(ErrorCodes.SHAPE_MISMATCH, `length ${length} is not a multiple of groupSize ${groupSize}`, {
      length,
      groupSize,
    });
  }
  return length / groupSize;
}

function checkBits(bits: number): number {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new CodecError(ErrorCodes.INVALID_ARGUMENT, `bits must be an integer 1..8, got ${bits}`, { bits });
  }
  return (1 << bits) - 1;
}

/**
 * Min and max of each group of `groupSize` consecutive values.
 *
 * @example
 * ```ts
 * groupMinMax(Float32Array.of(1, 3, -2, 0), 2); // { min: [1, -2], max: [3, 0] }
 * ```
 */
export function groupMinMax(values: Float32Array, groupSize: number): { min: Float32Array; max: Float32Array } {
  const groups = checkGroups(values.length, groupSize);
  const min = new Float32Array(groups);
  const max = new Float32Array(groups);
  let i = 0;
  for (let g = 0; g < groups; g++) {
    let lo = values[i] as number;
    let hi = lo;
    const end = i + groupSize;
    for (i++; i < end; i++) {
      const v = values[i] as number;
      if (v < lo) lo = v;
      else if (v > hi) hi = v;
    }
    min[g] = lo;
    max[g] = hi;
  }
  return { min, max };
}

/**
 * (min, scale) per group for `bits`-bit codes in the given precision. For `'f16'`, returns `undefined` when
 * some group does not fit binary16 or would lose more than 1/64 of its scale ({@link F16_SCALE_SLACK}).
 * Throws `NON_FINITE` when a range is too wide for float32 (e.g. values near +/-3.4e38).
 *
 * @example
 * ```ts
 * quantParams(Float32Array.of(0), Float32Array.of(15), 4, 'f32'); // { min: [0], scale: [1] }
 * ```
 */
export function quantParams(
  min: Float32Array,
  max: Float32Array,
  bits: number,
  precision: ParamPrecision,
): QuantParams | undefined {
  const levels = checkBits(bits);
  const groups = min.length;
  const outMin = new Float32Array(groups);
  const outScale = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    const lo = min[g] as number;
    const hi = max[g] as number;
    const ideal = hi === lo ? 0 : f32RoundUp((hi - lo) / levels);
    if (!Number.isFinite(ideal) || !Number.isFinite(Math.fround(lo + levels * ideal))) {
      throw new CodecError(ErrorCodes.NON_FINITE, 'value range too wide to quantize in float32', {
        group: g,
        min: lo,
        max: hi,
      });
    }
    if (precision === 'f32') {
      outMin[g] = lo;
      outScale[g] = ideal;
      continue;
    }
    const lo16 = f16Round(lo, false);
    if (!Number.isFinite(lo16)) return undefined;
    if (hi === lo) {
      if (lo16 !== lo) return undefined;
      outMin[g] = lo16;
      outScale[g] = 0;
      continue;
    }
    const s16 = f16Round((hi - lo16) / levels, true);
    if (!Number.isFinite(s16) || s16 > ideal * F16_SCALE_SLACK) return undefined;
    outMin[g] = lo16;
    outScale[g] = s16;
  }
  return { min: outMin, scale: outScale };
}

/**
 * Codes of `values` under given parameters (groups of `groupSize` consecutive values).
 *
 * @example
 * ```ts
 * quantizeWith(Float32Array.of(0, 7.4, 7.5, 15), 4, 4, { min: Float32Array.of(0), scale: Float32Array.of(1) });
 * // Uint8Array [0, 7, 8, 15]
 * ```
 */
export function quantizeWith(
  values: Float32Array,
  groupSize: number,
  bits: number,
  params: QuantParams,
  out?: Uint8Array,
): Uint8Array {
  const groups = checkGroups(values.length, groupSize);
  const levels = checkBits(bits);
  if (params.min.length !== groups || params.scale.length !== groups) {
    throw new CodecError(ErrorCodes.SHAPE_MISMATCH, 'one (min, scale) pair per group expected', { groups });
  }
  const codes = out ?? new Uint8Array(values.length);
  let i = 0;
  for (let g = 0; g < groups; g++) {
    const lo = params.min[g] as number;
    const sc = params.scale[g] as number;
    const end = i + groupSize;
    if (sc === 0) {
      codes.fill(0, i, end);
      i = end;
      continue;
    }
    for (; i < end; i++) {
      const q = Math.floor(((values[i] as number) - lo) / sc + 0.5);
      codes[i] = q < 0 ? 0 : q > levels ? levels : q;
    }
  }
  return codes;
}

/**
 * Quantizes `values` in groups of `groupSize` consecutive values (a channel of one item, or a whole item).
 * `'auto'` uses f16 pairs when {@link quantParams} accepts them, else f32.
 *
 * @example
 * ```ts
 * const q = quantize(Float32Array.of(0, 1, 2, 3), 4, 2);
 * dequantize(q.codes, 4, q.params); // Float32Array [0, 1, 2, 3]
 * ```
 */
export function quantize(
  values: Float32Array,
  groupSize: number,
  bits: number,
  precision: ParamPrecision | 'auto' = 'f32',
): Quantized {
  const { min, max } = groupMinMax(values, groupSize);
  let chosen: ParamPrecision = precision === 'auto' ? 'f16' : precision;
  let params = quantParams(min, max, bits, chosen);
  if (params === undefined) {
    if (precision === 'f16') {
      throw new CodecError(ErrorCodes.INVALID_ARGUMENT, 'values do not fit float16 quantization parameters');
    }
    chosen = 'f32';
    params = quantParams(min, max, bits, 'f32') as QuantParams;
  }
  return { codes: quantizeWith(values, groupSize, bits, params), params, precision: chosen };
}

/**
 * Dequantizes codes: fround(min + code * scale) per group of `groupSize`.
 *
 * @example
 * ```ts
 * dequantize(Uint8Array.of(0, 3), 2, { min: Float32Array.of(-1), scale: Float32Array.of(0.5) }); // [-1, 0.5]
 * ```
 */
export function dequantize(
  codes: Uint8Array,
  groupSize: number,
  params: QuantParams,
  out?: Float32Array,
): Float32Array {
  const groups = checkGroups(codes.length, groupSize);
  if (params.min.length !== groups || params.scale.length !== groups) {
    throw new CodecError(ErrorCodes.SHAPE_MISMATCH, 'one (min, scale) pair per group expected', { groups });
  }
  const values = out ?? new Float32Array(codes.length);
  let i = 0;
  for (let g = 0; g < groups; g++) {
    const lo = params.min[g] as number;
    const sc = params.scale[g] as number;
    const end = i + groupSize;
    for (; i < end; i++) values[i] = lo + (codes[i] as number) * sc;
  }
  return values;
}

/**
 * Validates received parameters: finite min and scale (`NON_FINITE`), scale >= 0 (`CORRUPT_BODY`), and a
 * finite float32 top of range min + (2^b - 1) * scale (`NON_FINITE`).
 *
 * @example
 * ```ts
 * checkQuantParams({ min: Float32Array.of(0), scale: Float32Array.of(Number.NaN) }, 4); // throws NON_FINITE
 * ```
 */
export function checkQuantParams(params: QuantParams, bits: number): void {
  const levels = checkBits(bits);
  for (let g = 0; g < params.min.length; g++) {
    const lo = params.min[g] as number;
    const sc = params.scale[g] as number;
    if (!Number.isFinite(lo) || !Number.isFinite(sc)) {
      throw new CodecError(ErrorCodes.NON_FINITE, 'non-finite quantization parameter', {
        group: g,
        min: lo,
        scale: sc,
      });
    }
    if (sc < 0) throw new CodecError(ErrorCodes.CORRUPT_BODY, 'negative quantization scale', { group: g, scale: sc });
    if (!Number.isFinite(Math.fround(lo + levels * sc))) {
      throw new CodecError(ErrorCodes.NON_FINITE, 'quantization range overflows float32', {
        group: g,
        min: lo,
        scale: sc,
      });
    }
  }
}
