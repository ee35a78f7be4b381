import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlanOption } from '@jmdc/edge-sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../edge-sdk/src/cli/main.js';
import { TINY_MODEL_DIR } from './fakeCloud.js';
import { tinyProfile } from './tinyProfile.js';

const dir = mkdtempSync(join(tmpdir(), 'jmdc-cli-'));
const profilePath = join(dir, 'profile.json');
writeFileSync(profilePath, JSON.stringify(tinyProfile()));

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    out.push(a.join(' '));
  });
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    err.push(a.join(' '));
  });
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err.push(String(s));
    return true;
  });
  try {
    const code = await main(args);
    return { code, out, err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

const BASE = ['plan', '--model', TINY_MODEL_DIR, '--profile', profilePath];

afterEach(() => {
  vi.restoreAllMocks();
});

describe('jmdc plan', () => {
  it('prints the decision, its breakdown and the alternatives as one JSON line', async () => {
    const state = join(dir, 'none.json');
    const r = await cli([
      ...BASE,
      '--state',
      state,
      '--uplink-mbps',
      '10',
      '--rtt-ms',
      '50',
      '--min-accuracy',
      '0.9',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out.at(-1) ?? '') as PlanOption & { alternatives: PlanOption[] };
    expect(Object.keys(j)).toEqual(['decision', 'predicted', 'alternatives']);
    expect(j.decision).toEqual({
      kind: 'split',
      point: 2,
      variant: 0,
      keep: 1,
      bits: 8,
      coder: 'deflate',
      quantScope: 'channel',
    });
    // 59.48 + the default per-request work for 600 bytes (0.4 + 0.015 x 600 / 1024 ms)
    expect(j.predicted.totalMs).toBeCloseTo(59.8887890625, 6);
    expect(Object.keys(j.predicted)).toEqual([
      'totalMs',
      'edgeMs',
      'encodeMs',
      'requestMs',
      'uploadMs',
      'rttMs',
      'cloudMs',
      'coldMs',
      'accuracy',
      'costUsd',
    ]);
    expect(j.alternatives).toHaveLength(3);
    expect(j.alternatives[0]?.predicted.totalMs).toBeGreaterThanOrEqual(j.predicted.totalMs);
    expect(r.err).toMatch(/the profile \(synthetic; no calibration in /);
  });

  it('moves to the device when the uplink is gone or the function is cold; keeps a latency budget', async () => {
    const state = join(dir, 'none.json');
    const slow = await cli([...BASE, '--state', state, '--uplink-mbps', '0.001', '--rtt-ms', '50', '--json']);
    expect(JSON.parse(slow.out.at(-1) ?? '').decision.kind).toBe('edge-only');
    const cold = await cli([
      ...BASE,
      '--state',
      state,
      '--uplink-mbps',
      '10',
      '--rtt-ms',
      '50',
      '--min-accuracy',
      '0.9',
      '--cold-prob',
      '1',
      '--init-ms',
      '2000',
      '--json',
    ]);
    expect(JSON.parse(cold.out.at(-1) ?? '').decision.kind).toBe('edge-only');
    const budget = await cli([
      ...BASE,
      '--state',
      state,
      '--uplink-mbps',
      '10',
      '--rtt-ms',
      '50',
      '--max-latency-ms',
      '60',
      '--batch',
      '1',
      '--json',
    ]);
    expect(JSON.parse(budget.out.at(-1) ?? '').predicted.accuracy).toBe(0.91);
  });

  it('prints a readable table without --json', async () => {
    const r = await cli([...BASE, '--state', join(dir, 'none.json'), '--uplink-mbps', '10', '--rtt-ms', '50']);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/kind\s+point\s+variant/);
    expect(r.out.join('\n')).toMatch(/\*\s+split\s+2/);
  });

  it.each([
    ['a missing --uplink-mbps', ['--rtt-ms', '5']],
    ['a negative RTT', ['--uplink-mbps', '1', '--rtt-ms', '-5']],
    ['an accuracy above 1', ['--uplink-mbps', '1', '--rtt-ms', '5', '--min-accuracy', '2']],
    ['both objectives', ['--uplink-mbps', '1', '--rtt-ms', '5', '--min-accuracy', '0.9', '--max-latency-ms', '10']],
    ['an unknown flag', ['--uplink-mbps', '1', '--rtt-ms', '5', '--frobnicate']],
    ['a zero bandwidth', ['--uplink-mbps', '0', '--rtt-ms', '5']],
  ])('exits 2 with usage for %s', async (_name, flags) => {
    const r = await cli([...BASE, ...flags]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/usage: jmdc plan/);
  });

  it.each([
    [['--uplink-mbps', '-1', '--rtt-ms', '5'], '--uplink-mbps must be > 0, got -1'],
    [['--uplink-mbps', '1', '--rtt-ms', '-5'], '--rtt-ms must be >= 0, got -5'],
    [['--uplink-mbps', '1', '--rtt-ms', '5', '--cold-prob', '-.5'], '--cold-prob must be >= 0, got -0.5'],
  ])('says what is wrong with a negative number %j (not "argument is ambiguous")', async (flags, message) => {
    const r = await cli([...BASE, ...flags]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`jmdc plan: ${message}`);
    expect(r.err).not.toMatch(/ambiguous/);
    expect(r.err).toMatch(/usage: jmdc plan/);
  });

  it('says the timings are a scaled estimate with --edge-slowdown, not a calibration', async () => {
    const r = await cli([
      ...BASE,
      '--state',
      join(dir, 'none.json'),
      '--uplink-mbps',
      '10',
      '--rtt-ms',
      '50',
      '--edge-slowdown',
      '100',
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/calibration \(/);
    expect(r.err).toMatch(/scaled by --edge-slowdown 100 \(an estimate, not a calibration\)/);
  });

  it('applies the same default accuracy floor as the SDK (full model - 1 point)', async () => {
    const args = [...BASE, '--state', join(dir, 'none.json'), '--uplink-mbps', '10', '--rtt-ms', '50', '--json'];
    const def = await cli(args);
    expect(def.err).toMatch(/accuracy floor 0\.9100/);
    // the tiny profile's fastest row (0.88) is below the floor: the 0.91 split is chosen
    expect(JSON.parse(def.out.at(-1) ?? '').predicted.accuracy).toBe(0.91);
    const none = await cli([...args, '--min-accuracy', '0']);
    expect(JSON.parse(none.out.at(-1) ?? '').predicted.accuracy).toBe(0.88);
  });

  it('exits 1 with JMDC_ERR_NO_PLAN when no row reaches the accuracy floor', async () => {
    const r = await cli([
      ...BASE,
      '--state',
      join(dir, 'none.json'),
      '--uplink-mbps',
      '1',
      '--rtt-ms',
      '5',
      '--min-accuracy',
      '0.99',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/JMDC_ERR_NO_PLAN/);
  });
});

describe('jmdc calibrate', () => {
  it('measures the heads on this device, stores them, and jmdc plan then uses them', async () => {
    const state = join(dir, 'cal.json');
    const r = await cli([
      'calibrate',
      '--model',
      TINY_MODEL_DIR,
      '--state',
      state,
      '--repetitions',
      '2',
      '--threads',
      '1',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const cal = JSON.parse(r.out.at(-1) ?? '') as { headMs: Record<string, number[]>; threads: number };
    expect(cal.headMs.r000).toHaveLength(5);
    expect(cal.threads).toBe(1);
    expect(r.err).toMatch(/calibrate \d+\/41/);
    expect(r.err).toMatch(/largest spread/);
    const stored = JSON.parse(readFileSync(state, 'utf8')) as { calibration: { headMs: unknown } };
    expect(stored.calibration.headMs).toEqual(cal.headMs);
    const p = await cli([...BASE, '--state', state, '--uplink-mbps', '10', '--rtt-ms', '50', '--json']);
    expect(p.err).toMatch(/this device's calibration/);
    // the tiny network takes well under a millisecond here, not the profile's 500 ms
    expect(JSON.parse(p.out.at(-1) ?? '').decision.kind).toBe('edge-only');
  });

  it('exits 2 with usage for bad flags', async () => {
    const r = await cli(['calibrate', '--model', TINY_MODEL_DIR, '--repetitions', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/usage: jmdc calibrate/);
  });
});
