/**
 * One function instance: a child process running `bootstrap.mjs` (the function's unmodified bundle
 * behind the Lambda Runtime API) and the instance-private Runtime API server it talks to.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { FunctionSpec } from './assembly.js';

const BOOTSTRAP = join(fileURLToPath(new URL('.', import.meta.url)), 'bootstrap.mjs');
const RUNTIME = '/2018-06-01/runtime';
/** Lambda's limit on a synchronous response. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
/** Lambda's limit on the init phase of an on-demand instance. */
export const INIT_TIMEOUT_MS = 10_000;

/** How one invocation ended, as the Runtime API and the process told it. */
export type Outcome =
  | { kind: 'ok'; body: Buffer }
  /** The handler threw or rejected (`Unhandled`), or the runtime reported an error (`Runtime.*`). */
  | { kind: 'error'; body: Buffer; errorType: string }
  /** The process exited (or was killed) during the invocation: `Runtime.ExitError`. */
  | { kind: 'exit'; errorType: string; message: string }
  /** The function timeout passed; the instance was killed. */
  | { kind: 'timeout'; message: string }
  /** Init failed (`/init/error`, an exit before `/next`, or the 10 s init limit). */
  | { kind: 'initError'; body: Buffer; errorType: string };

/** Lambda's error object for an outcome that is not `ok` (what Invoke returns with `X-Amz-Function-Error`). */
export function errorObject(o: Exclude<Outcome, { kind: 'ok' }>): { errorType: string; errorMessage: string } {
  if (o.kind === 'exit') return { errorType: o.errorType, errorMessage: o.message };
  if (o.kind === 'timeout') return { errorType: 'Sandbox.Timedout', errorMessage: o.message };
  try {
    const parsed = JSON.parse(o.body.toString('utf8'));
    if (parsed && typeof parsed === 'object') return parsed;
  } catch {}
  return { errorType: o.errorType, errorMessage: o.body.toString('utf8') };
}

type State = 'starting' | 'idle' | 'busy' | 'dead';

interface Pending {
  requestId: string;
  event: Buffer;
  deadlineMs: number;
  resolve: (o: Outcome) => void;
  onDispatch?: () => void;
  timer?: NodeJS.Timeout;
}

/** Options of one instance. */
export interface InstanceOptions {
  spec: FunctionSpec;
  region: string;
  /** Extra environment (fault injection). */
  extraEnv?: Record<string, string>;
  /** Lines the function writes on stdout/stderr. */
  onLog?: (line: string) => void;
  /** Called once when the process has exited. */
  onExit?: (inst: Instance) => void;
}

/** The whole body of `req`, or undefined when it is longer than `limit` bytes (it is read to its end all the same). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(n > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

let counter = 0;

/**
 * A function instance. {@link Instance.start} spawns the process; {@link Instance.ready} settles when
 * its init is done (the first `GET /next`) or failed; {@link Instance.invoke} runs one event.
 */
export class Instance {
  readonly id: string;
  readonly spec: FunctionSpec;
  state: State = 'starting';
  /** Init time measured in the child (process start to the first `GET /next`), ms. */
  initMs: number | undefined;
  /** Init failure, when init failed. */
  initError: Extract<Outcome, { kind: 'initError' }> | undefined;
  pid: number | undefined;
  /** When the instance last finished an invocation (performance.now()). */
  lastUsed = performance.now();
  /** Set once {@link Instance.kill} was called (the process may not have exited yet). */
  killed = false;
  /** Set by the pool while a request holds the instance (from its choice until its release). */
  claimed = false;
  /** Set by the pool: the idle reaper. */
  idleTimer: NodeJS.Timeout | undefined;
  readonly ready: Promise<boolean>;
  private resolveReady!: (ok: boolean) => void;
  private server: Server;
  private child: ChildProcess | undefined;
  private nextRes: ServerResponse | undefined;
  private pending: Pending | undefined;
  private exited: Promise<void>;
  private resolveExited!: () => void;
  private readonly stderrTail: string[] = [];
  private readonly opts: InstanceOptions;

