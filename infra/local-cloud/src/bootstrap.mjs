/**
 * One Lambda function instance of the local cloud: a child process that loads the function's handler
 * module from LAMBDA_TASK_ROOT, unmodified, and runs the Lambda Runtime API loop the way the Node.js
 * runtime interface client does (GET /next, call the handler, POST /response or /error; POST
 * /init/error when the module cannot be loaded). Plain JavaScript: it runs in the bare `node` the
 * bundle runs in, with nothing of the project loaded.
 *
 * It never outlives the local cloud: it exits when its IPC channel to the parent closes, and a watchdog
 * thread kills the process when the parent pid changes even while the handler blocks the main thread.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const parentPid = process.ppid;
process.on('disconnect', () => process.exit(129));
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
   setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 200);`,
  { eval: true, workerData: parentPid },
);
watchdog.unref();

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const BASE = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One call to the Runtime API; no timeout (GET /next waits as long as the instance is idle). */
function call(method, path, body, headers = {}) {
  const [host, port] = API.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port: Number(port), method, path: `${BASE}${path}`, agent, headers: { ...headers } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function errorBody(e) {
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    errorType: err.errorType ?? err.name ?? 'Error',
    errorMessage: err.message,
    trace: String(err.stack ?? '').split('\n'),
  };
}

function postError(path, e) {
  const body = errorBody(e);
  return call('POST', path, JSON.stringify(body), {
    'content-type': 'application/json',
    'lambda-runtime-function-error-type': body.errorType,
  });
}

function runtimeError(errorType, message) {
  const e = new Error(message);
  e.name = errorType;
  e.errorType = errorType;
  return e;
}

/** `index.handler` -> the module file in the task root and the export path. */
async function loadHandler(taskRoot, handlerName) {
  const dot = handlerName.lastIndexOf('.');
  if (dot <= 0) throw runtimeError('Runtime.MalformedHandlerName', `Bad handler ${handlerName}`);
  const moduleName = handlerName.slice(0, dot);
  const exportPath = handlerName.slice(dot + 1).split('.');
  const file = ['.js', '.mjs', '.cjs'].map((ext) => join(taskRoot, moduleName + ext)).find((f) => existsSync(f));
  if (!file) {
    throw runtimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  }
  const mod = await import(pathToFileURL(file).href);
  let fn = mod;
  for (const k of exportPath) fn = fn?.[k];
  if (typeof fn !== 'function' && mod.default) {
    fn = mod.default;
    for (const k of exportPath) fn = fn?.[k];
  }
  if (typeof fn !== 'function') {
    throw runtimeError('Runtime.HandlerNotFound', `${handlerName} is undefined or not exported`);
  }
  return fn;
}

let handler;
try {
  if (process.env.JMDC_LOCAL_CLOUD_FAIL_INIT) {
    throw runtimeError('Runtime.InjectedInitFailure', 'init failure injected by the local cloud');
  }
  handler = await loadHandler(process.env.LAMBDA_TASK_ROOT, process.env._HANDLER);
} catch (e) {
  await postError('/init/error', e).catch(() => {});
  process.exit(1);
}
const initMs = Math.round(performance.now() * 1000) / 1000;

let current;
process.on('uncaughtException', (e) => fatal(e));
process.on('unhandledRejection', (e) => fatal(e));
async function fatal(e) {
  if (current) {
    const id = current;
    current = undefined;
    await postError(`/invocation/${id}/error`, e).catch(() => {});
  }
  process.exit(129);
}

function invokeHandler(event, context) {
  return new Promise((resolve, reject) => {
    const callback = (err, result) => (err ? reject(err) : resolve(result));
    context.done = callback;
    context.succeed = (r) => resolve(r);
    context.fail = (err) => reject(err);
    try {
      const r = handler(event, context, callback);
      if (r && typeof r.then === 'function') r.then(resolve, reject);
      else if (handler.length < 3) resolve(r);
    } catch (err) {
      reject(err);
    }
  });
}

let first = true;
for (;;) {
  const next = await call('GET', '/invocation/next', undefined, first ? { 'x-jmdc-init-ms': String(initMs) } : {});
  first = false;
  const id = String(next.headers['lambda-runtime-aws-request-id']);
  const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
  const fnName = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fnName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: String(next.headers['lambda-runtime-invoked-function-arn'] ?? ''),
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: id,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  current = id;
  let event;
  try {
    event = JSON.parse(next.body.toString('utf8'));
  } catch (e) {
    current = undefined;
    await postError(`/invocation/${id}/error`, runtimeError('Runtime.UnmarshalError', String(e.message)));
    continue;
  }
  try {
    const result = await invokeHandler(event, context);
    current = undefined;
    await call('POST', `/invocation/${id}/response`, JSON.stringify(result === undefined ? null : result), {
      'content-type': 'application/json',
    });
  } catch (e) {
    current = undefined;
    await postError(`/invocation/${id}/error`, e);
  }
}
