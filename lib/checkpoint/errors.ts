/** The one error type of the checkpoint module: a user-caused problem with a checkpoint file or folder. */
import { UserError, type UserErrorDetails } from '../errors';

export class CheckpointError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('CheckpointError', message, details);
  }
}

/** Turns a filesystem error on `file` into a CheckpointError that says what happened in words. */
export function fileError(err: unknown, file: string, what: string): CheckpointError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason =
    code === 'ENOENT' ? 'does not exist' :
    code === 'EACCES' || code === 'EPERM' ? 'is not readable (permission denied)' :
    code === 'EISDIR' ? 'is a directory, not a file' :
    code === 'ENOSPC' ? 'cannot be written: the disk is full' :
    `cannot be accessed (${code ?? (err as Error)?.message ?? String(err)})`;
  return new CheckpointError(`${what} ${file} ${reason}`, { file });
}
