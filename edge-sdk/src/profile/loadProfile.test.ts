import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawPayloadBytes } from '../codec/encodeRaw.js';
import { ErrorCodes, isJmdcError } from '../errors.js';
import { loadModel } from '../model/manifest.js';
import type { Manifest } from '../model/types.js';
import { loadProfile, normalizeProfile, rowKind, variantIdFor } from './loadProfile.js';
import type { Profile } from './types.js';

const base = { keep: 1, bits: 8, coder: 'none', testAccuracy: 0.9, float32FeatureBytes: 0, headMacs: 0, tailMacs: 0 };

function profile(rows: Array<Partial<Profile['rows'][number]>>): Profile {
  return {
    model: 'm',
    hash: 'sha256:11',
    fullModel: { val: 0.93, test: 0.92 },
    rows: rows.map((r) => ({ point: 1, variant: 0, valAccuracy: 0.9, meanPayloadBytes: 10, ...base, ...r })),
    timings: {
      device: 'ref',
      headMs: { r000: [1, 2], r050: [0.5, 1] },
      tailMs: { r000: [3, 2, 1], r050: [1.5, 1, 0.5] },
      fullMs: { r000: 3, r050: 1.5 },
      encodeMs: 0.1,
      decodeMs: 0.1,
    },
  };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isJmdcError(e) ? e.code : 'not a JmdcError';
  }
  return undefined;
}

