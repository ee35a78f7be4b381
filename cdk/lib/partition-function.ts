import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import {
  bottlenecksForPoint,
  loadModel,
  type Manifest,
  modelBytesForPoint,
  modelFilesForPoint,
  type PointRow,
  readProfileRows,
  variantsForPoint,
} from '@jmdc/functions/modelFiles';
import { Annotations, Aspects, Duration, type IAspect, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Props of {@link PartitionFunction}. */
export interface PartitionFunctionProps {
  /** Folder of the model: `manifest.json` and the block files. */
  readonly modelDir: string;
  /** Partition point this function serves: 0 = cloud-only (raw images), 1..P = the tail after block p. */
  readonly point: number;
  /**
   * Memory in MB (CPU share grows with it: one vCPU per 1769 MB).
   * @default 2048
   */
  readonly memorySize?: number;
  /**
   * @default Duration.seconds(15)
   */
  readonly timeout?: Duration;
  /**
   * onnxruntime intra-op threads (`JMDC_THREADS`).
   * @default max(1, round(memorySize / 1769)), the vCPUs Lambda gives that memory
   */
  readonly threads?: number;
  /**
   * Reserved concurrency of the function.
   * @default - none (the account's unreserved pool)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Provisioned concurrency; when > 0 the construct publishes a version with a `live` alias, and the
   * Function URL and the Invoke name point at the alias.
   * @default 0 (none)
   */
  readonly provisionedConcurrentExecutions?: number;
  /**
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * CORS of the Function URL. Browsers are not clients of jmdc, so there is none unless asked for.
   * @default - no CORS
   */
  readonly cors?: lambda.FunctionUrlCorsOptions;
  /**
   * Largest batch the function accepts (`JMDC_MAX_BATCH`).
   * @default 64
   */
  readonly maxBatch?: number;
  /**
   * Largest payload in bytes (`JMDC_MAX_PAYLOAD_BYTES`).
   * @default 6 MiB (the Lambda synchronous payload limit)
   */
  readonly maxPayloadBytes?: number;
  /**
   * Budget of the unzipped bundle (code + onnxruntime + model files); synth fails above it.
   * @default 60 MiB for arm64; 80 MiB for x86_64, whose onnxruntime binary is 20 MiB larger (46 vs 25 MB)
   */
  readonly maxBundleBytes?: number;
  /**
   * Profile rows (`point`, `variant`, `bottleneck`) that decide which variants and learned bottlenecks
   * this function serves: those some row of its point uses (`JMDC_VARIANTS`, `JMDC_BOTTLENECKS`); the
   * bundle carries only their tail blocks and bottleneck decoders.
   * @default - the rows of `profile.json` in the model folder; every variant and every bottleneck of the point when there is none
   */
  readonly profileRows?: readonly PointRow[];
  /**
   * Alarm when Errors (or Throttles) reach this count in one period.
   * @default 1
   */
  readonly alarmThreshold?: number;
  /**
   * @default Duration.minutes(5)
   */
  readonly alarmPeriod?: Duration;
  /**
   * The handler source.
   * @default - `src/handler.ts` of `@jmdc/functions`
   */
  readonly entry?: string;
}

/** Default unzipped bundle budget for arm64 (see {@link PartitionFunctionProps.maxBundleBytes}). */
export const BUNDLE_BUDGET = 60 * 1024 * 1024;
/** Default unzipped bundle budget for x86_64: the arm64 budget plus the larger onnxruntime binary. */
export const BUNDLE_BUDGET_X86_64 = 80 * 1024 * 1024;
const ESM_REQUIRE_BANNER =
  "import { createRequire as __jmdcCreateRequire } from 'node:module';const require = __jmdcCreateRequire(import.meta.url);";

function dirBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of readdirSync(path)) total += dirBytes(join(path, e));
  return total;
}

function findUp(file: string, from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, file))) return d;
    if (dirname(d) === d) throw new Error(`no ${file} above ${from}`);
  }
}

/** The folder of an installed package, looked up like Node does from `fromDir`. */
function packageDir(name: string, fromDir: string): string {
  for (let d = fromDir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(d) === d) throw new Error(`package ${name} is not installed (looked up from ${fromDir})`);
  }
}

const sh = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * `lambda.Function` makes its CfnFunction depend on its whole role construct, so that a DefaultPolicy
 * added later exists before the function. Without such a policy that leaves a `DependsOn` on the role
 * that the `Role: GetAtt` already implies, which cfn-lint reports (W3005). Runs at synthesis, when every
 * grant is known, and removes the `DependsOn` only when the role is all it holds.
 */
