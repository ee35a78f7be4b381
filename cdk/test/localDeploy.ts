/** Shared by the moto smoke test and the LocalStack e2e test: deploy the tiny model to a local endpoint. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const CDK_DIR = join(import.meta.dirname, '..');
export const TINY = join(CDK_DIR, '..', 'test', 'fixtures', 'models', 'tiny-vgg11');
export const LOCAL_CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface LocalDeployResult {
  ms: number;
  log: string;
}

/**
 * Runs `bin/deploy.ts --local` (bootstrap + deploy) of the tiny model against `endpoint`; writes the
 * outputs and endpoints files and the cloud assembly under `work`. Rejects with the log's tail on failure.
 * Asynchronous: a test worker whose event loop blocks for a minute loses its RPC with the runner.
 */
export async function deployLocal(opts: {
  endpoint: string;
  work: string;
  stack: string;
  points: readonly number[];
  endpointsFile?: string;
  context?: readonly string[];
  timeoutMs: number;
}): Promise<LocalDeployResult> {
  const t0 = Date.now();
  const ctx = [`model=${TINY}`, `points=${opts.points.join(',')}`, `stackName=${opts.stack}`, ...(opts.context ?? [])];
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'npx',
      [
        'tsx',
        'bin/deploy.ts',
        '--local',
        '--outputs-file',
        join(opts.work, 'outputs.json'),
        '--endpoints-file',
        opts.endpointsFile ?? join(opts.work, 'endpoints.json'),
        '-o',
        join(opts.work, 'cdk.out'),
        ...ctx.flatMap((c) => ['-c', c]),
      ],
      {
        cwd: CDK_DIR,
        encoding: 'utf8',
        env: { ...process.env, JMDC_LOCAL_ENDPOINT: opts.endpoint },
        timeout: opts.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        resolve({ status: error ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      },
    );
  });
  const log = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`deploy failed (exit ${r.status}):\n${log.slice(-4000)}`);
  return { ms: Date.now() - t0, log };
}
