/**
 * runPipeline: preflight, then the stages of a Plan in DAG order (siblings concurrently, each lineage in its own
 * checkpoint folder), surviving worker deaths (retries resume from the stage's newest checkpoint), pauses, edits of
 * stages not yet started, and long histories (continue-as-new between stages, carrying what is done).
 *
 * This file wires the workflow's messages to the run: pipeline-run.ts decides when things happen, run-state.ts what
 * they mean for the run's state, status.ts what the status query shows.
 */
import { setHandler } from '@temporalio/workflow';
import {
  editStageUpdate,
  pauseUpdate,
  progressSignal,
  resumeUpdate,
  statusQuery,
  type PipelineInput,
  type PipelineResult,
} from '../contract';
import { PipelineRun } from './pipeline-run';

export async function runPipeline(input: PipelineInput): Promise<PipelineResult> {
  const run = new PipelineRun(input);
  setHandler(statusQuery, () => run.status());
  setHandler(progressSignal, (p) => run.state.recordProgress(p));
  setHandler(pauseUpdate, () => run.pause());
  setHandler(resumeUpdate, () => run.resume());
  setHandler(editStageUpdate, (edit) => run.edit(edit), { validator: (edit) => run.state.validateEdit(edit) });
  return run.execute();
}
