/**
 * `netem`: the network and device emulators from the command line.
 *
 *   npx tsx --conditions source infra/netem/src/cli.ts proxy --target 127.0.0.1:18790 --profile lte [--trace t.json]
 *   npx tsx --conditions source infra/netem/src/cli.ts profiles
 *   npx tsx --conditions source infra/netem/src/cli.ts cpu --preset pi4 [--pacing quota]
 */
import { parseArgs } from 'node:util';
import { createCpuBudget } from './cpu/createCpuBudget.js';
import { DEVICE_PRESETS, devicePreset } from './cpu/devicePresets.js';
import { measureCpuFraction } from './cpu/measureCpuFraction.js';
import { NetemError, NetemErrorCodes } from './errors.js';
import { formatConditions, NETWORK_PROFILES, profileConditions, resolveConditions } from './profiles.js';
import { startShapingProxy } from './startShapingProxy.js';
import { loadTrace } from './trace.js';
import type { CpuPacing, LinkConditions } from './types/index.js';

const USAGE = `usage:
  netem proxy --target HOST:PORT [--port N] [--profile NAME] [--up MBPS] [--down MBPS] [--rtt MS] [--jitter MS]
              [--loss RATE:stall[:MS]|RATE:reset] [--trace FILE] [--loop] [--seed N]
      runs a shaping proxy in the foreground (Ctrl-C stops it); prints its URL, then one line per trace step
  netem profiles
      lists the network profiles with their values and sources, and the device presets
  netem cpu --preset NAME | --fraction F [--pacing duty-cycle|quota]
      creates a CPU budget, measures the fraction it delivers to a CPU loop, prints JSON, removes it`;

function usage(message: string): never {
  throw new NetemError(NetemErrorCodes.INVALID_ARGUMENT, `${message}\n${USAGE}`);
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) usage(`--${name} must be a number, got '${v}'`);
  return n;
}

function parseLoss(v: string): LinkConditions['loss'] {
  const [rate, mode, stall] = v.split(':');
  if (mode !== 'stall' && mode !== 'reset') usage(`--loss must be RATE:stall[:MS] or RATE:reset, got '${v}'`);
  const loss: NonNullable<LinkConditions['loss']> = { rate: num('loss', rate)!, mode };
  if (stall !== undefined) loss.stallMs = num('loss', stall)!;
  return loss;
}

async function proxy(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      port: { type: 'string' },
      profile: { type: 'string' },
      up: { type: 'string' },
      down: { type: 'string' },
      rtt: { type: 'string' },
      jitter: { type: 'string' },
      loss: { type: 'string' },
      trace: { type: 'string' },
      loop: { type: 'boolean' },
      seed: { type: 'string' },
    },
    strict: true,
  });
  const m = /^(.+):(\d+)$/.exec(values.target ?? '');
  if (!m) usage('--target HOST:PORT is required');
  const custom: Partial<LinkConditions> = {};
  const up = num('up', values.up);
  const down = num('down', values.down);
  const rtt = num('rtt', values.rtt);
  const jitter = num('jitter', values.jitter);
  if (up !== undefined) custom.uplinkMbps = up;
  if (down !== undefined) custom.downlinkMbps = down;
  if (rtt !== undefined) custom.rttMs = rtt;
  if (jitter !== undefined) custom.jitterMs = jitter;
  if (values.loss !== undefined) custom.loss = parseLoss(values.loss);
  const conditions = resolveConditions(custom, profileConditions(values.profile ?? 'loopback'));
  const trace = values.trace === undefined ? undefined : loadTrace(values.trace);
  const seed = num('seed', values.seed);
  const p = await startShapingProxy({
    target: { host: m[1]!, port: Number(m[2]) },
    conditions,
    ...(values.port === undefined ? {} : { port: num('port', values.port)! }),
    ...(seed === undefined ? {} : { seed }),
  });
  const stamp = (): string => new Date().toISOString().slice(11, 23);
  console.log(`${stamp()} proxy ${p.url} -> ${m[1]}:${m[2]}  ${formatConditions(p.conditions())}`);
  const t0 = performance.now();
  const playback = trace
    ? p.playTrace(trace, {
        loop: values.loop ?? false,
        onStep: (s, i) =>
          console.log(
            `${stamp()} step ${i} at ${(performance.now() - t0).toFixed(0)} ms${s.label ? ` (${s.label})` : ''}: ${formatConditions(p.conditions())}`,
          ),
      })
    : undefined;
  playback?.done.then(
    () => {
      if (!values.loop) console.log(`${stamp()} trace done; the last conditions stay until Ctrl-C`);
    },
    (err: unknown) => console.error(`trace stopped: ${(err as Error).message}`),
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const s = p.stats();
  await p.close();
  console.log(
    `${stamp()} closed: ${s.connections} connections, ${s.bytesUp} B up, ${s.bytesDown} B down, ${s.stalls} stalls, ${s.resets} resets`,
  );
}

function profiles(): void {
  for (const [name, p] of Object.entries(NETWORK_PROFILES)) {
    console.log(`${name.padEnd(13)} ${formatConditions(p)}\n${' '.repeat(14)}${p.description}; source: ${p.source}`);
  }
  console.log('\ndevice presets (fractions of one core of the reference machine; approximations):');
  for (const d of Object.values(DEVICE_PRESETS)) {
    console.log(`${d.name.padEnd(13)} ${d.cpuFraction}  ${d.description}\n${' '.repeat(14)}basis: ${d.basis}`);
  }
}

async function cpu(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { preset: { type: 'string' }, fraction: { type: 'string' }, pacing: { type: 'string' } },
    strict: true,
  });
  const fraction =
    values.preset !== undefined ? devicePreset(values.preset).cpuFraction : num('fraction', values.fraction);
  if (fraction === undefined) usage('--preset NAME or --fraction F is required');
  const pacing = values.pacing as CpuPacing | undefined;
  const budget = await createCpuBudget({
    cpuFraction: fraction,
    name: values.preset ?? 'cli',
    ...(pacing ? { pacing } : {}),
  });
  try {
    console.error(`${budget.method}: ${budget.detail}`);
    const m = await measureCpuFraction(budget);
    console.log(JSON.stringify({ preset: values.preset ?? null, detail: budget.detail, ...m }));
  } finally {
    await budget.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'proxy') await proxy(rest);
  else if (cmd === 'profiles') profiles();
  else if (cmd === 'cpu') await cpu(rest);
  else if (cmd === undefined || cmd === '--help' || cmd === '-h') console.log(USAGE);
  else usage(`unknown command '${cmd}'`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as NetemError;
  console.error(e.code ? `${e.code}: ${e.message}` : String(err));
  process.exitCode =
    e.code === NetemErrorCodes.INVALID_ARGUMENT || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? 2
      : 1;
});
