/**
 * `thaw` command dispatcher. Each command lives in its own file under commands/ and exports a `Command`.
 * Exit codes: 0 success, 1 the command's answer is "no" (pipeline cannot run, checkpoints differ, run failed),
 * 2 usage errors. User errors print one clear message, never a stack trace.
 */
import { describeUserError, isUserError } from '../../lib/errors';
import { readSettings } from '../../lib/settings';
import type { Command } from './command';
import { UsageError } from './command';
import { commandHelp, didYouMean, globalHelp, unknownCommand } from './help';
import { thawVersion } from './version';
import { cancelCommand } from './commands/cancel';
import { checkCommand } from './commands/check';
import { diffCommand } from './commands/diff';
import { evalCommand } from './commands/eval';
import { importCommand } from './commands/import';
import { listCommand } from './commands/list';
import { runCommand } from './commands/run';
import { serverCommand } from './commands/server';
import { setupCommand } from './commands/setup';
import { statusCommand } from './commands/status';
import { varsCommand } from './commands/vars';
import { waitCommand } from './commands/wait';
import { workerCommand } from './commands/worker';

// One line per command; keep alphabetical.
const COMMANDS: Command[] = [
  cancelCommand,
  checkCommand,
  diffCommand,
  evalCommand,
  importCommand,
  listCommand,
  runCommand,
  serverCommand,
  setupCommand,
  statusCommand,
  varsCommand,
  waitCommand,
  workerCommand,
];

/** `thaw`, `thaw --help`, `thaw --version`, `thaw help [command]`: whatever does not run a command. */
function topLevel(name: string | undefined, rest: string[]): number | null {
  if (!name) {
    console.log(globalHelp(COMMANDS));
    return 2;
  }
  if (name === '--help' || name === '-h') {
    console.log(globalHelp(COMMANDS));
    return 0;
  }
  if (name === '--version' || name === '-V') {
    console.log(`thaw ${thawVersion()}`);
    return 0;
  }
  if (name === 'help') return help(rest);
  if (name.startsWith('-')) {
    console.error(`thaw: unknown option "${name}"${didYouMean(name, TOP_LEVEL_FLAGS)}\nThe options before a command are ${TOP_LEVEL_FLAGS.join(', ')}; run "thaw --help" for the commands.`);
    return 2;
  }
  return null;
}

const TOP_LEVEL_FLAGS = ['--help', '-h', '--version', '-V'];

function help(rest: string[]): number {
  if (rest.length === 0) {
    console.log(globalHelp(COMMANDS));
    return 0;
  }
  const command = rest.length === 1 ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
  if (command) {
    console.log(commandHelp(command));
    return 0;
  }
  console.error(rest.length === 1 ? `thaw help: ${unknownCommand(rest[0], COMMANDS)}` : `thaw help: give one command, got ${rest.length} words\nUsage: thaw help <command>`);
  return 2;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const handled = topLevel(name, rest);
  if (handled !== null) {
    process.exitCode = handled;
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`thaw: ${unknownCommand(name, COMMANDS)}`);
    process.exitCode = 2;
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(command));
    process.exitCode = 0;
    return;
  }
  try {
    // The CLI's edge: every command gets the settings read here, once (a malformed one stops it with its fix).
    process.exitCode = await command.run(rest, readSettings());
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`thaw ${name}: ${err.message}\nUsage: thaw ${command.usage}`);
      process.exitCode = 2;
    } else if (isUserError(err)) {
      console.error(`thaw ${name}: ${describeUserError(err)}`);
      process.exitCode = 1;
    } else {
      console.error(`thaw ${name}: internal error (please report):`, err);
      process.exitCode = 70;
    }
  }
}

/** After a command has ended, how long the process may take to exit on its own before it is made to. */
const EXIT_GRACE_MS = 10_000;

/**
 * `thaw` as a program (bin/thaw.js): main, then exit. A command has closed what it opened once it returns, so the
 * process normally ends at once; should a handle linger (a connection to a server that went away), say so and exit
 * rather than hang the shell or the script that ran thaw.
 */
export async function runAsProgram(argv: string[]): Promise<void> {
  await main(argv);
  setTimeout(() => {
    process.stderr.write(`thaw: the command ended but the process was still busy ${EXIT_GRACE_MS / 1000} s later; exiting\n`);
    process.exit();
  }, EXIT_GRACE_MS).unref();
}

if (require.main === module) {
  void runAsProgram(process.argv.slice(2));
}
