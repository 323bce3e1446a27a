/** The `status` query's answer: a run's state as clients show it, with live progress and ETAs. Pure. */
import type { PipelineState, PipelineStatus, StageStatus } from '../contract';
import type { StagePlan } from '../lib/pipeline/plan';
import { pipelineEtaSeconds, stageEtaSeconds } from './eta';
import { problemText } from './failure-text';
import type { PipelineRunState } from './run-state';

export function pipelineStatus(run: PipelineRunState): PipelineStatus {
  const speeds = [...run.stages.values()].filter((s) => s.state === 'running' && s.last).map((s) => s.last!.itPerSec);
  const speed = speeds.length > 0 ? speeds.reduce((a, b) => a + b, 0) / speeds.length : null;
  const stages = run.plan.stages.map((p) => stageStatus(run, p));
  const byName = new Map(stages.map((s) => [s.name, s]));
  const state: PipelineState = run.state === 'running' && run.paused ? 'paused' : run.state;
  return {
    name: run.plan.name,
    modelDir: run.plan.model_dir,
    hash: run.plan.hash,
    state,
    stages,
    etaSeconds: pipelineEtaSeconds(run.plan.stages, (name) => remainingOf(byName.get(name)!, run.stagePlan(name)), speed),
    warnings: (run.report?.warnings ?? []).map(problemText),
    errors: (run.report?.errors ?? []).map(problemText),
    edits: [...run.edits],
    continuedAsNew: run.continuedAsNew,
    lossCurve: run.lossCurve,
  };
}

function stageStatus(run: PipelineRunState, p: StagePlan): StageStatus {
  const s = run.stage(p.name);
  const checked = run.report?.stages.find((r) => r.name === p.name);
  const parent = p.after === null ? null : run.stage(p.after).summary;
  const start = s.summary?.startIteration ?? parent?.endIteration ?? (p.after === null ? checked?.startIteration : undefined) ?? null;
  const end = start === null ? null : start + p.iterations;
  const iteration = s.summary?.endIteration ?? s.last?.iteration ?? null;
  const live = s.state === 'running' ? s.last : null;
  return {
    name: p.name,
    after: p.after,
    state: s.state,
    iterations: p.iterations,
    checkpointDir: p.checkpoint_dir,
    startIteration: start,
    endIteration: end,
    iteration,
    loss: s.summary?.finalLoss ?? s.last?.loss ?? null,
    itPerSec: live?.itPerSec ?? null,
    etaSeconds: live && end !== null ? stageEtaSeconds(end - live.iteration, live.itPerSec) : null,
    checkpoint: s.summary?.checkpoint ?? s.last?.checkpoint ?? null,
    attempts: s.attempts,
    summary: s.summary,
    error: s.error,
  };
}

/** What is left of a stage, for the pipeline's ETA. */
function remainingOf(status: StageStatus, plan: StagePlan): { done: boolean; remaining: number } {
  if (status.state === 'done') return { done: true, remaining: 0 };
  if (status.endIteration !== null && status.iteration !== null) return { done: false, remaining: status.endIteration - status.iteration };
  return { done: false, remaining: plan.iterations };
}
