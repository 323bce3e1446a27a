/**
 * The run's state machine (workflows/run-state.ts) driven directly, without Temporal: the activities are plain async
 * functions, and a small driver does what the workflow does around each training attempt.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlanCheck, TrainStageRequest, TrainStageResult } from '../contract';
import { parsePipeline } from '../lib/pipeline/load';
import type { Plan } from '../lib/pipeline/plan';
import { PipelineRunState } from '../workflows/run-state';
import { pipelineStatus } from '../workflows/status';

const plan = parsePipeline(
  `name: p
network: toynet
model_dir: /runs/p
data: {kind: synthetic, task: A, spatial_size: [8, 8]}
stages:
  - {name: base, iterations: 100}
  - {name: head, after: base, iterations: 50}
  - {name: head2, after: head, iterations: 20}
  - {name: side, after: base, iterations: 30}
`,
  '/tmp/p.yaml',
);

/** What preflight would report: every root starts from scratch. */
function preflightOf(p: Plan): PlanCheck {
  let start = 0;
  const stages = p.stages.map((s) => {
    const report = { name: s.name, after: s.after, startIteration: start, endIteration: start + s.iterations, restoreFrom: null, selection: { trained: [], frozen: [] }, carried: [] };
    start += s.iterations;
    return report as unknown as PlanCheck['stages'][number];
  });
  return { ok: true, errors: [], warnings: [], stages };
}

class Cancelled extends Error {}

/** A training that reaches its end iteration and checkpoints there. */
async function trains(request: TrainStageRequest): Promise<TrainStageResult> {
  return {
    stage: request.stage, startIteration: request.startIteration, endIteration: request.endIteration, reachedIteration: request.endIteration,
    finalLoss: 0.5, checkpoint: `${request.modelDir}/model.ckpt-${request.endIteration}`, backend: 'cpu', trainSeconds: 1, stopped: false,
    resumedFrom: null, attempt: 1,
  };
}

/** One training attempt of a stage, as the workflow runs it; returns how the attempt ended. */
async function attempt(run: PipelineRunState, name: string, trainStage: (r: TrainStageRequest) => Promise<TrainStageResult>, nowMs = 0) {
  run.startAttempt(name, nowMs);
  const request = run.request(name)!;
  try {
    const result = await trainStage(request);
    run.stageDone(name, request, result, nowMs + 2000);
    return 'done';
  } catch (err) {
    if (err instanceof Cancelled) return run.stageStopped(name, false);
    run.stageFailed(name, (err as Error).message);
    return 'failed';
  }
}

function started(): PipelineRunState {
  const run = new PipelineRunState({ plan });
  assert.equal(run.preflightChecked(preflightOf(plan)), true);
  return run;
}

test('a stage starts after its parent completes, from the parent\'s final checkpoint, which retention keeps', async () => {
  const run = started();
  assert.deepEqual(run.roots().map((s) => s.name), ['base']);
  assert.deepEqual(run.children('base').map((s) => s.name), ['head', 'side']);
  assert.equal(await attempt(run, 'base', trains, 1000), 'done');
  assert.equal(run.stage('base').summary?.wallSeconds, 2);
  assert.equal(run.ended('base'), true);
  assert.equal(run.ended('head'), undefined);
  const request = run.request('head')!;
  assert.deepEqual(
    [request.startIteration, request.endIteration, request.restoreFrom, request.keepCheckpoints],
    [100, 150, '/runs/p/model.ckpt-100', [100]],
  );
  // The sibling forks into its own folder, restoring from the parent's.
  const side = run.request('side')!;
  assert.deepEqual([side.modelDir, side.restoreFrom, side.keepCheckpoints], ['/runs/p/branches/side', '/runs/p/model.ckpt-100', [100]]);
  assert.deepEqual(pipelineStatus(run).stages.map((s) => [s.name, s.state, s.startIteration]), [
    ['base', 'done', 0], ['head', 'pending', 100], ['head2', 'pending', null], ['side', 'pending', 100],
  ]);
});

test('pause marks running stages paused, and a resumed stage counts all its attempts', async () => {
  const run = started();
  let release!: (err: Error) => void;
  const stopped = attempt(run, 'base', () => new Promise((_, reject) => { release = reject; }));
  assert.equal(run.stage('base').state, 'running');
  run.pause();
  assert.equal(run.mayStartStages(), false);
  assert.equal(pipelineStatus(run).state, 'paused');
  release(new Cancelled('paused'));
  assert.equal(await stopped, 'paused');
  assert.equal(run.count('running'), 0);
  run.resume();
  assert.equal(run.mayStartStages(), true);
  assert.equal(pipelineStatus(run).state, 'running');
  assert.equal(await attempt(run, 'base', trains), 'done');
  assert.equal(run.stage('base').summary?.attempts, 2);
  // Without a pause, a stopped training means the whole run was cancelled.
  assert.equal(await attempt(run, 'side', () => Promise.reject(new Cancelled('run cancelled'))), 'cancelled');
});

test('a failed stage skips its descendants but not its siblings', async () => {
  const run = started();
  await attempt(run, 'base', trains);
  assert.equal(await attempt(run, 'head', () => Promise.reject(new Error('ShapeMismatch: no'))), 'failed');
  run.skipDescendants('head');
  assert.deepEqual([...run.stages].map(([name, s]) => [name, s.state]), [['base', 'done'], ['head', 'failed'], ['head2', 'skipped'], ['side', 'pending']]);
  assert.equal(run.ended('head2'), false);
  assert.deepEqual(run.failedStages().map((s) => s.name), ['head']);
  assert.equal(run.stage('head').error, 'ShapeMismatch: no');
  // A failed root skips the whole tree below it, grandchildren included.
  const failedRoot = started();
  await attempt(failedRoot, 'base', () => Promise.reject(new Error('no')));
  failedRoot.skipDescendants('base');
  assert.deepEqual([...failedRoot.stages.values()].map((s) => s.state), ['failed', 'skipped', 'skipped', 'skipped']);
});

test('edits apply to stages not yet started, and continue-as-new restarts running stages', async () => {
  const run = started();
  await attempt(run, 'base', trains);
  assert.throws(() => run.validateEdit({ stage: 'base', lr: 0.1 }), /stage "base" is done/);
  run.validateEdit({ stage: 'side', lr: 0.1 });
  const candidate = { ...plan, stages: plan.stages.map((s) => (s.name === 'side' ? { ...s, settings: { ...s.settings, lr: 0.1 } } : s)) };
  run.acceptEdit({ stage: 'side', lr: 0.1 }, candidate, preflightOf(candidate));
  assert.equal(run.request('side')!.settings.lr, 0.1);
  assert.deepEqual(pipelineStatus(run).edits, [{ stage: 'side', lr: 0.1 }]);
  run.startAttempt('head', 0);
  const next = new PipelineRunState({ plan: run.plan, carried: run.carried() });
  assert.deepEqual([next.stage('base').state, next.stage('head').state, next.continuedAsNew], ['done', 'pending', 1]);
  assert.equal(next.report, run.report);
});
