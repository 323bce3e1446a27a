/**
 * Storage behind the checkpoint module: a local path or an `s3://bucket/prefix` URL, through one interface, so
 * nothing above it knows the difference.
 */
import { readStorageSettings } from '../settings';
import { ReadCache } from './cache';
import { LocalStorage } from './local';
import { isS3 } from './location';
import { S3Storage } from './s3';
import { s3ClientFor } from './s3-client';
import type { Storage } from './types';

export type { ByteSink, ReadFileOptions, ReadSource, StagedFile, Storage } from './types';
export { notRegularFile, StorageError, tooLarge } from './errors';
export { ReadCache } from './cache';
export { S3Storage, type S3Traffic } from './s3';
export { s3SettingsFrom, type S3Settings } from './s3-client';
export {
  basenameOf, dirnameOf, isS3, joinLocation, localMirror, parseS3, relativeTo, resolveIn, resolveLocation,
} from './location';

const local = new LocalStorage();
const s3ByClient = new WeakMap<object, Map<string, S3Storage>>();

/**
 * The storage holding `location`. S3 is configured from the environment at the time of the call, the AWS way (see
 * s3ClientFromEnv), with thaw's storage settings (cache, part size) read along with it: the checkpoint layer opens
 * storage from many places that have no settings to hand.
 */
export function storageFor(location: string): Storage {
  if (!isS3(location)) return local;
  const settings = readStorageSettings();
  const { client, settings: s3 } = s3ClientFor(settings);
  const byTuning = s3ByClient.get(client) ?? new Map<string, S3Storage>();
  s3ByClient.set(client, byTuning);
  const key = JSON.stringify([settings.cacheDir, settings.cacheMaxBytes, settings.s3PartSize]);
  let storage = byTuning.get(key);
  if (!storage) {
    storage = new S3Storage(client, s3, ReadCache.of(settings), settings.s3PartSize);
    byTuning.set(key, storage);
  }
  return storage;
}

/** Preflight: fails fast with a StorageError when `dir` cannot be used (bad credentials, missing bucket, no access). */
export function checkStorage(dir: string): Promise<void> {
  return storageFor(dir).check(dir);
}
