/**
 * The cloud assembly the local cloud runs: `cdk synth` of the project's CDK app for the host
 * architecture, cached under `.jmdc/local-cloud/` and rebuilt when the model, the sources of the
 * handler, the SDK or the CDK app, the lock file or the context change.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCloudError, LocalCloudErrorCodes } from './errors.js';

/** The repository root (this file is `infra/local-cloud/src/synth.ts`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Lambda's name of the host architecture: `x86_64` or `arm64`. */
export function hostArchitecture(): 'x86_64' | 'arm64' {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

/** Options of {@link ensureAssembly}. */
export interface SynthOptions {
  /** Model folder (holds `manifest.json`). */
  modelDir: string;
  /** Points to deploy. @default every point of the model */
  points?: readonly number[];
  /** @default hostArchitecture() */
  architecture?: 'x86_64' | 'arm64';
  /** Where cached assemblies live. @default `<repo>/.jmdc/local-cloud` */
  cacheDir?: string;
  /** Progress lines. */
  onInfo?: (line: string) => void;
  /**
   * Cached assemblies of the same model and architecture not used for this long are deleted after a synth.
   * @default 86_400_000 (one day: an assembly a running local cloud still uses is not pulled from under it)
   */
  pruneAfterMs?: number;
}

/** Deletes `<prefix>*` assemblies in `cacheDir` (other than `keep`) last used more than `ageMs` ago. */
function pruneStale(cacheDir: string, prefix: string, keep: string, ageMs: number, onInfo?: (l: string) => void): void {
  const now = Date.now();
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    if (!name.startsWith(prefix) || path === keep) continue;
    try {
      if (now - statSync(path).mtimeMs > ageMs) {
        rmSync(path, { recursive: true, force: true });
        onInfo?.(`removed stale assembly ${path}`);
      }
    } catch {
      // another process removed it first
    }
  }
}

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'dist' && e.name !== 'cdk.out') out.push(...filesUnder(p, keep));
    } else if (keep(p)) out.push(p);
  }
  return out.sort();
}

const isSource = (p: string): boolean => /\.(ts|mts|mjs|js|json)$/.test(p) && !/\.test\.ts$/.test(p);

/**
 * The source files the handler bundle is built from, as esbuild (the bundler the CDK app uses, with the
 * same entry, conditions and externals) resolves them; undefined when esbuild cannot be loaded, and
 * then the callers hash all of `functions/src` and `edge-sdk/src`.
 */
export function handlerInputs(): string[] | undefined {
  try {
    const require = createRequire(join(REPO_ROOT, 'cdk', 'package.json'));
    const esbuild = require('esbuild') as typeof import('esbuild');
    const r = esbuild.buildSync({
      entryPoints: [join(REPO_ROOT, 'functions', 'src', 'handler.ts')],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      conditions: ['source'],
      mainFields: ['module', 'main'],
      external: ['onnxruntime-node', '@aws-sdk/*'],
      absWorkingDir: REPO_ROOT,
      logLevel: 'silent',
    });
    return Object.keys(r.metafile?.inputs ?? {})
      .map((f) => resolve(REPO_ROOT, f))
      .sort();
  } catch {
    return undefined;
  }
}

/**
 * The cache key of an assembly: a hash of the model's manifest and profile, the source files the
 * handler bundle is made of (esbuild's view of `functions/src/handler.ts`, so edits elsewhere in the
 * SDK do not force a new synth), the CDK app (`cdk/lib`, `cdk/bin`, `cdk.json`), `package-lock.json`
 * and the context.
 *
 * @example
 * assemblyKey({ modelDir: 'models/fmnist-vgg16' }) // '3f1c…' (16 hex digits)
 */
export function assemblyKey(opts: SynthOptions): string {
  const h = createHash('sha256');
  const modelDir = resolve(opts.modelDir);
  h.update(JSON.stringify({ arch: opts.architecture ?? hostArchitecture(), points: opts.points ?? 'all', modelDir }));
  const files = [
    join(modelDir, 'manifest.json'),
    join(modelDir, 'profile.json'),
    join(REPO_ROOT, 'package-lock.json'),
    join(REPO_ROOT, 'cdk', 'cdk.json'),
    ...(handlerInputs() ?? [
      ...filesUnder(join(REPO_ROOT, 'functions', 'src'), isSource),
      ...filesUnder(join(REPO_ROOT, 'edge-sdk', 'src'), isSource),
    ]),
    ...filesUnder(join(REPO_ROOT, 'cdk', 'lib'), isSource),
    ...filesUnder(join(REPO_ROOT, 'cdk', 'bin'), isSource),
  ];
  for (const f of files) {
    if (!existsSync(f)) continue;
    h.update(f.slice(REPO_ROOT.length));
    h.update(readFileSync(f));
  }
  return h.digest('hex').slice(0, 16);
}

