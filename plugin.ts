/**
 * thaw as a Temporal plugin. A team with its own workers hosts thaw by adding the plugin to Worker.create, on the
 * queues thaw uses (or its own, passed to startPipeline):
 *
 *   await Worker.create({ connection, taskQueue: 'thaw-cpu', plugins: [thawPlugin()] });          // workflows, preflight
 *   await Worker.create({ connection, taskQueue: 'thaw-gpu', plugins: [thawPlugin({ workflows: false })],
 *                         maxConcurrentActivityTaskExecutions: 1 });                             // training
 *
 * and starts pipelines from its own client code with `startPipeline(client, plan)` from lib/client. thaw's own
 * worker (worker.ts) is built on this same plugin.
 */
import { SimplePlugin } from '@temporalio/plugin';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityOptions } from './activities';

export { DEFAULT_TASK_QUEUES } from './workflows/definitions';

export interface ThawPluginOptions {
  /** Register the runPipeline workflow (default true). A worker that only trains can leave it out. */
  workflows?: boolean;
  /** A prebuilt bundle of workflows/ (bundleWorkflowCode with `workflowsPath`), to skip bundling at start. */
  workflowBundle?: WorkflowBundleOption;
  activities?: ActivityOptions;
}

/** Where the workflow code is, as sources (tsx) or compiled (dist). */
export const workflowsPath = require.resolve('./workflows');

export function thawPlugin(options: ThawPluginOptions = {}): SimplePlugin {
  const withWorkflows = options.workflows ?? true;
  return new SimplePlugin({
    name: 'thaw',
    activities: createActivities(options.activities),
    ...(withWorkflows && options.workflowBundle ? { workflowBundle: options.workflowBundle } : {}),
    ...(withWorkflows && !options.workflowBundle ? { workflowsPath } : {}),
  });
}
