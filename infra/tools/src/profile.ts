/**
 * `npm run profile`: evaluates every point x variant x keep x bits (plus cloud-only and edge-only, and
 * for every learned bottleneck of the manifest its point and variant x keep x bits with 1 bit added)
 * on the validation split (choices) and the test split (reporting only), measures reference timings
 * (bottleneck encoders and decoders included), and writes models/<id>/profile.json for the planner.
 *
 *   npm run profile -- --model fmnist-vgg16 [--limit 1000] [--threads 2] [--bottlenecks all|none|ID,...]
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import type { ProfileRow as BaseRow } from '@jmdc/edge-sdk';
import { median, num, parseFlags, progress, UsageError } from '@jmdc/edge-sdk/cli';
import { type Bottleneck, findVariant, preprocess } from '@jmdc/edge-sdk/model';
import { openEvaluator } from './openEvaluator.js';
import { confirmPickable } from './profileConfirm.js';

/** A row as `npm run profile` writes it: always with its kind and the effective kept-position count. */
type ProfileRow = Required<Omit<BaseRow, 'bottleneck'>> & { bottleneck?: boolean; keepCount: number };

import { loadSplit } from './dataset.js';
import { Evaluator, float32FeatureBytes, type HeadCache, type SettingResult } from './evaluate.js';

export const usage = `usage: npm run profile -- --model ID [--limit N] [--keeps 1,0.75,...] [--bits 8,6,...] [--tensor-bits 4,3,2,1]
                    [--bottlenecks all|none|ID,...] [--bottleneck-bits 8,6,4,3,2,1] [--confirm] [--timings-only] [--threads T] [--out FILE] [--fresh]
  --bits: 1..8 (default 8,6,4,3,2).
  --tensor-bits: the bit widths also evaluated with one quantization range per item (quantScope tensor), for
    the plain rows and the bottleneck rows alike (default 4,3,2,1).
  --bottlenecks: the learned bottlenecks of the manifest to evaluate (default all): rows with bottleneck: true
    at their point and variant, over --keeps x --bottleneck-bits (default: --bits plus 1).
  --timings-only: measure the reference timings of an existing profile.json again and keep its rows.
  --confirm: after the grid, the rows the planner can pick under its default floor (per point, variant and
    bottleneck the smallest row that meets the full model's whole-split validation accuracy - 1 point) are
    re-measured on the whole val and test splits (\`confirmed: true\`); fullModel becomes the whole-split value.
  Evaluates the grid on the first N images of the val and test splits (default: all) and writes profile.json.
  Rows are resumed from FILE.partial unless --fresh.`;

function dominant(coders: Record<string, number>): string {
  return Object.entries(coders).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'none';
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
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) {
    console.log(usage);
    return 0;
  }
  if (!f.model) throw new UsageError('--model is required');
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
  const macs = (v: number, from: number, to: number) =>
    findVariant(manifest, v)
      .blocks.filter((b) => b.block >= from && b.block <= to)
      .reduce((a, b) => a + b.macs, 0);

  let rows: ProfileRow[] = [];
  if (!f.fresh && existsSync(partialPath)) {
    const partial = JSON.parse(readFileSync(partialPath, 'utf8')) as {
      hash: string;
      limit: number | null;
      rows: ProfileRow[];
    };
    if (partial.hash === manifest.hash && partial.limit === (limit ?? null)) rows = partial.rows;
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
  const total = 1 + variants.length + variants.length * P * grid.length + bottlenecks.length * bottleneckGrid.length;
  const tick = progress('profile', total);
  let count = rows.length;
  const encodeMs: number[] = [];
  const decodeMs: number[] = [];
  process.stderr.write(
    `profiling ${manifest.id}: val ${val.data.count} / test ${test.data.count} images, ${total} rows (${rows.length} resumed)\n`,
  );

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
  let confirmed: Record<string, number> | undefined;
  if (f.confirm) {
    const wholeVal = new Evaluator(val.model, val.runner, loadSplit(dir, 'val'));
    const wholeTest = new Evaluator(val.model, val.runner, loadSplit(dir, 'test'));
    const res = await confirmPickable(rows, wholeVal, wholeTest, 0.01, (line) => process.stderr.write(`${line}\n`));
    fullModel = res.fullModel;
    confirmed = {
      val: wholeVal.data.count,
      test: wholeTest.data.count,
      floor: res.floor,
      evaluated: res.evaluated,
      accepted: res.accepted,
    };
  }

  // reference timings on this machine: batch 1, median of repeated runs
  const timings = await measureTimings(val, variants, P, bottlenecks);
  const profile = {
    model: manifest.id,
    hash: manifest.hash,
    createdAt: new Date().toISOString(),
    splits: { val: val.data.count, test: test.data.count, ...(confirmed ? { confirmed } : {}) },
    fullModel,
    fill: 'stored',
    fillComparison,
    timings: { ...timings, encodeMs: median(encodeMs), decodeMs: median(decodeMs) },
    rows,
  };
  writeFileSync(`${outPath}.tmp`, `${JSON.stringify(profile, null, 1)}\n`);
  renameSync(`${outPath}.tmp`, outPath);
  await val.runner.close();
  process.stderr.write(`wrote ${outPath} (${rows.length} rows)\n`);
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
  const reps = 15;
  const x = preprocess(manifest, ev.data.images.subarray(0, ev.data.imageBytes), 1);
  const headMs: Record<string, number[]> = {};
  const tailMs: Record<string, number[]> = {};
  const fullMs: Record<string, number> = {};
  const time = async (fn: () => Promise<unknown>) => {
    await fn();
    const ts: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await fn();
      ts.push(performance.now() - t0);
    }
    return median(ts);
  };
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
  // each bottleneck's encoder on its point's features and decoder on its code, alone
  const bottleneckMs: Record<string, { encoderMs: number; decoderMs: number }> = {};
  for (const b of bottlenecks) {
    const feats = (await ev.runner.head(b.variant, b.point, x, 1)).features;
    const code = await ev.runner.encode(b, feats, 1);
    bottleneckMs[b.id] = {
      encoderMs: await time(() => ev.runner.encode(b, feats, 1)),
      decoderMs: await time(() => ev.runner.decode(b, code, 1)),
    };
  }
  return {
    device: `${platform()}-${arch()} ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`,
    batch: 1,
    headMs,
    tailMs,
    fullMs,
    ...(bottlenecks.length > 0 ? { bottleneckMs } : {}),
  };
}
