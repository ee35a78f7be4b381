import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgedSamples, weightedMedian } from './AgedSamples.js';
import { CircuitBreaker } from './CircuitBreaker.js';
import { ColdStartModel, IDLE_BIN_EDGES_MS, priorColdProbability } from './ColdStartModel.js';
import { LinkEstimator } from './LinkEstimator.js';
import { type CloudObservation, LiveEstimators } from './LiveEstimators.js';
import { type EdgeState, readState, STATE_VERSION, writeState } from './stateFile.js';
import { WindowMedian } from './WindowMedian.js';

const MIN = 60_000;

/** Network time of `bytes` over a link of `mbps` with `rtt` ms of round trip. */
function net(bytes: number, mbps: number, rtt: number): number {
  return rtt + (bytes * 8) / (mbps * 1000);
}

/** A warm response to `bytes` bytes (ttfb = network time + server time). */
function obs(
  bytes: number,
  rtt: number,
  server: number,
  extra: Partial<CloudObservation> = {},
  mbps = 10,
): CloudObservation {
  const ttfbMs = net(bytes, mbps, rtt) + server;
  return {
    point: 1,
    bytes,
    ttfbMs,
    totalMs: ttfbMs + 0.2,
    serverMs: server,
    coldStart: false,
    idleMs: 1000,
    referenceCloudMs: 0,
    ...extra,
  };
}

