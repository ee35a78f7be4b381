/**
 * A synthetic accuracy profile for the tiny fixture model (its real accuracy is meaningless: it is
 * trained on 512 images for one purpose, to test the plumbing). Costs are chosen so that under the
 * default priors (10 Mbit/s, RTT 50 ms) and no cold-start cost the planner's choices are known:
 * - minAccuracy 0.9:   split at point 2 of r000, keep 1, 8 bits, deflate (59.89 ms)
 * - minAccuracy 0:     split at point 2 of r050, keep 0.5, 4 bits, rans (55.56 ms)
 * - minAccuracy 0.915: edge-only r000 (500 ms: the device is slow)
 * - only point 0 reachable: cloud-only raw, the upload the loader adds next to the PNG row (807 B, about
 *   the PNG's 800 B, and cheaper to prepare: 0.02 ms instead of 0.3 ms)
 * (each with the SDK's default per-request work, 0.4 ms + 0.015 ms/KiB, and PNG encoding, 0.3 ms)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Profile, ProfileRow } from '@jmdc/edge-sdk';
import { TINY_MODEL_DIR } from './fakeCloud.js';

const manifest = JSON.parse(readFileSync(join(TINY_MODEL_DIR, 'manifest.json'), 'utf8')) as {
  id: string;
  hash: string;
};

function row(
  r: Partial<ProfileRow> & Pick<ProfileRow, 'point' | 'variant' | 'meanPayloadBytes' | 'valAccuracy'>,
): ProfileRow {
  return {
    keep: 1,
    bits: 8,
    coder: 'deflate',
    testAccuracy: r.valAccuracy,
    float32FeatureBytes: 0,
    headMacs: 0,
    tailMacs: 0,
    ...r,
  };
}

export function tinyProfile(): Profile {
  return {
    model: manifest.id,
    hash: manifest.hash,
    fullModel: { val: 0.92, test: 0.92 },
    rows: [
      row({ kind: 'cloud-only', point: 0, variant: 0, coder: 'png', meanPayloadBytes: 800, valAccuracy: 0.9 }),
      row({ point: 1, variant: 0, meanPayloadBytes: 5000, valAccuracy: 0.91 }),
      row({ point: 2, variant: 0, meanPayloadBytes: 600, valAccuracy: 0.91 }),
      row({ point: 2, variant: 0.5, keep: 0.5, bits: 4, coder: 'rans', meanPayloadBytes: 200, valAccuracy: 0.88 }),
      row({ kind: 'edge-only', point: -1, variant: 0, meanPayloadBytes: 0, valAccuracy: 0.92 }),
      row({ kind: 'edge-only', point: -1, variant: 0.5, meanPayloadBytes: 0, valAccuracy: 0.89 }),
    ],
    timings: {
      device: 'synthetic',
      headMs: { r000: [1, 2, 3, 4, 5], r050: [0.5, 1, 1.5, 2, 2.5] },
      tailMs: { r000: [10, 8, 6, 4, 2, 1], r050: [5, 4, 3, 2, 1, 0.5] },
      fullMs: { r000: 500, r050: 250 },
      encodeMs: 0.5,
      decodeMs: 0.5,
    },
  };
}
