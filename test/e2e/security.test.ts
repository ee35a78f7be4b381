/**
 * Who gets in: the local cloud's SigV4 check on both routes (Function URL with AWS_IAM, Invoke API)
 * refuses unsigned, wrongly signed, expired, future-dated and replayed-beyond-skew requests with 403
 * before any function runs; and no path from a request or a manifest leads out of the model folder.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRaw } from '@jmdc/edge-sdk/codec';
import { ErrorCodes } from '@jmdc/edge-sdk/errors';
import { loadModel, resolveModelDir, validateManifest } from '@jmdc/edge-sdk/model';
import { createTailHandler } from '@jmdc/functions';
import { type InvocationLog, type LocalCloud, startLocalCloud, verifySigV4 } from '@jmdc/local-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_HANDLER, writeFakeAssembly } from '../../infra/local-cloud/src/fakeAssembly.js';
import { signTestPost, testPost } from '../../infra/local-cloud/src/testHelpers.js';

const REPO = join(import.meta.dirname, '..', '..');
const TINY = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');
const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const REGION = 'us-east-1';
const SKEW_MS = 300_000;

interface Res {
  status: number;
  text: string;
}

interface Signed {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

describe('SigV4 on the local cloud', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jmdc-sec-'));
  const logs: InvocationLog[] = [];
  let cloud: LocalCloud;
  let invokePath = '';

  const send = (s: Signed): Promise<Res> => testPost(cloud.url, s.path, s.body, s.headers);

  /** A POST of `body` to `path` signed as the SDK signs it (service lambda), with overrides for the attacks. */
  const sign = async (
    path: string,
    body: string,
    opts: { date?: Date; accessKeyId?: string; secret?: string; region?: string } = {},
  ): Promise<Signed> => {
    const bytes = Buffer.from(body);
    return { path, body: bytes, headers: await signTestPost(new URL(cloud.url).host, path, bytes, opts) };
  };

  beforeAll(async () => {
    writeFakeAssembly(dir, [{ logicalId: 'Probe', point: 0, code: PROBE_HANDLER }]);
    cloud = await startLocalCloud({ assemblyDir: dir, onInvocation: (l) => logs.push(l) });
    invokePath = `/2015-03-31/functions/${encodeURIComponent(cloud.functions[0]!.name)}/invocations`;
  });
  afterAll(async () => {
    const pids = cloud.pids();
    await cloud.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    rmSync(dir, { recursive: true, force: true });
  });

  const routes = () => [
    ['Function URL', '/points/0'],
    ['Invoke API', invokePath],
  ];

  it('accepts a correctly signed request on both routes (the control for every refusal below)', async () => {
    for (const [, path] of routes()) {
      const r = await send(await sign(path!, '{"echo":"ok"}'));
      expect([path, r.status]).toEqual([path, 200]);
      expect(JSON.parse(r.text).echo).toBe('ok');
    }
  });

  it('refuses unsigned, wrongly signed, expired, future-dated and replayed-beyond-skew requests with 403, running nothing', async () => {
    const before = cloud.stats().invocations;
    const logged = logs.length;
    const now = Date.now();
    for (const [route, path] of routes()) {
      const body = '{"echo":"x"}';
      const good = await sign(path!, body);
      const attacks: Array<[string, Signed]> = [
        ['unsigned', { path: path!, body: Buffer.from(body), headers: { 'content-type': 'application/json' } }],
        ['wrong secret', await sign(path!, body, { secret: 'not-test' })],
        ['unknown access key', await sign(path!, body, { accessKeyId: 'AKIDEXAMPLE' })],
        ['another region', await sign(path!, body, { region: 'eu-west-1' })],
        ['body changed after signing', { ...good, body: Buffer.from('{"echo":"y"}') }],
        ['signature of another path', { ...(await sign('/points/1', body)), path: path! }],
        [
          'signature cut short',
          { ...good, headers: { ...good.headers, authorization: good.headers.authorization!.slice(0, -2) } },
        ],
        ['expired (signed 6 minutes ago)', await sign(path!, body, { date: new Date(now - 6 * 60_000) })],
        ['future-dated (6 minutes ahead)', await sign(path!, body, { date: new Date(now + 6 * 60_000) })],
        // a request captured just over the skew ago and sent again unchanged
        ['replayed beyond the skew', await sign(path!, body, { date: new Date(now - SKEW_MS - 5_000) })],
      ];
      for (const [name, req] of attacks) {
        const r = await send(req);
        expect([route, name, r.status]).toEqual([route, name, 403]);
        expect(r.text).not.toContain('"echo"');
      }
    }
    expect(cloud.stats().invocations).toBe(before);
    const refused = logs.slice(logged);
    expect(refused).toHaveLength(20);
    for (const l of refused) expect([l.status, l.instanceId]).toEqual([403, '']);
  });

  it('rejects a captured request replayed more than 5 minutes later, either way of the clock (verifySigV4 at a chosen now)', async () => {
    const s = await sign('/points/0', '{"echo":"r"}');
    const at = Date.parse(
      s.headers['x-amz-date']!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    const received = { method: 'POST', url: s.path, headers: s.headers, body: s.body };
    const verify = (offsetMs: number) =>
      verifySigV4(received, { credentials: [CREDS], region: REGION, now: new Date(at + offsetMs) });
    expect((await verify(0)).ok).toBe(true);
    // within the skew a replay verifies, as on AWS: SigV4 bounds replays in time, it does not stop them
    expect((await verify(SKEW_MS - 1000)).ok).toBe(true);
    for (const offset of [SKEW_MS + 1000, -(SKEW_MS + 1000), 24 * 3600_000]) {
      expect(await verify(offset)).toMatchObject({
        ok: false,
        reason: 'expired',
        exception: 'InvalidSignatureException',
      });
    }
  });
});

