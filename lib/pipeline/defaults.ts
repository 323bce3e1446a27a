/** Settings every stage gets unless the pipeline's `defaults` or the stage say otherwise (TF1's and NiftyNet's defaults). */
import type { TrainingSettings } from './plan';

export const DEFAULT_SETTINGS: TrainingSettings = {
  optimizer: 'adam',
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  momentum: 0.9,
  batch_size: 4,
  save_every_n: 50,
  max_checkpoints: 5,
  loss_type: 'DicePlusXEnt',
  frozen_batch_norm: 'moving',
};

/** Settings a stage may set; `engine` and `xla` have no default entry (absent = auto, off), so plans without them hash as before. */
export const SETTING_KEYS = [...Object.keys(DEFAULT_SETTINGS), 'engine', 'xla'] as Array<keyof TrainingSettings>;

export const DEFAULT_SEED = 0;
export const DEFAULT_BACKEND = 'auto';
export const DEFAULT_STARTING_ITER = 0;
export const DEFAULT_NORMALISATION = 'zscore';
