import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadProfile } from '@jmdc/edge-sdk';
import { loadModel } from '@jmdc/edge-sdk/model';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
// the dataset commands as `npm run eval` / `npm run profile` run them
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const cli = join(root, 'infra', 'tools', 'src', 'cli.ts');
const bin = [tsx, '--conditions', 'source', cli];
const tiny = join(root, 'test', 'fixtures', 'models', 'tiny-vgg11');
const manifest = JSON.parse(readFileSync(join(tiny, 'manifest.json'), 'utf8')) as {
  variants: { pruneRatio: number; accuracy: { val: number; test: number } }[];
  bottlenecks: {
    id: string;
    point: number;
    variant: number;
    encoder: { inShape: number[]; macs: number };
    decoder: { macs: number };
  }[];
};

async function jmdc(...args: string[]): Promise<{ json: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await run(process.execPath, [...bin, ...args], { cwd: root });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return { json: JSON.parse(last) as Record<string, unknown>, stderr };
}

describe('npm run eval on the tiny fixture (real dataset split, real ORT, real codec)', () => {
  it('full-model accuracy equals the accuracy the training pipeline measured on the same split', async () => {
    const { json } = await jmdc('eval', '--model', tiny, '--split', 'val', '--point', 'edge', '--json');
    expect(json.n).toBe(256);
    expect(json.fullModelAccuracy).toBeCloseTo(manifest.variants[0]!.accuracy.val, 6);
    expect(json.accuracy).toBeCloseTo(manifest.variants[0]!.accuracy.val, 6);
    expect(json.meanPayloadBytes).toBe(0);
  });

  it('a compressed split reports payload bytes, ratio against unpruned float32 features and timings', async () => {
    const { json } = await jmdc(
      'eval',
      '--model',
      tiny,
      '--split',
      'test',
      '--point',
      '2',
      '--variant',
      '0.5',
      '--keep',
      '0.25',
      '--bits',
      '4',
      '--coder',
      'deflate',
      '--json',
    );
    expect(json.kind).toBe('split');
    expect(json.float32FeatureBytes).toBe(4 * 8 * 8 * 8);
    const bytes = json.meanPayloadBytes as number;
    expect(bytes).toBeGreaterThan(0);
    expect(json.compressionRatio).toBeCloseTo((json.float32FeatureBytes as number) / bytes, 9);
    expect(json.coders).toEqual({ deflate: 256 });
    expect(json.fullModelAccuracy).toBeCloseTo(manifest.variants[0]!.accuracy.test, 6);
    expect(json.encodeMsMedian as number).toBeGreaterThan(0);
    expect(json.decodeMsMedian as number).toBeGreaterThan(0);
  });

  it('cloud-only sends the PNG of the raw image and matches the whole network', async () => {
    const { json } = await jmdc(
      'eval',
      '--model',
      tiny,
      '--split',
      'val',
      '--point',
      'cloud',
      '--limit',
      '64',
      '--json',
    );
    expect(json.kind).toBe('cloud-only');
    expect(json.coder).toBe('png');
    expect(json.accuracy).toBe(json.fullModelAccuracy);
    expect(json.meanPayloadBytes as number).toBeLessThan(28 * 28 + 200);
  });

  it('--bottleneck sends the code of the variant’s bottleneck at the point (ratio still against the unpruned features)', async () => {
    const b = manifest.bottlenecks[0]!;
    const args = ['eval', '--model', tiny, '--split', 'val', '--point', String(b.point), '--limit', '64'];
    const { json } = await jmdc(...args, '--keep', '0.5', '--bits', '1', '--bottleneck', '--json');
    expect(json.bottleneck).toBe(b.id);
    expect(json.float32FeatureBytes).toBe(4 * b.encoder.inShape.reduce((x, y) => x * y, 1));
    const plain = await jmdc(...args, '--keep', '0.5', '--bits', '1', '--json');
    expect(plain.json.bottleneck).toBeNull();
    // c of C channels at 1 bit: a smaller payload than the features'
    expect(json.meanPayloadBytes as number).toBeLessThan(plain.json.meanPayloadBytes as number);
  });

  it('--bottleneck where the variant has none at the point: exit code 2 naming the model’s bottlenecks', async () => {
    const err = (await run(
      process.execPath,
      [...bin, 'eval', '--model', tiny, '--point', '5', '--bottleneck', '--limit', '8'],
      { cwd: root },
    ).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(manifest.bottlenecks[0]!.id);
  });

  it('exits with code 2 and a usage hint on a bad flag', async () => {
    const err = (await run(process.execPath, [...bin, 'eval', '--model', tiny, '--bits', '9'], { cwd: root }).catch(
      (e: unknown) => e,
    )) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('--bits must be <= 8');
  });
});

describe('npm run profile on the tiny fixture', () => {
  it('writes every grid row with val and test accuracy', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'jmdc-profile-')), 'profile.json');
    await run(
      process.execPath,
      [
        ...bin,
        'profile',
        '--model',
        tiny,
        '--limit',
        '32',
        '--keeps',
        '1,0.25',
        '--bits',
        '8,2',
        '--tensor-bits',
        '2',
        '--out',
        out,
      ],
      { cwd: root },
    );
    const profile = JSON.parse(readFileSync(out, 'utf8')) as {
      rows: {
        kind: string;
        point: number;
        valAccuracy: number;
        meanPayloadBytes: number;
        keep: number;
        bits: number;
        quantScope: string;
        bottleneck?: boolean;
        variant: number;
        headMacs: number;
        tailMacs: number;
        float32FeatureBytes: number;
      }[];
      timings: {
        headMs: Record<string, number[]>;
        bottleneckMs: Record<string, { encoderMs: number; decoderMs: number }>;
      };
    };
    // 1 cloud-only + 2 edge-only + 2 variants x 5 points x 2 keeps x (8 bits + 2 bits per channel + 2 bits per item)
    // + per bottleneck 2 keeps x (8 bits + 2 bits per channel + 2 bits per item + 1 bit per channel)
    const B = manifest.bottlenecks.length;
    expect(B).toBeGreaterThan(0);
    expect(profile.rows.length).toBe(1 + 2 + 60 + B * 8);
    const bn = profile.rows.filter((r) => r.bottleneck === true);
    expect(bn).toHaveLength(B * 8);
    for (const b of manifest.bottlenecks) {
      const mine = bn.filter((r) => r.point === b.point && r.variant === b.variant);
      expect(mine.map((r) => `${r.keep}/${r.bits}/${r.quantScope}`).sort()).toEqual(
        [
          '1/1/channel',
          '1/2/channel',
          '1/2/tensor',
          '1/8/channel',
          '0.25/1/channel',
          '0.25/2/channel',
          '0.25/2/tensor',
          '0.25/8/channel',
        ].sort(),
      );
      const plain = profile.rows.find(
        (r) => r.kind === 'split' && !r.bottleneck && r.point === b.point && r.variant === b.variant,
      )!;
      for (const r of mine) {
        expect(r.kind).toBe('split');
        expect(r.meanPayloadBytes).toBeGreaterThan(0);
        expect(r.headMacs).toBe(plain.headMacs + b.encoder.macs);
        expect(r.tailMacs).toBe(plain.tailMacs + b.decoder.macs);
        expect(r.float32FeatureBytes).toBe(plain.float32FeatureBytes);
      }
      expect(profile.timings.bottleneckMs[b.id]?.encoderMs).toBeGreaterThan(0);
      expect(profile.timings.bottleneckMs[b.id]?.decoderMs).toBeGreaterThan(0);
    }
    expect(profile.rows.filter((r) => r.kind === 'split').every((r) => r.meanPayloadBytes > 0)).toBe(true);
    expect(profile.rows.filter((r) => r.quantScope === 'tensor').every((r) => r.bits === 2)).toBe(true);
    const p1 = profile.rows.filter((r) => r.kind === 'split' && !r.bottleneck && r.point === 1 && r.bits === 8);
    expect(p1.find((r) => r.keep === 0.25)!.meanPayloadBytes).toBeLessThan(
      p1.find((r) => r.keep === 1)!.meanPayloadBytes,
    );
    expect(profile.timings.headMs.r000).toHaveLength(5);
    // what the SDK loads: the bottleneck rows are checked against the manifest and planned with their ids
    const loaded = loadProfile(out, { manifest: loadModel(tiny).manifest });
    expect(loaded.rows.filter((r) => r.bottleneck).map((r) => r.bottleneckId)).toHaveLength(B * 8);
    expect(Object.keys(loaded.bottlenecks ?? {}).sort()).toEqual(manifest.bottlenecks.map((b) => b.id).sort());
  });
});
