import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JmdcClient, loadProfile, normalizeProfile, type ProfileRow } from '@jmdc/edge-sdk';
import { UsageError } from '@jmdc/edge-sdk/cli';
import { encodeFeatures, peekHeader, rawPayloadBytes } from '@jmdc/edge-sdk/codec';
import { argmaxRows, featureDims, loadModel } from '@jmdc/edge-sdk/model';
import { startLocalCloud } from '@jmdc/local-cloud';
import { DEVICE_PRESETS } from '@jmdc/netem';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_IDLE_TIMEOUT_MS, defaultScenario } from '../demo/scenario.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../localSystem.js';
import { viewsOf, writeCharts } from './charts.js';
import { run as benchCli, readRuns, usage } from './main.js';
import { type BenchConfig, type BenchRun, cpuDetail, roundOrder, runBench, timeLeftText } from './runBench.js';
import {
  benchFloor,
  buildStrategies,
  fixedSpec,
  oracleCandidates,
  paretoRows,
  quietVariant,
  rowKey,
  STRATEGY_NAMES,
  uncodedFeatureBytes,
} from './strategies.js';
import { type CellRecord, type CellSummary, checkGoals, pooledAccuracy, statsOf, summarizeCell } from './summary.js';
import { cellTable, goalLines, traceTables } from './tables.js';
import {
  functionWarmupSpecs,
  summarizeTrace,
  type TraceRecord,
  traceBrief,
  traceIdleTimeoutMs,
  tracePhases,
  traceSchedule,
} from './trace.js';

const model = loadModel('fmnist-vgg16');
const profile = loadProfile(model.dir, { manifest: model.manifest });

type Decision = NonNullable<CellRecord['result']>['decision'];

function rec(
  key: string,
  totalMs: number,
  o: { bytes?: number; correct?: boolean; edge?: boolean; decision?: Decision } = {},
): CellRecord {
  return {
    type: 'result',
    key,
    labels: [3],
    result: {
      classes: [o.correct === false ? 4 : 3],
      decision:
        o.decision ??
        (o.edge
          ? { kind: 'edge-only', point: -1, variant: 0, keep: 1, bits: 8, coder: 'none' }
          : { kind: 'cloud-only', point: 0, variant: 0, keep: 1, bits: 8, coder: 'png' }),
      predicted: {
        totalMs: totalMs * 1.1,
        edgeMs: 0,
        encodeMs: 0,
        requestMs: 0,
        uploadMs: 0,
        rttMs: 0,
        cloudMs: 0,
        coldMs: 0,
        accuracy: 0.94,
        costUsd: 0,
      },
      timings: { edgeMs: totalMs / 2, encodeMs: 0, uploadMs: 0, cloudMs: 0, waitMs: 0, planMs: 0.1, totalMs },
      bytesSent: o.bytes ?? 0,
      coldStart: false,
      fallback: false,
      attempts: o.bytes ? 1 : 0,
    },
  };
}

/** The float32 frame (bits 32, every position, coder none) of `batch` items of the unpruned model at `point`. */
function float32Frame(point: number, batch: number): Uint8Array {
  const v0 = model.manifest.variants.find((v) => v.pruneRatio === 0);
  if (!v0) throw new Error('no unpruned variant');
  const [c, h, w] = featureDims(v0, point);
  return encodeFeatures(
    {
      dims: [c, h, w],
      batch,
      features: new Float32Array(batch * c * h * w),
      attention: new Float32Array(batch * h * w),
    },
    { model: { id: model.manifest.id, hash: model.manifest.hash }, point, variant: 0, bits: 32, coder: 'none' },
  );
}

describe('strategies', () => {
  const s = buildStrategies(model.manifest, profile);
  const by = Object.fromEntries(s.map((x) => [x.name, x]));

  it('builds the eight strategies of the benchmark, in order', () => {
    expect(s.map((x) => x.name)).toEqual([...STRATEGY_NAMES]);
  });

  it('gives Neurosurgeon only the unpruned model, whole tensors as float32 without a coder, the unpruned model’s accuracy', () => {
    const splits = by.neurosurgeon?.rows.filter((r) => r.kind === 'split') ?? [];
    expect(splits.map((r) => r.point)).toEqual([1, 2, 3, 4, 5]);
    const full = profile.rows.find((r) => r.kind === 'edge-only' && r.variant === 0);
    for (const r of splits) {
      expect([r.variant, r.variantId, r.keep, r.bits, r.coder, r.quantScope, r.bottleneck, r.synthesized]).toEqual([
        0,
        'r000',
        1,
        32,
        'none',
        'channel',
        false,
        true,
      ]);
      // lossless: the unpruned model's own accuracy
      expect([r.valAccuracy, r.testAccuracy]).toEqual([full?.valAccuracy, full?.testAccuracy]);
      // the encode priced as the 8-bit uncoded encode of the same tensor
      expect(r.encodePayloadBytes).toBe(uncodedFeatureBytes(model.manifest, r.point, 0, 1, 8, 'tensor'));
    }
    expect(by.neurosurgeon?.rows.some((r) => r.kind === 'cloud-only' && r.coder === 'raw')).toBe(true);
    expect(by.neurosurgeon?.approximation).toBeUndefined();
    expect(by.neurosurgeon?.description).toMatch(/float32/);
    expect(by.neurosurgeon?.coldAware).toBe(false);
  });

  it('computes the float32 payload size exactly: the frame of C x H x W binary32 values of one image', () => {
    const splits = by.neurosurgeon?.rows.filter((r) => r.kind === 'split') ?? [];
    const v0 = model.manifest.variants.find((v) => v.pruneRatio === 0);
    if (!v0) throw new Error('no unpruned variant');
    for (const r of splits) {
      const [c, h, w] = featureDims(v0, r.point);
      const frame = float32Frame(r.point, 1);
      expect(peekHeader(frame)).toMatchObject({ bits: 32, bodyBytes: 4 * c * h * w, hasBitmap: false });
      expect(r.meanPayloadBytes).toBe(frame.length);
      // 4 bytes per value (the profile's float32 figure of the point) and a 24-byte header
      expect(r.meanPayloadBytes).toBe(4 * c * h * w + 24);
    }
    expect(splits.map((r) => r.meanPayloadBytes)).toEqual([32792, 16408, 8216, 4120, 1048]);
    // per channel, the 8-bit ranges alone would outweigh the float32 tensor at point 5
    expect(uncodedFeatureBytes(model.manifest, 5, 0, 1, 8, 'channel')).toBeGreaterThan(1048);
  });

  it('gives JMDC-as-published 6-bit uncoded rows of every variant and ours every row with cold-start awareness', () => {
    const splits = by.jmdcPublished?.rows.filter((r) => r.kind === 'split') ?? [];
    expect(splits.length).toBeGreaterThan(10);
    expect(new Set(splits.map((r) => `${r.bits} ${r.coder}`))).toEqual(new Set(['6 none']));
    expect(new Set(splits.map((r) => r.variant)).size).toBeGreaterThan(1);
    expect(by.jmdc?.rows.length).toBe(profile.rows.length);
    expect([by.jmdc?.coldAware, by.jmdc?.warmUp]).toEqual([true, true]);
    const quiet = by.jmdc ? quietVariant(by.jmdc) : undefined;
    expect([quiet?.key, quiet?.warmUp, quiet?.explore, quiet?.coldAware, quiet?.rows.length]).toEqual([
      'jmdcQuiet',
      false,
      false,
      true,
      profile.rows.length,
    ]);
  });

  it('restricts edge-only pruned to variants within the floor, and cloud-only raw to one raw row of the exact size', () => {
    const floor = benchFloor(profile);
    for (const r of by.edgeOnlyPruned?.rows ?? []) expect(r.valAccuracy).toBeGreaterThanOrEqual(floor);
    expect(by.cloudOnlyRaw?.rows.map(rowKey)).toEqual(['cloud raw']);
    expect(by.cloudOnlyRaw?.rows[0]?.meanPayloadBytes).toBe(rawPayloadBytes(model.manifest.input.sourceShape));
    expect(rawPayloadBytes(model.manifest.input.sourceShape)).toBeGreaterThan(784);
  });
});

