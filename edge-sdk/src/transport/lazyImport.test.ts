import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// A resolve hook that makes @aws-sdk/client-lambda unresolvable, as in an app that did not install the
// optional peer dependency, and records every specifier resolved from the package entry.
const HOOKS = `
export async function resolve(specifier, context, next) {
  if (specifier === '@aws-sdk/client-lambda' || specifier.startsWith('@aws-sdk/client-lambda/')) {
    const e = new Error("Cannot find package '" + specifier + "' (hidden by the test)");
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  return next(specifier, context);
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

const APP = `
const hidden = await import('@aws-sdk/client-lambda').then(() => 'loaded', (e) => e.code);
const sdk = await import('@jmdc/edge-sdk');
const t = new sdk.InvokeTransport({
  functions: { 0: 'jmdc-x-p0' },
  endpoint: 'http://127.0.0.1:9',
  region: 'us-east-1',
  credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
});
const code = await t.send(0, new Uint8Array(1)).then(() => 'sent', (e) => e.code);
await t.close();
console.log(JSON.stringify({ hidden, entry: typeof sdk.JmdcClient, url: typeof sdk.UrlTransport, code }));
`;

describe('the package entry without @aws-sdk/client-lambda', () => {
  it('imports without it, and the invoke transport says JMDC_ERR_DEPENDENCY_MISSING on use', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions',
        'source',
        '--import',
        'tsx',
        '--import',
        `data:text/javascript,${encodeURIComponent(REGISTER)}`,
        '--input-type=module',
        '-e',
        APP,
      ],
      { cwd: ROOT, timeout: 60_000 },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, string>;
    // the hook is active: the package cannot be imported in the child ...
    expect(out.hidden).toBe('ERR_MODULE_NOT_FOUND');
    // ... yet the whole SDK entry loads, so nothing on its default path imports it
    expect(out.entry).toBe('function');
    expect(out.url).toBe('function');
    expect(out.code).toBe('JMDC_ERR_DEPENDENCY_MISSING');
  });
});
