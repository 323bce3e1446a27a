/** The one error type of the NiftyNet config module: an `.ini` file thaw cannot read or turn into a pipeline. */
import { UserError, type UserErrorDetails } from '../errors';

export class NiftyNetConfigError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('NiftyNetConfigError', message, details);
  }
}
