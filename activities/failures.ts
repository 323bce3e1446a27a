/**
 * How errors leave an activity: user errors (bad pipeline, bad checkpoint, bad regex) become non-retryable
 * ApplicationFailures whose type is the error's type, so the workflow fails fast with the message; anything else is
 * infrastructure trouble and is rethrown as it is, so Temporal retries it with backoff.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describeUserError, isUserError } from '../lib/errors';

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
