/**
 * Who owns the dev server of a SQLite database: the database's record (server-record.ts, `<db>.server.json`) is
 * created exclusively as its lock, so two thaw processes starting at the same instant cannot both start (and then
 * kill) a server on one database. A live owner whose server runs, or is still starting, holds it. A record whose
 * owner is dead belongs to a thaw that was SIGKILLed: its orphaned server is stopped and the lock taken. A record
 * whose server has exited (stopped, killed, crashed) is free, whoever owned it.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../../lib/errors';
import { processExists } from '../../lib/util/processes';
import {
  createServerRecord, readLegacyLock, readServerRecord, recordFileOf, removeLegacyLock, removeServerRecord, type ServerRecord,
} from './server-record';

export class DevServerBusyError extends UserError {
  readonly ownerPid: number;

  constructor(dbFile: string, holder: Pick<ServerRecord, 'ownerPid' | 'serverPid' | 'address'>, recordFile = recordFileOf(dbFile)) {
    const server = holder.serverPid === undefined
      ? 'its server is starting'
      : `its server: process ${holder.serverPid}${holder.address ? ` at ${holder.address}` : ''}`;
    super('DevServerBusy', `the Temporal dev server database ${dbFile} is in use by thaw process ${holder.ownerPid} (${server}; see ${recordFile})`, {
      file: dbFile,
      fix: 'share that server (set TEMPORAL_ADDRESS to its address), wait for it to finish, or use another --db file',
    });
    this.ownerPid = holder.ownerPid;
  }
}

/** Whether a record's owner still holds the database: it lives, and its server runs or is about to. */
function holdsDatabase(record: ServerRecord): boolean {
  if (!processExists(record.ownerPid)) return false;
  return record.serverPid === undefined ? !record.stopped : processExists(record.serverPid);
}

/** Only kill what really is a dev server on this database (pids get reused). */
function isServerOf(pid: number | undefined, dbFile: string): pid is number {
  if (!processExists(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('start-dev') && cmdline.includes(dbFile);
  } catch {
    return false;
  }
}

async function stopOrphan(pid: number | undefined, dbFile: string): Promise<void> {
  if (!isServerOf(pid, dbFile)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && processExists(pid); i++) await sleep(100);
  if (processExists(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * An older thaw's lock, `<db>.pid`, must not keep the database forever: it counts only while its owner lives and
 * its server really is a dev server on this database (that older thaw still runs); otherwise its orphan is
 * stopped and the file removed.
 */
async function retireLegacyLock(dbFile: string): Promise<void> {
  const legacy = readLegacyLock(dbFile);
  if (!legacy) return;
  if (processExists(legacy.ownerPid) && isServerOf(legacy.serverPid, dbFile)) {
    throw new DevServerBusyError(dbFile, { ownerPid: legacy.ownerPid, serverPid: legacy.serverPid }, `${dbFile}.pid`);
  }
  await stopOrphan(legacy.serverPid, dbFile);
  removeLegacyLock(dbFile);
}

/**
 * Takes the database for this process (its record then says only ownerPid: dev-server.ts completes it); throws
 * DevServerBusyError, naming the holder, while another live thaw holds it.
 */
export async function lockDatabase(dbFile: string): Promise<void> {
  await retireLegacyLock(dbFile);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createServerRecord(dbFile)) return;
    const record = readServerRecord(dbFile);
    if (record && holdsDatabase(record)) throw new DevServerBusyError(dbFile, record);
    await stopOrphan(record?.serverPid, dbFile);
    removeServerRecord(dbFile);
  }
  throw new Error(`could not take the lock ${recordFileOf(dbFile)}`);
}
