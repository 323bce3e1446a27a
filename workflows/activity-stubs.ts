/** The workflow's handles on its activities: which queue each runs on, its timeouts and its retries. */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import { DEFAULT_HEARTBEAT_TIMEOUT_SECONDS, DEFAULT_TASK_QUEUES, type PipelineInput, type ThawActivities } from '../contract';

export type PipelineActivities = ReturnType<typeof activitiesFor>;

export function activitiesFor(input: PipelineInput) {
  const o = input.options ?? {};
  const cpu = proxyActivities<ThawActivities>({
    taskQueue: o.cpuTaskQueue ?? DEFAULT_TASK_QUEUES.cpu,
    startToCloseTimeout: '10 minutes',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
  });
  const gpu = proxyActivities<ThawActivities>({
    taskQueue: o.gpuTaskQueue ?? DEFAULT_TASK_QUEUES.gpu,
    heartbeatTimeout: `${o.heartbeatTimeoutSeconds ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS}s`,
    startToCloseTimeout: `${o.stageTimeoutHours ?? 7 * 24}h`,
    // Wait for the activity to confirm: on pause or cancel it writes a checkpoint first.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // User errors arrive as non-retryable ApplicationFailures; everything else is infrastructure and retried.
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  // The loss curve is a convenience at the end of a run, and of a cancelled one: bounded in time and attempts, so that
  // it can neither keep a run from ending nor a cancellation from taking effect (no cpu worker, a slow disk).
  const finish = proxyActivities<ThawActivities>({
    taskQueue: o.cpuTaskQueue ?? DEFAULT_TASK_QUEUES.cpu,
    startToCloseTimeout: '1 minute',
    scheduleToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
  });
  return { cpu, gpu, finish };
}
