/**
 * `npm run profile`: evaluates every point x variant x keep x bits (plus cloud-only and edge-only, and
 * for every learned bottleneck of the manifest its point and variant x keep x bits with 1 bit added)
 * on the validation split (choices) and the test split (reporting only), measures reference timings
 * (bottleneck encoders and decoders included), and writes models/<id>/profile.json for the planner.
 *
 *   npm run profile -- --model fmnist-vgg16 [--limit 1000] [--threads 2] [--bottlenecks all|none|ID,...]
 *   npm run profile -- --model fmnist-vgg16 --limit 1000 --bottlenecks-only [--confirm]
 *
 * Every profile records `blocksHash` ({@link blocksHash}): what its plain rows (every row but the
 * `bottleneck: true` ones) depend on in the manifest. After the learned bottlenecks alone were retrained
 * (new manifest hash, same block files), `--bottlenecks-only` reuses the plain rows of the existing
 * profile and evaluates only the bottleneck rows again ({@link refreshedProfile}); it refuses a profile
 * whose blocksHash or grid sample differs ({@link checkRefreshBase}).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import type { ProfileRow as BaseRow } from '@jmdc/edge-sdk';
import { median, num, parseFlags, progress, UsageError } from '@jmdc/edge-sdk/cli';
import { type Bottleneck, findVariant, type Manifest, preprocess } from '@jmdc/edge-sdk/model';
import { loadSplit } from './dataset.js';
import { Evaluator, float32FeatureBytes, type HeadCache, type SettingResult } from './evaluate.js';
import { openEvaluator } from './openEvaluator.js';
import { type ConfirmableRow, confirmPickable } from './profileConfirm.js';

/** A row as `npm run profile` writes it: always with its kind and the effective kept-position count. */
export type ProfileRow = Required<Omit<BaseRow, 'bottleneck'>> & {
  bottleneck?: boolean;
  keepCount: number;
  /** Set by `--confirm` (profileConfirm.ts): the accuracies are whole-split values. */
  confirmed?: boolean;
};

/** `splits.confirmed` of a profile made with `--confirm`. */
export interface ConfirmedCounts {
  /** Images of the whole val and test splits. */
  val: number;
  test: number;
  floor: number;
  /** Rows measured on the whole validation split, and how many of them met the floor there. */
  evaluated: number;
  accepted: number;
}

/** profile.json as `npm run profile` writes it (fields it does not know are kept by `--bottlenecks-only`). */
export interface ProfileDoc {
  model: string;
  hash: string;
  blocksHash?: string;
  createdAt?: string;
  /** Images of the grid's sample (`--limit`) of each split. */
  splits: { val: number; test: number; confirmed?: ConfirmedCounts };
  fullModel: { val: number; test: number };
  timings: Record<string, unknown> & { bottleneckMs?: Record<string, { encoderMs: number; decoderMs: number }> };
  rows: ProfileRow[];
  [field: string]: unknown;
}

export const usage = `usage: npm run profile -- --model ID [--limit N] [--keeps 1,0.75,...] [--bits 8,6,...] [--tensor-bits 4,3,2,1]
                    [--bottlenecks all|none|ID,...] [--bottleneck-bits 8,6,4,3,2,1] [--confirm] [--timings-only]
                    [--bottlenecks-only] [--threads T] [--out FILE] [--fresh]
  --bits: 1..8 (default 8,6,4,3,2).
  --tensor-bits: the bit widths also evaluated with one quantization range per item (quantScope tensor), for
    the plain rows and the bottleneck rows alike (default 4,3,2,1).
  --bottlenecks: the learned bottlenecks of the manifest to evaluate (default all): rows with bottleneck: true
    at their point and variant, over --keeps x --bottleneck-bits (default: --bits plus 1).
  --timings-only: measure the reference timings of an existing profile.json again and keep its rows.
  --bottlenecks-only: after the learned bottlenecks were retrained, keep the existing profile.json's plain rows
    (every row without bottleneck: true, with their confirmation), fullModel, fillComparison and timings, and
    evaluate the bottleneck rows again (same grid flags; --keeps and --bits only shape the bottleneck grid)
    with their timings.bottleneckMs. Refused unless the profile's blocksHash (the variants' block files, fills
    and input normalization) matches the manifest and its grid sample matches --limit. With --confirm only the
    bottleneck groups are confirmed (every group when the existing profile was not confirmed).
  --confirm: after the grid, the rows the planner can pick under its default floor (per point, variant and
    bottleneck the smallest row that meets the full model's whole-split validation accuracy - 1 point) are
    re-measured on the whole val and test splits (\`confirmed: true\`); fullModel becomes the whole-split value.
  Evaluates the grid on the first N images of the val and test splits (default: all) and writes profile.json
  (with the manifest's hash and blocksHash). Rows are resumed from FILE.partial unless --fresh.`;