describe('normalizeProfile', () => {
  it('derives the kind from the point when it is missing (0 cloud-only, -1 or P+1 edge-only)', () => {
    expect(rowKind({ point: 0 }, 2)).toBe('cloud-only');
    expect(rowKind({ point: -1 }, 2)).toBe('edge-only');
    expect(rowKind({ point: 3 }, 2)).toBe('edge-only');
    expect(rowKind({ point: 2 }, 2)).toBe('split');
    expect(rowKind({ point: 2, kind: 'edge-only' }, 2)).toBe('edge-only');
    const p = normalizeProfile(profile([{ point: 0, coder: 'png' }, { point: 2, variant: 0.5 }, { point: 3 }]));
    expect(p.pointCount).toBe(2);
    expect(p.rows.map((r) => [r.kind, r.point, r.variantId])).toEqual([
      ['cloud-only', 0, 'r000'],
      ['split', 2, 'r050'],
      ['edge-only', -1, 'r000'],
    ]);
    expect(p.rows[2]?.meanPayloadBytes).toBe(0);
  });

  it('adds an edge-only row of the full model when the profile has none', () => {
    const p = normalizeProfile(profile([{ point: 1 }]));
    const edge = p.rows.filter((r) => r.kind === 'edge-only');
    expect(edge).toHaveLength(1);
    expect(edge[0]).toMatchObject({ variantId: 'r000', valAccuracy: 0.93, synthesized: true });
  });

  it('uses the manifest for variant ids, per-variant accuracy and a raw cloud-only row', () => {
    const manifest = {
      id: 'm',
      hash: 'sha256:11',
      input: { sourceShape: [1, 28, 28] },
      points: [{}, {}],
      variants: [
        { id: 'full', pruneRatio: 0, accuracy: { val: 0.93, test: 0.92 } },
        { id: 'half', pruneRatio: 0.5, accuracy: { val: 0.9, test: 0.89 } },
      ],
    } as unknown as Manifest;
    expect(variantIdFor(0.5, manifest)).toBe('half');
    expect(variantIdFor(0.25)).toBe('r025');
    const raw = profile([{ point: 1 }]);
    raw.timings.headMs = { full: [1, 2], half: [0.5, 1] };
    raw.timings.tailMs = { full: [3, 2, 1], half: [1.5, 1, 0.5] };
    raw.timings.fullMs = { full: 3, half: 1.5 };
    const p = normalizeProfile(raw, { manifest });
    expect(p.rows.filter((r) => r.synthesized).map((r) => [r.kind, r.variantId, r.valAccuracy])).toEqual([
      ['edge-only', 'full', 0.93],
      ['edge-only', 'half', 0.9],
      ['cloud-only', 'full', 0.93],
    ]);
    // the exact raw frame of one 1x28x28 image: 23 header bytes + 784 pixels
    expect(p.rows.find((r) => r.kind === 'cloud-only')?.meanPayloadBytes).toBe(rawPayloadBytes([1, 28, 28]));
    expect(rawPayloadBytes([1, 28, 28])).toBe(807);
    expect(code(() => normalizeProfile({ ...raw, hash: 'sha256:22' }, { manifest }))).toBe(ErrorCodes.PROFILE_INVALID);
  });

  describe('the raw cloud-only row derived from a lossless one', () => {
    const manifest = {
      id: 'm',
      hash: 'sha256:11',
      input: { sourceShape: [1, 28, 28] },
      points: [{}, {}],
      variants: [{ id: 'r000', pruneRatio: 0, accuracy: { val: 0.93, test: 0.92 } }],
    } as unknown as Manifest;
    const cloud = (p: ReturnType<typeof normalizeProfile>) =>
      p.rows.filter((r) => r.kind === 'cloud-only').map((r) => [r.coder, r.synthesized]);

    it.each([
      'png',
      'deflate',
    ])('is added next to a %s row, with its accuracy and the exact raw frame bytes', (coder) => {
      const src = { point: 0, coder, bits: 8, valAccuracy: 0.9458, testAccuracy: 0.9383, meanPayloadBytes: 540 };
      const p = normalizeProfile(profile([src, { point: 1 }]), { manifest });
      expect(cloud(p)).toEqual([
        [coder, false],
        ['raw', true],
      ]);
      const raw = p.rows.find((r) => r.coder === 'raw');
      expect(raw).toMatchObject({
        point: 0,
        variantId: 'r000',
        keep: 1,
        bits: 8,
        valAccuracy: 0.9458,
        testAccuracy: 0.9383,
      });
      expect(raw?.meanPayloadBytes).toBe(rawPayloadBytes([1, 28, 28]));
    });

    it('is derived from the PNG row when both lossless formats are listed', () => {
      const p = normalizeProfile(
        profile([
          { point: 0, coder: 'deflate', valAccuracy: 0.8 },
          { point: 0, coder: 'png', valAccuracy: 0.85 },
        ]),
        { manifest },
      );
      expect(p.rows.filter((r) => r.synthesized && r.kind === 'cloud-only').map((r) => r.valAccuracy)).toEqual([0.85]);
    });

    it('is not added when the profile lists a raw row, or without a manifest (no image shape)', () => {
      const listed = normalizeProfile(
        profile([
          { point: 0, coder: 'png' },
          { point: 0, coder: 'raw', meanPayloadBytes: 900 },
        ]),
        { manifest },
      );
      expect(cloud(listed)).toEqual([
        ['png', false],
        ['raw', false],
      ]);
      expect(cloud(normalizeProfile(profile([{ point: 0, coder: 'png' }])))).toEqual([['png', false]]);
    });

    it('is added to the shipped profile, next to its PNG row', () => {
      const { dir, manifest: m } = loadModel('fmnist-vgg16');
      const p = loadProfile(dir, { manifest: m });
      const png = p.rows.filter((r) => r.kind === 'cloud-only' && r.coder === 'png');
      const raw = p.rows.filter((r) => r.kind === 'cloud-only' && r.coder === 'raw');
      expect(png).toHaveLength(1);
      expect(raw).toHaveLength(1);
      expect(raw[0]).toEqual({
        ...png[0],
        coder: 'raw',
        meanPayloadBytes: rawPayloadBytes(m.input.sourceShape),
        synthesized: true,
      });
    });
  });

  it.each([
    [
      'a row with accuracy above 1',
      { rows: [{ ...base, point: 1, variant: 0, valAccuracy: 1.5, meanPayloadBytes: 1 }] },
    ],
    [
      'a split past the last point',
      { rows: [{ ...base, kind: 'split', point: 3, variant: 0, valAccuracy: 0.5, meanPayloadBytes: 1 }] },
    ],
    [
      'a variant without timings',
      { rows: [{ ...base, point: 1, variant: 0.25, valAccuracy: 0.5, meanPayloadBytes: 1 }] },
    ],
    ['no rows', { rows: [] }],
    [
      'bits out of range',
      { rows: [{ ...base, point: 1, variant: 0, bits: 9, valAccuracy: 0.5, meanPayloadBytes: 1 }] },
    ],
    ['a negative payload', { rows: [{ ...base, point: 1, variant: 0, valAccuracy: 0.5, meanPayloadBytes: -1 }] }],
    ['bits 16', { rows: [{ ...base, point: 1, variant: 0, bits: 16, valAccuracy: 0.5, meanPayloadBytes: 1 }] }],
    [
      'float32 features with the rans coder',
      { rows: [{ ...base, point: 1, variant: 0, bits: 32, coder: 'rans', valAccuracy: 0.5, meanPayloadBytes: 1 }] },
    ],
    [
      'a cloud-only row with bits 32',
      { rows: [{ ...base, point: 0, variant: 0, bits: 32, coder: 'raw', valAccuracy: 0.5, meanPayloadBytes: 1 }] },
    ],
  ])('rejects %s with JMDC_ERR_PROFILE_INVALID', (_name, patch) => {
    expect(code(() => normalizeProfile({ ...profile([]), ...patch }))).toBe(ErrorCodes.PROFILE_INVALID);
  });

  it('accepts a split with float32 features (bits 32, no quantization scope: channel)', () => {
    const p = normalizeProfile(
      profile([
        { point: 1, bits: 32, coder: 'none', quantScope: 'tensor', meanPayloadBytes: 1047 },
        { point: 2, bits: 32, coder: 'deflate', keep: 0.5, meanPayloadBytes: 300 },
      ]),
    );
    expect(p.rows.filter((r) => r.kind === 'split').map((r) => [r.point, r.bits, r.coder, r.quantScope])).toEqual([
      [1, 32, 'none', 'channel'],
      [2, 32, 'deflate', 'channel'],
    ]);
  });

  it('rejects timings of the wrong length with JMDC_ERR_PROFILE_INVALID', () => {
    const p = profile([{ point: 1 }]);
    p.timings.tailMs.r000 = [1, 2];
    expect(code(() => normalizeProfile(p))).toBe(ErrorCodes.PROFILE_INVALID);
  });
});

describe('loadProfile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jmdc-profile-'));
  it('reads profile.json from a folder', () => {
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(profile([{ point: 2 }])));
    expect(loadProfile(dir).rows[0]?.point).toBe(2);
  });
  it('names a missing file JMDC_ERR_PROFILE_NOT_FOUND and bad JSON JMDC_ERR_PROFILE_INVALID', () => {
    expect(code(() => loadProfile(join(dir, 'nope')))).toBe(ErrorCodes.PROFILE_NOT_FOUND);
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(code(() => loadProfile(join(dir, 'bad.json')))).toBe(ErrorCodes.PROFILE_INVALID);
  });
});
