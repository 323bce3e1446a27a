/**
 * The training lock of a checkpoint folder (a model_dir, or a branch's folder under it): a small JSON record,
 * `<folder>/.thaw-lock.json`, naming the run that trains there (run id, stage, pid, host, since) and when its lease
 * expires. The stage activity takes it on the worker, where training happens, so two `thaw run`s (two folders, two
 * servers, two pipelines with one model_dir, two workers) can never both train one folder.
 *
 * - Created exclusively: O_EXCL on a local disk, `If-None-Match: *` on S3.
 * - Renewed while training (every quarter of the lease) with a compare-and-swap: on S3 `If-Match` on the ETag; on a
 *   local disk the record is renamed away, checked and created anew, so a writer that lost the race notices.
 * - Held by another run while its lease runs and (on this host) its process lives: refused with ModelDirLockedError.
 *   Stale (its process is dead on this host, or its lease expired: a SIGKILLed or preempted worker elsewhere): taken
 *   over with a warning. Held by the same run (a retry of the stage after its worker died): taken over quietly.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { UserError } from '../errors';
import { isS3, joinLocation, parseS3 } from './location';
import { storagesOf, type Storages, type StoragesOption } from './index';
import { translateS3Error } from './s3-client';

export const LOCK_FILE = '.thaw-lock.json';
/** A lease that is not renewed for this long is presumed dead (its holder was killed or lost its network). */
export const DEFAULT_LEASE_MS = 60_000;

export interface LockRecord {
  runId: string;
  stage: string;
  pid: number;
  host: string;
  since: string;
  expiresAt: string;
  /** Tells this holder's record from a later one of the same run. */
  token: string;
}

export class ModelDirLockedError extends UserError {
  readonly holder: LockRecord;

  constructor(folder: string, holder: LockRecord) {
    // The fix is part of the message: the run's failure shows the message line only.
    const fix = `wait for that run to end or cancel it (\`thaw cancel ${holder.runId}\`), or give this pipeline another model_dir ` +
      `(a lock whose holder died on another host expires at ${holder.expiresAt})`;
    super('ModelDirLocked',
      `${folder} is being trained by run ${holder.runId} (stage ${holder.stage}, process ${holder.pid} on ${holder.host}, since ${holder.since}): ${fix}`,
      { file: joinLocation(folder, LOCK_FILE), field: 'model_dir', fix });
    this.holder = holder;
  }
}

/** The record as stored, and what a compare-and-swap compares (local: the text itself; S3: the ETag). */
interface Stored {
  record: LockRecord | null;
  version: string;
}

/** The three operations a lock needs, on a local disk or on S3. */
interface LockStore {
  read(file: string): Promise<Stored | null>;
  /** false when something is there already. */
  create(file: string, text: string): Promise<boolean>;
  /** Replaces the record only if it is still `expected`; false when it changed meanwhile. */
  swap(file: string, expected: Stored, text: string): Promise<boolean>;
  remove(file: string): Promise<void>;
}

function parseRecord(text: string): LockRecord | null {
  try {
    const r = JSON.parse(text) as LockRecord;
    return typeof r.runId === 'string' && typeof r.token === 'string' ? r : null;
  } catch {
    return null; // torn or foreign: treated as stale
  }
}

const localStore: LockStore = {
  async read(file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return { record: parseRecord(text), version: text };
  },
  async create(file, text) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return true;
  },
  async swap(file, expected, text) {
    // Move the record out of the way (atomic), check it is the one we judged, then create ours exclusively.
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    if (readFileSync(aside, 'utf8') !== expected.version) {
      // Someone else's newer record: put it back unless yet another one appeared meanwhile.
      try {
        linkSync(aside, file);
      } catch {
        // another record is in place already; ours was never written
      }
      rmSync(aside, { force: true });
      return false;
    }
    rmSync(aside, { force: true });
    return this.create(file, text);
  },
  async remove(file) {
    rmSync(file, { force: true });
  },
};

