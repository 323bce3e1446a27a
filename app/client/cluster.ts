/**
 * The Temporal cluster a thaw command talks to. With TEMPORAL_ADDRESS (or an envconfig profile): that cluster.
 * Without: the embedded dev server of the pipeline's model_dir. Every model_dir has a state folder,
 * `<state home>/<hash of model_dir>/` (state home: THAW_STATE_HOME, else `$XDG_STATE_HOME/thaw`, else
 * `~/.local/state/thaw`), holding the server's SQLite file, its log and its record (`temporal.sqlite.server.json`,
 * app/server/server-record.ts: who runs it, where, and whether it is shared or stopped) and the run logs. So `thaw run` of one pipeline from two folders shares one server (and one run), and
 * `status`, `wait` and `cancel` find the server from anywhere, by the pipeline file or by the run id (which ends in
 * the same hash). THAW_STATE_DIR puts every pipeline into that one folder instead (tests, and people who want one
 * history). When another thaw process already runs the folder's server we share it; otherwise this process starts
 * it, owns it and stops it on close.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { UserError } from '../../lib/errors';
import type { StateSettings } from '../../lib/settings';
import { clusterFromEnv } from '../server/connection';
import { DevServerBusyError } from '../server/db-lock';
import { isPortClash, startDevServer, type DevServer } from '../server/dev-server';
import { readServerRecord, updateServerRecord, type ServerRecord } from '../server/server-record';
import { processExists } from '../../lib/util/processes';
import { NoClusterConfiguredError } from './errors';
import { modelDirHash } from './ids';

export interface ThawCluster {
  client: Client;
  connection: Connection;
  namespace: string;
  /** For messages, e.g. `127.0.0.1:7233 (namespace default)`. */
  description: string;
  uiUrl?: string;
  /**
   * Where the cluster is: an external one, the local server of another thaw process, or one this process owns
   * (after takeOverIfOrphaned, a shared one becomes owned).
   */
  readonly kind: 'external' | 'shared-local' | 'owned-local';
  /** The embedded server's state folder (not for external clusters). */
  stateDir?: string;
  /** A connection for workers in this process. */
  nativeConnection(): Promise<NativeConnection>;
  /**
   * Of a shared local server whose owner has stopped it (its thaw ended or was killed while this one follows the
   * run): start it again on the same database and port, owned and announced by this process, so that every
   * connection made to it (client, workers, a result being awaited) carries on. True when this process took over;
   * false when the owner is still there, another thaw took over first, or the cluster is not a shared one.
   */
  takeOverIfOrphaned(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenClusterOptions {
  /** State folder of the embedded server (stateDirFor(model_dir)); unused with an external cluster. */
  stateDir?: string;
  /** Serve the Web UI when this process starts the embedded server. */
  ui?: boolean;
  /**
   * `run` (default): create the state folder and start (and announce, in its record) a server that others share.
   * `inspect`: only look: a folder without a database is an error (nothing ever ran there), and a server started to
   * read the database is not announced, so no `thaw run` comes to depend on it.
   */
  purpose?: 'run' | 'inspect';
  /** THAW_TEMPORAL_CLI from the settings: the binary that runs the embedded server (searched for when unset). */
  temporalCli?: string;
}

const DB_FILE = 'temporal.sqlite';
/** Where an older thaw announced the folder's server; nothing reads it any more (the database's record says it). */
const LEGACY_RECORD_FILE = 'server.json';
/** The model_dir a state folder belongs to, for people and `thaw list`. */
const MODEL_DIR_FILE = 'model_dir';

/** Nothing has ever run in a state folder that a status, wait or cancel looks in. */
export class NoEmbeddedServerError extends UserError {
  constructor(what: string, stateDir: string) {
    super('RunNotFound', `${what}: the embedded server of its model_dir has never run (no database in ${stateDir})`, {
      file: stateDir,
      fix: 'start it with `thaw run <pipeline.yaml>`; for a run on a Temporal cluster, set TEMPORAL_ADDRESS (or TEMPORAL_PROFILE) as the run did',
    });
  }
}

/**
 * The server is not there (stopped, or restarting): a gRPC UNAVAILABLE anywhere in the chain of causes, the worker
 * library's TransportError for a refused connection, or the client's connect timing out (neither carries a gRPC code).
 */
export function isServerGone(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown; name?: unknown; message?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === GRPC_UNAVAILABLE) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (e.name === 'TransportError' && /tcp connect error|Connection refused|Unavailable/i.test(message)) return true;
    if (/^Failed to connect before the deadline$/.test(message)) return true;
  }
  return false;
}

const GRPC_UNAVAILABLE = 14;

