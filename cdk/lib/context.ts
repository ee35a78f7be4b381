import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import type { JmdcStackProps, PerPoint } from './jmdc-stack.js';
import { readManifest } from './partition-function.js';

/** What `cdk -c key=value` (or a JSON file given as `-c config=path`) can set. */
export interface AppContext {
  /** Model folder or id (looked up in `models/`). @default 'fmnist-vgg16' */
  model?: string;
  /** `0,1,2` or `[0,1,2]`. @default every point */
  points?: string | number[];
  /** `2048`, or per point `{"0":3008,"2":2048}`. @default 2048 */
  memory?: string | number | Record<string, number>;
  /** Seconds. @default 15 */
  timeout?: string | number;
  /** Reserved concurrency (number or per point). @default none */
  reserved?: string | number | Record<string, number>;
  /** Provisioned concurrency (number or per point). @default 0 */
  provisioned?: string | number | Record<string, number>;
  /** Log retention in days (a CloudWatch Logs value, e.g. 30). @default 30 */
  logRetentionDays?: string | number;
  /** `arm64` or `x86_64` (a LocalStack on an x64 host runs x86_64 functions only). @default 'arm64' */
  architecture?: string;
  /** @default 'Jmdc' */
  stackName?: string;
}

function parseJsonish(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch (e) {
      throw new Error(`context value ${value} is not valid JSON: ${(e as Error).message}`);
    }
  }
  return t;
}

function toInt(value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be an integer, got ${JSON.stringify(value)}`);
  return n;
}

/** `2048` or `{"0": 3008, "1": 2048}` -> a number or a per-point map. */
export function parsePerPoint(value: unknown, what: string): PerPoint<number> | undefined {
  const v = parseJsonish(value);
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const out: Record<number, number> = {};
    for (const [k, x] of Object.entries(v)) out[toInt(k, `${what} key`)] = toInt(x, `${what}[${k}]`);
    return out;
  }
  return toInt(v, what);
}

/** `0,1,2` or `[0,1,2]` -> [0, 1, 2]. */
export function parsePoints(value: unknown): number[] | undefined {
  const v = parseJsonish(value);
  if (v === undefined || v === '') return undefined;
  const list = Array.isArray(v) ? v : String(v).split(',');
  return list.map((x) => toInt(typeof x === 'string' ? x.trim() : x, 'points'));
}

/** Model folder from a path or id: the path if it holds a manifest, else `models/<id>` of the repository. */
export function resolveModel(model: string, repoRoot: string): string {
  const candidates = isAbsolute(model)
    ? [model]
    : [resolve(model), join(repoRoot, model), join(repoRoot, 'models', model)];
  for (const c of candidates) if (existsSync(join(c, 'manifest.json'))) return c;
  throw new Error(
    `model ${model} not found (looked in ${candidates.join(', ')}); ` +
      'pass -c model=<folder>, e.g. -c model=test/fixtures/models/tiny-vgg11',
  );
}

/**
 * Turns CDK context into stack props. `get` reads one context key (`app.node.tryGetContext`);
 * `-c config=file.json` supplies defaults for every key.
 */
export function stackPropsFromContext(
  get: (key: string) => unknown,
  repoRoot: string,
): JmdcStackProps & { stackName: string } {
  const configPath = get('config');
  const file: AppContext =
    typeof configPath === 'string' && configPath ? JSON.parse(readFileSync(resolve(configPath), 'utf8')) : {};
  const ctx = (key: keyof AppContext): unknown => get(key) ?? file[key];
  const modelDir = resolveModel(String(ctx('model') ?? 'fmnist-vgg16'), repoRoot);
  readManifest(modelDir);
  const timeout = ctx('timeout');
  const retention = ctx('logRetentionDays');
  const arch = ctx('architecture');
  if (arch !== undefined && arch !== 'arm64' && arch !== 'x86_64') {
    throw new Error(`architecture must be arm64 or x86_64, got ${JSON.stringify(arch)}`);
  }
  const props: JmdcStackProps & { stackName: string } = {
    architecture: arch === 'x86_64' ? Architecture.X86_64 : Architecture.ARM_64,
    stackName: String(ctx('stackName') ?? 'Jmdc'),
    modelDir,
    points: parsePoints(ctx('points')),
    memorySize: parsePerPoint(ctx('memory'), 'memory'),
    reservedConcurrentExecutions: parsePerPoint(ctx('reserved'), 'reserved'),
    provisionedConcurrentExecutions: parsePerPoint(ctx('provisioned'), 'provisioned'),
    timeout: timeout === undefined ? undefined : Duration.seconds(toInt(timeout, 'timeout')),
    logRetention: retention === undefined ? undefined : toInt(retention, 'logRetentionDays'),
  };
  return props;
}
