/**
 * Shared pieces of the workflow and end-to-end tests: pipelines written to temp folders, a workflow bundle built once
 * per process, thaw workers in this process or as separate `thaw worker` processes, and polling a run's status.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startPipeline, type PipelineHandle } from '../app/client/start';
import { CheckpointReader, listIterations, readSidecar } from '../lib/checkpoint';
import { BETA1_POWER, BETA2_POWER } from '../lib/training/optimizers/slot-names';
import { readSharedCluster } from '../app/client/cluster';
import { workflowIdFor } from '../app/client/ids';
import { handleOf, queryStatus } from '../app/client/runs';
import { loadPipeline } from '../lib/pipeline/load';
import type { Plan } from '../lib/pipeline/plan';
import { startDevServer, type DevServer } from '../app/server/dev-server';
import { workflowsPath } from '../plugin';
import { installTemporalLogLevel, startThawWorkers, type RunningWorkers, type ThawWorkerOptions } from '../worker';
import type { PipelineOptions, PipelineResult, PipelineStatus } from '../contract';
import { RUNNING_DEADLINE_MS, runCli, spawnThaw, type RunningThaw } from './helpers/cli';

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
network: {name: toynet, params: {hidden_features: 4}}
data: {kind: synthetic, task: A, spatial_size: [16, 16]}
seed: 5
backend: tensorflow
defaults: {batch_size: 2, save_every_n: 5, max_checkpoints: 3, lr: 0.01}
${extra}stages:
${stagesYaml}`,
  );
  return file;
}

/**
 * Stage data for stages that a test interrupts mid-way (pause, cancel, SIGTERM, SIGKILL, Ctrl-C): 128² images, ~10 ms
 * a step on the graph engine on 2 cores, so that the stage is still running when the signal arrives (the 16² toynet
 * above trains hundreds of steps a second there).
 */
export const SLOW_STAGE_DATA = 'data: {spatial_size: [128, 128]}';

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
 * A dev server on a SQLite file in `dir`, a client and thaw workers in this process (two trainings at once, progress
 * every 200 ms, training logs dropped): what the workflow tests share.
 */
export async function serverWithWorkers(dir: string): Promise<{ server: DevServer; client: Client; close: () => Promise<void> }> {
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite') });
  const c = await connectClient(server);
  const workers = await inProcessWorkers(server, { concurrency: 2, activities: { progressIntervalMs: 200, onTrainingLog: () => undefined } });
  return {
    server,
    client: c.client,
    async close() {
      await workers.close();
      await c.close();
      await server.stop();
    },
  };
}

/**
 * The server with workers a workflow test file shares: started before its first test, stopped after its last.
 * `start` starts a pipeline file on it; `client()` is its client once started.
 */
export function serverForTestFile(dir: string) {
  let running: Awaited<ReturnType<typeof serverWithWorkers>> | undefined;
  before(async () => {
    running = await serverWithWorkers(dir);
  });
  after(async () => running?.close());
  const client = (): Client => {
    if (!running) throw new Error('the server starts in before()');
    return running.client;
  };
  return {
    client,
    async start(file: string, options?: PipelineOptions): Promise<PipelineHandle> {
      return (await startPipeline(client(), await loadPipeline(file), { options })).handle;
    },
  };
}

/**
 * `thaw worker` as a separate process, in its own process group so that a test can kill it together with its
 * training child (as when a machine dies). Resolves once the worker polls.
 */
