/**
 * The Temporal cluster a thaw command talks to. With TEMPORAL_ADDRESS (or an envconfig profile): that cluster.
 * Without: the local embedded dev server, SQLite under `.thaw/` (THAW_STATE_DIR overrides). When another thaw process
 * already runs that server (it writes `.thaw/server.json`), we share it; otherwise this process starts it, owns it and
 * stops it on close.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { clusterFromEnv } from '../server/connection';
import { DevServerBusyError } from '../server/db-lock';
import { startDevServer, type DevServer } from '../server/dev-server';

export interface ThawCluster {
  client: Client;
  connection: Connection;
  namespace: string;
  /** For messages, e.g. `127.0.0.1:7233 (namespace default)`. */
  description: string;
  uiUrl?: string;
  /** Where the cluster is: an external one, the local server of another thaw process, or one this process owns. */
  kind: 'external' | 'shared-local' | 'owned-local';
  /** A connection for workers in this process. */
  nativeConnection(): Promise<NativeConnection>;
  close(): Promise<void>;
}

export interface OpenClusterOptions {
  /** Folder of the embedded server's SQLite file and server.json (default `$THAW_STATE_DIR` or `./.thaw`). */
  stateDir?: string;
  /** Serve the Web UI when this process starts the embedded server. */
  ui?: boolean;
}

interface ServerRecord {
  address: string;
  uiUrl?: string;
  pid: number;
}

export function defaultStateDir(): string {
  return path.resolve(process.env.THAW_STATE_DIR ?? '.thaw');
}

export async function openCluster(options: OpenClusterOptions = {}): Promise<ThawCluster> {
  const external = clusterFromEnv();
  if (external) return connected(external.connectionOptions, external.namespace, external.description, 'external');

  const stateDir = path.resolve(options.stateDir ?? defaultStateDir());
  const shared = await readSharedCluster(stateDir);
  if (shared) return shared;
  const recordFile = path.join(stateDir, 'server.json');
  mkdirSync(stateDir, { recursive: true });
  let server: DevServer;
  try {
    server = await startDevServer({ dbFile: path.join(stateDir, 'temporal.sqlite'), ui: options.ui });
  } catch (err) {
    // Another thaw started the same server a moment ago: share it once it is up.
    if (!(err instanceof DevServerBusyError)) throw err;
    const sharedSoon = await waitForSharedCluster(stateDir, 120_000);
    if (!sharedSoon) throw err;
    return sharedSoon;
  }
  const record: ServerRecord = { address: server.address, uiUrl: server.uiUrl, pid: process.pid };
  writeFileSync(recordFile, JSON.stringify(record));
  try {
    return await connected({ address: server.address }, server.namespace, `${server.address} (namespace ${server.namespace}, local dev server, ${server.dbFile})`, 'owned-local', server.uiUrl, server, recordFile);
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** The local dev server another thaw process runs on this state folder, or null when there is none. */
export async function readSharedCluster(stateDir: string): Promise<ThawCluster | null> {
  const shared = await reachableRecord(path.join(stateDir, 'server.json'));
  if (!shared) return null;
  return connected({ address: shared.address }, 'default', `${shared.address} (namespace default, local dev server of process ${shared.pid})`, 'shared-local', shared.uiUrl);
}

async function waitForSharedCluster(stateDir: string, timeoutMs: number): Promise<ThawCluster | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const shared = await readSharedCluster(stateDir);
    if (shared) return shared;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

async function reachableRecord(file: string): Promise<ServerRecord | null> {
  if (!existsSync(file)) return null;
  let record: ServerRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as ServerRecord;
    process.kill(record.pid, 0);
  } catch {
    return null;
  }
  try {
    const probe = await Connection.connect({ address: record.address, connectTimeout: 2000 });
    await probe.close();
    return record;
  } catch {
    return null;
  }
}

async function connected(
  options: ConnectionOptions,
  namespace: string,
  description: string,
  kind: ThawCluster['kind'],
  uiUrl?: string,
  owned?: DevServer,
  recordFile?: string,
): Promise<ThawCluster> {
  const connection = await Connection.connect(options);
  const client = new Client({ connection, namespace });
  const natives: NativeConnection[] = [];
  return {
    client,
    connection,
    namespace,
    description,
    uiUrl,
    kind,
    async nativeConnection() {
      const native = await NativeConnection.connect({
        address: options.address,
        tls: options.tls,
        apiKey: typeof options.apiKey === 'string' ? options.apiKey : undefined,
        metadata: options.metadata as Record<string, string> | undefined,
      });
      natives.push(native);
      return native;
    },
    async close() {
      for (const n of natives) await n.close().catch(() => undefined);
      await connection.close();
      if (owned) {
        if (recordFile) rmSync(recordFile, { force: true });
        await owned.stop();
      }
    },
  };
}
