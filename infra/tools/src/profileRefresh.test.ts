import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadProfile } from '@jmdc/edge-sdk';
import { UsageError } from '@jmdc/edge-sdk/cli';
import { loadModel, type Manifest } from '@jmdc/edge-sdk/model';
import { describe, expect, it } from 'vitest';
import {
  blocksHash,
  checkRefreshBase,
  countConfirmed,
  mergeBottleneckRows,
  type ProfileDoc,
  type ProfileRow,
  refreshedProfile,
} from './profile.js';

const root = join(import.meta.dirname, '..', '..', '..');
const tiny = join(root, 'test', 'fixtures', 'models', 'tiny-vgg11');
const shipped = join(root, 'models', 'fmnist-vgg16');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const tinyManifest = (): Manifest => readJson(join(tiny, 'manifest.json')) as Manifest;

const row = (o: Partial<ProfileRow>): ProfileRow => ({
  kind: 'split',
  point: 2,
  variant: 0,
  keep: 1,
  keepCount: 64,
  bits: 4,
  coder: 'rans',
  quantScope: 'channel',
  valAccuracy: 0.95,
  testAccuracy: 0.94,
  meanPayloadBytes: 100,
  float32FeatureBytes: 16384,
  headMacs: 1,
  tailMacs: 2,
  ...o,
});

function baseDoc(manifest: Manifest, rows: ProfileRow[]): ProfileDoc {
  return {
    model: manifest.id,
    hash: manifest.hash,
    blocksHash: blocksHash(manifest),
    createdAt: '2026-01-01T00:00:00.000Z',
    splits: { val: 1000, test: 1000, confirmed: { val: 5000, test: 10000, floor: 0.94, evaluated: 9, accepted: 9 } },
    fullModel: { val: 0.95, test: 0.94 },
    fill: 'stored',
    fillComparison: [{ point: 1 }],
    timings: {
      device: 'quiet',
      headMs: { r000: [1] },
      encodeMs: 0.1,
      decodeMs: 0.2,
      note: 'kept',
      bottleneckMs: { 'r000-p2': { encoderMs: 9, decoderMs: 9 } },
    },
    rows,
  };
}

