/**
 * Reads a CDK cloud assembly (the output of `cdk synth`) the way `sam local start-lambda -t` reads a
 * template: every `AWS::Lambda::Function` with its asset folder, handler, runtime, environment,
 * memory, timeout and reserved concurrency, and the auth type of its Function URL.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCloudError, LocalCloudErrorCodes } from './errors.js';

/** One function of the assembly, as the local cloud runs it. */
export interface FunctionSpec {
  /** The name the local cloud serves it under: the template's `FunctionName`, else `<stack>-<logicalId>`. */
  name: string;
  logicalId: string;
  stackName: string;
  /** Partition point (`JMDC_POINT` of its environment); -1 when it has none. */
  point: number;
  /** Absolute path of the unzipped asset folder (`LAMBDA_TASK_ROOT`). */
  assetDir: string;
  /** `index.handler`. */
  handler: string;
  runtime: string;
  architecture: string;
  memoryMb: number;
  timeoutS: number;
  /** Reserved concurrency, when the template sets one. */
  reserved?: number;
  /** The template's environment variables, verbatim. */
  environment: Record<string, string>;
  /** `AWS_IAM` or `NONE` when the function has a Function URL; undefined when it has none. */
  urlAuthType?: 'AWS_IAM' | 'NONE';
}

/** What {@link readAssembly} returns. */
export interface AssemblyInfo {
  dir: string;
  stackName: string;
  functions: FunctionSpec[];
  /** `ModelId` / `ModelHash` outputs of the stack, when present. */
  model?: string;
  modelHash?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

function invalid(message: string, details: Record<string, unknown> = {}): LocalCloudError {
  return new LocalCloudError(LocalCloudErrorCodes.ASSEMBLY_INVALID, message, details);
}

function readJson(path: string): Json {
  if (!existsSync(path)) throw invalid(`${path} does not exist`, { path });
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw invalid(`${path} is not valid JSON: ${(e as Error).message}`, { path });
  }
}

/** The logical id a `Ref` / `Fn::GetAtt [id, 'Arn']` (or an alias of it) points at. */
function targetLogicalId(value: Json, resources: Record<string, Json>): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id: unknown = value.Ref ?? (Array.isArray(value['Fn::GetAtt']) ? value['Fn::GetAtt'][0] : undefined);
  if (typeof id !== 'string') return undefined;
  const r = resources[id];
  if (r?.Type === 'AWS::Lambda::Alias') return targetLogicalId(r.Properties?.FunctionName, resources);
  return id;
}

function plainValue(value: Json): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/**
 * Reads the stacks of a cloud assembly folder. Each function's asset folder is `asset.<hash>` of its
 * `aws:asset:path` metadata, or of its `Code.S3Key`. Throws ASSEMBLY_INVALID when the folder, a template
 * or an asset is missing.
 *
 * @example
 * const { functions } = readAssembly('.jmdc/local-cloud/cdk.out-x86_64-abc123')
 * functions[0] // { name: 'Jmdc-Point0Function42F6EAE2', point: 0, assetDir: '/…/asset.da69…', … }
 */
export function readAssembly(dir: string): AssemblyInfo {
  const manifest = readJson(join(dir, 'manifest.json'));
  const stacks = Object.entries(manifest.artifacts ?? {}).filter(
    ([, a]) => (a as Json).type === 'aws:cloudformation:stack',
  ) as [string, Json][];
  if (stacks.length === 0) throw invalid(`${dir} holds no CloudFormation stack`, { dir });
  const functions: FunctionSpec[] = [];
  let info: Omit<AssemblyInfo, 'functions'> = { dir, stackName: stacks[0]![0] };
  for (const [artifactId, artifact] of stacks) {
    const stackName: string = artifact.displayName ?? artifactId;
    const template = readJson(join(dir, artifact.properties?.templateFile ?? `${artifactId}.template.json`));
    const resources: Record<string, Json> = template.Resources ?? {};
    const urls = new Map<string, 'AWS_IAM' | 'NONE'>();
    for (const r of Object.values(resources)) {
      if (r.Type !== 'AWS::Lambda::Url') continue;
      const target = targetLogicalId(r.Properties?.TargetFunctionArn, resources);
      if (target) urls.set(target, r.Properties?.AuthType === 'NONE' ? 'NONE' : 'AWS_IAM');
    }
    for (const [logicalId, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const p = r.Properties ?? {};
      const assetPath: string | undefined =
        r.Metadata?.['aws:asset:path'] ??
        (typeof p.Code?.S3Key === 'string' ? `asset.${p.Code.S3Key.replace(/\.zip$/, '')}` : undefined);
      if (!assetPath) throw invalid(`function ${logicalId} has no local asset (inline code is not supported)`);
      const assetDir = join(dir, assetPath);
      if (!existsSync(assetDir) || !statSync(assetDir).isDirectory()) {
        throw invalid(`asset folder ${assetDir} of function ${logicalId} is missing`, { logicalId, assetDir });
      }
      const environment: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.Environment?.Variables ?? {})) {
        const s = plainValue(v);
        if (s !== undefined) environment[k] = s;
      }
      const point = environment.JMDC_POINT === undefined ? -1 : Number(environment.JMDC_POINT);
      const reserved = p.ReservedConcurrentExecutions;
      functions.push({
        name: plainValue(p.FunctionName) ?? `${stackName}-${logicalId}`,
        logicalId,
        stackName,
        point: Number.isInteger(point) ? point : -1,
        assetDir,
        handler: p.Handler ?? 'index.handler',
        runtime: p.Runtime ?? 'nodejs22.x',
        architecture: p.Architectures?.[0] ?? 'x86_64',
        memoryMb: Number(p.MemorySize ?? 128),
        timeoutS: Number(p.Timeout ?? 3),
        ...(typeof reserved === 'number' ? { reserved } : {}),
        environment,
        ...(urls.has(logicalId) ? { urlAuthType: urls.get(logicalId) } : {}),
      });
    }
    const outputs = template.Outputs ?? {};
    const model = plainValue(outputs.ModelId?.Value);
    const modelHash = plainValue(outputs.ModelHash?.Value);
    if (model !== undefined) info = { ...info, stackName, model, ...(modelHash ? { modelHash } : {}) };
  }
  return { ...info, functions: functions.sort((a, b) => a.point - b.point || a.name.localeCompare(b.name)) };
}