function dominant(coders: Record<string, number>): string {
  return Object.entries(coders).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'none';
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `sha256:<hex>` over what the plain rows of a profile depend on in the manifest: every variant's block
 * files (`<variant id>/<file>/<sha256>`, the classifier included), its prune ratio and its fill values
 * (the codec's values at dropped positions), and the input normalization; one entry a line, sorted. The
 * learned bottlenecks, the content hash and golden.json are left out, so retraining a bottleneck keeps it.
 *
 * @example
 * blocksHash(loadModel('fmnist-vgg16').manifest) // 'sha256:...'
 */
export function blocksHash(manifest: Pick<Manifest, 'variants' | 'input'>): string {
  const entries = manifest.variants.flatMap((v) => [
    ...v.blocks.map((b) => `${v.id}/${b.file}/${b.sha256}`),
    `${v.id}/pruneRatio/${v.pruneRatio}`,
    `${v.id}/fill/${sha256(JSON.stringify(v.fill ?? null))}`,
  ]);
  entries.push(`input/normalization/${sha256(JSON.stringify(manifest.input.normalization))}`);
  return `sha256:${sha256(`${entries.sort().join('\n')}\n`)}`;
}

/**
 * The existing profile `--bottlenecks-only` builds on, checked: made for this model, with a blocksHash
 * equal to the manifest's now (byte-identical block files) and on the same grid sample (`splits.val` and
 * `splits.test` equal the image counts `--limit` gives now). Throws a UsageError naming what differs.
 */
export function checkRefreshBase(
  raw: unknown,
  manifest: Pick<Manifest, 'id' | 'variants' | 'input'>,
  sample: { val: number; test: number },
  source: string,
): ProfileDoc {
  const doc = raw as Partial<ProfileDoc> | null;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.rows) || typeof doc.splits !== 'object') {
    throw new UsageError(`--bottlenecks-only: ${source} is not a profile`);
  }
  if (doc.model !== manifest.id) {
    throw new UsageError(`--bottlenecks-only: ${source} is for model ${doc.model}, not ${manifest.id}`);
  }
  const now = blocksHash(manifest);
  if (doc.blocksHash === undefined) {
    throw new UsageError(
      `--bottlenecks-only: ${source} has no blocksHash (made before profiles recorded it): run the whole profile`,
    );
  }
  if (doc.blocksHash !== now) {
    throw new UsageError(
      `--bottlenecks-only: the variants' block files differ from those ${source} was made with (blocksHash ${doc.blocksHash}, now ${now}): run the whole profile`,
    );
  }
  if (doc.splits.val !== sample.val || doc.splits.test !== sample.test) {
    throw new UsageError(
      `--bottlenecks-only: ${source} was evaluated on ${doc.splits.val} val / ${doc.splits.test} test images, --limit gives ${sample.val} / ${sample.test}`,
    );
  }
  return doc as ProfileDoc;
}

/** How many rows carry `confirmed`, and how many of those meet `floor` (what `splits.confirmed` counts). */
export function countConfirmed(rows: readonly ProfileRow[], floor: number): { evaluated: number; accepted: number } {
  return {
    evaluated: rows.filter((r) => r.confirmed).length,
    accepted: rows.filter((r) => r.confirmed && r.valAccuracy >= floor).length,
  };
}

