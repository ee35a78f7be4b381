/**
 * `npm run profile -- --confirm`: the rows the planner can pick, re-measured on the whole validation and
 * test splits after the grid ran on a sample.
 *
 * Within one (kind, point, variant, bottleneck) group every row costs the same on the device and in the
 * cloud and differs only in bytes, so under an accuracy floor the planner picks the smallest row of the
 * group that meets the floor. For each group the rows that meet the floor on the sample are taken in
 * ascending bytes and evaluated on the whole validation split until one meets the floor there; it gets its
 * whole-split val and test accuracy. The rows before it get their whole-split val accuracy (below the floor,
 * so the planner no longer picks them). The floor is the SDK's default: the full model's accuracy on the
 * whole validation split minus one point. Rows measured this way carry `confirmed: true`; a later run (a
 * profile resumed with more settings) measures only unconfirmed rows smaller than a group's accepted one.
 * A group is walked to its accepted row even when its variant's whole network is already under the floor:
 * a candidate left unmeasured would keep its sample accuracy (at or above the floor), and the planner reads
 * that value, not `confirmed`.
 * `groups` limits the pass to some groups (`npm run profile -- --bottlenecks-only --confirm` confirms the
 * bottleneck groups alone); the counts always cover every row.
 */
import type { Evaluator } from './evaluate.js';

export interface ConfirmableRow {
  kind: 'cloud-only' | 'edge-only' | 'split';
  point: number;
  variant: number;
  keep: number;
  bits: number;
  quantScope: 'channel' | 'tensor';
  bottleneck?: boolean;
  valAccuracy: number;
  testAccuracy: number;
  meanPayloadBytes: number;
  confirmed?: boolean;
}

export interface ConfirmResult {
  fullModel: { val: number; test: number };
  floor: number;
  /** Rows of the profile measured on the whole validation split, and how many of them met the floor there. */
  evaluated: number;
  accepted: number;
}

export interface ConfirmOptions {
  /** Confirms only the groups whose rows pass (default: every group). */
  groups?: (row: ConfirmableRow) => boolean;
}

/** Re-measures `rows` in place (see the module comment); `log` gets one line per evaluated row. */
export async function confirmPickable(
  rows: ConfirmableRow[],
  val: Evaluator,
  test: Evaluator,
  margin: number,
  log: (line: string) => void,
  opts: ConfirmOptions = {},
): Promise<ConfirmResult> {
  const fullModel = { val: await val.fullAccuracy(0), test: await test.fullAccuracy(0) };
  const floor = fullModel.val - margin;
  log(`confirm: full model val ${fullModel.val.toFixed(4)} (${val.data.count} images), floor ${floor.toFixed(4)}`);
  const groups = new Map<string, ConfirmableRow[]>();
  for (const r of rows) {
    if (opts.groups && !opts.groups(r)) continue;
    const k = `${r.kind}/${r.point}/${r.variant}/${r.bottleneck ? 'bn' : ''}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const group of groups.values()) {
    // rows confirmed by an earlier run keep their whole-split values; only smaller unconfirmed rows can
    // still beat the group's accepted row
    const acceptedBytes = Math.min(
      ...group.filter((r) => r.confirmed && r.valAccuracy >= floor).map((r) => r.meanPayloadBytes),
    );
    const candidates = group
      .filter((r) => !r.confirmed && r.valAccuracy >= floor && r.meanPayloadBytes < acceptedBytes)
      .sort((a, b) => a.meanPayloadBytes - b.meanPayloadBytes);
    if (candidates.length === 0) continue;
    const first = candidates[0];
    if (!first) continue;
    const { kind, point, variant } = first;
    const bottleneck = first.bottleneck === true;
    const measure = async (ev: Evaluator, r: ConfirmableRow, head?: Awaited<ReturnType<Evaluator['heads']>>) => {
      if (kind === 'edge-only') return ev.fullAccuracy(variant);
      if (kind === 'cloud-only') return (await ev.cloudOnly('png')).accuracy;
      if (!head) throw new Error('split rows need their head cache');
      const res = await ev.split(head, {
        kind: 'split',
        point,
        variant,
        keep: r.keep,
        bits: r.bits,
        coder: 'auto',
        fill: 'stored',
        quantScope: r.quantScope,
        bottleneck,
      });
      return res.accuracy;
    };
    const headVal = kind === 'split' ? await val.heads(variant, point, { bottleneck }) : undefined;
    for (const r of candidates) {
      const acc = await measure(val, r, headVal);
      r.valAccuracy = acc;
      r.confirmed = true;
      const label = `${kind} p${point} v${variant}${bottleneck ? ' bottleneck' : ''} keep ${r.keep} b${r.bits} ${r.quantScope}`;
      if (acc >= floor) {
        const headTest = kind === 'split' ? await test.heads(variant, point, { bottleneck }) : undefined;
        r.testAccuracy = await measure(test, r, headTest);
        log(
          `confirm: ${label}: val ${acc.toFixed(4)} test ${r.testAccuracy.toFixed(4)} (${r.meanPayloadBytes.toFixed(1)} B)`,
        );
        break;
      }
      log(`confirm: ${label}: val ${acc.toFixed(4)} below the floor, next`);
    }
  }
  // counted over every row, so a resumed run reports what the profile holds, not only what it added
  return {
    fullModel,
    floor,
    evaluated: rows.filter((r) => r.confirmed).length,
    accepted: rows.filter((r) => r.confirmed && r.valAccuracy >= floor).length,
  };
}