describe('LinkEstimator: bandwidth and RTT from requests of different sizes', () => {
  const priors = { uplinkMbps: 10, rttMs: 50 };

  it('recovers RTT (intercept) and bandwidth (slope) exactly from two sizes', () => {
    const link = new LinkEstimator({ priors });
    link.push(300, net(300, 2, 25), 0);
    link.push(4396, net(4396, 2, 25), 10);
    const f = link.fit(20);
    expect(f.identified).toBe(true);
    expect(f.uplinkMbps).toBeCloseTo(2, 9);
    expect(f.rttMs).toBeCloseTo(25, 9);
  });

  it('keeps the prior bandwidth while every request has the same size, and fits the RTT under it', () => {
    const link = new LinkEstimator({ priors: { uplinkMbps: 8, rttMs: 50 } });
    for (let i = 0; i < 5; i++) link.push(600, 30 + 0.6, i);
    const f = link.fit(5);
    expect(f.identified).toBe(false);
    expect(f.uplinkMbps).toBe(8);
    expect(f.rttMs).toBeCloseTo(30, 9); // 30.6 - 600 B at 8 Mbit/s (0.6 ms)
    expect(link.needsSpread(5)).toBe(true);
  });

  it('lets distant sizes decide the slope when nearby sizes carry timing jitter (Sievers weights)', () => {
    // 2 Mbit/s, RTT 40 ms; PNG- and raw-sized requests (540 and 807 B) where the larger ones happen to
    // take 4-6 ms longer (device jitter), and two upload probes 4 KiB larger: the unweighted median of
    // the pairwise slopes is pulled off by the 49 nearby pairs (31 Mbit/s here); the size-weighted one
    // follows the probes
    const link = new LinkEstimator({ priors, size: 16 });
    const jitter = [6, 0, 5, 0, 6, 0, 4, 0, 6, 0, 5, 0, 6, 0];
    jitter.forEach((j, i) => {
      const bytes = i % 2 ? 540 : 807;
      link.push(bytes, net(bytes, 2, 40) + j, i);
    });
    link.push(4636, net(4636, 2, 40) + 2, 14);
    link.push(4903, net(4903, 2, 40) + 1, 15);
    const f = link.fit(16);
    expect(f.identified).toBe(true);
    expect(f.uplinkMbps).toBeGreaterThan(1.6);
    expect(f.uplinkMbps).toBeLessThan(2.5);
  });

  it('is not moved by single outliers (x10 network time) under +-10% noise', () => {
    const link = new LinkEstimator({ priors });
    const noise = (i: number) => 1 + 0.1 * Math.sin(i * 12.9898);
    for (let i = 0; i < 40; i++) {
      const bytes = i % 2 ? 200 : 8192;
      const outlier = i % 7 === 3 ? 10 : 1;
      link.push(bytes, net(bytes, 4, 20) * noise(i) * outlier, i);
      if (i >= 6) {
        const f = link.fit(i);
        expect(f.uplinkMbps).toBeGreaterThan(4 / 1.3);
        expect(f.uplinkMbps).toBeLessThan(4 * 1.3);
        expect(f.rttMs).toBeGreaterThan(20 / 1.3);
        expect(f.rttMs).toBeLessThan(20 * 1.3);
      }
    }
  });

  it('tracks a rate step from 10 to 0.5 Mbit/s within 3 requests once a probe of another size comes', () => {
    const link = new LinkEstimator({ priors });
    let t = 0;
    // steady state: ~600 B payloads and an occasional 4 KiB probe
    for (let i = 0; i < 8; i++) link.push(600, net(600, 10, 20), t++);
    link.push(4096, net(4096, 10, 20), t++);
    expect(link.fit(t).uplinkMbps).toBeCloseTo(10, 6);
    expect(link.takeChange()).toBe(false);
    // the step: payload requests now take 9.6 ms more
    link.push(600, net(600, 0.5, 20), t++);
    expect(link.takeChange()).toBe(false);
    link.push(600, net(600, 0.5, 20), t++);
    expect(link.takeChange()).toBe(true); // two off-fit samples on the same side: the link changed
    // the client answers with a probe of another size
    link.push(4096, net(4096, 0.5, 20), t++);
    const f = link.fit(t);
    expect(f.identified).toBe(true);
    expect(f.uplinkMbps).toBeCloseTo(0.5, 6);
    expect(f.rttMs).toBeCloseTo(20, 6);
  });

  it('takes one off-fit sample after a silence of staleAfterMs as a change, and a second one within it only', () => {
    const slow = () => {
      const link = new LinkEstimator({ priors, staleAfterMs: 10_000 });
      // NB-IoT: 25 kbit/s, 300 ms, two sizes
      link.push(700, net(700, 0.025, 300), 0);
      link.push(4096, net(4096, 0.025, 300), 1000);
      link.push(700, net(700, 0.025, 300), 2000);
      expect(link.fit(2000).uplinkMbps).toBeCloseTo(0.025, 6);
      return link;
    };
    // 30 s later the link is Wi-Fi: the first sample replaces the window, and the old bandwidth goes
    const after = slow();
    after.push(4096, net(4096, 12.8, 10), 32_000);
    expect(after.takeChange()).toBe(true);
    const f = after.fit(32_000);
    expect(f).toMatchObject({ samples: 1, identified: false, uplinkMbps: priors.uplinkMbps });
    expect(f.rttMs).toBeCloseTo(net(4096, 12.8, 10) - (4096 * 8) / (priors.uplinkMbps * 1000), 6);
    // the same sample 1 s after the last one is one off-fit sample: no change yet
    const soon = slow();
    soon.push(4096, net(4096, 12.8, 10), 3000);
    expect(soon.takeChange()).toBe(false);
    expect(soon.fit(3000).samples).toBe(4);
    // after a silence, a sample on the fit changes nothing
    const same = slow();
    same.push(4096, net(4096, 0.025, 300), 40_000);
    expect(same.takeChange()).toBe(false);
    expect(same.fit(40_000).samples).toBe(4);
  });

  it('forgets: a single early sample no longer counts after maxAgeMs (the prior is back)', () => {
    const link = new LinkEstimator({ priors, maxAgeMs: 10 * MIN });
    link.push(0, 2000, 0); // one early, very slow probe
    expect(link.fit(1000).rttMs).toBe(2000);
    expect(link.fit(10 * MIN + 1).rttMs).toBe(50);
    expect(link.fit(10 * MIN + 1).samples).toBe(0);
  });

  it('lets newer samples outweigh older ones (half-life)', () => {
    const link = new LinkEstimator({ priors, halfLifeMs: 1000, changeRun: 100 });
    for (let i = 0; i < 3; i++) link.push(0, 100, i);
    for (let i = 0; i < 2; i++) link.push(0, 10, 5000 + i);
    // 3 old (weight ~1/32 each) vs 2 new samples: the new value wins the weighted median
    expect(link.fit(5001).rttMs).toBe(10);
  });

  it('discards samples outside plausible bounds', () => {
    const link = new LinkEstimator({ priors });
    expect(link.push(100, Number.NaN, 0)).toBe(false);
    expect(link.push(100, -50, 0)).toBe(false);
    expect(link.push(100, 1e9, 0)).toBe(false);
    expect(link.fit(1).samples).toBe(0);
    const back = new LinkEstimator({ priors }, link.toState());
    expect(back.fit(1)).toEqual(link.fit(1));
  });

  it('fits later with the slope it computed for the same live samples: as a fresh fit would, and anew once one ages out', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            bytes: fc.integer({ min: 0, max: 20_000 }),
            jitter: fc.double({ min: 0, max: 30, noNaN: true }),
            gap: fc.integer({ min: 1, max: 4 * MIN }),
            fits: fc.array(fc.integer({ min: 0, max: 3 * MIN }), { maxLength: 3 }),
          }),
          { minLength: 1, maxLength: 24 },
        ),
        (steps) => {
          const link = new LinkEstimator({ priors, halfLifeMs: MIN, maxAgeMs: 5 * MIN });
          let at = 0;
          for (const s of steps) {
            at += s.gap;
            link.push(s.bytes, net(s.bytes, 4, 30) + s.jitter, at);
            for (const d of s.fits) {
              // a fresh estimator of the same samples computes the slope at this time
              const fresh = new LinkEstimator({ priors, halfLifeMs: MIN, maxAgeMs: 5 * MIN }, link.toState());
              const a = link.fit(at + d);
              const b = fresh.fit(at + d);
              expect(a.samples).toBe(b.samples);
              expect(a.identified).toBe(b.identified);
              expect(a.uplinkMbps).toBeCloseTo(b.uplinkMbps, 6);
              expect(a.rttMs).toBeCloseTo(b.rttMs, 6);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
    // two sizes, then the small one ages out: the fit no longer has a slope of its own
    const link = new LinkEstimator({ priors: { uplinkMbps: 1, rttMs: 50 }, maxAgeMs: 10 * MIN });
    link.push(100, net(100, 5, 20), 0);
    link.push(10_100, net(10_100, 5, 20), 5000);
    expect(link.fit(5000).uplinkMbps).toBeCloseTo(5, 6);
    expect(link.fit(5 * MIN).identified).toBe(true);
    const later = link.fit(10 * MIN + 1000);
    expect(later.identified).toBe(false);
    expect(later.samples).toBe(1);
  });
});

