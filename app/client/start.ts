/**
 * Starting pipelines from any client code (the CLI's and a team's own): typed, and idempotent per pipeline. A run
 * of the same pipeline (name + model_dir) that is still going is attached to; one that failed or was cancelled is
 * started again, and its stages resume from their newest checkpoints. A completed one is shown as it is, unless its
 * checkpoints are no longer on disk (model_dir deleted or moved): that is an error, and `restart: true` starts the
 * pipeline afresh on purpose.
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { indexFile } from '../../lib/checkpoint/names';
import { UserError } from '../../lib/errors';
import { loadPipeline } from '../../lib/pipeline/load';
import { storagesOf, type StoragesOption } from '../../lib/storage';
import type { Plan } from '../../lib/pipeline/plan';
import { DEFAULT_TASK_QUEUES } from '../../contract';
import type { runPipeline } from '../../workflows/pipeline';
import type { PipelineOptions } from '../../contract';
import { workflowIdFor, WORKFLOW_TYPE } from './ids';

export type PipelineHandle = WorkflowHandle<typeof runPipeline>;

export interface StartPipelineOptions extends StoragesOption {
  options?: PipelineOptions;
  /** Task queue of the workflow itself (default: the cpu queue). */
  taskQueue?: string;
  /** Default: derived from the plan's name and model_dir. */
  workflowId?: string;
  /**
   * Start a new run even when this pipeline's run completed (`thaw run --restart`): stages whose checkpoints are on
   * disk are kept, the rest train again. A run that is still going is not touched (cancel it first).
   */
  restart?: boolean;
}

/** A completed run whose checkpoints are gone from disk: showing its result would point at files that do not exist. */
export class CheckpointsGoneError extends UserError {
  constructor(workflowId: string, missing: string[]) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    super('CheckpointsGone', `run ${workflowId} completed, but its checkpoint ${missing[0]}${more} no longer exists`, {
      file: missing[0],
      fix: 'put model_dir back, or train the pipeline again with `thaw run <pipeline.yaml> --restart`',
    });
  }
}

/** The run is going and --restart was asked for. */
export class RunStillRunningError extends UserError {
  constructor(workflowId: string) {
    super('RunStillRunning', `run ${workflowId} is still running: --restart starts only a pipeline whose run has ended`, {
      fix: `cancel it first (\`thaw cancel ${workflowId}\`), or leave out --restart to attach to it`,
    });
  }
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
  /** A new run was started because `restart` was asked for, although the previous one had completed. */
  restarted: boolean;
}

/** Starts (or attaches to) the run of a pipeline, given as a YAML file (validated as `thaw check` does) or a Plan. */
export async function startPipeline(client: Client, pipeline: Plan | string, opts: StartPipelineOptions = {}): Promise<StartedPipeline> {
  const plan = typeof pipeline === 'string' ? await loadPipeline(pipeline) : pipeline;
  const workflowId = opts.workflowId ?? workflowIdFor(plan);
  const existing = client.workflow.getHandle<typeof runPipeline>(workflowId);
  const previous = await describeRun(existing);
  if (previous?.status === 'RUNNING') {
    if (opts.restart) throw new RunStillRunningError(workflowId);
    const differentHash = previous.hash && previous.hash !== plan.hash ? previous.hash : null;
    return { handle: existing, workflowId, attached: true, completedBefore: false, previousRun: null, differentHash, restarted: false };
  }
  if (previous?.status === 'COMPLETED' && previous.hash === plan.hash && !opts.restart) {
    const missing = await missingCheckpoints((await existing.result()).stages.map((s) => s.checkpoint), { storages: opts.storages });
    if (missing.length > 0) throw new CheckpointsGoneError(workflowId, missing);
    return { handle: existing, workflowId, attached: true, completedBefore: true, previousRun: null, differentHash: null, restarted: false };
  }
  const handle = await client.workflow.start<typeof runPipeline>(WORKFLOW_TYPE, {
    args: [{ plan, options: opts.options }],
    taskQueue: opts.taskQueue ?? opts.options?.cpuTaskQueue ?? DEFAULT_TASK_QUEUES.cpu,
    workflowId,
    // Two `thaw run`s racing on one pipeline end up on the same run.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    memo: { ...runMemo(plan, opts.options) },
  });
  const restarted = Boolean(opts.restart) && previous?.status === 'COMPLETED';
  return { handle, workflowId, attached: false, completedBefore: false, previousRun: previous?.status ?? null, differentHash: null, restarted };
}

/**
 * The checkpoints of a result that are not on storage (their .index is what makes a checkpoint complete). Storage
 * this machine cannot ask (an s3:// model_dir without credentials here) counts as present: the workers may see it.
 */
export async function missingCheckpoints(prefixes: string[], options: StoragesOption = {}): Promise<string[]> {
  const storages = storagesOf(options);
  const missing: string[] = [];
  for (const prefix of prefixes) {
    try {
      if ((await storages.for(prefix).stat(indexFile(prefix))) === null) missing.push(prefix);
    } catch {
      // cannot tell from here
    }
  }
  return missing;
}

/** Kept with the run, readable without a worker (`thaw list`, `thaw status` of finished runs). */
export interface RunMemo {
  pipeline: string;
  source_file: string;
  model_dir: string;
  hash: string;
  /** The training queue (status and wait check that a worker polls it). */
  gpu_task_queue?: string;
}

function runMemo(plan: Plan, options?: PipelineOptions): RunMemo {
  return {
    pipeline: plan.name, source_file: plan.source_file, model_dir: plan.model_dir, hash: plan.hash,
    gpu_task_queue: options?.gpuTaskQueue ?? DEFAULT_TASK_QUEUES.gpu,
  };
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