function modelIdOf(modelDir: string): string {
  try {
    return String(JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')).id).replace(/[^\w.-]/g, '_');
  } catch {
    return 'model';
  }
}

/**
 * Returns the folder of a cloud assembly for these options, running `cdk synth` (about 15 s for the
 * tiny fixture, longer for big models) only when no cached one matches. Synth writes to a temporary
 * folder that is renamed into place, so concurrent callers never see half an assembly.
 * Throws SYNTH_FAILED with the tail of cdk's output.
 *
 * @example
 * const dir = await ensureAssembly({ modelDir: 'models/fmnist-vgg16', onInfo: console.log })
 */
export async function ensureAssembly(opts: SynthOptions): Promise<string> {
  const modelDir = resolve(opts.modelDir);
  const arch = opts.architecture ?? hostArchitecture();
  const cacheDir = opts.cacheDir ?? join(REPO_ROOT, '.jmdc', 'local-cloud');
  const key = assemblyKey({ ...opts, modelDir, architecture: arch });
  const prefix = `cdk.out-${arch}-${modelIdOf(modelDir)}-`;
  const target = join(cacheDir, `${prefix}${key}`);
  if (existsSync(join(target, 'manifest.json'))) {
    opts.onInfo?.(`assembly ${target} (cached)`);
    // the folder's mtime is its last use (what pruning goes by)
    const now = new Date();
    utimesSync(target, now, now);
    return target;
  }
  mkdirSync(cacheDir, { recursive: true });
  // one synth per assembly at a time across processes (test files start clouds in parallel): the others wait
  const lock = `${target}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (existsSync(join(target, 'manifest.json'))) return target;
      if (lockIsStale(lock)) rmSync(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (existsSync(join(target, 'manifest.json'))) return target;
    return await synthInto(target, args(), opts, cacheDir, prefix);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }

  function args(): string[] {
    return [
      'synth',
      '--no-notices',
      '-q',
      '-c',
      `architecture=${arch}`,
      '-c',
      `model=${modelDir}`,
      ...(opts.points ? ['-c', `points=${opts.points.join(',')}`] : []),
    ];
  }
}

/** A synth lock older than this is taken to be left by a killed process. */
const SYNTH_LOCK_STALE_MS = 10 * 60_000;

/** A lock whose process is gone, or that is older than {@link SYNTH_LOCK_STALE_MS}. */
function lockIsStale(lock: string): boolean {
  try {
    if (Date.now() - statSync(lock).mtimeMs > SYNTH_LOCK_STALE_MS) return true;
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    // ESRCH: its process is gone; ENOENT: the pid is not written yet or the lock was just released
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function synthInto(
  target: string,
  cdkArgs: string[],
  opts: SynthOptions,
  cacheDir: string,
  prefix: string,
): Promise<string> {
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  const args = [...cdkArgs, '--output', tmp];
  opts.onInfo?.(`cdk synth (${cdkArgs.filter((a) => a.includes('=')).join(', ')}) -> ${target}`);
  const t0 = Date.now();
  const cdkBin = join(REPO_ROOT, 'node_modules', '.bin', 'cdk');
  const out: string[] = [];
  const code = await new Promise<number | null>((res, rej) => {
    const child = spawn(cdkBin, args, {
      cwd: join(REPO_ROOT, 'cdk'),
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', ONNXRUNTIME_NODE_INSTALL: 'skip' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => out.push(d.toString()));
    child.on('error', rej);
    child.on('close', res);
  });
  if (code !== 0 || !existsSync(join(tmp, 'manifest.json'))) {
    rmSync(tmp, { recursive: true, force: true });
    const tail = out.join('').split('\n').slice(-30).join('\n');
    throw new LocalCloudError(LocalCloudErrorCodes.SYNTH_FAILED, `cdk synth failed (exit ${code}):\n${tail}`, {
      exitCode: code,
    });
  }
  try {
    renameSync(tmp, target);
  } catch (e) {
    // another process put the same assembly in place first
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(target, 'manifest.json'))) throw e;
  }
  opts.onInfo?.(`cdk synth done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  pruneStale(cacheDir, prefix, target, opts.pruneAfterMs ?? 86_400_000, opts.onInfo);
  return target;
}
