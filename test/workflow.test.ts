/**
 * The runPipeline workflow against a real dev server, real workers in this process and real (tiny) training:
 * DAG order and branch folders, the per-stage result, preflight refusals, pause/resume, stage edits validated by
 * preflight, continue-as-new. Saves the histories of these runs for the replay test when THAW_SAVE_HISTORIES=1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { startPipeline, type PipelineHandle } from '../app/client/start';
import { listIterations } from '../lib/checkpoint';
import { loadPipeline } from '../lib/pipeline/load';
import { LOCK_FILE } from '../lib/storage/lock';
import { editStageUpdate, pauseUpdate, resumeUpdate, statusQuery } from '../contract';
import { nibabel } from './helpers/python';
import { adamSteps, serverForTestFile, SLOW_STAGE_DATA as SLOW, tempDir, waitForStatus, writePipeline } from './e2e-harness';

const dir = tempDir('workflow');
const { client, start } = serverForTestFile(dir);

async function saveHistory(handle: PipelineHandle, name: string): Promise<void> {
  if (!process.env.THAW_SAVE_HISTORIES) return;
  const history = await handle.fetchHistory();
  writeFileSync(path.join(__dirname, 'histories', `${name}.json`), JSON.stringify(history));
}

function lossLog(modelDir: string, stage: string): Array<{ iteration: number; loss: number }> {
  return readFileSync(path.join(modelDir, 'logs', `${stage}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('stages run in DAG order, a fork runs its branches in their own folders, the result lists every stage', async () => {
  const file = writePipeline(dir, 'dag', `  - {name: base, iterations: 6}
  - {name: left, after: base, iterations: 4, data: {task: B}}
  - {name: left2, after: left, iterations: 3}
  - {name: right, after: base, iterations: 5, vars_to_freeze: '^((?!conv_output).)*$'}
`);
  const handle = await start(file);
  const result = await handle.result();
  const root = path.join(dir, 'dag');
  assert.deepEqual(
    result.stages.map((s) => [s.stage, s.startIteration, s.endIteration, s.iterations, s.attempts, s.checkpoint]),
    [
      ['base', 0, 6, 6, 1, path.join(root, 'models/model.ckpt-6')],
      ['left', 6, 10, 4, 1, path.join(root, 'branches/left/models/model.ckpt-10')],
      ['left2', 10, 13, 3, 1, path.join(root, 'branches/left/models/model.ckpt-13')],
      ['right', 6, 11, 5, 1, path.join(root, 'branches/right/models/model.ckpt-11')],
    ],
  );
  for (const s of result.stages) {
    assert.ok(existsSync(`${s.checkpoint}.index`), s.checkpoint);
    assert.ok(Number.isFinite(s.finalLoss) && s.trainSeconds > 0 && s.wallSeconds >= s.trainSeconds, JSON.stringify(s));
  }
  assert.equal(result.lossCurve, path.join(root, 'loss.svg'));
  assert.match(readFileSync(result.lossCurve!, 'utf8'), /left2/);
  const status = await handle.query(statusQuery);
  assert.equal(status.state, 'completed');
  assert.deepEqual(status.stages.map((s) => s.state), ['done', 'done', 'done', 'done']);
  await saveHistory(handle, 'dag');
});

test('a pipeline that preflight refuses fails fast with the message and trains nothing', async () => {
  const file = writePipeline(dir, 'refused', `  - {name: only, iterations: 5, vars_to_freeze: '.*'}\n`);
  const handle = await start(file);
  await assert.rejects(handle.result(), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as { type?: string; message: string; nonRetryable?: boolean };
    assert.equal(cause.type, 'PreflightRefused');
    assert.match(cause.message, /preflight refused the pipeline .*refused\.yaml/);
    assert.match(cause.message, /stage "only"/);
    return true;
  });
  assert.equal(existsSync(path.join(dir, 'refused', 'models')), false);
  const history = await handle.fetchHistory();
  const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
  assert.deepEqual(scheduled, ['preflight']);
  await saveHistory(handle, 'refused');
});

test('pause checkpoints the running stage where it is; resume continues from there and nothing is trained twice', async () => {
  const file = writePipeline(dir, 'pausing', `  - {name: long, iterations: 250, save_every_n: 1000, ${SLOW}}\n  - {name: next, iterations: 3}\n`);
  const handle = await start(file);
  await waitForStatus(handle, (s) => (s.stages[0].iteration ?? 0) >= 5);
  const paused = await handle.executeUpdate(pauseUpdate);
  assert.equal(paused.state, 'paused');
  assert.equal(paused.stages[0].state, 'paused');
  const stoppedAt = paused.stages[0].iteration!;
  assert.ok(stoppedAt > 0 && stoppedAt < 250, `stopped at ${stoppedAt}`);
  assert.equal(paused.stages[0].checkpoint, path.join(dir, 'pausing', `models/model.ckpt-${stoppedAt}`));
  assert.ok(existsSync(`${paused.stages[0].checkpoint}.index`));

  const resumed = await handle.executeUpdate(resumeUpdate);
  assert.notEqual(resumed.state, 'paused');
  const result = await handle.result();
  assert.equal(result.stages[0].endIteration, 250);
  assert.equal(result.stages[0].attempts, 2);
  assert.equal(result.stages[0].resumedFrom, stoppedAt);
  const iterations = lossLog(path.join(dir, 'pausing'), 'long').map((e) => e.iteration);
  assert.deepEqual(iterations, Array.from({ length: 250 }, (_, i) => i), 'every iteration logged exactly once');
  assert.equal(await adamSteps(paused.stages[0].checkpoint!), stoppedAt, 'the pause checkpoint holds one optimiser step per iteration');
  assert.equal(await adamSteps(result.stages[0].checkpoint), 250, 'and so does the end of the stage, counted apart from the log');
  await saveHistory(handle, 'pause-resume');
});

test('a stage that has not started can change lr or vars_to_freeze; preflight refuses a bad change; started stages cannot change', async () => {
  const file = writePipeline(dir, 'editing', `  - {name: first, iterations: 400, save_every_n: 1000, ${SLOW}}\n  - {name: second, iterations: 4}\n`);
  const handle = await start(file);
  await waitForStatus(handle, (s) => s.stages[0].state === 'running');

  await assert.rejects(handle.executeUpdate(editStageUpdate, { args: [{ stage: 'first', lr: 0.5 }] }), (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError);
    assert.match(String((err.cause as Error).message), /stage "first" is running: only stages that have not started can change/);
    return true;
  });
  await assert.rejects(handle.executeUpdate(editStageUpdate, { args: [{ stage: 'second', vars_to_freeze: '.*' }] }), (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError);
    assert.match(String((err.cause as Error).message), /preflight refused the change of stage second/);
    return true;
  });
  await assert.rejects(handle.executeUpdate(editStageUpdate, { args: [{ stage: 'nope', lr: 1 }] }), (err: unknown) => {
    assert.match(String(((err as Error).cause as Error).message), /no stage is named "nope": stages are first, second/);
    return true;
  });

  const accepted = await handle.executeUpdate(editStageUpdate, { args: [{ stage: 'second', lr: 0.002, vars_to_freeze: ['^((?!conv_output).)*$'] }] });
  assert.deepEqual(accepted.edits, [{ stage: 'second', lr: 0.002, vars_to_freeze: ['^((?!conv_output).)*$'] }]);
  const result = await handle.result();
  const sidecar = JSON.parse(readFileSync(`${result.stages[1].checkpoint}.thaw.json`, 'utf8')) as { settings: { lr: number }; trained: string[] };
  assert.equal(sidecar.settings.lr, 0.002);
  assert.deepEqual(sidecar.trained.sort(), ['ToyNet/conv_output_bn/bn_/beta', 'ToyNet/conv_output_bn/bn_/gamma', 'ToyNet/conv_output_bn/conv_/w']);
  await saveHistory(handle, 'edit');
});

test('continue-as-new carries completed stages and the result still lists them all', async () => {
  const file = writePipeline(dir, 'renewed', `  - {name: s1, iterations: 2}\n  - {name: s2, iterations: 2}\n  - {name: s3, iterations: 2}\n`);
  const handle = await start(file, { continueAsNewAfterEvents: 15 });
  const result = await handle.result();
  assert.deepEqual(result.stages.map((s) => [s.stage, s.endIteration]), [['s1', 2], ['s2', 4], ['s3', 6]]);
  const status = await handle.query(statusQuery);
  assert.ok(status.continuedAsNew >= 1, `continued as new ${status.continuedAsNew} times`);
  assert.ok(readdirSync(path.join(dir, 'renewed', 'models')).some((f) => f === 'model.ckpt-6.index'));
});

test('a cancelled run checkpoints its running stage; starting the pipeline again resumes it instead of starting over', async () => {
  // Long enough (~10 s on the graph engine) that the cancellation lands mid-stage even on a fast machine.
  const file = writePipeline(dir, 'restarted', `  - {name: only, iterations: 1000, save_every_n: 100000, ${SLOW}}\n`);
  const plan = await loadPipeline(file);
  const first = await startPipeline(client(), plan);
  await waitForStatus(first.handle, (s) => (s.stages[0].iteration ?? 0) >= 5);
  await first.handle.cancel();
  await assert.rejects(first.handle.result(), /cancelled/i);
  // The run ends only once its stage has checkpointed and let go of the folder: nothing trains there any more.
  const atCancel = await listIterations(plan.model_dir);
  assert.equal(atCancel.length, 1, `one checkpoint, the stage's at its iteration, when the run has ended: [${atCancel}]`);
  assert.ok(atCancel[0] >= 5 && atCancel[0] < 1000, `checkpoint at ${atCancel[0]}`);
  assert.equal(existsSync(path.join(plan.model_dir, LOCK_FILE)), false, 'the training lock is released');
  const again = await startPipeline(client(), plan);
  assert.equal(again.attached, false);
  assert.equal(again.previousRun, 'CANCELLED');
  assert.equal(again.workflowId, first.workflowId);
  const result = await again.handle.result();
  assert.equal(result.stages[0].resumedFrom, atCancel[0], 'resumed from the checkpoint the cancellation wrote');
  assert.deepEqual(lossLog(plan.model_dir, 'only').map((e) => e.iteration), Array.from({ length: 1000 }, (_, i) => i));
  assert.equal(await adamSteps(result.stages[0].checkpoint), 1000, 'one optimiser step per iteration across the cancellation');
  const attached = await startPipeline(client(), plan);
  assert.equal(attached.completedBefore, true);
});

test('a failed run started again keeps its finished stage and trains the failed one once its cause is fixed', async () => {
  // b fails on files that are no NIfTI; the user replaces them (the YAML is unchanged) and starts the pipeline again.
  const scans = path.join(dir, 'fixable');
  mkdirSync(scans, { recursive: true });
  const pair = { image: path.join(scans, 'case.nii'), label: path.join(scans, 'case_seg.nii') };
  for (const f of Object.values(pair)) writeFileSync(f, 'not a NIfTI file\n');
  const file = writePipeline(dir, 'refail', `  - {name: a, iterations: 4}\n  - {name: b, iterations: 3, data: {kind: nifti, images: 'fixable/*.nii', label_suffix: _seg, spatial_size: [8, 8]}}\n`);
  const plan = await loadPipeline(file);
  const first = await startPipeline(client(), plan);
  await assert.rejects(first.handle.result(), (err: WorkflowFailedError) => /stage b: DataError: .*fixable\/case\.nii/.test((err.cause as Error).message));
  const aCheckpoint = path.join(plan.model_dir, 'models', 'model.ckpt-4');
  const aBytes = ['index', 'data-00000-of-00001'].map((ext) => readFileSync(`${aCheckpoint}.${ext}`));

  await nibabel([{ kind: 'write_pair', ...pair, shape: [12, 12, 1], classes: 2 }]);
  const again = await startPipeline(client(), plan);
  assert.equal(again.attached, false);
  assert.equal(again.previousRun, 'FAILED');
  const result = await again.handle.result();
  assert.deepEqual(
    result.stages.map((s) => [s.stage, s.startIteration, s.endIteration, s.resumedFrom, s.checkpoint]),
    [['a', 0, 4, 4, aCheckpoint], ['b', 4, 7, null, path.join(plan.model_dir, 'models', 'model.ckpt-7')]],
  );
  assert.deepEqual(['index', 'data-00000-of-00001'].map((ext) => readFileSync(`${aCheckpoint}.${ext}`)), aBytes, 'a is kept as it was, not trained again');
  assert.deepEqual(await listIterations(plan.model_dir), [4, 5, 7], 'a\'s end, b\'s periodic (save_every_n 5) and b\'s end');
});

test('a user error in training fails its stage at once (no retries), skips its children, and names the type', async () => {
  // Files that exist (preflight finds the pairs) but are no NIfTI: only training reads them.
  mkdirSync(path.join(dir, 'garbage'), { recursive: true });
  for (const f of ['case.nii', 'case_seg.nii']) writeFileSync(path.join(dir, 'garbage', f), 'not a NIfTI file\n');
  const file = writePipeline(dir, 'nodata', `  - {name: a, iterations: 3, data: {kind: nifti, images: 'garbage/*.nii', label_suffix: _seg, spatial_size: [8, 8]}}\n  - {name: b, iterations: 3}\n`);
  const handle = await start(file);
  await assert.rejects(handle.result(), (err: unknown) => {
    const cause = (err as WorkflowFailedError).cause as { type?: string; message: string };
    assert.equal(cause.type, 'StageFailed');
    assert.match(cause.message, /pipeline nodata failed:\n {2}stage a: DataError: .*garbage\/case\.nii/);
    return true;
  });
  const status = await handle.query(statusQuery);
  assert.deepEqual(status.stages.map((s) => [s.name, s.state, s.attempts]), [['a', 'failed', 1], ['b', 'skipped', 0]]);
});
