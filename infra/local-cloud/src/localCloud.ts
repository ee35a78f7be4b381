/**
 * The local Lambda cloud: the functions of a CDK cloud assembly, each instance a child process running
 * the unmodified bundle behind the Lambda Runtime API, served on one loopback HTTP front with the
 * Function URL routes the SDK uses (`/points/<p>`) and the Lambda Invoke API.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type EndpointEntry, type EndpointsFile, saveEndpointsFile } from '@jmdc/cdk/endpoints';
import { type AssemblyInfo, readAssembly } from './assembly.js';
import { LocalCloudError, LocalCloudErrorCodes } from './errors.js';
import { type FaultSpec, FaultTable } from './faults.js';
import { errorObject, type Instance, type Outcome, readBody } from './instance.js';
import { FunctionPool } from './pool.js';
import { type Credentials, verifySigV4 } from './sigv4.js';
import { ensureAssembly, REPO_ROOT } from './synth.js';

/** Lambda's limit on a synchronous request (Invoke payload, buffered Function URL body). */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
const ACCOUNT = '000000000000';

export type { EndpointEntry, EndpointsFile };

/** Options of {@link startLocalCloud}. */
export interface LocalCloudOptions {
  /** Model id in models/ or a path to a model folder. @default 'fmnist-vgg16' */
  model?: string;
  /** Points to deploy. @default every point in the model's profile/manifest */
  points?: number[];
  /** Port of the HTTP front on 127.0.0.1. @default 0 (any free port); the CLI defaults to 18790 */
  port?: number;
  /** Idle instances are reaped after this long. @default 600_000 (Lambda-like ~10 min) */
  idleTimeoutMs?: number;
  /** Max concurrent instances per function when the template sets no reserved concurrency. @default 10 */
  maxInstancesPerFunction?: number;
  /**
   * Credentials accepted for SigV4 (AWS_IAM URLs and the Invoke API).
   * @default { accessKeyId: 'test', secretAccessKey: 'test' } (the LocalStack convention)
   */
  credentials?: Credentials[] | Credentials;
  /** @default 'us-east-1' */
  region?: string;
  /** Where to write endpoints.json (same format as cdk/lib/endpoints.ts). @default none */
  endpointsFile?: string;
  /** One record per invocation. */
  onInvocation?: (log: InvocationLog) => void;
  /** Progress/info lines (synth, bundling). @default none */
  onInfo?: (line: string) => void;
  /** Use this cloud assembly folder instead of synthesizing (tests). */
  assemblyDir?: string;
  /** What the functions write on stdout/stderr, one line at a time. @default dropped */
  onFunctionLog?: (functionName: string, instanceId: string, line: string) => void;
  /** Faults in force from the start (same as calling {@link LocalCloud.injectFault}). @default none */
  faults?: { target: string; fault: FaultSpec }[];
  /** Where synthesized assemblies are cached. @default `<repo>/.jmdc/local-cloud` */
  cacheDir?: string;
}

/** One invocation, as the CLI logs it. */
export interface InvocationLog {
  functionName: string;
  point: number;
  /** Empty when no instance served the request (throttled, dropped, 4xx before the function). */
  instanceId: string;
  cold: boolean;
  /** Init time of the instance, measured in the child (cold starts only). */
  initMs?: number;
  /** From the request reaching the front to the response (ms). */
  durationMs: number;
  /** HTTP status the caller got. */
  status: number;
  route: 'url' | 'invoke';
  /** Lambda's errorType, or the front's exception name. */
  error?: string;
  /** The injected fault, if one fired. */
  fault?: FaultSpec['kind'];
}

/** Counters of {@link LocalCloud.stats}. */
export interface LocalCloudStats {
  /** Requests that reached a function (an instance was chosen or started for them). */
  invocations: number;
  coldStarts: number;
  /** Instances alive now. */
  instances: number;
  /** Requests refused with 429 because the function was at its concurrency limit. */
  throttles: number;
  /** Injected faults that fired, by kind. */
  faults: Record<string, number>;
}

