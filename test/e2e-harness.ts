/**
 * Shared pieces of the workflow and end-to-end tests: pipelines written to temp folders, a workflow bundle built once
 * per process, thaw workers in this process or as separate `thaw worker` processes, and polling a run's status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { PipelineHandle } from '../lib/client/start';
import { queryStatus } from '../lib/client/runs';
import type { DevServer } from '../lib/server/dev-server';
import { workflowsPath } from '../plugin';
import { installTemporalLogLevel, startThawWorkers, type RunningWorkers, type ThawWorkerOptions } from '../worker';
import type { PipelineStatus } from '../workflows/types';

export const REPO = path.resolve(__dirname, '..');
installTemporalLogLevel('WARN');

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `thaw-${tag}-`));
}

/** A tiny pipeline (toynet on 16×16 synthetic images) with the given stages, written to `dir/<name>.yaml`. */
export function writePipeline(dir: string, name: string, stagesYaml: string, extra = ''): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
model_dir: ./${name}
network: {name: toynet, params: {features: 4, layers: 2}}
data: {kind: synthetic, task: A, spatial_size: [16, 16]}
seed: 5
backend: tensorflow
defaults: {batch_size: 2, save_every_n: 5, max_checkpoints: 3, lr: 0.01}
${extra}stages:
${stagesYaml}`,
  );
  return file;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling the workflow code takes seconds: once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: undefined });
  return bundle;
}

export async function connectClient(server: DevServer): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: server.address });
  return { client: new Client({ connection, namespace: server.namespace }), close: () => connection.close() };
}

/** thaw workers in this process (both queues unless told otherwise). */
export async function inProcessWorkers(server: DevServer, options: Partial<ThawWorkerOptions> = {}): Promise<RunningWorkers & { close(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: server.address });
  const running = await startThawWorkers({ connection, namespace: server.namespace, workflowBundle: await workflowBundle(), ...options });
  return {
    ...running,
    async close() {
      running.shutdown();
      await running.done;
      await connection.close();
    },
  };
}

/**
 * `thaw worker` as a separate process, in its own process group so that a test can kill it together with its
 * training child (as when a machine dies). Resolves once the worker polls.
 */
export async function spawnWorker(server: DevServer, args: string[] = ['--queues', 'gpu']): Promise<ChildProcess & { output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'lib/cli/main.ts'), 'worker', ...args], {
    cwd: REPO,
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 120_000;
  while (!output.includes('thaw worker (process')) {
    if (child.exitCode !== null) throw new Error(`thaw worker exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`thaw worker did not start:\n${output}`);
    await sleep(100);
  }
  return Object.assign(child, { output: () => output });
}

/** Kills a spawned worker's whole process group and waits for the worker to be gone. */
export async function killGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
  process.kill(-child.pid!, signal);
  await exited;
}

/** Polls the status query until `ok` holds (or fails after `timeoutMs`). */
export async function waitForStatus(handle: PipelineHandle, ok: (s: PipelineStatus) => boolean, timeoutMs = 120_000): Promise<PipelineStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: PipelineStatus | null = null;
  while (Date.now() < deadline) {
    last = await queryStatus(handle, 5000);
    if (last && ok(last)) return last;
    await sleep(200);
  }
  throw new Error(`status condition not reached in ${timeoutMs} ms; last status: ${JSON.stringify(last)}`);
}

/** Runs the thaw CLI from sources; resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'lib/cli/main.ts'), ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