/** The state folder of the embedded server of a model_dir (settings' stateDir, THAW_STATE_DIR: the one folder of every pipeline). */
export function stateDirFor(modelDir: string, state: StateSettings): string {
  return stateDirForHash(modelDirHash(modelDir), state);
}

export function stateDirForHash(hash: string, state: StateSettings): string {
  return state.stateDir ?? path.join(state.stateHome, hash);
}

/** Every state folder that holds a database (THAW_STATE_DIR: just that one), for `thaw list`. Creates nothing. */
export function knownStateDirs(state: StateSettings): string[] {
  if (state.stateDir) return existsSync(dbFileOf(state.stateDir)) ? [state.stateDir] : [];
  const home = state.stateHome;
  let names: string[];
  try {
    names = readdirSync(home);
  } catch {
    return [];
  }
  return names.map((n) => path.join(home, n)).filter((d) => existsSync(dbFileOf(d))).sort();
}

/** The model_dir a state folder serves, when it recorded one. */
export function modelDirOfStateDir(stateDir: string): string | null {
  try {
    return readFileSync(path.join(stateDir, MODEL_DIR_FILE), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** The log file of a run's thaw process (SDK logs, and a background run's output). */
export function runLogFile(stateDir: string, workflowId: string): string {
  return path.join(stateDir, `${workflowId}.log`);
}

export async function openCluster(options: OpenClusterOptions = {}): Promise<ThawCluster> {
  const external = clusterFromEnv();
  if (external) return connected(external.connectionOptions, external.namespace, external.description, 'external');
  // Without a model_dir there is no embedded server to start or share (`thaw worker` on its own): say what to set.
  if (!options.stateDir) {
    throw new NoClusterConfiguredError('no Temporal server to connect to: TEMPORAL_ADDRESS (or TEMPORAL_PROFILE) is not set', {
      fix: 'start `thaw server` and set TEMPORAL_ADDRESS to the address it prints (or name an envconfig profile with TEMPORAL_PROFILE); on one machine `thaw run` needs no separate worker',
    });
  }

  const stateDir = path.resolve(options.stateDir);
  const inspect = options.purpose === 'inspect';
  const shared = await readSharedCluster(stateDir, options.temporalCli).catch(goneIsNull);
  if (shared) return shared;
  if (inspect && !existsSync(dbFileOf(stateDir))) throw new NoEmbeddedServerError('no run', stateDir);
  mkdirSync(stateDir, { recursive: true });
  const server = await startOrShare(stateDir, options);
  if ('kind' in server) return server;
  if (!inspect) announce(stateDir, server);
  try {
    const description = `${server.address} (namespace ${server.namespace}, local dev server, ${server.dbFile})`;
    return await connected({ address: server.address }, server.namespace, description, 'owned-local', server.uiUrl, stateDir, server, options.temporalCli);
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * Marks the server's record shared: this process runs the folder's server, at its address, and other thaw processes
 * share it (`thaw run` and `thaw server` with THAW_STATE_DIR do this; a server started to read the database does
 * not). Stopping the server marks the record stopped (dev-server.ts), so sharers then look elsewhere.
 */
export function announce(stateDir: string, server: DevServer): void {
  updateServerRecord(server.dbFile, { shared: true, modelDir: modelDirOfStateDir(stateDir) ?? undefined });
  // An older thaw's announcement, left behind: it could only mislead a person reading the folder.
  rmSync(path.join(stateDir, LEGACY_RECORD_FILE), { force: true });
}

/** The database of a state folder's embedded server. */
export function dbFileOf(stateDir: string): string {
  return path.join(stateDir, DB_FILE);
}

function readRecord(stateDir: string): ServerRecord | null {
  return readServerRecord(dbFileOf(stateDir));
}

function portOf(address: string | undefined): number | undefined {
  const port = Number(address?.split(':').pop());
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/**
 * Starts the folder's server on the port it had before when that is free (thaw processes still connected to it,
 * e.g. a second `thaw run` of the pipeline, then carry on), else on a free one.
 */
async function startServerOf(stateDir: string, ui: boolean, temporalCli: string | undefined): Promise<DevServer> {
  const previous = readRecord(stateDir);
  const dbFile = dbFileOf(stateDir);
  const port = portOf(previous?.address);
  const uiPort = ui ? portOf(previous?.uiUrl) : undefined;
  if (port !== undefined) {
    try {
      return await startDevServer({ dbFile, ui, port, uiPort, temporalCli });
    } catch (err) {
      if (!isPortClash(err)) throw err;
    }
  }
  return startDevServer({ dbFile, ui, temporalCli });
}

/** Records which model_dir a state folder serves (written by `thaw run` before it opens the cluster). */
export function recordModelDir(stateDir: string, modelDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  const file = path.join(stateDir, MODEL_DIR_FILE);
  if (modelDirOfStateDir(stateDir) !== modelDir) writeFileSync(file, `${modelDir}\n`);
}

/**
 * Starts the folder's server, or shares the one another thaw is starting right now. A server that another thaw
 * started only to read the database (status, list) is waited out: its lock goes when it stops.
 */
async function startOrShare(stateDir: string, options: OpenClusterOptions): Promise<DevServer | ThawCluster> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await startServerOf(stateDir, Boolean(options.ui) && options.purpose !== 'inspect', options.temporalCli);
    } catch (err) {
      if (!(err instanceof DevServerBusyError) || Date.now() > deadline) throw err;
    }
    const shared = await readSharedCluster(stateDir, options.temporalCli).catch(goneIsNull);
    if (shared) return shared;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A shared server that went away between the probe and the connection (its owner just ended) is no shared server. */
function goneIsNull(err: unknown): null {
  if (isServerGone(err)) return null;
  throw err;
}

/** The local dev server another thaw process runs on this state folder, or null when there is none. */
export async function readSharedCluster(stateDir: string, temporalCli?: string): Promise<ThawCluster | null> {
  const shared = await reachableRecord(stateDir);
  if (!shared) return null;
  return connected({ address: shared.address }, 'default', `${shared.address} (namespace default, local dev server of process ${shared.ownerPid})`, 'shared-local', shared.uiUrl, stateDir, undefined, temporalCli);
}

/** The folder's record when it announces a server whose owner lives and which answers. */
async function reachableRecord(stateDir: string): Promise<(ServerRecord & { address: string }) | null> {
  const record = readRecord(stateDir);
  if (!record?.shared || record.stopped || !record.address || !processExists(record.ownerPid)) return null;
  try {
    const probe = await Connection.connect({ address: record.address, connectTimeout: 2000 });
    await probe.close();
    return { ...record, address: record.address };
  } catch {
    return null;
  }
}

async function connected(
  options: ConnectionOptions,
  namespace: string,
  description: string,
  initialKind: ThawCluster['kind'],
  uiUrl?: string,
  stateDir?: string,
  initiallyOwned?: DevServer,
  temporalCli?: string,
): Promise<ThawCluster> {
  const connection = await Connection.connect(options);
  const client = new Client({ connection, namespace });
  const natives: NativeConnection[] = [];
  let kind = initialKind;
  let owned = initiallyOwned;
  return {
    client,
    connection,
    namespace,
    description,
    uiUrl,
    get kind() {
      return kind;
    },
    stateDir,
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
    async takeOverIfOrphaned() {
      if (kind !== 'shared-local' || !stateDir) return false;
      const server = await restartOrphaned(stateDir, options.address ?? '', uiUrl, temporalCli);
      if (!server) return false;
      announce(stateDir, server);
      owned = server;
      kind = 'owned-local';
      return true;
    },
    async close() {
      for (const n of natives) await n.close().catch(() => undefined);
      await connection.close();
      // Stopping marks the record stopped (its address kept, for a restart on the same port).
      await owned?.stop();
    },
  };
}

/** Said by a thaw command that took over the server of the thaw process it shared (see takeOverIfOrphaned). */
export const TOOK_OVER = "thaw: the thaw process that ran this model_dir's server has ended; this one runs it now (same address), and the run carries on";

/** How long a take-over waits for the stopping owner to let go of the database. */
const TAKE_OVER_WAIT_MS = 60_000;

/**
 * The shared server at `address` has been stopped by its owner, or its owner died: start it again on the same port
 * (null when its owner is still there, another thaw took over first, or the port is no longer free).
 */
async function restartOrphaned(stateDir: string, address: string, uiUrl: string | undefined, temporalCli: string | undefined): Promise<DevServer | null> {
  // Another thaw runs it for others (a server started only to read the database is waited out: busy, then gone).
  const runsIt = (r: ServerRecord | null) => Boolean(r?.shared) && !r!.stopped && processExists(r!.ownerPid);
  const record = readRecord(stateDir);
  if (runsIt(record) || (record?.shared && record.address !== address)) return null;
  const deadline = Date.now() + TAKE_OVER_WAIT_MS;
  for (;;) {
    try {
      return await startDevServer({ dbFile: dbFileOf(stateDir), port: portOf(address), ui: uiUrl !== undefined, uiPort: portOf(uiUrl), temporalCli });
    } catch (err) {
      if (isPortClash(err)) return null;
      if (!(err instanceof DevServerBusyError) || Date.now() > deadline) throw err;
    }
    if (runsIt(readRecord(stateDir))) return null;
    await sleep(500);
  }
}