class DropRedundantRoleDependency implements IAspect {
  constructor(private readonly fn: lambda.Function) {}
  visit(node: Construct): void {
    const cfn = this.fn.node.defaultChild as lambda.CfnFunction;
    if (node !== cfn) return;
    const role = this.fn.role;
    const onlyRole =
      role !== undefined &&
      role.node.tryFindChild('DefaultPolicy') === undefined &&
      this.fn.node.dependencies.length === 0 &&
      cfn.node.dependencies.every((d) => d === role);
    if (onlyRole) cfn.addDeletionOverride('DependsOn');
  }
}

/** Where the handler and the native addon live in this checkout. */
export interface FunctionSources {
  /** `functions/src/handler.ts`. */
  entry: string;
  /** The npm workspace root (holds `package-lock.json`). */
  projectRoot: string;
  /** `node_modules/onnxruntime-node`. */
  ortDir: string;
  /** `node_modules/onnxruntime-common`. */
  ortCommonDir: string;
}

/** Locates the handler source and onnxruntime packages from `@jmdc/functions`. */
export function functionSources(entry?: string): FunctionSources {
  const require = createRequire(import.meta.url);
  const functionsDir = dirname(require.resolve('@jmdc/functions/package.json'));
  const ortDir = packageDir('onnxruntime-node', functionsDir);
  return {
    entry: entry ?? join(functionsDir, 'src', 'handler.ts'),
    projectRoot: findUp('package-lock.json', functionsDir),
    ortDir,
    ortCommonDir: packageDir('onnxruntime-common', ortDir),
  };
}

/** Loads and validates the manifest of a model folder. */
export function readManifest(modelDir: string): Manifest {
  return loadModel(resolve(modelDir)).manifest;
}

/**
 * One tail function of a partition point: a `NodejsFunction` bundled locally with esbuild (ESM, the
 * edge-sdk TypeScript sources through the `source` export condition), onnxruntime-node with only the
 * binary of the function's architecture, and only the model files that point loads (in `model/`: the
 * tail blocks of the variants the point's profile rows use and the decoders of the bottlenecks they use),
 * plus its Function URL (AWS_IAM), log group and alarms on Errors and Throttles.
 *
 * @example
 * const fn = new PartitionFunction(this, 'P2', { modelDir: 'models/fmnist-vgg16', point: 2, memorySize: 3008 })
 * new CfnOutput(this, 'Url', { value: fn.url.url })
 */
export class PartitionFunction extends Construct {
  readonly point: number;
  readonly function: nodejs.NodejsFunction;
  /** The `live` alias when provisioned concurrency is set. */
  readonly alias: lambda.Alias | undefined;
  readonly url: lambda.FunctionUrl;
  readonly logGroup: logs.LogGroup;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly throttlesAlarm: cloudwatch.Alarm;
  /** Bytes of the unzipped bundle estimated at synth (model files + onnxruntime; the code is small). */
  readonly estimatedBundleBytes: number;
  /** What to pass as FunctionName to Invoke (qualified with the alias when there is one). */
  readonly invokeName: string;
  /** Ids of the variants this function serves (its bundle carries only their tail blocks). */
  readonly variants: readonly string[];
  /** Ids of the learned bottlenecks this function serves (its bundle carries only their decoders). */
  readonly bottlenecks: readonly string[];

  constructor(scope: Construct, id: string, props: PartitionFunctionProps) {
    super(scope, id);
    const modelDir = resolve(props.modelDir);
    const manifest = readManifest(modelDir);
    const { point } = props;
    if (!Number.isInteger(point) || point < 0 || point > manifest.points.length) {
      throw new Error(`point must be an integer 0..${manifest.points.length} for model ${manifest.id}, got ${point}`);
    }
    const memorySize = props.memorySize ?? 2048;
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new Error(`memorySize must be 128..10240 MB, got ${memorySize}`);
    }
    this.point = point;
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const ortArch = architecture.name === lambda.Architecture.ARM_64.name ? 'arm64' : 'x64';
    const src = functionSources(props.entry);
    const rows = props.profileRows ?? readProfileRows(modelDir);
    const variants = variantsForPoint(manifest, point, rows);
    this.variants = variants;
    const bottlenecks = bottlenecksForPoint(manifest, point, rows, variants);
    this.bottlenecks = bottlenecks;
    const modelFiles = modelFilesForPoint(manifest, point, variants, bottlenecks);
    const ortBinDir = join(src.ortDir, 'bin', 'napi-v6', 'linux', ortArch);
    if (!existsSync(join(ortBinDir, 'onnxruntime_binding.node'))) {
      throw new Error(`onnxruntime-node has no linux-${ortArch} binary in ${ortBinDir}`);
    }

