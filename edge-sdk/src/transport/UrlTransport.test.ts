import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError, type TransportError } from '../errors.js';
import { UrlTransport } from './UrlTransport.js';

const CREDS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'tok123',
};
const REGION = 'eu-west-1';

const OK = {
  classes: [3],
  logits: [[0, 0, 0, 5, 0, 0, 0, 0, 0, 0]],
  serverMs: 4.5,
  decodeMs: 0.5,
  inferMs: 4,
  coldStart: false,
  initMs: 0,
  modelHash: 'sha256:ab',
  requestId: 'r-1',
};

interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse, hit: number) => void;

let server: Server;
let base: string;
let hits: Hit[] = [];
let handler: Handler = (_req, _body, res) => res.end(JSON.stringify(OK));

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, body, res, hits.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

afterEach(() => {
  hits = [];
  handler = (_req, _body, res) => res.end(JSON.stringify(OK));
});

function transport(extra: Partial<ConstructorParameters<typeof UrlTransport>[0]> = {}): UrlTransport {
  return new UrlTransport({
    urls: { 0: `${base}/points/0`, 2: `${base}/points/2?x=1` },
    region: REGION,
    credentials: CREDS,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...extra,
  });
}

async function failure(p: Promise<unknown>): Promise<TransportError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(Error);
  return e as TransportError;
}

