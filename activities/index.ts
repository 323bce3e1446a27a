/** The activities of thaw: thin wrappers over the core library (lib/), registered by the plugin. */
import { finishPipeline } from './finish';
import { preflight } from './preflight';
import { makeTrainStage, type TrainStageOptions } from './train-stage';

export type { TrainStageRequest, TrainStageResult } from './train-stage';
export type { FinishRequest } from './finish';
export type { PlanCheck } from './preflight';
export type ActivityOptions = TrainStageOptions;

export function createActivities(options: ActivityOptions = {}) {
  return { preflight, trainStage: makeTrainStage(options), finishPipeline };
}

export type ThawActivities = ReturnType<typeof createActivities>;