    this.estimatedBundleBytes =
      modelBytesForPoint(manifest, point, variants, bottlenecks) +
      dirBytes(ortBinDir) +
      dirBytes(join(src.ortDir, 'dist')) +
      dirBytes(join(src.ortCommonDir, 'dist'));
    const budget = props.maxBundleBytes ?? (ortArch === 'x64' ? BUNDLE_BUDGET_X86_64 : BUNDLE_BUDGET);
    if (this.estimatedBundleBytes > budget) {
      Annotations.of(this).addError(
        `bundle of point ${point} would be ${(this.estimatedBundleBytes / 2 ** 20).toFixed(1)} MiB, over the ${(budget / 2 ** 20).toFixed(0)} MiB budget`,
      );
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    const copyCommands = (outputDir: string): string[] => {
      const ortOut = join(outputDir, 'node_modules', 'onnxruntime-node');
      const commonOut = join(outputDir, 'node_modules', 'onnxruntime-common');
      const modelOut = join(outputDir, 'model');
      const dirs = new Set([join(ortOut, 'bin', 'napi-v6', 'linux'), commonOut, modelOut]);
      for (const f of modelFiles) dirs.add(dirname(join(modelOut, f)));
      return [
        `mkdir -p ${[...dirs].map(sh).join(' ')}`,
        `cp -R ${sh(ortBinDir)} ${sh(join(ortOut, 'bin', 'napi-v6', 'linux', ortArch))}`,
        `cp -R ${sh(join(src.ortDir, 'dist'))} ${sh(join(ortOut, 'dist'))}`,
        `cp ${sh(join(src.ortDir, 'package.json'))} ${sh(join(ortOut, 'package.json'))}`,
        `cp -R ${sh(join(src.ortCommonDir, 'dist'))} ${sh(join(commonOut, 'dist'))}`,
        `cp ${sh(join(src.ortCommonDir, 'package.json'))} ${sh(join(commonOut, 'package.json'))}`,
        ...modelFiles.map((f) => `cp ${sh(join(modelDir, f))} ${sh(join(modelOut, f))}`),
      ];
    };

    const environment: Record<string, string> = {
      JMDC_POINT: String(point),
      JMDC_MODEL_DIR: '/var/task/model',
      JMDC_MODEL_ID: manifest.id,
      JMDC_MODEL_HASH: manifest.hash,
      JMDC_THREADS: String(props.threads ?? Math.max(1, Math.round(memorySize / 1769))),
      JMDC_MAX_BATCH: String(props.maxBatch ?? 64),
      JMDC_MAX_PAYLOAD_BYTES: String(props.maxPayloadBytes ?? 6 * 1024 * 1024),
      JMDC_VARIANTS: variants.join(','),
      // set even when empty: the handler then serves no bottleneck (its bundle has no decoder)
      JMDC_BOTTLENECKS: bottlenecks.join(','),
    };

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: `jmdc tail of ${manifest.id} from partition point ${point}`,
      entry: src.entry,
      handler: 'handler',
      projectRoot: src.projectRoot,
      depsLockFilePath: join(src.projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture,
      memorySize,
      timeout: props.timeout ?? Duration.seconds(15),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      logGroup: this.logGroup,
      environment,
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        platform: 'node',
        minify: true,
        sourceMap: false,
        banner: ESM_REQUIRE_BANNER,
        mainFields: ['module', 'main'],
        externalModules: ['onnxruntime-node', '@aws-sdk/*'],
        esbuildArgs: { '--conditions': 'source' },
        environment: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => copyCommands(outputDir),
        },
      },
    });

    Aspects.of(this).add(new DropRedundantRoleDependency(this.function));

    const provisioned = props.provisionedConcurrentExecutions ?? 0;
    this.alias =
      provisioned > 0 ? this.function.addAlias('live', { provisionedConcurrentExecutions: provisioned }) : undefined;
    const target: lambda.IFunction = this.alias ?? this.function;
    this.invokeName = this.alias ? `${this.function.functionName}:live` : this.function.functionName;
    this.url = new lambda.FunctionUrl(this, 'Url', {
      function: target,
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      invokeMode: lambda.InvokeMode.BUFFERED,
      ...(props.cors ? { cors: props.cors } : {}),
    });

    const period = props.alarmPeriod ?? Duration.minutes(5);
    const threshold = props.alarmThreshold ?? 1;
    const stackName = Stack.of(this).stackName;
    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmDescription: `${stackName}: tail function of point ${point} returned errors (crashes, timeouts, init failures)`,
      metric: this.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.throttlesAlarm = new cloudwatch.Alarm(this, 'ThrottlesAlarm', {
      alarmDescription: `${stackName}: tail function of point ${point} was throttled`,
      metric: this.function.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }),
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
