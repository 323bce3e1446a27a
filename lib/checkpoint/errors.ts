/** The one error type of the checkpoint module: a user-caused problem with a checkpoint file or folder. */
import { UserError, type UserErrorDetails } from '../errors';

export class CheckpointError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('CheckpointError', message, details);
  }
}

/**
 * Turns a filesystem error on `file` into a CheckpointError that says what happened in words. A storage error that
 * is already a UserError (S3 credentials, bucket) stays as it is, and so does one without an errno code (a network
 * failure talking to object storage: infrastructure, retried).
 */
export function fileError(err: unknown, file: string, what: string): Error {
  if (err instanceof UserError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (err instanceof Error && code === undefined) return err;
  const reason =
    code === 'ENOENT' ? 'does not exist' :
    code === 'EACCES' || code === 'EPERM' ? 'is not readable (permission denied)' :
    code === 'EISDIR' ? 'is a directory, not a file' :
    code === 'ENOSPC' ? 'cannot be written: the disk is full' :
    `cannot be accessed (${code ?? (err as Error)?.message ?? String(err)})`;
  return new CheckpointError(`${what} ${file} ${reason}`, { file });
}
