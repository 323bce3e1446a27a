/**
 * `thaw` command dispatcher. Each command lives in its own file under commands/ and exports a `Command`.
 * Exit codes: 0 success, 1 the command's answer is "no" (pipeline cannot run, checkpoints differ, run failed),
 * 2 usage errors. User errors print one clear message, never a stack trace.
 */
import { describeUserError, isUserError } from '../errors';
import type { Command } from './command';
import { UsageError } from './command';
import { cancelCommand } from './commands/cancel';
import { checkCommand } from './commands/check';
import { diffCommand } from './commands/diff';
import { evalCommand } from './commands/eval';
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
  listCommand,
  runCommand,
  serverCommand,
  setupCommand,
  statusCommand,
  varsCommand,
  waitCommand,
  workerCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  thaw ${c.name.padEnd(width)}  ${c.summary}`);
  return `thaw: durable staged fine-tuning on Temporal\n\nUsage:\n${lines.join('\n')}\n\nRun "thaw <command> --help" for a command's options.`;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    process.exitCode = name ? 0 : 2;
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`thaw: unknown command "${name}"\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`Usage: thaw ${command.usage}\n\n${command.summary}`);
    process.exitCode = 0;
    return;
  }
  try {
    process.exitCode = await command.run(rest);
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

if (require.main === module) {
  void main(process.argv.slice(2));
}
