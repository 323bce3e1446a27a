/**
 * The Plan: a pipeline YAML after parsing, validation and defaults. Plain JSON (no classes, no functions), because
 * it is the input of the runPipeline workflow and travels through Temporal payloads.
 */

export type OptimizerName = 'adam' | 'sgd' | 'momentum';
/** NiftyNet's segmentation loss_type names (niftynet/layer/loss_segmentation.py). */
export type LossType = 'CrossEntropy' | 'Dice' | 'Dice_NS' | 'DicePlusXEnt' | 'GDSC' | 'Tversky' | 'SensSpec';
/**
 * How batch norms of frozen layers normalise while a stage trains: `moving` (thaw's default) with their moving
 * statistics, which stay fixed; `batch` as NiftyNet does, with batch statistics, their moving averages updating.
 */
export type FrozenBatchNorm = 'moving' | 'batch';
/** `auto` picks the fastest present: tensorflow-gpu (tfjs-node-gpu), tensorflow (tfjs-node), cpu (pure JS). */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'cpu';
/**
 * Training engine: `graph` (each stage's step as one TensorFlow graph through libtensorflow's C API), `tfjs`
 * (TensorFlow.js op by op, on `backend`), `auto` (graph where it loads and can train the network, else tfjs).
 */
export type EngineChoice = 'auto' | 'graph' | 'tfjs';

/** Optimiser and loop settings: pipeline `defaults`, overridable per stage. */
export interface TrainingSettings {
  optimizer: OptimizerName;
  lr: number;
  /** Adam's beta1/beta2/epsilon (TF1 defaults 0.9, 0.999, 1e-8), momentum's momentum (0.9). */
  beta1: number;
  beta2: number;
  epsilon: number;
  momentum: number;
  batch_size: number;
  /** Checkpoint every N iterations (and always at the end of a stage). */
  save_every_n: number;
  /** Keep at most this many checkpoints per checkpoint folder; ones the pipeline still needs are never deleted. */
  max_checkpoints: number;
  loss_type: LossType;
  frozen_batch_norm: FrozenBatchNorm;
  /** Training engine (absent: auto); THAW_ENGINE overrides it per worker. */
  engine?: EngineChoice;
  /** XLA auto-clustering of the graph engine's step (absent: off); THAW_XLA overrides it per worker. */
  xla?: boolean;
}

/** Which network, with its parameters; the network registry knows what the params mean. */
export interface NetworkConfig {
  name: string;
  params: Record<string, unknown>;
}

export interface SyntheticDataConfig {
  kind: 'synthetic';
  /** Which synthetic task: related tasks share structure so that fine-tuning from one to the other helps. */
  task: string;
  /** Spatial size of one image, 2 or 3 numbers. */
  spatial_size: number[];
}

export interface NiftiDataConfig {
  kind: 'nifti';
  /** Glob of images (labels found by `label_suffix`) or a CSV with columns image,label; relative to the YAML. */
  images?: string;
  label_suffix?: string;
  csv?: string;
  /** NiftyNet's input sections by name (each a csv_file of subject_id,path rows), with which are image and label. */
  inputs?: Record<string, NiftiInputSection>;
  image?: string[];
  label?: string;
  /** NiftyNet's subject_id,phase split file; training uses the `training` rows. */
  dataset_split_file?: string;
  /** Where windows are cut: uniformly (default), or by the label map as NiftyNet's weighted / balanced samplers. */
  window_sampling?: 'uniform' | 'weighted' | 'balanced';
  /** Random crop size, 2 or 3 numbers. */
  spatial_size: number[];
  normalisation: 'zscore' | 'minmax' | 'none';
  /** Number of classes (background included); when absent, the largest label value found + 1 (at least 2). */
  num_classes?: number;
}

/**
 * One NiftyNet input section (`[T1]`, `[label]`, ...): a csv_file listing its files, or NiftyNet's folder search
 * (path_to_search with filename_contains, ...; see lib/data/niftynet-search.ts).
 */
export type NiftiInputSection = { csv_file: string } | NiftyNetSearch;

/** NiftyNet's folder search for a section: each a list, or a comma-separated string as in the .ini. */
export interface NiftyNetSearch {
  /** Folders (resolved by the loader). */
  path_to_search: string | string[];
  filename_contains?: string | string[];
  filename_not_contains?: string | string[];
  filename_removefromid?: string | string[];
}

export type DataConfig = SyntheticDataConfig | NiftiDataConfig;

export interface StagePlan {
  name: string;
  /** Parent stage, whose final checkpoint this stage starts from; null for a root stage. */
  after: string | null;
  iterations: number;
  /**
   * Python `re` patterns (search semantics); a variable is selected when any pattern matches.
   * null = the field was not given (defaults apply, see the selection module); [] = select nothing.
   */
  vars_to_restore: string[] | null;
  vars_to_freeze: string[] | null;
  settings: TrainingSettings;
  /** Stage-level data override (e.g. fine-tune on task B after pretraining on task A). */
  data: DataConfig;
  /**
   * Folder (holding `models/`) this stage writes its checkpoints to: model_dir for the main lineage,
   * `model_dir/branches/<stage>` where the DAG forks (see lib/pipeline/folders.ts). Set by the pipeline loader.
   */
  checkpoint_dir: string;
}

export interface Plan {
  name: string;
  /** Absolute path of the YAML the plan came from (for messages). */
  source_file: string;
  /** Absolute path (or s3:// URL) of the run's folder. */
  model_dir: string;
  network: NetworkConfig;
  seed: number;
  backend: BackendName;
  /** First stage(s): N restores model.ckpt-N, -1 the latest valid checkpoint, 0 starts from scratch. */
  starting_iter: number;
  /** Stages in a topological order (parents before children). */
  stages: StagePlan[];
  /** sha256 of the normalised plan (without source_file), recorded in every checkpoint sidecar. */
  hash: string;
}
