import type * as dns from 'node:dns';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ErrorCodes, type JmdcError } from '../errors.js';
import { attemptsOf } from './retry.js';
import { UrlTransport } from './UrlTransport.js';

// the name resolves to loopback for the check before the first request (the `lookup` option) and to
// another address when the connection opens (node:dns, as a changed DNS answer would)
vi.mock('node:dns', async (importOriginal) => {
  const real = await importOriginal<typeof dns>();
  const lookup = (host: string, opts: unknown, cb: (...a: unknown[]) => void) => {
    if (host !== 'rebind.example.invalid') return (real.lookup as (...a: unknown[]) => void)(host, opts, cb);
    const addresses = [{ address: '192.0.2.7', family: 4 }];
    return (opts as { all?: boolean })?.all ? cb(null, addresses) : cb(null, '192.0.2.7', 4);
  };
  return { ...real, lookup, default: { ...real, lookup } };
});

describe('UrlTransport: the connect-time loopback check of unsigned requests', () => {
  const t = new UrlTransport({
    urls: { 1: 'http://rebind.example.invalid:18791/points/1' },
    signing: false,
    retry: { maxAttempts: 1 },
    lookup: async () => [{ address: '127.0.0.1', family: 4 }],
  });
  afterAll(() => t.close());

  it('refuses a request or probe to a name that resolves off loopback at connect time with JMDC_ERR_INVALID_ARGUMENT', async () => {
    const e = (await t.send(1, new Uint8Array(4)).catch((x: unknown) => x)) as JmdcError;
    expect(e.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(e.message).toContain('unsigned request refused: rebind.example.invalid resolves to 192.0.2.7');
    expect(attemptsOf(e)).toBe(0);
    const p = (await t.probe(1).catch((x: unknown) => x)) as JmdcError;
    expect(p.code).toBe(ErrorCodes.INVALID_ARGUMENT);
  });
});
