/**
 * SigV4 verification as Lambda does it for Function URLs with `AuthType: AWS_IAM` and for the Invoke
 * API: the signature is recomputed with `@smithy/signature-v4` from the request as received (its Host
 * header included, so a request signed for a proxy in front is checked against that proxy's host) and
 * compared in constant time; `X-Amz-Date` must be within 5 minutes of now, and a signed
 * `x-amz-content-sha256` must be the hash of the body.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

/** Accepted credentials. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Why a request was refused, with the exception name Lambda's API uses for it. */
export type SigV4Failure =
  | { ok: false; reason: 'missing'; exception: 'MissingAuthenticationTokenException'; message: string }
  | { ok: false; reason: 'unknownKey'; exception: 'UnrecognizedClientException'; message: string }
  | {
      ok: false;
      reason: 'expired' | 'mismatch' | 'malformed';
      exception: 'InvalidSignatureException';
      message: string;
    };

export type SigV4Result = { ok: true; accessKeyId: string } | SigV4Failure;

/** The request as the server received it. */
export interface ReceivedRequest {
  method: string;
  /** Path and query as received (`req.url`), still percent-encoded. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

/** Options of {@link verifySigV4}. */
export interface VerifyOptions {
  credentials: readonly Credentials[];
  region: string;
  /** @default 'lambda' */
  service?: string;
  /** @default new Date() */
  now?: Date;
  /** @default 300_000 (5 minutes, as AWS) */
  maxSkewMs?: number;
}

type Data = string | ArrayBuffer | ArrayBufferView;

function bytes(d: Data): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

/** SHA-256 / HMAC-SHA256 for `@smithy/signature-v4`, from node:crypto. */
export class NodeSha256 {
  private h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(private readonly secret?: Data) {
    this.h = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: Data): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.fresh();
  }
}

const AUTH = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;

function fail(reason: SigV4Failure['reason'], message: string): SigV4Failure {
  if (reason === 'missing') return { ok: false, reason, exception: 'MissingAuthenticationTokenException', message };
  if (reason === 'unknownKey') return { ok: false, reason, exception: 'UnrecognizedClientException', message };
  return { ok: false, reason, exception: 'InvalidSignatureException', message };
}

/** `20250101T120000Z` -> Date, or undefined. */
function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * Verifies the SigV4 `Authorization` header of a received request. Never throws.
 *
 * @example
 * const r = await verifySigV4({ method: req.method!, url: req.url!, headers: req.headers, body }, { credentials: [{ accessKeyId: 'test', secretAccessKey: 'test' }], region: 'us-east-1' })
 * if (!r.ok) res.writeHead(403).end('{"Message":"Forbidden"}')
 */
export async function verifySigV4(req: ReceivedRequest, opts: VerifyOptions): Promise<SigV4Result> {
  const service = opts.service ?? 'lambda';
  const auth = headerValue(req.headers.authorization);
  if (!auth) return fail('missing', 'Missing Authentication Token');
  const m = AUTH.exec(auth);
  if (!m) return fail('malformed', 'Authorization header is not a SigV4 AWS4-HMAC-SHA256 signature');
  const [, credential, signedList, signature] = m as unknown as [string, string, string, string];
  const scope = credential.split('/');
  if (scope.length !== 5)
    return fail('malformed', `Credential ${credential} is not <key>/<date>/<region>/<service>/aws4_request`);
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = scope as [
    string,
    string,
    string,
    string,
    string,
  ];
  const creds = opts.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (!creds) return fail('unknownKey', 'The security token included in the request is invalid.');
  const amzDate = headerValue(req.headers['x-amz-date']);
  const date = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!date || !amzDate) return fail('malformed', 'X-Amz-Date is missing or malformed');
  if (scopeDate !== amzDate.slice(0, 8) || terminator !== 'aws4_request') {
    return fail('malformed', `Credential scope ${scope.slice(1).join('/')} does not match the request date`);
  }
  if (scopeRegion !== opts.region || scopeService !== service) {
    return fail('mismatch', `Credential should be scoped to a valid region and service ${opts.region}/${service}`);
  }
  const now = opts.now ?? new Date();
  const skew = opts.maxSkewMs ?? 300_000;
  if (Math.abs(now.getTime() - date.getTime()) > skew) {
    return fail(
      'expired',
      `Signature expired: ${amzDate} is now earlier or later than ${new Date(now.getTime() - skew).toISOString()} (${new Date(now.getTime() + skew).toISOString()})`,
    );
  }
  const signedNames = signedList.split(';');
  if (!signedNames.includes('host')) return fail('malformed', 'SignedHeaders must include host');
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const v = headerValue(req.headers[name]);
    if (v === undefined) return fail('mismatch', `signed header ${name} is missing from the request`);
    headers[name] = v;
  }
  const contentSha = headers['x-amz-content-sha256'];
  if (contentSha !== undefined && contentSha !== 'UNSIGNED-PAYLOAD') {
    const actual = createHash('sha256').update(req.body).digest('hex');
    if (contentSha.toLowerCase() !== actual) {
      return fail('mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
    }
  }
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query: Record<string, string | string[]> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(req.url.slice(q + 1))) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  const host = headers.host ?? '';
  const signer = new SignatureV4({
    service,
    region: opts.region,
    credentials: {
      accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      ...(headers['x-amz-security-token'] ? { sessionToken: headers['x-amz-security-token'] } : {}),
    },
    sha256: NodeSha256,
    applyChecksum: false,
  });
  let expected: string | undefined;
  try {
    const signed = await signer.sign(
      {
        method: req.method.toUpperCase(),
        protocol: 'http:',
        hostname: host.replace(/:\d+$/, ''),
        path,
        query,
        headers,
        body: req.body,
      },
      { signingDate: date, signableHeaders: new Set(signedNames) },
    );
    const a = String(signed.headers.authorization ?? signed.headers.Authorization ?? '');
    expected = /Signature=([0-9a-f]{64})/.exec(a)?.[1];
  } catch (e) {
    return fail('malformed', `cannot recompute the signature: ${(e as Error).message}`);
  }
  if (!expected) return fail('mismatch', 'cannot recompute the signature');
  const same = timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(signature, 'hex'));
  if (!same) {
    return fail(
      'mismatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return { ok: true, accessKeyId };
}
