/**
 * The most thaw reads of a checkpoint's small files, whole, into memory; a larger one is not what its name says (a
 * mixed-up file, a device) and is refused before any of it is read. Data shards have no such cap: only the byte
 * ranges their `.index` declares are read, never the rest of a shard.
 */
const MiB = 2 ** 20;

/** `.index`: ~100 bytes per tensor, so a 256 MiB index would list millions of tensors. */
export const INDEX_MAX_BYTES = 256 * MiB;
/** The `checkpoint` state file: one line per kept checkpoint. */
export const STATE_FILE_MAX_BYTES = 16 * MiB;
/** `<prefix>.thaw.json`: stage, settings and the names of the trained and frozen variables. */
export const SIDECAR_MAX_BYTES = 64 * MiB;
