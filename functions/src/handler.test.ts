/**
 * The Lambda entry module itself: init happens at import (top-level await) from the environment, and
 * `handler` answers both event shapes with one JSON log line each on stdout.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRaw } from '@jmdc/edge-sdk/codec';
import { loadModel } from '@jmdc/edge-sdk/model';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FunctionUrlResult } from './events.js';
import type { InvokeResult } from './TailHandler.js';

const TINY = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'models', 'tiny-vgg11');

describe('handler.ts (the Lambda entry)', () => {
  const { manifest } = loadModel(TINY);
  const golden = JSON.parse(readFileSync(join(TINY, 'golden.json'), 'utf8')) as { images: number[][] };
  const bytes = encodeRaw(Uint8Array.from(golden.images[0]!), manifest.input.sourceShape, 1, {
    model: { id: manifest.id, hash: manifest.hash },
  });
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  let handler: (event: unknown, context: { awsRequestId: string }) => Promise<unknown>;

  beforeAll(async () => {
    vi.stubEnv('JMDC_POINT', '0');
    vi.stubEnv('JMDC_MODEL_DIR', TINY);
    vi.stubEnv('JMDC_THREADS', '1');
    vi.stubEnv('JMDC_MODEL_HASH', manifest.hash);
    ({ handler } = await import('./handler.js'));
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    log.mockRestore();
  });

  it('inits from the environment and answers an Invoke, then a Function URL request', async () => {
    const a = (await handler(
      { payload: Buffer.from(bytes).toString('base64') },
      { awsRequestId: 'r1' },
    )) as InvokeResult;
    expect(a).toMatchObject({ statusCode: 200, coldStart: true, point: 0, requestId: 'r1', modelHash: manifest.hash });
    const b = (await handler(
      {
        version: '2.0',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.from(bytes).toString('base64'),
        isBase64Encoded: true,
        requestContext: { http: { method: 'POST' } },
      },
      { awsRequestId: 'r2' },
    )) as FunctionUrlResult;
    expect(b.statusCode).toBe(200);
    expect(JSON.parse(b.body)).toMatchObject({
      coldStart: false,
      requestId: 'r2',
      logits: (a as { logits: number[][] }).logits,
    });
    const lines = log.mock.calls.map((c) => JSON.parse(String(c[0])));
    expect(lines.map((l) => [l.requestId, l.status, l.point])).toEqual([
      ['r1', 200, 0],
      ['r2', 200, 0],
    ]);
  });
});
