/**
 * The function assets as CDK bundles them (esbuild, locally): size, the onnxruntime binary of the right
 * platform only, exactly the model files of each point; and the bundle of one point actually runs
 * (imported by Node in a child process, with the x64 binary of this machine linked in for the test).
 */
import { execFile, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { bottlenecksForPoint, modelFilesForPoint, readProfileRows, variantsForPoint } from '@jmdc/functions/modelFiles';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionSources, readManifest } from '../lib/partition-function.js';

const REPO = join(import.meta.dirname, '..', '..');
const MODELS = [{ name: 'tiny fixture', dir: join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11') }];
const SHIPPED = join(REPO, 'models', 'fmnist-vgg16');
if (existsSync(join(SHIPPED, 'manifest.json'))) MODELS.push({ name: 'shipped fmnist-vgg16', dir: SHIPPED });
else console.log(`[bundle.test] fmnist-vgg16 bundles not checked: ${SHIPPED}/manifest.json does not exist yet`);

const BUDGET = 60 * 1024 * 1024;
const ORT = join('node_modules', 'onnxruntime-node');

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

interface Bundle {
  point: number;
  variants: string;
  bottlenecks: string;
  dir: string;
  files: string[];
  bytes: number;
}

describe.each(MODELS)('function bundles of $name', ({ name, dir: modelDir }) => {
  const manifest = readManifest(modelDir);
  const points = [0, ...manifest.points.map((p) => p.point)];
  let outdir = '';
  const bundles = new Map<number, Bundle>();

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'jmdc-bundle-'));
    // `cdk synth` of the app, as a deploy runs it, in a child process: bundling takes tens of seconds,
    // longer than a test worker may block its event loop
    await promisify(execFile)(
      'npx',
      [
        'cdk',
        'synth',
        '--no-notices',
        '-q',
        '-o',
        outdir,
        '-c',
        `model=${modelDir}`,
        '-c',
        `points=${points.join(',')}`,
        '-c',
        'stackName=JmdcBundle',
      ],
      {
        cwd: join(REPO, 'cdk'),
        env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const template = JSON.parse(readFileSync(join(outdir, 'JmdcBundle.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: unknown }>;
    };
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const r of fns) {
      // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
      const props = (r as any).Properties;
      const point = Number(props.Environment.Variables.JMDC_POINT);
      const dir = join(outdir, `asset.${String(props.Code.S3Key).replace(/\.zip$/, '')}`);
      const files = walk(dir).map((f) => relative(dir, f));
      const bytes = files.reduce((s, f) => s + statSync(join(dir, f)).size, 0);
      const env = props.Environment.Variables;
      bundles.set(point, { point, variants: env.JMDC_VARIANTS, bottlenecks: env.JMDC_BOTTLENECKS, dir, files, bytes });
    }
    const sizes = [...bundles.values()].map((b) => `point ${b.point}: ${(b.bytes / 2 ** 20).toFixed(2)} MiB`);
    console.log(`[bundle.test] ${name} unzipped bundle sizes: ${sizes.join(', ')}`);
  }, 600_000);

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it.each(points)('point %i: at most 60 MiB unzipped, with the ESM handler and the require banner', (p) => {
    const b = bundles.get(p)!;
    expect(b.bytes).toBeLessThanOrEqual(BUDGET);
    expect(b.files).toContain('index.mjs');
    const code = readFileSync(join(b.dir, 'index.mjs'), 'utf8');
    expect(code.startsWith('import { createRequire as __jmdcCreateRequire }')).toBe(true);
    expect(code).toMatch(/from\s*"onnxruntime-node"/); // external, not inlined
  });

  it.each(points)('point %i: onnxruntime-node with the linux-arm64 binary only', (p) => {
    const b = bundles.get(p)!;
    const ort = b.files.filter((f) => f.startsWith(ORT + sep));
    expect(ort).toContain(join(ORT, 'bin', 'napi-v6', 'linux', 'arm64', 'onnxruntime_binding.node'));
    expect(ort).toContain(join(ORT, 'bin', 'napi-v6', 'linux', 'arm64', 'libonnxruntime.so.1'));
    expect(ort).toContain(join(ORT, 'dist', 'index.js'));
    expect(ort).toContain(join(ORT, 'package.json'));
    expect(b.files).toContain(join('node_modules', 'onnxruntime-common', 'package.json'));
    for (const f of b.files) {
      expect(f).not.toMatch(/[/\\](x64|darwin|win32)[/\\]/);
      expect(f).not.toMatch(/\.(dll|dylib)$/);
    }
    // nothing else from node_modules: the rest is bundled into index.mjs
    const packages = new Set(b.files.filter((f) => f.startsWith(`node_modules${sep}`)).map((f) => f.split(sep)[1]));
    expect([...packages].sort()).toEqual(['onnxruntime-common', 'onnxruntime-node']);
  });

  it.each(points)('point %i: exactly the model files of the variants and bottlenecks its profile rows use', (p) => {
    const b = bundles.get(p)!;
    const rows = readProfileRows(modelDir);
    const variants = variantsForPoint(manifest, p, rows);
    const bottlenecks = bottlenecksForPoint(manifest, p, rows, variants);
    expect(b.variants).toBe(variants.join(','));
    expect(b.bottlenecks).toBe(bottlenecks.join(','));
    const model = b.files.filter((f) => f.startsWith(`model${sep}`)).map((f) => f.slice('model/'.length));
    expect(model.sort()).toEqual(modelFilesForPoint(manifest, p, variants, bottlenecks).sort());
    // decoders only: an encoder runs on the device
    expect(model.filter((f) => f.endsWith('.enc.onnx'))).toEqual([]);
    const other = b.files.filter((f) => !f.startsWith(`model${sep}`) && !f.startsWith(`node_modules${sep}`));
    expect(other).toEqual(['index.mjs']);
  });

  it('point 0 bundle runs: Node imports index.mjs, inits from ./model and answers a raw payload', () => {
    const src = bundles.get(0)!;
    const work = mkdtempSync(join(tmpdir(), 'jmdc-run-'));
    try {
      cpSync(src.dir, work, { recursive: true });
      // this machine is x64: link its binary next to the arm64 one the bundle carries
      const hostBin = join(functionSources().ortDir, 'bin', 'napi-v6', process.platform, process.arch);
      const linkBin = join(work, ORT, 'bin', 'napi-v6', process.platform, process.arch);
      if (!existsSync(linkBin)) symlinkSync(hostBin, linkBin, 'dir');
      const golden = JSON.parse(readFileSync(join(modelDir, 'golden.json'), 'utf8')) as { images: number[][] };
      const pixels = Buffer.from(Uint8Array.from(golden.images[0]!));
      // a `raw`-format payload built by hand would duplicate the codec; run the codec in the child instead
      writeFileSync(join(work, 'pixels.bin'), pixels);
      const script = `
        const { handler } = await import(${JSON.stringify(join(work, 'index.mjs'))});
        const { encodeRaw } = await import('@jmdc/edge-sdk/codec');
        const fs = await import('node:fs');
        const m = JSON.parse(fs.readFileSync(${JSON.stringify(join(work, 'model', 'manifest.json'))}, 'utf8'));
        const px = new Uint8Array(fs.readFileSync(${JSON.stringify(join(work, 'pixels.bin'))}));
        const bytes = encodeRaw(px, m.input.sourceShape, 1, { model: { id: m.id, hash: m.hash } });
        const res = await handler({ payload: Buffer.from(bytes).toString('base64') }, { awsRequestId: 'bundle' });
        process.stdout.write(JSON.stringify(res));
      `;
      const r = spawnSync(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: REPO,
          encoding: 'utf8',
          // the bundle's own default (./model next to index.mjs) is what runs here: no JMDC_MODEL_DIR;
          // the variants are the template's (the bundle carries no other)
          env: { ...process.env, JMDC_POINT: '0', JMDC_THREADS: '1', JMDC_MODEL_DIR: '', JMDC_VARIANTS: src.variants },
          timeout: 120_000,
        },
      );
      expect(r.stderr).not.toMatch(/Error/);
      const res = JSON.parse(r.stdout.slice(r.stdout.indexOf('{"statusCode"')));
      expect(res).toMatchObject({ statusCode: 200, coldStart: true, point: 0, batch: 1, modelHash: manifest.hash });
      expect(res.logits[0]).toHaveLength(manifest.classes.length);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});
