/**
 * The synthesized template of the jmdc stack: one function per partition point with the properties the
 * design asks for. Bundling is skipped here (context `aws:cdk:bundling-stacks: []`, the template is the
 * same apart from the asset hash); `bundle.test.ts` bundles for real and inspects the assets.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JmdcStack } from '../lib/jmdc-stack.js';
import { PartitionFunction, readManifest } from '../lib/partition-function.js';

const TINY = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'models', 'tiny-vgg11');
const manifest = readManifest(TINY);
const POINTS = [0, ...manifest.points.map((p) => p.point)];
const MEMORY = { 0: 3008 } as const;
const RESERVED_POINT = 1;
const PROVISIONED_POINT = POINTS[POINTS.length - 1]!;

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

let template: Template;
let json: Json;
let outdir = '';

/** Logical id of the function of `point` (the one whose environment says JMDC_POINT=point). */
function functionId(point: number): string {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(
    ([, r]) => (r as Json).Properties.Environment?.Variables?.JMDC_POINT === String(point),
  );
  expect(found, `function of point ${point}`).toHaveLength(1);
  return found[0]![0];
}

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'jmdc-stack-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new JmdcStack(app, 'JmdcTest', {
    modelDir: TINY,
    points: POINTS,
    memorySize: MEMORY,
    timeout: Duration.seconds(15),
    reservedConcurrentExecutions: { [RESERVED_POINT]: 5 },
    provisionedConcurrentExecutions: { [PROVISIONED_POINT]: 1 },
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  template = Template.fromStack(stack);
  json = template.toJSON();
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('JmdcStack template (tiny fixture, every point)', () => {
  it('has one arm64 nodejs22.x function per point with its memory, timeout and environment', () => {
    template.resourceCountIs('AWS::Lambda::Function', POINTS.length);
    for (const p of POINTS) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: p === 0 ? 3008 : 2048,
        Timeout: 15,
        LoggingConfig: { LogGroup: Match.anyValue() },
        Environment: {
          Variables: Match.objectEquals({
            JMDC_POINT: String(p),
            JMDC_MODEL_DIR: '/var/task/model',
            JMDC_MODEL_ID: manifest.id,
            JMDC_MODEL_HASH: manifest.hash,
            JMDC_THREADS: p === 0 ? '2' : '1',
            JMDC_MAX_BATCH: '64',
            JMDC_MAX_PAYLOAD_BYTES: String(6 * 1024 * 1024),
            // the tiny fixture has no profile: every variant, every bottleneck of the point
            JMDC_VARIANTS: manifest.variants.map((v) => v.id).join(','),
            JMDC_BOTTLENECKS: (manifest.bottlenecks ?? [])
              .filter((b) => b.point === p)
              .map((b) => b.id)
              .join(','),
          }),
        },
      });
    }
  });

  it('sets reserved concurrency only where asked', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    for (const p of POINTS) {
      const props = (fns[functionId(p)] as Json).Properties;
      expect(props.ReservedConcurrentExecutions).toBe(p === RESERVED_POINT ? 5 : undefined);
    }
  });

  it('gives every function a Function URL with AWS_IAM auth and no CORS', () => {
    const urls = template.findResources('AWS::Lambda::Url');
    expect(Object.keys(urls)).toHaveLength(POINTS.length);
    for (const u of Object.values(urls) as Json[]) {
      expect(u.Properties.AuthType).toBe('AWS_IAM');
      expect(u.Properties.InvokeMode).toBe('BUFFERED');
      expect(u.Properties.Cors).toBeUndefined();
    }
    for (const p of POINTS.filter((x) => x !== PROVISIONED_POINT)) {
      template.hasResourceProperties('AWS::Lambda::Url', {
        AuthType: 'AWS_IAM',
        TargetFunctionArn: { 'Fn::GetAtt': [functionId(p), 'Arn'] },
        Qualifier: Match.absent(),
      });
    }
    // no resource policy opens a URL to everyone
    for (const perm of Object.values(template.findResources('AWS::Lambda::Permission')) as Json[]) {
      expect(perm.Properties.FunctionUrlAuthType ?? 'AWS_IAM').toBe('AWS_IAM');
      expect(perm.Properties.Principal).not.toBe('*');
    }
  });

  it('puts provisioned concurrency on a live alias and points the URL at it', () => {
    template.resourceCountIs('AWS::Lambda::Alias', 1);
    template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      FunctionName: { Ref: functionId(PROVISIONED_POINT) },
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 1 },
    });
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      Qualifier: 'live',
      TargetFunctionArn: { 'Fn::GetAtt': [functionId(PROVISIONED_POINT), 'Arn'] },
    });
  });

  it('logs to one log group per function with one month retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', POINTS.length);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const fns = template.findResources('AWS::Lambda::Function');
    const groups = new Set(Object.keys(template.findResources('AWS::Logs::LogGroup')));
    for (const fn of Object.values(fns) as Json[])
      expect(groups.has(fn.Properties.LoggingConfig.LogGroup.Ref)).toBe(true);
  });

  it('alarms on Errors and Throttles of every function', () => {
    for (const p of POINTS) {
      for (const metric of ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(p) } }],
          Statistic: 'Sum',
          Threshold: 1,
          EvaluationPeriods: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        });
      }
    }
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2 * POINTS.length);
  });

  it('grants no wildcard actions and only the basic execution role', () => {
    const statements: Json[] = [];
    for (const r of Object.values(template.findResources('AWS::IAM::Role')) as Json[]) {
      expect(r.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
      for (const arn of r.Properties.ManagedPolicyArns ?? []) {
        expect(JSON.stringify(arn)).toContain('service-role/AWSLambdaBasicExecutionRole');
      }
      for (const p of r.Properties.Policies ?? []) statements.push(...p.PolicyDocument.Statement);
    }
    for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as Json[]) {
      statements.push(...p.Properties.PolicyDocument.Statement);
    }
    for (const s of statements) {
      for (const action of [s.Action].flat()) {
        expect(action).not.toBe('*');
        expect(String(action)).not.toMatch(/:\*$/);
      }
    }
  });

  it('outputs the endpoint map, model id and hash', () => {
    const out = json.Outputs;
    expect(out.ModelHash.Value).toBe(manifest.hash);
    expect(out.ModelId.Value).toBe(manifest.id);
    expect(out.Region.Value).toEqual({ Ref: 'AWS::Region' });
    const endpoints = JSON.stringify(out.Endpoints.Value);
    for (const p of POINTS) {
      expect(endpoints).toContain(`\\"${p}\\":{\\"url\\":\\"`);
      expect(endpoints).toContain(JSON.stringify({ Ref: functionId(p) }));
    }
    const urls = Object.keys(template.findResources('AWS::Lambda::Url'));
    for (const u of urls) expect(endpoints).toContain(JSON.stringify({ 'Fn::GetAtt': [u, 'FunctionUrl'] }));
  });

  it('passes cfn-lint', (ctx) => {
    const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log('[stack.test] cfn-lint is not installed: template lint skipped (pip install cfn-lint)');
      ctx.skip();
    }
    const file = join(outdir, 'lint.template.json');
    writeFileSync(file, JSON.stringify(json));
    const r = spawnSync('cfn-lint', ['--', file], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);
});

describe('PartitionFunction guards', () => {
  const app = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Guard');

  it('fails synth when the bundle would exceed its budget', () => {
    const stack = app();
    const fn = new PartitionFunction(stack, 'P0', { modelDir: TINY, point: 0, maxBundleBytes: 10 * 2 ** 20 });
    expect(fn.estimatedBundleBytes).toBeGreaterThan(10 * 2 ** 20);
    Annotations.fromStack(stack).hasError('/Guard/P0', Match.stringLikeRegexp('over the 10 MiB budget'));
  });

  it('rejects a point the model does not have and an impossible memory size', () => {
    expect(() => new PartitionFunction(app(), 'P', { modelDir: TINY, point: POINTS.length })).toThrow('point must be');
    expect(() => new PartitionFunction(app(), 'P', { modelDir: TINY, point: 1, memorySize: 64 })).toThrow('memorySize');
  });

  it('adds CORS to the URL only when asked', () => {
    const stack = app();
    new PartitionFunction(stack, 'P1', { modelDir: TINY, point: 1, cors: { allowedOrigins: ['https://example.org'] } });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      Cors: { AllowOrigins: ['https://example.org'] },
    });
  });
});
