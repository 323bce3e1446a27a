/**
 * The embedded Temporal dev server (`temporal server start-dev`) as a child process we own: a persistent SQLite
 * file, a free port, the Web UI when asked, a readiness wait that tolerates a slow 2-core machine, a clean stop,
 * and no orphans. The server runs under a tiny supervisor (a `node -e` script) that holds an IPC channel to this
 * process and stops the server when the channel closes, so the server dies with its owner however the owner dies
 * (SIGKILL included: Node has no PR_SET_PDEATHSIG). The supervisor is in its own process group, so a terminal's
 * Ctrl-C reaches only thaw, which then stops its workers before the server. A server left behind by an older thaw
 * on the same database is stopped before a new one starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { UserError } from '../../lib/errors';
import { lockDatabase } from './db-lock';
import { freePort } from './free-port';
import { markServerStopped, updateServerRecord } from './server-record';
import { resolveTemporalCli, type TemporalCli } from './temporal-cli';

export interface DevServerOptions {
  /** SQLite file that makes workflow state survive restarts; its folder is created. */
  dbFile: string;
  /** gRPC port; a free one when omitted. */
  port?: number;
  /** Serve the Web UI (on uiPort, default a free port). */
  ui?: boolean;
  uiPort?: number;
  /** Extra namespace to create besides "default". */
  namespace?: string;
  /** How long to wait for the server to answer (default 120 s: first start on a slow machine migrates SQLite). */
  readyTimeoutMs?: number;
  /** Where the server's own output goes (default: `<dbFile>.log`). */
  logFile?: string;
  cli?: TemporalCli;
  /** THAW_TEMPORAL_CLI from the settings, when `cli` is not given (see temporal-cli.ts). */
  temporalCli?: string;
}

export interface DevServer {
  /** host:port of the gRPC frontend. */
  address: string;
  uiUrl?: string;
  namespace: string;
  dbFile: string;
  logFile: string;
  /** The server process (not its supervisor). */
  pid: number;
  cli: TemporalCli;
  stop(): Promise<void>;
}

/** Servers this process started (their supervisors), with their databases and server pids, for the exit hook. */
const running = new Map<ChildProcess, { dbFile: string; serverPid: number }>();
let exitHookInstalled = false;

/** Kill every server we started when this process exits normally; on SIGKILL the supervisors do it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [supervisor, { dbFile, serverPid }] of running) {
      killQuietly(serverPid, 'SIGKILL');
      supervisor.kill('SIGKILL');
      markServerStopped(dbFile);
    }
  });
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** How long the server gets to stop after SIGTERM before it is killed (it takes about 1.5 s). */
const STOP_GRACE_MS = 10_000;

/**
 * The supervisor, run as `node -e SUPERVISOR -- <temporal> <args…>`: starts the server, reports its pid over IPC,
 * and stops it (SIGTERM, then SIGKILL after the grace time) when the owner's IPC channel closes or on SIGTERM;
 * exits with the server. Ignores SIGINT and SIGHUP (the owner decides when the server stops).
 */
export const SUPERVISOR_SOURCE = `
const { spawn } = require('node:child_process');
const [cli, ...args] = process.argv.slice(1);
const server = spawn(cli, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  try { server.kill('SIGTERM'); } catch {}
  setTimeout(() => { try { server.kill('SIGKILL'); } catch {} }, ${STOP_GRACE_MS}).unref();
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
server.on('error', (err) => {
  if (process.connected) process.send({ type: 'error', message: err.message }, () => process.exit(127));
  else process.exit(127);
});
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
if (server.pid !== undefined && process.connected) process.send({ type: 'started', pid: server.pid });
if (!process.connected) stop();
`;

/** Starts the supervisor and resolves with the server's pid once it runs. */
function superviseServer(cliPath: string, args: string[], logFd: number): Promise<{ supervisor: ChildProcess; serverPid: number }> {
  const supervisor = spawn(process.execPath, ['-e', SUPERVISOR_SOURCE, '--', cliPath, ...args], {
    stdio: ['ignore', logFd, logFd, 'ipc'],
    // Its own process group: Ctrl-C on the terminal goes to thaw, not to the server under it.
    detached: true,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`the dev server's supervisor exited (${code ?? signal}) before starting ${cliPath}`));
    supervisor.once('exit', onExit);
    supervisor.once('error', reject);
    supervisor.on('message', (m: { type: string; pid?: number; message?: string }) => {
      if (m.type === 'started' && m.pid) {
        supervisor.removeListener('exit', onExit);
        // The channel must not keep this process alive on its own (close() or the exit hook stop the server).
        supervisor.channel?.unref();
        resolve({ supervisor, serverPid: m.pid });
      } else if (m.type === 'error') {
        reject(new Error(`cannot start the temporal CLI ${cliPath}: ${m.message}`));
      }
    });
  });
}

