import { describe, expect, it } from 'vitest';
import { asDeviceWork, asDeviceWorkSync, deviceHoldMs, deviceMark, deviceQuietSince } from './deviceActivity.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('device work during a request', () => {
  it('reports the longest stretch of device work that overlapped a request, clipped to it', async () => {
    const before = deviceMark();
    await asDeviceWork(() => sleep(30));
    const after = deviceMark();
    await sleep(5);
    expect(deviceHoldMs(before)).toBeGreaterThanOrEqual(25);
    expect(deviceHoldMs(after)).toBe(0);
    // a 30 ms stretch holds up a 100 ms request's answer too much, not a 1 s upload's
    expect(deviceQuietSince(before, 100)).toBe(false);
    expect(deviceQuietSince(before, 1000)).toBe(true);
    expect(deviceQuietSince(after, 10)).toBe(true);
  });

  it('counts synchronous work and work still running', async () => {
    const mark = deviceMark();
    const t0 = performance.now();
    asDeviceWorkSync(() => {
      while (performance.now() - t0 < 15) {
        // busy: an encoding
      }
    });
    const sync = performance.now() - t0;
    expect(deviceHoldMs(mark)).toBeGreaterThanOrEqual(14);
    const mark2 = deviceMark();
    const t1 = performance.now();
    const running = asDeviceWork(() => sleep(40));
    await sleep(20);
    expect(deviceHoldMs(mark2)).toBeGreaterThanOrEqual(15);
    await running;
    const async = performance.now() - t1;
    // the longest stretch, not the sum of the stretches
    expect(deviceHoldMs(mark)).toBeLessThanOrEqual(Math.max(sync, async) + 1);
    expect(deviceHoldMs(mark)).toBeGreaterThanOrEqual(35);
  });
});