/**
 * The profile `--bottlenecks-only` writes: `base` with its plain rows as they are (confirmation included)
 * and its bottleneck rows replaced by `bottleneckRows`, the new hash and blocksHash, `timings.bottleneckMs`
 * replaced (absent when no bottleneck was measured), every other timing kept. With `confirm` (a `--confirm`
 * pass over the merged rows) fullModel and `splits.confirmed` are its; otherwise `splits.confirmed` keeps
 * the base's splits and floor and is counted again over the merged rows.
 */
export function refreshedProfile(
  base: ProfileDoc,
  o: {
    hash: string;
    blocksHash: string;
    bottleneckRows: ProfileRow[];
    bottleneckMs: Record<string, { encoderMs: number; decoderMs: number }> | undefined;
    confirm?: { fullModel: { val: number; test: number }; confirmed: ConfirmedCounts };
    createdAt?: string;
  },
): ProfileDoc {
  const rows = mergeBottleneckRows(base.rows, o.bottleneckRows);
  const { bottleneckMs: _old, ...timings } = base.timings;
  const baseConfirmed = base.splits.confirmed;
  const confirmed =
    o.confirm?.confirmed ??
    (baseConfirmed ? { ...baseConfirmed, ...countConfirmed(rows, baseConfirmed.floor) } : undefined);
  const { confirmed: _c, ...splits } = base.splits;
  return {
    ...base,
    hash: o.hash,
    blocksHash: o.blocksHash,
    createdAt: o.createdAt ?? new Date().toISOString(),
    splits: { ...splits, ...(confirmed ? { confirmed } : {}) },
    fullModel: o.confirm?.fullModel ?? base.fullModel,
    timings: { ...timings, ...(o.bottleneckMs ? { bottleneckMs: o.bottleneckMs } : {}) },
    rows,
  };
}

