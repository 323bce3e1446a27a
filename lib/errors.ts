/**
 * Errors a user can cause (bad YAML, bad regex, missing checkpoint, shape mismatch, full disk).
 *
 * Each carries a stable `type` (also its `name`), which the activities turn into the type of a non-retryable
 * Temporal ApplicationFailure, and a message that names the file, the field and the fix. Anything that is not a
 * UserError is treated as infrastructure trouble and retried.
 */
export interface UserErrorDetails {
  /** File the problem is in (pipeline YAML, checkpoint prefix, ...). */
  file?: string;
  /** Field or variable concerned, e.g. `stages[1].vars_to_freeze`. */
  field?: string;
  /** What the user should do about it. */
  fix?: string;
}

export class UserError extends Error {
  readonly type: string;
  readonly details: UserErrorDetails;

  constructor(type: string, message: string, details: UserErrorDetails = {}) {
    super(message);
    this.type = type;
    this.name = type;
    this.details = details;
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** The message a person reads: the error's message, then its fix when the message does not already say it. */
export function describeUserError(err: UserError): string {
  const fix = err.details.fix;
  return fix && !err.message.includes(fix) ? `${err.message}\n  Fix: ${fix}` : err.message;
}
