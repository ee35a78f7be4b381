import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError, TransportError } from '../errors.js';
import { resolveEndpoints } from './endpoints.js';
import { RetryPolicy } from './retry.js';

const ctx = { model: 'tiny', modelHash: 'sha256:aa', pointCount: 3 };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isJmdcError(e) ? e.code : 'not a JmdcError';
  }
  return undefined;
}

describe('resolveEndpoints', () => {
  it('maps a local cloud URL to /points/<p> and jmdc-<model>-p<p> for every point', () => {
    const e = resolveEndpoints({ localCloudUrl: 'http://127.0.0.1:9000/' }, ctx);
    expect(e.local).toBe(true);
    expect([...e.points.keys()]).toEqual([0, 1, 2, 3]);
    expect(e.points.get(2)).toEqual({ url: 'http://127.0.0.1:9000/points/2', functionName: 'jmdc-tiny-p2' });
    expect(e.localCloudUrl).toBe('http://127.0.0.1:9000');
  });

  it('reads endpoints.json and warns when it was deployed for another model build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-ep-'));
    const file = join(dir, 'endpoints.json');
    writeFileSync(
      file,
      JSON.stringify({
        model: 'tiny',
        modelHash: 'sha256:bb',
        region: 'eu-west-1',
        points: { 1: { url: 'https://a/' }, 2: { functionName: 'f2' } },
      }),
    );
    const e = resolveEndpoints(file, ctx);
    expect(e.region).toBe('eu-west-1');
    expect(e.local).toBe(false);
    expect(e.points.get(1)).toEqual({ url: 'https://a/' });
    expect(e.points.get(2)).toEqual({ functionName: 'f2' });
    expect(e.warnings).toHaveLength(1);
    writeFileSync(file, JSON.stringify({ model: 'other', points: {} }));
    expect(code(() => resolveEndpoints(file, ctx))).toBe(ErrorCodes.MODEL_MISMATCH);
  });

  it('rejects unknown points and bad shapes with JMDC_ERR_INVALID_ARGUMENT', () => {
    expect(code(() => resolveEndpoints({ 7: { url: 'https://a/' } }, ctx))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(code(() => resolveEndpoints({ localCloudUrl: 'not a url' }, ctx))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(code(() => resolveEndpoints('/nonexistent/endpoints.json', ctx))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(resolveEndpoints({ points: { 0: { url: 'https://x/' } }, region: 'us-west-2' }, ctx).region).toBe(
      'us-west-2',
    );
  });
});

describe('RetryPolicy', () => {
  const busy = () => new TransportError(ErrorCodes.CLOUD_ERROR, 'busy', { retryable: true, status: 503 });

  it('stops retrying when the shared budget is spent', async () => {
    const policy = new RetryPolicy({ maxAttempts: 5, baseDelayMs: 0, maxDelayMs: 0, budgetTokens: 2, budgetRatio: 0 });
    let calls = 0;
    const fail = async () => {
      calls++;
      throw busy();
    };
    await expect(policy.run(fail)).rejects.toThrow('busy');
    expect(calls).toBe(3); // 2 tokens: 2 retries
    calls = 0;
    await expect(policy.run(fail)).rejects.toThrow('busy');
    expect(calls).toBe(1); // no tokens left
  });

  it('never retries a non-retryable error, and not past the deadline', async () => {
    const policy = new RetryPolicy({ baseDelayMs: 1000, maxDelayMs: 1000, random: () => 0.99 });
    let calls = 0;
    await expect(
      policy.run(async () => {
        calls++;
        throw new TransportError(ErrorCodes.CLOUD_REJECTED, 'bad', { retryable: false, status: 400 });
      }),
    ).rejects.toThrow('bad');
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      policy.run(
        async () => {
          calls++;
          throw busy();
        },
        { deadline: Date.now() + 100 },
      ),
    ).rejects.toThrow('busy');
    expect(calls).toBe(1); // a 990 ms backoff would pass the deadline
  });
});
