import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColdStartModel, IDLE_BIN_EDGES_MS, priorColdProbability } from './ColdStartModel.js';
import { type CloudObservation, LiveEstimators } from './LiveEstimators.js';
import { type EdgeState, readState, STATE_VERSION, writeState } from './stateFile.js';
import { WindowMedian } from './WindowMedian.js';

const MIN = 60_000;

/** A deterministic +-20% multiplicative noise sequence. */
function noise(i: number): number {
  return 1 + 0.2 * Math.sin(i * 12.9898);
}

/** A response to `bytes` bytes over a link of `mbps` with `rtt` ms RTT and `server` ms in the function. */
function obs(
  bytes: number,
  mbps: number,
  rtt: number,
  server: number,
  extra: Partial<CloudObservation> = {},
): CloudObservation {
  const uploadMs = (bytes * 8) / (mbps * 1000);
  return {
    point: 1,
    bytes,
    uploadMs,
    uploadMeasured: true,
    totalMs: uploadMs + rtt + server,
    serverMs: server,
    coldStart: false,
    idleMs: 1000,
    referenceCloudMs: 0,
    ...extra,
  };
}

describe('bandwidth estimate', () => {
  it('tracks a step from 10 to 1 Mbit/s within 3 requests, under +-20% noise', () => {
    const est = new LiveEstimators({ pointCount: 3 });
    for (let i = 0; i < 10; i++) est.observe(obs(100_000, 10 * noise(i), 20, 5));
    expect(est.uplinkMbps()).toBeGreaterThan(8);
    expect(est.uplinkMbps()).toBeLessThan(12);
    const trace: number[] = [];
    for (let i = 10; i < 16; i++) {
      est.observe(obs(100_000, 1 * noise(i), 20, 5));
      trace.push(est.uplinkMbps());
    }
    // the third sample after the step makes the new rate the median of the window of 5
    expect(trace[0]).toBeGreaterThan(5);
    expect(trace[2]).toBeGreaterThan(0.75);
    expect(trace[2]).toBeLessThan(1.25);
    for (const v of trace.slice(2)) expect(Math.abs(v - 1)).toBeLessThan(0.25);
  });

  it('is not swung by single x10 or /10 outliers by more than the noise', () => {
    const est = new LiveEstimators({ pointCount: 3 });
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      const outlier = i % 7 === 3 ? 10 : i % 7 === 6 ? 0.1 : 1;
      est.observe(obs(200_000, 5 * noise(i) * outlier, 20, 5));
      if (i >= 5) seen.push(est.uplinkMbps());
    }
    for (const v of seen) {
      expect(v).toBeGreaterThan(5 / 1.25);
      expect(v).toBeLessThan(5 * 1.25);
    }
  });

  it('ignores payloads too small to measure the link and keeps the prior', () => {
    const est = new LiveEstimators({ pointCount: 3, priors: { uplinkMbps: 7 } });
    est.observe(obs(2_000, 100, 20, 5));
    est.observe({ ...obs(100_000, 1, 20, 5), uploadMeasured: false });
    expect(est.uplinkMbps()).toBe(7);
  });
});

describe('RTT and cloud estimates', () => {
  it('derives RTT as total - upload - serverMs - initMs of cold starts', () => {
    const est = new LiveEstimators({ pointCount: 3, priors: { rttMs: 99 } });
    expect(est.rttMs()).toBe(99);
    est.observe(obs(50_000, 8, 30, 10));
    est.observe(obs(50_000, 8, 32, 10));
    est.observe({ ...obs(50_000, 8, 31, 10), totalMs: 50 + 31 + 10 + 900, coldStart: true, initMs: 900 });
    expect(est.rttMs()).toBeCloseTo(31, 6);
    est.observeProbe(29);
    est.observeProbe(29);
    expect(est.rttMs()).toBeCloseTo(30, 6);
  });

  it('learns the cloud speed per point from warm responses only, falling back to other points', () => {
    const est = new LiveEstimators({ pointCount: 3 });
    expect(est.cloudScale(2)).toBe(1);
    est.observe(obs(100, 8, 30, 20, { point: 1, referenceCloudMs: 10 }));
    est.observe(obs(100, 8, 30, 30, { point: 1, referenceCloudMs: 10 }));
    est.observe(obs(100, 8, 30, 25, { point: 1, referenceCloudMs: 10 }));
    est.observe(obs(100, 8, 30, 500, { point: 1, referenceCloudMs: 10, coldStart: true }));
    expect(est.cloudScale(1)).toBe(2.5);
    expect(est.cloudScale(2)).toBe(2.5); // no own data: the median over all points
    const c = est.conditions(0, 4);
    expect(c.batch).toBe(4);
    expect(c.cloudScale).toEqual([2.5, 2.5, 2.5, 2.5]);
  });
});

