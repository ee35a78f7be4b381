import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError, type TransportError } from '../errors.js';
import { attemptsOf } from './retry.js';
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
    expect(draws).toBe(2); // 3 tries = 2 backoffs
    expect(attemptsOf(e)).toBe(0); // none was written
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

  it('rejects a malformed success body with JMDC_ERR_BAD_RESPONSE', async () => {
    handler = (_q, _b, res) => res.end('{"classes":[1]}');
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.BAD_RESPONSE);
    expect(e.retryable).toBe(false);
  });

  it('refuses signing: false for a non-loopback IP literal with JMDC_ERR_INVALID_ARGUMENT', () => {
    let err: unknown;
    try {
      new UrlTransport({ urls: { 1: 'http://10.1.2.3:18790/points/1' }, signing: false });
    } catch (e) {
      err = e;
    }
    expect(isJmdcError(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect((err as Error).message).toContain('10.1.2.3 is not');
  });

  it('sends unsigned to a local cloud, reports its timings and probes without running anything', async () => {
    const t = transport({ signing: false });
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

const TEN = { classes: 10, batch: 1, modelHash: 'sha256:ab' };

function answer(patch: Record<string, unknown>): Handler {
  return (_q, _b, res) => res.end(JSON.stringify({ ...OK, ...patch }));
}

describe('UrlTransport: answers are validated as what they claim', () => {
  const hostile: Array<[string, Handler, string]> = [
    [
      'logits beyond the float32 range',
      answer({ logits: [[1e39, 0, 0, 5, 0, 0, 0, 0, 0, 0]] }),
      ErrorCodes.BAD_RESPONSE,
    ],
    ['a row of 9 logits for 10 classes', answer({ logits: [[0, 0, 0, 5, 0, 0, 0, 0, 0]] }), ErrorCodes.BAD_RESPONSE],
    [
      'two rows for one image',
      answer({ classes: [3, 3], logits: [OK.logits[0], OK.logits[0]] }),
      ErrorCodes.BAD_RESPONSE,
    ],
    ['no modelHash', answer({ modelHash: undefined }), ErrorCodes.BAD_RESPONSE],
    ['another model hash', answer({ modelHash: 'sha256:other' }), ErrorCodes.MODEL_MISMATCH],
    ['a class that is not the argmax', answer({ classes: [2] }), ErrorCodes.BAD_RESPONSE],
    ['garbage instead of JSON', (_q, _b, res) => res.end('<html>hello</html>'), ErrorCodes.BAD_RESPONSE],
    ['a JSON array', (_q, _b, res) => res.end('[1,2,3]'), ErrorCodes.BAD_RESPONSE],
    [
      'a 2 MiB body with its content-length',
      (_q, _b, res) => {
        res.setHeader('content-length', String(2 * 1024 * 1024));
        res.end(Buffer.alloc(2 * 1024 * 1024, 32));
      },
      ErrorCodes.RESPONSE_TOO_LARGE,
    ],
    [
      'a 2 MiB chunked body',
      (_q, _b, res) => {
        res.write(Buffer.alloc(1024 * 1024, 32));
        res.end(Buffer.alloc(1024 * 1024, 32));
      },
      ErrorCodes.RESPONSE_TOO_LARGE,
    ],
    [
      'a redirect',
      (_q, _b, res) => {
        res.statusCode = 307;
        res.setHeader('location', `${base}/elsewhere`);
        res.end();
      },
      ErrorCodes.REDIRECT,
    ],
  ];
  for (const [what, h, code] of hostile) {
    it(`rejects ${what} with ${code}, not retried`, async () => {
      handler = h;
      const t = transport({ expect: TEN });
      const e = await failure(t.send(0, new Uint8Array(10)));
      await t.close();
      expect(e.code).toBe(code);
      expect(e.retryable).toBe(false);
      expect(hits.length).toBe(1); // the redirect target is never requested either
      expect(attemptsOf(e)).toBe(1);
    });
  }

  it('takes the expected batch from send and the rest from the transport', async () => {
    const t = transport({ expect: { classes: 10, modelHash: 'sha256:ab' } });
    const e = await failure(t.send(0, new Uint8Array(10), { expect: { batch: 2 } }));
    expect(e.code).toBe(ErrorCodes.BAD_RESPONSE);
    expect(e.message).toContain('1 rows of logits for 2 images');
    const r = await t.send(0, new Uint8Array(10), { expect: { batch: 1 } });
    await t.close();
    expect(r.response.classes).toEqual([3]);
  });

  it('fails with JMDC_ERR_TIMEOUT when the headers drip in slower than headersMs', async () => {
    handler = (req) => {
      const sock = req.socket;
      sock.write('HTTP/1.1 200 OK\r\n');
      const drip = setInterval(() => {
        if (sock.destroyed) clearInterval(drip);
        else sock.write('x-drip: 1\r\n');
      }, 50);
      sock.on('close', () => clearInterval(drip));
    };
    const t = transport({ timeouts: { headersMs: 300 } });
    const e = await failure(t.send(0, new Uint8Array(10)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.TIMEOUT);
    expect(e.details.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(hits.length).toBe(1);
  });

  it('uses the logits of an answer with implausible timings but marks them so that nobody learns them', async () => {
    handler = answer({ serverMs: 1e6 });
    const t = transport({ expect: TEN });
    const r = await t.send(0, new Uint8Array(10));
    expect(r.response.classes).toEqual([3]);
    expect(r.timingsPlausible).toBe(false);
    expect(r.implausible).toEqual(['serverMs']);
    expect(r.requests[0]?.serverMs).toBeUndefined();
    handler = answer({ coldStart: true, initMs: 1e308 });
    const cold = await t.send(0, new Uint8Array(10));
    expect(cold.implausible).toEqual(['initMs']);
    handler = answer({ serverMs: 1 });
    const fine = await t.send(0, new Uint8Array(10));
    await t.close();
    expect(fine.timingsPlausible).toBe(true);
    expect(fine.implausible).toEqual([]);
    expect(fine.requests[0]?.serverMs).toBe(1);
  });
});

describe('UrlTransport: attempts and Retry-After', () => {
  it('counts every request the server saw, also when all of them fail', async () => {
    handler = (_q, _b, res) => {
      res.statusCode = 503;
      res.end('busy');
    };
    const seen: number[] = [];
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10), { onRequest: (x) => seen.push(x.status ?? 0) }));
    await t.close();
    expect(hits.length).toBe(3);
    expect(attemptsOf(e)).toBe(3);
    expect(seen).toEqual([503, 503, 503]);
  });

  it('waits the Retry-After of a 503 when the deadline allows it, then succeeds', async () => {
    const at: number[] = [];
    handler = (_q, _b, res, n) => {
      at.push(Date.now());
      if (n === 1) {
        res.statusCode = 503;
        res.setHeader('retry-after', '1');
        res.end('later');
      } else res.end(JSON.stringify(OK));
    };
    const t = transport({ retry: { baseDelayMs: 1, maxDelayMs: 2, random: () => 0 } });
    const r = await t.send(0, new Uint8Array(10), { deadline: Date.now() + 5000 });
    await t.close();
    expect(r.attempts).toBe(2);
    expect(hits.length).toBe(2);
    // without Retry-After the jitter (random = 0) would retry at once
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(990);
  });

  it('gives up at once with a retryable error when Retry-After reaches past the deadline', async () => {
    handler = (_q, _b, res) => {
      res.statusCode = 429;
      res.setHeader('retry-after', '30');
      res.end('slow down');
    };
    const t = transport();
    const e = await failure(t.send(0, new Uint8Array(10), { deadline: Date.now() + 5000 }));
    await t.close();
    expect(hits.length).toBe(1);
    expect(e.code).toBe(ErrorCodes.CLOUD_ERROR);
    expect(e.retryable).toBe(true);
    expect(e.status).toBe(429);
    expect(e.details.retryAfterMs).toBe(30_000);
    expect(e.details.retryAfterExceeded).toBe(true);
    expect(attemptsOf(e)).toBe(1);
  });
});

describe('UrlTransport: per-request timing and the upload probe', () => {
  it('reports bytes on the wire and time to first byte for every request', async () => {
    handler = (_q, _b, res, n) => {
      if (n === 1) {
        res.statusCode = 502;
        res.end('bad gateway');
      } else res.end(JSON.stringify(OK));
    };
    const seen: number[] = [];
    const t = transport();
    const r = await t.send(2, new Uint8Array(300), { onRequest: (x) => seen.push(x.bodyBytes) });
    await t.close();
    expect(seen).toEqual([300, 300]);
    expect(r.requests.map((x) => x.status)).toEqual([502, 200]);
    expect(r.attempts).toBe(2);
    const last = r.requests[1];
    // the signed request carries an authorization header and more: well over 300 bytes of head
    expect(r.bytesSent).toBeGreaterThan(300 + 300);
    expect(last?.bytesSent).toBe(r.bytesSent);
    expect(r.ttfbMs).toBeGreaterThan(0);
    expect(r.ttfbMs).toBeLessThanOrEqual(r.totalMs);
    expect(last?.serverMs).toBe(4.5);
    expect(last?.measured).toBe(true);
  });

  it('probeUpload sends n zero bytes that the function rejects and returns their timing', async () => {
    handler = (_q, _b, res) => {
      res.statusCode = 400;
      res.end('{"error":{"code":"JMDC_ERR_BAD_MAGIC","message":"not a jmdc payload"},"serverMs":0.2}');
    };
    const t = transport();
    const timing = await t.probeUpload(2, 5000);
    await t.close();
    expect(hits.length).toBe(1);
    expect(hits[0]?.body.equals(Buffer.alloc(5000))).toBe(true);
    expect(hits[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    expect(timing).toMatchObject({ point: 2, bodyBytes: 5000, status: 400, serverMs: 0.2, measured: true });
    expect(timing.bytesSent).toBeGreaterThan(5000);
  });

  it('probeUpload refuses a size outside 1..6 MiB and reports a 2xx as JMDC_ERR_BAD_RESPONSE', async () => {
    const t = transport();
    expect((await failure(t.probeUpload(2, 0))).code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(hits.length).toBe(0);
    const e = await failure(t.probeUpload(2, 10));
    await t.close();
    expect(e.code).toBe(ErrorCodes.BAD_RESPONSE);
  });
});

describe('UrlTransport: unsigned requests only to loopback', () => {
  it('sends unsigned to localhost (resolved to loopback)', async () => {
    const port = new URL(base).port;
    const t = new UrlTransport({ urls: { 1: `http://localhost:${port}/points/1` }, signing: false });
    const r = await t.send(1, new Uint8Array(4));
    await t.close();
    expect(r.response.classes).toEqual([3]);
    expect(hits[0]?.headers.authorization).toBeUndefined();
  });

  it('refuses an unsigned request to a name under .invalid before anything is sent', async () => {
    const t = new UrlTransport({ urls: { 1: 'http://cloud.example.invalid:18790/points/1' }, signing: false });
    const e = await failure(t.send(1, new Uint8Array(4)));
    const p = await failure(t.probe(1));
    await t.close();
    expect(e.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(e.message).toContain('cloud.example.invalid does not resolve');
    expect(p.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(attemptsOf(e)).toBe(0);
  });

  it('refuses a name that resolves to loopback and another address', async () => {
    const t = new UrlTransport({
      urls: { 1: 'http://mixed.example.invalid:18790/points/1' },
      signing: false,
      lookup: async () => [
        { address: '127.0.0.1', family: 4 },
        { address: '192.0.2.7', family: 4 },
      ],
    });
    const e = await failure(t.send(1, new Uint8Array(4)));
    await t.close();
    expect(e.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(e.message).toContain('192.0.2.7');
  });
});
