/** The one error type of the checkpoint module: a user-caused problem with a checkpoint file or folder. */
import { UserError, type UserErrorDetails } from '../errors';

export class CheckpointError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('CheckpointError', message, details);
  }
}

/** The fix for a checkpoint file that is not a regular file. */
const REGULAR_FIX = 'replace it with the real file (thaw reads only regular files, or symlinks to them), or remove it';

/**
 * Turns a filesystem error on `file` into a CheckpointError that says what happened in words. A storage error that
 * is already a UserError (S3 credentials, bucket) stays as it is, and so does one without an errno code (a network
 * failure talking to object storage: infrastructure, retried).
 */
export function fileError(err: unknown, file: string, what: string): Error {
  if (err instanceof UserError) return err;
  const e = err as NodeJS.ErrnoException & { fileKind?: string; size?: number; limit?: number };
  const code = e?.code;
  if (err instanceof Error && code === undefined) return err;
  if (code === 'EISDIR' || code === 'EFTYPE' || code === 'ENXIO') {
    const kind = code === 'EISDIR' ? 'a directory' : code === 'ENXIO' ? 'a socket or device' : e.fileKind ?? 'not a regular file';
    return new CheckpointError(`${what} ${file} is ${kind}, not a file`, { file, fix: REGULAR_FIX });
  }
  if (code === 'EFBIG') {
    return new CheckpointError(
      `${what} ${file} is ${e.size} bytes, more than a ${what} can be (thaw reads at most ${e.limit}): it is not one`,
      { file, fix: 'replace it with the real file, or remove it' });
  }
  const reason =
    code === 'ENOENT' ? 'does not exist' :
    code === 'EACCES' || code === 'EPERM' ? 'is not readable (permission denied)' :
    code === 'ENOSPC' ? 'cannot be written: the disk is full' :
    `cannot be accessed (${code ?? (err as Error)?.message ?? String(err)})`;
  return new CheckpointError(`${what} ${file} ${reason}`, { file });
}