describe('cold-start model', () => {
  it('has a sane prior: ~0 for idle < 1 min, rising after 5-15 min, 1 before the first call', () => {
    const m = new ColdStartModel();
    expect(m.probability(undefined)).toBe(1);
    expect(m.probability(30_000)).toBeLessThan(0.05);
    expect(m.probability(3 * MIN)).toBeLessThan(0.1);
    expect(m.probability(12 * MIN)).toBeGreaterThan(0.5);
    expect(m.probability(120 * MIN)).toBeGreaterThan(0.99);
    expect(priorColdProbability(10 * MIN)).toBeCloseTo(0.5, 12);
    expect(m.initMs()).toBe(1500);
  });

  it('learns from the flags of a provider that keeps idle environments for 3 minutes', () => {
    const m = new ColdStartModel();
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 400; i++) {
      const idle = rand() * 20 * MIN;
      m.observe(idle, idle > 3 * MIN, idle > 3 * MIN ? 2000 + 100 * rand() : undefined);
    }
    expect(m.probability(30_000)).toBeLessThan(0.05);
    // [1, 5) min straddles the 3 min cut-off: about half cold
    expect(m.probability(2 * MIN)).toBeGreaterThan(0.35);
    expect(m.probability(2 * MIN)).toBeLessThan(0.65);
    // the prior said 0.12..0.5 for [5, 10) min; the data say always cold
    expect(m.probability(6 * MIN)).toBeGreaterThan(0.95);
    expect(m.initMs()).toBeGreaterThan(2000);
    expect(m.initMs()).toBeLessThan(2100);
  });

  it('always gives a probability that does not decrease with idle time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 120 * MIN, noNaN: true }), fc.boolean()), { maxLength: 200 }),
        (events) => {
          const m = new ColdStartModel();
          for (const [idle, cold] of events) m.observe(idle, cold);
          let prev = 0;
          for (const edge of IDLE_BIN_EDGES_MS) {
            const p = m.probability(edge);
            expect(p).toBeGreaterThanOrEqual(prev - 1e-12);
            expect(p).toBeGreaterThanOrEqual(0);
            expect(p).toBeLessThanOrEqual(1);
            prev = p;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('feeds the planner conditions: P(cold) from idle time since the last request', () => {
    const est = new LiveEstimators({ pointCount: 2, priors: { initMs: 1200 } });
    const t0 = 1_000_000;
    expect(est.conditions(t0).coldProb).toEqual([1, 1, 1]); // never called
    const idle = est.noteSend(2, t0);
    expect(idle).toBe(Number.POSITIVE_INFINITY);
    est.observe({ ...obs(100, 8, 30, 20, { point: 2 }), coldStart: true, initMs: 1700, idleMs: idle }, t0 + 1800);
    const c = est.conditions(t0 + 1800 + 20_000);
    expect((c.coldProb as number[])[2]).toBeLessThan(0.05);
    expect((c.coldProb as number[])[1]).toBe(1);
    expect(c.initMs).toEqual([1700, 1700, 1700]);
    expect((est.conditions(t0 + 60 * MIN).coldProb as number[])[2]).toBeGreaterThan(0.9);
  });
});

describe('state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jmdc-state-'));
  const expectId = { model: 'tiny', modelHash: 'sha256:aa' };

  it('round-trips calibration and estimates, writing atomically', async () => {
    const est = new LiveEstimators({ pointCount: 2 });
    for (let i = 0; i < 4; i++) est.observe(obs(100_000, 3 + i, 20 + i, 5, { referenceCloudMs: 2 }));
    est.noteSend(1, 5000);
    est.observe({ ...obs(100, 8, 30, 20), coldStart: true, initMs: 1234, idleMs: 9 * MIN });
    const state: EdgeState = {
      version: STATE_VERSION,
      ...expectId,
      savedAt: 42,
      calibration: { device: 'pi', threads: 4, headMs: { r000: [1, 2] }, fullMs: { r000: 3 }, measuredAt: 41 },
      estimators: est.toState(),
    };
    const path = join(dir, 'sub', 'tiny.json');
    await writeState(path, state);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['tiny.json']);
    const { state: back, warnings } = readState(path, expectId);
    expect(warnings).toEqual([]);
    expect(back).toEqual(state);
    const restored = new LiveEstimators({ pointCount: 2 }, back?.estimators);
    expect(restored.conditions(10_000)).toEqual(est.conditions(10_000));
  });

  it('ignores a corrupt, old or foreign file with a warning', () => {
    const cases: Array<[string, string]> = [
      ['garbage', '{not json'],
      ['old', JSON.stringify({ version: 0, model: 'tiny', modelHash: 'sha256:aa' })],
      ['other model', JSON.stringify({ version: STATE_VERSION, model: 'big', modelHash: 'sha256:aa' })],
      ['null', 'null'],
    ];
    for (const [name, text] of cases) {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, text);
      const r = readState(path, expectId);
      expect(r.state, name).toBeUndefined();
      expect(r.warnings.length, name).toBe(1);
    }
    expect(readState(join(dir, 'missing.json'), expectId)).toEqual({ state: undefined, warnings: [] });
  });

  it('drops malformed parts, and keeps only network estimates for another model build', () => {
    const path = join(dir, 'parts.json');
    writeFileSync(
      path,
      JSON.stringify({
        version: STATE_VERSION,
        ...expectId,
        savedAt: 1,
        calibration: { device: 'pi', threads: 'four' },
        estimators: { uplinkMbps: [5], rttMs: [20], cloudScale: { 1: [2] }, coldStart: {} },
      }),
    );
    const r = readState(path, expectId);
    expect(r.state?.calibration).toBeUndefined();
    expect(r.state?.estimators?.uplinkMbps).toEqual([5]);
    expect(r.warnings).toHaveLength(1);
    const other = readState(path, { model: 'tiny', modelHash: 'sha256:bb' });
    expect(other.state?.estimators).toEqual({ uplinkMbps: [5], rttMs: [20], cloudScale: {}, coldStart: {} });
    expect(other.warnings).toHaveLength(2);
    expect(JSON.parse(readFileSync(path, 'utf8')).savedAt).toBe(1);
  });
});

describe('WindowMedian', () => {
  it('is the median of the last N samples and skips non-finite ones', () => {
    const m = new WindowMedian(3);
    expect(m.value(-1)).toBe(-1);
    for (const x of [1, 100, 2, Number.NaN, 3]) m.push(x);
    expect(m.samples()).toEqual([100, 2, 3]);
    expect(m.value()).toBe(3);
  });
});