/** A running local cloud. */
export interface LocalCloud {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `{ model, modelHash, region, points: { "2": { url: `${url}/points/2`, functionName } } }` */
  endpoints: EndpointsFile;
  /** Same as {@link LocalCloud.endpoints}, with every URL rebased on another origin (a shaping proxy in front). */
  endpointsAt(baseUrl: string): EndpointsFile;
  functions: { name: string; point: number; memoryMb: number; timeoutS: number; reserved?: number }[];
  /** The assembly folder the functions come from. */
  assemblyDir: string;
  stats(): LocalCloudStats;
  /** PIDs of the instance processes alive now. */
  pids(): number[];
  /** Adds a fault for one function (by name) or all (`'*'`). Throws UNKNOWN_FUNCTION for another target. */
  injectFault(target: string, fault: FaultSpec): void;
  clearFaults(): void;
  /** Kills every instance; resolves when all child processes have exited. */
  stop(): Promise<void>;
}

/** The model folder of an id in `models/` or a path. */
function resolveModelDir(model: string): string {
  const candidates = isAbsolute(model)
    ? [model]
    : [resolve(model), join(REPO_ROOT, model), join(REPO_ROOT, 'models', model)];
  const found = candidates.find((c) => existsSync(join(c, 'manifest.json')));
  if (!found) {
    throw new LocalCloudError(
      LocalCloudErrorCodes.INVALID_OPTION,
      `model ${model} not found in ${candidates.join(', ')}`,
      {
        model,
      },
    );
  }
  return found;
}

const TEXT_TYPE = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

function clfTime(d: Date): string {
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The event a Function URL builds (payload format 2.0) for a request whose path below the URL is `rawPath`. */
function functionUrlEvent(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  body: Buffer,
  requestId: string,
  urlId: string,
  region: string,
  accessKey: string | undefined,
): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const cookies = headers.cookie?.split(/;\s*/).filter(Boolean);
  delete headers.cookie;
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const now = new Date();
  const text = TEXT_TYPE.test(headers['content-type'] ?? '');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: rawQuery,
    ...(cookies?.length ? { cookies } : {}),
    headers,
    ...(rawQuery ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: accessKey ? ACCOUNT : 'anonymous',
      apiId: urlId,
      ...(accessKey
        ? {
            authorizer: {
              iam: {
                accessKey,
                accountId: ACCOUNT,
                callerId: accessKey,
                cognitoIdentity: null,
                principalOrgId: null,
                userArn: `arn:aws:iam::${ACCOUNT}:user/local`,
                userId: accessKey,
              },
            },
          }
        : {}),
      domainName: `${urlId}.lambda-url.${region}.on.aws`,
      domainPrefix: urlId,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer | string;
  error?: string;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}, error?: string): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
  ...(error ? { error } : {}),
});

/** An error of the Lambda API (restJson1: `x-amzn-ErrorType` names the exception). */
function apiError(status: number, exception: string, message: string, extra: Record<string, unknown> = {}): Reply {
  return json(
    status,
    { Type: status >= 500 ? 'Service' : 'User', message, ...extra },
    { 'x-amzn-ErrorType': exception },
    exception,
  );
}

/** The Function URL's reply for a function result: `{ statusCode, headers, body, isBase64Encoded, cookies }` or any JSON. */
function urlReply(payload: Buffer): Reply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return {
      status: 502,
      headers: { 'content-type': 'application/json' },
      body: '{"Message":"Internal Server Error"}',
      error: 'BadResponse',
    };
  }
  if (parsed && typeof parsed === 'object' && 'statusCode' in parsed) {
    const r = parsed as {
      statusCode: unknown;
      headers?: Record<string, unknown>;
      body?: unknown;
      isBase64Encoded?: boolean;
      cookies?: string[];
    };
    const status = Number(r.statusCode);
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      return {
        status: 502,
        headers: { 'content-type': 'application/json' },
        body: '{"Message":"Internal Server Error"}',
        error: 'BadResponse',
      };
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
    if (Array.isArray(r.cookies) && r.cookies.length) headers['set-cookie'] = r.cookies.map(String);
    const text = typeof r.body === 'string' ? r.body : r.body === undefined ? '' : JSON.stringify(r.body);
    return { status, headers, body: r.isBase64Encoded ? Buffer.from(text, 'base64') : text };
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: payload };
}