describe('model files stay inside the model folder', () => {
  const manifest = JSON.parse(readFileSync(join(TINY, 'manifest.json'), 'utf8'));

  it.each([
    ['../outside.onnx'],
    ['r000/../../outside.onnx'],
    ['/etc/passwd'],
    ['..\\outside.onnx'],
  ])('refuses a block file %s with JMDC_ERR_MANIFEST_INVALID', (file) => {
    const m = structuredClone(manifest);
    m.variants[0].blocks[1].file = file;
    expect(() => validateManifest(m, TINY)).toThrow(expect.objectContaining({ code: ErrorCodes.MANIFEST_INVALID }));
  });

  it.each([
    ['../evil'],
    ['a/b'],
    ['/abs'],
    ['UPPER'],
    ['x'.repeat(65)],
  ])('refuses a model id %s in a manifest (MANIFEST_INVALID) and as a name to look up (MODEL_NOT_FOUND)', (id) => {
    const m = structuredClone(manifest);
    m.id = id;
    expect(() => validateManifest(m, TINY)).toThrow(expect.objectContaining({ code: ErrorCodes.MANIFEST_INVALID }));
    if (!id.startsWith('/')) {
      expect(() => resolveModelDir(id)).toThrow(expect.objectContaining({ code: ErrorCodes.MODEL_NOT_FOUND }));
    }
  });

  it('never takes a path from a request: a payload naming a model id like a path gets 409 JMDC_ERR_MODEL_MISMATCH', async () => {
    // version 1 frames carry the model id (version 2 frames carry none: the function knows its model)
    const { manifest: mf } = loadModel(TINY);
    const tail = await createTailHandler({ point: 0, modelDir: TINY, threads: 1, log: () => {} });
    try {
      for (const id of ['../../etc/passwd', '/var/task/model', `${mf.id}/../${mf.id}`]) {
        const bytes = encodeRaw(new Uint8Array(28 * 28), [1, 28, 28], 1, {
          model: { id, hash: mf.hash },
          frameVersion: 1,
        });
        const res = (await tail.handle({ payload: Buffer.from(bytes).toString('base64') })) as {
          statusCode: number;
          error?: { code: string };
        };
        expect([id, res.statusCode, res.error?.code]).toEqual([id, 409, ErrorCodes.MODEL_MISMATCH]);
      }
    } finally {
      await tail.close();
    }
  });
});
