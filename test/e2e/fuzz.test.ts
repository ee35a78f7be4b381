/**
 * The fuzz generators through the local cloud, bounded for CI: the tiny model's bundled tail functions of
 * points 0 and 2 in their own Lambda-runtime processes, every case signed, alternately over the Function URL
 * route and the Invoke API. No crash, no hang, no 5xx, every answer a 200 or a typed 4xx as its case
 * demands, and no instance process replaced.
 */
import { join } from 'node:path';
import { type LocalCloud, startLocalCloud } from '@jmdc/local-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCloud } from '../../infra/tools/src/fuzz/runCloud.js';

const TINY = join(import.meta.dirname, '..', 'fixtures', 'models', 'tiny-vgg11');

describe('fuzzing the bundled tail functions through the local cloud (tiny-vgg11, points 0 and 2)', () => {
  let cloud: LocalCloud;

  beforeAll(async () => {
    cloud = await startLocalCloud({ model: TINY, points: [0, 2], maxInstancesPerFunction: 1 });
  }, 180_000);
  afterAll(async () => {
    const pids = cloud.pids();
    await cloud.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('answers 600 generated cases over both routes with a 200 or a typed 4xx, never a 5xx or a crash', async () => {
    const r = await runCloud({ model: TINY, points: [0, 2], cases: 600, warmup: 50, batch: 100, seed: 11, cloud });
    expect(r.failures).toEqual([]);
    expect([r.cases, r.crashes, r.decoderCrashes, r.hangs, r.status5xx, r.wrongAnswers]).toEqual([600, 0, 0, 0, 0, 0]);
    expect(r.byRoute).toEqual({ url: 300, invoke: 300 });
    expect(r.instancesReplaced).toBe(0);
    expect(r.byFamily.valid!.accepted).toBe(r.byFamily.valid!.cases);
    expect(r.byFamily.valid!.cases).toBeGreaterThan(0);
    // the refusals carry the codec's and the handler's codes
    expect(Object.keys(r.codes).every((c) => /^JMDC_ERR_[A-Z_]+$/.test(c))).toBe(true);
    expect(r.codes.JMDC_ERR_PAYLOAD_TRUNCATED).toBeGreaterThan(0);
  });
});
