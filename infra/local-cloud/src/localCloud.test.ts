/**
 * The local cloud on a hand-written assembly of probe functions: cold and warm starts, the Function URL
 * event, SigV4, the Invoke API through the unmodified @aws-sdk/client-lambda, Lambda's error shapes,
 * the concurrency limit, the timeout, idle reaping, fault injection, the endpoints file, and that stop()
 * leaves no process behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROBE_HANDLER, writeFakeAssembly } from './fakeAssembly.js';
import type { InvocationLog, LocalCloud } from './index.js';
import { startLocalCloud } from './index.js';
import { alive, signTestPost, type TestResponse, type TestSigningOptions, testPost } from './testHelpers.js';

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const dir = mkdtempSync(join(tmpdir(), 'jmdc-lc-'));
let cloud: LocalCloud;
const logs: InvocationLog[] = [];
const seenPids = new Set<number>();

function send(path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<TestResponse> {
  return testPost(cloud.url, path, body, headers);
}

/** SigV4 headers for a POST of `body` to `path`, as if sent to `host` (default: the cloud's). */
function signed(
  path: string,
  body: Buffer | string,
  opts: TestSigningOptions & { host?: string } = {},
): Promise<Record<string, string>> {
  return signTestPost(opts.host ?? new URL(cloud.url).host, path, body, opts);
}

async function signedPost(
  path: string,
  body: Buffer | string,
  contentType = 'application/json',
): Promise<TestResponse> {
  return send(path, body, await signed(path, body, { contentType }));
}

function lambda(): LambdaClient {
  return new LambdaClient({ endpoint: cloud.url, region: 'us-east-1', credentials: CREDS, maxAttempts: 1 });
}

async function invoke(name: string, payload: unknown) {
  const out = await lambda().send(
    new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)) }),
  );
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  return { out, body: text ? JSON.parse(text) : undefined };
}

const nameOf = (point: number) => cloud.functions.find((f) => f.point === point)!.name;

beforeAll(async () => {
  writeFakeAssembly(dir, [
    { logicalId: 'Probe', point: 0, code: PROBE_HANDLER, timeoutS: 1 },
    { logicalId: 'Capped', point: 1, code: PROBE_HANDLER, reserved: 1, timeoutS: 10 },
    { logicalId: 'Broken', point: 2, code: PROBE_HANDLER, environment: { PROBE_FAIL_INIT: 'no model here' } },
    { logicalId: 'Faulty', point: 3, code: PROBE_HANDLER, authType: 'NONE' },
    { logicalId: 'Reaped', point: 4, code: PROBE_HANDLER, authType: 'NONE' },
    { logicalId: 'Quitter', point: 5, code: PROBE_HANDLER, environment: { PROBE_EXIT_INIT: '2' } },
    { logicalId: 'Nameless', point: 6, code: PROBE_HANDLER, handler: 'index.missing' },
  ]);
  cloud = await startLocalCloud({
    assemblyDir: dir,
    idleTimeoutMs: 1500,
    maxInstancesPerFunction: 2,
    endpointsFile: join(dir, 'out', 'endpoints.json'),
    onInvocation: (l) => logs.push(l),
  });
});

afterAll(async () => {
  const pids = [...seenPids, ...cloud.pids()];
  await cloud.stop();
  expect(cloud.pids()).toEqual([]);
  for (const pid of pids) expect(alive(pid)).toBe(false);
  rmSync(dir, { recursive: true, force: true });
});

describe('the assembly', () => {
  it('serves every function under the template names and writes the endpoints file', () => {
    expect(cloud.functions.map((f) => f.name)).toEqual([
      'Fake-Probe',
      'Fake-Capped',
      'Fake-Broken',
      'Fake-Faulty',
      'Fake-Reaped',
      'Fake-Quitter',
      'Fake-Nameless',
    ]);
    expect(cloud.functions[1]).toMatchObject({ point: 1, memoryMb: 256, timeoutS: 10, reserved: 1 });
    const file = JSON.parse(readFileSync(join(dir, 'out', 'endpoints.json'), 'utf8'));
    expect(file).toEqual(cloud.endpoints);
    expect(file).toMatchObject({ model: 'fake-model', modelHash: 'sha256:fake', region: 'us-east-1' });
    expect(file.points['2']).toEqual({ url: `${cloud.url}/points/2`, functionName: 'Fake-Broken' });
    expect(cloud.endpointsAt('http://127.0.0.1:9/').points['0']!.url).toBe('http://127.0.0.1:9/points/0');
  });
});

