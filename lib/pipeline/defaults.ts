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

export const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS) as Array<keyof TrainingSettings>;

export const DEFAULT_SEED = 0;
export const DEFAULT_BACKEND = 'auto';
export const DEFAULT_STARTING_ITER = 0;
export const DEFAULT_NORMALISATION = 'zscore';
