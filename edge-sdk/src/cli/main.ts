/**
 * The `jmdc` command. Each subcommand lives in its own module exporting
 * `run(argv: string[]): Promise<number>` (the exit code) and `summary`.
 * Commands that need the local cloud or the dataset (demo, bench, eval, profile, fuzz, load, faults)
 * live in the `infra/tools` workspace of the repository (`npm start`, `npm run eval -- ...`) and are
 * not part of the edge SDK a device installs.
 */
import { type CommandModule, runCommand } from './args.js';

interface Command {
  summary: string;
  load: () => Promise<CommandModule>;
}

const COMMANDS: Record<string, Command> = {
  plan: { summary: 'the partition/compression decision for given network conditions', load: () => import('./plan.js') },
  calibrate: { summary: 'measure head times on this device and store them', load: () => import('./calibrate.js') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: jmdc <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'jmdc <command> --help' for the options of a command.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`jmdc: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return runCommand(`jmdc ${name}`, await cmd.load(), rest);
}
