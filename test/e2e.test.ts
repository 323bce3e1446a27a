/**
 * thaw end to end with real processes: the CLI on the demo pipeline (TensorFlow for Python reads the result), a worker
 * SIGKILLed mid-stage (another takes over, bit-identical to an uninterrupted run), SIGTERM mid-stage (a checkpoint at
 * that iteration, nothing trained twice), the dev server killed and restarted on its SQLite file, and a refused
 * pipeline failing fast.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { handleOf } from '../app/client/runs';
import { startPipeline } from '../app/client/start';
import { loadPipeline } from '../lib/pipeline/load';
import { startDevServer } from '../app/server/dev-server';
import { freePort } from '../app/server/free-port';
import { runPython } from './helpers/python';
import { startTestServer } from './helpers/temporal';
import { adamSteps, assertBitIdenticalAfterTakeover, assertSameCheckpoints, connectClient, SLOW_STAGE_DATA as SLOW, inProcessWorkers, killGroup, killWorkerAndTakeOver, REPO, runCli, spawnWorker, tempDir, waitForStatus, waitUntilTraining, writePipeline } from './e2e-harness';
import { backgroundPid, exitWithin, killOnExit, startThaw } from './helpers/cli';

function losses(modelDir: string, stage: string): Array<{ iteration: number; loss: number }> {
  return readFileSync(path.join(modelDir, 'logs', `${stage}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('thaw run on the demo pipeline: trains on the graph engine by default, every stage checkpointed, TensorFlow lists them, task-B loss falls; running again attaches', async () => {
  const dir = tempDir('e2e-demo');
  const file = path.join(dir, 'demo.yaml');
  // The demo exactly as shipped, except where its checkpoints go.
  writeFileSync(file, readFileSync(path.join(REPO, 'pipelines/demo.yaml'), 'utf8').replace('model_dir: ../runs/demo', 'model_dir: ./run'));
  const env = { THAW_STATE_DIR: path.join(dir, '.thaw') };
  const run = await runCli(['run', file], env);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, /Pipeline demo completed\./);
  assert.match(run.stdout, /stage\s+iterations\s+final loss/);
  const modelDir = path.join(dir, 'run');
  assert.match(run.stdout, new RegExp(`loss curve:\\s+${path.join(modelDir, 'loss.svg')}`));

  const ends = { pretrain: 100, head: 140, res_3: 180, all: 220 };
  const prefixes = Object.values(ends).map((n) => path.join(modelDir, 'models', `model.ckpt-${n}`));
  const spec = path.join(dir, 'spec.json');
  writeFileSync(spec, JSON.stringify({ prefixes, latest: [path.join(modelDir, 'models')] }));
  const tf = JSON.parse(await runPython('ckpt_tf_read.py', [spec])) as {
    dumps: Record<string, { variables: Array<{ name: string }> }>;
    latest: Record<string, string>;
  };
  for (const prefix of prefixes) {
    const names = tf.dumps[prefix].variables.map((v) => v.name);
    assert.ok(names.includes('HighRes3DNet/conv_2_bn/conv_/w') && names.includes('ApplyGradients/beta1_power'), `${prefix}: ${names.join(' ')}`);
  }
  assert.equal(tf.latest[path.join(modelDir, 'models')], prefixes[3]);
  for (const prefix of prefixes) assert.equal((JSON.parse(readFileSync(`${prefix}.thaw.json`, 'utf8')) as { engine: string }).engine, 'graph', prefix);

  const firstB = mean(losses(modelDir, 'head').slice(0, 10).map((e) => e.loss));
  const lastB = mean(losses(modelDir, 'all').slice(-10).map((e) => e.loss));
  assert.ok(lastB < firstB, `task-B loss should fall: first 10 of head ${firstB}, last 10 of all ${lastB}`);

  const again = await runCli(['run', file], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr + again.stdout, /already completed/);
  const status = await runCli(['status', file, '--json'], env);
  assert.equal(status.code, 0, status.stderr);
  const view = JSON.parse(status.stdout) as { execution: string; result: { stages: unknown[] } };
  assert.equal(view.execution, 'COMPLETED');
  assert.equal(view.result.stages.length, 4);
  const list = await runCli(['list'], env);
  assert.match(list.stdout, /thaw-demo-\w+\s+completed/);
});

test('a refused pipeline fails fast through the CLI with the message, and no training starts', async () => {
  const dir = tempDir('e2e-refused');
  const file = writePipeline(dir, 'frozen', `  - {name: only, iterations: 5, vars_to_freeze: '.*'}\n`);
  const env = { THAW_STATE_DIR: path.join(dir, '.thaw') };
  const run = await runCli(['run', file], env);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /preflight refused the pipeline .*frozen\.yaml/);
  assert.match(run.stderr, /stage "only": stages\[0\]\.vars_to_freeze: the stage trains nothing/);
  assert.equal(existsSync(path.join(dir, 'frozen', 'models')), false);
  const wait = await runCli(['wait', file], env);
  assert.equal(wait.code, 1, wait.stdout + wait.stderr);
  assert.match(wait.stderr, /thaw wait: run thaw-frozen-\w+ did not complete: preflight refused the pipeline/);
});

test('SIGKILL of a worker mid-stage: another worker resumes, the result is bit-identical to an uninterrupted run', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir('e2e-kill');
  // Long enough that the kill (a progress report or two after iteration 30) lands mid-stage.
  const stages = `  - {name: first, iterations: 600, save_every_n: 15, ${SLOW}}\n  - {name: second, iterations: 20, data: {task: B}}\n`;
  const killed = await loadPipeline(writePipeline(dir, 'killed', stages));
  const reference = await loadPipeline(writePipeline(dir, 'reference', stages));
  const takeover = await killWorkerAndTakeOver(t, server, { killed, reference, killAtIteration: 30 });
  await assertBitIdenticalAfterTakeover(takeover);
});

test('SIGTERM to a worker mid-stage: a checkpoint at that iteration, and after resume no iteration is trained twice', async (t) => {
  const server = await startTestServer(t);
  const dir = tempDir('e2e-term');
  const plan = await loadPipeline(writePipeline(dir, 'preempted', `  - {name: only, iterations: 400, save_every_n: 1000, ${SLOW}}\n`));
  const { client, close } = await connectClient(server);
  const cpu = await inProcessWorkers(server, { queues: ['cpu'] });
  t.after(async () => {
    await cpu.close();
    await close();
  });
  const first = await spawnWorker(server);
  const { handle } = await startPipeline(client, plan);
  await waitForStatus(handle, (s) => (s.stages[0].iteration ?? 0) >= 20);
  const exited = new Promise((r) => first.once('exit', r));
  process.kill(first.pid!, 'SIGTERM');
  await exited;
  const models = path.join(plan.model_dir, 'models');
  const saved = readdirSync(models).filter((f) => f.endsWith('.index')).map((f) => Number(/ckpt-(\d+)/.exec(f)![1]));
  assert.equal(saved.length, 1, `one emergency checkpoint: ${saved.join(',')}`);
  const stoppedAt = saved[0];
  assert.ok(stoppedAt >= 20 && stoppedAt < 400, `stopped at ${stoppedAt}`);
  assert.deepEqual(losses(plan.model_dir, 'only').map((e) => e.iteration), Array.from({ length: stoppedAt }, (_, i) => i));

  const second = await spawnWorker(server);
  t.after(() => killGroup(second, 'SIGTERM'));
  const result = await handle.result();
  assert.equal(result.stages[0].resumedFrom, stoppedAt);
  assert.deepEqual(losses(plan.model_dir, 'only').map((e) => e.iteration), Array.from({ length: 400 }, (_, i) => i));
  // Counted apart from the log, which a resume truncates: the optimiser took one step per iteration, no more.
  assert.equal(await adamSteps(path.join(models, `model.ckpt-${stoppedAt}`)), stoppedAt);
  assert.equal(await adamSteps(result.stages[0].checkpoint), 400);
});

test('the dev server killed and restarted on the same SQLite file mid-pipeline: the pipeline completes, bit-identical to an uninterrupted run', async (t) => {
  const dir = tempDir('e2e-server');
  const dbFile = path.join(dir, 'temporal.sqlite');
  const port = await freePort();
  let server = await startDevServer({ dbFile, port });
  t.after(() => server.stop());
  const stages = `  - {name: a, iterations: 300, save_every_n: 10, ${SLOW}}\n  - {name: b, iterations: 20}\n`;
  const plan = await loadPipeline(writePipeline(dir, 'outage', stages));
  const workers = await inProcessWorkers(server);
  t.after(() => workers.close());
  let conn = await connectClient(server);
  // The reference first, alone: the outage below cannot touch it.
  const reference = await (await startPipeline(conn.client, await loadPipeline(writePipeline(dir, 'calm', stages)))).handle.result();
  assert.deepEqual(reference.stages.map((s) => s.attempts), [1, 1]);
  const { workflowId, handle } = await startPipeline(conn.client, plan);
  await waitForStatus(handle, (s) => (s.stages[0].iteration ?? 0) >= 15);
  process.kill(server.pid, 'SIGKILL');
  await conn.close();
  await sleep(2000);
  server = await startDevServer({ dbFile, port });
  conn = await connectClient(server);
  t.after(() => conn.close());
  const result = await handleOf(conn.client, workflowId).result();
  assert.deepEqual(result.stages.map((s) => [s.stage, s.endIteration]), [['a', 300], ['b', 320]]);
  assert.ok(existsSync(path.join(plan.model_dir, 'models', 'model.ckpt-320.index')));
  await assertSameCheckpoints(result, reference);
});

test('Ctrl-C in thaw run checkpoints and detaches; running it again resumes; --detach and thaw wait', async (t) => {
  const dir = tempDir('e2e-ctrlc');
  const file = writePipeline(dir, 'interrupted', `  - {name: only, iterations: 400, save_every_n: 1000, ${SLOW}}\n`);
  const env = { THAW_STATE_DIR: path.join(dir, '.thaw') };
  const run = startThaw(t, ['run', file], env);
  await waitUntilTraining(file, env.THAW_STATE_DIR, run, 10);
  run.child.kill('SIGINT');
  assert.equal(await exitWithin(run, 'after Ctrl-C'), 130, run.output());
  assert.match(run.output(), /Detached\. Nothing is lost: run `thaw run .*interrupted\.yaml` again/);
  const saved = readdirSync(path.join(dir, 'interrupted', 'models')).filter((f) => f.endsWith('.index'));
  assert.equal(saved.length, 1, saved.join(','));
  const stoppedAt = Number(/ckpt-(\d+)/.exec(saved[0])![1]);

  const detached = await runCli(['run', file, '--detach'], env);
  assert.equal(detached.code, 0, detached.stderr);
  const runId = detached.stdout.trim();
  assert.match(runId, /^thaw-interrupted-\w+$/);
  killOnExit(backgroundPid(detached));
  const waited = await runCli(['wait', runId, '--json'], env);
  assert.equal(waited.code, 0, waited.stderr);
  const result = JSON.parse(waited.stdout) as { stages: Array<{ resumedFrom: number; endIteration: number; checkpoint: string }> };
  assert.deepEqual([result.stages[0].resumedFrom, result.stages[0].endIteration], [stoppedAt, 400]);
  assert.equal(await adamSteps(path.join(dir, 'interrupted', 'models', saved[0].replace(/\.index$/, ''))), stoppedAt);
  assert.equal(await adamSteps(result.stages[0].checkpoint), 400, 'one optimiser step per iteration across the Ctrl-C');
});
