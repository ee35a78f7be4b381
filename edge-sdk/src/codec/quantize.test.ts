import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { checkQuantParams, dequantize, F16_SCALE_SLACK, groupMinMax, quantize, quantizeWith } from './quantize.js';
import { codecErrorCode } from './testing/assertions.js';

const f32 = (min: number, max: number) =>
  fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true });

/** Groups of values with a magnitude scale (so some fit f16 and some do not). */
const groupsArb = fc
  .record({
    bits: fc.integer({ min: 1, max: 8 }),
    groupSize: fc.integer({ min: 1, max: 20 }),
    groups: fc.integer({ min: 1, max: 6 }),
    magnitude: fc.constantFrom(1e-3, 1, 100, 1e5, 1e30),
  })
  .chain((r) =>
    fc.tuple(
      fc.constant(r),
      fc
        .array(f32(-1, 1), { minLength: r.groupSize * r.groups, maxLength: r.groupSize * r.groups })
        .map((a) => Float32Array.from(a, (v) => v * r.magnitude)),
    ),
  );

describe('quantize', () => {
  it('keeps every dequantized value within scale/2 (plus float32 rounding), f32 and f16 parameters', () => {
    fc.assert(
      fc.property(groupsArb, fc.constantFrom('f32' as const, 'auto' as const), ([r, values], precision) => {
        const q = quantize(values, r.groupSize, r.bits, precision);
        const back = dequantize(q.codes, r.groupSize, q.params);
        const { min, max } = groupMinMax(values, r.groupSize);
        for (let i = 0; i < values.length; i++) {
          const g = Math.floor(i / r.groupSize);
          const scale = q.params.scale[g] as number;
          const x = values[i] as number;
          const eps = 2 ** -23 * Math.max(Math.abs(x), Math.abs(back[i] as number)) + 1e-45;
          expect(Math.abs((back[i] as number) - x)).toBeLessThanOrEqual(scale / 2 + eps);
          expect(q.codes[i]).toBeLessThanOrEqual((1 << r.bits) - 1);
        }
        // the scale is never more than 1/64 above the ideal (max - min) / (2^b - 1), rounded up to float32
        for (let g = 0; g < r.groups; g++) {
          const ideal = ((max[g] as number) - (min[g] as number)) / ((1 << r.bits) - 1);
          expect(q.params.scale[g]).toBeLessThanOrEqual(ideal * F16_SCALE_SLACK * (1 + 2 ** -22) + 2 ** -149);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rounds half up on (x - min) / scale and clamps to [0, 2^b - 1]', () => {
    const params = { min: Float32Array.of(0), scale: Float32Array.of(1) };
    expect(Array.from(quantizeWith(Float32Array.of(0, 0.49, 0.5, 1.5, 2.5, 14.5, 15, 16), 8, 4, params))).toEqual([
      0, 0, 1, 2, 3, 15, 15, 15,
    ]);
  });

  it('uses scale 0 and code 0 for a constant group, and reproduces it exactly', () => {
    const values = Float32Array.of(0.1, 0.1, 0.1, -3, 5, 1);
    const q = quantize(values, 3, 4, 'f32');
    expect(q.params.scale[0]).toBe(0);
    expect(Array.from(q.codes.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(dequantize(q.codes, 3, q.params).subarray(0, 3))).toEqual(Array.from(values.subarray(0, 3)));
  });

  it('falls back to f32 parameters when f16 would lose precision or overflow', () => {
    expect(quantize(Float32Array.of(0, 1, 2, 3), 4, 4, 'auto').precision).toBe('f16');
    expect(quantize(Float32Array.of(0, 1e6), 2, 4, 'auto').precision).toBe('f32');
    // a narrow range far from zero: f16 would have to round min down by far more than the range
    expect(quantize(Float32Array.of(1000.25, 1000.26), 2, 4, 'auto').precision).toBe('f32');
    // a constant group whose value is not a binary16
    expect(quantize(Float32Array.of(0.1, 0.1), 2, 4, 'auto').precision).toBe('f32');
  });

  it('rejects a range too wide for float32 with JMDC_ERR_NON_FINITE', () => {
    expect(codecErrorCode(() => quantize(Float32Array.of(-3e38, 3e38), 2, 1))).toBe(ErrorCodes.NON_FINITE);
  });

  it('rejects received parameters that are not finite or negative', () => {
    const p = (min: number, scale: number) => ({ min: Float32Array.of(min), scale: Float32Array.of(scale) });
    expect(codecErrorCode(() => checkQuantParams(p(0, Number.NaN), 4))).toBe(ErrorCodes.NON_FINITE);
    expect(codecErrorCode(() => checkQuantParams(p(Number.NEGATIVE_INFINITY, 1), 4))).toBe(ErrorCodes.NON_FINITE);
    expect(codecErrorCode(() => checkQuantParams(p(3e38, 3e38), 4))).toBe(ErrorCodes.NON_FINITE);
    expect(codecErrorCode(() => checkQuantParams(p(0, -1), 4))).toBe(ErrorCodes.CORRUPT_BODY);
    expect(codecErrorCode(() => checkQuantParams(p(-1, 0.5), 4))).toBeUndefined();
  });

  it('rejects a length that is not a multiple of the group size with JMDC_ERR_SHAPE_MISMATCH', () => {
    expect(codecErrorCode(() => quantize(new Float32Array(5), 2, 4))).toBe(ErrorCodes.SHAPE_MISMATCH);
  });
});
