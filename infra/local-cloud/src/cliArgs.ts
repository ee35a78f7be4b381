/**
 * Flags of `npm run local-cloud` and the one log line per invocation it prints.
 */
import { join } from 'node:path';
import { DEFAULT_ENDPOINTS_FILE } from '@jmdc/cdk/endpoints';
import { num, parseFlags, UsageError } from '@jmdc/edge-sdk/cli';
import type { InvocationLog, LocalCloudOptions } from './localCloud.js';
import { REPO_ROOT } from './synth.js';

export { UsageError };

/** The CLI's default port. */
export const DEFAULT_PORT = 18790;

export const HELP = `npm run local-cloud -- [flags]

Runs the CDK assembly's Lambda functions locally (synthesized for this machine's architecture and
cached in .jmdc/local-cloud), serves their Function URLs at http://127.0.0.1:<port>/points/<p> and the
Lambda Invoke API at http://127.0.0.1:<port>, writes the endpoints file, and logs one line per
invocation. Ctrl-C or SIGTERM stops it and every function instance.

  --model <id|path>        model in models/ or a model folder (default fmnist-vgg16)
  --points <0,1,2>         points to deploy (default: every point)
  --port <n>               port on 127.0.0.1 (default ${DEFAULT_PORT}; 0 = any free port)
  --idle-timeout-ms <n>    reap idle instances after this long (default 600000)
  --max-instances <n>      concurrent instances per function without reserved concurrency (default 10)
  --region <r>             region of the endpoints and of SigV4 (default us-east-1)
  --access-key-id <k>      accepted SigV4 key (default test)
  --secret-access-key <s>  its secret (default test)
  --endpoints-file <path>  where to write endpoints.json (default .jmdc/endpoints.json)
  --no-endpoints-file      write none
  --assembly <dir>         run this cloud assembly instead of synthesizing one
  --function-logs          also print what the functions write (stdout/stderr)
  --json                   log lines as JSON
  -h, --help               this help
`;

const SPEC = {
  model: { type: 'string' },
  points: { type: 'string' },
  port: { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'max-instances': { type: 'string' },
  region: { type: 'string' },
  'access-key-id': { type: 'string' },
  'secret-access-key': { type: 'string' },
  'endpoints-file': { type: 'string' },
  'no-endpoints-file': { type: 'boolean' },
  assembly: { type: 'string' },
  'function-logs': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What the CLI runs. */
export interface CliConfig {
  help: boolean;
  json: boolean;
  functionLogs: boolean;
  options: LocalCloudOptions;
}

/**
 * Parses the CLI flags; throws UsageError on a bad one.
 *
 * @example
 * parseCliArgs(['--points', '0,2', '--port', '0']).options // { port: 0, points: [0, 2], endpointsFile: '<repo>/.jmdc/endpoints.json', ... }
 */
export function parseCliArgs(argv: string[]): CliConfig {
  const f = parseFlags(argv, SPEC);
  const options: LocalCloudOptions = {
    port: f.port === undefined ? DEFAULT_PORT : num(f.port, 'port', { int: true, min: 0, max: 65535 }),
  };
  if (f.model) options.model = f.model;
  if (f.points !== undefined) {
    const points = f.points.split(',').map((p) => num(p.trim(), 'points', { int: true, min: 0 }));
    if (points.length === 0) throw new UsageError('--points needs at least one point');
    options.points = points;
  }
  if (f['idle-timeout-ms'] !== undefined)
    options.idleTimeoutMs = num(f['idle-timeout-ms'], 'idle-timeout-ms', { min: 1 });
  if (f['max-instances'] !== undefined) {
    options.maxInstancesPerFunction = num(f['max-instances'], 'max-instances', { int: true, min: 1 });
  }
  if (f.region) options.region = f.region;
  if ((f['access-key-id'] === undefined) !== (f['secret-access-key'] === undefined)) {
    throw new UsageError('--access-key-id and --secret-access-key go together');
  }
  if (f['access-key-id'] && f['secret-access-key']) {
    options.credentials = { accessKeyId: f['access-key-id'], secretAccessKey: f['secret-access-key'] };
  }
  if (f['no-endpoints-file'] && f['endpoints-file'])
    throw new UsageError('--endpoints-file and --no-endpoints-file exclude each other');
  if (!f['no-endpoints-file']) options.endpointsFile = f['endpoints-file'] ?? join(REPO_ROOT, DEFAULT_ENDPOINTS_FILE);
  if (f.assembly) options.assemblyDir = f.assembly;
  return { help: f.help === true, json: f.json === true, functionLogs: f['function-logs'] === true, options };
}

/**
 * One log line per invocation: time, function, instance, cold/warm, init ms, duration, status, route.
 *
 * @example
 * formatInvocation(log) // '10:31:02.114 Jmdc-Point2FunctionAB12CD34 p2-1-x9f2 cold init=412.3ms dur=520.1ms 200 url'
 */
export function formatInvocation(l: InvocationLog, now = new Date()): string {
  const parts = [
    now.toISOString().slice(11, 23),
    l.functionName,
    l.instanceId || '-',
    l.instanceId ? (l.cold ? 'cold' : 'warm') : '-',
    l.initMs !== undefined ? `init=${l.initMs.toFixed(1)}ms` : 'init=-',
    `dur=${l.durationMs.toFixed(1)}ms`,
    String(l.status),
    l.route,
  ];
  if (l.error) parts.push(l.error);
  if (l.fault) parts.push(`fault=${l.fault}`);
  return parts.join(' ');
}
