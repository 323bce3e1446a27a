/**
 * Selection patterns: Python `re` patterns (as users write them in NiftyNet configs) applied with search semantics
 * (a match anywhere in the name) to checkpoint-style variable names without `:0`.
 *
 * Matching is bounded in time: every match runs under a vm timeout, so a catastrophically backtracking pattern such as
 * `(a+)+$` fails with a PatternError instead of hanging a worker.
 */
import vm from 'node:vm';
import { UserError } from '../errors';
import { PatternSyntaxError, translatePythonRegex } from './python-regex';

export interface PatternLocation {
  /** File the pattern comes from (pipeline YAML). */
  file?: string;
  /** Field it comes from, e.g. `stages[1].vars_to_freeze[0]`. */
  field?: string;
}

export interface CompiledPattern {
  /** The pattern as the user wrote it (Python dialect). */
  source: string;
  /** The JavaScript translation. Not time-bounded: prefer `test`/`filter`, which are. */
  regex: RegExp;
  /** Search semantics: true when the pattern matches anywhere in `name`. */
  test(name: string): boolean;
  /** The names the pattern matches, in their order (one bounded evaluation for the whole list). */
  filter(names: readonly string[]): string[];
}

export class PatternError extends UserError {
  constructor(
    message: string,
    where: PatternLocation,
    readonly position: number | null,
    readonly reason: string,
    fix: string,
  ) {
    super('PatternError', message, { file: where.file, field: where.field, fix });
  }
}

/** Longest time one evaluation (a call of test or filter) may take. Real names match in microseconds. */
export const MATCH_TIME_LIMIT_MS = 1000;
/**
 * The longest wall-clock time one evaluation may take on a starved machine, as a multiple of the bound: a process
 * getting a twentieth of a core (a CI running test files beside busy trainings) still gets its bound of CPU time. A
 * pattern that really backtracks is refused at the first watchdog on an idle machine, and within this on a busy one.
 */
const MATCH_WALL_LIMIT_FACTOR = 64;

function locationPrefix(where: PatternLocation): string {
  const parts = [where.file, where.field].filter((p): p is string => Boolean(p));
  return parts.length ? `${parts.join(': ')}: ` : '';
}

/** The pattern with a caret under `position`; long patterns are cut around the position. */
function pointAt(pattern: string, position: number | null): string {
  if (position === null) return `  ${pattern.length > 100 ? `${pattern.slice(0, 100)}…` : pattern}`;
  const from = Math.max(0, position - 60);
  const to = Math.min(pattern.length, position + 40);
  const excerpt = `${from > 0 ? '…' : ''}${pattern.slice(from, to)}${to < pattern.length ? '…' : ''}`;
  const caretAt = position - from + (from > 0 ? 1 : 0);
  return `  ${excerpt}\n  ${' '.repeat(caretAt)}^`;
}

function patternError(pattern: string, where: PatternLocation, reason: string, position: number | null, fix: string): PatternError {
  const at = position === null ? '' : ` (position ${position})`;
  const message = `${locationPrefix(where)}bad regular expression: ${reason}${at}\n${pointAt(pattern, position)}\n  Fix: ${fix}.`;
  return new PatternError(message, where, position, reason, fix);
}

const sandbox = vm.createContext(Object.create(null) as object);
const matchScript = new vm.Script(
  '(() => { const out = []; for (let i = 0; i < names.length; i++) out.push(re.test(names[i])); return out; })()',
);

function timeoutError(pattern: string, where: PatternLocation, names: readonly string[], nestedRepeatAt: number | null): PatternError {
  const longest = names.reduce((a, b) => (b.length > a.length ? b : a), '');
  const cause = nestedRepeatAt === null ? 'it backtracks catastrophically' : 'a repeat nested in another repeat backtracks catastrophically';
  const reason = `matching ${names.length} name(s) took longer than ${MATCH_TIME_LIMIT_MS} ms (longest name: ${JSON.stringify(longest)}); ${cause}`;
  return patternError(pattern, where, reason, nestedRepeatAt, 'remove the nesting, e.g. write (a+)+ as a+ and (x|x.)* as x.*');
}

/**
 * Runs matchScript with a bound of MATCH_TIME_LIMIT_MS of CPU time, not of wall-clock time: a loaded machine (other
 * trainings, a CI running tests side by side) must not turn a pattern that matches in time into a refusal. The
 * watchdog is wall-clock, so a run cut short while this process got less CPU than the bound is tried again with a
 * longer watchdog (doubled each time, the last at most MATCH_WALL_LIMIT_FACTOR times the bound).
 */
function runWithinCpuLimit(refusal: () => PatternError): boolean[] {
  for (let watchdog = MATCH_TIME_LIMIT_MS; ; watchdog *= 2) {
    const cpuBefore = process.cpuUsage();
    try {
      return matchScript.runInContext(sandbox, { timeout: watchdog }) as boolean[];
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
      const used = process.cpuUsage(cpuBefore);
      const cpuMs = (used.user + used.system) / 1000;
      if (cpuMs >= MATCH_TIME_LIMIT_MS * 0.9 || watchdog * 2 > MATCH_TIME_LIMIT_MS * MATCH_WALL_LIMIT_FACTOR) throw refusal();
    }
  }
}

/** Compiles a Python `re` pattern; throws PatternError with position, reason and fix when thaw cannot use it exactly. */
export function compilePattern(pattern: string, where: PatternLocation = {}): CompiledPattern {
  let translation;
  try {
    translation = translatePythonRegex(pattern);
  } catch (err) {
    if (err instanceof PatternSyntaxError) throw patternError(pattern, where, err.reason, err.position, err.fix);
    throw err;
  }
  const regex = new RegExp(translation.source, translation.flags);
  const matches = (names: readonly string[]): boolean[] => {
    const context = sandbox as { re?: RegExp; names?: readonly string[] };
    context.re = regex;
    context.names = names;
    try {
      return runWithinCpuLimit(() => timeoutError(pattern, where, names, translation.nestedRepeatAt));
    } finally {
      context.re = undefined;
      context.names = undefined;
    }
  };
  return {
    source: pattern,
    regex,
    test: (name) => matches([name])[0],
    filter: (names) => {
      const hits = matches(names);
      return names.filter((_, i) => hits[i]);
    },
  };
}