/** Every row of `rows` but the bottleneck ones, in order, then `bottleneckRows`. */
export function mergeBottleneckRows(rows: readonly ProfileRow[], bottleneckRows: readonly ProfileRow[]): ProfileRow[] {
  return [...rows.filter((r) => r.bottleneck !== true), ...bottleneckRows];
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: { type: 'string' },
    limit: { type: 'string' },
    keeps: { type: 'string' },
    bits: { type: 'string' },
    'tensor-bits': { type: 'string' },
    bottlenecks: { type: 'string' },
    'bottleneck-bits': { type: 'string' },
    threads: { type: 'string' },
    out: { type: 'string' },
    fresh: { type: 'boolean' },
    confirm: { type: 'boolean' },
    'timings-only': { type: 'boolean' },
    'bottlenecks-only': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) {
    console.log(usage);
    return 0;
  }
  if (!f.model) throw new UsageError('--model is required');
  if (f['timings-only'] && f['bottlenecks-only'])
    throw new UsageError('--timings-only and --bottlenecks-only exclude each other');
  const limit = f.limit === undefined ? undefined : num(f.limit, 'limit', { min: 1, int: true });
  const threads = f.threads === undefined ? 0 : num(f.threads, 'threads', { min: 0, int: true });
  const keeps = (f.keeps ?? '1,0.75,0.5,0.25,0.125').split(',').map((k) => num(k, 'keeps', { min: 1e-6, max: 1 }));
  const tensorBits = new Set(
    (f['tensor-bits'] ?? '4,3,2,1')
      .split(',')
      .filter((b) => b !== '')
      .map((b) => num(b, 'tensor-bits', { min: 1, max: 8, int: true })),
  );
  const bitsList = (f.bits ?? '8,6,4,3,2').split(',').map((b) => num(b, 'bits', { min: 1, max: 8, int: true }));
  const bottleneckBits = f['bottleneck-bits']
    ? f['bottleneck-bits'].split(',').map((b) => num(b, 'bottleneck-bits', { min: 1, max: 8, int: true }))
    : [...new Set([...bitsList, 1])];

  const val = openEvaluator(f.model, 'val', limit, threads);
  const { manifest, dir } = val.model;
  const test = new Evaluator(val.model, val.runner, loadSplit(dir, 'test', limit));
  const outPath = f.out ?? join(dir, 'profile.json');
  const partialPath = `${outPath}.partial`;
  const P = manifest.points.length;
  const variants = manifest.variants.map((v) => v.pruneRatio);
  const bottlenecks = selectBottlenecks(manifest.bottlenecks ?? [], f.bottlenecks ?? 'all');
  if (f['timings-only']) {
    // the rows stay; only the reference timings are measured again (in a fresh process, on a quiet machine)
    if (!existsSync(outPath)) throw new UsageError(`--timings-only: no profile at ${outPath}`);
    const existing = JSON.parse(readFileSync(outPath, 'utf8')) as { hash?: string; timings?: Record<string, unknown> };
    if (existing.hash !== manifest.hash) throw new UsageError(`--timings-only: ${outPath} is for another model build`);
    const timings = await measureTimings(val, variants, P, bottlenecks);
    const doc = { ...existing, timings: { ...existing.timings, ...timings } };
    writeFileSync(`${outPath}.tmp`, `${JSON.stringify(doc, null, 1)}\n`);
    renameSync(`${outPath}.tmp`, outPath);
    await val.runner.close();
    process.stderr.write(`wrote the timings of ${outPath}\n`);
    return 0;
  }
  // --bottlenecks-only: the plain rows come from the existing profile, this run evaluates the bottleneck rows
  let base: ProfileDoc | undefined;
  if (f['bottlenecks-only']) {
    if (!existsSync(outPath)) throw new UsageError(`--bottlenecks-only: no profile at ${outPath}`);
    base = checkRefreshBase(
      JSON.parse(readFileSync(outPath, 'utf8')),
      manifest,
      { val: val.data.count, test: test.data.count },
      outPath,
    );
  }
  const macs = (v: number, from: number, to: number) =>
    findVariant(manifest, v)
      .blocks.filter((b) => b.block >= from && b.block <= to)
      .reduce((a, b) => a + b.macs, 0);

  // the rows this run evaluates (with --bottlenecks-only, the bottleneck rows alone), resumed from the
  // partial file of an interrupted run for the same model build and sample
  const selected = (r: ProfileRow) =>
    r.bottleneck === true && bottlenecks.some((b) => b.point === r.point && b.variant === r.variant);
  let rows: ProfileRow[] = [];
  if (!f.fresh && existsSync(partialPath)) {
    const partial = JSON.parse(readFileSync(partialPath, 'utf8')) as {
      hash: string;
      limit: number | null;
      rows: ProfileRow[];
    };
    if (partial.hash === manifest.hash && partial.limit === (limit ?? null)) {
      rows = base ? partial.rows.filter(selected) : partial.rows;
    }
  }
  type Scope = 'channel' | 'tensor';
  const key = (r: {
    kind: string;
    point: number;
    variant: number;
    keep: number;
    bits: number;
    quantScope?: Scope;
    bottleneck?: boolean;
  }) =>
    `${r.kind}/${r.point}/${r.variant}/${r.keep}/${r.bits}/${r.quantScope ?? 'channel'}${r.bottleneck ? '/bn' : ''}`;
  const gridOf = (bitsOf: readonly number[]) =>
    keeps.flatMap((keep) =>
      bitsOf.flatMap((bits) =>
        (tensorBits.has(bits) ? (['channel', 'tensor'] as const) : (['channel'] as const)).map((quantScope) => ({
          keep,
          bits,
          quantScope,
        })),
      ),
    );
  const grid = gridOf(bitsList);
  const bottleneckGrid = gridOf(bottleneckBits);
  const done = new Set(rows.map(key));
  const savePartial = () => {
    writeFileSync(partialPath, JSON.stringify({ hash: manifest.hash, limit: limit ?? null, rows }));
  };
  const bottleneckTotal = bottlenecks.length * bottleneckGrid.length;
  const total = base ? bottleneckTotal : 1 + variants.length + variants.length * P * grid.length + bottleneckTotal;
  const tick = progress('profile', total);
  let count = rows.length;
  const encodeMs: number[] = [];
  const decodeMs: number[] = [];
  process.stderr.write(
    `profiling ${manifest.id}${base ? ' (bottleneck rows only)' : ''}: val ${val.data.count} / test ${test.data.count} images, ${total} rows (${rows.length} resumed)\n`,
  );

  // one (variant, point) group, through the variant's learned bottleneck when `b` is given (its code is sent
  // instead of the point's features); settings with the same effective k (small maps) are evaluated once
  const profileGroup = async (v: number, p: number, settings: typeof grid, b?: Bottleneck) => {
    const bottleneck = b !== undefined;
    const todo = settings.filter((s) => !done.has(key({ kind: 'split', point: p, variant: v, bottleneck, ...s })));
    if (todo.length === 0) return;
    const [hv, ht]: [HeadCache, HeadCache] = [
      await val.heads(v, p, { bottleneck }),
      await test.heads(v, p, { bottleneck }),
    ];
    const hw = hv.dims[1] * hv.dims[2];
    const memo = new Map<string, [SettingResult, SettingResult]>();
    for (const { keep, bits, quantScope } of todo) {
      const k = Math.max(1, Math.ceil(keep * hw));
      const mk = `${k}/${bits}/${quantScope}`;
      let res = memo.get(mk);
      if (!res) {
        const s = {
          kind: 'split' as const,
          point: p,
          variant: v,
          keep,
          bits,
          coder: 'auto' as const,
          fill: 'stored' as const,
          quantScope,
          bottleneck,
        };
        res = [await val.split(hv, s), await test.split(ht, s)];
        memo.set(mk, res);
        encodeMs.push(...res[0].encodeMs);
        decodeMs.push(...res[0].decodeMs);
      }
      rows.push({
        kind: 'split',
        point: p,
        variant: v,
        keep,
        keepCount: k,
        bits,
        coder: dominant(res[0].coders),
        quantScope,
        ...(bottleneck ? { bottleneck: true } : {}),
        valAccuracy: res[0].accuracy,
        testAccuracy: res[1].accuracy,
        meanPayloadBytes: res[0].meanPayloadBytes,
        // the unpruned model's features at the point, as for every row, so compression ratios compare
        float32FeatureBytes: float32FeatureBytes(val.model, p),
        headMacs: macs(v, 1, p) + (b?.encoder.macs ?? 0),
        tailMacs: macs(v, p + 1, P + 1) + (b?.decoder.macs ?? 0),
      });
      const label = b ? b.id : `p${p} r${v}`;
      tick(
        ++count,
        `${label} keep ${keep} b${bits} ${quantScope} val ${res[0].accuracy.toFixed(4)} ${res[0].meanPayloadBytes.toFixed(0)} B`,
      );
    }
    savePartial();
  };
  const confirmRows = async (all: ProfileRow[], groups?: (r: ConfirmableRow) => boolean) => {
    const wholeVal = new Evaluator(val.model, val.runner, loadSplit(dir, 'val'));
    const wholeTest = new Evaluator(val.model, val.runner, loadSplit(dir, 'test'));
    const res = await confirmPickable(all, wholeVal, wholeTest, 0.01, (line) => process.stderr.write(`${line}\n`), {
      ...(groups ? { groups } : {}),
    });
    const confirmed: ConfirmedCounts = {
      val: wholeVal.data.count,
      test: wholeTest.data.count,
      floor: res.floor,
      evaluated: res.evaluated,
      accepted: res.accepted,
    };
    return { fullModel: res.fullModel, confirmed };
  };
  const write = async (doc: unknown, what: string) => {
    writeFileSync(`${outPath}.tmp`, `${JSON.stringify(doc, null, 1)}\n`);
    renameSync(`${outPath}.tmp`, outPath);
    await val.runner.close();
    process.stderr.write(`wrote ${outPath} (${what})\n`);
  };

  if (base) {
    for (const b of bottlenecks) await profileGroup(b.variant, b.point, bottleneckGrid, b);
    const merged = mergeBottleneckRows(base.rows, rows);
    let confirm: Awaited<ReturnType<typeof confirmRows>> | undefined;
    if (f.confirm) {
      // the plain groups keep the confirmation of the existing profile (same blocks, same whole splits, so
      // the same floor); a profile that was never confirmed gets every group confirmed, as a full run would
      const baseFloor = base.splits.confirmed?.floor;
      confirm = await confirmRows(merged, baseFloor === undefined ? undefined : (r) => r.bottleneck === true);
      if (baseFloor !== undefined && Math.abs(confirm.confirmed.floor - baseFloor) > 1e-9) {
        process.stderr.write(
          `warning: the floor is ${confirm.confirmed.floor} now, ${baseFloor} when the plain rows were confirmed\n`,
        );
      }
    }
    const timings = bottlenecks.length > 0 ? await measureBottleneckTimings(val, bottlenecks) : undefined;
    const doc = refreshedProfile(base, {
      hash: manifest.hash,
      blocksHash: blocksHash(manifest),
      bottleneckRows: merged.filter((r) => r.bottleneck === true),
      bottleneckMs: timings,
      ...(confirm ? { confirm } : {}),
    });
    await write(doc, `${rows.length} bottleneck rows, ${doc.rows.length - rows.length} rows kept`);
    return 0;
  }

  const fullVal = await val.fullAccuracy(0);
  const fullTest = await test.fullAccuracy(0);

  // cloud-only and edge-only rows
  if (!done.has(key({ kind: 'cloud-only', point: 0, variant: 0, keep: 1, bits: 8 }))) {
    const [rv, rt] = [await val.cloudOnly('png'), await test.cloudOnly('png')];
    rows.push({
      kind: 'cloud-only',
      point: 0,
      variant: 0,
      keep: 1,
      keepCount: 0,
      bits: 8,
      coder: 'png',
      quantScope: 'channel',
      valAccuracy: rv.accuracy,
      testAccuracy: rt.accuracy,
      meanPayloadBytes: rv.meanPayloadBytes,
      float32FeatureBytes: 4 * manifest.input.shape.reduce((a, b) => a * b, 1),
      headMacs: 0,
      tailMacs: macs(0, 1, P + 1),
    });
    savePartial();
  }
  tick(++count);
  for (const v of variants) {
    if (done.has(key({ kind: 'edge-only', point: P + 1, variant: v, keep: 1, bits: 8 }))) continue;
    const [av, at] = [await val.fullAccuracy(v), await test.fullAccuracy(v)];
    rows.push({
      kind: 'edge-only',
      point: P + 1,
      variant: v,
      keep: 1,
      keepCount: 0,
      bits: 8,
      coder: 'none',
      quantScope: 'channel',
      valAccuracy: av,
      testAccuracy: at,
      meanPayloadBytes: 0,
      float32FeatureBytes: 0,
      headMacs: macs(v, 1, P + 1),
      tailMacs: 0,
    });
    savePartial();
    tick(++count);
  }

  for (const v of variants) for (let p = 1; p <= P; p++) await profileGroup(v, p, grid);
  for (const b of bottlenecks) await profileGroup(b.variant, b.point, bottleneckGrid, b);

  // the fill value at dropped positions: stored per-channel values vs zeros, on val
  const fillComparison = [];
  for (const p of [1, 2, 3].filter((x) => x <= P)) {
    const h = await val.heads(0, p);
    const s = { kind: 'split' as const, point: p, variant: 0, keep: 0.25, bits: 4, coder: 'auto' as const };
    const [stored, zero] = [await val.split(h, { ...s, fill: 'stored' }), await val.split(h, { ...s, fill: 'zero' })];
    fillComparison.push({
      point: p,
      variant: 0,
      keep: 0.25,
      bits: 4,
      storedValAccuracy: stored.accuracy,
      zeroValAccuracy: zero.accuracy,
    });
  }

  let fullModel = { val: fullVal, test: fullTest };
  let confirmed: ConfirmedCounts | undefined;
  if (f.confirm) ({ fullModel, confirmed } = await confirmRows(rows));

  // reference timings on this machine: batch 1, median of repeated runs
  const timings = await measureTimings(val, variants, P, bottlenecks);
  const profile = {
    model: manifest.id,
    hash: manifest.hash,
    blocksHash: blocksHash(manifest),
    createdAt: new Date().toISOString(),
    splits: { val: val.data.count, test: test.data.count, ...(confirmed ? { confirmed } : {}) },
    fullModel,
    fill: 'stored',
    fillComparison,
    timings: { ...timings, encodeMs: median(encodeMs), decodeMs: median(decodeMs) },
    rows,
  };
  await write(profile, `${rows.length} rows`);
  return 0;
}

