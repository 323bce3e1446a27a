/** The shape of one `thaw` subcommand, and argument parsing shared by all of them. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ThawSettings } from '../../lib/settings';
import { didYouMean } from './help';

export interface Command {
  name: string;
  /** e.g. `vars <ckpt> [--json] [--output FILE] [--match REGEX]` */
  usage: string;
  summary: string;
  /**
   * What each flag of `usage` does, for `thaw <command> --help` and `thaw help <command>`: the flag as the usage
   * writes it (`--output FILE`) and one line. Every flag of `usage` needs one (test/cli.test.ts checks).
   */
  flags?: ReadonlyArray<readonly [flag: string, description: string]>;
  /** Longer text after the summary in the help (arguments, exit codes). */
  details?: string;
  /**
   * Returns the exit code. Throws UsageError for bad arguments, UserError for user-caused failures. `settings`: the
   * THAW_* variables, read once by main (the CLI's edge) and passed down.
   */
  run(args: string[], settings: ThawSettings): Promise<number>;
}

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** node:util parseArgs with strict checking, turning its errors into UsageError (an unknown flag with a guess). */
export function parseCommandArgs<O extends Options>(args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const unknown = /^Unknown option '([^']+)'/.exec((err as Error).message)?.[1];
    throw new UsageError(unknown === undefined ? (err as Error).message : unknownOption(unknown, options));
  }
}

/** Node's own first sentence (it names the flag), then the closest flag or the flags there are. */
function unknownOption(flag: string, options: Options): string {
  const known = Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
  const guess = didYouMean(flag, known);
  if (guess) return `Unknown option '${flag}'${guess}`;
  return `Unknown option '${flag}' (${known.length > 0 ? `it takes ${known.join(', ')}` : 'it takes no options'}; a value starting with "-" goes after "--")`;
}

export interface NumberFlagRule {
  /** Smallest value accepted (default 0). */
  min?: number;
  max?: number;
  /** Whole numbers only (default true). */
  integer?: boolean;
  /** What the number counts, for the message: `seconds`, `a TCP port`. */
  what?: string;
}

/**
 * The value of a numeric flag, strictly: plain decimal digits (a fraction too where integer is false), within
 * [min, max]. `abc`, `''`, `1e3`, `0x10`, ` 5` and `-1` are usage errors naming the flag and what it takes.
 */
export function parseNumberFlag(flag: string, raw: string, rule: NumberFlagRule = {}): number {
  const integer = rule.integer ?? true;
  const min = rule.min ?? 0;
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  const range = rule.max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
  const kind = integer ? 'a whole number' : 'a number';
  const what = rule.what ? ` (${rule.what})` : '';
  const syntax = integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
  const value = Number(raw);
  if (!syntax.test(raw) || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`${flag} takes ${kind} ${range}${what}, got "${raw}"`);
  }
  return value;
}
