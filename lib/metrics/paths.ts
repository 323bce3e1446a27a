/** Where metrics live in a model_dir. */
import path from 'node:path';
import { localMirror } from '../storage/location';

/** Stage names become file names: anything outside [A-Za-z0-9._-] turns into '_'. */
export function safeStageName(stage: string): string {
  return stage.replace(/[^A-Za-z0-9._-]/g, '_') || '_';
}

// An s3:// model_dir keeps these local files in its local mirror folder (lib/storage localMirror); `env` says where
// that folder is (THAW_LOCAL_RUNS_DIR), for callers that were given the setting rather than read it.
export const logsDir = (modelDir: string, env?: NodeJS.ProcessEnv) => path.join(localMirror(modelDir, env), 'logs');
export const lossLogFile = (modelDir: string, stage: string) => path.join(logsDir(modelDir), `${safeStageName(stage)}.jsonl`);
/** One TensorBoard run per stage: `tensorboard --logdir model_dir` (or model_dir/logs) shows one curve each. */
export const eventDir = (modelDir: string, stage: string) => path.join(logsDir(modelDir), safeStageName(stage));
export const lossCurveFile = (modelDir: string, env?: NodeJS.ProcessEnv) => path.join(localMirror(modelDir, env), 'loss.svg');
