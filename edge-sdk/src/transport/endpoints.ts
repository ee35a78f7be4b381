import { existsSync, readFileSync } from 'node:fs';
import { ErrorCodes, JmdcError } from '../errors.js';

/**
 * Where the tail function of one partition point lives.
 *
 * @example
 * const e: PointEndpoint = { url: 'https://abc.lambda-url.eu-west-1.on.aws/', functionName: 'jmdc-fmnist-vgg16-p2' }
 */
export interface PointEndpoint {
  /** Function URL (for the `url` transport). */
  url?: string;
  /** Function name or ARN (for the `invoke` transport). */
  functionName?: string;
}

/**
 * The endpoints file as the deploy step writes it (`.jmdc/endpoints.json` at the repository root by
 * default: `npm run deploy -w @jmdc/cdk`).
 *
 * @example
 * const f = JSON.parse(readFileSync('.jmdc/endpoints.json', 'utf8')) as EndpointsFile // f.points['2']?.url
 */
export interface EndpointsFile {
  model?: string;
  modelHash?: string;
  region?: string;
  points: Record<string, PointEndpoint>;
}

/**
 * Where the cloud half is:
 * - a path to an endpoints file (`{ model, modelHash, region, points: { "1": { url, functionName } } }`;
 *   the deploy step writes `.jmdc/endpoints.json`),
 * - `{ localCloudUrl }`: a local cloud serving point p at `<localCloudUrl>/points/<p>` (and, for the
 *   `invoke` transport, the Lambda Invoke API at `<localCloudUrl>` with functions `jmdc-<model>-p<p>`),
 * - `{ points, region? }` or a plain map point -> `{ url?, functionName? }`.
 *
 * @example
 * const e1: EndpointsInput = '.jmdc/endpoints.json'
 * const e2: EndpointsInput = { localCloudUrl: 'http://127.0.0.1:9000' }
 * const e3: EndpointsInput = { 2: { url: 'https://abc.lambda-url.eu-west-1.on.aws/' } }
 */
export type EndpointsInput =
  | string
  | { localCloudUrl: string; functionNames?: Readonly<Record<number, string>> }
  | { points: Readonly<Record<string, PointEndpoint>>; region?: string }
  | Readonly<Record<number, PointEndpoint>>;

/**
 * Endpoints after {@link resolveEndpoints}.
 *
 * @example
 * resolveEndpoints('.jmdc/endpoints.json', ctx).points.get(2)?.url
 */
export interface ResolvedEndpoints {
  points: Map<number, PointEndpoint>;
  region?: string;
  /**
   * True for the `{ localCloudUrl }` form. It does not make unsigned requests legal by itself: see
   * `resolveSigning` / `assertSigningAllowed` (unsigned only when every host is on loopback).
   */
  local: boolean;
  /** Base URL of the local cloud (the Invoke API endpoint for the `invoke` transport). */
  localCloudUrl?: string;
  warnings: string[];
}

function invalid(msg: string): never {
  throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, msg);
}

function readPoints(points: unknown, pointCount: number, where: string): Map<number, PointEndpoint> {
  if (typeof points !== 'object' || points === null) invalid(`${where}: points must be an object`);
  const out = new Map<number, PointEndpoint>();
  for (const [k, v] of Object.entries(points)) {
    const p = Number(k);
    if (!Number.isInteger(p) || p < 0 || p > pointCount)
      invalid(`${where}: no partition point ${k} (0..${pointCount})`);
    const e = v as PointEndpoint;
    if (typeof e !== 'object' || e === null) invalid(`${where}: point ${k} must be { url?, functionName? }`);
    if (e.url !== undefined && typeof e.url !== 'string') invalid(`${where}: point ${k} url must be a string`);
    if (e.functionName !== undefined && typeof e.functionName !== 'string') {
      invalid(`${where}: point ${k} functionName must be a string`);
    }
    if (!e.url && !e.functionName) continue;
    out.set(p, { ...(e.url ? { url: e.url } : {}), ...(e.functionName ? { functionName: e.functionName } : {}) });
  }
  return out;
}

/**
 * Resolves any {@link EndpointsInput} for a model with `pointCount` partition points.
 * Throws `JMDC_ERR_INVALID_ARGUMENT` for a bad file or map, `JMDC_ERR_MODEL_MISMATCH` when an
 * endpoints file names another model.
 *
 * @example
 * const e = resolveEndpoints({ localCloudUrl: 'http://127.0.0.1:9000' }, { model: 'fmnist-vgg16', modelHash, pointCount: 5 })
 * e.points.get(2)?.url // 'http://127.0.0.1:9000/points/2'
 */
export function resolveEndpoints(
  input: EndpointsInput,
  ctx: { model: string; modelHash: string; pointCount: number },
): ResolvedEndpoints {
  const warnings: string[] = [];
  if (typeof input === 'string') {
    if (!existsSync(input)) invalid(`endpoints file ${input} not found`);
    let f: EndpointsFile;
    try {
      f = JSON.parse(readFileSync(input, 'utf8')) as EndpointsFile;
    } catch (e) {
      invalid(`endpoints file ${input}: ${(e as Error).message}`);
    }
    if (typeof f !== 'object' || f === null) invalid(`endpoints file ${input}: not an object`);
    if (f.model && f.model !== ctx.model) {
      throw new JmdcError(ErrorCodes.MODEL_MISMATCH, `${input} is for model ${f.model}, not ${ctx.model}`);
    }
    if (f.modelHash && f.modelHash !== ctx.modelHash) {
      warnings.push(`${input} was deployed for model hash ${f.modelHash}; this model is ${ctx.modelHash}`);
    }
    return {
      points: readPoints(f.points, ctx.pointCount, input),
      ...(typeof f.region === 'string' && f.region ? { region: f.region } : {}),
      local: false,
      warnings,
    };
  }
  if (typeof input !== 'object' || input === null)
    invalid('endpoints must be a path, { localCloudUrl } or a map of points');
  if ('localCloudUrl' in input) {
    let base: URL;
    try {
      base = new URL(input.localCloudUrl);
    } catch {
      invalid(`localCloudUrl is not a URL: ${String(input.localCloudUrl)}`);
    }
    const root = base.href.replace(/\/+$/, '');
    const points = new Map<number, PointEndpoint>();
    for (let p = 0; p <= ctx.pointCount; p++) {
      points.set(p, {
        url: `${root}/points/${p}`,
        functionName: input.functionNames?.[p] ?? `jmdc-${ctx.model}-p${p}`,
      });
    }
    return { points, local: true, localCloudUrl: root, warnings };
  }
  if ('points' in input && typeof input.points === 'object') {
    const region = (input as { region?: unknown }).region;
    return {
      points: readPoints(input.points, ctx.pointCount, 'endpoints'),
      ...(typeof region === 'string' ? { region } : {}),
      local: false,
      warnings,
    };
  }
  return { points: readPoints(input, ctx.pointCount, 'endpoints'), local: false, warnings };
}
