/**
 * A minimal SigV4 signer (AWS4-HMAC-SHA256, node:crypto only) for the fuzz requests: POSTs with the
 * headers a Function URL with AWS_IAM auth or the Lambda Invoke API checks (host, x-amz-date,
 * x-amz-content-sha256, content-type).
 */
import { createHash, createHmac } from 'node:crypto';

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding of one path segment, as SigV4 wants it. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Headers of a POST of `body` to `url`, signed for `service` in `region`. Paths are encoded twice (each
 * segment of the already-encoded path is encoded again), as every service but S3 expects.
 *
 * @example
 * ```ts
 * const headers = signPost(new URL(`${cloud.url}/points/2`), body, 'application/octet-stream',
 *   { accessKeyId: 'test', secretAccessKey: 'test' }, 'us-east-1');
 * ```
 */
export function signPost(
  url: URL,
  body: Uint8Array,
  contentType: string,
  creds: { accessKeyId: string; secretAccessKey: string },
  region: string,
  service = 'lambda',
  date = new Date(),
): Record<string, string> {
  const amzDate = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body);
  const headers: Record<string, string> = {
    'content-type': contentType,
    host: url.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${(headers[n] as string).trim()}\n`).join('');
  const signedHeaders = names.join(';');
  const path = url.pathname.split('/').map(encodeSegment).join('/');
  const query = [...url.searchParams]
    .map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`)
    .sort()
    .join('&');
  const canonical = ['POST', path, query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}