  constructor(opts: InstanceOptions) {
    this.opts = opts;
    this.spec = opts.spec;
    this.id = `${opts.spec.point >= 0 ? `p${opts.spec.point}` : opts.spec.logicalId}-${(++counter).toString(36)}-${randomUUID().slice(0, 4)}`;
    this.ready = new Promise((r) => {
      this.resolveReady = r;
    });
    this.exited = new Promise((r) => {
      this.resolveExited = r;
    });
    this.server = createServer((req, res) => this.route(req, res));
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 0;
  }

  /** Starts the Runtime API server and spawns the process. */
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    if (this.killed) {
      // killed while its Runtime API server was starting (the cloud is stopping): spawn nothing
      this.onExit(null, 'SIGKILL');
      return;
    }
    const port = (this.server.address() as AddressInfo).port;
    const { spec } = this;
    const taskRoot = spec.assetDir;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: taskRoot,
      LAMBDA_RUNTIME_DIR: taskRoot,
      _HANDLER: spec.handler,
      AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      AWS_LAMBDA_FUNCTION_NAME: spec.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${this.id}`,
      AWS_REGION: this.opts.region,
      AWS_DEFAULT_REGION: this.opts.region,
      NODE_PATH: join(taskRoot, 'node_modules'),
    };
    // the template's variables; paths under /var/task (the task root on Lambda) point at the asset folder
    for (const [k, v] of Object.entries(spec.environment)) {
      env[k] = v === '/var/task' || v.startsWith('/var/task/') ? taskRoot + v.slice('/var/task'.length) : v;
    }
    Object.assign(env, this.opts.extraEnv);
    const child = spawn(process.execPath, [BOOTSTRAP], {
      cwd: taskRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.pid = child.pid;
    const lines = (stream: NodeJS.ReadableStream | null, keep: boolean) => {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => {
        buf += d;
        let i = buf.indexOf('\n');
        while (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (keep) {
            this.stderrTail.push(line);
            if (this.stderrTail.length > 20) this.stderrTail.shift();
          }
          this.opts.onLog?.(line);
          i = buf.indexOf('\n');
        }
      });
    };
    lines(child.stdout, false);
    lines(child.stderr, true);
    child.on('error', () => this.onExit(null, null));
    child.on('exit', (code, signal) => this.onExit(code, signal));
    // the IPC channel is only a lifeline for the child: it must not keep this process alive
    child.unref();
    child.channel?.unref();
    const initTimer = setTimeout(() => {
      if (this.state === 'starting') {
        this.failInit('Runtime.InitTimeout', `Init phase exceeded ${INIT_TIMEOUT_MS / 1000} seconds`);
        this.kill();
      }
    }, INIT_TIMEOUT_MS);
    initTimer.unref();
    void this.ready.then(() => clearTimeout(initTimer));
  }

  private failInit(errorType: string, errorMessage: string, body?: Buffer): void {
    if (this.initError || this.state !== 'starting') return;
    this.initError = {
      kind: 'initError',
      errorType,
      body: body ?? Buffer.from(JSON.stringify({ errorType, errorMessage })),
    };
    this.resolveReady(false);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'dead') return;
    const status = signal ? `signal: ${signal.toLowerCase().replace(/^sig/, '')}` : `exit status ${code}`;
    if (this.state === 'starting') {
      const tail = this.stderrTail.slice(-3).join(' | ');
      this.failInit('Runtime.ExitError', `Error: Runtime exited with error: ${status}${tail ? ` (${tail})` : ''}`);
    }
    this.state = 'dead';
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      clearTimeout(p.timer);
      p.resolve({
        kind: 'exit',
        errorType: 'Runtime.ExitError',
        message: `RequestId: ${p.requestId} Error: Runtime exited with error: ${status}`,
      });
    }
    this.nextRes?.destroy();
    this.nextRes = undefined;
    clearTimeout(this.idleTimer);
    this.server.closeAllConnections();
    this.server.close();
    this.resolveExited();
    this.opts.onExit?.(this);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const accepted = () => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"status":"OK"}');
    };
    if (req.method === 'GET' && url === `${RUNTIME}/invocation/next`) {
      req.socket.setTimeout(0);
      if (this.state === 'starting') {
        const reported = Number(req.headers['x-jmdc-init-ms']);
        this.initMs = Number.isFinite(reported) ? reported : undefined;
        this.state = 'idle';
        this.resolveReady(true);
      }
      this.nextRes = res;
      this.dispatch();
      return;
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && m) {
      const id = decodeURIComponent(m[1]!);
      void readBody(req, MAX_RESPONSE_BYTES).then((body) => {
        const p = this.pending;
        if (!p || p.requestId !== id) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errorMessage: `no invocation ${id} in flight`, errorType: 'InvalidRequestID' }));
          return;
        }
        this.pending = undefined;
        clearTimeout(p.timer);
        this.state = 'idle';
        this.lastUsed = performance.now();
        if (body === undefined) {
          res.writeHead(413, { 'content-type': 'application/json' });
          res.end('{"errorType":"RequestEntityTooLarge"}');
          const errorMessage = `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`;
          p.resolve({
            kind: 'error',
            errorType: 'Function.ResponseSizeTooLarge',
            body: Buffer.from(JSON.stringify({ errorType: 'Function.ResponseSizeTooLarge', errorMessage })),
          });
          return;
        }
        accepted();
        if (m[2] === 'response') p.resolve({ kind: 'ok', body });
        else {
          const errorType = String(req.headers['lambda-runtime-function-error-type'] ?? 'Unhandled');
          p.resolve({ kind: 'error', body, errorType });
        }
      });
      return;
    }
    if (req.method === 'POST' && url === `${RUNTIME}/init/error`) {
      void readBody(req, MAX_RESPONSE_BYTES).then((body) => {
        accepted();
        const errorType = String(req.headers['lambda-runtime-function-error-type'] ?? 'Runtime.Unknown');
        this.failInit(errorType, 'init failed', body);
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errorMessage: `unknown Runtime API path ${url}`, errorType: 'InvalidRequest' }));
  }

  /** Hands the pending event to a waiting `GET /next`. */
  private dispatch(): void {
    const p = this.pending;
    const res = this.nextRes;
    if (!p || !res || p.timer !== undefined) return;
    this.nextRes = undefined;
    const region = this.opts.region;
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': p.requestId,
      'lambda-runtime-deadline-ms': String(p.deadlineMs),
      'lambda-runtime-invoked-function-arn': `arn:aws:lambda:${region}:000000000000:function:${this.spec.name}`,
      'lambda-runtime-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)};Sampled=0`,
    });
    res.end(p.event);
    const timeoutMs = Math.max(1, p.deadlineMs - Date.now());
    p.timer = setTimeout(() => {
      if (this.pending !== p) return;
      this.pending = undefined;
      p.resolve({
        kind: 'timeout',
        message: `RequestId: ${p.requestId} Error: Task timed out after ${this.spec.timeoutS.toFixed(2)} seconds`,
      });
      this.kill();
    }, timeoutMs);
    p.onDispatch?.();
  }

  /**
   * Runs one event on this (idle) instance; the function timeout starts now. Never rejects: every
   * ending is an {@link Outcome}.
   */
  invoke(event: Buffer, requestId: string, onDispatch?: () => void): Promise<Outcome> {
    if (this.state !== 'idle') throw new Error(`instance ${this.id} is ${this.state}, not idle`);
    this.state = 'busy';
    clearTimeout(this.idleTimer);
    return new Promise((resolve) => {
      this.pending = {
        requestId,
        event,
        deadlineMs: Date.now() + this.spec.timeoutS * 1000,
        resolve,
        ...(onDispatch ? { onDispatch } : {}),
      };
      this.dispatch();
    });
  }

  /** SIGKILLs the process (Lambda gives a runtime no grace either); resolves when it has exited. */
  kill(): Promise<void> {
    this.killed = true;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    else if (!this.child && this.server.listening) this.onExit(null, 'SIGKILL');
    return this.exited;
  }

  /** Resolves when the process has exited. */
  whenExited(): Promise<void> {
    return this.exited;
  }
}
