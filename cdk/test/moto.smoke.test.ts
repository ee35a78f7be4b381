/**
 * Deploy smoke test against moto_server (a local AWS API emulator on the machine image): `cdk bootstrap`
 * + `cdk deploy` of the stack (tiny fixture model, points 0 and 1) through the same script as
 * `npm run deploy:local -w @jmdc/cdk`, then `GetFunction` on each function.
 *
 * What moto can and cannot show: it accepts the CloudFormation deploy and creates the functions with
 * their runtime, memory, timeout, handler, environment and code; it does NOT run function code, creates
 * no Function URLs (so the stack's outputs, which name them, come back empty), and ignores
 * `Architectures` (GetFunction reports x86_64), so arm64 is checked in the template moto deployed.
 * Invoking the deployed code needs LocalStack (localstack.e2e.test.ts) or AWS.
 *
 * Runs when moto_server is on PATH (it is started on :4566 and stopped after) or already listening
 * on localhost:4566; otherwise it says why it skipped. Takes about 25 s here (2 cores), so it is not opt-in.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  DeleteStackCommand,
  DescribeStackResourcesCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../lib/partition-function.js';
import { deployLocal, LOCAL_CREDS, TINY } from './localDeploy.js';

const ENDPOINT = 'http://localhost:4566';
const POINTS = [0, 1];
const STACK = `JmdcMotoSmoke${process.pid}`;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: 'localhost', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function isMoto(): Promise<boolean> {
  try {
    const r = await fetch(`${ENDPOINT}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

const hasBinary = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).status === 0;
const listening = await portOpen(4566);
const motoUp = listening && (await isMoto());
const skipReason = motoUp
  ? undefined
  : listening
    ? 'localhost:4566 is taken by something that is not moto_server (LocalStack? see localstack.e2e.test.ts)'
    : hasBinary
      ? undefined
      : 'moto_server is not installed (pip install "moto[server]") and nothing listens on localhost:4566';
if (skipReason) console.log(`[moto.smoke] skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('deploy to moto_server (tiny fixture, points 0 and 1)', () => {
  const manifest = readManifest(TINY);
  let moto: ChildProcess | undefined;
  let work = '';
  let deployMs = 0;
  const lambda = new LambdaClient({ endpoint: ENDPOINT, region: 'us-east-1', credentials: LOCAL_CREDS });
  const cfn = new CloudFormationClient({ endpoint: ENDPOINT, region: 'us-east-1', credentials: LOCAL_CREDS });
  const physical = new Map<number, string>();

  beforeAll(async () => {
    if (!motoUp) {
      // its own process group: moto_server is often a pyenv shim around python, and both must stop
      moto = spawn('moto_server', ['-p', '4566'], { stdio: 'ignore', detached: true });
      const t0 = Date.now();
      while (!(await isMoto())) {
        if (Date.now() - t0 > 30_000) throw new Error('moto_server did not come up on :4566 within 30 s');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    work = mkdtempSync(join(tmpdir(), 'jmdc-moto-'));
    const deployed = await deployLocal({
      endpoint: ENDPOINT,
      work,
      stack: STACK,
      points: POINTS,
      context: ['architecture=arm64'],
      timeoutMs: 300_000,
    });
    deployMs = deployed.ms;
    console.log(
      `[moto.smoke] cdk bootstrap + deploy of ${POINTS.length} functions to moto took ${(deployMs / 1000).toFixed(1)} s`,
    );
    const res = await cfn.send(new DescribeStackResourcesCommand({ StackName: STACK }));
    for (const p of POINTS) {
      const fn = res.StackResources?.find(
        (x) => x.ResourceType === 'AWS::Lambda::Function' && x.LogicalResourceId?.startsWith(`Point${p}Function`),
      );
      if (fn?.PhysicalResourceId) physical.set(p, fn.PhysicalResourceId);
    }
  }, 360_000);

  afterAll(async () => {
    if (moto?.pid) {
      const exited = once(moto, 'exit');
      process.kill(-moto.pid, 'SIGTERM');
      await exited;
    } else await cfn.send(new DeleteStackCommand({ StackName: STACK })).catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it.each(POINTS)('point %i: GetFunction shows runtime, memory, timeout, handler, environment and code', async (p) => {
    const name = physical.get(p);
    expect(name, `function of point ${p} in ${STACK}`).toBeDefined();
    const { Configuration: c, Code } = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    expect(c).toMatchObject({
      Runtime: 'nodejs22.x',
      MemorySize: 2048,
      Timeout: 15,
      Handler: 'index.handler',
      Environment: {
        Variables: expect.objectContaining({
          JMDC_POINT: String(p),
          JMDC_MODEL_HASH: manifest.hash,
          JMDC_MODEL_ID: manifest.id,
          JMDC_MODEL_DIR: '/var/task/model',
          JMDC_MAX_BATCH: '64',
        }),
      },
    });
    // the zipped bundle: onnxruntime's arm64 binary (~25 MB unzipped) is most of it
    expect(c?.CodeSize).toBeGreaterThan(5 * 2 ** 20);
    expect(c?.CodeSize).toBeLessThan(60 * 2 ** 20);
    // the code was deployed from the CDK asset bucket (an S3 key ending in the asset's .zip)
    expect(Code?.RepositoryType).toBe('S3');
    expect(Code?.Location).toMatch(/^https:\/\/\S+\.zip$/);
  });

  it('deployed arm64 functions, AWS_IAM URLs, log groups and alarms (checked in the template moto holds)', async () => {
    const { TemplateBody } = await cfn.send(new GetTemplateCommand({ StackName: STACK }));
    // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
    const t = JSON.parse(TemplateBody ?? '{}') as { Resources: Record<string, { Type: string; Properties: any }> };
    const of = (type: string) => Object.values(t.Resources).filter((r) => r.Type === type);
    expect(of('AWS::Lambda::Function').map((r) => r.Properties.Architectures)).toEqual(POINTS.map(() => ['arm64']));
    expect(of('AWS::Lambda::Url').map((r) => r.Properties.AuthType)).toEqual(POINTS.map(() => 'AWS_IAM'));
    expect(of('AWS::Logs::LogGroup')).toHaveLength(POINTS.length);
    expect(of('AWS::CloudWatch::Alarm')).toHaveLength(2 * POINTS.length);
    const res = await cfn.send(new DescribeStackResourcesCommand({ StackName: STACK }));
    const created = (type: string) =>
      res.StackResources?.filter((r) => r.ResourceType === type && r.ResourceStatus === 'CREATE_COMPLETE') ?? [];
    expect(created('AWS::Lambda::Function')).toHaveLength(POINTS.length);
    expect(created('AWS::Logs::LogGroup')).toHaveLength(POINTS.length);
    expect(created('AWS::IAM::Role')).toHaveLength(POINTS.length);
    // Function URLs, alarms (and CDK metadata) are resource types moto does not model: listed without a type
    const unmodelled = res.StackResources?.filter((r) => r.ResourceType === undefined).length ?? 0;
    expect(unmodelled).toBeGreaterThanOrEqual(POINTS.length * 3);
    const { Configuration } = await lambda.send(new GetFunctionCommand({ FunctionName: physical.get(0) }));
    console.log(
      `[moto.smoke] not checkable on moto: Architectures (it reports ${JSON.stringify(Configuration?.Architectures)}), ` +
        `${unmodelled} resources of types it does not model (Function URLs, alarms), running the code`,
    );
  });
});