describe('LiveEstimators: what responses teach, and what they must not', () => {
  it('learns RTT from ttfb - serverMs - initMs, and bandwidth once sizes differ', () => {
    const est = new LiveEstimators({ pointCount: 3, priors: { rttMs: 99 } });
    expect(est.rttMs(0)).toBe(99);
    est.observe(obs(600, 30, 10), 1);
    est.observe({ ...obs(600, 30, 10), ttfbMs: net(600, 10, 30) + 10 + 900, coldStart: true, initMs: 900 }, 2);
    expect(est.rttMs(3)).toBeCloseTo(30, 6);
    est.observeProbe(net(8192, 10, 30), 4, 8192);
    expect(est.uplinkMbps(5)).toBeCloseTo(10, 6);
    expect(est.stats(5).bandwidthIdentified).toBe(true);
  });

  it("pools the other points' cloud speed with the configured ageing when a point has none", () => {
    const est = new LiveEstimators({ pointCount: 2, cloudScale: { halfLifeMs: 1000 } });
    est.observe({ ...obs(600, 20, 5), point: 1, serverMs: 2, referenceCloudMs: 1 }, 0);
    est.observe({ ...obs(600, 20, 5), point: 1, serverMs: 2, referenceCloudMs: 1 }, 0);
    est.observe({ ...obs(600, 20, 5), point: 1, serverMs: 8, referenceCloudMs: 1 }, 10_000);
    // at a half-life of 1 s the newest sample outweighs the two 10 s older ones (at the default 120 s it would not)
    expect(est.cloudScale(1, 10_000)).toBe(8);
    expect(est.cloudScale(2, 10_000)).toBe(8);
  });

  it('learns from a warm upload probe, marks its function active, and takes no sample from a cold one', () => {
    const est = new LiveEstimators({ pointCount: 2 });
    expect(est.observeUploadProbe(1, { ttfbMs: 40, serverMs: 2, bytesSent: 4500, coldStart: true }, 10)).toBe(false);
    expect(est.stats(10).linkSamples).toBe(0);
    expect(est.stats(15).points[1]?.idleMs).toBe(5);
    expect(est.observeUploadProbe(1, { ttfbMs: 40, serverMs: 2, bytesSent: 4500 }, 20)).toBe(true);
    expect(est.stats(20).linkSamples).toBe(1);
    // 38 ms of network for 4,500 bytes at the prior 10 Mbit/s: 3.6 ms of upload, the rest RTT
    expect(est.rttMs(20)).toBeCloseTo(38 - (4500 * 8) / 10_000, 6);
    expect(est.stats(20).points[1]?.idleMs).toBe(0);
  });

  it('takes no network sample from a cold answer, and prices its whole unexplained wait as the cold start', () => {
    const est = new LiveEstimators({ pointCount: 2, priors: { rttMs: 20 } });
    est.observe(obs(600, 20, 5), 1);
    const linkBefore = est.stats(2).linkSamples;
    // 300 ms of init reported, 2,000 ms more of instance setup that nobody reports
    const cold = { ...obs(600, 20, 5), coldStart: true, initMs: 300 };
    cold.ttfbMs = (cold.ttfbMs ?? 0) + 2300;
    cold.totalMs += 2300;
    expect(est.observe(cold, 2)).toEqual([]);
    expect(est.stats(3).linkSamples).toBe(linkBefore);
    expect(est.rttMs(3)).toBeCloseTo(20, 0);
    const init = (est.conditions(3).initMs as number[])[1] as number;
    expect(init).toBeGreaterThan(2200);
    expect(init).toBeLessThan(2400);
  });

  it('discards an answer with serverMs 1e6 or initMs 1e308: later conditions are unchanged', () => {
    const est = new LiveEstimators({ pointCount: 2 });
    est.noteSend(1, 0);
    est.observe(obs(600, 20, 5, { referenceCloudMs: 5 }), 10);
    const before = est.conditions(20);
    const bad1 = est.observe({ ...obs(600, 20, 5, { referenceCloudMs: 5 }), serverMs: 1e6, totalMs: 1e6 + 30 }, 15);
    expect(bad1).toContain('serverMs');
    const bad2 = est.observe({ ...obs(600, 20, 5), coldStart: true, initMs: 1e308 }, 16);
    expect(bad2).toEqual(['initMs']);
    const bad3 = est.observe({ ...obs(600, 20, 5), timingsPlausible: false }, 17);
    expect(bad3).toEqual(['timings']);
    const after = est.conditions(20);
    expect(after.rttMs).toBe(before.rttMs);
    expect(after.cloudScale).toEqual(before.cloudScale);
    expect(after.initMs).toEqual(before.initMs); // the prior, not 1e308
    expect(est.stats(20).discarded).toBe(3);
  });

  it('learns the cloud speed per point from warm responses only, falling back to other points', () => {
    const est = new LiveEstimators({ pointCount: 3 });
    expect(est.cloudScale(2, 0)).toBe(1);
    est.observe(obs(100, 30, 20, { point: 1, referenceCloudMs: 10 }), 1);
    est.observe(obs(100, 30, 30, { point: 1, referenceCloudMs: 10 }), 2);
    est.observe(obs(100, 30, 25, { point: 1, referenceCloudMs: 10 }), 3);
    est.observe(obs(100, 30, 500, { point: 1, referenceCloudMs: 10, coldStart: true }), 4);
    expect(est.cloudScale(1, 5)).toBe(2.5);
    expect(est.cloudScale(2, 5)).toBe(2.5); // no own data: the median over all points
    const c = est.conditions(5, 4);
    expect(c.batch).toBe(4);
    expect(c.cloudScale).toEqual([2.5, 2.5, 2.5, 2.5]);
    expect(c.available).toEqual([true, true, true, true]);
  });

  it('reports open circuits as unavailable in the conditions', () => {
    const est = new LiveEstimators({ pointCount: 2, circuit: { baseMs: 1000 } });
    est.breaker(2).failure(0, 'JMDC_ERR_NETWORK');
    expect(est.conditions(500).available).toEqual([true, true, false]);
    expect(est.conditions(1000).available).toEqual([true, true, true]);
    expect(est.stats(500).points[2]?.circuit).toEqual({
      state: 'open',
      failures: 1,
      until: 1000,
      lastError: 'JMDC_ERR_NETWORK',
    });
  });
});