export async function spawnWorker(server: DevServer, args: string[] = ['--queues', 'gpu']): Promise<ChildProcess & { output: () => string }> {
  const child = spawnThaw(['worker', ...args], { env: { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace }, detached: true });
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

export { runCli };

const FLOAT32_MIN_NORMAL = 2 ** -126;

/**
 * The optimiser steps behind a checkpoint, counted apart from thaw's logs and results. TensorFlow's (TF1) Adam starts
 * beta1_power and beta2_power at β and multiplies each by β, in float32, after every step: so the stored powers are
 * exactly the float32 products for one number of steps, and a step applied twice after a resume, or skipped, shows.
 */
export async function adamSteps(prefix: string): Promise<number> {
  const sidecar = (await readSidecar(prefix)) as { settings?: { beta1: number; beta2: number } } | null;
  assert.ok(sidecar?.settings, `${prefix} has a sidecar with the optimiser's settings`);
  const { beta1, beta2 } = sidecar.settings;
  const reader = await CheckpointReader.open(prefix);
  let stored: number[];
  try {
    stored = await Promise.all([BETA1_POWER, BETA2_POWER].map(async (name) => Number((await reader.read(name)).data[0])));
  } finally {
    await reader.close();
  }
  // beta2_power counts (β2 = 0.999 stays far from float32's underflow); beta1_power must agree with it.
  const b1 = Math.fround(beta1);
  const b2 = Math.fround(beta2);
  let [p1, p2] = [b1, b2];
  for (let steps = 0; p2 >= stored[1]; steps++) {
    if (p2 === stored[1]) {
      // TensorFlow flushes float32 subnormals to zero (beta1_power reaches them after about 830 steps).
      const expected = p1 < FLOAT32_MIN_NORMAL && stored[0] === 0 ? 0 : p1;
      assert.equal(stored[0], expected, `${prefix}: beta1_power ${stored[0]} is not β1 to the power of ${steps} + 1 as beta2_power is`);
      return steps;
    }
    p1 = Math.fround(p1 * b1);
    p2 = Math.fround(p2 * b2);
  }
  assert.fail(`${prefix}: beta2_power ${stored[1]} is no float32 power of β2 ${beta2}: its steps were not applied one at a time`);
}

/** Waits until the run of `file`, started by `run` on the embedded server of `stateDir`, has trained `iteration` steps. */
export async function waitUntilTraining(file: string, stateDir: string, run: RunningThaw, iteration: number): Promise<void> {
  const deadline = Date.now() + RUNNING_DEADLINE_MS;
  let cluster = await readSharedCluster(stateDir);
  while (!cluster) {
    assert.ok(Date.now() < deadline && run.child.exitCode === null, `the server never came up; output:\n${run.output()}`);
    await sleep(200);
    cluster = await readSharedCluster(stateDir);
  }
  try {
    const plan = await loadPipeline(file);
    await waitForStatus(handleOf(cluster.client, workflowIdFor(plan)), (s) => (s.stages[0].iteration ?? 0) >= iteration, RUNNING_DEADLINE_MS);
  } finally {
    await cluster.close();
  }
}

export interface TakeoverScenario {
  /** The run whose gpu worker is SIGKILLed mid-stage, and a twin that runs first, alone and uninterrupted. */
  killed: Plan;
  reference: Plan;
  /** Kill once the first stage has reached this iteration. */
  killAtIteration: number;
  /** What happens between the kill and the second worker's start (e.g. the first machine's disk is lost). */
  betweenWorkers?: () => Promise<void> | void;
}

/** What a preemption did: the two results, and the newest checkpoint on disk right after the kill. */
export interface Takeover {
  result: PipelineResult;
  reference: PipelineResult;
  newestAtKill: number;
}

/**
 * A preemption. The reference runs first, alone, on the first gpu worker (so no kill can touch it); then the other
 * run starts there, the worker's process group is SIGKILLed mid-stage, and a second worker takes over. The caller
 * checks the results with assertBitIdenticalAfterTakeover.
 */
export async function killWorkerAndTakeOver(t: TestContext, server: DevServer, s: TakeoverScenario): Promise<Takeover> {
  const { client, close } = await connectClient(server);
  const cpu = await inProcessWorkers(server, { queues: ['cpu'] });
  t.after(async () => {
    await cpu.close();
    await close();
  });
  const first = await spawnWorker(server, ['--queues', 'gpu']);
  const options = { heartbeatTimeoutSeconds: 4 };
  const reference = await (await startPipeline(client, s.reference, { options })).handle.result();
  for (const stage of reference.stages) assert.equal(stage.attempts, 1, `the reference's stage ${stage.stage} ran in one attempt`);

  const run = await startPipeline(client, s.killed, { options });
  await waitForStatus(run.handle, (st) => (st.stages[0].iteration ?? 0) >= s.killAtIteration);
  await killGroup(first, 'SIGKILL');
  const newestAtKill = Math.max(0, ...(await listIterations(s.killed.model_dir)));
  t.diagnostic(`killed at iteration ≥ ${s.killAtIteration}; newest checkpoint then: ${newestAtKill}`);
  await s.betweenWorkers?.();
  const second = await spawnWorker(server, ['--queues', 'gpu']);
  t.after(() => killGroup(second, 'SIGTERM'));
  return { result: await run.handle.result(), reference, newestAtKill };
}

/**
 * The preempted run trained its first stage in two attempts, the second resumed from the newest checkpoint there was
 * when the first was killed (work since then is all that was lost), and every stage equals the reference's bit for bit.
 */
export async function assertBitIdenticalAfterTakeover({ result, reference, newestAtKill }: Takeover): Promise<void> {
  assert.equal(result.stages[0].attempts, 2);
  assert.ok(newestAtKill > 0, 'the kill came after the first periodic checkpoint');
  assert.equal(result.stages[0].resumedFrom, newestAtKill, 'resumed from the newest checkpoint at the kill');
  assert.equal(await adamSteps(result.stages[0].checkpoint), result.stages[0].endIteration, 'one optimiser step per iteration across the kill');
  await assertSameCheckpoints(result, reference);
}

/** Every stage of `result` ended with a checkpoint equal bit for bit (`thaw diff`) to the same stage of `reference`. */
export async function assertSameCheckpoints(result: PipelineResult, reference: PipelineResult): Promise<void> {
  assert.deepEqual(result.stages.map((s) => s.stage), reference.stages.map((s) => s.stage));
  for (const [i, stage] of result.stages.entries()) {
    const diff = await runCli(['diff', stage.checkpoint, reference.stages[i].checkpoint]);
    assert.equal(diff.code, 0, `${stage.stage}: ${diff.stdout}${diff.stderr}`);
  }
}
