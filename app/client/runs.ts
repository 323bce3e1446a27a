/**
 * Reading runs: status comes from the workflow's `status` query while a worker can answer, otherwise from Temporal's
 * own record of the run (which needs no worker). Nothing here waits on a worker that is not there: queries are
 * asked only of runs whose workflow queue a worker polls, and are aborted (not left to retry) when they time out.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { UserError } from '../../lib/errors';
import { isServerGone, type ThawCluster } from './cluster';
import type { runPipeline } from '../../workflows/pipeline';
import { innermostFailure, statusQuery, type PipelineResult, type PipelineStatus } from '../../contract';
import { WORKFLOW_TYPE } from './ids';
import type { PipelineHandle, RunMemo } from './start';
import { runQueues, unpolledQueues, type QueueWorkers } from './workers';

/** A run id that the cluster does not know. */
export class RunNotFoundError extends UserError {
  constructor(workflowId: string, where: string, fix: string) {
    super('RunNotFound', `no run ${workflowId} on ${where}`, { fix });
  }
}

export function handleOf(client: Client, workflowId: string): PipelineHandle {
  return client.workflow.getHandle<typeof runPipeline>(workflowId);
}

export interface RunView {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW. */
  execution: string;
  memo: Partial<RunMemo>;
  startTime: Date;
  closeTime?: Date;
  /** Live status from the workflow, when a worker answered in time. */
  status: PipelineStatus | null;
  /** Of a running run: the queues it needs that no worker polls (null: the server could not say). */
  unpolled: QueueWorkers[] | null;
  result: PipelineResult | null;
  failure: string | null;
}

/** Everything known about a run, without hanging when no worker is polling. Throws RunNotFoundError. */
export async function viewRun(client: Client, workflowId: string, where: string, queryTimeoutMs = 5000): Promise<RunView> {
  const handle = handleOf(client, workflowId);
  const d = await describeOrNotFound(handle, where);
  const memo = (d.memo ?? {}) as Partial<RunMemo>;
  const view: RunView = {
    workflowId,
    runId: d.runId,
    execution: d.status.name,
    memo,
    startTime: d.startTime,
    closeTime: d.closeTime,
    status: null,
    unpolled: null,
    result: null,
    failure: null,
  };
  if (view.execution === 'COMPLETED') view.result = await handle.result();
  else if (view.execution !== 'RUNNING') view.failure = await failureOf(handle);
  if (view.execution === 'RUNNING') {
    view.unpolled = await unpolledQueues(client.connection, client.options.namespace, runQueues(d.taskQueue, memo.gpu_task_queue));
    // Without a workflow worker the query could only time out.
    if (!view.unpolled?.some((q) => q.kind === 'workflow')) view.status = await queryStatus(handle, queryTimeoutMs);
  }
  return view;
}

/** describe(), with an unknown run id as a RunNotFoundError that says where we looked. */
export async function describeOrNotFound(handle: PipelineHandle, where: string) {
  try {
    return await handle.describe();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    throw new RunNotFoundError(handle.workflowId, where, 'check the run id (`thaw list` shows the runs there), or start it with `thaw run <pipeline.yaml>`');
  }
}

/** The workflow's status query, or null when no answer comes within timeoutMs (the call is then aborted). */
export async function queryStatus(handle: PipelineHandle, timeoutMs: number): Promise<PipelineStatus | null> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    return await handle.client.withAbortSignal(abort.signal, () => handle.query(statusQuery)).catch(() => null);
  } finally {
    clearTimeout(timer);
  }
}

/** Times a step is tried again after the local server went away (each after a take-over attempt). */
const RETRIES_AFTER_SERVER_LOSS = 3;

/**
 * Runs one step against the cluster. When the shared local server goes away under it (the thaw that ran it ended
 * while this one started workers, started the run or awaited its result), this process takes the server over (or
 * finds that another thaw did) and tries the step again, so the run is not lost to a connection error.
 */
export async function surviveServerLoss<T>(cluster: ThawCluster, step: () => Promise<T>, options: { signal?: AbortSignal; onTakeOver?: () => void } = {}): Promise<T> {
  for (let retries = 0; ; retries++) {
    try {
      return await step();
    } catch (err) {
      if (options.signal?.aborted || cluster.kind === 'external' || !isServerGone(err) || retries >= RETRIES_AFTER_SERVER_LOSS) throw err;
      if (await cluster.takeOverIfOrphaned()) options.onTakeOver?.();
    }
  }
}

/** The run's result, awaited across a take-over of the local server (see surviveServerLoss). */
export function resultOf(cluster: ThawCluster, handle: PipelineHandle, signal: AbortSignal, onTakeOver?: () => void): Promise<PipelineResult> {
  return surviveServerLoss(cluster, () => cluster.connection.withAbortSignal(signal, () => handle.result()), { signal, onTakeOver });
}

/** The message of the innermost cause of a run's failure. */
export async function failureOf(handle: PipelineHandle): Promise<string> {
  try {
    await handle.result();
    return '';
  } catch (err) {
    return failureMessage(err);
  }
}

export function failureMessage(err: unknown): string {
  return innermostFailure(err).message;
}

export interface RunListing {
  workflowId: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
  pipeline: string;
  sourceFile: string;
}

export async function listRuns(client: Client, limit = 50): Promise<RunListing[]> {
  const runs: RunListing[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'` })) {
    const memo = (w.memo ?? {}) as Partial<RunMemo>;
    runs.push({
      workflowId: w.workflowId,
      status: w.status.name,
      startTime: w.startTime,
      closeTime: w.closeTime,
      pipeline: memo.pipeline ?? '',
      sourceFile: memo.source_file ?? '',
    });
    if (runs.length >= limit) break;
  }
  return runs;
}
