/** The stage runner's contract: plain JSON in (it crosses a process boundary), plain JSON out. */
import type { BackendName, DataConfig, NetworkConfig, TrainingSettings } from '../pipeline/plan';
import type { StageSelection } from '../selection/select';

export type { StageSelection };

export interface StageRunRequest {
  /** This stage's checkpoint folder (checkpoints go to modelDir/models/model.ckpt-N). */
  modelDir: string;
  /** Checkpoint prefix to restore from (parent's final / starting checkpoint); null = from scratch. */
  restoreFrom: string | null;
  stage: string;
  startIteration: number;
  endIteration: number;
  selection: StageSelection;
  network: NetworkConfig;
  data: DataConfig;
  settings: TrainingSettings;
  seed: number;
  backend: BackendName;
  pipelineHash: string;
  /** Resolves relative data paths and network module paths (the pipeline file's folder). */
  baseDir?: string;
  /** Iterations retention must never delete. */
  keepCheckpoints?: number[];
}

export interface StageProgress {
  stage: string;
  iteration: number;
  loss: number;
  itPerSec: number;
  /** Latest checkpoint prefix written by this stage, when there is one. */
  checkpoint?: string;
}

export interface StageResult {
  stage: string;
  startIteration: number;
  endIteration: number;
  reachedIteration: number;
  finalLoss: number | null;
  checkpoint: string;
  backend: string;
  /** The training engine that ran (graph or tfjs); absent for checkpoints written before engines had names. */
  engine?: string;
  trainSeconds: number;
  stopped: boolean;
  resumedFrom: number | null;
  /** Time spent restoring variables and writing checkpoints in this run (for the checkpoint-overhead figure). */
  restoreSeconds?: number;
  saveSeconds?: number;
}

/** What a stage records next to each of its checkpoints (`<prefix>.thaw.json`). */
export interface StageSidecar {
  stage: string;
  iteration: number;
  frozen: string[];
  trained: string[];
  settings: TrainingSettings;
  seed: number;
  pipelineHash: string;
  network: NetworkConfig;
  backend: string;
  /** The training engine that wrote this checkpoint (graph or tfjs). */
  engine?: string;
  /** Loss of the step that reached `iteration` (null for a checkpoint written before any step). */
  loss: number | null;
}
