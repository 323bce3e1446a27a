/** The one error type of the evaluation module: a user-caused problem with what `thaw eval` compares or writes. */
import { UserError, type UserErrorDetails } from '../errors';

export class EvaluationError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('EvaluationError', message, details);
  }
}
