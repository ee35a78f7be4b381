import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, type TransportError } from '../errors.js';
import { InvokeTransport } from './InvokeTransport.js';
import { attemptsOf } from './retry.js';

const OK = {
  classes: [1, 2],
  logits: [
    [0, 9, 0],
    [0, 0, 9],
  ],
  serverMs: 12,
  decodeMs: 1,
  inferMs: 11,
  coldStart: true,
  initMs: 850,
  modelHash: 'sha256:cd',
  requestId: 'abc',
};

let server: Server;
let endpoint: string;
let hits: Array<{ url: string; body: string; auth: string | undefined }> = [];
let handler: (res: ServerResponse, n: number) => void = (res) => res.end(JSON.stringify(OK));

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      hits.push({ url: req.url ?? '', body, auth: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      handler(res, hits.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

afterEach(() => {
  hits = [];
  handler = (res) => res.end(JSON.stringify(OK));
});

function transport(): InvokeTransport {
  return new InvokeTransport({
    functions: { 0: 'jmdc-tiny-p0', 3: 'jmdc-tiny-p3' },
    region: 'eu-west-1',
    endpoint,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
}

function throttle(res: ServerResponse): void {
  res.statusCode = 429;
  res.setHeader('x-amzn-errortype', 'TooManyRequestsException');
  res.end('{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}');
}

describe('InvokeTransport', () => {
  it('invokes the function of the point with { payload: base64 } and parses its answer', async () => {
    const t = transport();
    const payload = Uint8Array.of(1, 2, 3, 250);
    const r = await t.send(3, payload);
    await t.close();
    expect(hits[0]?.url).toBe('/2015-03-31/functions/jmdc-tiny-p3/invocations');
    expect(JSON.parse(hits[0]?.body ?? '')).toEqual({ payload: Buffer.from(payload).toString('base64') });
    expect(hits[0]?.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
    expect(r.response).toEqual(OK);
    expect(r.uploadMeasured).toBe(false);
    expect(r.serverMs).toBe(12);
  });

  it('retries Lambda throttling (429 TooManyRequestsException)', async () => {
    handler = (res, n) => (n === 1 ? throttle(res) : res.end(JSON.stringify(OK)));
    const t = transport();
    const r = await t.send(0, new Uint8Array(3));
    await t.close();
    expect(r.attempts).toBe(2);
    expect(hits.length).toBe(2);
  });

  it('never retries a 400 from the function: JMDC_ERR_CLOUD_REJECTED after one hit', async () => {
    handler = (res) => res.end('{"statusCode":400,"error":{"code":"JMDC_ERR_BAD_MAGIC","message":"bad"}}');
    const t = transport();
    const e = (await t.send(0, new Uint8Array(3)).catch((x: unknown) => x)) as TransportError;
    await t.close();
    expect(e.code).toBe(ErrorCodes.CLOUD_REJECTED);
    expect(e.details.cloudCode).toBe('JMDC_ERR_BAD_MAGIC');
    expect(hits.length).toBe(1);
  });

  it('reports an unhandled function error as JMDC_ERR_CLOUD_ERROR without retrying', async () => {
    handler = (res) => {
      res.setHeader('x-amz-function-error', 'Unhandled');
      res.end('{"errorType":"Error","errorMessage":"kaboom"}');
    };
    const t = transport();
    const e = (await t.send(0, new Uint8Array(3)).catch((x: unknown) => x)) as TransportError;
    await t.close();
    expect(e.code).toBe(ErrorCodes.CLOUD_ERROR);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/kaboom/);
    expect(hits.length).toBe(1);
  });

  it('uses an injected LambdaClient', async () => {
    const client = new LambdaClient({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'X', secretAccessKey: 'Y' },
      maxAttempts: 1,
    });
    const t = new InvokeTransport({ functions: { 1: 'f1' }, client });
    await t.send(1, new Uint8Array(1));
    await t.close();
    expect(hits[0]?.url).toBe('/2015-03-31/functions/f1/invocations');
    client.destroy();
  });

  it("gives up at once when the throttle's Retry-After reaches past the deadline", async () => {
    handler = (res) => {
      res.setHeader('retry-after', '30');
      throttle(res);
    };
    const t = transport();
    const e = (await t
      .send(0, new Uint8Array(3), { deadline: Date.now() + 5000 })
      .catch((x: unknown) => x)) as TransportError;
    await t.close();
    expect(hits.length).toBe(1);
    expect(e.code).toBe(ErrorCodes.CLOUD_ERROR);
    expect(e.retryable).toBe(true);
    expect(e.details.retryAfterMs).toBe(30_000);
    expect(attemptsOf(e)).toBe(1);
  });

  it('validates the answer like the URL transport: float32 logits and the model hash', async () => {
    const t = new InvokeTransport({
      functions: { 0: 'f0' },
      endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      expect: { modelHash: 'sha256:cd', classes: 3 },
    });
    handler = (res) => res.end(JSON.stringify({ ...OK, logits: [[0, 1e39, 0], OK.logits[1]] }));
    const big = (await t.send(0, new Uint8Array(3)).catch((x: unknown) => x)) as TransportError;
    handler = (res) => res.end(JSON.stringify({ ...OK, modelHash: 'sha256:zz' }));
    const other = (await t.send(0, new Uint8Array(3)).catch((x: unknown) => x)) as TransportError;
    handler = (res) => res.end(JSON.stringify({ ...OK, serverMs: 1e6 }));
    const implausible = await t.send(0, new Uint8Array(3), { expect: { batch: 2 } });
    await t.close();
    expect(big.code).toBe(ErrorCodes.BAD_RESPONSE);
    expect(other.code).toBe(ErrorCodes.MODEL_MISMATCH);
    expect(other.retryable).toBe(false);
    expect(implausible.timingsPlausible).toBe(false);
    expect(implausible.requests).toHaveLength(1);
    expect(implausible.requests[0]?.measured).toBe(false);
  });

  it('counts no attempt for a refused connection and keeps the socket error as cause', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const t = new InvokeTransport({
      functions: { 0: 'f0' },
      endpoint: `http://127.0.0.1:${port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const e = (await t.send(0, new Uint8Array(3)).catch((x: unknown) => x)) as TransportError;
    await t.close();
    expect(e.code).toBe(ErrorCodes.NETWORK);
    expect(e.retryable).toBe(true);
    expect(e.details.code).toBe('ECONNREFUSED');
    expect(e.cause).toBeInstanceOf(Error);
    expect(attemptsOf(e)).toBe(0);
  });

  it('fails with JMDC_ERR_DEPENDENCY_MISSING when @aws-sdk/client-lambda is not installed, sending nothing', async () => {
    const t = new InvokeTransport({
      functions: { 0: 'f0' },
      endpoint,
      loadSdk: async () => {
        throw Object.assign(new Error("Cannot find package '@aws-sdk/client-lambda'"), {
          code: 'ERR_MODULE_NOT_FOUND',
        });
      },
    });
    const e = (await t.send(0, new Uint8Array(3)).catch((x: unknown) => x)) as TransportError;
    await t.close();
    expect(hits.length).toBe(0);
    expect(e.code).toBe(ErrorCodes.DEPENDENCY_MISSING);
  });
});
