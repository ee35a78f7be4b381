import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** One deployed partition point. */
export interface EndpointEntry {
  /** Function URL (AWS_IAM auth: requests are SigV4-signed for service `lambda`). */
  url: string;
  /** Name for `Invoke` (qualified `name:live` when the function has provisioned concurrency). */
  functionName: string;
}

/** What the edge SDK reads to find the cloud half: `.jmdc/endpoints.json` by default. */
export interface EndpointsFile {
  model: string;
  modelHash: string;
  region: string;
  /** Partition point ("0", "1", ...) -> endpoint. */
  points: Record<string, EndpointEntry>;
}

/** The default place of the endpoints file: `.jmdc/endpoints.json` at the repository root. */
export const DEFAULT_ENDPOINTS_FILE = '.jmdc/endpoints.json';

type Outputs = Record<string, Record<string, string>>;

/**
 * Converts `cdk deploy --outputs-file` output (`{ [stack]: { Endpoints, ModelId, ModelHash, Region } }`)
 * to the endpoints file. `stackName` picks the stack when the file has several.
 *
 * @example
 * endpointsFromOutputs(JSON.parse(readFileSync('cdk.out/outputs.json', 'utf8')), 'Jmdc')
 */
export function endpointsFromOutputs(outputs: Outputs, stackName?: string): EndpointsFile {
  const names = Object.keys(outputs).filter((k) => outputs[k]?.Endpoints !== undefined);
  const name = stackName ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined) {
    throw new Error(`cannot tell which stack to read: ${names.length ? names.join(', ') : 'no stack with Endpoints'}`);
  }
  const o = outputs[name];
  if (!o?.Endpoints) throw new Error(`stack ${name} has no Endpoints output`);
  const raw = JSON.parse(o.Endpoints) as Record<string, Partial<EndpointEntry>>;
  const points: Record<string, EndpointEntry> = {};
  for (const [point, e] of Object.entries(raw)) {
    if (!/^\d+$/.test(point) || typeof e.functionName !== 'string') {
      throw new Error(`stack ${name}: bad Endpoints entry ${point}`);
    }
    points[point] = { url: typeof e.url === 'string' ? e.url : '', functionName: e.functionName };
  }
  return { model: o.ModelId ?? '', modelHash: o.ModelHash ?? '', region: o.Region ?? '', points };
}

/**
 * Writes an endpoints file (creating its folder).
 *
 * @example
 * saveEndpointsFile('.jmdc/endpoints.json', { model: 'tiny-vgg11', modelHash: '', region: 'us-east-1', points: {} })
 */
export function saveEndpointsFile(endpointsFile: string, file: EndpointsFile): void {
  mkdirSync(dirname(resolve(endpointsFile)), { recursive: true });
  writeFileSync(endpointsFile, `${JSON.stringify(file, null, 2)}\n`);
}

/** Reads a `--outputs-file` and writes the endpoints file; returns what it wrote. */
export function writeEndpointsFile(outputsFile: string, endpointsFile: string, stackName?: string): EndpointsFile {
  const file = endpointsFromOutputs(JSON.parse(readFileSync(outputsFile, 'utf8')) as Outputs, stackName);
  saveEndpointsFile(endpointsFile, file);
  return file;
}
