/** Errors of reaching a Temporal cluster. (RunNotFoundError and the run-start errors are beside their code.) */
import { UserError, type UserErrorDetails } from '../../lib/errors';

/** No Temporal server is set, and there is no model_dir whose embedded server could be started. */
export class NoClusterConfiguredError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('NoClusterConfigured', message, details);
  }
}
