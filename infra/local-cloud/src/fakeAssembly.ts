/**
 * A small cloud assembly written by hand, for tests: the files `cdk synth` writes (manifest.json, a
 * stack template, one `asset.<id>` folder per function) around a handler module given as source.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One function of a {@link writeFakeAssembly} assembly. */
export interface FakeFunction {
  logicalId: string;
  point: number;
  /** Source of `index.mjs` (ESM, exports `handler`). */
  code: string;
  /** @default 3 */
  timeoutS?: number;
  reserved?: number;
  /** @default 'AWS_IAM' */
  authType?: 'AWS_IAM' | 'NONE';
  environment?: Record<string, string>;
  /** @default 'index.handler' */
  handler?: string;
}

/**
 * Writes the assembly into `dir` (stack `Fake`); returns `dir`.
 *
 * @example
 * writeFakeAssembly(tmp, [{ logicalId: 'Echo', point: 0, code: 'export const handler = async (e) => e' }])
 */
export function writeFakeAssembly(dir: string, fns: FakeFunction[], model = 'fake-model'): string {
  mkdirSync(dir, { recursive: true });
  const resources: Record<string, unknown> = {};
  for (const f of fns) {
    const asset = `asset.${f.logicalId.toLowerCase()}`;
    mkdirSync(join(dir, asset), { recursive: true });
    writeFileSync(join(dir, asset, 'index.mjs'), f.code);
    resources[f.logicalId] = {
      Type: 'AWS::Lambda::Function',
      Properties: {
        Architectures: ['x86_64'],
        Code: { S3Bucket: 'b', S3Key: `${f.logicalId.toLowerCase()}.zip` },
        Handler: f.handler ?? 'index.handler',
        Runtime: 'nodejs22.x',
        MemorySize: 256,
        Timeout: f.timeoutS ?? 3,
        ...(f.reserved !== undefined ? { ReservedConcurrentExecutions: f.reserved } : {}),
        Environment: { Variables: { JMDC_POINT: String(f.point), JMDC_MODEL_ID: model, ...f.environment } },
      },
      Metadata: { 'aws:asset:path': asset },
    };
    resources[`${f.logicalId}Url`] = {
      Type: 'AWS::Lambda::Url',
      Properties: { AuthType: f.authType ?? 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': [f.logicalId, 'Arn'] } },
    };
  }
  writeFileSync(
    join(dir, 'Fake.template.json'),
    JSON.stringify({
      Resources: resources,
      Outputs: { ModelId: { Value: model }, ModelHash: { Value: 'sha256:fake' } },
    }),
  );
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      version: '55.0.0',
      artifacts: {
        Fake: {
          type: 'aws:cloudformation:stack',
          properties: { templateFile: 'Fake.template.json' },
          displayName: 'Fake',
        },
      },
    }),
  );
  return dir;
}

/**
 * A handler module for tests, driven by the event (or the JSON body of a Function URL event):
 * `{ sleepMs, throw, exit, spin, echo }` (`spin` blocks the event loop for good). It answers with its cold/warm state, its init time, its pid, the
 * context and, for a URL event, the event itself.
 */
export const PROBE_HANDLER = `
import { performance } from 'node:perf_hooks';
if (process.env.PROBE_EXIT_INIT) process.exit(Number(process.env.PROBE_EXIT_INIT));
if (process.env.PROBE_FAIL_INIT) throw new RangeError(process.env.PROBE_FAIL_INIT);
await new Promise((r) => setTimeout(r, Number(process.env.PROBE_INIT_MS ?? 0)));
const initMs = Math.round(performance.now() * 1000) / 1000;
let n = 0;
export const handler = async (event, context) => {
  const coldStart = n++ === 0;
  const url = typeof event?.requestContext?.http?.method === 'string';
  let cmd = event ?? {};
  if (url) {
    const text = event.body === undefined ? '{}' : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('latin1') : event.body;
    try { cmd = JSON.parse(text); } catch { cmd = { raw: text.length }; }
  }
  if (cmd.sleepMs) await new Promise((r) => setTimeout(r, cmd.sleepMs));
  if (cmd.throw) throw new TypeError(cmd.throw);
  if (cmd.exit !== undefined) process.exit(cmd.exit);
  if (cmd.spin) for (;;) {}
  const out = {
    coldStart, initMs, pid: process.pid, requestId: context.awsRequestId, functionName: context.functionName,
    remainingMs: context.getRemainingTimeInMillis(), memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    taskRoot: process.env.LAMBDA_TASK_ROOT, echo: cmd.echo,
  };
  if (!url) return out;
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...out, event }) };
};
`;
