/**
 * Errors of the network registry and its params: one class per type, so that a caller (preflight, a test) can tell
 * "no such network" from "bad params" from "a module that is not a network" with instanceof, and every type string
 * is written once.
 */
import { UserError, type UserErrorDetails } from '../../errors';

/** No network of that name, or no module file at that path. */
export class UnknownNetworkError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('UnknownNetwork', message, details);
  }
}

/** A network's `params` that it does not take (wrong type, out of range, a graph too large to hold). */
export class InvalidNetworkParamsError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('InvalidNetworkParams', message, details);
  }
}

/** A network module file that does not load or exports no NetworkDefinition. */
export class InvalidNetworkModuleError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('InvalidNetworkModule', message, details);
  }
}