describe('CircuitBreaker', () => {
  it('opens for base x 2^(k-1) up to the cap, lets one trial through when half-open, closes on success', () => {
    const b = new CircuitBreaker({ baseMs: 1000, maxMs: 5000 });
    expect(b.state(0)).toBe('closed');
    b.failure(0);
    expect(b.state(999)).toBe('open');
    expect(b.available(999)).toBe(false);
    expect(b.tryAcquire(999)).toBe(false);
    expect(b.state(1000)).toBe('half-open');
    expect(b.tryAcquire(1000)).toBe(true);
    expect(b.tryAcquire(1000)).toBe(false); // one trial at a time
    expect(b.available(1000)).toBe(false);
    b.failure(1000);
    expect(b.snapshot(1000).until).toBe(3000); // 2 s
    b.failure(3000);
    expect(b.snapshot(3000).until).toBe(7000); // 4 s
    b.failure(7000);
    expect(b.snapshot(7000).until).toBe(12000); // capped at 5 s
    expect(b.tryAcquire(12000)).toBe(true);
    b.success();
    expect(b.snapshot(12000)).toEqual({ state: 'closed', failures: 0 });
    expect(b.tryAcquire(12000)).toBe(true);
    expect(b.tryAcquire(12000)).toBe(true); // closed: no limit
  });

  it('frees the trial slot when a trial ends without an outcome', () => {
    const b = new CircuitBreaker({ baseMs: 10 });
    b.failure(0);
    expect(b.tryAcquire(10)).toBe(true);
    b.release();
    expect(b.tryAcquire(10)).toBe(true);
  });
});

