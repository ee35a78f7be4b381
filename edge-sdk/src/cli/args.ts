/** Minimal `--flag value` / `--flag` parsing shared by the CLI commands; bad flags exit with code 2. */
import { parseArgs } from 'node:util';
import { isJmdcError } from '../errors.js';

export class UsageError extends Error {}

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export type Flags<T extends FlagSpec> = { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };

/** A token that is a negative number (`-1`, `-0.5`, `-.5`, `-1e3`), not a flag. */
const NEGATIVE = /^-(\d|\.\d)/;

/**
 * Parses `--flag value` / `--flag`. A value that starts with `-` and is a number (`--uplink-mbps -1`)
 * is taken as the value, so that the command can say what is wrong with it.
 *
 * @example
 * parseFlags(['--rtt-ms', '-5'], { 'rtt-ms': { type: 'string' } }) // { 'rtt-ms': '-5' }
 */
export function parseFlags<T extends FlagSpec>(argv: string[], spec: T): Flags<T> {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name !== undefined && spec[name]?.type === 'string' && next !== undefined && NEGATIVE.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values as Flags<T>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A command: `run` returns the exit code; `usage` is printed after a usage error. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
  usage: string;
}

/**
 * Runs a command and returns its exit code: on a {@link UsageError} it prints `label: message` and the
 * command's usage (2); on a JMDC error, `label: code: message` (1); any other error is thrown.
 */
export async function runCommand(label: string, mod: CommandModule, argv: string[]): Promise<number> {
  try {
    return await mod.run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${label}: ${e.message}\n\n${mod.usage}`);
      return 2;
    }
    if (isJmdcError(e)) {
      console.error(`${label}: ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

export function num(v: unknown, name: string, opts: { min?: number; max?: number; int?: boolean } = {}): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isFinite(n)) {
    throw new UsageError(`--${name} must be a number${v === undefined ? '' : `, got '${String(v)}'`}`);
  }
  if (opts.int && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer`);
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name} must be >= ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`--${name} must be <= ${opts.max}, got ${n}`);
  return n;
}

export { median } from '../util/median.js';

/** A progress line on stderr: rewritten in place on a TTY, every 10% otherwise. */
export function progress(label: string, total: number): (done: number, extra?: string) => void {
  const start = Date.now();
  let lastDecile = -1;
  const tty = process.stderr.isTTY;
  return (done, extra = '') => {
    const el = (Date.now() - start) / 1000;
    const eta = (el / Math.max(done, 1)) * (total - done);
    const line = `${label} ${done}/${total} ${((100 * done) / total).toFixed(1)}% ${el.toFixed(0)}s eta ${eta.toFixed(0)}s ${extra}`;
    const decile = Math.floor((10 * done) / total);
    if (tty) process.stderr.write(`\r${line.padEnd(100)}${done === total ? '\n' : ''}`);
    else if (decile !== lastDecile) process.stderr.write(`${line}\n`);
    lastDecile = decile;
  };
}
