/**
 * Who owns the dev server of a SQLite database: `<db>.pid` holds {ownerPid, serverPid}. It is created exclusively, so
 * two thaw processes starting at the same instant cannot both start (and then kill) a server on one database. A
 * record whose owner is dead belongs to a thaw that was SIGKILLed: its orphaned server is stopped and the lock taken.
 * A record whose server died (killed, crashed) is stale, whoever owned it.
 */
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../errors';
import { processExists } from '../util/processes';

interface LockRecord {
  ownerPid: number;
  serverPid?: number;
}

export class DevServerBusyError extends UserError {
  readonly ownerPid: number;

  constructor(dbFile: string, ownerPid: number) {
    super('DevServerBusy', `the Temporal dev server database ${dbFile} is in use by thaw process ${ownerPid}`, {
      file: dbFile,
      fix: 'share that server (set TEMPORAL_ADDRESS to its address), wait for it to finish, or use another --db file',
    });
    this.ownerPid = ownerPid;
  }
}

function lockFileOf(dbFile: string): string {
  return `${dbFile}.pid`;
}

function readRecord(dbFile: string): LockRecord | undefined {
  try {
    const text = readFileSync(lockFileOf(dbFile), 'utf8').trim();
    return text ? (JSON.parse(text) as LockRecord) : { ownerPid: 0 };
  } catch {
    return undefined;
  }
}

/** Only kill what really is a dev server on this database (pids get reused). */
function isServerOf(pid: number, dbFile: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('start-dev') && cmdline.includes(dbFile);
  } catch {
    return false;
  }
}

async function stopOrphan(pid: number | undefined, dbFile: string): Promise<void> {
  if (!processExists(pid) || !isServerOf(pid, dbFile)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && processExists(pid); i++) await sleep(100);
  if (processExists(pid)) process.kill(pid, 'SIGKILL');
}

/** Takes the database for this process; throws DevServerBusyError while another live thaw holds it. */
export async function lockDatabase(dbFile: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockFileOf(dbFile), 'wx');
      writeSync(fd, JSON.stringify({ ownerPid: process.pid } satisfies LockRecord));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const record = readRecord(dbFile);
    // Busy while a live thaw is starting its server or still has it running; a dead server's lock is stale.
    const serverGone = record?.serverPid !== undefined && !processExists(record.serverPid);
    if (record && processExists(record.ownerPid) && !serverGone) throw new DevServerBusyError(dbFile, record.ownerPid);
    await stopOrphan(record?.serverPid, dbFile);
    rmSync(lockFileOf(dbFile), { force: true });
  }
  throw new Error(`could not take the lock ${lockFileOf(dbFile)}`);
}

export function recordServerPid(dbFile: string, serverPid: number): void {
  writeFileSync(lockFileOf(dbFile), JSON.stringify({ ownerPid: process.pid, serverPid } satisfies LockRecord));
}

export function unlockDatabase(dbFile: string): void {
  const record = readRecord(dbFile);
  if (record?.ownerPid === process.pid) rmSync(lockFileOf(dbFile), { force: true });
}
