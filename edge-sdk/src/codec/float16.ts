/**
 * IEEE 754 binary16 helpers for the min/scale pairs (Node 20 has no `Math.f16round`).
 * Only directed rounding is needed: the encoder rounds `min` down and `scale` up so that
 * `[min, min + (2^b - 1) * scale]` still covers every value of the group.
 */

const F16_MAX = 65504;

/**
 * The value of the binary16 with bit pattern `h` (NaN and infinities included).
 *
 * @example
 * ```ts
 * f16ToNumber(0x3c00); // 1
 * ```
 */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // index of the high word

/** Binary exponent of a positive finite number: 2^e <= a < 2^(e+1) (-1023 for float64 subnormals). */
function exponentOf(a: number): number {
  f64[0] = a;
  return (((f64Words[HI] as number) >>> 20) & 0x7ff) - 1023;
}

/** 2^e for the quanta of binary16, e in -24..5. */
const POW2 = Float64Array.from({ length: 30 }, (_, i) => 2 ** (i - 24));

/**
 * Rounds `x` to a binary16 value toward +infinity (`up`) or -infinity, returned as a number.
 * Returns +/-Infinity when the result does not fit (|result| > 65504).
 *
 * @example
 * ```ts
 * f16Round(0.1, false); // 0.0999755859375
 * f16Round(0.1, true); // 0.10003662109375
 * ```
 */
export function f16Round(x: number, up: boolean): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x === 0) return 0;
  const a = Math.abs(x);
  // quantum of the binade of a (subnormal binades share 2^-24)
  const q = POW2[Math.min(Math.max(exponentOf(a), -14), 15) - 10 + 24] as number;
  const n = a / q; // exact: scaling by a power of two
  const magUp = x > 0 === up;
  const mag = (magUp ? Math.ceil(n) : Math.floor(n)) * q;
  if (mag > F16_MAX) return x > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return x > 0 ? mag : -mag;
}

/**
 * Bit pattern of a number that is exactly representable as binary16 (as returned by {@link f16Round}).
 *
 * @example
 * ```ts
 * f16Bits(-2); // 0xc000
 * ```
 */
export function f16Bits(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a * 2 ** 24);
  const e = exponentOf(a);
  const m = Math.round(a * 2 ** (10 - e)) - 1024;
  return sign | ((e + 15) << 10) | m;
}