const URL_FORBIDDEN: Reply = {
  status: 403,
  headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': 'AccessDeniedException' },
  body: '{"Message":"Forbidden"}',
  error: 'Forbidden',
};

/**
 * Starts a local cloud: reads (or synthesizes, for the host architecture) the CDK assembly, serves its
 * functions on 127.0.0.1 and, with `endpointsFile`, writes the endpoints file.
 *
 * @example
 * const cloud = await startLocalCloud({ model: 'test/fixtures/models/tiny-vgg11', idleTimeoutMs: 5000 })
 * const client = await JmdcClient.create({ model: 'tiny-vgg11', endpoints: cloud.endpoints, ... })
 * await cloud.stop()
 */
export async function startLocalCloud(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
  const region = opts.region ?? 'us-east-1';
  const idleTimeoutMs = opts.idleTimeoutMs ?? 600_000;
  const maxInstances = opts.maxInstancesPerFunction ?? 10;
  if (!(idleTimeoutMs > 0)) throw new LocalCloudError(LocalCloudErrorCodes.INVALID_OPTION, 'idleTimeoutMs must be > 0');
  if (!Number.isInteger(maxInstances) || maxInstances < 1) {
    throw new LocalCloudError(LocalCloudErrorCodes.INVALID_OPTION, 'maxInstancesPerFunction must be an integer >= 1');
  }
  const credentials: Credentials[] = Array.isArray(opts.credentials)
    ? opts.credentials
    : [opts.credentials ?? { accessKeyId: 'test', secretAccessKey: 'test' }];

  let assemblyDir = opts.assemblyDir;
  if (!assemblyDir) {
    const modelDir = resolveModelDir(opts.model ?? 'fmnist-vgg16');
    assemblyDir = await ensureAssembly({
      modelDir,
      ...(opts.points ? { points: opts.points } : {}),
      ...(opts.onInfo ? { onInfo: opts.onInfo } : {}),
      ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    });
  }
  const assembly: AssemblyInfo = readAssembly(assemblyDir);
  const specs = assembly.functions.filter((f) => !opts.points || opts.points.includes(f.point));
  if (specs.length === 0) {
    throw new LocalCloudError(LocalCloudErrorCodes.ASSEMBLY_INVALID, `${assemblyDir} has no function to serve`);
  }
  const modelId = assembly.model ?? specs.find((s) => s.environment.JMDC_MODEL_ID)?.environment.JMDC_MODEL_ID ?? '';
  const modelHash =
    assembly.modelHash ?? specs.find((s) => s.environment.JMDC_MODEL_HASH)?.environment.JMDC_MODEL_HASH ?? '';

  const faults = new FaultTable();
  const counters = { invocations: 0, coldStarts: 0, throttles: 0 };
  const pools = new Map<string, FunctionPool>();
  const byName = new Map<string, FunctionPool>();
  const byPoint = new Map<number, FunctionPool>();
  for (const spec of specs) {
    const pool = new FunctionPool(spec, {
      region,
      idleTimeoutMs,
      maxInstances,
      ...(opts.onFunctionLog ? { onLog: opts.onFunctionLog } : {}),
    });
    pools.set(spec.name, pool);
    for (const alias of [spec.name, spec.logicalId, `jmdc-${modelId}-p${spec.point}`]) {
      if (!byName.has(alias)) byName.set(alias, pool);
    }
    if (spec.point >= 0 && spec.urlAuthType && !byPoint.has(spec.point)) byPoint.set(spec.point, pool);
  }
  for (const f of opts.faults ?? []) addFault(f.target, f.fault);

  function addFault(target: string, fault: FaultSpec): void {
    if (target !== '*' && !byName.has(target)) {
      throw new LocalCloudError(LocalCloudErrorCodes.UNKNOWN_FUNCTION, `no function ${target} in this local cloud`, {
        target,
        functions: [...pools.keys()],
      });
    }
    faults.add(target === '*' ? '*' : byName.get(target)!.spec.name, fault);
  }

  /** Resolves a FunctionName of the Invoke API: name, ARN, partial ARN, with an optional qualifier. */
  function lookup(raw: string): FunctionPool | undefined {
    let name = raw;
    const arn = /^(?:arn:[^:]+:lambda:[^:]*:[^:]*:function:|[0-9]{12}:function:)(.+)$/.exec(name);
    if (arn) name = arn[1]!;
    const q = name.indexOf(':');
    if (q >= 0) name = name.slice(0, q);
    return byName.get(name);
  }

  let stopped = false;

  /** Runs one event on a function: the whole Lambda side of a request, faults included. */
  async function run(
    pool: FunctionPool,
    event: Buffer,
    requestId: string,
    fault: FaultSpec | undefined,
  ): Promise<{ outcome: Outcome | 'throttled'; inst?: Instance; cold: boolean }> {
    if (fault?.kind === 'coldStorm') pool.killIdle();
    const acquired =
      fault?.kind === 'initFailure'
        ? await pool.acquire(true, { JMDC_LOCAL_CLOUD_FAIL_INIT: '1' })
        : await pool.acquire();
    if ('throttled' in acquired) return { outcome: 'throttled', cold: false };
    const { inst, cold } = acquired;
    counters.invocations++;
    if (cold) {
      counters.coldStarts++;
      const ok = await inst.ready;
      if (!ok) {
        await inst.kill();
        pool.release(inst);
        return { outcome: inst.initError!, inst, cold };
      }
    }
    const outcome = await inst.invoke(
      event,
      requestId,
      fault?.kind === 'dieMidRequest' ? () => void inst.kill() : undefined,
    );
    pool.release(inst);
    return { outcome, inst, cold };
  }

  function respond(res: ServerResponse, reply: Reply, requestId: string): void {
    if (res.headersSent || res.destroyed) return;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
    res.writeHead(reply.status, {
      ...reply.headers,
      'x-amzn-RequestId': requestId,
      'content-length': String(body.length),
    });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const requestId = randomUUID();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
    const urlMatch = /^\/points\/(\d+)(\/.*)?$/.exec(path);
    const invokeMatch = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
    const route: 'url' | 'invoke' = urlMatch ? 'url' : 'invoke';
    const log = (pool: FunctionPool | undefined, reply: Reply, extra: Partial<InvocationLog> = {}) => {
      if (!pool) return;
      opts.onInvocation?.({
        functionName: pool.spec.name,
        point: pool.spec.point,
        instanceId: '',
        cold: false,
        durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
        status: reply.status,
        route,
        ...(reply.error ? { error: reply.error } : {}),
        ...extra,
      });
    };

    if (req.method === 'GET' && (path === '/' || path === '/health')) {
      respond(res, json(200, { status: 'running', functions: [...pools.keys()] }), requestId);
      return;
    }
    if (!urlMatch && !invokeMatch) {
      await readBody(req, MAX_REQUEST_BYTES);
      respond(res, apiError(404, 'UnknownOperationException', `no route ${req.method} ${path}`), requestId);
      return;
    }
    let pool: FunctionPool | undefined;
    if (urlMatch) {
      pool = byPoint.get(Number(urlMatch[1]));
    } else {
      let name = invokeMatch![1]!;
      try {
        name = decodeURIComponent(name);
      } catch {}
      pool = lookup(name);
      if (!pool) {
        await readBody(req, MAX_REQUEST_BYTES);
        respond(
          res,
          apiError(
            404,
            'ResourceNotFoundException',
            `Function not found: arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`,
          ),
          requestId,
        );
        return;
      }
    }
    const tooLarge = (): Reply => {
      const message = `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation`;
      return route === 'url'
        ? json(
            413,
            { Message: message },
            { 'x-amzn-ErrorType': 'RequestEntityTooLargeException' },
            'RequestEntityTooLargeException',
          )
        : apiError(413, 'RequestEntityTooLargeException', message);
    };
    // a body declared too large is refused before any of it is read (the connection is closed after
    // the answer); one without a length is read, keeping at most the limit
    const declared = Number(req.headers['content-length']);
    if (pool && Number.isFinite(declared) && declared > MAX_REQUEST_BYTES) {
      const reply = tooLarge();
      reply.headers = { ...reply.headers, connection: 'close' };
      respond(res, reply, requestId);
      res.on('finish', () => req.destroy());
      log(pool, reply);
      return;
    }
    const body = await readBody(req, MAX_REQUEST_BYTES);
    if (urlMatch && !pool) {
      respond(res, json(404, { Message: null }, { 'x-amzn-ErrorType': 'ResourceNotFoundException' }), requestId);
      return;
    }
    const fnPool = pool!;
    if (body === undefined) {
      const reply = tooLarge();
      respond(res, reply, requestId);
      log(fnPool, reply);
      return;
    }
    let accessKey: string | undefined;
    if (route === 'invoke' || fnPool.spec.urlAuthType === 'AWS_IAM') {
      const check = await verifySigV4(
        { method: req.method ?? 'POST', url: rawUrl, headers: req.headers, body },
        { credentials, region },
      );
      if (!check.ok) {
        const reply =
          route === 'url'
            ? { ...URL_FORBIDDEN, error: check.exception }
            : apiError(403, check.exception, check.message);
        respond(res, reply, requestId);
        log(fnPool, reply);
        return;
      }
      accessKey = check.accessKeyId;
    }
    if (stopped) {
      respond(res, apiError(503, 'ServiceException', 'the local cloud is stopping'), requestId);
      return;
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (route === 'invoke' && invocationType === 'DryRun') {
      respond(res, { status: 204, headers: {}, body: '' }, requestId);
      return;
    }
    const fault = fnPool ? faults.pick(fnPool.spec.name) : undefined;
    if (fault?.kind === 'drop') {
      res.socket?.destroy();
      log(fnPool, { status: 0, headers: {}, body: '', error: 'ConnectionDropped' }, { fault: 'drop' });
      return;
    }
    if (fault?.kind === 'status500') {
      const reply =
        route === 'url'
          ? json(
              500,
              { Message: 'Internal Server Error' },
              { 'x-amzn-ErrorType': 'ServiceException' },
              'ServiceException',
            )
          : apiError(500, 'ServiceException', 'An error occurred (injected by the local cloud)');
      respond(res, reply, requestId);
      log(fnPool, reply, { fault: 'status500' });
      return;
    }
    const throttled = (reason: string): Reply =>
      route === 'url'
        ? json(
            429,
            { Message: 'Rate Exceeded.' },
            { 'x-amzn-ErrorType': 'TooManyRequestsException', 'retry-after': '1' },
            'TooManyRequestsException',
          )
        : apiError(429, 'TooManyRequestsException', 'Rate Exceeded.', { Reason: reason, retryAfterSeconds: '1' });
    if (fault?.kind === 'throttle') {
      const reply = throttled('CallerRateLimitExceeded');
      respond(res, reply, requestId);
      log(fnPool, reply, { fault: 'throttle' });
      return;
    }
    let event: Buffer;
    if (route === 'url') {
      const urlId = `local${fnPool.spec.point}`;
      event = Buffer.from(
        JSON.stringify(functionUrlEvent(req, urlMatch![2] ?? '/', rawQuery, body, requestId, urlId, region, accessKey)),
      );
    } else {
      event = body.length > 0 ? body : Buffer.from('{}');
      try {
        JSON.parse(event.toString('utf8'));
      } catch {
        const reply = apiError(400, 'InvalidRequestContentException', 'Could not parse request body into json');
        respond(res, reply, requestId);
        log(fnPool, reply);
        return;
      }
    }
    if (route === 'invoke' && invocationType === 'Event') {
      respond(res, { status: 202, headers: {}, body: '' }, requestId);
      run(fnPool, event, requestId, fault).catch((e) =>
        opts.onInfo?.(`async invocation failed: ${(e as Error).message}`),
      );
      return;
    }
    const { outcome, inst, cold } = await run(fnPool, event, requestId, fault);
    let reply: Reply;
    if (outcome === 'throttled') {
      counters.throttles++;
      reply = throttled(
        fnPool.spec.reserved !== undefined
          ? 'ReservedFunctionConcurrentInvocationLimitExceeded'
          : 'ConcurrentInvocationLimitExceeded',
      );
    } else if (outcome.kind === 'ok') {
      reply =
        route === 'url'
          ? urlReply(outcome.body)
          : {
              status: 200,
              headers: { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' },
              body: outcome.body,
            };
    } else {
      const err = errorObject(outcome);
      reply =
        route === 'url'
          ? {
              status: 502,
              headers: { 'content-type': 'application/json' },
              body: '{"Message":"Internal Server Error"}',
              error: err.errorType,
            }
          : {
              status: 200,
              headers: {
                'content-type': 'application/json',
                'x-amz-executed-version': '$LATEST',
                'x-amz-function-error': 'Unhandled',
              },
              body: JSON.stringify(err),
              error: err.errorType,
            };
    }
    if (fault?.kind === 'slow') {
      const delay = fault.delayMs ?? fnPool.spec.timeoutS * 1000 + 1000;
      await new Promise((r) => setTimeout(r, delay));
    }
    respond(res, reply, requestId);
    log(fnPool, reply, {
      instanceId: inst?.id ?? '',
      cold,
      ...(cold && inst?.initMs !== undefined ? { initMs: inst.initMs } : {}),
      ...(fault ? { fault: fault.kind } : {}),
    });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      respond(res, apiError(500, 'ServiceException', `local cloud error: ${(e as Error).message}`), randomUUID());
    });
  });
  server.keepAliveTimeout = 60_000;
  server.requestTimeout = 0;
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', rej);
      res();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const endpointsAt = (baseUrl: string): EndpointsFile => {
    const base = baseUrl.replace(/\/+$/, '');
    const points: Record<string, EndpointEntry> = {};
    for (const pool of pools.values()) {
      if (pool.spec.point < 0) continue;
      points[String(pool.spec.point)] = { url: `${base}/points/${pool.spec.point}`, functionName: pool.spec.name };
    }
    return { model: modelId, modelHash, region, points };
  };
  const endpoints = endpointsAt(url);
  if (opts.endpointsFile) saveEndpointsFile(opts.endpointsFile, endpoints);

  // a normal exit of this process takes every instance with it (a SIGKILL is the children's watchdog's job)
  const killAll = () => {
    for (const p of pools.values())
      for (const i of p.instances)
        if (i.pid) {
          try {
            process.kill(i.pid, 'SIGKILL');
          } catch {}
        }
  };
  process.on('exit', killAll);

  const trackAlive = () => {
    let n = 0;
    for (const p of pools.values()) n += [...p.instances].filter((i) => i.state !== 'dead').length;
    return n;
  };

  return {
    url,
    endpoints,
    endpointsAt,
    assemblyDir,
    functions: specs.map((s) => ({
      name: s.name,
      point: s.point,
      memoryMb: s.memoryMb,
      timeoutS: s.timeoutS,
      ...(s.reserved !== undefined ? { reserved: s.reserved } : {}),
    })),
    stats: () => ({ ...counters, instances: trackAlive(), faults: { ...faults.counts } }),
    pids: () =>
      [...pools.values()].flatMap((p) =>
        [...p.instances].filter((i) => i.state !== 'dead' && i.pid).map((i) => i.pid!),
      ),
    injectFault: addFault,
    clearFaults: () => faults.clear(),
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all([...pools.values()].map((p) => p.stop()));
      process.off('exit', killAll);
    },
  };
}