describe('blocksHash', () => {
  it('is the hash recorded in the shipped profile, which was made with the current block files', () => {
    const profile = readJson(join(shipped, 'profile.json')) as { blocksHash: string };
    const manifest = readJson(join(shipped, 'manifest.json')) as Manifest;
    expect(profile.blocksHash).toBe(blocksHash(manifest));
    expect(blocksHash(manifest)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('ignores the bottlenecks, the content hash and the order of the variants', () => {
    const m = tinyManifest();
    const h = blocksHash(m);
    expect(blocksHash({ ...m, bottlenecks: [], hash: 'sha256:other' } as Manifest)).toBe(h);
    const b = m.bottlenecks?.[0];
    if (!b) throw new Error('the fixture has bottlenecks');
    const retrained = { ...b, encoder: { ...b.encoder, sha256: '0'.repeat(64) }, fill: b.fill.map((x) => x / 2) };
    expect(blocksHash({ ...m, bottlenecks: [retrained] } as Manifest)).toBe(h);
    expect(blocksHash({ ...m, variants: [...m.variants].reverse() })).toBe(h);
  });

  it('changes with any block file (the classifier included), a fill value or the input normalization', () => {
    const m = tinyManifest();
    const h = blocksHash(m);
    const withVariant = (i: number, f: (v: Manifest['variants'][number]) => Manifest['variants'][number]) => ({
      ...m,
      variants: m.variants.map((v, j) => (j === i ? f(v) : v)),
    });
    const last = m.variants[1]?.blocks.length ?? 0;
    for (const index of [0, last - 1]) {
      const changed = withVariant(1, (v) => ({
        ...v,
        blocks: v.blocks.map((b, j) => (j === index ? { ...b, sha256: 'f'.repeat(64) } : b)),
      }));
      expect(blocksHash(changed)).not.toBe(h);
    }
    expect(m.variants[1]?.blocks.at(-1)?.file).toMatch(/classifier/);
    expect(
      blocksHash(withVariant(0, (v) => ({ ...v, fill: v.fill.map((p, i) => (i === 0 ? p.map((x) => x + 1) : p)) }))),
    ).not.toBe(h);
    const norm = m.input.normalization;
    expect(blocksHash({ ...m, input: { ...m.input, normalization: { ...norm, std: [1] } } })).not.toBe(h);
  });
});

describe('checkRefreshBase', () => {
  const m = tinyManifest();
  const sample = { val: 1000, test: 1000 };

  it('accepts a profile of the same blocks and sample, whatever its manifest hash', () => {
    const doc = { ...baseDoc(m, [row({})]), hash: 'sha256:before-the-retraining' };
    expect(checkRefreshBase(doc, m, sample, 'p.json')).toBe(doc);
  });

  it('refuses other block files, a profile without blocksHash, another sample or another model', () => {
    const doc = baseDoc(m, [row({})]);
    const changed = {
      ...m,
      variants: m.variants.map((v) => ({ ...v, blocks: v.blocks.map((b) => ({ ...b, sha256: 'e'.repeat(64) })) })),
    };
    expect(() => checkRefreshBase(doc, changed, sample, 'p.json')).toThrow(UsageError);
    expect(() => checkRefreshBase(doc, changed, sample, 'p.json')).toThrow(/block files differ/);
    const { blocksHash: _, ...old } = doc;
    expect(() => checkRefreshBase(old, m, sample, 'p.json')).toThrow(/no blocksHash/);
    expect(() => checkRefreshBase(doc, m, { val: 5000, test: 10000 }, 'p.json')).toThrow(/1000 val \/ 1000 test/);
    expect(() => checkRefreshBase({ ...doc, model: 'other' }, m, sample, 'p.json')).toThrow(UsageError);
    expect(() => checkRefreshBase({ nothing: 1 }, m, sample, 'p.json')).toThrow(/not a profile/);
  });
});

describe('refreshedProfile', () => {
  const m = tinyManifest();
  const plain = [
    row({ kind: 'cloud-only', point: 0, coder: 'png', confirmed: true, valAccuracy: 0.95 }),
    row({ kind: 'edge-only', point: 6, coder: 'none', confirmed: true, valAccuracy: 0.95 }),
    row({ keep: 1, confirmed: true, valAccuracy: 0.945 }),
    row({ keep: 0.5, confirmed: true, valAccuracy: 0.93, meanPayloadBytes: 60 }),
    row({ keep: 0.25, meanPayloadBytes: 40 }),
  ];
  const oldBn = [
    row({ point: 2, bottleneck: true, bits: 1, confirmed: true, valAccuracy: 0.941, meanPayloadBytes: 20 }),
    row({ point: 2, bottleneck: true, bits: 2, meanPayloadBytes: 30 }),
  ];
  const newBn = [
    row({ point: 2, bottleneck: true, bits: 1, valAccuracy: 0.97, meanPayloadBytes: 10 }),
    row({ point: 2, bottleneck: true, bits: 4, valAccuracy: 0.96, meanPayloadBytes: 25 }),
  ];

  it('keeps the plain rows with their confirmation and drops the old bottleneck rows', () => {
    const rows = mergeBottleneckRows([plain[0]!, oldBn[0]!, ...plain.slice(1), oldBn[1]!], newBn);
    expect(rows).toEqual([...plain, ...newBn]);
  });

  it('writes the new hashes and bottleneck timings, keeps every other field and recounts splits.confirmed', () => {
    const base = baseDoc(m, [...plain, ...oldBn]);
    const bottleneckMs = { 'r000-p1': { encoderMs: 1, decoderMs: 2 } };
    const doc = refreshedProfile(base, {
      hash: 'sha256:new',
      blocksHash: base.blocksHash ?? '',
      bottleneckRows: newBn,
      bottleneckMs,
      createdAt: 'now',
    });
    expect(doc.rows).toEqual([...plain, ...newBn]);
    expect(doc).toMatchObject({ model: m.id, hash: 'sha256:new', blocksHash: base.blocksHash, createdAt: 'now' });
    expect(doc.fullModel).toEqual(base.fullModel);
    expect(doc.fillComparison).toEqual(base.fillComparison);
    expect(doc.timings).toEqual({ ...base.timings, bottleneckMs });
    // the old bottleneck row's confirmation is gone with it; the plain rows' stays (floor 0.94)
    expect(doc.splits).toEqual({
      val: 1000,
      test: 1000,
      confirmed: { val: 5000, test: 10000, floor: 0.94, evaluated: 4, accepted: 3 },
    });
    expect(countConfirmed(doc.rows, 0.94)).toEqual({ evaluated: 4, accepted: 3 });
    // the base profile is left as it was
    expect(base.rows).toHaveLength(plain.length + oldBn.length);
    expect(base.hash).toBe(m.hash);
  });

  it('takes fullModel and splits.confirmed of a confirmation pass; no bottleneck, no bottleneckMs', () => {
    const base = baseDoc(m, [...plain, ...oldBn]);
    const confirmed = { val: 5000, test: 10000, floor: 0.94, evaluated: 6, accepted: 4 };
    const doc = refreshedProfile(base, {
      hash: 'sha256:new',
      blocksHash: 'sha256:b',
      bottleneckRows: [],
      bottleneckMs: undefined,
      confirm: { fullModel: { val: 0.95, test: 0.941 }, confirmed },
    });
    expect(doc.rows).toEqual(plain);
    expect(doc.fullModel).toEqual({ val: 0.95, test: 0.941 });
    expect(doc.splits.confirmed).toEqual(confirmed);
    expect(doc.timings.bottleneckMs).toBeUndefined();
    expect(doc.timings.note).toBe('kept');
  });

  it('a profile without confirmation gets none', () => {
    const { confirmed: _, ...splits } = baseDoc(m, []).splits;
    const base = {
      ...baseDoc(
        m,
        plain.map((r) => ({ ...r, confirmed: undefined })),
      ),
      splits,
    };
    const doc = refreshedProfile(base, { hash: 'h', blocksHash: 'b', bottleneckRows: newBn, bottleneckMs: undefined });
    expect(doc.splits).toEqual({ val: 1000, test: 1000 });
  });
});

// the command on the tiny fixture, real ORT and real codec: a whole profile, then --bottlenecks-only over it
describe('npm run profile -- --bottlenecks-only on the tiny fixture', () => {
  const run = promisify(execFile);
  const bin = [
    join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
    '--conditions',
    'source',
    join(root, 'infra', 'tools', 'src', 'cli.ts'),
    'profile',
  ];
  const profile = (...args: string[]) => run(process.execPath, [...bin, '--model', tiny, ...args], { cwd: root });
  const grid = ['--limit', '32', '--keeps', '1,0.25', '--bits', '8,2', '--tensor-bits', '2'];

  it('keeps the plain rows and their confirmation, evaluates the bottleneck grid again, refuses other blocks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-profile-refresh-'));
    const out = join(dir, 'profile.json');
    await profile(...grid, '--confirm', '--out', out);
    const first = readJson(out) as ProfileDoc;
    const manifest = loadModel(tiny).manifest;
    expect(first.blocksHash).toBe(blocksHash(manifest));
    const B = manifest.bottlenecks?.length ?? 0;
    expect(B).toBeGreaterThan(0);
    expect(first.rows.filter((r) => r.bottleneck)).toHaveLength(B * 8);

    // marks that only survive if the plain rows are copied, not evaluated or confirmed again: an unconfirmed
    // plain row far above the floor would be a candidate of a whole confirmation pass
    const marked = first.rows.map((r) => (r.bottleneck ? r : { ...r, meanPayloadBytes: r.meanPayloadBytes + 0.5 }));
    const unconfirmed = marked.find((r) => r.kind === 'split' && !r.bottleneck && !r.confirmed);
    if (!unconfirmed) throw new Error('the tiny profile has an unconfirmed plain split row');
    Object.assign(unconfirmed, { valAccuracy: 1, meanPayloadBytes: 0.5 });
    const oldHash = 'sha256:before-the-bottlenecks-were-retrained';
    writeFileSync(out, JSON.stringify({ ...first, hash: oldHash, rows: marked }));

    // --fresh: the first run's partial file holds bottleneck rows of this very manifest, which would be resumed
    await profile(...grid, '--bottleneck-bits', '2', '--bottlenecks-only', '--confirm', '--fresh', '--out', out);
    const second = readJson(out) as ProfileDoc;
    expect(second.hash).toBe(manifest.hash);
    expect(second.blocksHash).toBe(first.blocksHash);
    expect(second.rows.filter((r) => !r.bottleneck)).toEqual(marked.filter((r) => !r.bottleneck));
    const bn = second.rows.filter((r) => r.bottleneck);
    // --bottleneck-bits 2 with --tensor-bits 2: 2 keeps x (channel + tensor) per bottleneck
    expect(bn).toHaveLength(B * 4);
    expect(bn.every((r) => r.bits === 2)).toBe(true);
    expect(second.fullModel).toEqual(first.fullModel);
    expect(second.fillComparison).toEqual(first.fillComparison);
    const { bottleneckMs, ...timings } = second.timings;
    const { bottleneckMs: _, ...firstTimings } = first.timings;
    expect(timings).toEqual(firstTimings);
    expect(Object.keys(bottleneckMs ?? {}).sort()).toEqual((manifest.bottlenecks ?? []).map((b) => b.id).sort());
    const floor = second.splits.confirmed?.floor ?? Number.NaN;
    expect(floor).toBe(first.splits.confirmed?.floor);
    expect(second.splits.confirmed).toMatchObject(countConfirmed(second.rows, floor));
    expect(loadProfile(out, { manifest }).rows.filter((r) => r.bottleneck)).toHaveLength(B * 4);

    // the same profile against other block files (a copy of the fixture with one block's sha256 changed)
    const other = join(mkdtempSync(join(tmpdir(), 'jmdc-profile-other-')), 'tiny');
    cpSync(tiny, other, { recursive: true });
    const m = readJson(join(other, 'manifest.json')) as Manifest;
    const b0 = m.variants[0]?.blocks[0];
    if (!b0) throw new Error('the fixture has blocks');
    b0.sha256 = '0'.repeat(64);
    writeFileSync(join(other, 'manifest.json'), JSON.stringify(m));
    const refused = await run(
      process.execPath,
      [...bin, '--model', other, ...grid, '--bottlenecks-only', '--out', out],
      { cwd: root },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 2 });
    expect((refused as { stderr: string }).stderr).toMatch(/block files differ/);
    // another sample
    const sample = await profile('--limit', '16', '--bottlenecks-only', '--out', out).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(sample).toMatchObject({ code: 2 });
    expect(readJson(out)).toEqual(second);
  }, 180_000);
});
