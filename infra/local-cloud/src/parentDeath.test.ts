/**
 * No instance outlives the local cloud: a child Node process runs a local cloud with one idle instance and
 * one whose handler blocks its event loop for good; the test SIGKILLs that process (no cleanup code
 * of it runs) and checks that every instance pid goes away.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { PROBE_HANDLER, writeFakeAssembly } from './fakeAssembly.js';
import { alive } from './testHelpers.js';

const dir = mkdtempSync(join(tmpdir(), 'jmdc-lc-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('kills every instance when the local cloud process is SIGKILLed', async () => {
  writeFakeAssembly(dir, [
    { logicalId: 'A', point: 0, code: PROBE_HANDLER, authType: 'NONE', timeoutS: 60 },
    { logicalId: 'B', point: 1, code: PROBE_HANDLER, authType: 'NONE', timeoutS: 60 },
  ]);
  const script = `
    import { startLocalCloud } from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))};
    const cloud = await startLocalCloud({ assemblyDir: ${JSON.stringify(dir)} });
    const post = (p, body) => fetch(cloud.url + '/points/' + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await (await post(0, '{}')).text();
    await (await post(1, '{}')).text();
    void post(1, '{"spin":true}').catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    console.log(JSON.stringify({ pids: cloud.pids() }));
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  parent.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    const pids = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"pids"'));
        if (line) resolve(JSON.parse(line).pids);
      });
      parent.on('exit', (code) => reject(new Error(`parent exited (${code}) before reporting pids: ${err}`)));
    });
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await vi.waitFor(() => expect(pids.filter(alive)).toEqual([]), { timeout: 10_000, interval: 100 });
  } finally {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  }
}, 60_000);
