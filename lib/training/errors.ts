/**
 * Errors of training a stage: the engine or backend asked for is not there, the stage's graph cannot be set up
 * (data that does not fit the network, a selection that trains nothing, a checkpoint without a variable), and a
 * user error raised in the training child, re-raised in the parent. Network and params errors are in
 * networks/errors.ts.
 */
import { UserError, type UserErrorDetails } from '../errors';

/** The training engine asked for (engine: graph) cannot be loaded here. */
export class EngineUnavailableError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('EngineUnavailable', message, details);
  }
}

/**
 * engine: graph was asked for, and the network has an op the graph engine has no gradient for. (The graph
 * engine's own UndifferentiableOpError, a plain Error, is what this is made from.)
 */
export class UndifferentiableNetworkError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('UndifferentiableOp', message, details);
  }
}

/** The TensorFlow.js backend asked for is not installed or does not load. */
export class BackendUnavailableError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('BackendUnavailable', message, details);
  }
}

/** The stage's data does not fit its network (channels, classes, dimensionality, sizes). */
export class DataNetworkMismatchError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('DataNetworkMismatch', message, details);
  }
}

/** The stage's selection names what is not there, or restores with no checkpoint to restore from. */
export class InvalidSelectionError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('InvalidSelection', message, details);
  }
}

/** Every trainable variable of the stage is frozen. */
export class NothingToTrainError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('NothingToTrain', message, details);
  }
}

/** A variable the stage restores is not in the checkpoint. */
export class MissingVariableError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('MissingVariable', message, details);
  }
}

/** A restored variable's shape in the checkpoint differs from the network's. */
export class ShapeMismatchError extends UserError {
  constructor(message: string, details: UserErrorDetails = {}) {
    super('ShapeMismatch', message, details);
  }
}

/**
 * A user error raised in the training child process (any of the types above, DataError, CheckpointError, ...),
 * re-raised in the parent from its run message with the same type, message and details. Its type is the child's:
 * the one class here whose type is not fixed.
 */
export class StageChildUserError extends UserError {
  constructor(type: string, message: string, details: UserErrorDetails = {}) {
    super(type, message, details);
  }
}
