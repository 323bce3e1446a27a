/**
 * The one record of a database's embedded dev server, `<db>.server.json`. It is created exclusively, as the
 * database's lock (db-lock.ts decides who may take it), completed as the server starts (server pid, address, UI),
 * marked shared when other thaw processes may use the server (cluster.ts), and marked stopped as the server stops:
 * a stopped record keeps its address, so a restart can take the same port. This module only reads and writes it.
 * Every write is whole: a temporary file linked (create) or renamed (update) into place, so a reader never sees half
 * a record.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ServerRecord {
  /** The thaw process that holds the database and owns its server. */
  ownerPid: number;
  /** The server process, once it is started. */
  serverPid?: number;
  /** host:port of its gRPC frontend. */
  address?: string;
  uiUrl?: string;
  /**
   * Announced: other thaw processes share this server (`thaw run`, `thaw server` with THAW_STATE_DIR). A server
   * started only to read the database (status, list) or on a plain `thaw server --db` file is not.
   */
  shared?: boolean;
  /** The model_dir the database's state folder serves, for people. */
  modelDir?: string;
  /** Marked by the owner as it stops the server; the address stays, so a restart can take the same port. */
  stopped?: boolean;
}

export function recordFileOf(dbFile: string): string {
  return `${dbFile}.server.json`;
}

/** The database's record, or null when there is none (or it cannot be read: treated as none). */
export function readServerRecord(dbFile: string): ServerRecord | null {
  try {
    const record = JSON.parse(readFileSync(recordFileOf(dbFile), 'utf8')) as ServerRecord;
    return typeof record?.ownerPid === 'number' ? record : null;
  } catch {
    return null;
  }
}

function tempFileOf(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Creates the record for this process; false when there already is one (someone holds, or held, the database). */
export function createServerRecord(dbFile: string): boolean {
  const file = recordFileOf(dbFile);
  const temp = tempFileOf(file);
  writeFileSync(temp, JSON.stringify({ ownerPid: process.pid } satisfies ServerRecord));
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Adds to this process' record; false (and nothing written) when the record is not this process'. */
export function updateServerRecord(dbFile: string, fields: Omit<ServerRecord, 'ownerPid'>): boolean {
  const record = readServerRecord(dbFile);
  if (record?.ownerPid !== process.pid) return false;
  const file = recordFileOf(dbFile);
  const temp = tempFileOf(file);
  writeFileSync(temp, JSON.stringify({ ...record, ...fields }));
  renameSync(temp, file);
  return true;
}

/** Marks this process' record stopped (address kept); false when the record is not this process'. */
export function markServerStopped(dbFile: string): boolean {
  return updateServerRecord(dbFile, { stopped: true });
}

/** Removes the record (a stale one, before the database is taken again). */
export function removeServerRecord(dbFile: string): void {
  rmSync(recordFileOf(dbFile), { force: true });
}

/**
 * The lock an older thaw left, `<db>.pid` ({ownerPid, serverPid}; before this record, its address was in the state
 * folder's server.json, which cluster.ts removes). Null when there is none; {} when it cannot be read.
 */
export function readLegacyLock(dbFile: string): { ownerPid?: number; serverPid?: number } | null {
  try {
    const text = readFileSync(`${dbFile}.pid`, 'utf8').trim();
    return text ? (JSON.parse(text) as { ownerPid?: number; serverPid?: number }) : {};
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : {};
  }
}

export function removeLegacyLock(dbFile: string): void {
  rmSync(`${dbFile}.pid`, { force: true });
}
