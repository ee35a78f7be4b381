/**
 * The assembly cache key: stable for the same inputs, different when the model or the context changes.
 * (A real synth runs in tinyModel.test.ts.)
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemblyKey, ensureAssembly, handlerInputs, hostArchitecture, REPO_ROOT } from './synth.js';

const TINY = join(REPO_ROOT, 'test', 'fixtures', 'models', 'tiny-vgg11');
const dir = mkdtempSync(join(tmpdir(), 'jmdc-lc-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('assemblyKey', () => {
  it('is the same for the same inputs and changes with the model, the points and the architecture', () => {
    const base = assemblyKey({ modelDir: TINY });
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(assemblyKey({ modelDir: TINY })).toBe(base);
    expect(assemblyKey({ modelDir: TINY, points: [0, 2] })).not.toBe(base);
    const other = hostArchitecture() === 'arm64' ? 'x86_64' : 'arm64';
    expect(assemblyKey({ modelDir: TINY, architecture: other })).not.toBe(base);
    const copy = join(dir, 'tiny');
    cpSync(TINY, copy, { recursive: true });
    const copyKey = assemblyKey({ modelDir: copy });
    writeFileSync(join(copy, 'profile.json'), JSON.stringify({ rows: [{ point: 0, variant: 0 }] }));
    expect(assemblyKey({ modelDir: copy })).not.toBe(copyKey);
  });
});

describe('handlerInputs', () => {
  it('lists the handler bundle’s own sources: the handler and the codec, not the planner or the transports', () => {
    const files = handlerInputs()!.map((f) => f.slice(REPO_ROOT.length + 1));
    expect(files).toContain('functions/src/handler.ts');
    expect(files).toContain('functions/src/TailHandler.ts');
    expect(files.some((f) => f.startsWith('edge-sdk/src/codec/'))).toBe(true);
    expect(files.some((f) => /^edge-sdk\/src\/(planner|transport|client)\//.test(f))).toBe(false);
  });
});

describe('ensureAssembly', () => {
  it('waits for another process that holds the synth lock and takes its assembly', async () => {
    const cacheDir = join(dir, 'cache');
    const target = join(cacheDir, `cdk.out-${hostArchitecture()}-tiny-vgg11-${assemblyKey({ modelDir: TINY })}`);
    mkdirSync(`${target}.lock`, { recursive: true });
    // the lock's owner is alive (this process), so the call waits instead of synthesizing
    writeFileSync(join(`${target}.lock`, 'pid'), String(process.pid));
    const pending = ensureAssembly({ modelDir: TINY, cacheDir });
    await new Promise((r) => setTimeout(r, 700));
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'manifest.json'), '{}');
    expect(await pending).toBe(target);
    expect(existsSync(`${target}.lock`)).toBe(true); // not its lock to remove
  });
});
