/** The texts of `thaw --help`, `thaw <command> --help` / `thaw help <command>`, and of a command name not known. */
import { closest } from '../../lib/pipeline/problems';
import type { Command } from './command';

const HELP_FLAG: readonly [string, string] = ['-h, --help', 'print this help'];

function columns(rows: ReadonlyArray<readonly [string, string]>, indent: string): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`).join('\n');
}

export function globalHelp(commands: readonly Command[]): string {
  const rows = commands.map((c): [string, string] => [`thaw ${c.name}`, c.summary]);
  rows.push(['thaw help <command>', 'what a command takes and does (as `thaw <command> --help`)'], ['thaw --version', 'print thaw\'s version']);
  return `thaw: durable staged fine-tuning on Temporal\n\nUsage:\n${columns(rows, '  ')}\n\nRun "thaw <command> --help" for a command's options.`;
}

export function commandHelp(command: Command): string {
  const parts = [`Usage: thaw ${command.usage}`, command.summary, `Options:\n${columns([...(command.flags ?? []), HELP_FLAG], '  ')}`];
  if (command.details) parts.push(command.details);
  return parts.join('\n\n');
}

/** ` — did you mean "x"?` with the candidate nearest to `word` within a small edit distance, or '' when none is. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const guess = closest(word, candidates);
  return guess ? ` — did you mean "${guess}"?` : '';
}

/** One line naming the word, with the closest command when one is near, and a second line saying where the list is. */
export function unknownCommand(word: string, commands: readonly Command[]): string {
  const guess = closest(word, commands.map((c) => c.name));
  const then = guess ? `, "thaw ${guess} --help" for that one's options` : '';
  return `unknown command "${word}"${didYouMean(word, commands.map((c) => c.name))}\nRun "thaw --help" for the list of commands${then}.`;
}
