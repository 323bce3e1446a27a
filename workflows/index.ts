// The workflows of thaw (the worker's workflowsPath): deterministic code only.
export { runPipeline } from './pipeline';
