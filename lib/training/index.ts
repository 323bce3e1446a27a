/** The training engine: networks, optimisers with named state, and the stage runner (see run-stage.ts). */
export { runStage, type RunStageOptions } from './run-stage';
export type { StageProgress, StageResult, StageRunRequest, StageSelection, StageSidecar } from './types';
export { getNetwork, listNetworks, type NetworkDefinition } from './networks';
export { loadBackend, requestedBackend, backendPresent, type EngineName } from './backend';
export {
  BackendUnavailableError, DataNetworkMismatchError, EngineUnavailableError, InvalidSelectionError, MissingVariableError,
  NothingToTrainError, ShapeMismatchError, StageChildUserError, UndifferentiableNetworkError,
} from './errors';
