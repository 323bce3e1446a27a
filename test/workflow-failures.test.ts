/**
 * Nothing retries forever and cancel always ends a run, against a real dev server, real workers and real training:
 * a folder that turns out unwritable only when a stage writes to it fails that stage at its first attempt (a user
 * error, not retried); a loss curve that cannot be written is tried once and does not fail the run; a cancelled run
 * ends even when its training never started and its finishing step fails.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { writingInto } from '../activities/failures';
import type { PipelineHandle } from '../app/client/start';
import { statusQuery } from '../contract';
import { serverForTestFile, tempDir, waitForStatus, writePipeline } from './e2e-harness';

const dir = tempDir('workflow-failures');
const { start } = serverForTestFile(dir);

/** Attempts the server recorded for each activity type (ActivityTaskStarted events carry the attempt number). */
async function attempts(handle: PipelineHandle): Promise<Record<string, number[]>> {
  const events = (await handle.fetchHistory()).events ?? [];
  const typeOf = new Map<string, string>();
  const out: Record<string, number[]> = {};
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType!.name!);
    const started = e.activityTaskStartedEventAttributes;
    if (started) (out[typeOf.get(String(started.scheduledEventId))!] ??= []).push(started.attempt!);
  }
  return out;
}

test('branch folders that cannot be created fail their stages at the first attempt (a user error, not retried)', { timeout: 180_000 }, async () => {
  const file = writePipeline(dir, 'blocked', `  - {name: base, iterations: 2}\n  - {name: left, after: base, iterations: 2}\n  - {name: right, after: base, iterations: 2}\n`);
  // Preflight checks model_dir itself, which is fine; `branches` (where left and right write) is a file.
  mkdirSync(path.join(dir, 'blocked'), { recursive: true });
  writeFileSync(path.join(dir, 'blocked', 'branches'), 'not a folder\n');
  const handle = await start(file);
  await assert.rejects(handle.result(), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as { type?: string; message: string };
    assert.equal(cause.type, 'StageFailed');
    assert.match(cause.message, /stage left: ModelDirUnusable: .*blocked\/branches\/left cannot be created: .*blocked\/branches is a file, not a folder/);
    return true;
  });
  const status = await handle.query(statusQuery);
  assert.deepEqual(status.stages.map((s) => [s.name, s.state]), [['base', 'done'], ['left', 'failed'], ['right', 'failed']]);
  assert.deepEqual((await attempts(handle)).trainStage.sort(), [1, 1, 1], 'each stage ran once: nothing retried');
});

test('a loss curve that cannot be written is tried once, and the run still completes', { timeout: 180_000 }, async () => {
  const file = writePipeline(dir, 'nocurve', `  - {name: only, iterations: 2}\n`);
  mkdirSync(path.join(dir, 'nocurve', 'loss.svg'), { recursive: true });
  const handle = await start(file);
  const result = await handle.result();
  assert.equal(result.lossCurve, null);
  assert.deepEqual((await attempts(handle)).finishPipeline, [1]);
});

test('cancel ends a run whose training never started and whose finishing step fails', { timeout: 180_000 }, async () => {
  const file = writePipeline(dir, 'stranded', `  - {name: only, iterations: 2}\n`);
  mkdirSync(path.join(dir, 'stranded', 'loss.svg'), { recursive: true });
  // No worker polls this training queue: the stage stays scheduled.
  const handle = await start(file, { gpuTaskQueue: 'thaw-gpu-nobody-polls' });
  await waitForStatus(handle, (s) => s.stages[0].state === 'running');
  await handle.cancel();
  const deadline = Date.now() + 120_000;
  let execution = (await handle.describe()).status.name;
  while (execution === 'RUNNING' && Date.now() < deadline) {
    await sleep(200);
    execution = (await handle.describe()).status.name;
  }
  assert.equal(execution, 'CANCELLED');
  assert.deepEqual((await attempts(handle)).finishPipeline, [1], 'the finishing step was tried once, not retried');
});

test('a stage folder with a NUL byte, or that is a file, is a user error of the activity, not a retried one', async () => {
  const file = path.join(dir, 'a-file');
  writeFileSync(file, '');
  for (const [folder, message] of [
    [path.join(dir, 'nul\0byte'), /nul\0byte cannot be written \(ERR_INVALID_ARG_VALUE\)/],
    [file, /a-file is a file, not a folder/],
  ] as const) {
    await assert.rejects(writingInto(folder, async () => 'never'), (err: unknown) => {
      const failure = err as ApplicationFailure;
      assert.ok(failure instanceof ApplicationFailure, String(err));
      assert.equal(failure.type, 'ModelDirUnusable');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, message);
      return true;
    });
  }
});
