/**
 * `npm run eval`: accuracy, payload bytes and codec timings of one setting on a data split.
 *
 *   npm run eval -- --model fmnist-vgg16 --split test --point 2 --variant 0.5 --keep 0.25 --bits 4 --json
 */

import { median, num, parseFlags, progress, UsageError } from '@jmdc/edge-sdk/cli';
import type { CoderId } from '@jmdc/edge-sdk/codec';
import { findBottleneck } from '@jmdc/edge-sdk/model';
import { float32FeatureBytes, type SettingResult } from './evaluate.js';
import { openEvaluator } from './openEvaluator.js';

export const usage = `usage: npm run eval -- --model ID [--split val|test] [--point P|cloud|edge] [--variant R] [--keep K]
                 [--bits B] [--coder auto|none|deflate|brotli|rans] [--fill stored|zero] [--scope channel|tensor]
                 [--bottleneck] [--limit N] [--threads T] [--json]
  --point 0|cloud  cloud-only: the raw image (PNG) is sent, the cloud runs the whole network
  --point edge     edge-only: the whole network on the device, nothing sent
  --bottleneck     a split through the variant's learned bottleneck at the point: its code is sent
                   (--fill stored: the bottleneck's fill at dropped positions), its decoder runs before the tail
The last line of stdout is one JSON object with --json.`;

const CODERS = ['auto', 'none', 'deflate', 'brotli', 'rans'];

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: { type: 'string' },
    split: { type: 'string' },
    point: { type: 'string' },
    variant: { type: 'string' },
    keep: { type: 'string' },
    bits: { type: 'string' },
    coder: { type: 'string' },
    fill: { type: 'string' },
    scope: { type: 'string' },
    bottleneck: { type: 'boolean' },
    limit: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (f.help) {
    console.log(usage);
    return 0;
  }
  if (!f.model) throw new UsageError('--model is required');
  const split = (f.split ?? 'test') as 'val' | 'test';
  if (split !== 'val' && split !== 'test') throw new UsageError('--split must be val or test');
  const coder = (f.coder ?? 'auto') as CoderId | 'auto';
  if (!CODERS.includes(coder)) throw new UsageError(`--coder must be one of ${CODERS.join(', ')}`);
  const fill = (f.fill ?? 'stored') as 'stored' | 'zero';
  if (fill !== 'stored' && fill !== 'zero') throw new UsageError('--fill must be stored or zero');
  const quantScope = (f.scope ?? 'channel') as 'channel' | 'tensor';
  if (quantScope !== 'channel' && quantScope !== 'tensor') throw new UsageError('--scope must be channel or tensor');
  const limit = f.limit === undefined ? undefined : num(f.limit, 'limit', { min: 1, int: true });
  const threads = f.threads === undefined ? 0 : num(f.threads, 'threads', { min: 0, int: true });
  const variant = f.variant === undefined ? 0 : num(f.variant, 'variant', { min: 0, max: 0.99 });
  const keep = f.keep === undefined ? 1 : num(f.keep, 'keep', { min: 1e-6, max: 1 });
  const bits = f.bits === undefined ? 8 : num(f.bits, 'bits', { min: 1, max: 8, int: true });

  const ev = openEvaluator(f.model, split, limit, threads);
  const bars = new Map<string, (done: number) => void>();
  ev.onProgress = (label, done, total) => {
    let bar = bars.get(label);
    if (!bar) {
      bar = progress(label, total);
      bars.set(label, bar);
    }
    bar(done);
  };
  const P = ev.pointCount;
  const pointArg = f.point ?? String(Math.min(2, P));
  const point =
    pointArg === 'cloud' ? 0 : pointArg === 'edge' ? P + 1 : num(pointArg, 'point', { min: 0, max: P + 1, int: true });
  const kind = point === 0 ? 'cloud-only' : point === P + 1 ? 'edge-only' : 'split';
  const bottleneck = f.bottleneck === true;
  if (bottleneck && kind !== 'split') throw new UsageError('--bottleneck needs a split point 1..P');
  const bn = bottleneck ? findBottleneck(ev.model.manifest, variant, point) : undefined;
  if (bottleneck && !bn) {
    const have = (ev.model.manifest.bottlenecks ?? []).map((b) => `${b.id} (point ${b.point}, variant ${b.variant})`);
    throw new UsageError(
      `--bottleneck: variant ${variant} has no bottleneck at point ${point} (the model has ${have.join(', ') || 'none'})`,
    );
  }
  process.stderr.write(
    `evaluating ${ev.model.manifest.id} on ${split} (${ev.data.count} images), ${kind} point ${point}\n`,
  );

  const fullModelAccuracy = await ev.fullAccuracy(0);
  let res: SettingResult;
  if (kind === 'cloud-only') res = await ev.cloudOnly('png');
  else if (kind === 'edge-only') {
    const acc = await ev.fullAccuracy(variant);
    res = {
      correct: Math.round(acc * ev.data.count),
      count: ev.data.count,
      accuracy: acc,
      meanPayloadBytes: 0,
      encodeMs: [],
      decodeMs: [],
      coders: {},
    };
  } else {
    const cache = await ev.heads(variant, point, { bottleneck });
    res = await ev.split(cache, { kind, point, variant, keep, bits, coder, fill, quantScope, bottleneck });
  }
  const f32 =
    kind === 'split'
      ? float32FeatureBytes(ev.model, point)
      : 4 * ev.model.manifest.input.shape.reduce((a, b) => a * b, 1);
  const out = {
    model: ev.model.manifest.id,
    modelHash: ev.model.manifest.hash,
    split,
    n: res.count,
    kind,
    point,
    variant,
    keep: kind === 'split' ? keep : 1,
    bits: kind === 'split' ? bits : 8,
    coder: kind === 'cloud-only' ? 'png' : coder,
    coders: res.coders,
    fill,
    quantScope,
    bottleneck: bn?.id ?? null,
    accuracy: res.accuracy,
    fullModelAccuracy,
    accuracyLossPoints: 100 * (fullModelAccuracy - res.accuracy),
    meanPayloadBytes: res.meanPayloadBytes,
    float32FeatureBytes: f32,
    compressionRatio: res.meanPayloadBytes > 0 ? f32 / res.meanPayloadBytes : null,
    encodeMsMedian: median(res.encodeMs),
    decodeMsMedian: median(res.decodeMs),
  };
  await ev.runner.close();
  if (!f.json) {
    for (const [k, v] of Object.entries(out))
      process.stdout.write(`${k.padEnd(20)} ${typeof v === 'object' ? JSON.stringify(v) : v}\n`);
  }
  if (f.json) console.log(JSON.stringify(out));
  return 0;
}