function s3Store(storages: Storages): LockStore {
  const { client, settings } = storages.s3Client();
  const call = async <T>(url: string, run: (Bucket: string, Key: string) => Promise<T>): Promise<T> => {
    const { bucket, key } = parseS3(url);
    try {
      return await run(bucket, key);
    } catch (err) {
      throw translateS3Error(err, url, bucket, settings);
    }
  };
  /** A conditional PUT; false when its condition failed (412, or 409 for a concurrent conditional write). */
  const put = (url: string, text: string, condition: { IfNoneMatch: string } | { IfMatch: string }) =>
    call(url, async (Bucket, Key) => {
      try {
        await client.send(new PutObjectCommand({ Bucket, Key, Body: text, ContentType: 'application/json', ...condition }));
        return true;
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 412 || status === 409) return false;
        throw err;
      }
    });
  return {
    read: (url) => call(url, async (Bucket, Key) => {
      try {
        const got = await client.send(new GetObjectCommand({ Bucket, Key }));
        const text = await got.Body!.transformToString();
        return { record: parseRecord(text), version: got.ETag ?? '' };
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
        throw err;
      }
    }),
    create: (url, text) => put(url, text, { IfNoneMatch: '*' }),
    swap: (url, expected, text) => put(url, text, { IfMatch: expected.version }),
    remove: (url) => call(url, async (Bucket, Key) => {
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
    }),
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a record no longer holds the folder, or null while it does. */
export function staleness(record: LockRecord | null, now = Date.now(), host = os.hostname()): string | null {
  if (!record) return 'its lock record is unreadable';
  if (record.host === host && !isAlive(record.pid)) return `process ${record.pid} on ${host} is gone`;
  if (Date.parse(record.expiresAt) < now) return `its lease expired at ${record.expiresAt}`;
  return null;
}

export interface LockOptions extends StoragesOption {
  /** Lease length (default 60 s); renewed every quarter of it. */
  leaseMs?: number;
  /** A stale lock taken over, a lease lost: one line each. */
  onWarning?: (line: string) => void;
}

export interface HeldLock {
  readonly file: string;
  readonly record: LockRecord;
  /** Stops renewing and removes the record if it is still ours. */
  release(): Promise<void>;
}

/** Takes the training lock of `folder` for `runId`'s `stage`; throws ModelDirLockedError while another run holds it. */
export async function lockModelDir(folder: string, holder: { runId: string; stage: string }, options: LockOptions = {}): Promise<HeldLock> {
  const store = isS3(folder) ? s3Store(storagesOf(options)) : localStore;
  const file = joinLocation(folder, LOCK_FILE);
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const warn = options.onWarning ?? ((line: string) => process.stderr.write(`${line}\n`));
  const since = new Date().toISOString();
  const token = randomBytes(8).toString('hex');
  const recordNow = (): LockRecord => ({
    runId: holder.runId, stage: holder.stage, pid: process.pid, host: os.hostname(), since,
    expiresAt: new Date(Date.now() + leaseMs).toISOString(), token,
  });

  let mine = await acquire(store, folder, file, holder.runId, recordNow, warn);
  let stopped = false;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async () => {
    const current = await store.read(file);
    if (stopped) return;
    if (current?.record?.token === token && (await store.swap(file, current, JSON.stringify(recordNow())))) {
      mine = (await store.read(file)) ?? mine;
      return;
    }
    const other = current?.record;
    warn(`thaw: lost the training lock of ${folder}${other ? ` to run ${other.runId} (process ${other.pid} on ${other.host})` : ''}; ` +
      'its lease was not renewed in time');
    stopped = true;
  };
  const timer = setInterval(() => {
    renewing = renewing.then(renew).catch((err: Error) => warn(`thaw: could not renew the training lock of ${folder}: ${err.message}`));
  }, Math.max(50, leaseMs / 4));
  timer.unref();
  return {
    file,
    get record() {
      return mine.record!;
    },
    async release() {
      clearInterval(timer);
      await renewing;
      if (stopped) return;
      stopped = true;
      const current = await store.read(file);
      if (current?.record?.token === token) await store.remove(file);
    },
  };
}

async function acquire(
  store: LockStore, folder: string, file: string, runId: string, recordNow: () => LockRecord, warn: (line: string) => void,
): Promise<Stored> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const text = JSON.stringify(recordNow());
    const current = await store.read(file);
    if (!current) {
      if (await store.create(file, text)) return { record: JSON.parse(text) as LockRecord, version: text };
      continue; // someone created it between our read and create: judge theirs
    }
    const why = staleness(current.record);
    const sameRun = current.record?.runId === runId;
    if (!why && !sameRun) throw new ModelDirLockedError(folder, current.record!);
    if (await store.swap(file, current, text)) {
      if (why && !sameRun) warn(`thaw: took over the training lock of ${folder} from run ${current.record?.runId ?? '?'}: ${why}`);
      return (await store.read(file)) ?? { record: JSON.parse(text) as LockRecord, version: text };
    }
  }
  throw new Error(`could not take the training lock ${file}: it kept changing under us`);
}
