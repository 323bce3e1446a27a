/** The activities of thaw: thin wrappers over the core library (lib/), registered by the plugin. */
import type { ThawActivities } from '../contract';
import { readSettings, type ThawSettings } from '../lib/settings';
import { Storages } from '../lib/storage';
import type { StorageSettings } from '../lib/storage/settings';
import { makeFinishPipeline } from './finish';
import { makePreflight } from './preflight';
import { makeTrainStage, type TrainStageOptions } from './train-stage';

export type { FinishRequest, PlanCheck, ThawActivities, TrainStageRequest, TrainStageResult } from '../contract';

export interface ActivityOptions extends Omit<TrainStageOptions, 'settings'> {
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
    preflight: makePreflight({ storages: new Storages(settings.storage) }),
    // Every training process is sent these settings with its request, the host's storage options included.
    trainStage: makeTrainStage({ ...trainOptions, settings }),
    finishPipeline: makeFinishPipeline({ localRunsDir: settings.storage.localRunsDir }),
  };
}

function definedOnly<T extends object>(options: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
