import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
      }[];
      timings: { headMs: Record<string, number[]> };
    };
    // 1 cloud-only + 2 edge-only + 2 variants x 5 points x 2 keeps x (8 bits + 2 bits per channel + 2 bits per item)
    expect(profile.rows.length).toBe(1 + 2 + 60);
    expect(profile.rows.filter((r) => r.kind === 'split').every((r) => r.meanPayloadBytes > 0)).toBe(true);
    expect(profile.rows.filter((r) => r.quantScope === 'tensor').every((r) => r.bits === 2)).toBe(true);
    const p1 = profile.rows.filter((r) => r.kind === 'split' && r.point === 1 && r.bits === 8);
    expect(p1.find((r) => r.keep === 0.25)!.meanPayloadBytes).toBeLessThan(
      p1.find((r) => r.keep === 1)!.meanPayloadBytes,
    );
    expect(profile.timings.headMs.r000).toHaveLength(5);
  });
});
