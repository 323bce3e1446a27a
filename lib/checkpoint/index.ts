/**
 * TensorFlow checkpoints (TensorBundle V2) in TypeScript: read lazily, write atomically, find and keep checkpoints in
 * a model_dir, list and diff. Usable without Temporal; every user-caused problem is a CheckpointError. Functions that
 * touch storage take a `storages` option (lib/storage's Storages, opened from settings); without it, local paths and
 * s3:// with thaw's default settings.
 */
export type { DType, Tensor, TensorData, VariableInfo } from './dtypes';
export { DTYPES, dtypeBytes, isDType, numElements } from './dtypes';
export { CheckpointError } from './errors';
export { CheckpointReader } from './reader';
export { writeCheckpoint, type WriteOptions } from './writer';
export { listVariables, locateCheckpoint, resolveCheckpointTarget, type LocatedCheckpoint } from './resolve';
export { readSidecar } from './sidecar';
export {
  applyRetention, checkpointPrefix, checkpointProblem, latestValidCheckpoint, listIterations, modelsDir,
  resolveStartingCheckpoint, saveCheckpoint, verifyCheckpoint, type CheckpointWriter, type LatestOptions, type RetentionOptions, type SaveOptions,
  type SkippedCheckpoint, type StartingCheckpoint,
} from './model-dir';
export { diffCheckpoints, type DiffReport, type DiffStatus, type VariableDiff } from './diff';
export { bfloat16ToNumber, halfToNumber, toFloat32, toNumbers } from './convert';
export { dataFile, indexFile, metaFile, sidecarFile } from './names';
export { readCheckpointState, STATE_FILE, type CheckpointState } from './state-file';
