import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetemErrorCodes } from './errors.js';
import {
  formatConditions,
  NETWORK_PROFILES,
  profileConditions,
  resolveConditions,
  validatePartialConditions,
} from './profiles.js';
import { loadTrace } from './trace.js';

const dir = mkdtempSync(join(tmpdir(), 'netem-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('loadTrace', () => {
  it('reads a file of steps, a { steps } object and a JSON string alike', () => {
    const steps = [
      { atMs: 0, conditions: 'lte', label: 'start' },
      { atMs: 5000, conditions: { rttMs: 150, uplinkMbps: 0.5 } },
    ];
    expect(loadTrace(file('a.json', JSON.stringify(steps)))).toEqual(steps);
    expect(loadTrace(file('b.json', JSON.stringify({ steps })))).toEqual(steps);
    expect(loadTrace(JSON.stringify(steps))).toEqual(steps);
    expect(loadTrace(steps)).toEqual(steps);
  });

  it('rejects a missing file with JMDC_ERR_NETEM_TRACE_NOT_FOUND', () => {
    expect(() => loadTrace(join(dir, 'missing.json'))).toThrow(
      expect.objectContaining({ code: NetemErrorCodes.TRACE_NOT_FOUND }),
    );
  });

  const cases: [string, string, string][] = [
    ['invalid JSON', '[{"atMs": 0,', 'json'],
    ['an empty trace', '[]', 'steps'],
    ['a trace that is not an array', '{"atMs": 0}', 'steps'],
    ['a negative atMs', '[{"atMs": -5, "conditions": "lte"}]', 'atMs'],
    ['a decreasing atMs', '[{"atMs": 10, "conditions": "lte"}, {"atMs": 5, "conditions": "3g"}]', 'atMs'],
    ['an unknown profile', '[{"atMs": 0, "conditions": "6g"}]', 'conditions'],
    ['a zero rate', '[{"atMs": 0, "conditions": {"uplinkMbps": 0}}]', 'conditions'],
    ['an unknown condition', '[{"atMs": 0, "conditions": {"bandwidth": 5}}]', 'conditions'],
    ['a bad loss mode', '[{"atMs": 0, "conditions": {"loss": {"rate": 0.1, "mode": "drop"}}}]', 'conditions'],
    ['an unknown step field', '[{"atMs": 0, "conditions": "lte", "at": 3}]', 'at'],
    ['a label that is not a string', '[{"atMs": 0, "conditions": "lte", "label": 3}]', 'label'],
  ];
  for (const [what, text, field] of cases) {
    it(`rejects ${what} with JMDC_ERR_NETEM_TRACE_INVALID naming the field`, () => {
      let caught: unknown;
      try {
        loadTrace(file(`${field}-${what.replace(/\W+/g, '_')}.json`, text));
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: NetemErrorCodes.TRACE_INVALID, details: { field } });
    });
  }

  it('names the index of the bad step', () => {
    expect(() =>
      loadTrace([
        { atMs: 0, conditions: 'lte' },
        { atMs: 1, conditions: { rttMs: Number.NaN } },
      ]),
    ).toThrow(
      expect.objectContaining({ code: NetemErrorCodes.TRACE_INVALID, details: expect.objectContaining({ index: 1 }) }),
    );
  });
});

describe('network profiles', () => {
  it('every profile has valid conditions, a source and a description', () => {
    for (const [name, p] of Object.entries(NETWORK_PROFILES)) {
      expect(p.source.length, name).toBeGreaterThan(10);
      expect(p.description.length, name).toBeGreaterThan(2);
      expect(() => validatePartialConditions(profileConditions(name))).not.toThrow();
    }
    expect(Object.keys(NETWORK_PROFILES)).toEqual(
      expect.arrayContaining(['loopback', 'wifi', 'lte', '3g', 'nbiot', 'ookla-mobile']),
    );
  });

  it('holds the sourced uplink rates and latencies', () => {
    expect(profileConditions('3g').uplinkMbps).toBe(1.4);
    expect(profileConditions('lte').uplinkMbps).toBe(6.8);
    expect(profileConditions('wifi').uplinkMbps).toBe(12.8);
    expect(profileConditions('ookla-mobile')).toMatchObject({ uplinkMbps: 14.8, rttMs: 24 });
    const nb = profileConditions('nbiot').uplinkMbps;
    expect(nb).toBeGreaterThanOrEqual(0.005);
    expect(nb).toBeLessThanOrEqual(0.05);
  });

  it('resolveConditions merges partial values, replaces with a profile, and removes loss with undefined', () => {
    const lte = profileConditions('lte');
    const lossy = resolveConditions({ rttMs: 150, loss: { rate: 0.1, mode: 'stall' } }, lte);
    expect(lossy).toEqual({ ...lte, rttMs: 150, loss: { rate: 0.1, mode: 'stall' } });
    expect(resolveConditions({ loss: undefined }, lossy)).toEqual({ ...lte, rttMs: 150 });
    expect(resolveConditions('3g', lossy)).toEqual(profileConditions('3g'));
    expect(formatConditions(lossy)).toBe(
      'up 6.8 Mbit/s, down 20 Mbit/s, RTT 150 ms, jitter 5 ms, loss 0.1 stall 200 ms',
    );
    expect(formatConditions(profileConditions('loopback'))).toBe('up unlimited, down unlimited, RTT 0 ms');
  });

  it('profileConditions returns a copy that cannot change the profile', () => {
    const c = profileConditions('lte');
    c.rttMs = 999;
    expect(profileConditions('lte').rttMs).toBe(40);
    expect(() => profileConditions('toString')).toThrow(
      expect.objectContaining({ code: NetemErrorCodes.UNKNOWN_PROFILE }),
    );
  });
});
