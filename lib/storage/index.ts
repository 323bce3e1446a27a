/**
 * Storage behind the checkpoint module: a local path or an `s3://bucket/prefix` URL, through one interface, so
 * nothing above it knows the difference.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { defaultStorageSettings, type ThawStorageSettings } from '../settings';
import { ReadCache } from './cache';
import { LocalStorage } from './local';
import { isS3 } from './location';
import { S3Storage } from './s3';
import { s3ClientFor, type S3Settings } from './s3-client';
import type { Storage } from './types';

export type { ByteSink, ReadFileOptions, ReadSource, StagedFile, Storage } from './types';
export { notRegularFile, StorageError, tooLarge } from './errors';
export { ReadCache } from './cache';
export { S3Storage, type S3Traffic } from './s3';
export { s3SettingsFrom, type S3Settings } from './s3-client';
export {
  basenameOf, dirnameOf, isS3, joinLocation, localMirror, parseS3, relativeTo, resolveIn, resolveLocation,
} from './location';

type StorageTuning = Pick<ThawStorageSettings, 's3PartSize' | 's3TimeoutMs' | 's3ForcePathStyle' | 'cacheDir' | 'cacheMaxBytes'>;

const local = new LocalStorage();

/**
 * The storage of every location, opened once from thaw's storage settings (read at an edge: the CLI, the worker, the
 * training process) and passed down. S3's endpoint, region and credentials are the AWS SDK's own variables
 * (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID, …), read from the environment when a client is made, the AWS
 * way (see s3-client.ts); only thaw's THAW_* tuning comes from these settings.
 */
export class Storages {
  /** One S3Storage per client (its traffic counters and cache then belong to one place). */
  private readonly s3ByClient = new WeakMap<S3Client, S3Storage>();

  constructor(readonly settings: StorageTuning) {}

  /** The storage holding `location`. */
  for(location: string): Storage {
    if (!isS3(location)) return local;
    const { client, settings } = this.s3Client();
    let storage = this.s3ByClient.get(client);
    if (!storage) {
      storage = new S3Storage(client, settings, ReadCache.of(this.settings), this.settings.s3PartSize);
      this.s3ByClient.set(client, storage);
    }
    return storage;
  }

  /** The S3 client for these settings and the AWS variables of the environment now (the training lock uses it directly). */
  s3Client(): { client: S3Client; settings: S3Settings } {
    return s3ClientFor(this.settings);
  }

  /** Preflight: fails fast with a StorageError when `dir` cannot be used (bad credentials, missing bucket, no access). */
  check(dir: string): Promise<void> {
    return this.for(dir).check(dir);
  }
}

let defaults: Storages | undefined;

/**
 * Storages with thaw's default settings, reading no THAW_* variable: what lib/checkpoint uses when its caller passes
 * none (a library user with local paths, or S3 as the AWS variables say). thaw's own edges always pass theirs.
 */
export function defaultStorages(): Storages {
  defaults ??= new Storages(defaultStorageSettings());
  return defaults;
}

/** The `storages` option of the functions that open storage. */
export interface StoragesOption {
  /** Where locations are opened (default: defaultStorages()). */
  storages?: Storages;
}

/** The storages an options object names, else the defaults. */
export function storagesOf(options: StoragesOption | undefined): Storages {
  return options?.storages ?? defaultStorages();
}
