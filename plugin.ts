/**
 * thaw as a Temporal plugin. A team with its own workers hosts thaw by adding the plugin to Worker.create, on the
 * queues thaw uses (or its own, passed to startPipeline):
 *
 *   await Worker.create({ connection, taskQueue: 'thaw-cpu', plugins: [thawPlugin()] });          // workflows, preflight
 *   await Worker.create({ connection, taskQueue: 'thaw-gpu', plugins: [thawPlugin({ workflows: false, devices: ['0', '1'] })],
 *                         maxConcurrentActivityTaskExecutions: 2 });                             // training, one per GPU
 *
 * and starts pipelines from its own client code with `startPipeline(client, plan)` (`thaw/client`). Everything the
 * activities need is passed in here (GPUs, cache folders, heartbeat settings); thaw's own THAW_* environment is read
 * only where these options are not given. thaw's own worker (worker.ts) is built on this same plugin.
 */
import type { Duration } from '@temporalio/common';
import { SimplePlugin } from '@temporalio/plugin';
import type { WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityOptions } from './activities';

export { DEFAULT_TASK_QUEUES } from './contract';
export type { ActivityOptions } from './activities';
export type { StorageSettings } from './lib/storage/settings';

export interface ThawPluginOptions extends ActivityOptions {
  /** Register the runPipeline workflow (default true). A worker that only trains can leave it out. */
  workflows?: boolean;
  /** A prebuilt bundle of thaw's workflows (bundleWorkflowCode({ workflowsPath: require.resolve('thaw/workflows') })). */
  workflowBundle?: WorkflowBundleOption;
  /**
   * The worker's maxHeartbeatThrottleInterval unless it sets one (default 1 s): cancellation (pause, cancel) reaches a
   * training only with a heartbeat's answer, so a pause takes seconds rather than most of the heartbeat timeout.
   * null leaves the worker's own setting.
   */
  heartbeatThrottle?: Duration | null;
}

/** Where the workflow code is, as sources (tsx) or compiled (dist). */
export const workflowsPath = require.resolve('./workflows');

class ThawPlugin extends SimplePlugin {
  constructor(private readonly heartbeatThrottle: Duration | null, ...args: ConstructorParameters<typeof SimplePlugin>) {
    super(...args);
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    if (this.heartbeatThrottle === null || configured.maxHeartbeatThrottleInterval !== undefined) return configured;
    return { ...configured, maxHeartbeatThrottleInterval: this.heartbeatThrottle };
  }
}

export function thawPlugin(options: ThawPluginOptions = {}): SimplePlugin {
  const { workflows, workflowBundle, heartbeatThrottle, ...activityOptions } = options;
  const withWorkflows = workflows ?? true;
  return new ThawPlugin(heartbeatThrottle === undefined ? '1s' : heartbeatThrottle, {
    name: 'thaw',
    activities: createActivities(activityOptions),
    ...(withWorkflows && workflowBundle ? { workflowBundle } : {}),
    ...(withWorkflows && !workflowBundle ? { workflowsPath } : {}),
  });
}