describe('Function URL', () => {
  it('starts an instance cold, measures its init in the child, then reuses it warm', async () => {
    const first = await signedPost('/points/0', '{"echo":1}');
    expect(first.status).toBe(200);
    const a = first.json();
    seenPids.add(a.pid);
    expect(a).toMatchObject({ coldStart: true, echo: 1, functionName: 'Fake-Probe', memory: '256' });
    expect(a.initMs).toBeGreaterThan(0);
    expect(a.remainingMs).toBeGreaterThan(0);
    expect(a.remainingMs).toBeLessThanOrEqual(1000);
    const coldLog = logs.at(-1)!;
    expect(coldLog).toMatchObject({ functionName: 'Fake-Probe', point: 0, cold: true, status: 200, route: 'url' });
    // the bootstrap reports the time from process start to its first GET /next: the module's init is inside it
    expect(coldLog.initMs!).toBeGreaterThanOrEqual(a.initMs);
    const second = (await signedPost('/points/0', '{"echo":2}')).json();
    expect(second).toMatchObject({ coldStart: false, echo: 2, pid: a.pid });
    expect(logs.at(-1)).toMatchObject({ cold: false, instanceId: coldLog.instanceId });
    expect(logs.at(-1)!.initMs).toBeUndefined();
  });

  it('builds a payload format 2.0 event: binary bodies base64, JSON as text, the IAM caller in the context', async () => {
    const bin = Buffer.from([0, 1, 2, 250, 255, 128]);
    const r = (await signedPost('/points/0/sub?x=1', bin, 'application/octet-stream')).json();
    expect(r.event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/sub',
      rawQueryString: 'x=1',
      queryStringParameters: { x: '1' },
      isBase64Encoded: true,
      body: bin.toString('base64'),
      requestContext: {
        http: { method: 'POST', path: '/sub' },
        authorizer: { iam: { accessKey: 'test' } },
        routeKey: '$default',
        stage: '$default',
      },
    });
    expect(r.event.headers['content-type']).toBe('application/octet-stream');
    const j = (await signedPost('/points/0', '{"echo":"t"}')).json();
    expect(j.event).toMatchObject({ isBase64Encoded: false, body: '{"echo":"t"}', rawPath: '/' });
  });

  it('accepts a signature made for another origin when the Host header is that origin (a proxy in front)', async () => {
    const body = '{"echo":"proxy"}';
    const headers = await signed('/points/0', body, { host: 'proxy.local:18999' });
    const r = await send('/points/0', body, headers);
    expect(r.status).toBe(200);
    expect(r.json().echo).toBe('proxy');
  });

  it('refuses unsigned, tampered, wrongly keyed and expired requests with 403 before the function runs', async () => {
    const before = cloud.stats().invocations;
    const body = '{"echo":"x"}';
    const unsigned = await send('/points/0', body, { 'content-type': 'application/json' });
    const tamperedHeaders = await signed('/points/0', body);
    const tampered = await send('/points/0', '{"echo":"y"}', tamperedHeaders);
    const wrongKey = await send('/points/0', body, await signed('/points/0', body, { secret: 'nope' }));
    const old = new Date(Date.now() - 6 * 60_000);
    const expired = await send('/points/0', body, await signed('/points/0', body, { date: old }));
    for (const r of [unsigned, tampered, wrongKey, expired]) {
      expect(r.status).toBe(403);
      expect(r.json()).toEqual({ Message: 'Forbidden' });
    }
    expect(cloud.stats().invocations).toBe(before);
  });

  it('does not check signatures where the template says AuthType NONE', async () => {
    const r = await send('/points/3', '{"echo":"open"}', { 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    expect(r.json().event.requestContext.authorizer).toBeUndefined();
  });

  it('answers 404 for a point with no function and 413 for a body over 6 MB', async () => {
    expect((await send('/points/9', '{}')).status).toBe(404);
    const big = Buffer.alloc(6 * 1024 * 1024 + 1, 0x41);
    const r = await send('/points/0', big, { 'content-type': 'application/octet-stream' });
    expect(r.status).toBe(413);
    expect(r.headers['x-amzn-errortype']).toBe('RequestEntityTooLargeException');
  });

  it('refuses a body declared over 6 MB from its Content-Length, before any of it is sent', async () => {
    const before = logs.length;
    const { port } = new URL(cloud.url);
    const head = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), '127.0.0.1', () => {
        // the headers only: the 7 MB body never comes
        sock.write(
          'POST /points/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 7340032\r\n\r\n',
        );
      });
      let text = '';
      sock.on('data', (c: Buffer) => {
        text += c.toString('latin1');
      });
      sock.on('close', () => resolve(text));
      sock.on('error', reject);
      sock.setTimeout(10_000, () => reject(new Error('no answer without the body')));
    });
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head.toLowerCase()).toContain('x-amzn-errortype: requestentitytoolargeexception');
    expect(logs.slice(before).map((l) => l.status)).toEqual([413]);
  });

  it('answers 502 when the handler throws', async () => {
    const r = await signedPost('/points/0', '{"throw":"bad"}');
    expect(r.status).toBe(502);
    expect(r.json()).toEqual({ Message: 'Internal Server Error' });
    expect(logs.at(-1)).toMatchObject({ status: 502, error: 'TypeError' });
  });
});

