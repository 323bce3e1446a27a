/** Preflight problems: plain JSON (they travel in Temporal payloads), each naming the stage, field, variables and fix. */

export interface Problem {
  /** Stable kind, e.g. `MissingOptimizerSlots`. */
  code: string;
  /** Stage name; absent for pipeline-level problems (starting_iter, network). */
  stage?: string;
  /** e.g. `stages[1].vars_to_restore[0]` */
  field: string;
  /** Where the field is in the pipeline file (1-based), when known. */
  line?: number;
  column?: number;
  variables: string[];
  /** Complete text: file, stage, field, what is wrong and the fix. */
  message: string;
  fix: string;
}

export interface ProblemInput {
  code: string;
  file: string;
  stage?: string;
  field: string;
  variables?: string[];
  text: string;
  fix: string;
}

export function problem(p: ProblemInput): Problem {
  const where = [p.file, p.stage === undefined ? null : `stage "${p.stage}"`, p.field].filter(Boolean).join(': ');
  return {
    code: p.code,
    ...(p.stage === undefined ? {} : { stage: p.stage }),
    field: p.field,
    variables: p.variables ?? [],
    message: `${where}: ${p.text}\n  Fix: ${p.fix}`,
    fix: p.fix,
  };
}

/** `a, b, c and 5 more` */
export function listNames(names: readonly string[], max = 6): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
