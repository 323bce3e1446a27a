/**
 * The S3 client, configured the usual AWS way: credentials from the SDK's default chain (AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws files, SSO, instance roles), endpoint from AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL (MinIO, Ceph, GCS's S3 interface), region from AWS_REGION / AWS_DEFAULT_REGION, AWS_MAX_ATTEMPTS
 * the SDK's retries: the AWS variables, read from the environment as every AWS tool does. thaw's own tuning comes in
 * as settings: path-style addressing (bucket in the path, as MinIO and moto need) is on for a custom endpoint unless
 * THAW_S3_FORCE_PATH_STYLE=0, and can be forced with THAW_S3_FORCE_PATH_STYLE=1; THAW_S3_TIMEOUT_MS bounds a stalled
 * request (default 120 s). Nothing comes from pipeline files.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { UserError } from '../errors';
import type { ThawStorageSettings } from '../settings';
import { StorageError, notFound } from './errors';

export interface S3Settings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** A request whose socket is idle this long fails (and is retried): a hung store must not hang training. */
  timeoutMs: number;
}

type S3Tuning = Pick<ThawStorageSettings, 's3ForcePathStyle' | 's3TimeoutMs'>;

/** thaw's S3 tuning (settings) with endpoint and region from `env`, which the AWS SDK's conventions say to read. */
export function s3SettingsFrom(tuning: S3Tuning, env: NodeJS.ProcessEnv = process.env): S3Settings {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return {
    endpoint,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    forcePathStyle: tuning.s3ForcePathStyle ?? Boolean(endpoint),
    timeoutMs: tuning.s3TimeoutMs,
  };
}

/** Variables the SDK's credential chain reads: a change gives a new client (tests and long-lived processes). */
const CREDENTIAL_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_MAX_ATTEMPTS'];
const clients = new Map<string, S3Client>();

/**
 * A client for thaw's `tuning` (read once at an edge and passed down) and the AWS_* variables of `env` now: those are
 * the AWS SDK's convention (its credential chain reads them too), so they stay the environment's.
 */
export function s3ClientFor(tuning: S3Tuning, env: NodeJS.ProcessEnv = process.env): { client: S3Client; settings: S3Settings } {
  const settings = s3SettingsFrom(tuning, env);
  const key = JSON.stringify([settings, CREDENTIAL_VARS.map((v) => env[v] ?? null)]);
  let client = clients.get(key);
  if (!client) {
    // thaw supports Node 20 (package.json engines) with this pinned SDK; its notice about future SDK releases needing
    // Node 22 would be printed by every command that touches S3. Users can still see it by setting the variable to false.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { timeoutMs, ...config } = settings;
    client = new S3Client({
      ...config,
      requestHandler: { requestTimeout: timeoutMs, throwOnRequestTimeout: true, connectionTimeout: Math.min(timeoutMs, 10_000) },
      followRegionRedirects: true,
      // Integrity is checked with Content-MD5 and ETags, which every S3-compatible store supports; the SDK's newer
      // default (CRC trailers on every request) is refused by several of them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.set(key, client);
  }
  return { client, settings };
}

export function describeS3(settings: S3Settings): string {
  return settings.endpoint ? `S3 endpoint ${settings.endpoint}` : `AWS S3 (${settings.region})`;
}

const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidClientTokenId', 'ExpiredToken', 'InvalidToken',
  'TokenRefreshRequired', 'AuthorizationHeaderMalformed', 'UnrecognizedClientException',
]);
const CREDENTIALS_FIX =
  'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment of `thaw run` and every ' +
  '`thaw worker` to credentials for this bucket; for a store other than AWS also AWS_ENDPOINT_URL_S3';

/**
 * Turns an SDK error on `url` into what it means: a StorageError for problems the user fixes (credentials, bucket,
 * permission), an ENOENT error for a missing object, and otherwise the error itself (network trouble: retried).
 */
export function translateS3Error(err: unknown, url: string, bucket: string, settings: S3Settings): Error {
  if (err instanceof UserError) return err; // raised inside a caller's fill (already says what is wrong)
  const e = err as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
  const name = e?.name ?? '';
  const status = e?.$metadata?.httpStatusCode;
  const where = describeS3(settings);
  if (name === 'CredentialsProviderError' || name === 'ProviderError') {
    return new StorageError(`${url}: no S3 credentials were found (${e.message})`, { file: url, fix: CREDENTIALS_FIX });
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return new StorageError(`${url}: ${where} refused the S3 credentials (${name})`, { file: url, fix: CREDENTIALS_FIX });
  }
  if (name === 'NoSuchBucket') {
    return new StorageError(`${url}: bucket "${bucket}" does not exist on ${where}`, {
      file: url, field: 'model_dir',
      fix: `create the bucket (e.g. \`aws s3 mb s3://${bucket}\`) or correct model_dir; check AWS_ENDPOINT_URL_S3 / AWS_REGION`,
    });
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
    return new StorageError(`${url}: access denied by ${where} (${name || `HTTP ${status}`})`, {
      file: url, fix: 'grant these credentials s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket/prefix',
    });
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return new Error(`${url}: the object changed while it was being read (replaced by another writer); read it again`);
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return notFound(url);
  const wrapped = new Error(`${url}: ${where}: ${e?.message ?? String(err)}`);
  (wrapped as Error & { cause?: unknown }).cause = err;
  return wrapped;
}
