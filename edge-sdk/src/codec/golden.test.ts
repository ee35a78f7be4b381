import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePayload } from './decodePayload.js';
import { OFF, varintBytes } from './header.js';
import { selectTopK } from './selectTopK.js';
import { encodeGolden, GOLDEN_CASES, isByteStable } from './testing/goldenCases.js';
import { decodedDigest, GOLDEN_DIR } from './testing/writeGolden.js';

interface ManifestEntry {
  bytes: number;
  sha256: string;
  header: Record<string, unknown>;
  decoded: Record<string, number>;
}
const manifest = JSON.parse(readFileSync(join(GOLDEN_DIR, 'manifest.json'), 'utf8')) as Record<string, ManifestEntry>;
const read = (file: string) => new Uint8Array(readFileSync(join(GOLDEN_DIR, file)));

describe('golden payloads (wire format v1 and v2)', () => {
  it('has a manifest entry for exactly the golden cases', () => {
    expect(Object.keys(manifest).sort()).toEqual(GOLDEN_CASES.map((c) => c.file).sort());
  });

  it.each(GOLDEN_CASES.map((c) => [c.file, c] as const))('%s decodes to the recorded header and values', (file, c) => {
    const bytes = read(file);
    const entry = manifest[file] as ManifestEntry;
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
    expect(bytes[OFF.version]).toBe(c.options.frameVersion ?? 2);
    const d = decodePayload(bytes);
    expect(JSON.parse(JSON.stringify(d.header))).toEqual(entry.header);
    expect(decodedDigest(bytes)).toEqual(entry.decoded);
    // and the numbers are right for the inputs they came from
    if (c.kind === 'raw') {
      expect(d.kind === 'raw' && d.images).toEqual(c.images());
      return;
    }
    if (d.kind !== 'features') throw new Error('expected a features payload');
    const input = c.input();
    const [ch, h, w] = input.dims;
    const hw = h * w;
    const k = d.header.keepCount;
    // float32 frames carry the values exactly; quantized ones within half a step
    const exact = d.header.bits === 32;
    const levels = exact ? 1 : (1 << d.header.bits) - 1;
    for (let n = 0; n < input.batch; n++) {
      const mask = selectTopK(input.attention, hw, k, n * hw);
      expect(d.mask.subarray(n * hw, (n + 1) * hw)).toEqual(mask);
      const kept = [...mask.keys()].filter((i) => mask[i] === 1);
      const item = kept.flatMap((_, j) =>
        [...Array(ch).keys()].map((c2) => input.features[(n * ch + c2) * hw + (kept[j] as number)] as number),
      );
      const range = Math.max(...item) - Math.min(...item);
      for (let c2 = 0; c2 < ch; c2++) {
        for (let j = 0; j < k; j++) {
          const x = input.features[(n * ch + c2) * hw + (kept[j] as number)] as number;
          const y = d.values[(n * ch + c2) * k + j] as number;
          if (exact) {
            expect(y).toBe(x);
            continue;
          }
          expect(Math.abs(y - x)).toBeLessThanOrEqual(
            ((range / levels) * (1 + 1 / 64)) / 2 + 2 ** -22 * Math.abs(x) + 1e-30,
          );
        }
      }
    }
  });

  it.each(GOLDEN_CASES.map((c) => [c.file, c] as const))('%s is re-encoded identically from its inputs', (file, c) => {
    const bytes = read(file);
    const fresh = encodeGolden(c);
    if (isByteStable(c)) {
      expect(fresh).toEqual(bytes);
      return;
    }
    // zlib/brotli output is not guaranteed stable across zlib builds (Node bundles Chromium's zlib, whose match
    // finder depends on CPU features), so for those frames pin every header byte except bodyBytes and the CRC,
    // and the decoded body
    const header = decodePayload(bytes).header;
    const headerBytes = header.headerBytes;
    // version 2: the bodyBytes varint and the CRC are the header's last bytes (a zlib body of another length may
    // change the varint's length, so compare only the fixed part and the varints before bodyBytes)
    const v2Keep = headerBytes - 4 - varintBytes(header.bodyBytes);
    const skip = (i: number) =>
      header.version === 1
        ? (i >= OFF.bodyBytes && i < OFF.bodyBytes + 4) || (i >= OFF.crc32 && i < OFF.crc32 + 4)
        : i >= v2Keep;
    const pick = (b: Uint8Array) => Array.from(b.subarray(0, headerBytes)).filter((_, i) => !skip(i));
    expect(pick(fresh)).toEqual(pick(bytes));
    expect(decodedDigest(fresh)).toEqual(decodedDigest(bytes));
  });
});
