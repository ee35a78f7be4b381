/**
 * The device side of the benchmark, in its own process (forked by `runBench`, which puts it under a
 * CPU budget before it loads anything): calibrates once on this (emulated) device, then, per cell,
 * holds one `JmdcClient` per strategy (and per oracle candidate) and classifies the test images the
 * parent asks for. Every client reads the one calibration (copied into its own state file) and shares
 * one cache of inference sessions, so a fresh set of clients per cell costs no session loads.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  isJmdcError,
  JmdcClient,
  loadProfile,
  type NormalizedProfile,
  type PlanConditions,
  Planner,
  type Prediction,
} from '@jmdc/edge-sdk';
import { loadModel } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { loadSplit } from '../dataset.js';
import { classifyOutcome, serveParent } from '../deviceWorker.js';
import { SharedSessions } from '../sharedSessions.js';
import type { FromWorker, PlannerView, PricedRow, ToWorker, WorkerInit, WorkerResult } from './protocol.js';
import { type ClientSpec, rowKey } from './strategies.js';

function send(msg: FromWorker): void {
  process.send?.(msg);
}

/** The longest the worker lets a client's probe answer before the next request runs, ms. */
const PROBE_SETTLE_MS = 3000;

let cfg: WorkerInit | undefined;
let profile: NormalizedProfile | undefined;
let backend: SharedSessions | undefined;
let calibrationFile = '';
let images: Uint8Array | undefined;
let imageBytes = 0;
let count = 0;
let clients = new Map<string, JmdcClient>();
let specsByKey = new Map<string, ClientSpec>();
let serial = 0;

async function init(msg: WorkerInit): Promise<void> {
  cfg = msg;
  const model = loadModel(msg.model);
  profile = loadProfile(model.dir, { manifest: model.manifest });
  const split = loadSplit(model.dir, 'test', msg.images);
  images = split.images;
  imageBytes = split.imageBytes;
  count = split.count;
  backend = new SharedSessions(new OrtBackend({ intraOpThreads: msg.threads }));
  mkdirSync(msg.stateDir, { recursive: true });
  calibrationFile = join(msg.stateDir, 'calibration.json');
  // edge-only client (no endpoints): measures this device and writes the calibration file
  const cal = await JmdcClient.create({
    model: msg.model,
    threads: msg.threads,
    backend,
    stateFile: calibrationFile,
    warmUp: false,
    objective: { minimize: 'latency', minAccuracy: 0 },
    onWarning: (m) => process.stderr.write(`device: ${m}\n`),
  });
  const t0 = performance.now();
  const c = await cal.calibrate({ repetitions: msg.calibrationRounds[0], maxRepetitions: msg.calibrationRounds[1] });
  const calibrationMs = performance.now() - t0;
  await cal.close();
  send({
    type: 'ready',
    calibrationMs,
    fullMs: c.fullMs,
    headMs: c.headMs,
    ...(c.batchFullMs ? { batchFullMs: c.batchFullMs } : {}),
    ...(c.batchHeadMs ? { batchHeadMs: c.batchHeadMs } : {}),
  });
}

async function makeClient(spec: ClientSpec, endpointsFile: string | undefined): Promise<JmdcClient> {
  if (!cfg || !profile || !backend) throw new Error('clients before init');
  const stateFile = join(cfg.stateDir, `client-${serial++}.json`);
  copyFileSync(calibrationFile, stateFile);
  return JmdcClient.create({
    model: cfg.model,
    endpoints: endpointsFile ?? cfg.endpointsFile,
    transport: 'url',
    ...(cfg.region ? { region: cfg.region } : {}),
    ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
    threads: cfg.threads,
    backend,
    stateFile,
    persistIntervalMs: 3_600_000,
    profile: { ...profile, rows: spec.rows },
    objective: { minimize: 'latency', minAccuracy: spec.minAccuracy },
    warmUp: spec.warmUp,
    ...(spec.explore === false ? { explore: false as const } : {}),
    // the cloud part is waited for (a cold start is paid, not escaped by a local finish)
    timeouts: { deadlineFloorMs: 20_000 },
    // without cold-start awareness no init cost is priced: none assumed, none learned
    ...(spec.coldAware ? {} : { priors: { initMs: 0 }, bounds: { maxInitMs: 1e-6 } }),
    onWarning: (m) => {
      if (!/discarded|implausible/i.test(m)) process.stderr.write(`device (${spec.key}): ${m}\n`);
    },
  });
}

