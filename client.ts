/**
 * `thaw/client`: start and follow thaw pipelines from your own Temporal client code (workers host them through
 * `thaw/plugin`).
 *
 *   const { handle } = await startPipeline(client, 'pipelines/finetune.yaml');
 *   const status = await handle.query(statusQuery);
 *   const result: PipelineResult = await handle.result();
 */
export { startPipeline, type PipelineHandle, type StartedPipeline, type StartPipelineOptions } from './app/client/start';
export { loadPipeline, parsePipeline } from './lib/pipeline/load';
export type { DataConfig, NetworkConfig, Plan, StagePlan, TrainingSettings } from './lib/pipeline/plan';
export {
  DEFAULT_TASK_QUEUES, editStageUpdate, pauseUpdate, progressSignal, resumeUpdate, statusQuery,
} from './contract';
export type {
  PipelineOptions, PipelineResult, PipelineStatus, ProgressReport, StageEdit, StageStatus, StageSummary,
} from './contract';
