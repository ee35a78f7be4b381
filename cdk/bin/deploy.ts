#!/usr/bin/env node
/**
 * `npm run deploy -w @jmdc/cdk -- [-c model=...] [-c points=0,1,2] [-c memory=2048] [--local]`
 *
 * Runs `cdk deploy` (all stacks of the app, no approval prompt) with the given context, then turns its
 * `--outputs-file` into the endpoints file the edge SDK reads (`.jmdc/endpoints.json` at the repository
 * root, or `--endpoints-file <path>`).
 *
 * `--local` deploys to a local AWS emulator (LocalStack or moto_server) at `$JMDC_LOCAL_ENDPOINT`
 * (default http://localhost:4566) with test credentials, bootstrapping it first, for this machine's
 * architecture unless `-c architecture=arm64|x86_64` says otherwise.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ENDPOINTS_FILE, writeEndpointsFile } from '../lib/endpoints.js';

const cdkDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = join(cdkDir, '..');
const args = process.argv.slice(2);
let local = false;
let endpointsFile = join(repoRoot, DEFAULT_ENDPOINTS_FILE);
let outputsFile = join(cdkDir, 'cdk.out', 'outputs.json');
let stackName: string | undefined;
const cdkArgs: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--local') local = true;
  else if (a === '--endpoints-file') endpointsFile = resolve(args[++i] ?? '');
  else if (a === '--outputs-file') outputsFile = resolve(args[++i] ?? '');
  else {
    const m = /^stackName=(.+)$/.exec(args[i + 1] ?? '');
    if ((a === '-c' || a === '--context') && m) stackName = m[1];
    cdkArgs.push(a);
  }
}

const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' };
if (local) {
  const endpoint = process.env.JMDC_LOCAL_ENDPOINT ?? 'http://localhost:4566';
  Object.assign(env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_DEFAULT_REGION: process.env.AWS_REGION ?? 'us-east-1',
  });
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
}

function cdk(cmd: string[]): void {
  const r = spawnSync('npx', ['cdk', ...cmd, '--no-notices'], { cwd: cdkDir, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`cdk ${cmd[0]} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

// the account is whatever the emulator says the test credentials belong to (moto 123456789012, LocalStack 000000000000)
if (local && !cdkArgs.some((a) => a.startsWith('architecture='))) {
  // an emulator runs functions on this machine's CPU: bundle that architecture's onnxruntime binary
  cdkArgs.push('-c', `architecture=${process.arch === 'arm64' ? 'arm64' : 'x86_64'}`);
}
if (local) cdk(['bootstrap', ...cdkArgs]);
cdk(['deploy', '--all', '--require-approval', 'never', '--outputs-file', outputsFile, ...cdkArgs]);
try {
  const written = writeEndpointsFile(outputsFile, endpointsFile, stackName);
  console.log(`wrote ${endpointsFile}: points ${Object.keys(written.points).join(', ')} of ${written.model}`);
} catch (e) {
  if (!local) throw e;
  // moto_server creates the functions but no Function URLs, and then drops the outputs that name them
  console.warn(`deployed, but no endpoints file written: ${(e as Error).message} (moto_server has no Function URLs)`);
}
