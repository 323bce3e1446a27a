/**
 * Finding and reading runs: a run is named by its workflow id or by its pipeline YAML (whose name + model_dir give
 * the id). Status comes from the workflow's `status` query while a worker can answer, otherwise from Temporal's own
 * record of the run (which needs no worker).
 */
import { existsSync } from 'node:fs';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { loadPipeline } from '../pipeline/load';
import type { runPipeline } from '../../workflows/pipeline';
import { statusQuery } from '../../workflows/definitions';
import type { PipelineResult, PipelineStatus } from '../../workflows/types';
import { workflowIdFor, WORKFLOW_TYPE } from './ids';
import type { PipelineHandle, RunMemo } from './start';

export async function runIdOf(ref: string): Promise<string> {
  if (/\.ya?ml$/i.test(ref) || existsSync(ref)) return workflowIdFor(await loadPipeline(ref));
  return ref;
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
  result: PipelineResult | null;
  failure: string | null;
}

/** Everything known about a run, without hanging when no worker is polling. */
export async function viewRun(client: Client, workflowId: string, queryTimeoutMs = 5000): Promise<RunView> {
  const handle = handleOf(client, workflowId);
  const d = await handle.describe();
  const view: RunView = {
    workflowId,
    runId: d.runId,
    execution: d.status.name,
    memo: (d.memo ?? {}) as Partial<RunMemo>,
    startTime: d.startTime,
    closeTime: d.closeTime,
    status: null,
    result: null,
    failure: null,
  };
  if (view.execution === 'COMPLETED') view.result = await handle.result();
  else if (view.execution !== 'RUNNING') view.failure = await failureOf(handle);
  if (view.execution === 'RUNNING') view.status = await queryStatus(handle, queryTimeoutMs);
  return view;
}

export async function queryStatus(handle: PipelineHandle, timeoutMs: number): Promise<PipelineStatus | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    return await Promise.race([handle.query(statusQuery).catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
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
  let e = err as { message?: string; cause?: unknown } | undefined;
  if (err instanceof WorkflowFailedError && err.cause) e = err.cause as typeof e;
  while (e?.cause && (e.cause as { message?: string }).message) e = e.cause as typeof e;
  return e?.message ?? String(err);
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
