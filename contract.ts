/**
 * The contract between thaw's workflow and its activities (and the clients that start and follow runs): what travels
 * between them (plain JSON only: paths, names, metrics, never tensors), the activities' signatures, the workflow's
 * queries, signals and updates, the task queues and the failure types the workflow ends with. workflows/ and
 * activities/ both import this module and never each other, so either side can change inside without the other.
 * Safe to import from workflow code (it is bundled into the workflow sandbox) and from Node code alike.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Plan } from './lib/pipeline/plan';
import type { PreflightReport, StageReport } from './lib/selection';
import type { StageProgress, StageResult, StageRunRequest } from './lib/training/types';

export const DEFAULT_TASK_QUEUES = { cpu: 'thaw-cpu', gpu: 'thaw-gpu' } as const;
export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 30;

/** Types of the ApplicationFailures a pipeline run ends with (besides the activities' own user error types). */
export const FAILURE_TYPES = {
  /** Preflight found errors in the pipeline (or in an edit of it); details: the problems. */
  preflightRefused: 'PreflightRefused',
  /** Preflight's report lacks a stage of the plan it checked. */
  preflightIncomplete: 'PreflightIncomplete',
  /** One or more stages failed; details: the summaries of the stages that finished. */
  stageFailed: 'StageFailed',
} as const;

/**
 * The innermost cause of a failure chain (WorkflowFailedError → ActivityFailure → ApplicationFailure → …) and the
 * first failure type met on the way: what the workflow records for a failed stage and what the CLI says. Pure.
 */
export function innermostFailure(err: unknown): { message: string; type?: string } {
  let e = err as { message?: string; cause?: unknown; type?: string | null } | undefined;
  let type: string | undefined;
  while (e) {
    type ??= e.type ?? undefined;
    if (!(e.cause as { message?: string } | undefined)?.message) break;
    e = e.cause as typeof e;
  }
  return { message: e?.message ?? String(err), type };
}

// ---- Activities ---------------------------------------------------------------------------------------------------

/** What preflight reports back to the workflow: its report without the per-variable listing (only `thaw check` shows it). */
export interface PlanCheck extends Omit<PreflightReport, 'stages'> {
  stages: Array<Omit<StageReport, 'variables'>>;
}

export type TrainStageRequest = StageRunRequest;
/** The engine's result, plus which attempt of this activity produced it (retries after a worker died count). */
export type TrainStageResult = StageResult & { attempt: number };

export interface FinishRequest {
  modelDir: string;
  /** Stages in plan order, with the folder each one logs in. */
  stages: Array<{ name: string; checkpointDir: string }>;
}

/** The activities the workflow schedules, by name (preflight and finishPipeline on the cpu queue, trainStage on gpu). */
export interface ThawActivities {
  preflight(plan: Plan): Promise<PlanCheck>;
  trainStage(request: TrainStageRequest): Promise<TrainStageResult>;
  /** Draws the loss curve; returns the path of the picture. */
  finishPipeline(request: FinishRequest): Promise<string>;
}

// ---- The workflow's messages --------------------------------------------------------------------------------------

export const statusQuery = defineQuery<PipelineStatus>('status');
/** Sent by the trainStage activity (through the worker's client) a few times a minute: workflows cannot read heartbeats. */
export const progressSignal = defineSignal<[ProgressReport]>('progress');
/** Running stages checkpoint and stop; returns once they have. Nothing is lost. */
export const pauseUpdate = defineUpdate<PipelineStatus>('pause');
export const resumeUpdate = defineUpdate<PipelineStatus>('resume');
/** Changes lr or vars_to_freeze of a stage that has not started; refused unless preflight accepts the result. */
export const editStageUpdate = defineUpdate<PipelineStatus, [StageEdit]>('editStage');

// ---- What travels -------------------------------------------------------------------------------------------------

export type StageState = 'pending' | 'running' | 'paused' | 'done' | 'failed' | 'skipped' | 'cancelled';
export type PipelineState = 'preflight' | 'running' | 'paused' | 'finishing' | 'completed' | 'failed' | 'refused' | 'cancelled';

export interface PipelineOptions {
  /** Task queue of preflight and the loss curve (cheap CPU work). Default `thaw-cpu`. */
  cpuTaskQueue?: string;
  /** Task queue of training. Default `thaw-gpu`. */
  gpuTaskQueue?: string;
  /** A worker that stops heartbeating for this long is presumed dead and its stage retried elsewhere. Default 30. */
  heartbeatTimeoutSeconds?: number;
  /** Upper bound of one training attempt (there is no short start-to-close). Default 7 days. */
  stageTimeoutHours?: number;
  /** Continue as new once the history has this many events, besides when Temporal suggests it (tests use small values). */
  continueAsNewAfterEvents?: number;
}

/** A stage's progress as the trainStage activity signals it (`progress`, every few seconds), with its attempt. */
export interface ProgressReport extends StageProgress {
  /** Activity attempt that sent it (reports of an older attempt are ignored). */
  attempt: number;
}

/** What one finished stage did. */
export interface StageSummary {
  stage: string;
  startIteration: number;
  endIteration: number;
  iterations: number;
  finalLoss: number | null;
  checkpoint: string;
  backend: string;
  /** Time spent training, as the training engine measured it. */
  trainSeconds: number;
  /** From the stage's first start to its end, as the workflow saw it (includes restarts and orchestration). */
  wallSeconds: number;
  /** Activity attempts: restarts after pauses and retries after a worker died. */
  attempts: number;
  /** Iteration the last attempt resumed from, when it did not start at startIteration. */
  resumedFrom: number | null;
}

export interface StageStatus {
  name: string;
  after: string | null;
  state: StageState;
  /** Iterations the stage trains (its plan). */
  iterations: number;
  checkpointDir: string;
  startIteration: number | null;
  endIteration: number | null;
  iteration: number | null;
  loss: number | null;
  itPerSec: number | null;
  etaSeconds: number | null;
  checkpoint: string | null;
  attempts: number;
  summary: StageSummary | null;
  error: string | null;
}

export interface PipelineStatus {
  name: string;
  modelDir: string;
  hash: string;
  state: PipelineState;
  stages: StageStatus[];
  /** Rough time to the end: remaining iterations on the longest remaining path at the latest measured speed. */
  etaSeconds: number | null;
  /** Preflight warnings and refusal reasons, as text. */
  warnings: string[];
  errors: string[];
  /** Accepted changes of not-yet-started stages (lr, vars_to_freeze). */
  edits: StageEdit[];
  /** How many times the workflow continued as new. */
  continuedAsNew: number;
  lossCurve: string | null;
}

/** A change to a stage that has not started yet; validated by the same preflight before it takes effect. */
export interface StageEdit {
  stage: string;
  lr?: number;
  /** A regex, a list of regexes, [] for nothing, or null for the default. */
  vars_to_freeze?: string | string[] | null;
}

export interface PipelineResult {
  name: string;
  modelDir: string;
  stages: StageSummary[];
  lossCurve: string | null;
}

/** State carried over continue-as-new. */
export interface CarriedState {
  stages: Record<string, CarriedStage>;
  report: PlanCheck;
  edits: StageEdit[];
  paused: boolean;
  continuedAsNew: number;
}

export interface CarriedStage {
  state: StageState;
  attempts: number;
  firstStartedAt: number | null;
  summary: StageSummary | null;
  error: string | null;
  last: ProgressReport | null;
}

export interface PipelineInput {
  plan: Plan;
  options?: PipelineOptions;
  carried?: CarriedState;
}