/**
 * The bottlenecks `--bottlenecks` selects: `all` (default), `none`, or comma-separated ids (a usage
 * error names an id the manifest lacks).
 */
export function selectBottlenecks(all: readonly Bottleneck[], arg: string): Bottleneck[] {
  if (arg === 'all') return [...all];
  if (arg === 'none' || arg === '') return [];
  return arg.split(',').map((id) => {
    const b = all.find((x) => x.id === id.trim());
    if (!b) {
      throw new UsageError(
        `--bottlenecks: no bottleneck ${JSON.stringify(id)} (the model has ${all.map((x) => x.id).join(', ') || 'none'})`,
      );
    }
    return b;
  });
}

async function measureTimings(ev: Evaluator, variants: number[], P: number, bottlenecks: readonly Bottleneck[] = []) {
  const { manifest } = ev.model;
  const x = preprocess(manifest, ev.data.images.subarray(0, ev.data.imageBytes), 1);
  const headMs: Record<string, number[]> = {};
  const tailMs: Record<string, number[]> = {};
  const fullMs: Record<string, number> = {};
  const time = (fn: () => Promise<unknown>) => timeMedian(fn);
  for (const v of variants) {
    const id = findVariant(manifest, v).id;
    headMs[id] = [];
    tailMs[id] = [];
    for (let p = 1; p <= P; p++) headMs[id].push(await time(() => ev.runner.head(v, p, x, 1)));
    for (let p = 0; p <= P; p++) {
      const feats = p === 0 ? x : (await ev.runner.head(v, p, x, 1)).features;
      tailMs[id].push(await time(() => ev.runner.tail(v, p, feats, 1)));
    }
    fullMs[id] = tailMs[id][0] ?? 0;
  }
  return {
    device: `${platform()}-${arch()} ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`,
    batch: 1,
    headMs,
    tailMs,
    fullMs,
    ...(bottlenecks.length > 0 ? { bottleneckMs: await measureBottleneckTimings(ev, bottlenecks) } : {}),
  };
}

/** Each bottleneck's encoder on its point's features and decoder on its code, alone: batch 1, median. */
async function measureBottleneckTimings(ev: Evaluator, bottlenecks: readonly Bottleneck[]) {
  const x = preprocess(ev.model.manifest, ev.data.images.subarray(0, ev.data.imageBytes), 1);
  const bottleneckMs: Record<string, { encoderMs: number; decoderMs: number }> = {};
  for (const b of bottlenecks) {
    const feats = (await ev.runner.head(b.variant, b.point, x, 1)).features;
    const code = await ev.runner.encode(b, feats, 1);
    bottleneckMs[b.id] = {
      encoderMs: await timeMedian(() => ev.runner.encode(b, feats, 1)),
      decoderMs: await timeMedian(() => ev.runner.decode(b, code, 1)),
    };
  }
  return bottleneckMs;
}

/** The median of 15 timed runs of `fn` after one untimed run, in ms. */
async function timeMedian(fn: () => Promise<unknown>, reps = 15): Promise<number> {
  await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}
