/** The storage interface the checkpoint module works through: a local folder or an S3-compatible bucket. */

/** Where staged bytes go: sequential writes, with a running count (the writer records offsets from it). */
export interface ByteSink {
  readonly bytesWritten: number;
  write(bytes: Uint8Array): Promise<void>;
}

/** A file written but not yet published under its final name (or, on S3, uploaded but not yet verified). */
export interface StagedFile {
  readonly location: string;
  /** Local: rename into place. S3: check the uploaded object's size and checksum (ETag) against what was sent. */
  publish(): Promise<void>;
  /** Removes the staged bytes (after a failure elsewhere). */
  discard(): Promise<void>;
}

export interface ReadFileOptions {
  /** Refuse (error code 'EFBIG') a file larger than this, before reading any of it. */
  maxBytes?: number;
}

/** Random access to one file or object. */
export interface ReadSource {
  readonly size: number;
  /** Exactly `length` bytes at `position` in a fresh buffer (its own ArrayBuffer), or null past the end. */
  read(position: number, length: number): Promise<Uint8Array | null>;
  /** Hint that (nearly) every byte will be read: S3 then fetches the whole object once, into the local cache. */
  willReadAll(): Promise<void>;
  close(): Promise<void>;
}

export interface Storage {
  /** Human name for messages: `local disk` or `s3 (endpoint …)`. */
  readonly description: string;
  /**
   * False where a staged file is invisible until published (local temp + rename). True on S3, where the upload
   * itself creates the object: a writer must then remove what marks a checkpoint complete (its .index) before
   * staging anything over it.
   */
  readonly stagedFilesAreVisible: boolean;
  /** Names (not paths) of the files directly inside `dir`; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** True when `dir` is a folder (S3: a prefix that holds at least one object, at any depth). */
  isDir(dir: string): Promise<boolean>;
  /**
   * Size of what is at `file` and whether it is a regular file (false: a folder, FIFO, device, socket; S3 objects
   * always are), or null when nothing is there.
   */
  stat(file: string): Promise<{ size: number; regular: boolean } | null>;
  /**
   * The whole file; rejects with an error whose `code` is 'ENOENT' when missing, 'EISDIR' for a folder, 'EFTYPE'
   * for anything else that is not a regular file (a FIFO, a device: never read, never waited on; a symlink to a
   * regular file is fine) and 'EFBIG' when it is larger than `maxBytes` (then nothing is read).
   */
  readFile(file: string, options?: ReadFileOptions): Promise<Buffer>;
  /** Opens a regular file for positioned reads; the same errors as `readFile` for what is not one. */
  open(file: string): Promise<ReadSource>;
  /** Writes `file` through `fill` without making it final; publish() the result (in the order that keeps readers safe). */
  stage(file: string, fill: (sink: ByteSink) => Promise<void>): Promise<StagedFile>;
  /** Replaces `file` with `bytes` so that readers see the old or the new content, never a mix. */
  writeAtomic(file: string, bytes: Uint8Array): Promise<void>;
  /** Removes a file; a missing one is fine. */
  remove(file: string): Promise<void>;
  ensureDir(dir: string): Promise<void>;
  /** Makes published renames in `dir` durable (local fsync of the folder; nothing to do on S3). */
  syncDir(dir: string): Promise<void>;
  /** A cheap check that `dir` is usable (S3: bucket exists, credentials accepted, can list and write). */
  check(dir: string): Promise<void>;
}
