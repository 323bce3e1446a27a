/** The shape of one `thaw` subcommand, and argument parsing shared by all of them. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  name: string;
  /** e.g. `vars <ckpt> [--json] [--output FILE] [--match REGEX]` */
  usage: string;
  summary: string;
  /** Returns the exit code. Throws UsageError for bad arguments, UserError for user-caused failures. */
  run(args: string[]): Promise<number>;
}

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** node:util parseArgs with strict checking, turning its errors into UsageError. */
export function parseCommandArgs<O extends Options>(args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
