import { readProfileRows } from '@jmdc/functions/modelFiles';
import { Aws, CfnOutput, type Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { PartitionFunction, readManifest } from './partition-function.js';

/** A value for every point, or per point (`{ 0: 3008, 2: 2048 }`) with a fallback for the rest. */
export type PerPoint<T> = T | Readonly<Record<number, T>>;

/** Props of {@link JmdcStack}. */
export interface JmdcStackProps extends StackProps {
  /** Folder of the model (holds `manifest.json`). */
  readonly modelDir: string;
  /**
   * Partition points to deploy, one function each (0 = cloud-only).
   * @default every point of the model, 0..P
   */
  readonly points?: readonly number[];
  /**
   * Memory in MB, for all points or per point.
   * @default 2048
   */
  readonly memorySize?: PerPoint<number>;
  /**
   * @default Duration.seconds(15)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrency, for all points or per point.
   * @default - none
   */
  readonly reservedConcurrentExecutions?: PerPoint<number>;
  /**
   * Provisioned concurrency, for all points or per point (adds a `live` alias where > 0).
   * @default 0
   */
  readonly provisionedConcurrentExecutions?: PerPoint<number>;
  /**
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * @default - no CORS on the Function URLs
   */
  readonly cors?: lambda.FunctionUrlCorsOptions;
}

function perPoint<T>(value: PerPoint<T> | undefined, point: number): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return (value as Readonly<Record<number, T>>)[point];
  return value as T;
}

/**
 * The cloud half of jmdc: one {@link PartitionFunction} per partition point, and an `Endpoints` output
 * mapping each point to its Function URL and function name (what `endpoints.json` is made from).
 *
 * @example
 * new JmdcStack(app, 'Jmdc', { modelDir: 'models/fmnist-vgg16', points: [0, 1, 2], memorySize: { 0: 3008 } })
 */
export class JmdcStack extends Stack {
  readonly functions: ReadonlyMap<number, PartitionFunction>;

  constructor(scope: Construct, id: string, props: JmdcStackProps) {
    super(scope, id, props);
    const manifest = readManifest(props.modelDir);
    const points = props.points ?? [0, ...manifest.points.map((p) => p.point)];
    if (points.length === 0) throw new Error('no partition points to deploy');
    if (new Set(points).size !== points.length) throw new Error(`points repeat: ${points.join(',')}`);
    const functions = new Map<number, PartitionFunction>();
    // profile.json read once for every point (each function serves the variants its point's rows use)
    const profileRows = readProfileRows(props.modelDir);
    for (const point of points) {
      functions.set(
        point,
        new PartitionFunction(this, `Point${point}`, {
          modelDir: props.modelDir,
          point,
          memorySize: perPoint(props.memorySize, point),
          timeout: props.timeout,
          reservedConcurrentExecutions: perPoint(props.reservedConcurrentExecutions, point),
          provisionedConcurrentExecutions: perPoint(props.provisionedConcurrentExecutions, point),
          logRetention: props.logRetention,
          architecture: props.architecture,
          cors: props.cors,
          ...(profileRows ? { profileRows } : {}),
        }),
      );
    }
    this.functions = functions;

    const endpoints: Record<string, { url: string; functionName: string }> = {};
    for (const [point, fn] of functions) endpoints[String(point)] = { url: fn.url.url, functionName: fn.invokeName };
    new CfnOutput(this, 'Endpoints', {
      description: 'JSON map: partition point -> { url, functionName }',
      value: Stack.of(this).toJsonString(endpoints),
    });
    new CfnOutput(this, 'ModelId', { value: manifest.id });
    new CfnOutput(this, 'ModelHash', { value: manifest.hash });
    new CfnOutput(this, 'Region', { value: Aws.REGION });
  }
}
