/**
 * Storage settings a host passes in (thawPlugin options) instead of thaw reading THAW_* from its environment: the S3
 * read cache and the local folder for metrics of remote runs. Training runs in child processes, which read their
 * settings once from the environment they are started with: `settingsEnv` is that environment.
 */
export interface StorageSettings {
  /** Folder of the worker's S3 read cache (THAW_CACHE_DIR; default ~/.cache/thaw/s3). */
  cacheDir?: string;
  /** Size limit of that cache in bytes, 0 = off (THAW_CACHE_MAX_BYTES; default 20 GiB). */
  cacheMaxBytes?: number;
  /** Local folder for the metrics and loss curve of s3:// runs (THAW_LOCAL_RUNS_DIR; default ~/.cache/thaw/runs). */
  localRunsDir?: string;
}

/** The settings as the environment variables thaw's processes read at their edge. */
export function settingsEnv(settings: StorageSettings = {}): Record<string, string> {
  const env: Record<string, string> = {};
  if (settings.cacheDir !== undefined) env.THAW_CACHE_DIR = settings.cacheDir;
  if (settings.cacheMaxBytes !== undefined) env.THAW_CACHE_MAX_BYTES = String(settings.cacheMaxBytes);
  if (settings.localRunsDir !== undefined) env.THAW_LOCAL_RUNS_DIR = settings.localRunsDir;
  return env;
}
