/**
 * How errors leave an activity: user errors (bad pipeline, bad checkpoint, bad regex, a folder that cannot be
 * written) become non-retryable ApplicationFailures whose type is the error's type, so the workflow fails fast with
 * the message; anything else is infrastructure trouble and is rethrown as it is, so Temporal retries it with backoff.
 * A filesystem error does not say by itself whose fault it is, so an activity that writes into a local folder asks
 * the folder (the check preflight runs): a folder that became a file, read-only or unwritable after preflight is the
 * user's to fix, and retrying could only fail again.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describeUserError, isUserError, UserError, type UserErrorDetails } from '../lib/errors';
import { localModelDirProblem } from '../lib/pipeline/model-dir';
import { isS3 } from '../lib/storage';

export function toActivityFailure(err: unknown): unknown {
  if (!isUserError(err)) return err;
  return ApplicationFailure.create({
    message: describeUserError(err),
    type: err.type,
    nonRetryable: true,
    details: [err.details],
    cause: err,
  });
}

/** Runs an activity body, translating user errors. */
export async function translatingUserErrors<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toActivityFailure(err);
  }
}

/** A local folder an activity must write to cannot take files (what preflight's model_dir check finds). */
export class FolderUnusableError extends UserError {
  constructor(message: string, dir: string, fix: string) {
    super('ModelDirUnusable', message, { file: dir, fix });
  }
}

/** The loss curve (loss.svg) cannot be written: not retried, it could only fail again. */
export class LossCurveUnwritableError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('LossCurveUnwritable', message, details);
  }
}

/** Throws FolderUnusableError when checkpoints (or the loss curve) cannot be written under a local `dir`. */
export async function assertWritableFolder(dir: string): Promise<void> {
  if (isS3(dir)) return;
  const problem = await localModelDirProblem(dir);
  if (problem) throw new FolderUnusableError(problem.message, dir, problem.fix);
}

/**
 * Like translatingUserErrors, for an activity that writes under the local folder `dir`: the folder is checked before
 * the body runs, and again when the body fails with something other than a user error, which then becomes one when
 * the folder is the cause.
 */
export async function writingInto<T>(dir: string, body: () => Promise<T>): Promise<T> {
  return translatingUserErrors(async () => {
    await assertWritableFolder(dir);
    try {
      return await body();
    } catch (err) {
      if (!isUserError(err)) await assertWritableFolder(dir);
      throw err;
    }
  });
}
