/**
 * Limits on what a pipeline file may hold, so that `thaw check` and `thaw run` stay fast and bounded in memory
 * whatever the file says. Each is far above what a real schedule needs (a handful of stages, a few KB), and each is
 * refused with one line that names the file, the limit and the fix (README "Limits").
 */

/** Largest pipeline file thaw reads (bytes). */
export const MAX_PIPELINE_BYTES = 1024 * 1024;

/**
 * Most stages in one pipeline. Every stage is a Temporal activity and its preflight report travels in the workflow's
 * history, whose size Temporal bounds.
 */
export const MAX_STAGES = 1000;

/** Deepest nesting of YAML collections (a pipeline needs 4: stages[i].data.spatial_size). */
export const MAX_YAML_DEPTH = 64;

/** Most YAML nodes that aliases (`*name`) may add to the document in all (a billion-laughs file adds billions). */
export const MAX_ALIAS_EXPANSION = 10_000;

/** Largest `iterations` of one stage and largest `starting_iter`: integers, exact in every engine. */
export const MAX_ITERATIONS = 1_000_000_000;

/**
 * Longest model_dir (bytes of the absolute path or URL). Checkpoint paths below it add up to about 200 bytes
 * (`branches/<stage>/models/model.ckpt-N.data-00000-of-00001` and a temporary suffix) and must stay within the
 * 4096 bytes of a Linux path and the 1024 bytes of an S3 key.
 */
export const MAX_MODEL_DIR_BYTES = 800;
/** Longest name of one folder in a local model_dir (bytes), as most filesystems allow. */
export const MAX_PATH_SEGMENT_BYTES = 255;

/** Most problems listed for one pipeline; the rest are counted. */
export const MAX_PROBLEMS = 100;
