/** Helpers of the local cloud's tests (and the repository's end-to-end tests): signed POSTs, process checks. */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from './sigv4.js';

/** Overrides of {@link signTestPost}, for the attacks. */
export interface TestSigningOptions {
  date?: Date;
  /** @default 'test' */
  accessKeyId?: string;
  /** @default 'test' */
  secret?: string;
  /** @default 'us-east-1' */
  region?: string;
  /** @default 'application/json' */
  contentType?: string;
}

/**
 * Headers of a POST of `body` to `path` (query included) on `host`, SigV4-signed as the SDK signs it
 * (service `lambda`, the local cloud's test credentials).
 */
export async function signTestPost(
  host: string,
  path: string,
  body: Buffer | string,
  opts: TestSigningOptions = {},
): Promise<Record<string, string>> {
  const u = new URL(path, 'http://x');
  const signer = new SignatureV4({
    service: 'lambda',
    region: opts.region ?? 'us-east-1',
    credentials: { accessKeyId: opts.accessKeyId ?? 'test', secretAccessKey: opts.secret ?? 'test' },
    sha256: NodeSha256,
  });
  const bytes = Buffer.from(body);
  const req = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: host.split(':')[0]!,
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      headers: {
        host,
        'content-type': opts.contentType ?? 'application/json',
        'x-amz-content-sha256': createHash('sha256').update(bytes).digest('hex'),
      },
      body: bytes,
    },
    opts.date ? { signingDate: opts.date } : {},
  );
  return req.headers as Record<string, string>;
}

/** Whether a process `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An answer of {@link testPost}. */
export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked field by field
  json: () => any;
}

/** A POST of `body` to `path` on the server at `baseUrl`, with `headers` (content-length is set). */
export function testPost(
  baseUrl: string,
  path: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
): Promise<TestResponse> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path,
        headers: { 'content-length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
