/**
 * The embedded Temporal dev server (`temporal server start-dev`) as a child process we own: a persistent SQLite
 * file, a free port, the Web UI when asked, a readiness wait that tolerates a slow 2-core machine, a clean stop,
 * and no orphans (the server is killed when this process exits, and a server left behind by a killed thaw on the
 * same database is stopped before a new one starts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { lockDatabase, recordServerPid, unlockDatabase } from './db-lock';
import { freePort } from './free-port';
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
}

export interface DevServer {
  /** host:port of the gRPC frontend. */
  address: string;
  uiUrl?: string;
  namespace: string;
  dbFile: string;
  logFile: string;
  pid: number;
  cli: TemporalCli;
  stop(): Promise<void>;
}

/** Servers this process started, with their databases, so that exit can stop them and release the locks. */
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

/** Kill every server we started when this process goes away, however it goes (short of SIGKILL). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [child, dbFile] of running) {
      child.kill('SIGKILL');
      unlockDatabase(dbFile);
    }
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

/** Starts the server; a free port taken by someone else between choosing and binding is retried with another. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      const portClash = /address already in use/i.test((err as Error).message);
      if (!portClash || options.port !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
  const dbFile = path.resolve(options.dbFile);
  mkdirSync(path.dirname(dbFile), { recursive: true });
  await lockDatabase(dbFile);
  try {
    return await spawnServer(dbFile, options);
  } catch (err) {
    unlockDatabase(dbFile);
    throw err;
  }
}

async function spawnServer(dbFile: string, options: DevServerOptions): Promise<DevServer> {
  const cli = options.cli ?? (await resolveTemporalCli());
  const port = options.port ?? (await freePort());
  const uiPort = options.ui ? (options.uiPort ?? (await freePort())) : undefined;
  const namespace = options.namespace ?? 'default';
  const logFile = options.logFile ?? `${dbFile}.log`;

  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  args.push(...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']));
  if (namespace !== 'default') args.push('--namespace', namespace);

  const logFd = openSync(logFile, 'a');
  const child = spawn(cli.path, args, { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  running.set(child, dbFile);
  installExitHook();
  child.once('exit', () => running.delete(child));
  recordServerPid(dbFile, child.pid!);

  const address = `127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const grace = new AbortController();
      const forced = sleep(10_000, undefined, { signal: grace.signal }).then(() => child.kill('SIGKILL'), () => undefined);
      await exited;
      grace.abort();
      await forced;
    }
    running.delete(child);
    unlockDatabase(dbFile);
  };

  try {
    await waitUntilReady(address, child, logFile, options.readyTimeoutMs ?? 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
    namespace,
    dbFile,
    logFile,
    pid: child.pid!,
    cli,
    stop,
  };
}
