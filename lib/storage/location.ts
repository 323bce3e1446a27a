/**
 * Locations are either local paths or `s3://bucket/key` URLs. These helpers join, split and resolve both kinds, so
 * code above the storage layer never calls `path.*` on a URL (which would fold `s3://` into `s3:/`).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const S3_URL = /^s3:\/\/([^/]+)(?:\/(.*))?$/;

export function isS3(location: string): boolean {
  return location.startsWith('s3://');
}

export interface S3Location {
  bucket: string;
  /** Object key (no leading slash); '' for the bucket root. */
  key: string;
}

export function parseS3(location: string): S3Location {
  const m = S3_URL.exec(location);
  if (!m || m[1].length === 0) throw new Error(`not an s3://bucket/key URL: ${location}`);
  return { bucket: m[1], key: normaliseKey(m[2] ?? '') };
}

/** Collapses `//`, `.` and `..` in an object key (keys are always relative to the bucket). */
function normaliseKey(key: string): string {
  const out: string[] = [];
  for (const part of key.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function s3Url(bucket: string, key: string): string {
  return key ? `s3://${bucket}/${key}` : `s3://${bucket}`;
}

export function joinLocation(base: string, ...parts: string[]): string {
  if (!isS3(base)) return path.join(base, ...parts);
  const { bucket, key } = parseS3(base);
  return s3Url(bucket, normaliseKey([key, ...parts].join('/')));
}

export function dirnameOf(location: string): string {
  if (!isS3(location)) return path.dirname(location);
  const { bucket, key } = parseS3(location);
  return s3Url(bucket, key.includes('/') ? key.slice(0, key.lastIndexOf('/')) : '');
}

export function basenameOf(location: string): string {
  if (!isS3(location)) return path.basename(location);
  const { key } = parseS3(location);
  return key.slice(key.lastIndexOf('/') + 1);
}

/** `path.resolve` for both kinds: a canonical form to compare locations by. */
export function resolveLocation(location: string): string {
  return isS3(location) ? joinLocation(location) : path.resolve(location);
}

/** `target` read relative to `dir` (an absolute path or URL stays as it is). */
export function resolveIn(dir: string, target: string): string {
  if (isS3(target)) return resolveLocation(target);
  if (!isS3(dir)) return path.resolve(dir, target);
  return target.startsWith('/') ? target : joinLocation(dir, target);
}

/** `target` relative to `dir` when it lies inside it, else `target` unchanged. */
export function relativeTo(dir: string, target: string): string {
  if (isS3(dir) !== isS3(target)) return target;
  if (!isS3(dir)) {
    const r = path.relative(dir, target);
    return r.startsWith('..') || path.isAbsolute(r) ? target : r;
  }
  const base = `${resolveLocation(dir)}/`;
  const full = resolveLocation(target);
  return full.startsWith(base) ? full.slice(base.length) : target;
}

/**
 * A local folder standing in for a remote location, for files that are written as local files (metrics logs,
 * TensorBoard events, the loss curve): `localRunsDir` (settings: THAW_LOCAL_RUNS_DIR)/<bucket>/<key>. A local
 * location is its own mirror. The mirror folder is created when missing (a worker that never trained still writes there).
 */
export function localMirror(location: string, localRunsDir: string | undefined): string {
  if (!isS3(location)) return location;
  if (localRunsDir === undefined) throw new Error(`${location}: no local runs folder (settings.storage.localRunsDir) was given for its local files`);
  const { bucket, key } = parseS3(location);
  const dir = path.join(localRunsDir, bucket, ...key.split('/'));
  mkdirSync(dir, { recursive: true });
  return dir;
}