describe('strategies with learned-bottleneck rows (tiny fixture)', () => {
  const tiny = loadModel(join(import.meta.dirname, '..', '..', '..', '..', 'test', 'fixtures', 'models', 'tiny-vgg11'));
  const split = (o: Partial<ProfileRow>): ProfileRow => ({
    kind: 'split',
    point: 2,
    variant: 0,
    keep: 1,
    bits: 8,
    coder: 'rans',
    quantScope: 'channel',
    valAccuracy: 0.92,
    testAccuracy: 0.92,
    meanPayloadBytes: 300,
    float32FeatureBytes: 2048,
    headMacs: 0,
    tailMacs: 0,
    ...o,
  });
  const p = normalizeProfile(
    {
      model: tiny.manifest.id,
      hash: tiny.manifest.hash,
      fullModel: { val: 0.92, test: 0.92 },
      rows: [
        split({ kind: 'cloud-only', point: 0, coder: 'png', meanPayloadBytes: 600 }),
        split({}),
        split({ bottleneck: true, meanPayloadBytes: 100 }),
        split({ bottleneck: true, bits: 6, meanPayloadBytes: 80 }),
        split({ bits: 6, meanPayloadBytes: 250 }),
      ],
      timings: {
        device: 'test',
        headMs: { r000: [1, 2, 3, 4, 5], r050: [1, 2, 3, 4, 5] },
        tailMs: { r000: [6, 5, 4, 3, 2, 1], r050: [6, 5, 4, 3, 2, 1] },
        fullMs: { r000: 6, r050: 3 },
        encodeMs: 0.1,
        decodeMs: 0.1,
      },
    },
    { manifest: tiny.manifest },
  );
  const by = Object.fromEntries(buildStrategies(tiny.manifest, p).map((x) => [x.name, x]));

  it('the baselines split the network’s own features; jmdc may use the bottleneck rows', () => {
    for (const name of ['neurosurgeon', 'jalad', 'jmdcPublished']) {
      const rows = by[name]?.rows ?? [];
      expect(rows.some((r) => r.kind === 'split')).toBe(true);
      expect(rows.some((r) => r.bottleneck)).toBe(false);
    }
    expect(by.jmdc?.rows.filter((r) => r.bottleneck)).toHaveLength(2);
  });

  it('rowKey tells a bottleneck row from the plain row of the same setting', () => {
    const keys = p.rows.filter((r) => r.kind === 'split' && r.bits === 8).map(rowKey);
    expect(keys).toEqual(['p2 r000 k1 b8 rans channel', 'p2 r000 k1 b8 rans channel bn']);
    // a decision carries the flag the same way
    const d = { kind: 'split', point: 2, variant: 0, keep: 1, bits: 8, coder: 'rans', bottleneck: true } as const;
    expect(rowKey({ ...d, quantScope: 'channel' })).toBe('p2 r000 k1 b8 rans channel bn');
  });
});

