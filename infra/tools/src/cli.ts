/**
 * The repository's dataset commands, run from the root: `npm run eval -- ...` and
 * `npm run profile -- ...`. They read the Fashion-MNIST files and the model's held-out splits, so they
 * live here, outside the edge SDK a device installs.
 */

import { type CommandModule, runCommand } from '@jmdc/edge-sdk/cli';

interface Command {
  load: () => Promise<CommandModule>;
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
  return runCommand(name, await cmd.load(), rest);
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
