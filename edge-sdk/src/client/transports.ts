import { resolveEndpoints } from '../transport/endpoints.js';
import { InvokeTransport } from '../transport/InvokeTransport.js';
import { resolveSigning } from '../transport/loopback.js';
import type { Transport } from '../transport/types.js';
import { UrlTransport } from '../transport/UrlTransport.js';
import type { ResolvedOptions } from './options.js';

/**
 * The transport of a client and whether the client owns (and closes) it.
 *
 * @example
 * const { transport, owned } = await createTransport(resolved, { model: 'fmnist-vgg16', modelHash, pointCount: 5 })
 */
export interface ClientTransport {
  transport: Transport | undefined;
  /** False for an injected transport (the app closes it). */
  owned: boolean;
}

/**
 * Builds the transport the options ask for: the injected one, or a `UrlTransport` / `InvokeTransport`
 * for the resolved endpoints (signing decided by the loopback rule), or none (edge-only) without
 * endpoints. Runs after option validation; creates no connection.
 *
 * @example
 * const { transport } = await createTransport(resolveOptions(opts), { model: manifest.id, modelHash: manifest.hash, pointCount: P })
 */
export async function createTransport(
  o: ResolvedOptions,
  ctx: { model: string; modelHash: string; pointCount: number },
): Promise<ClientTransport> {
  if (typeof o.transport === 'object') return { transport: o.transport, owned: false };
  if (o.endpoints === undefined) return { transport: undefined, owned: false };
  const ep = resolveEndpoints(o.endpoints, ctx);
  ep.warnings.forEach(o.warn);
  const region = o.region ?? ep.region;
  const common = {
    ...(region ? { region } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    timeouts: o.http,
    ...(o.retry ? { retry: o.retry } : {}),
    expect: { modelHash: ctx.modelHash },
  };
  if (o.transport === 'url') {
    const urls: Record<number, string> = {};
    for (const [p, e] of ep.points) if (e.url) urls[p] = e.url;
    const signing = await resolveSigning(ep, o.signing);
    return { transport: new UrlTransport({ urls, signing, ...common }), owned: true };
  }
  const functions: Record<number, string> = {};
  for (const [p, e] of ep.points) if (e.functionName) functions[p] = e.functionName;
  return {
    transport: new InvokeTransport({
      functions,
      ...(o.lambdaClient ? { client: o.lambdaClient } : {}),
      ...(ep.localCloudUrl ? { endpoint: ep.localCloudUrl } : {}),
      ...common,
    }),
    owned: true,
  };
}
