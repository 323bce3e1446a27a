/** The activities of thaw: thin wrappers over the core library (lib/), registered by the plugin. */
import type { ThawActivities } from '../contract';
import { settingsEnv, type StorageSettings } from '../lib/storage/settings';
import { makeFinishPipeline } from './finish';
import { preflight } from './preflight';
import { makeTrainStage, type TrainStageOptions } from './train-stage';

export type { FinishRequest, PlanCheck, ThawActivities, TrainStageRequest, TrainStageResult } from '../contract';

export interface ActivityOptions extends Omit<TrainStageOptions, 'trainingEnv'> {
  /** Cache and local folders (default: THAW_CACHE_DIR, THAW_CACHE_MAX_BYTES, THAW_LOCAL_RUNS_DIR or their defaults). */
  storage?: StorageSettings;
}

/** The implementations of the contract's activities (typed by it, so the workflow and they cannot drift apart). */
export function createActivities(options: ActivityOptions = {}): ThawActivities {
  const env = settingsEnv(options.storage);
  return {
    preflight,
    trainStage: makeTrainStage({ ...options, trainingEnv: env }),
    finishPipeline: makeFinishPipeline({ env: Object.keys(env).length > 0 ? { ...process.env, ...env } : undefined }),
  };
}