describe('summary', () => {
  const rowsByKey = new Map(profile.rows.map((r) => [rowKey(r), r]));
  const cell = { uplinkMbps: 1, rttMs: 40, device: 'host', batch: 1, state: 'warm' as const };

  it('computes medians, p95, bytes and accuracy of a strategy from its records', () => {
    const s = statsOf([rec('x', 10), rec('x', 30, { correct: false }), rec('x', 20)]);
    expect(s).toMatchObject({ medianMs: 20, p95Ms: 29, bytes: 0, accuracy: 0.6667, requests: 3, errors: 0 });
    expect(s.predictedMedianMs).toBe(22);
    // the parts of the request time: edge half of each, planning 0.1, the rest the remainder
    expect(s.parts).toEqual({ waitMs: 0, planMs: 0.1, edgeMs: 10, otherMs: 9.9 });
    // records of a client without those timings give no parts
    const old = rec('x', 10);
    const { waitMs: _w, planMs: _p, ...timings } = old.result?.timings ?? { waitMs: 0, planMs: 0 };
    expect(statsOf([{ ...old, result: { ...old.result, timings } } as typeof old]).parts).toBeUndefined();
  });

  it('takes ratios of medians and the oracle as the fastest measured fixed row within the floor', () => {
    const records = [
      ...[10, 12, 14].map((t) => rec('jmdc', t, { edge: true })),
      ...[20, 20, 20].map((t) => rec('neurosurgeon', t, { edge: true })),
      ...[16, 16, 16].map((t) => rec('edgeOnlyFull', t, { edge: true })),
      ...[40, 50, 60].map((t) => rec('cloudOnlyPng', t, { bytes: 600 })),
      ...[8, 8, 8].map((t) => rec('fixed:edge r075', t, { edge: true })),
    ];
    const c = summarizeCell(cell, records, {
      strategies: ['jmdc', 'neurosurgeon', 'edgeOnlyFull', 'cloudOnlyPng'],
      fixedOf: new Map([
        ['edge r000', 'edgeOnlyFull'],
        ['cloud png', 'cloudOnlyPng'],
      ]),
      rowsByKey,
      floor: benchFloor(profile),
    });
    // edge r075 is below the floor: not the oracle; the fastest within it is edge r000 (16 ms)
    expect(c.oracleDecision).toBe('edge r000');
    expect(c.oracleCandidates).toEqual([
      { row: 'edge r000', medianMs: 16 },
      { row: 'cloud png', medianMs: 50 },
    ]);
    expect(c.ratios).toEqual({ oursOverNeurosurgeon: 0.6, oursOverBestSingle: 0.75, oursOverOracle: 0.75 });
    expect(c.bestSingle).toBe('edgeOnlyFull');
    expect(c.strategies.cloudOnlyPng?.bytes).toBe(600);
    expect(c.decision).toBe('edge r000');
    const table = cellTable([c]).split('\n');
    expect(table).toHaveLength(3);
    expect(table[2]).toMatch(
      /^\| host \| 1 \| 40 \| 1 \| warm \| 16\.0 \| - \| - \| 50\.0 \| 20\.0 \| - \| - \| 12\.0 \| 16\.0 \| edge r000 \| edge r000 \| 0\.6 \| 0\.75 \| 0\.75 \| 0 \|$/,
    );
    const g = checkGoals([c]);
    expect(g).toMatchObject({ cells: 1, withinBestSingle: 1, withinOracle: 1, notSlowerThanNeurosurgeon: 1 });
    expect(g.geomeanOursOverNeurosurgeonAtOrBelow1Mbps).toBe(0.6);
  });

  it('pools the accuracy over the images of every cell, weighted by the images each measured', () => {
    const at = (batch: number, requests: number, ours: number, full: number) =>
      ({
        ...cell,
        batch,
        strategies: {
          jmdc: { ...statsOf([]), requests, accuracy: ours },
          edgeOnlyFull: { ...statsOf([]), requests, accuracy: full },
        },
      }) as unknown as CellSummary;
    // 30 images at 0.9 / 0.9, 160 images at 0.95 / 0.96
    const p = pooledAccuracy([at(1, 30, 0.9, 0.9), at(16, 10, 0.95, 0.96)]);
    expect(p.images).toBe(190);
    expect(p.ours).toBeCloseTo((27 + 152) / 190, 4);
    expect(p.full).toBeCloseTo((27 + 153.6) / 190, 4);
    expect(p.lossPoints).toBeCloseTo((100 * 1.6) / 190, 2);
  });
});

