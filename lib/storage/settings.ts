/**
 * Storage settings a host passes in (thawPlugin options) instead of thaw reading THAW_* from its environment: the S3
 * read cache and the local folder for metrics of remote runs. They override the worker's settings, which every
 * training process is sent with its request.
 */
export interface StorageSettings {
  /** Folder of the worker's S3 read cache (THAW_CACHE_DIR; default ~/.cache/thaw/s3). */
  cacheDir?: string;
  /** Size limit of that cache in bytes, 0 = off (THAW_CACHE_MAX_BYTES; default 20 GiB). */
  cacheMaxBytes?: number;
  /** Local folder for the metrics and loss curve of s3:// runs (THAW_LOCAL_RUNS_DIR; default ~/.cache/thaw/runs). */
  localRunsDir?: string;
}
