/** The activities of thaw: thin wrappers over the core library (lib/), registered by the plugin. */
import type { ThawActivities } from '../contract';
import { readSettings, type ThawSettings } from '../lib/settings';
import { settingsEnv, type StorageSettings } from '../lib/storage/settings';
import { makeFinishPipeline } from './finish';
import { preflight } from './preflight';
import { makeTrainStage, type TrainStageOptions } from './train-stage';

export type { FinishRequest, PlanCheck, ThawActivities, TrainStageRequest, TrainStageResult } from '../contract';

export interface ActivityOptions extends Omit<TrainStageOptions, 'trainingEnv' | 'settings'> {
  /** Cache and local folders (default: THAW_CACHE_DIR, THAW_CACHE_MAX_BYTES, THAW_LOCAL_RUNS_DIR or their defaults). */
  storage?: StorageSettings;
  /** thaw's settings, when the host has read them already (default: readSettings() of this process' environment). */
  settings?: ThawSettings;
}

/**
 * The implementations of the contract's activities (typed by it, so the workflow and they cannot drift apart). The
 * worker's edge: thaw's settings are read here, once (a malformed THAW_* value fails the worker as it starts).
 */
export function createActivities(options: ActivityOptions = {}): ThawActivities {
  const { storage, settings: given, ...trainOptions } = options;
  const read = given ?? readSettings();
  const settings: ThawSettings = { ...read, storage: { ...read.storage, ...definedOnly(storage) } };
  return {
    preflight,
    // The training process opens its storage the way storageFor does (from its environment), so the host's storage
    // options reach it as variables too.
    trainStage: makeTrainStage({ ...trainOptions, settings, trainingEnv: settingsEnv(storage) }),
    finishPipeline: makeFinishPipeline({ localRunsDir: settings.storage.localRunsDir }),
  };
}

function definedOnly<T extends object>(options: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
