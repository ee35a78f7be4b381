/**
 * Regenerates the golden payloads and their manifest:
 *
 *   npx tsx edge-sdk/src/codec/testing/writeGolden.ts
 *
 * The manifest records, per file, its SHA-256 and the CRC-32 of the decoded mask/values or images, so the
 * test can check that the committed files still decode to the same numbers.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from '../crc32.js';
import { decodePayload } from '../decodePayload.js';
import { encodeGolden, GOLDEN_CASES } from './goldenCases.js';

export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '__golden__');

/** CRC-32 digests of a decoded payload's arrays. */
export function decodedDigest(bytes: Uint8Array): Record<string, number> {
  const d = decodePayload(bytes);
  if (d.kind === 'features') {
    return {
      mask: crc32(d.mask),
      values: crc32(new Uint8Array(d.values.buffer, d.values.byteOffset, d.values.byteLength)),
      valueCount: d.values.length,
    };
  }
  return { images: crc32(d.images), imageBytes: d.images.length };
}

function main(): void {
  mkdirSync(GOLDEN_DIR, { recursive: true });
  const manifest: Record<string, unknown> = {};
  for (const c of GOLDEN_CASES) {
    const bytes = encodeGolden(c);
    writeFileSync(join(GOLDEN_DIR, c.file), bytes);
    manifest[c.file] = {
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      header: decodePayload(bytes).header,
      decoded: decodedDigest(bytes),
    };
  }
  writeFileSync(join(GOLDEN_DIR, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`wrote ${GOLDEN_CASES.length} golden payloads to ${GOLDEN_DIR}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