describe('UrlTransport', () => {
  it('signs with SigV4 so that the server can verify the signature with the same credentials', async () => {
    const t = transport();
    const payload = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 7) & 255);
    const r = await t.send(2, payload);
    await t.close();
    expect(r.response).toEqual(OK);
    expect(r.attempts).toBe(1);
    expect(r.bytes).toBe(40_000);
    const hit = hits[0] as Hit;
    expect(hit.body.equals(Buffer.from(payload))).toBe(true);
    const h = hit.headers;
    expect(h['x-amz-content-sha256']).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(h['x-amz-security-token']).toBe('tok123');
    const auth = String(h.authorization);
    const m =
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/(\d{8})\/eu-west-1\/lambda\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    expect(m, auth).not.toBeNull();
    const signed = (m?.[2] ?? '').split(';');
    expect(signed).toEqual(expect.arrayContaining(['host', 'x-amz-content-sha256', 'x-amz-date']));
    // recompute server-side from what arrived
    const url = new URL(hit.url, base);
    const headers: Record<string, string> = {};
    for (const name of signed) headers[name] = String(h[name]);
    const verifier = new SignatureV4({ service: 'lambda', region: REGION, credentials: CREDS, sha256: Sha256 });
    const amzDate = String(h['x-amz-date']);
    const date = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const again = await verifier.sign(
      {
        method: hit.method,
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body: hit.body,
      },
      { signingDate: date },
    );
    expect(again.headers.authorization).toBe(auth);
    // a different secret gives a different signature
    const forged = await new SignatureV4({
      service: 'lambda',
      region: REGION,
      credentials: { ...CREDS, secretAccessKey: 'other' },
      sha256: Sha256,
    }).sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body: hit.body,
      },
      { signingDate: date },
    );
    expect(forged.headers.authorization).not.toBe(auth);
  });

  it('retries a 503 and succeeds on the third attempt (3 server hits)', async () => {
    handler = (_q, _b, res, n) => {
      if (n < 3) {
        res.statusCode = 503;
        res.end('{"error":{"code":"BUSY","message":"try later"}}');
      } else res.end(JSON.stringify(OK));
    };
    const t = transport();
    const r = await t.send(0, new Uint8Array(10));
    await t.close();
    expect(r.attempts).toBe(3);
    expect(hits.length).toBe(3);
  });

  it('retries 429, 502 and 504 but gives up after maxAttempts with a retryable JMDC_ERR_CLOUD_ERROR', async () => {
    const statuses = [429, 502, 504];
    handler = (_q, _b, res, n) => {
      res.statusCode = statuses[n - 1] ?? 504;
      res.end('busy');
    };
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.CLOUD_ERROR);
    expect(e.retryable).toBe(true);
    expect(e.status).toBe(504);
    expect(hits.length).toBe(3);
  });

  it('never retries a 400: one hit, JMDC_ERR_CLOUD_REJECTED with the cloud code', async () => {
    handler = (_q, _b, res) => {
      res.statusCode = 400;
      res.end('{"error":{"code":"JMDC_ERR_BAD_MAGIC","message":"not a payload"}}');
    };
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.CLOUD_REJECTED);
    expect(e.retryable).toBe(false);
    expect(e.details.cloudCode).toBe('JMDC_ERR_BAD_MAGIC');
    expect(hits.length).toBe(1);
  });

  it('does not retry a 500 (the function may have run)', async () => {
    handler = (_q, _b, res) => {
      res.statusCode = 500;
      res.end('{"error":{"code":"JMDC_ERR_INTERNAL","message":"boom"}}');
    };
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.CLOUD_ERROR);
    expect(e.retryable).toBe(false);
    expect(hits.length).toBe(1);
  });

  it('does not retry when the connection drops after the request was sent', async () => {
    handler = (req) => req.socket.destroy();
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(100)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.NETWORK);
    expect(e.retryable).toBe(false);
    expect(hits.length).toBe(1);
  });

  it('retries a refused connection, then fails with a retryable JMDC_ERR_NETWORK', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    let draws = 0;
    const t = new UrlTransport({
      urls: { 1: `http://127.0.0.1:${port}/` },
      signing: false,
      local: true,
      retry: {
        baseDelayMs: 1,
        random: () => {
          draws++;
          return 0.5;
        },
      },
    });
    const e = await failure(t.send(1, new Uint8Array(1)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.NETWORK);
    expect(e.retryable).toBe(true);
    expect(e.details.code).toBe('ECONNREFUSED');
    expect(draws).toBe(2); // 3 attempts = 2 backoffs
  });

  it('fails with JMDC_ERR_TIMEOUT when the headers do not come in time (sent: not retried)', async () => {
    handler = () => {}; // never answers
    const t = transport({ timeouts: { headersMs: 300 } });
    const e = await failure(t.send(0, new Uint8Array(10)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.TIMEOUT);
    expect(e.retryable).toBe(false);
    expect(hits.length).toBe(1);
  });

  describe('connect timeout', () => {
    // A listener whose accept queue is full drops new SYNs, so a connect hangs: a child process
    // listens with backlog 1 and then blocks its event loop; filler sockets fill the queue.
    let child: ChildProcess;
    let port = 0;
    const fillers: Socket[] = [];
    beforeAll(async () => {
      child = spawn(
        process.execPath,
        [
          '-e',
          "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);setTimeout(()=>{const e=Date.now()+30000;while(Date.now()<e){}},50)})",
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      port = await new Promise<number>((r) => child.stdout?.once('data', (d) => r(Number(String(d).trim()))));
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => {}));
      await new Promise((r) => setTimeout(r, 200));
    });
    afterAll(() => {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    });

    it('fails with a retryable JMDC_ERR_TIMEOUT when the connection is not established in time', async () => {
      const t = new UrlTransport({
        urls: { 1: `http://127.0.0.1:${port}/` },
        signing: false,
        local: true,
        timeouts: { connectMs: 200 },
        retry: { maxAttempts: 1 },
      });
      const e = await failure(t.send(1, new Uint8Array(1)));
      await t.close();
      expect(e.code).toBe(ErrorCodes.TIMEOUT);
      expect(e.retryable).toBe(true);
      expect(e.details.code).toBe('UND_ERR_CONNECT_TIMEOUT');
    });
  });

  it('gives up at the deadline with JMDC_ERR_DEADLINE', async () => {
    handler = (_q, _b, res) => setTimeout(() => res.end(JSON.stringify(OK)), 1500);
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10), { deadline: Date.now() + 150 }));
    await t.close();
    expect(e.code).toBe(ErrorCodes.DEADLINE);
    expect(hits.length).toBe(1);
  });

  it('stops with JMDC_ERR_ABORTED when the caller aborts', async () => {
    handler = (_q, _b, res) => setTimeout(() => res.end(JSON.stringify(OK)), 1500);
    const t = transport();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await failure(t.send(0, new Uint8Array(10), { signal: ac.signal }));
    await t.close();
    expect(e.code).toBe(ErrorCodes.ABORTED);
  });

  it('rejects a malformed success body with JMDC_ERR_CLOUD_ERROR', async () => {
    handler = (_q, _b, res) => res.end('{"classes":[1]}');
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.CLOUD_ERROR);
    expect(e.retryable).toBe(false);
  });

  it('refuses signing: false for a non-local URL with JMDC_ERR_INVALID_ARGUMENT', () => {
    let err: unknown;
    try {
      new UrlTransport({ urls: { 1: 'https://abc.lambda-url.eu-west-1.on.aws/' }, signing: false });
    } catch (e) {
      err = e;
    }
    expect(isJmdcError(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
  });

  it('sends unsigned to a local cloud, reports its timings and probes without running anything', async () => {
    const t = transport({ signing: false, local: true });
    const r = await t.send(0, new Uint8Array(64 * 1024));
    expect(hits[0]?.headers.authorization).toBeUndefined();
    expect(r.uploadMeasured).toBe(true);
    expect(r.uploadMs).toBeGreaterThanOrEqual(0);
    expect(r.uploadMs).toBeLessThanOrEqual(r.totalMs);
    expect(r.serverMs).toBe(4.5);
    const ms = await t.probe(0);
    expect(ms).toBeGreaterThan(0);
    expect(hits[1]?.method).toBe('HEAD');
    await t.close();
    expect(isJmdcError(await t.send(0, new Uint8Array(1)).catch((e: unknown) => e), ErrorCodes.CLOSED)).toBe(true);
  });
});
