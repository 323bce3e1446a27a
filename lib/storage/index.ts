/**
 * Storage behind the checkpoint module: a local path or an `s3://bucket/prefix` URL, through one interface, so
 * nothing above it knows the difference.
 */
import { LocalStorage } from './local';
import { isS3 } from './location';
import { S3Storage } from './s3';
import { s3ClientFromEnv } from './s3-client';
import type { Storage } from './types';

export type { ByteSink, ReadFileOptions, ReadSource, StagedFile, Storage } from './types';
export { notRegularFile, StorageError, tooLarge } from './errors';
export { ReadCache } from './cache';
export { S3Storage, type S3Traffic } from './s3';
export { s3SettingsFromEnv, type S3Settings } from './s3-client';
export {
  basenameOf, dirnameOf, isS3, joinLocation, localMirror, parseS3, relativeTo, resolveIn, resolveLocation,
} from './location';

const local = new LocalStorage();
const s3ByClient = new WeakMap<object, S3Storage>();

/** The storage holding `location` (S3 settings and credentials from the environment at the time of the call). */
export function storageFor(location: string): Storage {
  if (!isS3(location)) return local;
  const { client, settings } = s3ClientFromEnv();
  let storage = s3ByClient.get(client);
  if (!storage) {
    storage = new S3Storage(client, settings);
    s3ByClient.set(client, storage);
  }
  return storage;
}

/** Preflight: fails fast with a StorageError when `dir` cannot be used (bad credentials, missing bucket, no access). */
export function checkStorage(dir: string): Promise<void> {
  return storageFor(dir).check(dir);
}
