/** How problems and failures read in the workflow's messages and status. Pure. */
import { innermostFailure } from '../contract';

export function problemText(p: { message: string; stage?: string; field?: string }): string {
  return p.message;
}

/** The innermost message of a failure chain, with the first type on it (e.g. `DataError: …`). */
export function failureText(err: unknown): string {
  const { message, type } = innermostFailure(err);
  return type ? `${type}: ${message}` : message;
}
