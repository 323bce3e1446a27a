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
