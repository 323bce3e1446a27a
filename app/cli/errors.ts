/** Errors of the CLI's own commands (setup, run in the background); the other modules' errors pass through it. */
import { UserError, type UserErrorDetails } from '../../lib/errors';

/** A step of `thaw setup` (npm install, the TensorFlow download) failed, or there is no project to set up. */
export class SetupFailedError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('SetupFailed', message, details);
  }
}

/** `thaw run --background`: the background run exited early, or its server did not come up. */
export class BackgroundRunFailedError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('BackgroundRunFailed', message, details);
  }
}
