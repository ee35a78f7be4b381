import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { ErrorCodes, JmdcError } from '../errors.js';
import type { ResolvedEndpoints } from './endpoints.js';

/**
 * Resolves a host name to all its addresses (the shape of `dns.promises.lookup(host, { all: true })`).
 *
 * @example
 * const lookup: HostLookup = async (host) => [{ address: '127.0.0.1', family: 4 }]
 */
export type HostLookup = (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

const defaultLookup: HostLookup = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/** A URL's hostname without the brackets of an IPv6 literal. */
function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * True for a loopback IP address: `127.0.0.0/8`, `::1`, and IPv4-mapped `::ffff:127.x.y.z`.
 * Anything that is not an IP literal is false.
 *
 * @example
 * isLoopbackAddress('127.0.0.1') // true
 * isLoopbackAddress('::1') // true
 * isLoopbackAddress('10.0.0.5') // false
 */
export function isLoopbackAddress(address: string): boolean {
  const a = bareHost(address).toLowerCase();
  const v = isIP(a);
  if (v === 4) return a.startsWith('127.');
  if (v !== 6) return false;
  if (a === '::1' || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(a)) return true;
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped !== null) return isIP(mapped[1] as string) === 4 && (mapped[1] as string).startsWith('127.');
  // the WHATWG URL parser writes ::ffff:127.0.0.1 as ::ffff:7f00:1
  return /^(?:0{0,4}:){0,5}:?ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(a);
}

/**
 * The verdict of {@link checkLoopbackHost}: loopback or not, and why.
 *
 * @example
 * const { loopback, reason } = await checkLoopbackHost('cloud.example.invalid')
 */
export interface LoopbackVerdict {
  loopback: boolean;
  /** The addresses the host resolved to (the literal itself for an IP). */
  addresses: string[];
  /** Why it is not loopback (empty when it is). */
  reason: string;
}

/**
 * Resolves `host` (an IP literal is taken as is; a name is resolved with `dns.lookup(host, { all:
 * true })`, which reads `/etc/hosts` like every other program on the machine) and says whether
 * every address is a loopback address. A name that does not resolve is not loopback.
 *
 * @example
 * await checkLoopbackHost('localhost') // { loopback: true, addresses: ['127.0.0.1'], reason: '' }
 */
export async function checkLoopbackHost(host: string, lookup: HostLookup = defaultLookup): Promise<LoopbackVerdict> {
  const h = bareHost(host);
  if (isIP(h)) {
    const loopback = isLoopbackAddress(h);
    return { loopback, addresses: [h], reason: loopback ? '' : `${h} is not a loopback address` };
  }
  let addresses: string[];
  try {
    addresses = (await lookup(h)).map((a) => a.address);
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    return {
      loopback: false,
      addresses: [],
      reason: `${h} does not resolve (${String(code ?? (e as Error)?.message)})`,
    };
  }
  if (addresses.length === 0) return { loopback: false, addresses, reason: `${h} resolves to no address` };
  const outside = addresses.filter((a) => !isLoopbackAddress(a));
  return {
    loopback: outside.length === 0,
    addresses,
    reason: outside.length === 0 ? '' : `${h} resolves to ${outside.join(', ')}, not a loopback address`,
  };
}

/**
 * True when every address of `host` is a loopback address (see {@link checkLoopbackHost}).
 *
 * @example
 * await isLoopbackHost('127.0.0.1') // true
 * await isLoopbackHost('localhost') // true (from /etc/hosts)
 * await isLoopbackHost('cloud.example.invalid') // false
 */
export async function isLoopbackHost(host: string, lookup?: HostLookup): Promise<boolean> {
  return (await checkLoopbackHost(host, lookup)).loopback;
}

/** Every URL of the endpoints: each point's `url` and the local cloud's base URL. */
function endpointUrls(endpoints: ResolvedEndpoints | Iterable<string>): string[] {
  if (Symbol.iterator in Object(endpoints)) return [...(endpoints as Iterable<string>)];
  const e = endpoints as ResolvedEndpoints;
  const out: string[] = [];
  if (e.localCloudUrl) out.push(e.localCloudUrl);
  for (const p of e.points.values()) if (p.url) out.push(p.url);
  return out;
}

/**
 * The one rule for unsigned requests, whatever option names the endpoints (`{ localCloudUrl }`, a
 * points map, an endpoints file): `signing: false` is allowed only when the host of every endpoint
 * URL resolves to loopback addresses only (127.0.0.0/8, ::1). Otherwise throws
 * `JMDC_ERR_INVALID_ARGUMENT` naming the host and why (`details.hosts`). Resolves at once when
 * `signing` is not `false`.
 *
 * @example
 * await assertSigningAllowed({ points: new Map([[2, { url: 'http://127.0.0.1:9000/points/2' }]]), local: false, warnings: [] }, false) // ok
 * await assertSigningAllowed(['https://cloud.example.invalid/'], false) // throws JMDC_ERR_INVALID_ARGUMENT
 */
export async function assertSigningAllowed(
  endpoints: ResolvedEndpoints | Iterable<string>,
  signing: boolean | undefined,
  lookup?: HostLookup,
): Promise<void> {
  if (signing !== false) return;
  const hosts = new Set<string>();
  for (const u of endpointUrls(endpoints)) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `endpoint is not a URL: ${u}`);
    }
    hosts.add(url.hostname);
  }
  const refused: string[] = [];
  await Promise.all(
    [...hosts].map(async (h) => {
      const v = await checkLoopbackHost(h, lookup);
      if (!v.loopback) refused.push(v.reason);
    }),
  );
  if (refused.length > 0) {
    throw new JmdcError(
      ErrorCodes.INVALID_ARGUMENT,
      `signing: false sends image data unsigned, which is allowed only to loopback addresses (127.0.0.0/8, ::1): ${refused.join('; ')}`,
      { hosts: [...hosts], refused },
    );
  }
}

/**
 * Whether requests to these endpoints are signed: `signing` when given (`false` checked with
 * {@link assertSigningAllowed}); otherwise unsigned only for a `{ localCloudUrl }` whose every URL is
 * on loopback, and signed for anything else (a non-loopback local cloud URL included).
 *
 * @example
 * const signing = await resolveSigning(resolveEndpoints(opts.endpoints, ctx), opts.signing)
 * new UrlTransport({ urls, signing })
 */
export async function resolveSigning(
  endpoints: ResolvedEndpoints,
  signing: boolean | undefined,
  lookup?: HostLookup,
): Promise<boolean> {
  if (signing === true) return true;
  if (signing === false) {
    await assertSigningAllowed(endpoints, false, lookup);
    return false;
  }
  if (!endpoints.local) return true;
  try {
    await assertSigningAllowed(endpoints, false, lookup);
    return false;
  } catch {
    return true;
  }
}
