/**
 * `npm run local-cloud`: the local cloud in the foreground (see `--help`).
 */
import { formatInvocation, HELP, parseCliArgs, UsageError } from './cliArgs.js';
import { startLocalCloud } from './localCloud.js';

async function main(): Promise<number> {
  let config: ReturnType<typeof parseCliArgs>;
  try {
    config = parseCliArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${HELP}`);
      return 2;
    }
    throw e;
  }
  if (config.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const cloud = await startLocalCloud({
    ...config.options,
    onInfo: (line) => process.stderr.write(`[local-cloud] ${line}\n`),
    onInvocation: (l) =>
      out(config.json ? JSON.stringify({ time: new Date().toISOString(), ...l }) : formatInvocation(l)),
    ...(config.functionLogs
      ? { onFunctionLog: (fn: string, id: string, line: string) => out(`  ${fn} ${id} | ${line}`) }
      : {}),
  });
  const fns = cloud.functions.map(
    (f) =>
      `  point ${f.point}: ${f.name} (${f.memoryMb} MB, ${f.timeoutS} s${f.reserved !== undefined ? `, reserved ${f.reserved}` : ''})`,
  );
  process.stderr.write(
    `[local-cloud] listening on ${cloud.url} (assembly ${cloud.assemblyDir})\n${fns.join('\n')}\n` +
      (config.options.endpointsFile ? `[local-cloud] wrote ${config.options.endpointsFile}\n` : ''),
  );
  out(JSON.stringify({ url: cloud.url, endpointsFile: config.options.endpointsFile ?? null }));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`[local-cloud] ${signal}: stopping\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await cloud.stop();
  const s = cloud.stats();
  process.stderr.write(
    `[local-cloud] stopped: ${s.invocations} invocations, ${s.coldStarts} cold starts, ${s.throttles} throttles\n`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`[local-cloud] ${(e as { code?: string }).code ?? 'error'}: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
