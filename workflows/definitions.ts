/**
 * Names shared by the workflow, its activities and clients: task queues, the workflow's queries, signals and updates.
 * Safe to import from workflow code and from Node code alike.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PipelineStatus, ProgressReport, StageEdit } from './types';

export const DEFAULT_TASK_QUEUES = { cpu: 'thaw-cpu', gpu: 'thaw-gpu' } as const;
export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 30;

export const statusQuery = defineQuery<PipelineStatus>('status');
/** Sent by the trainStage activity (through the worker's client) a few times a minute: workflows cannot read heartbeats. */
export const progressSignal = defineSignal<[ProgressReport]>('progress');
/** Running stages checkpoint and stop; returns once they have. Nothing is lost. */
export const pauseUpdate = defineUpdate<PipelineStatus>('pause');
export const resumeUpdate = defineUpdate<PipelineStatus>('resume');
/** Changes lr or vars_to_freeze of a stage that has not started; refused unless preflight accepts the result. */
export const editStageUpdate = defineUpdate<PipelineStatus, [StageEdit]>('editStage');