async function waitUntilReady(address: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`temporal dev server exited (${child.exitCode ?? child.signalCode}) before it was ready; see ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`temporal dev server at ${address} not ready after ${timeoutMs} ms (${lastError}); see ${logFile}`);
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The server could not bind a port: someone else has it. */
export function isPortClash(err: unknown): boolean {
  return err instanceof PortInUseError || /address already in use/i.test((err as Error)?.message ?? '');
}

/** The ports a failed start could not bind (`listen tcp 127.0.0.1:N: bind: address already in use`). */
function clashedPorts(err: unknown): number[] {
  return [...((err as Error)?.message ?? '').matchAll(/:(\d+): bind: address already in use/g)].map((m) => Number(m[1]));
}

/**
 * Starts the server. A port taken by someone else between choosing and binding is retried with another: ours (gRPC
 * and UI, unless the caller fixed them) and the CLI's own (its HTTP API and metrics ports are random picks too).
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const fixed = [options.port, options.ui ? options.uiPort : undefined].filter((p): p is number => p !== undefined);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (!isPortClash(err) || attempt >= 3) throw err;
      // Which port clashed, when the log says; when it does not, it may have been a fixed one.
      const clashed = clashedPorts(err);
      const mine = clashed.filter((p) => fixed.includes(p));
      if (mine.length > 0) throw new PortInUseError(mine[0], err);
      if (clashed.length === 0 && fixed.length > 0) throw err;
    }
  }
}

/** A port the caller asked for (`thaw server --port`, a restart on its old port) is taken by another process. */
export class PortInUseError extends UserError {
  constructor(port: number, cause: unknown) {
    super('PortInUse', `port ${port} is in use by another process, so the Temporal dev server cannot listen on it`, {
      fix: `choose another port (e.g. \`thaw server --port ${port + 1}\`), or stop what listens on ${port} (\`ss -ltnp | grep :${port}\`)`,
    });
    this.cause = cause;
  }
}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
  const dbFile = path.resolve(options.dbFile);
  mkdirSync(path.dirname(dbFile), { recursive: true });
  await lockDatabase(dbFile);
  try {
    return await spawnServer(dbFile, options);
  } catch (err) {
    // The lock goes with a stopped mark: a record without a server that runs holds nothing.
    markServerStopped(dbFile);
    throw err;
  }
}

async function spawnServer(dbFile: string, options: DevServerOptions): Promise<DevServer> {
  const cli = options.cli ?? (await resolveTemporalCli({ override: options.temporalCli }));
  const port = options.port ?? (await freePort());
  const uiPort = options.ui ? (options.uiPort ?? (await freePort())) : undefined;
  const namespace = options.namespace ?? 'default';
  const logFile = options.logFile ?? `${dbFile}.log`;

  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  args.push(...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']));
  if (namespace !== 'default') args.push('--namespace', namespace);

  const logFd = openSync(logFile, 'a');
  let started: Awaited<ReturnType<typeof superviseServer>>;
  try {
    started = await superviseServer(cli.path, args, logFd);
  } finally {
    closeSync(logFd);
  }
  const { supervisor: child, serverPid } = started;
  running.set(child, { dbFile, serverPid });
  installExitHook();
  child.once('exit', () => running.delete(child));
  const address = `127.0.0.1:${port}`;
  const uiUrl = uiPort ? `http://127.0.0.1:${uiPort}` : undefined;
  updateServerRecord(dbFile, { serverPid, address, uiUrl });

  const stop = async (): Promise<void> => {
    // Marked first: sharers stop counting on it now; the lock holds until the server has exited.
    markServerStopped(dbFile);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      killQuietly(serverPid, 'SIGTERM');
      const grace = new AbortController();
      const forced = sleep(STOP_GRACE_MS + 2000, undefined, { signal: grace.signal }).then(() => {
        killQuietly(serverPid, 'SIGKILL');
        child.kill('SIGKILL');
      }, () => undefined);
      await exited;
      grace.abort();
      await forced;
    }
    running.delete(child);
  };

  try {
    await waitUntilReady(address, child, logFile, options.readyTimeoutMs ?? 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    uiUrl,
    namespace,
    dbFile,
    logFile,
    pid: serverPid,
    cli,
    stop,
  };
}
