/** The workflow's pure helpers: ETA over the DAG, stage edits and failure text (no server needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState } from '@temporalio/common';
import { FAILURE_TYPES } from '../contract';
import { failureMessage } from '../app/client/runs';
import { parsePipeline } from '../lib/pipeline/load';
import { applyEdit, validateEdit } from '../workflows/edits';
import { pipelineEtaSeconds } from '../workflows/eta';
import { failureText } from '../workflows/failure-text';

const plan = parsePipeline(
  `name: p
network: toynet
data: {kind: synthetic, task: A, spatial_size: [8, 8]}
stages:
  - {name: base, iterations: 100}
  - {name: slow, after: base, iterations: 300}
  - {name: fast, after: base, iterations: 50}
  - {name: fast2, after: fast, iterations: 50}
`,
  '/tmp/p.yaml',
);

test('ETA: remaining iterations on the longest remaining path at the measured speed', () => {
  const remaining: Record<string, number> = { base: 40, slow: 300, fast: 50, fast2: 50 };
  const view = (name: string) => ({ done: false, remaining: remaining[name] });
  assert.equal(pipelineEtaSeconds(plan.stages, view, 10), (40 + 300) / 10);
  const slowDone = (name: string) => (name === 'slow' || name === 'base' ? { done: true, remaining: 0 } : view(name));
  assert.equal(pipelineEtaSeconds(plan.stages, slowDone, 10), 100 / 10);
  assert.equal(pipelineEtaSeconds(plan.stages, view, null), null);
});

test('edits: only stages that have not started, valid values, applied to a copy', () => {
  const state = (name: string) => (name === 'base' ? 'running' : 'pending');
  assert.throws(() => validateEdit(plan, state, { stage: 'base', lr: 0.1 }), /stage "base" is running: only stages that have not started can change/);
  assert.throws(() => validateEdit(plan, state, { stage: 'nope', lr: 0.1 }), /no stage is named "nope": stages are base, slow, fast, fast2/);
  assert.throws(() => validateEdit(plan, state, { stage: 'slow' }), /nothing to change/);
  assert.throws(() => validateEdit(plan, state, { stage: 'slow', lr: -1 }), /lr must be a positive number \(got -1\)/);
  assert.throws(() => validateEdit(plan, state, { stage: 'slow', vars_to_freeze: 3 as unknown as string }), /vars_to_freeze must be a regex/);
  validateEdit(plan, state, { stage: 'slow', lr: 0.5, vars_to_freeze: 'x' });
  const edited = applyEdit(plan, { stage: 'slow', lr: 0.5, vars_to_freeze: 'x' });
  assert.equal(edited.stages[1].settings.lr, 0.5);
  assert.deepEqual(edited.stages[1].vars_to_freeze, ['x']);
  assert.equal(plan.stages[1].settings.lr, 0.001, 'the original plan is untouched');
  assert.deepEqual(applyEdit(plan, { stage: 'fast', vars_to_freeze: null }).stages[2].vars_to_freeze, null);
});

test('failure text: the workflow and the CLI read the innermost cause of the same Temporal failure chains', () => {
  // Chains as the SDK builds them: a stage's user error inside its ActivityFailure, a run's failure inside the
  // client's WorkflowFailedError, a cancellation.
  const userError = ApplicationFailure.nonRetryable('/data/case.nii: too short for a NIfTI header (17 bytes)', 'DataError');
  const activity = new ActivityFailure('activity failed', 'trainStage', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker', userError);
  assert.equal(failureText(activity), 'DataError: /data/case.nii: too short for a NIfTI header (17 bytes)');
  const run = ApplicationFailure.nonRetryable('pipeline p failed:\n  stage a: DataError: …', FAILURE_TYPES.stageFailed);
  const failed = new WorkflowFailedError('Workflow execution failed', run, RetryState.NON_RETRYABLE_FAILURE);
  assert.equal(failureMessage(failed), 'pipeline p failed:\n  stage a: DataError: …');
  assert.equal(failureText(failed), 'StageFailed: pipeline p failed:\n  stage a: DataError: …');
  assert.equal(failureMessage(new WorkflowFailedError('Workflow execution cancelled', new CancelledFailure('Workflow cancelled'), RetryState.NON_RETRYABLE_FAILURE)), 'Workflow cancelled');
  assert.equal(failureMessage(new Error('plain')), 'plain');
  assert.equal(failureText('a string'), 'a string');
});
