/**
 * `thaw run` as a process a user starts and stops (issue 15): the embedded dev server dies with its owner (SIGKILL,
 * a second Ctrl-C), the terminal shows only thaw's own lines (a user error, a Ctrl-C), two runs on one model_dir are
 * not both trained, and a completed run is checked against the disk (`--restart` trains it again). Real processes,
 * real dev servers, real files; every wait is a poll with a generous deadline.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { workflowIdFor } from '../app/client/ids';
import { loadPipeline } from '../lib/pipeline/load';
import { openCluster } from '../app/client/cluster';
import type { PipelineResult } from '../contract';
import { adamSteps, runCli, SLOW_STAGE_DATA, tempDir, waitUntilTraining, writePipeline } from './e2e-harness';
import { exitWithin, RUNNING_DEADLINE_MS as DEADLINE_MS, startThaw } from './helpers/cli';


/** What a terminal must not show: the SDK's log lines, JS stack frames, gRPC retry noise. */
const NOISE = [/\[(WARN|ERROR|INFO)\]/, /^\s+at .+\(.+:\d+:\d+\)$/m, /Connection refused/i, /Workflow failed/];

function assertQuiet(output: string): void {
  for (const re of NOISE) assert.doesNotMatch(output, re, `the terminal shows SDK noise:\n${output}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (isAlive(pid)) {
    assert.ok(Date.now() < deadline, `${what} (process ${pid}) still alive after ${DEADLINE_MS} ms`);
    await sleep(100);
  }
}

/** The dev server's pid and, on Linux, its supervisor's, from the database's server record and /proc. */
function serverProcesses(stateDir: string): number[] {
  const { serverPid } = JSON.parse(readFileSync(path.join(stateDir, 'temporal.sqlite.server.json'), 'utf8')) as { serverPid: number };
  const pids = [serverPid];
  try {
    pids.push(Number(readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1].split(' ')[1]));
  } catch {
    // not Linux: the server's pid is what matters
  }
  return pids;
}

const LONG_STAGE = `  - {name: only, iterations: 1000000, save_every_n: 100000}\n`;

/** `thaw run` of a long one-stage pipeline in a fresh folder, once it trains: the run and its server's processes. */
async function trainingThawRun(t: TestContext, tag: string, name: string) {
  const dir = tempDir(tag);
  const file = writePipeline(dir, name, LONG_STAGE);
  const stateDir = path.join(dir, '.thaw');
  const run = startThaw(t, ['run', file], { THAW_STATE_DIR: stateDir });
  await waitUntilTraining(file, stateDir, run, 5);
  return { dir, file, stateDir, run, pids: serverProcesses(stateDir) };
}

test('SIGKILL of thaw run: its dev server (and the server\'s supervisor) die with it', { timeout: 300_000 }, async (t) => {
  const { run, pids } = await trainingThawRun(t, 'life-kill', 'killed');
  run.child.kill('SIGKILL');
  await run.exited;
  for (const pid of pids) await waitUntilGone(pid, 'the dev server of a SIGKILLed thaw run');
});

test('Ctrl-C twice: thaw run quits at once with its own lines and takes its dev server with it', { timeout: 300_000 }, async (t) => {
  const { run, pids } = await trainingThawRun(t, 'life-twice', 'twice');
  run.child.kill('SIGINT');
  const deadline = Date.now() + DEADLINE_MS;
  while (!/Ctrl-C again to quit at once/.test(run.output())) {
    assert.ok(Date.now() < deadline, `no stopping line after the first Ctrl-C:\n${run.output()}`);
    await sleep(50);
  }
  run.child.kill('SIGINT');
  const code = await exitWithin(run, 'after the second Ctrl-C');
  assert.equal(code, 130, run.output());
  for (const pid of pids) await waitUntilGone(pid, 'the dev server after a second Ctrl-C');
  assertQuiet(run.output());
});

test('Ctrl-C once: the running stage checkpoints, thaw exits with its own lines only, no SDK noise', { timeout: 300_000 }, async (t) => {
  const { stateDir, run, pids } = await trainingThawRun(t, 'life-ctrlc', 'stopped');
  run.child.kill('SIGINT');
  const code = await exitWithin(run, 'after Ctrl-C');
  assert.equal(code, 130, run.output());
  assert.match(run.output(), /stage only: stopped at iteration \d+, checkpoint .*model\.ckpt-\d+/);
  assert.match(run.output(), /Detached\. Nothing is lost/);
  assertQuiet(run.output());
  for (const pid of pids) await waitUntilGone(pid, 'the dev server after Ctrl-C');
  // What the terminal did not show is in the run's log file.
  const logs = readdirSync(stateDir).filter((f) => /^thaw-stopped-\w+\.log$/.test(f));
  assert.equal(logs.length, 1, readdirSync(stateDir).join(' '));
  assert.match(readFileSync(path.join(stateDir, logs[0]), 'utf8'), /\[INFO\] Worker state changed/);
});

test('a run that fails for a user error prints thaw\'s lines and no SDK warning or stack', { timeout: 300_000 }, async () => {
  const dir = tempDir('life-usererr');
  const file = writePipeline(dir, 'isfile', `  - {name: only, iterations: 5}\n`);
  writeFileSync(path.join(dir, 'isfile'), 'not a folder');
  const run = await runCli(['run', file], { THAW_STATE_DIR: path.join(dir, '.thaw') });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /thaw run: pipeline isfile did not complete: .*is a file, not a folder/s);
  assertQuiet(run.stdout + run.stderr);
});

test('two thaw runs on one model_dir (two folders, two servers, two pipelines): the second is refused, naming the holder', { timeout: 300_000 }, async (t) => {
  const dir = tempDir('life-lock');
  mkdirSync(path.join(dir, 'a'));
  mkdirSync(path.join(dir, 'b'));
  const shared = path.join(dir, 'shared-model');
  const first = writePipeline(path.join(dir, 'a'), 'first', LONG_STAGE);
  writeFileSync(first, readFileSync(first, 'utf8').replace('model_dir: ./first', `model_dir: ${shared}`));
  const second = writePipeline(path.join(dir, 'b'), 'second', `  - {name: other, iterations: 50}\n`);
  writeFileSync(second, readFileSync(second, 'utf8').replace('model_dir: ./second', `model_dir: ${shared}`));
  const stateA = path.join(dir, 'a', '.thaw');
  const running = startThaw(t, ['run', first], { THAW_STATE_DIR: stateA });
  await waitUntilTraining(first, stateA, running, 5);
  const firstRun = workflowIdFor(await loadPipeline(first));

  const refused = await runCli(['run', second], { THAW_STATE_DIR: path.join(dir, 'b', '.thaw') });
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, new RegExp(`${shared.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is being trained by run ${firstRun} \\(stage only, process \\d+`));
  assert.match(refused.stderr, new RegExp(`thaw cancel ${firstRun}`));
  assertQuiet(refused.stdout + refused.stderr);
  const models = path.join(shared, 'models');
  assert.deepEqual(existsSync(models) ? readdirSync(models).filter((f) => f.includes('ckpt-50.')) : [], [], 'the second run trained nothing');
  assert.equal(existsSync(path.join(shared, 'logs', 'other.jsonl')), false, 'the second run trained nothing');

  // --restart of a run that is still going is refused, and leaves it going.
  const restart = await runCli(['run', first, '--restart'], { THAW_STATE_DIR: stateA });
  assert.equal(restart.code, 1, restart.stdout + restart.stderr);
  assert.match(restart.stderr, new RegExp(`run ${firstRun} is still running: --restart starts only a pipeline whose run has ended`));
  assert.equal(running.child.exitCode, null, 'the running run is untouched');

  running.child.kill('SIGINT');
  assert.equal(await exitWithin(running, 'after Ctrl-C'), 130, running.output());
  assert.equal(existsSync(path.join(shared, '.thaw-lock.json')), false, 'the first run released its lock');
});

test('a completed run whose checkpoints were deleted says so; --restart trains it again and keeps files thaw did not write', { timeout: 300_000 }, async () => {
  const dir = tempDir('life-restart');
  const file = writePipeline(dir, 'redo', `  - {name: only, iterations: 10}\n`);
  const env = { THAW_STATE_DIR: path.join(dir, '.thaw') };
  const modelDir = path.join(dir, 'redo');
  const done = await runCli(['run', file], env);
  assert.equal(done.code, 0, done.stdout + done.stderr);
  const checkpoint = path.join(modelDir, 'models', 'model.ckpt-10');

  rmSync(modelDir, { recursive: true });
  const gone = await runCli(['run', file], env);
  assert.equal(gone.code, 1, gone.stdout + gone.stderr);
  assert.match(gone.stderr, new RegExp(`completed, but its checkpoint ${checkpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} no longer exists`));
  assert.match(gone.stderr, /--restart/);
  assert.doesNotMatch(gone.stdout + gone.stderr, /already completed/);

  // Files of the user's in model_dir stay as they are.
  mkdirSync(path.join(modelDir, 'models'), { recursive: true });
  writeFileSync(path.join(modelDir, 'notes.txt'), 'mine');
  writeFileSync(path.join(modelDir, 'models', 'other.ckpt-3.index'), 'not thaw\'s');
  const again = await runCli(['run', file, '--restart'], env);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stderr + again.stdout, /started afresh \(--restart\)/);
  assert.ok(existsSync(`${checkpoint}.index`), 'trained again');
  assert.equal(readFileSync(path.join(modelDir, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(path.join(modelDir, 'models', 'other.ckpt-3.index'), 'utf8'), 'not thaw\'s');

  const shown = await runCli(['run', file], env);
  assert.equal(shown.code, 0, shown.stdout + shown.stderr);
  assert.match(shown.stderr + shown.stdout, /already completed/);
});

test('thaw cancel of a training run: the stage checkpoints where it is and the run ends cancelled; thaw run --json resumes it there, with its --heartbeat-timeout', { timeout: 400_000 }, async (t) => {
  const dir = tempDir('life-cancel');
  // 128² images: the stage is still training when the cancellation arrives.
  const file = writePipeline(dir, 'halted', `  - {name: only, iterations: 1500, save_every_n: 100000, ${SLOW_STAGE_DATA}}\n`);
  const stateDir = path.join(dir, '.thaw');
  const env = { THAW_STATE_DIR: stateDir };
  const running = startThaw(t, ['run', file, '--heartbeat-timeout', '7'], env);
  await waitUntilTraining(file, stateDir, running, 5);

  const cancel = await runCli(['cancel', file], env);
  assert.equal(cancel.code, 0, cancel.stdout + cancel.stderr);
  assert.match(cancel.stdout, /run thaw-halted-\w+ cancelled; `thaw run .*halted\.yaml` starts it again from its checkpoints/);
  assert.equal(await exitWithin(running, 'after thaw cancel'), 1, running.output());
  assert.match(running.output(), /thaw run: pipeline halted did not complete: .*cancel/i);
  const saved = readdirSync(path.join(dir, 'halted', 'models')).filter((f) => f.endsWith('.index'));
  assert.equal(saved.length, 1, `one checkpoint, written when the cancellation arrived: ${saved.join(', ')}`);
  const stoppedAt = Number(/ckpt-(\d+)\.index$/.exec(saved[0])![1]);
  assert.ok(stoppedAt >= 5 && stoppedAt < 1500, `stopped at ${stoppedAt}`);

  const again = await runCli(['run', file, '--json', '--heartbeat-timeout', '7'], env);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stderr, /started again after the previous run cancelled; stages resume from their checkpoints/);
  const result = JSON.parse(again.stdout) as PipelineResult;
  assert.deepEqual([result.stages[0].resumedFrom, result.stages[0].endIteration], [stoppedAt, 1500]);
  assert.equal(await adamSteps(result.stages[0].checkpoint), 1500, 'one optimiser step per iteration across the cancellation');

  // The heartbeat timeout reached Temporal: every training activity of both runs was scheduled with it.
  const workflowId = workflowIdFor(await loadPipeline(file));
  const cluster = await openCluster({ stateDir, purpose: 'inspect' });
  try {
    const runs: string[] = [];
    for await (const w of cluster.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w.runId);
    assert.equal(runs.length, 2, 'the cancelled run and the one that resumed it');
    for (const runId of runs) {
      const history = await cluster.client.workflow.getHandle(workflowId, runId).fetchHistory();
      const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a?.activityType?.name === 'trainStage');
      assert.ok(scheduled.length > 0, `run ${runId} scheduled its training`);
      for (const a of scheduled) assert.equal(Number(a!.heartbeatTimeout?.seconds), 7);
    }
  } finally {
    await cluster.close();
  }
});
