import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError } from '../errors.js';
import { resolveEndpoints } from './endpoints.js';
import {
  assertSigningAllowed,
  checkLoopbackHost,
  isLoopbackAddress,
  isLoopbackHost,
  resolveSigning,
} from './loopback.js';

const ctx = { model: 'tiny', modelHash: 'sha256:aa', pointCount: 3 };

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isJmdcError(e) ? e.code : String(e)),
  );
}

describe('loopback addresses', () => {
  it('knows 127.0.0.0/8, ::1 and IPv4-mapped loopback, and nothing else', () => {
    for (const a of [
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
    ]) {
      expect(isLoopbackAddress(a), a).toBe(true);
    }
    for (const a of [
      '10.0.0.1',
      '128.0.0.1',
      '0.0.0.0',
      '::',
      '::2',
      '::ffff:10.0.0.1',
      'localhost',
      '127.0.0.1.nip.io',
    ]) {
      expect(isLoopbackAddress(a), a).toBe(false);
    }
  });

  it('resolves names: localhost is loopback, a name under .invalid is not (and says why)', async () => {
    expect(await isLoopbackHost('localhost')).toBe(true);
    expect(await isLoopbackHost('127.0.0.1')).toBe(true);
    const v = await checkLoopbackHost('cloud.example.invalid');
    expect(v.loopback).toBe(false);
    expect(v.reason).toMatch(/^cloud\.example\.invalid does not resolve/);
  });

  it('requires every address of a name to be loopback', async () => {
    const both = async () => [
      { address: '::1', family: 6 },
      { address: '203.0.113.5', family: 4 },
    ];
    const v = await checkLoopbackHost('dual.example.invalid', both);
    expect(v).toEqual({
      loopback: false,
      addresses: ['::1', '203.0.113.5'],
      reason: 'dual.example.invalid resolves to 203.0.113.5, not a loopback address',
    });
  });
});

describe('one signing rule for every endpoint form', () => {
  it('allows signing: false for a map of points on 127.0.0.1 and for localhost', async () => {
    const map = resolveEndpoints({ 2: { url: 'http://127.0.0.1:18790/points/2' } }, ctx);
    await expect(assertSigningAllowed(map, false)).resolves.toBeUndefined();
    const local = resolveEndpoints({ localCloudUrl: 'http://localhost:18790' }, ctx);
    await expect(assertSigningAllowed(local, false)).resolves.toBeUndefined();
    expect(await resolveSigning(map, false)).toBe(false);
  });

  it('refuses signing: false for a non-loopback host in any form, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-ep-'));
    const file = join(dir, 'endpoints.json');
    writeFileSync(file, JSON.stringify({ points: { 1: { url: 'https://fn.example.invalid/' } } }));
    const forms = [
      resolveEndpoints({ localCloudUrl: 'http://cloud.example.invalid:18790' }, ctx),
      resolveEndpoints({ points: { 1: { url: 'http://10.20.30.40/points/1' } } }, ctx),
      resolveEndpoints(file, ctx),
      // one loopback point does not make the others acceptable
      resolveEndpoints(
        { 1: { url: 'http://127.0.0.1:1/points/1' }, 2: { url: 'http://cloud.example.invalid/points/2' } },
        ctx,
      ),
    ];
    for (const ep of forms) {
      const e = await assertSigningAllowed(ep, false).catch((x: unknown) => x);
      expect(isJmdcError(e, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
      expect((e as Error).message).toMatch(/only to loopback addresses .*(invalid|10\.20\.30\.40)/);
    }
    expect(await codeOf(resolveSigning(forms[0] as never, false))).toBe(ErrorCodes.INVALID_ARGUMENT);
  });

  it('signs a local cloud URL by default unless it is on loopback; signs every other form', async () => {
    const remote = resolveEndpoints({ localCloudUrl: 'http://cloud.example.invalid:18790' }, ctx);
    const loop = resolveEndpoints({ localCloudUrl: 'http://127.0.0.1:18790' }, ctx);
    const map = resolveEndpoints({ 2: { url: 'http://127.0.0.1:18790/points/2' } }, ctx);
    expect(await resolveSigning(remote, undefined)).toBe(true);
    expect(await resolveSigning(loop, undefined)).toBe(false);
    expect(await resolveSigning(loop, true)).toBe(true);
    expect(await resolveSigning(map, undefined)).toBe(true);
  });

  it('lets signing: true and undefined through without resolving anything', async () => {
    let lookups = 0;
    const count = async () => {
      lookups++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    await assertSigningAllowed(['https://fn.example.invalid/'], true, count);
    await assertSigningAllowed(['https://fn.example.invalid/'], undefined, count);
    expect(lookups).toBe(0);
  });
});