describe('AgedSamples and weightedMedian', () => {
  it('is a weighted median that forgets old samples', () => {
    expect(weightedMedian([1, 2, 100], [1, 1, 0.1])).toBe(2);
    expect(weightedMedian([1, 3], [1, 1])).toBe(2);
    expect(Number.isNaN(weightedMedian([], []))).toBe(true);
    const m = new AgedSamples({ size: 5, halfLifeMs: 1000, maxAgeMs: 10_000 });
    for (const x of [10, 10, 100, 10]) m.push(x, 0);
    expect(m.value(0)).toBe(10);
    expect(m.value(10_001, -1)).toBe(-1);
    m.push(Number.NaN, 0);
    expect(m.count(0)).toBe(4);
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
    expect(priorColdProbability(10 * MIN)).toBeCloseTo(0.49, 2);
    expect(priorColdProbability(0)).toBe(0);
    // a function that answered a few seconds ago costs (almost) no expected cold start
    expect(m.probability(2_000)).toBeLessThan(0.001);
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

  it('lets old evidence lose weight with time (half-life)', () => {
    const m = new ColdStartModel({ evidenceHalfLifeMs: 60 * MIN });
    for (let i = 0; i < 50; i++) m.observe(30_000, true, undefined, i);
    expect(m.probability(30_000)).toBeGreaterThan(0.85);
    // ten half-lives later, a few warm answers outweigh 50 old cold ones
    for (let i = 0; i < 4; i++) m.observe(30_000, false, undefined, 600 * MIN + i);
    expect(m.probability(30_000)).toBeLessThan(0.3);
  });

  it('keeps a function that answered a moment ago apart from one idle for half a minute', () => {
    // a host that reaps idle instances after 20 s: cold after 25 s of idleness, warm right after an answer
    const m = new ColdStartModel();
    for (let i = 0; i < 10; i++) {
      m.observe(25_000, true, 400);
      m.observe(300, false);
      m.observe(2_000, false);
    }
    // pooled with the later bins' prior (monotone in idle time), still more likely cold than not
    expect(m.probability(25_000)).toBeGreaterThan(0.6);
    expect(m.probability(500)).toBeLessThan(0.05);
    expect(m.probability(3_000)).toBeLessThan(0.05);
  });

  it('learns a host that reaps every instance at once: the empty later bins do not pull it down', () => {
    // warm answers first, then every answer cold, even right after the last one (a host under
    // pressure, the benchmark's cold state): the later bins have no observations, only their priors
    const m = new ColdStartModel();
    for (let i = 0; i < 5; i++) m.observe(300, false);
    for (let i = 0; i < 30; i++) m.observe(300 + 100 * i, true, 380);
    // (2 x 0.0003 + 30) / (2 + 35) in the first bin; pooled with the priors' pseudo-observations of
    // the bins up to 10 min it was 0.68, below the 0.81 observed
    expect(m.probability(500)).toBeGreaterThan(0.8);
    // a longer idle time is at least as likely cold
    for (const idle of [10_000, 30_000, 3 * MIN, 7 * MIN])
      expect(m.probability(idle)).toBeGreaterThanOrEqual(m.probability(500));
    // and evidence still decides against evidence: a later bin seen warm pools with the cold one
    for (let i = 0; i < 35; i++) m.observe(3 * MIN, false);
    expect(m.probability(500)).toBeLessThan(0.5);
    expect(m.probability(3 * MIN)).toBeCloseTo(m.probability(500), 9);
  });

  it('reads a saved state of the layout without the seconds bins', () => {
    // 7 bins: [0, 1 min), [1, 5), [5, 10), [10, 15), [15, 30), [30, 60), >= 60 min
    const bins: Array<[number, number]> = [
      [40, 0],
      [0, 3],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [5, 0],
    ];
    const m = new ColdStartModel({}, { bins, initMs: [] });
    const saved = m.toState().bins;
    expect(saved).toHaveLength(IDLE_BIN_EDGES_MS.length);
    // the old first bin's evidence lands in [15 s, 1 min), the others one bin further on
    expect(saved[2]).toEqual([40, 0]);
    expect(saved[3]).toEqual([0, 3]);
    expect(saved[8]).toEqual([5, 0]);
    expect(saved[0]).toEqual([0, 0]);
    expect(m.probability(30_000)).toBeGreaterThan(0.8);
    expect(m.probability(2_000)).toBeLessThan(0.05);
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

  it('learns the device speed and the per-request extra as ageing medians, bounded, kept in the state', () => {
    const est = new LiveEstimators({ pointCount: 2 });
    const t0 = 1_000_000;
    expect(est.conditions(t0)).toMatchObject({ deviceScale: 1, requestExtraMs: 0 });
    for (const [i, ms] of [60, 62, 58, 600].entries()) expect(est.observeDevice(ms, 30, t0 + i)).toBe(true);
    expect(est.deviceScale(t0 + 10)).toBe(1); // not before 5 runs
    expect(est.observeDevice(61, 30, t0 + 4)).toBe(true);
    expect(est.deviceScale(t0 + 10)).toBeCloseTo(2, 1); // the 20x outlier does not move the median
    expect(est.observeDevice(1, 1e6, t0)).toBe(false); // 1e-6: implausible
    expect(est.observeDevice(5, 0, t0)).toBe(false);
    for (const [i, ms] of [12, 15, 13, 90].entries()) est.observeRequestExtra(ms, t0 + i);
    expect(est.observeRequestExtra(Number.NaN, t0)).toBe(false);
    expect(est.conditions(t0 + 10)).toMatchObject({ requestExtraMs: 0 }); // not before 5 samples
    est.observeRequestExtra(13, t0 + 4);
    expect(est.conditions(t0 + 10)).toMatchObject({ requestExtraMs: 13 });
    const restored = new LiveEstimators({ pointCount: 2 }, est.toState());
    expect(restored.stats(t0 + 10)).toMatchObject({ deviceScale: est.deviceScale(t0 + 10), requestExtraMs: 13 });
    // after 15 min without samples both return to their priors
    expect(restored.conditions(t0 + 20 * MIN)).toMatchObject({ deviceScale: 1, requestExtraMs: 0 });
    est.resetDeviceScale();
    expect(est.deviceScale(t0 + 10)).toBe(1);
  });

  it('takes a cold start of a request sent while another was in flight as concurrency, not idle time', () => {
    const est = new LiveEstimators({ pointCount: 1 });
    const t0 = 1_000_000;
    const o = { point: 1, bytes: 800, ttfbMs: 60, totalMs: 61, serverMs: 5, idleMs: 20, referenceCloudMs: 5 };
    for (let i = 0; i < 3; i++) est.observe({ ...o, coldStart: true, initMs: 300, concurrent: true }, t0 + i);
    expect(est.initMs(1)).toBe(300);
    expect(est.coldProbability(1, t0 + 100)).toBeLessThan(0.001);
    // the same answers without the flag: a function that starts instances 20 ms after a request
    const naive = new LiveEstimators({ pointCount: 1 });
    for (let i = 0; i < 3; i++) naive.observe({ ...o, coldStart: true, initMs: 300 }, t0 + i);
    expect(naive.coldProbability(1, t0 + 100)).toBeGreaterThan(0.2);
  });

  it('learns the network time left after a wait for device work, and no network time where none is left', () => {
    const est = new LiveEstimators({ pointCount: 1 });
    const t0 = 1_000_000;
    const o = { point: 1, bytes: 800, ttfbMs: 300, totalMs: 301, serverMs: 5, idleMs: 1000, referenceCloudMs: 5 };
    // a 250 ms inference overlapped the request: 45 ms of network time are left
    est.observe({ ...o, coldStart: false, deviceHeldMs: 250 }, t0);
    expect(est.stats(t0).linkSamples).toBe(1);
    expect(est.rttMs(t0)).toBeCloseTo(45 - (800 * 8) / 10_000, 6); // less 800 B at the prior 10 Mbit/s
    // held for longer than the request: nothing left to learn about the link, but its flags
    est.observe({ ...o, coldStart: true, initMs: 250, deviceHeldMs: 400 }, t0 + 1);
    expect(est.initMs(1)).toBe(250); // the reported init, not the wait beyond the network
    expect(est.stats(t0 + 1).linkSamples).toBe(1);
    expect(est.stats(t0 + 1).points[1]?.idleMs).toBe(0);
  });

  it('feeds the planner conditions: P(cold) from idle time since the last request', () => {
    const est = new LiveEstimators({ pointCount: 2, priors: { initMs: 1200 } });
    const t0 = 1_000_000;
    expect(est.conditions(t0).coldProb).toEqual([1, 1, 1]); // never called
    const idle = est.noteSend(2, t0);
    expect(idle).toBe(Number.POSITIVE_INFINITY);
    est.observe({ ...obs(100, 30, 20, { point: 2 }), coldStart: true, initMs: 1700, idleMs: idle }, t0 + 1800);
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
    for (let i = 0; i < 4; i++) est.observe(obs(i % 2 ? 300 : 5000, 20, 5, { referenceCloudMs: 2 }), 1000 + i);
    est.noteSend(1, 5000);
    est.observe({ ...obs(100, 30, 20), coldStart: true, initMs: 1234, idleMs: 9 * MIN }, 6000);
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

  /** Writes a state file of this model build with `fields` (estimators, calibration); returns its path. */
  const writeSaved = (name: string, fields: Record<string, unknown>): string => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify({ version: STATE_VERSION, ...expectId, savedAt: 1, ...fields }));
    return path;
  };

  it('drops implausible values on load with a warning, keeping the rest', () => {
    const path = writeSaved('poisoned.json', {
      estimators: {
        link: {
          samples: [
            [600, 21, 5],
            [600, 1e9, 6],
            [4096, 24, 7],
          ],
          slope: [1e300, 7],
        },
        cloudScale: {
          1: [
            { v: 2, at: 5 },
            { v: 1e12, at: 6 },
          ],
        },
        coldStart: { 1: { bins: [[1, 2]], initMs: [800, 1e308] } },
      },
    });
    const r = readState(path, expectId);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/dropped 4 implausible values/);
    expect(r.state?.estimators?.link.samples).toEqual([
      [600, 21, 5],
      [4096, 24, 7],
    ]);
    expect(r.state?.estimators?.link.slope).toBeUndefined();
    expect(r.state?.estimators?.cloudScale).toEqual({ 1: [{ v: 2, at: 5 }] });
    expect(r.state?.estimators?.coldStart[1]?.initMs).toEqual([800]);
    const est = new LiveEstimators({ pointCount: 2 }, r.state?.estimators);
    expect(est.initMs(1)).toBe(800);
    expect(est.rttMs(10)).toBeLessThan(25);
  });

  it('ignores a corrupt, old or foreign file with a warning', () => {
    const cases: Array<[string, string]> = [
      ['garbage', '{not json'],
      ['old', JSON.stringify({ version: 1, model: 'tiny', modelHash: 'sha256:aa', estimators: { uplinkMbps: [5] } })],
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

  it('keeps the plausible device speed and per-request extra samples of a state file', () => {
    const path = writeSaved('device.json', {
      estimators: {
        link: { samples: [] },
        cloudScale: {},
        coldStart: {},
        deviceScale: [{ v: 2, at: 5 }, { v: 1e9, at: 5 }, 'x'],
        requestExtra: [
          { v: 12, at: 5 },
          { v: Number.MAX_VALUE, at: 5 },
        ],
      },
    });
    const r = readState(path, expectId);
    expect(r.state?.estimators?.deviceScale).toEqual([{ v: 2, at: 5 }]);
    expect(r.state?.estimators?.requestExtra).toEqual([{ v: 12, at: 5 }]);
    expect(r.warnings.join(' ')).toMatch(/deviceScale/);
    expect(r.warnings.join(' ')).toMatch(/requestExtra/);
  });

  it('drops malformed parts, and keeps only network estimates for another model build', () => {
    const link = { samples: [[600, 20, 1]] };
    const path = writeSaved('parts.json', {
      calibration: { device: 'pi', threads: 'four' },
      estimators: { link, cloudScale: { 1: [{ v: 2, at: 1 }] }, coldStart: {} },
    });
    const r = readState(path, expectId);
    expect(r.state?.calibration).toBeUndefined();
    expect(r.state?.estimators?.link).toEqual(link);
    expect(r.warnings).toHaveLength(1);
    const other = readState(path, { model: 'tiny', modelHash: 'sha256:bb' });
    expect(other.state?.estimators).toEqual({ link, cloudScale: {}, coldStart: {} });
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
