/**
 * Starting pipelines from any client code (the CLI's and a team's own): typed, and idempotent per pipeline. A run
 * of the same pipeline (name + model_dir) that is still going is attached to; one that failed or was cancelled is
 * started again, and its stages resume from their newest checkpoints.
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { loadPipeline } from '../pipeline/load';
import type { Plan } from '../pipeline/plan';
import { DEFAULT_TASK_QUEUES } from '../../workflows/definitions';
import type { runPipeline } from '../../workflows/pipeline';
import type { PipelineOptions } from '../../workflows/types';
import { workflowIdFor, WORKFLOW_TYPE } from './ids';

export type PipelineHandle = WorkflowHandle<typeof runPipeline>;

export interface StartPipelineOptions {
  options?: PipelineOptions;
  /** Task queue of the workflow itself (default: the cpu queue). */
  taskQueue?: string;
  /** Default: derived from the plan's name and model_dir. */
  workflowId?: string;
}

export interface StartedPipeline {
  handle: PipelineHandle;
  workflowId: string;
  /** true when a run of this pipeline was already going and we attached to it. */
  attached: boolean;
  /** The same pipeline (same hash) had already completed: nothing new was started; the handle shows its result. */
  completedBefore: boolean;
  /** How the previous run with this id ended, when a new run was started after it (FAILED, CANCELLED, ...). */
  previousRun: string | null;
  /** Hash of the plan the attached run was started with, when it differs from this plan's. */
  differentHash: string | null;
}

/** Starts (or attaches to) the run of a pipeline, given as a YAML file (validated as `thaw check` does) or a Plan. */
export async function startPipeline(client: Client, pipeline: Plan | string, opts: StartPipelineOptions = {}): Promise<StartedPipeline> {
  const plan = typeof pipeline === 'string' ? await loadPipeline(pipeline) : pipeline;
  const workflowId = opts.workflowId ?? workflowIdFor(plan);
  const existing = client.workflow.getHandle<typeof runPipeline>(workflowId);
  const previous = await describeRun(existing);
  if (previous?.status === 'RUNNING') {
    const differentHash = previous.hash && previous.hash !== plan.hash ? previous.hash : null;
    return { handle: existing, workflowId, attached: true, completedBefore: false, previousRun: null, differentHash };
  }
  if (previous?.status === 'COMPLETED' && previous.hash === plan.hash) {
    return { handle: existing, workflowId, attached: true, completedBefore: true, previousRun: null, differentHash: null };
  }
  const handle = await client.workflow.start<typeof runPipeline>(WORKFLOW_TYPE, {
    args: [{ plan, options: opts.options }],
    taskQueue: opts.taskQueue ?? opts.options?.cpuTaskQueue ?? DEFAULT_TASK_QUEUES.cpu,
    workflowId,
    // Two `thaw run`s racing on one pipeline end up on the same run.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    memo: { ...runMemo(plan) },
  });
  return { handle, workflowId, attached: false, completedBefore: false, previousRun: previous?.status ?? null, differentHash: null };
}

/** Kept with the run, readable without a worker (`thaw list`, `thaw status` of finished runs). */
export interface RunMemo {
  pipeline: string;
  source_file: string;
  model_dir: string;
  hash: string;
}

function runMemo(plan: Plan): RunMemo {
  return { pipeline: plan.name, source_file: plan.source_file, model_dir: plan.model_dir, hash: plan.hash };
}

async function describeRun(handle: PipelineHandle): Promise<{ status: string; hash?: string } | null> {
  try {
    const d = await handle.describe();
    return { status: d.status.name, hash: (d.memo as Partial<RunMemo> | undefined)?.hash };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}
