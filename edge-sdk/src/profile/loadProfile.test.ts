import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError } from '../errors.js';
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
    expect(p.rows.find((r) => r.kind === 'cloud-only')?.meanPayloadBytes).toBe(784 + 96);
    expect(code(() => normalizeProfile({ ...raw, hash: 'sha256:22' }, { manifest }))).toBe(ErrorCodes.PROFILE_INVALID);
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
  ])('rejects %s with JMDC_ERR_PROFILE_INVALID', (_name, patch) => {
    expect(code(() => normalizeProfile({ ...profile([]), ...patch }))).toBe(ErrorCodes.PROFILE_INVALID);
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
