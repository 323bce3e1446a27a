/** The activities of thaw: thin wrappers over the core library (lib/), registered by the plugin. */
import { settingsEnv, type StorageSettings } from '../lib/storage/settings';
import { makeFinishPipeline } from './finish';
import { preflight } from './preflight';
import { makeTrainStage, type TrainStageOptions } from './train-stage';

export type { TrainStageRequest, TrainStageResult } from './train-stage';
export type { FinishRequest } from './finish';
export type { PlanCheck } from './preflight';

export interface ActivityOptions extends Omit<TrainStageOptions, 'trainingEnv'> {
  /** Cache and local folders (default: THAW_CACHE_DIR, THAW_CACHE_MAX_BYTES, THAW_LOCAL_RUNS_DIR or their defaults). */
  storage?: StorageSettings;
}

export function createActivities(options: ActivityOptions = {}) {
  const env = settingsEnv(options.storage);
  return {
    preflight,
    trainStage: makeTrainStage({ ...options, trainingEnv: env }),
    finishPipeline: makeFinishPipeline({ env: Object.keys(env).length > 0 ? { ...process.env, ...env } : undefined }),
  };
}

export type ThawActivities = ReturnType<typeof createActivities>;
