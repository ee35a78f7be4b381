import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { ErrorCodes, JmdcError, TransportError } from '../errors.js';

/**
 * AWS credentials, or a function that resolves them (refreshing when they expire).
 *
 * @example
 * const creds: CredentialsInput = { accessKeyId: 'AKID...', secretAccessKey: '...' }
 */
export type CredentialsInput = NonNullable<ConstructorParameters<typeof SignatureV4>[0]['credentials']>;

/**
 * Signs Function URL requests with SigV4 for the service `lambda`. The signed headers include
 * `host` and `x-amz-content-sha256` (the hex SHA-256 of the body), as Function URLs with `AWS_IAM`
 * auth expect.
 *
 * @example
 * const signer = new RequestSigner({ region: 'eu-west-1', credentials: fromNodeProviderChain() })
 * const headers = await signer.sign(new URL('https://abc.lambda-url.eu-west-1.on.aws/'), body, { 'content-type': 'application/octet-stream' })
 */
export class RequestSigner {
  private readonly signer: SignatureV4;
  readonly region: string;

  constructor(opts: { region: string; credentials: CredentialsInput; service?: string }) {
    if (!opts.region) throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, 'a region is needed to sign requests');
    this.region = opts.region;
    this.signer = new SignatureV4({
      service: opts.service ?? 'lambda',
      region: opts.region,
      credentials: opts.credentials,
      sha256: Sha256,
    });
  }

  /** Returns the headers to send: the given ones plus host, x-amz-date, x-amz-content-sha256, authorization (and x-amz-security-token). */
  async sign(
    url: URL,
    body: Uint8Array,
    headers: Record<string, string>,
    method = 'POST',
  ): Promise<Record<string, string>> {
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => {
      query[k] = v;
    });
    const request = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: {
        ...headers,
        host: url.host,
        'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      },
      body,
    };
    try {
      const signed = await this.signer.sign(request);
      return signed.headers as Record<string, string>;
    } catch (e) {
      throw new TransportError(
        ErrorCodes.CREDENTIALS,
        `cannot sign the request: ${(e as Error).message}`,
        {
          retryable: false,
        },
        { cause: e },
      );
    }
  }
}
