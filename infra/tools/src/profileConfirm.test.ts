import { describe, expect, it } from 'vitest';
import type { Evaluator } from './evaluate.js';
import { type ConfirmableRow, confirmPickable } from './profileConfirm.js';

/** An evaluator whose whole-split accuracies come from a table keyed by row. */
function fakeEvaluator(count: number, full: number, table: Record<string, number>, calls: string[]): Evaluator {
  return {
    data: { count },
    fullAccuracy: async (v: number) => {
      calls.push(`full ${v}`);
      return v === 0 ? full : (table[`edge ${v}`] ?? 0);
    },
    cloudOnly: async () => ({ accuracy: table.cloud ?? 0 }),
    heads: async (variant: number, point: number, o: { bottleneck?: boolean } = {}) => ({
      variant,
      point,
      bottleneck: o.bottleneck,
    }),
    split: async (
      _h: unknown,
      s: { point: number; variant: number; keep: number; bits: number; bottleneck?: boolean },
    ) => {
      const k = `p${s.point} v${s.variant} ${s.keep} ${s.bits}${s.bottleneck ? ' bn' : ''}`;
      calls.push(k);
      return { accuracy: table[k] ?? 0 };
    },
  } as unknown as Evaluator;
}

const row = (o: Partial<ConfirmableRow>): ConfirmableRow => ({
  kind: 'split',
  point: 2,
  variant: 0,
  keep: 1,
  bits: 2,
  quantScope: 'tensor',
  valAccuracy: 0.95,
  testAccuracy: 0.94,
  meanPayloadBytes: 100,
  ...o,
});

describe('confirmPickable', () => {
  it('takes the smallest sampled row that meets the floor on the whole split, marking the ones that fail', async () => {
    const rows = [
      row({ keep: 1, bits: 2, meanPayloadBytes: 120 }),
      row({ keep: 0.5, bits: 2, meanPayloadBytes: 80 }),
      row({ keep: 0.25, bits: 2, meanPayloadBytes: 60, valAccuracy: 0.9 }), // below the floor on the sample
      row({ keep: 1, bits: 4, meanPayloadBytes: 200 }),
      row({ point: 1, bottleneck: true, keep: 1, bits: 1, meanPayloadBytes: 50 }),
    ];
    const calls: string[] = [];
    const val = fakeEvaluator(5000, 0.95, { 'p2 v0 0.5 2': 0.935, 'p2 v0 1 2': 0.945, 'p1 v0 1 1 bn': 0.942 }, calls);
    const test = fakeEvaluator(10000, 0.94, { 'p2 v0 1 2': 0.931, 'p1 v0 1 1 bn': 0.933 }, []);
    const lines: string[] = [];
    const res = await confirmPickable(rows, val, test, 0.01, (l) => lines.push(l));
    expect(res.fullModel).toEqual({ val: 0.95, test: 0.94 });
    expect(res.floor).toBeCloseTo(0.94, 10);
    // 80 B fails on the whole split (0.935 < 0.94), 120 B passes; 200 B is never evaluated
    expect(rows.map((r) => [r.confirmed ?? false, r.valAccuracy, r.testAccuracy])).toEqual([
      [true, 0.945, 0.931],
      [true, 0.935, 0.94],
      [false, 0.9, 0.94],
      [false, 0.95, 0.94],
      [true, 0.942, 0.933],
    ]);
    expect(res).toMatchObject({ evaluated: 3, accepted: 2 });
    expect(calls.filter((c) => c.startsWith('p'))).toEqual(['p2 v0 0.5 2', 'p2 v0 1 2', 'p1 v0 1 1 bn']);
    expect(lines.some((l) => l.includes('below the floor'))).toBe(true);
  });

  it('confirms edge-only and cloud-only rows with the whole network and the PNG path', async () => {
    const rows = [
      row({ kind: 'edge-only', point: 6, variant: 0.25, meanPayloadBytes: 0 }),
      row({ kind: 'cloud-only', point: 0, variant: 0, meanPayloadBytes: 575 }),
    ];
    const val = fakeEvaluator(5000, 0.95, { 'edge 0.25': 0.941, cloud: 0.95 }, []);
    const test = fakeEvaluator(10000, 0.94, { 'edge 0.25': 0.93, cloud: 0.94 }, []);
    const res = await confirmPickable(rows, val, test, 0.01, () => {});
    expect(res.accepted).toBe(2);
    expect(rows.map((r) => [r.valAccuracy, r.testAccuracy])).toEqual([
      [0.941, 0.93],
      [0.95, 0.94],
    ]);
  });

  it('a second run measures only unconfirmed rows smaller than the accepted one', async () => {
    const rows = [
      row({ keep: 1, bits: 2, meanPayloadBytes: 120, confirmed: true, valAccuracy: 0.945 }),
      row({ keep: 0.5, bits: 2, meanPayloadBytes: 80, confirmed: true, valAccuracy: 0.935 }),
      row({ keep: 1, bits: 6, meanPayloadBytes: 300 }),
      row({ keep: 0.25, bits: 6, meanPayloadBytes: 100 }),
    ];
    const calls: string[] = [];
    const val = fakeEvaluator(5000, 0.95, { 'p2 v0 0.25 6': 0.941 }, calls);
    const test = fakeEvaluator(10000, 0.94, { 'p2 v0 0.25 6': 0.93 }, []);
    const res = await confirmPickable(rows, val, test, 0.01, () => {});
    expect(calls.filter((c) => c.startsWith('p'))).toEqual(['p2 v0 0.25 6']);
    expect(res).toMatchObject({ evaluated: 3, accepted: 2 });
    expect(rows[3]).toMatchObject({ confirmed: true, valAccuracy: 0.941, testAccuracy: 0.93 });
    expect(rows[2]?.confirmed).toBeUndefined();
  });

  it('with groups, confirms only those groups and counts every row', async () => {
    const rows = [
      row({ keep: 1, bits: 2, meanPayloadBytes: 120, confirmed: true, valAccuracy: 0.945 }),
      row({ keep: 0.5, bits: 2, meanPayloadBytes: 80 }),
      row({ bottleneck: true, keep: 1, bits: 1, meanPayloadBytes: 50 }),
    ];
    const calls: string[] = [];
    const val = fakeEvaluator(5000, 0.95, { 'p2 v0 0.5 2': 0.941, 'p2 v0 1 1 bn': 0.942 }, calls);
    const test = fakeEvaluator(10000, 0.94, { 'p2 v0 1 1 bn': 0.933 }, []);
    const res = await confirmPickable(rows, val, test, 0.01, () => {}, { groups: (r) => r.bottleneck === true });
    expect(calls.filter((c) => c.startsWith('p'))).toEqual(['p2 v0 1 1 bn']);
    expect(rows[1]).toMatchObject({ valAccuracy: 0.95 });
    expect(rows[1]?.confirmed).toBeUndefined();
    expect(rows[2]).toMatchObject({ confirmed: true, valAccuracy: 0.942, testAccuracy: 0.933 });
    expect(res).toMatchObject({ evaluated: 2, accepted: 2 });
  });
});