describe('the step trace', () => {
  const rowsByKey = new Map(profile.rows.map((r) => [rowKey(r), r]));
  const floor = benchFloor(profile);

  it("is the demo's scenario, its phases laid over the rounds by the demo's fractions", () => {
    expect(tracePhases('demo', 5000)).toEqual(defaultScenario(5000));
    const plan = traceSchedule(tracePhases('demo', 25_000), 10);
    expect(plan.map((p) => [p.label, p.fromRound, p.rounds, p.idleBeforeMs])).toEqual([
      ['Wi-Fi', 0, 2, 0],
      ['3G', 2, 2, 0],
      ['NB-IoT', 4, 2, 0],
      ['Wi-Fi after 25 s idle', 6, 4, 25_000],
    ]);
    expect(plan.map((p) => [p.conditions, p.uplinkMbps, p.rttMs])).toEqual([
      ['wifi', 12.8, 10],
      ['3g', 1.4, 150],
      ['nbiot', 0.025, 300],
      ['wifi', 12.8, 10],
    ]);
    for (const rounds of [4, 7, 40]) {
      const p = traceSchedule(tracePhases('demo', 1000), rounds);
      expect(
        p.reduce((a, x) => a + x.rounds, 0),
        `${rounds}`,
      ).toBe(rounds);
      expect(Math.min(...p.map((x) => x.rounds)), `${rounds}`).toBeGreaterThanOrEqual(1);
    }
    expect(traceSchedule(tracePhases('demo', 1000), 40).map((p) => p.rounds)).toEqual([8, 8, 8, 16]);
  });

  it("keeps the demo's idle timeout below the gap (20 s for 25 s), and reaps nothing without a gap", () => {
    expect(traceIdleTimeoutMs(25_000)).toBe(DEFAULT_IDLE_TIMEOUT_MS);
    expect(traceIdleTimeoutMs(5000)).toBe(4000);
    expect(traceIdleTimeoutMs(0)).toBe(3_600_000);
  });

  it('warms every function with one fixed client per point (a cloud-only row at point 0, a plain split elsewhere)', () => {
    const specs = functionWarmupSpecs([2, 0, 1, 2, 5], rowsByKey.values());
    expect(specs.map((s) => s.key)).toEqual(['warm:p0', 'warm:p1', 'warm:p2', 'warm:p5']);
    expect(specs[0]?.rows[0]?.kind).toBe('cloud-only');
    specs.slice(1).forEach((s, i) => {
      expect(s.rows).toHaveLength(1);
      expect([s.rows[0]?.kind, s.rows[0]?.point, s.rows[0]?.bottleneck ?? false]).toEqual([
        'split',
        [1, 2, 5][i],
        false,
      ]);
      expect([s.coldAware, s.warmUp]).toEqual([false, false]);
    });
  });

  it("takes the oracle's candidates from the rows chosen and the Pareto rows, within the floor, not the single strategies' rows", () => {
    const strategies = buildStrategies(model.manifest, profile);
    const pareto = paretoRows(profile, floor, 2);
    const below = profile.rows.find((r) => r.kind === 'edge-only' && r.valAccuracy < floor);
    const split = pareto[0];
    if (!below || !split) throw new Error('fixture rows missing');
    const d = (r: typeof split): Decision => ({ ...r, quantScope: r.quantScope }) as Decision;
    const records = [
      rec('jmdc', 5, { decision: d(below) }),
      rec('jalad', 5, { decision: d(split) }),
      rec('neurosurgeon', 5, { edge: true }),
    ];
    const { fixedOf, extra } = oracleCandidates(strategies, records, pareto, rowsByKey, floor);
    expect([...fixedOf.values()].sort()).toEqual(['cloudOnlyPng', 'cloudOnlyRaw', 'edgeOnlyFull', 'edgeOnlyPruned']);
    const keys = extra.map((s) => s.key);
    expect(keys).toContain(`fixed:${rowKey(split)}`);
    expect(keys).not.toContain(`fixed:${rowKey(below)}`);
    // edge r000 is edge-only full's own row: measured with that strategy, not again
    expect(keys).not.toContain('fixed:edge r000');
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('summarizes per phase and over the whole trace: per-phase and whole-trace oracles, ratios, decisions, goals', () => {
    const plan = traceSchedule(tracePhases('demo', 25_000), 4).slice(0, 2);
    const at = (phase: number, r: CellRecord): TraceRecord => ({ ...r, phase });
    const png = { kind: 'cloud-only', point: 0, variant: 0, keep: 1, bits: 8, coder: 'png' } as Decision;
    const records: TraceRecord[] = [
      // phase 0 (fast link): the cloud wins; jmdc goes there after one request on the device
      ...[20, 22].map((t) => at(0, rec('edgeOnlyFull', t, { edge: true }))),
      ...[10, 12].map((t) => at(0, rec('cloudOnlyPng', t, { bytes: 300 }))),
      ...[30, 30].map((t) => at(0, rec('neurosurgeon', t, { edge: true }))),
      at(0, rec('jmdc', 21, { edge: true })),
      at(0, rec('jmdc', 11, { decision: png, bytes: 300 })),
      // phase 1 (thin link): the device wins; jmdc stays there
      ...[21, 21].map((t) => at(1, rec('edgeOnlyFull', t, { edge: true }))),
      ...[200, 220].map((t) => at(1, rec('cloudOnlyPng', t, { bytes: 300 }))),
      ...[25, 25].map((t) => at(1, rec('neurosurgeon', t, { edge: true }))),
      ...[19, 21].map((t) => at(1, rec('jmdc', t, { edge: true, correct: t === 19 }))),
    ];
    const t = summarizeTrace(
      {
        name: 'demo',
        device: 'pi-zero2',
        batch: 1,
        rounds: 4,
        gapMs: 25_000,
        idleTimeoutMs: 20_000,
        localCloud: { invocations: 9, coldStarts: 2, throttles: 0 },
      },
      plan,
      records,
      {
        strategies: ['edgeOnlyFull', 'cloudOnlyPng', 'neurosurgeon', 'jmdc'],
        fixedOf: new Map([
          ['edge r000', 'edgeOnlyFull'],
          ['cloud png', 'cloudOnlyPng'],
        ]),
        rowsByKey,
        floor,
      },
    );
    const [p0, p1] = t.phases;
    expect(p0).toMatchObject({ label: 'Wi-Fi', uplinkMbps: 12.8, rttMs: 10, fromRound: 0, rounds: 1 });
    expect(p0?.oursDecisions).toEqual({ 'edge r000': 1, 'cloud png': 1 });
    expect(p1?.oursDecisions).toEqual({ 'edge r000': 2 });
    // per phase the fastest fixed row of that phase; over the trace the one fastest over all requests
    expect([p0?.oracleDecision, p1?.oracleDecision, t.overall.oracleDecision]).toEqual([
      'cloud png',
      'edge r000',
      'edge r000',
    ]);
    expect(p0?.ratios).toEqual({ oursOverNeurosurgeon: 0.533, oursOverBestSingle: 1.455, oursOverOracle: 1.455 });
    expect(p1?.ratios).toEqual({ oursOverNeurosurgeon: 0.8, oursOverBestSingle: 0.952, oursOverOracle: 0.952 });
    expect(t.overall.strategies.jmdc).toMatchObject({ medianMs: 20, p95Ms: 21, requests: 4, bytes: 75 });
    expect(t.overall.ratios).toEqual({ oursOverNeurosurgeon: 0.727, oursOverBestSingle: 0.952, oursOverOracle: 0.952 });
    expect(t.overall.oursAccuracyLoss).toBe(25);
    expect(t.oracle).toMatch(/best fixed configuration in hindsight/);

    const g = checkGoals([], t);
    expect(g.cells).toBe(0);
    expect(g.trace).toMatchObject({
      trace: 'demo',
      device: 'pi-zero2',
      withinBestSingle: true,
      withinOracle: true,
      notSlowerThanNeurosurgeon: true,
      withinAccuracy: false,
      phases: 2,
      phasesWithinBestSingle: 1,
      phasesWithinOracle: 1,
      phasesNotSlowerThanNeurosurgeon: 2,
    });
    expect(checkGoals([]).trace).toBeNull();
    // without cells, only the trace's line
    expect(goalLines(g).split('\n')).toHaveLength(1);
    expect(goalLines(g)).toMatch(/under the step trace \(demo, pi-zero2\).*best single 0\.952 \(<= 1\.05: yes\)/);

    const md = traceTables(t).split('\n');
    expect(md.filter((l) => l.startsWith('| Wi-Fi |'))).toHaveLength(4);
    const whole = md.find((l) => l.startsWith('| whole trace |'));
    expect(whole).toMatch(/\| edge r000 3, cloud png 1 \| edge r000 \| 0\.727 \| 0\.952 \| 0\.952 \| 25 \|$/);
    const brief = traceBrief(t) as { phases: { phase: string; decisions: object }[]; overall: { medians: object } };
    expect(brief.phases.map((p) => p.phase)).toEqual(['Wi-Fi', '3G']);
    expect(brief.overall.medians).toMatchObject({ jmdc: 20, oracle: 21 });
  });

  it('parses the trace flags: demo by default in the full run, none with --quick or --endpoints; bad combinations are usage errors', async () => {
    expect(usage).toMatch(/--trace demo\|none/);
    expect(usage).toMatch(/--trace-only/);
    for (const argv of [
      ['--trace', 'lte'],
      ['--trace', 'none', '--trace-device', 'host'],
      ['--quick', '--trace-requests', '8'],
      ['--trace-only', '--trace', 'none'],
      ['--trace-only', '--devices', 'host'],
      ['--trace-only', '--trace-requests', '3'],
      ['--trace-only', '--trace-gap-ms', '500'],
      ['--trace-only', '--trace-device', 'pi9'],
      ['--endpoints', 'e.json', '--link', '5,40', '--trace', 'demo'],
      ['--resume', join(tmpdir(), 'no-such-bench.json')],
      ['--threads', '0'],
    ]) {
      await expect(benchCli(argv), argv.join(' ')).rejects.toBeInstanceOf(UsageError);
    }
  });
});

describe('the order of a round', () => {
  it("is a permutation that neither fixes the first strategy nor any strategy's predecessor, the same in every run", () => {
    const keys = [...STRATEGY_NAMES];
    const first = new Map<string, number>();
    const after = new Map<string, number>();
    for (let r = 0; r < 30; r++) {
      const o = roundOrder(keys, r);
      expect([...o].sort()).toEqual([...keys].sort());
      expect(roundOrder(keys, r)).toEqual(o);
      first.set(o[0] as string, (first.get(o[0] as string) ?? 0) + 1);
      o.forEach((k, i) => {
        if (i > 0) after.set(`${o[i - 1]}>${k}`, (after.get(`${o[i - 1]}>${k}`) ?? 0) + 1);
      });
    }
    // a rotation by one put jmdc after jmdcPublished in 27 of 30 rounds (and every strategy after one other);
    // in a uniform shuffle a given pair is adjacent in a round with probability 1/9, about 3 of 30 rounds
    expect(Math.max(...after.values())).toBeLessThanOrEqual(10);
    expect(after.get('jmdcPublished>jmdc') ?? 0).toBeLessThanOrEqual(10);
    expect(first.size).toBeGreaterThanOrEqual(5);
    expect(roundOrder(keys, 1)).not.toEqual(roundOrder(keys, 2));
  });
});

describe("a run's machine", () => {
  it("names the CPU's family, model and widest vector instructions, which decide what a share of its core runs", () => {
    const zen4 =
      'processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 avx512f avx512bw\n';
    expect(cpuDetail(zen4)).toBe('family 25 model 17, avx512f');
    const zen3 = 'cpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 fma\n';
    expect(cpuDetail(zen3)).toBe('family 25 model 1, avx2');
    const pi4 = 'processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n';
    expect(cpuDetail(pi4)).toBe('part 0xd08, asimd');
    expect(cpuDetail('')).toBeUndefined();
  });
});

describe("a device's progress line", () => {
  it('says how long the cells left take at the mean cell time so far, and nothing after the last cell', () => {
    expect(timeLeftText([500_000, 540_000], 13, 'pi4')).toBe('; about 1 h 53 min left on pi4 (13 cells)');
    expect(timeLeftText([30_000], 1, 'host')).toBe('; about 30 s left on host (1 cell)');
    expect(timeLeftText([300_000, 240_000], 4, 'pi-zero2')).toBe('; about 18 min left on pi-zero2 (4 cells)');
    expect(timeLeftText([500_000], 0, 'pi4')).toBe('');
    expect(timeLeftText([], 3, 'pi4')).toBe('');
  });
});

describe('charts of a matrix with several batches and states', () => {
  const cell = (uplinkMbps: number, batch: number, state: 'warm' | 'cold', decision: string): CellSummary =>
    ({
      device: 'pi4',
      uplinkMbps,
      rttMs: 40,
      batch,
      state,
      decision,
      oracleDecision: 'cloud raw',
      ratios: { oursOverNeurosurgeon: 1, oursOverBestSingle: 1, oursOverOracle: 1.02 },
      strategies: {
        jmdc: { medianMs: 100 * batch + uplinkMbps, predictedMedianMs: 90 },
        cloudOnlyRaw: { medianMs: 120 * batch, predictedMedianMs: 0 },
      },
    }) as unknown as CellSummary;
  const cells = [
    cell(1, 16, 'cold', 'edge r025'),
    cell(5, 16, 'cold', 'edge r025'),
    cell(1, 1, 'cold', 'edge r025'),
    cell(1, 16, 'warm', 'cloud raw'),
    cell(5, 16, 'warm', 'cloud raw'),
  ];

  it('draws every slice of a device: the main one (warm, smallest batch) under the plain name, the others named by batch and state', () => {
    expect(viewsOf(cells, 'pi4')).toEqual([
      { batch: 16, state: 'warm' },
      { batch: 1, state: 'cold' },
      { batch: 16, state: 'cold' },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-charts-'));
    try {
      const files = writeCharts(dir, { cells, deviceEmulation: [] }).map((f) => f.slice(f.lastIndexOf('/') + 1));
      expect(files.sort()).toEqual([
        'bench-decisions-pi4-b1-cold.svg',
        'bench-decisions-pi4-b16-cold.svg',
        'bench-decisions-pi4.svg',
        'bench-latency-pi4-b1-cold.svg',
        'bench-latency-pi4-b16-cold.svg',
        'bench-latency-pi4.svg',
        'bench-predicted.svg',
      ]);
      const main = readFileSync(join(dir, 'bench-decisions-pi4.svg'), 'utf8');
      expect(main).toContain('batch 16, warm');
      expect(main).toContain('cloud raw');
      expect(main).not.toContain('edge r025');
      const cold = readFileSync(join(dir, 'bench-decisions-pi4-b16-cold.svg'), 'utf8');
      expect(cold).toContain('batch 16, cold');
      expect(cold).toContain('edge r025');
      expect(readFileSync(join(dir, 'bench-latency-pi4-b16-cold.svg'), 'utf8')).toContain('batch 16, cold');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--resume over several runs', () => {
  const cell = (device: string, uplinkMbps: number, state: 'warm' | 'cold') => ({
    device,
    uplinkMbps,
    rttMs: 40,
    batch: 1,
    state,
    strategies: { jmdc: { medianMs: 10 } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'jmdc-resume-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, run: object): string => {
    const f = join(dir, name);
    writeFileSync(f, JSON.stringify(run));
    return f;
  };

  it("merges the cells of runs side by side and keeps each run's machine and device emulation with them", () => {
    const a = write('a.json', {
      machine: { cores: 2 },
      deviceEmulation: [{ device: 'pi4', fullMs: { r000: 70 } }],
      wallMs: 1000,
      cells: [cell('pi4', 1, 'cold'), cell('pi4', 5, 'cold')],
    });
    const nested = [{ file: 'x.json', cells: 1, deviceEmulation: [{ device: 'pi-zero2' }] }];
    const b = write('b.json', { partial: true, resumedFrom: nested, cells: [cell('pi-zero2', 1, 'cold')] });
    const r = readRuns([a, b]);
    expect(r.cells.map((c) => `${c.device}/${c.uplinkMbps}`)).toEqual(['pi4/1', 'pi4/5', 'pi-zero2/1']);
    expect(r.from).toEqual([
      {
        file: 'a.json',
        cells: 2,
        machine: { cores: 2 },
        deviceEmulation: [{ device: 'pi4', fullMs: { r000: 70 } }],
        wallMs: 1000,
      },
      // a file that resumed others keeps their emulation with it
      { file: 'b.json', cells: 1, resumedFrom: nested },
    ]);
  });

  it('--report writes the runs as one without measuring: matrix order, every file in resumedFrom, the last trace, the goals', async () => {
    const full = (device: string, uplinkMbps: number, state: 'warm' | 'cold') => ({
      ...cell(device, uplinkMbps, state),
      ratios: { oursOverNeurosurgeon: 0.5, oursOverBestSingle: 1, oursOverOracle: 1.2 },
      oursAccuracyLoss: 0,
      oursPredictionError: 0.1,
      decision: 'edge r025',
      oracleDecision: 'edge r025',
    });
    // a trace as a full run writes it: the committed warm batch-1 run's
    const committed = new URL('../../../../docs/data/bench/warm-b1-probes.json', import.meta.url);
    const trace = (JSON.parse(readFileSync(committed, 'utf8')) as BenchRun).trace;
    if (!trace) throw new Error('the committed run has no trace');
    const a = write('r1.json', {
      strategies: [{ name: 'jmdc', description: 'ours', rows: 3 }],
      floor: 0.9,
      trace,
      cells: [full('pi-zero2', 1, 'warm'), full('pi4', 5, 'cold')],
    });
    const b = write('r2.json', {
      partial: true,
      deviceEmulation: [{ device: 'pi4' }],
      cells: [full('pi4', 1, 'cold'), full('pi4', 1, 'warm')],
    });
    const out = join(dir, 'report.json');
    const log = console.log;
    console.log = () => {};
    try {
      expect(await benchCli(['--resume', `${a},${b}`, '--report', '--json', out, '--no-svg'])).toBe(0);
    } finally {
      console.log = log;
    }
    const r = JSON.parse(readFileSync(out, 'utf8')) as BenchRun & { goals: ReturnType<typeof checkGoals> };
    expect(r.cells.map((c) => `${c.device} ${c.state} ${c.uplinkMbps}`)).toEqual([
      'pi4 warm 1',
      'pi4 cold 1',
      'pi4 cold 5',
      'pi-zero2 warm 1',
    ]);
    expect(r.resumedCells).toBe(4);
    expect(r.resumedFrom?.map((x) => [x.file, x.cells])).toEqual([
      ['r1.json', 2],
      ['r2.json', 2],
    ]);
    expect(r.deviceEmulation).toEqual([]);
    expect(r.localCloud).toBeNull();
    expect(r.floor).toBe(0.9);
    expect(r.trace).toEqual(trace);
    expect(r.goals).toMatchObject({ cells: 4, withinOracle: 0 });
    expect(r.goals.trace).toEqual(checkGoals([], trace).trace);
    expect(r.goals.trace).toEqual(checkGoals([], trace).trace);
  });

  it('--report needs --resume and measures nothing', async () => {
    for (const argv of [['--report'], ['--report', '--resume', 'x.json', '--quick']]) {
      await expect(benchCli(argv), argv.join(' ')).rejects.toBeInstanceOf(UsageError);
    }
  });

  it('refuses a cell measured in two runs, and a file without cells', () => {
    const a = write('c.json', { cells: [cell('pi4', 1, 'cold')] });
    const b = write('d.json', { cells: [cell('pi4', 1, 'warm'), cell('pi4', 1, 'cold')] });
    expect(() => readRuns([a, b])).toThrow(/pi4 1 Mbit\/s 40 ms batch 1 cold is in both .*c\.json and .*d\.json/);
    expect(() => readRuns([a, write('e.json', { cells: [{ device: 'pi4' }] })])).toThrow(UsageError);
    expect(() => readRuns([join(dir, 'missing.json')])).toThrow(UsageError);
  });
});

describe('Neurosurgeon’s float32 rows through the client, the local cloud and the tail functions', () => {
  it('classifies with each point’s float32 row as the bench worker’s client does: exact frames, the whole network’s classes', async () => {
    const ns = buildStrategies(model.manifest, profile).find((x) => x.name === 'neurosurgeon');
    const splits = ns?.rows.filter((r) => r.kind === 'split') ?? [];
    const golden = JSON.parse(readFileSync(join(model.dir, 'golden.json'), 'utf8')) as {
      images: number[][];
      logits: Record<string, number[][]>;
    };
    const images = golden.images.slice(0, 2).map((im) => Uint8Array.from(im));
    const whole = argmaxRows(Float32Array.from(golden.logits.r000!.slice(0, 2).flat()), model.manifest.classes.length);
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-bench-f32-'));
    const cloud = await startLocalCloud({ model: 'fmnist-vgg16', points: splits.map((r) => r.point) });
    try {
      const endpoints = join(dir, 'endpoints.json');
      writeFileSync(endpoints, JSON.stringify(cloud.endpoints));
      for (const row of splits) {
        // the options of benchWorker's makeClient for a fixed row (an oracle candidate)
        const spec = fixedSpec(row);
        const client = await JmdcClient.create({
          model: 'fmnist-vgg16',
          endpoints,
          transport: 'url',
          region: LOCAL_REGION,
          credentials: LOCAL_CREDENTIALS,
          threads: 1,
          stateFile: false,
          profile: { ...profile, rows: spec.rows },
          objective: { minimize: 'latency', minAccuracy: spec.minAccuracy },
          warmUp: false,
          explore: false,
          timeouts: { deadlineFloorMs: 20_000 },
          onWarning: () => {},
        });
        try {
          const r = await client.classify(images);
          expect(r.decision).toEqual({
            kind: 'split',
            point: row.point,
            variant: 0,
            keep: 1,
            bits: 32,
            coder: 'none',
            quantScope: 'channel',
          });
          expect([r.fallback, r.attempts], `point ${row.point}`).toEqual([false, 1]);
          // a batch of 2: one header, then 2 x C x H x W binary32 values
          expect(r.bytesSent).toBe(float32Frame(row.point, 2).length);
          expect(r.classes).toEqual(whole);
        } finally {
          await client.close();
        }
      }
      expect(cloud.stats().invocations).toBeGreaterThanOrEqual(splits.length);
    } finally {
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('runBench on one cell of this machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jmdc-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let run: BenchRun | undefined;
  /** One small cell on this machine: 5 Mbit/s, 10 ms, batch 2, warm, 2 requests. */
  const oneCell = (): BenchConfig => {
    const host = DEVICE_PRESETS.host;
    if (!host) throw new Error('no host preset');
    return {
      model: 'fmnist-vgg16',
      devices: [host],
      uplinksMbps: [5],
      rttsMs: [10],
      batches: [2],
      states: ['warm'],
      requests: 2,
      warmupRounds: 1,
      calibrationRounds: [3, 5],
      workDir: join(dir, 'work'),
      log: () => {},
    };
  };

  it('runs every strategy through the device or the cloud as it should and reports the JSON shape', async () => {
    const progress: { cells: number; devices: string[]; resumed?: string[] }[] = [];
    const earlier = [{ file: 'earlier.json', cells: 0 }];
    run = await runBench({
      ...oneCell(),
      resumedFrom: earlier,
      onCell: (cells, p) =>
        progress.push({
          cells: cells.length,
          devices: p.deviceEmulation.map((d) => d.device),
          resumed: p.resumedFrom?.map((r) => r.file),
        }),
    });
    // after each cell: the cells so far, the emulation of the device that measured them, the resumed runs
    expect(progress).toEqual([{ cells: 1, devices: ['host'], resumed: ['earlier.json'] }]);
    expect(run.resumedFrom).toEqual(earlier);
    expect(Object.keys(run.machine).sort()).toEqual([
      'arch',
      'cores',
      'cpu',
      ...(run.machine.cpuDetail ? ['cpuDetail'] : []),
      'loadavgAtStart',
      'memoryGiB',
      'node',
    ]);
    expect(run.deviceEmulation).toHaveLength(1);
    expect(run.deviceEmulation[0]).toMatchObject({ device: 'host', cpuFraction: 1, method: 'none', threads: 1 });
    expect(run.deviceEmulation[0]?.fullMs.r000).toBeGreaterThan(0);
    // the whole network on 8 images at once, for the planner's price of a batch
    expect(run.deviceEmulation[0]?.batchFullMs?.batch).toBe(8);
    expect(run.deviceEmulation[0]?.batchFullMs?.ms.r000).toBeGreaterThan(run.deviceEmulation[0]?.fullMs.r000 as number);
    // and every head, at batch 1 and at 8 images
    const em = run.deviceEmulation[0];
    expect(em?.headMs?.r000).toHaveLength(5);
    expect(em?.batchHeadMs?.batch).toBe(8);
    expect(em?.batchHeadMs?.ms.r000?.[4]).toBeGreaterThan(em?.headMs?.r000?.[4] as number);
    expect(run.cells).toHaveLength(1);
    const c = run.cells[0];
    if (!c) throw new Error('no cell');
    expect(c).toMatchObject({ uplinkMbps: 5, rttMs: 10, device: 'host', batch: 2, state: 'warm' });
    for (const name of [...STRATEGY_NAMES, 'oracle']) {
      const s = c.strategies[name];
      expect(s, name).toBeDefined();
      expect(Object.keys(s ?? {})).toEqual(expect.arrayContaining(['medianMs', 'p95Ms', 'bytes', 'accuracy']));
      expect(s?.medianMs, name).toBeGreaterThan(0);
      expect(s?.errors, name).toBe(0);
    }
    const st = c.strategies;
    // two images per request: raw is exactly twice one image's uncompressed payload minus one header's worth
    expect(st.cloudOnlyRaw?.bytes).toBeGreaterThan(2 * 784);
    expect(st.cloudOnlyPng?.bytes).toBeGreaterThan(0);
    expect(st.cloudOnlyPng?.bytes).toBeLessThan(st.cloudOnlyRaw?.bytes as number);
    expect(st.edgeOnlyFull?.bytes).toBe(0);
    expect(st.edgeOnlyPruned?.bytes).toBe(0);
    expect(Object.keys(st.edgeOnlyFull?.decisions ?? {})).toEqual(['edge r000']);
    expect(Object.keys(st.cloudOnlyRaw?.decisions ?? {})).toEqual(['cloud raw']);
    // a planner strategy that went to the cloud sent bytes, one that stayed on the device sent none
    for (const name of ['neurosurgeon', 'jalad', 'jmdcPublished', 'jmdc']) {
      const s = st[name];
      const anyCloud = Object.keys(s?.decisions ?? {}).some((k) => !k.startsWith('edge'));
      expect(s?.bytes ?? 0, name).toSatisfy((b: number) => (anyCloud ? b > 0 : b === 0));
    }
    // ratios are ratios of the medians
    const med = (k: string) => st[k]?.medianMs as number;
    const best = Math.min(med('edgeOnlyFull'), med('edgeOnlyPruned'), med('cloudOnlyRaw'), med('cloudOnlyPng'));
    expect(c.ratios.oursOverNeurosurgeon).toBeCloseTo(med('jmdc') / med('neurosurgeon'), 2);
    expect(c.ratios.oursOverBestSingle).toBeCloseTo(med('jmdc') / best, 2);
    expect(c.ratios.oursOverOracle).toBeCloseTo(med('jmdc') / med('oracle'), 2);
    expect(typeof c.decision).toBe('string');
    expect(c.oursAccuracyLoss).toBeCloseTo(
      100 * ((st.edgeOnlyFull?.accuracy as number) - (st.jmdc?.accuracy as number)),
      1,
    );
    expect(run.localCloud?.invocations).toBeGreaterThan(0);
    // jmdc's view at the end of its rounds: its estimates and its planner's prices of the chosen row first
    const v = c.jmdcView;
    const rows = v?.rows ?? [];
    expect(new Set(rows.map((r) => r.row)).size).toBe(rows.length);
    expect(rows.some((r) => r.row.startsWith('edge'))).toBe(true);
    // the chosen row is the cheapest of those shown (latency is the objective)
    expect(rows[0]?.totalMs).toBeLessThanOrEqual(Math.min(...rows.map((r) => r.totalMs)) + 1e-9);
    for (const r of v?.rows ?? []) {
      const parts = r.edgeMs + r.encodeMs + r.requestMs + r.uploadMs + r.rttMs + r.cloudMs + r.coldMs;
      expect(r.totalMs).toBeCloseTo(parts, 6);
    }
    expect(v?.warmRows.every((r) => r.coldMs === 0)).toBe(true);
    expect(v?.coldProb).toHaveLength(6);
  }, 90_000);

  it('reports the cells of an earlier run (--resume) instead of measuring them again', async () => {
    if (!run) throw new Error('the run above failed');
    const seen: number[] = [];
    const again = await runBench({
      ...oneCell(),
      done: run.cells,
      onCell: (cells) => seen.push(cells.length),
    });
    expect(again.cells).toEqual(run.cells);
    expect(again.resumedCells).toBe(1);
    expect(again.deviceEmulation).toEqual([]);
    expect(again.localCloud).toBeNull();
    expect(seen).toEqual([]);
  }, 60_000);

  it('draws the charts of a run as SVG files', () => {
    if (!run) throw new Error('the run above failed');
    const files = writeCharts(join(dir, 'img'), run);
    expect(files.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort()).toEqual([
      'bench-decisions-host.svg',
      'bench-latency-host.svg',
      'bench-predicted.svg',
    ]);
    for (const f of files) {
      expect(existsSync(f)).toBe(true);
      expect(readFileSync(f, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }
  });

  it('runs the step trace alone: fresh clients through the demo phases on a local cloud of its own', async () => {
    const host = DEVICE_PRESETS.host;
    if (!host) throw new Error('no host preset');
    const r = await runBench({
      model: 'fmnist-vgg16',
      devices: [],
      uplinksMbps: [1],
      rttsMs: [10],
      batches: [1],
      states: ['warm'],
      requests: 1,
      warmupRounds: 1,
      calibrationRounds: [3, 5],
      strategies: ['edgeOnlyPruned', 'cloudOnlyPng', 'neurosurgeon', 'jmdc'],
      trace: { name: 'demo', device: host, rounds: 10, batch: 1, gapMs: 2000, idleTimeoutMs: traceIdleTimeoutMs(2000) },
      workDir: join(dir, 'trace'),
      log: () => {},
    });
    expect(r.cells).toEqual([]);
    expect(r.localCloud).toBeNull();
    expect(r.deviceEmulation.map((d) => d.device)).toEqual(['host']);
    const t = r.trace;
    if (!t) throw new Error('no trace');
    expect(t.phases.map((p) => [p.uplinkMbps, p.rounds])).toEqual([
      [12.8, 2],
      [1.4, 2],
      [0.025, 2],
      [12.8, 4],
    ]);
    for (const p of t.phases) {
      for (const name of ['edgeOnlyPruned', 'cloudOnlyPng', 'neurosurgeon', 'jmdc']) {
        expect([p.strategies[name]?.requests, p.strategies[name]?.errors], `${p.label} ${name}`).toEqual([p.rounds, 0]);
      }
      expect(p.strategies.cloudOnlyPng?.bytes).toBeGreaterThan(0);
      expect(Object.values(p.oursDecisions).reduce((a, n) => a + n, 0)).toBe(p.rounds);
      // jmdc's view before and after the phase: the link it believed in, and its prices
      expect(p.jmdcViewAtStart?.rows.length, p.label).toBeGreaterThan(0);
      expect(p.jmdcView?.coldProb, p.label).toHaveLength(6);
    }
    // The 25 kbit/s phase holds each upload for at least its bytes' serialization time. (A comparison with the
    // first phase's latency would not do: that phase's two requests may both meet a cold start.)
    const slow = t.phases[2]?.strategies.cloudOnlyPng;
    if (!slow) throw new Error('no cloudOnlyPng in the 25 kbit/s phase');
    expect(t.phases[2]?.uplinkMbps).toBe(0.025);
    expect(slow.medianMs).toBeGreaterThanOrEqual((slow.bytes * 8) / 25);
    expect((slow.bytes * 8) / 25).toBeGreaterThan(50);
    expect(t.overall.strategies.jmdc?.requests).toBe(10);
    expect(t.overall.oracleDecision).not.toBe('');
    expect(t.overall.ratios.oursOverOracle).toBeCloseTo(
      (t.overall.strategies.jmdc?.medianMs as number) / (t.overall.strategies.oracle?.medianMs as number),
      2,
    );
    expect(t.localCloud.coldStarts).toBeGreaterThan(0);
    expect(checkGoals(r.cells, t).trace?.phases).toBe(4);
  }, 90_000);

  it('runs against deployed functions from an endpoints file (no local cloud or proxy of its own), warm cells only', async () => {
    const host = DEVICE_PRESETS.host;
    if (!host) throw new Error('no host preset');
    const cloud = await startLocalCloud({ model: 'fmnist-vgg16', points: [0] });
    try {
      const endpointsFile = join(dir, 'remote-endpoints.json');
      writeFileSync(endpointsFile, JSON.stringify(cloud.endpoints));
      const base = {
        model: 'fmnist-vgg16',
        devices: [host],
        uplinksMbps: [1, 2],
        rttsMs: [10, 20],
        batches: [1],
        requests: 1,
        warmupRounds: 1,
        calibrationRounds: [3, 5] as [number, number],
        strategies: ['edgeOnlyFull', 'cloudOnlyPng', 'jmdc'] as const,
        workDir: join(dir, 'remote'),
        log: () => {},
        remote: { endpointsFile, uplinkMbps: 3, rttMs: 7, localCredentials: true },
      };
      await expect(runBench({ ...base, strategies: [...base.strategies], states: ['cold'] })).rejects.toThrow(
        /cold cells need the local cloud/,
      );
      const r = await runBench({ ...base, strategies: [...base.strategies], states: ['warm'] });
      expect(r.localCloud).toBeNull();
      expect(r.cells.map((c) => [c.uplinkMbps, c.rttMs])).toEqual([[3, 7]]);
      expect(r.cells[0]?.strategies.cloudOnlyPng?.bytes).toBeGreaterThan(0);
      expect(r.cells[0]?.strategies.cloudOnlyPng?.errors).toBe(0);
      expect(cloud.stats().invocations).toBeGreaterThan(0);
    } finally {
      await cloud.stop();
    }
  }, 60_000);
});
