/**
 * The shipped model's functions fit their bundle budget on both architectures, because each point
 * carries only the variants (and bottleneck decoders) its profile rows use (point 0: only r000, the one
 * cloud-only row).
 * Bundling is skipped (`aws:cdk:bundling-stacks`): the construct's size estimate is what synth checks.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bottlenecksForPoint, readProfileRows, variantsForPoint } from '@jmdc/functions/modelFiles';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { JmdcStack } from '../lib/jmdc-stack.js';
import { BUNDLE_BUDGET, BUNDLE_BUDGET_X86_64, PartitionFunction, readManifest } from '../lib/partition-function.js';

const REPO = join(import.meta.dirname, '..', '..');
const SHIPPED = join(REPO, 'models', 'fmnist-vgg16');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const haveShipped = existsSync(join(SHIPPED, 'manifest.json')) && existsSync(join(SHIPPED, 'profile.json'));
if (!haveShipped) console.log(`[budget.test] shipped model not checked: no manifest/profile in ${SHIPPED}`);

function synth(modelDir: string, architecture: Architecture): JmdcStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new JmdcStack(app, 'JmdcBudget', { modelDir, architecture });
}

const ARCHS = [
  { arch: Architecture.ARM_64, budget: BUNDLE_BUDGET },
  { arch: Architecture.X86_64, budget: BUNDLE_BUDGET_X86_64 },
];

describe.runIf(haveShipped).each(ARCHS)('fmnist-vgg16 on $arch.name', ({ arch, budget }) => {
  const stack = synth(SHIPPED, arch);
  const manifest = readManifest(SHIPPED);
  const rows = readProfileRows(SHIPPED)!;

  it('every function fits the budget and synth reports no error', () => {
    expect(stack.functions.size).toBe(manifest.points.length + 1);
    for (const fn of stack.functions.values()) {
      console.log(
        `[budget.test] ${arch.name} point ${fn.point}: ${(fn.estimatedBundleBytes / 2 ** 20).toFixed(1)} MiB (${fn.variants.join(',')}${fn.bottlenecks.length ? `; bottlenecks ${fn.bottlenecks.join(',')}` : ''})`,
      );
      expect(fn.estimatedBundleBytes).toBeLessThanOrEqual(budget);
    }
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  it('point 0 serves only r000 and every other point the variants its rows use', () => {
    expect(stack.functions.get(0)!.variants).toEqual(['r000']);
    for (const [point, fn] of stack.functions) {
      const used = new Set(rows.filter((r) => r.point === point).map((r) => r.variant));
      expect(fn.variants.length).toBe(used.size);
      expect(fn.variants).toEqual(variantsForPoint(manifest, point, rows));
      expect(fn.bottlenecks).toEqual(bottlenecksForPoint(manifest, point, rows, fn.variants));
    }
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Architectures: [arch.name],
      Environment: { Variables: Match.objectLike({ JMDC_POINT: '0', JMDC_VARIANTS: 'r000' }) },
    });
  });
});

describe('bundle budget', () => {
  it('reports an error annotation when a bundle is over its budget', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'JmdcOver');
    const fn = new PartitionFunction(stack, 'P0', { modelDir: TINY, point: 0, maxBundleBytes: 2 ** 20 });
    expect(fn.estimatedBundleBytes).toBeGreaterThan(2 ** 20);
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('over the 1 MiB budget'));
    expect(errors).toHaveLength(1);
  });

  it('a point carries the decoders of the bottlenecks its rows use, and counts them in its bundle', () => {
    const manifest = readManifest(TINY);
    const b = manifest.bottlenecks?.[0];
    expect(b).toBeDefined();
    if (!b) return;
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'JmdcBottleneck');
    const plain = [{ point: b.point, variant: b.variant }];
    const withBn = new PartitionFunction(stack, 'With', {
      modelDir: TINY,
      point: b.point,
      profileRows: [...plain, { point: b.point, variant: b.variant, bottleneck: true }],
    });
    const without = new PartitionFunction(stack, 'Without', { modelDir: TINY, point: b.point, profileRows: plain });
    expect(withBn.bottlenecks).toEqual([b.id]);
    expect(without.bottlenecks).toEqual([]);
    expect(withBn.estimatedBundleBytes - without.estimatedBundleBytes).toBe(b.decoder.bytes);
    const template = Template.fromStack(stack);
    for (const ids of [b.id, '']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ JMDC_POINT: String(b.point), JMDC_BOTTLENECKS: ids }) },
      });
    }
  });

  it('without a profile every variant is served', () => {
    const manifest = readManifest(TINY);
    expect(existsSync(join(TINY, 'profile.json'))).toBe(false);
    const stack = synth(TINY, Architecture.X86_64);
    for (const fn of stack.functions.values()) expect(fn.variants).toEqual(manifest.variants.map((v) => v.id));
  });
});
