/**
 * The fault table (targets, probability, count) and faults set at start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROBE_HANDLER, writeFakeAssembly } from './fakeAssembly.js';
import { FaultTable } from './faults.js';
import { startLocalCloud } from './localCloud.js';

describe('FaultTable', () => {
  it('fires for its target or every function, at most count times, with its probability', () => {
    const draws = [0.1, 0.9, 0.1, 0.1];
    const t = new FaultTable(() => draws.shift() ?? 0);
    t.add('A', { kind: 'drop', count: 1 });
    t.add('*', { kind: 'throttle', probability: 0.5 });
    expect(t.pick('B')?.kind).toBe('throttle'); // 0.1 < 0.5
    expect(t.pick('B')).toBeUndefined(); // 0.9 >= 0.5
    expect(t.pick('A')?.kind).toBe('drop'); // 0.1 < 1
    expect(t.pick('A')?.kind).toBe('throttle'); // drop is spent
    expect(t.counts).toMatchObject({ drop: 1, throttle: 2, status500: 0 });
    t.clear();
    expect(t.pick('A')).toBeUndefined();
  });
});

describe('faults given at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jmdc-lc-faults-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are in force from the first request', async () => {
    writeFakeAssembly(dir, [{ logicalId: 'F', point: 0, code: PROBE_HANDLER, authType: 'NONE' }]);
    const cloud = await startLocalCloud({
      assemblyDir: dir,
      faults: [{ target: '*', fault: { kind: 'status500', count: 1 } }],
    });
    try {
      const post = () =>
        fetch(`${cloud.url}/points/0`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect((await post()).status).toBe(500);
      expect((await post()).status).toBe(200);
      expect(cloud.stats()).toMatchObject({ invocations: 1, faults: { status500: 1 } });
    } finally {
      await cloud.stop();
    }
    expect(cloud.pids()).toEqual([]);
  });
});