describe('Invoke API with the unmodified @aws-sdk/client-lambda', () => {
  it('invokes by name (and by the SDK default name) and returns the handler result', async () => {
    const { out, body } = await invoke(nameOf(0), { echo: 'inv' });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(body).toMatchObject({ echo: 'inv', functionName: 'Fake-Probe' });
    const alias = await invoke('jmdc-fake-model-p0', { echo: 'alias' });
    expect(alias.body.echo).toBe('alias');
    const arn = await invoke(`arn:aws:lambda:us-east-1:000000000000:function:${nameOf(0)}`, { echo: 'arn' });
    expect(arn.body.echo).toBe('arn');
  });

  it('reports a handler that throws as Unhandled with Lambda’s error object', async () => {
    const { out, body } = await invoke(nameOf(0), { throw: 'boom' });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(body).toMatchObject({ errorType: 'TypeError', errorMessage: 'boom' });
    expect(body.trace[0]).toBe('TypeError: boom');
  });

  it('reports a process exit as Runtime.ExitError and starts a new instance next time', async () => {
    const { out, body } = await invoke(nameOf(0), { exit: 3 });
    expect(out.FunctionError).toBe('Unhandled');
    expect(body.errorType).toBe('Runtime.ExitError');
    expect(body.errorMessage).toMatch(/^RequestId: [0-9a-f-]+ Error: Runtime exited with error: exit status 3$/);
    const next = await invoke(nameOf(0), {});
    expect(next.body.coldStart).toBe(true);
    seenPids.add(next.body.pid);
  });

  it('reports an init failure with the init error and keeps serving the other functions', async () => {
    const { out, body } = await invoke(nameOf(2), {});
    expect(out.FunctionError).toBe('Unhandled');
    expect(body).toMatchObject({ errorType: 'RangeError', errorMessage: 'no model here' });
    const url = await send('/points/2', '{}', await signed('/points/2', '{}'));
    expect(url.status).toBe(502);
    expect((await invoke(nameOf(0), { echo: 'still' })).body.echo).toBe('still');
  });

  it('reports an exit during init as Runtime.ExitError and a missing export as Runtime.HandlerNotFound', async () => {
    const quit = await invoke(nameOf(5), {});
    expect(quit.out.FunctionError).toBe('Unhandled');
    expect(quit.body).toMatchObject({ errorType: 'Runtime.ExitError' });
    expect(quit.body.errorMessage).toMatch(/^Error: Runtime exited with error: exit status 2/);
    const missing = await invoke(nameOf(6), {});
    expect(missing.body).toEqual({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.missing is undefined or not exported',
      trace: expect.any(Array),
    });
  });

  it('kills an instance that passes the function timeout and returns Lambda’s timeout error', async () => {
    const warm = await invoke(nameOf(0), {});
    const { out, body } = await invoke(nameOf(0), { sleepMs: 5000 });
    expect(out.FunctionError).toBe('Unhandled');
    expect(body.errorType).toBe('Sandbox.Timedout');
    expect(body.errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    await vi.waitFor(() => expect(alive(warm.body.pid)).toBe(false), { timeout: 5000 });
  });

  it('answers ResourceNotFoundException for an unknown function and RequestEntityTooLargeException over 6 MB', async () => {
    await expect(invoke('no-such-function', {})).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
    const big = { pad: 'x'.repeat(6 * 1024 * 1024) };
    await expect(invoke(nameOf(0), big)).rejects.toMatchObject({
      name: 'RequestEntityTooLargeException',
      $metadata: { httpStatusCode: 413 },
    });
  });

  it('refuses a request signed with an unknown key', async () => {
    const c = new LambdaClient({
      endpoint: cloud.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'other', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    await expect(
      c.send(new InvokeCommand({ FunctionName: nameOf(0), Payload: Buffer.from('{}') })),
    ).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
      $metadata: { httpStatusCode: 403 },
    });
  });
});

describe('concurrency', () => {
  it('throttles a request over the reserved concurrency with 429 TooManyRequestsException', async () => {
    const before = cloud.stats().throttles;
    const slow = invoke(nameOf(1), { sleepMs: 3000 });
    // the first request holds the only instance (reserved concurrency 1), starting or busy, until it answers
    await vi.waitFor(() => expect(cloud.stats().instances).toBeGreaterThan(0));
    await expect(invoke(nameOf(1), {})).rejects.toMatchObject({
      name: 'TooManyRequestsException',
      Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      $metadata: { httpStatusCode: 429 },
    });
    const url = await signedPost('/points/1', '{}');
    expect(url.status).toBe(429);
    expect((await slow).body.coldStart).toBe(true);
    expect(cloud.stats().throttles).toBe(before + 2);
  });

  it('starts a second instance for concurrent requests under the cap', async () => {
    const [a, b] = await Promise.all([invoke(nameOf(3), { sleepMs: 400 }), invoke(nameOf(3), { sleepMs: 400 })]);
    expect(a.body.pid).not.toBe(b.body.pid);
    seenPids.add(a.body.pid);
    seenPids.add(b.body.pid);
  });
});

describe('idle reaping', () => {
  it('kills an instance after the idle timeout; the next request is cold', async () => {
    const first = await invoke(nameOf(4), {});
    seenPids.add(first.body.pid);
    await vi.waitFor(() => expect(alive(first.body.pid)).toBe(false), { timeout: 10_000, interval: 100 });
    const again = await invoke(nameOf(4), {});
    expect(again.body.coldStart).toBe(true);
    expect(again.body.pid).not.toBe(first.body.pid);
  });
});

describe('fault injection', () => {
  it('drops, answers 500, throttles, and counts each', async () => {
    const f = nameOf(3);
    const before = { ...cloud.stats().faults };
    cloud.injectFault(f, { kind: 'drop', count: 1 });
    await expect(send('/points/3', '{}')).rejects.toMatchObject({ code: 'ECONNRESET' });
    cloud.injectFault(f, { kind: 'status500', count: 1 });
    const r500 = await send('/points/3', '{}');
    expect(r500.status).toBe(500);
    cloud.injectFault('*', { kind: 'throttle', count: 1 });
    await expect(invoke(f, {})).rejects.toMatchObject({ name: 'TooManyRequestsException' });
    expect((await invoke(f, { echo: 'after' })).body.echo).toBe('after');
    const after = cloud.stats().faults;
    expect(after.drop).toBe(before.drop! + 1);
    expect(after.status500).toBe(before.status500! + 1);
    expect(after.throttle).toBe(before.throttle! + 1);
  });

  it('kills idle instances (cold storm), an instance mid-request, and fails an init', async () => {
    const f = nameOf(3);
    await invoke(f, {});
    cloud.injectFault(f, { kind: 'coldStorm', count: 1 });
    expect((await invoke(f, {})).body.coldStart).toBe(true);
    cloud.injectFault(f, { kind: 'dieMidRequest', count: 1 });
    const died = await invoke(f, { sleepMs: 200 });
    expect(died.body.errorType).toBe('Runtime.ExitError');
    expect(died.body.errorMessage).toMatch(/signal: kill$/);
    cloud.injectFault(f, { kind: 'initFailure', count: 1 });
    const init = await invoke(f, {});
    expect(init.out.FunctionError).toBe('Unhandled');
    expect(init.body.errorType).toBe('Runtime.InjectedInitFailure');
    const ok = await invoke(f, { echo: 'ok' });
    expect(ok.body.echo).toBe('ok');
    expect(cloud.stats().faults).toMatchObject({ coldStorm: 1, dieMidRequest: 1, initFailure: 1 });
  });

  it('holds a response past the timeout (slow), fires with a probability, and clears', async () => {
    const f = nameOf(3);
    cloud.injectFault(f, { kind: 'slow', delayMs: 300, count: 1 });
    const t0 = performance.now();
    const slow = await invoke(f, { echo: 's' });
    expect(slow.body.echo).toBe('s');
    // the answer was held for the injected delay (timers may fire a millisecond early)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(logs.at(-1)).toMatchObject({ fault: 'slow', status: 200 });
    cloud.injectFault(f, { kind: 'status500', probability: 0 });
    expect((await send('/points/3', '{"echo":1}')).status).toBe(200);
    cloud.injectFault(f, { kind: 'status500' });
    expect((await send('/points/3', '{}')).status).toBe(500);
    cloud.clearFaults();
    expect((await send('/points/3', '{}')).status).toBe(200);
    expect(() => cloud.injectFault('nope', { kind: 'drop' })).toThrow(
      expect.objectContaining({ code: 'JMDC_ERR_LOCAL_CLOUD_UNKNOWN_FUNCTION' }),
    );
  });
});
