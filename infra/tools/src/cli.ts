/**
 * The repository's dataset commands, run from the root: `npm run eval -- ...` and
 * `npm run profile -- ...`. They read the Fashion-MNIST files and the model's held-out splits, so they
 * live here, outside the edge SDK a device installs.
 */

import { UsageError } from '@jmdc/edge-sdk/cli';
import { isJmdcError } from '@jmdc/edge-sdk/errors';

interface Command {
  load: () => Promise<{ run(argv: string[]): Promise<number>; usage: string }>;
}

const COMMANDS: Record<string, Command> = {
  eval: { load: () => import('./eval.js') },
  profile: { load: () => import('./profile.js') },
};

/** Runs one command; returns the exit code (2 for bad usage). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const cmd = name ? COMMANDS[name] : undefined;
  if (!name || !cmd) {
    console.error(`usage: npm run <${Object.keys(COMMANDS).join('|')}> -- [options]  (--help for the options)`);
    return 2;
  }
  const mod = await cmd.load();
  try {
    return await mod.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${name}: ${e.message}\n\n${mod.usage}`);
      return 2;
    }
    if (isJmdcError(e)) {
      console.error(`${name}: ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
