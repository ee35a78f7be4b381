/**
 * The local system the demo and the benchmark run on: a local cloud with a shaping proxy in front of
 * it, and a device worker process under a CPU budget.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LocalCloud, type LocalCloudOptions, startLocalCloud } from '@jmdc/local-cloud';
import {
  type CpuBudget,
  createCpuBudget,
  type DevicePreset,
  type LinkConditions,
  type ShapingProxy,
  startShapingProxy,
} from '@jmdc/netem';
import { forkWorker } from './workerProcess.js';

/** Credentials the local cloud accepts (its LocalStack-style default); clients sign with them. */
export const LOCAL_CREDENTIALS = Object.freeze({ accessKeyId: 'test', secretAccessKey: 'test' });
/** Region clients of the local cloud sign for. */
export const LOCAL_REGION = 'us-east-1';

/** A local cloud, the shaping proxy in front of it, and the endpoints file that points through the proxy. */
export interface CloudBehindProxy {
  cloud: LocalCloud;
  proxy: ShapingProxy;
  endpointsFile: string;
}

/**
 * Starts a local cloud, a shaping proxy in front of it with `conditions`, and writes
 * `workDir/endpoints.json` with the functions' URLs through the proxy (`workDir` must exist). What
 * was started is stopped when a later step fails.
 */
export async function startCloudBehindProxy(
  cloudOpts: LocalCloudOptions,
  conditions: Partial<LinkConditions> | string,
  workDir: string,
): Promise<CloudBehindProxy> {
  const cloud = await startLocalCloud(cloudOpts);
  let proxy: ShapingProxy | undefined;
  try {
    const target = new URL(cloud.url);
    proxy = await startShapingProxy({ target: { host: target.hostname, port: Number(target.port) }, conditions });
    const endpointsFile = join(workDir, 'endpoints.json');
    writeFileSync(endpointsFile, `${JSON.stringify(cloud.endpointsAt(proxy.url), null, 2)}\n`);
    return { cloud, proxy, endpointsFile };
  } catch (e) {
    await proxy?.close().catch(() => {});
    await cloud.stop();
    throw e;
  }
}

/** A device worker and, for a preset slower than this machine, the CPU budget it runs under. */
export interface Device {
  child: ChildProcess;
  budget: CpuBudget | undefined;
  /** The budget's method and detail; `none` and undefined without a budget. */
  method: string;
  detail: string | undefined;
}

/**
 * Forks the worker at `workerPath` and, when `device.cpuFraction` < 1, puts it under a CPU budget
 * named `budgetName`. The worker is killed when the budget cannot be created.
 */
export async function startDevice(workerPath: string, device: DevicePreset, budgetName: string): Promise<Device> {
  const child = forkWorker(workerPath);
  if (device.cpuFraction >= 1) return { child, budget: undefined, method: 'none', detail: undefined };
  try {
    const budget = await createCpuBudget({ cpuFraction: device.cpuFraction, name: budgetName });
    if (child.pid !== undefined) budget.addProcess(child.pid);
    return { child, budget, method: budget.method, detail: budget.detail };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}