async function setClients(specs: ClientSpec[], endpointsFile: string | undefined): Promise<void> {
  const old = [...clients.values()];
  clients = new Map();
  specsByKey = new Map(specs.map((s) => [s.key, s]));
  await Promise.all(old.map((c) => c.close().catch(() => {})));
  for (const s of specs) {
    try {
      clients.set(s.key, await makeClient(s, endpointsFile));
    } catch (e) {
      // a strategy whose rows all need functions that are not deployed has nothing to run
      if (!isJmdcError(e, 'JMDC_ERR_NO_PLAN')) throw e;
      process.stderr.write(`device: ${s.key} skipped: ${(e as Error).message}\n`);
    }
  }
  send({ type: 'clientsReady', keys: [...clients.keys()] });
}

async function classify(key: string, start: number, batch: number): Promise<void> {
  const client = clients.get(key);
  if (!client || !images) throw new Error(`no client ${key}`);
  const list: Uint8Array[] = [];
  for (let i = 0; i < batch; i++) {
    const k = (start + i) % count;
    list.push(images.subarray(k * imageBytes, (k + 1) * imageBytes));
  }
  const out: WorkerResult = { type: 'result', key, ...(await classifyOutcome(client, list)) };
  // the clients take turns on one device, each seeing a call every few seconds, as an app calling at
  // that rate: there a probe's answer arrives on an idle device. Here the next client's inference
  // would hold it (an inference blocks the event loop), so the answer is let in first, untimed.
  await client.probeSettled(PROBE_SETTLE_MS);
  send(out);
}

function priced(row: string, p: Prediction): PricedRow {
  const { totalMs, edgeMs, encodeMs, requestMs, uploadMs, rttMs, cloudMs, coldMs } = p;
  return { row, totalMs, edgeMs, encodeMs, requestMs, uploadMs, rttMs, cloudMs, coldMs };
}

/**
 * The client's estimates and its planner's prices of the rows it may choose, computed by a planner
 * of the same rows, calibration and objective (the client's own is not exposed).
 */
function explain(key: string, batch: number): PlannerView | undefined {
  const client = clients.get(key);
  const spec = specsByKey.get(key);
  if (!client || !spec || !profile) return undefined;
  const cal = client.getCalibration();
  const planner = new Planner(
    { ...profile, rows: spec.rows },
    { objective: client.objective, ...(cal ? { calibration: cal } : {}) },
  );
  const st = client.stats();
  const cond = client.conditions(batch);
  const chosen = client.plan({ batch }).decision;
  const chosenKey = rowKey({ ...chosen, quantScope: chosen.quantScope ?? 'channel' });
  const rowsAt = (c: PlanConditions): PricedRow[] => {
    const best = new Map<string, PricedRow>();
    let mine: PricedRow | undefined;
    planner.rows.forEach((r, i) => {
      if (r.valAccuracy < spec.minAccuracy) return;
      const k = rowKey(r);
      const p = priced(k, planner.predict(i, c));
      if (k === chosenKey) mine = p;
      const kind = r.kind;
      const b = best.get(kind);
      if (!b || p.totalMs < b.totalMs) best.set(kind, p);
    });
    const out = mine ? [mine] : [];
    for (const p of best.values()) if (!out.some((o) => o.row === p.row)) out.push(p);
    return out;
  };
  return {
    uplinkMbps: st.uplinkMbps,
    rttMs: st.rttMs,
    bandwidthIdentified: st.bandwidthIdentified,
    linkSamples: st.linkSamples,
    coldProb: st.points.map((p) => p.coldProb),
    initMs: st.points.map((p) => p.initMs),
    cloudScale: st.points.map((p) => p.cloudScale),
    deviceScale: st.deviceScale,
    requestExtraMs: st.requestExtraMs,
    probes: st.exploration.probes,
    warmUps: st.warmUps.sent,
    rows: rowsAt(cond),
    warmRows: rowsAt({ ...cond, coldProb: 0 }),
  };
}

async function closeAll(): Promise<void> {
  await Promise.all([...clients.values()].map((c) => c.close().catch(() => {})));
  clients.clear();
  // a session that fails to release is not worth reporting at the end
  await backend?.close().catch(() => {});
}

serveParent<ToWorker>(async (msg) => {
  if (msg.type === 'init') await init(msg);
  else if (msg.type === 'clients') await setClients(msg.specs, msg.endpointsFile);
  else if (msg.type === 'classify') await classify(msg.key, msg.start, msg.batch);
  else if (msg.type === 'explain') {
    const view = explain(msg.key, msg.batch);
    send({ type: 'explained', key: msg.key, ...(view ? { view } : {}) });
  }
}, closeAll);
