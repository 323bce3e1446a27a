/**
 * Pipeline problems: every mistake found in a pipeline YAML, with where it is (file, line:column, field) and what
 * would be valid. All problems of a file are collected and thrown together as one PipelineError.
 */
import { UserError, type UserErrorDetails } from '../errors';

export interface PipelineProblem {
  file: string;
  /** 1-based; absent when the problem has no single place in the file. */
  line?: number;
  column?: number;
  /** e.g. `stages[1].vars_to_freeze` */
  field: string;
  message: string;
}

export function formatProblem(p: PipelineProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.column ?? 1}`;
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

/** A pipeline file that cannot be read as a whole (missing, a folder, too large): one message and its own fix. */
export interface UnreadablePipeline {
  message: string;
  details: UserErrorDetails;
}

/** The message and details of a PipelineError listing `problems` (of `total`). */
function listed(problems: PipelineProblem[], total: number): { message: string; details: UserErrorDetails } {
  const first = problems[0];
  const count = total > 1 ? `${total} problems in the pipeline:\n  ` : '';
  return {
    message: count + problems.map(formatProblem).join('\n  '),
    details: { file: first?.file, field: first?.field, fix: 'edit the pipeline file as the message says' },
  };
}

export class PipelineError extends UserError {
  /** The problems found in the file; empty when the file could not be read at all (the message says why). */
  readonly problems: PipelineProblem[];

  /** `total`: how many problems there are, when `problems` lists only the first of them. */
  constructor(problems: PipelineProblem[], total?: number);
  constructor(unreadable: UnreadablePipeline);
  constructor(problems: PipelineProblem[] | UnreadablePipeline, total?: number) {
    const { message, details } = Array.isArray(problems) ? listed(problems, total ?? problems.length) : problems;
    super('PipelineError', message, details);
    this.problems = Array.isArray(problems) ? problems : [];
  }
}

/** `['stages', 1, 'lr']` → `stages[1].lr` */
export function fieldName(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
