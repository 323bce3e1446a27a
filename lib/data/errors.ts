/** The one error type of the data module: a user-caused problem with a stage's data (config, CSV, NIfTI files). */
import { UserError, type UserErrorDetails } from '../errors';

export class DataError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('DataError', message, details);
  }
}
