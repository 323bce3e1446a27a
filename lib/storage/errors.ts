/** StorageError: a user-caused storage problem (bad credentials, missing bucket, no permission), found before training. */
import { UserError, type UserErrorDetails } from '../errors';

export class StorageError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('StorageError', message, details);
  }
}

/** An error meaning "no such file or object", recognised by `code === 'ENOENT'` like a filesystem error. */
export function notFound(location: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${location} does not exist`), { code: 'ENOENT' });
}

/**
 * An error meaning "this exists but is not a regular file" (a FIFO, a device, a socket): `code` 'EFTYPE' (BSD's
 * "inappropriate file type"), `fileKind` in words. A directory is 'EISDIR', as the filesystem says it.
 */
export function notRegularFile(location: string, fileKind: string): NodeJS.ErrnoException & { fileKind: string } {
  return Object.assign(new Error(`${location} is ${fileKind}, not a regular file`), { code: 'EFTYPE', fileKind });
}

/** An error meaning "larger than a reader of this kind of file takes": `code` 'EFBIG', with the size and the limit. */
export function tooLarge(location: string, size: number, limit: number): NodeJS.ErrnoException & { size: number; limit: number } {
  return Object.assign(new Error(`${location} is ${size} bytes, more than the ${limit} read`), { code: 'EFBIG', size, limit });
}
