/** Where metrics live in a model_dir. */
import path from 'node:path';
import { localMirror } from '../storage/location';

/** Stage names become file names: anything outside [A-Za-z0-9._-] turns into '_'. */
export function safeStageName(stage: string): string {
  return stage.replace(/[^A-Za-z0-9._-]/g, '_') || '_';
}

// An s3:// model_dir keeps these local files in its local mirror folder (lib/storage localMirror) under
// `localRunsDir` (settings: THAW_LOCAL_RUNS_DIR), which only such a model_dir needs.
export const logsDir = (modelDir: string, localRunsDir?: string) => path.join(localMirror(modelDir, localRunsDir), 'logs');
export const lossLogFile = (modelDir: string, stage: string, localRunsDir?: string) =>
  path.join(logsDir(modelDir, localRunsDir), `${safeStageName(stage)}.jsonl`);
/** One TensorBoard run per stage: `tensorboard --logdir model_dir` (or model_dir/logs) shows one curve each. */
export const eventDir = (modelDir: string, stage: string, localRunsDir?: string) => path.join(logsDir(modelDir, localRunsDir), safeStageName(stage));
export const lossCurveFile = (modelDir: string, localRunsDir?: string) => path.join(localMirror(modelDir, localRunsDir), 'loss.svg');
