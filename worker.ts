/**
 * The thaw worker: one Temporal worker per task queue (cpu: the runPipeline workflow, preflight and the loss curve;
 * gpu: training), all built on the thaw plugin. One training at a time by default. On SIGTERM/SIGINT (the SDK's
 * shutdown signals: preemption arrives as SIGTERM) running trainings are cancelled at once, write a checkpoint at
 * their current iteration, and the process exits once they have (at most `shutdownForceTimeMs`).
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { ActivityOptions } from './activities';
import { DEFAULT_TASK_QUEUES, thawPlugin } from './plugin';

export type QueueRole = 'cpu' | 'gpu';

export interface ThawWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Which roles this process serves (default both). */
  queues?: QueueRole[];
  taskQueues?: { cpu?: string; gpu?: string };
  /** Trainings at once (default 1: one per GPU). */
  concurrency?: number;
  /** Time the emergency checkpoint gets on shutdown before the worker gives up (default 120 s). */
  shutdownForceTimeMs?: number;
  workflowBundle?: WorkflowBundleOption;
  activities?: ActivityOptions;
}

export async function createThawWorkers(options: ThawWorkerOptions): Promise<Worker[]> {
  const roles = options.queues ?? ['cpu', 'gpu'];
  const common = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    // Cancel trainings as soon as shutdown starts, so they checkpoint now rather than be killed later.
    shutdownGraceTime: 0,
    shutdownForceTime: options.shutdownForceTimeMs ?? 120_000,
  };
  const workers: Worker[] = [];
  if (roles.includes('cpu')) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: options.taskQueues?.cpu ?? DEFAULT_TASK_QUEUES.cpu,
        plugins: [thawPlugin({ ...options.activities, workflowBundle: options.workflowBundle })],
      }),
    );
  }
  if (roles.includes('gpu')) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: options.taskQueues?.gpu ?? DEFAULT_TASK_QUEUES.gpu,
        // The plugin sends heartbeats every second (its heartbeatThrottle), so a pause takes seconds.
        plugins: [thawPlugin({ ...options.activities, workflows: false })],
        maxConcurrentActivityTaskExecutions: options.concurrency ?? 1,
      }),
    );
  }
  return workers;
}

/** Runs the workers until they shut down (SIGTERM/SIGINT or Worker.shutdown()). */
export async function runThawWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}

export function shutdownThawWorkers(workers: Worker[]): void {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
}

export interface RunningWorkers {
  workers: Worker[];
  /** Settles when every worker has stopped (after shutdown and the emergency checkpoints). */
  done: Promise<void>;
  shutdown(): void;
}

/** Creates and starts the workers; `done` settles when they have all stopped. */
export async function startThawWorkers(options: ThawWorkerOptions): Promise<RunningWorkers> {
  const workers = await createThawWorkers(options);
  const done = runThawWorkers(workers);
  return { workers, done, shutdown: () => shutdownThawWorkers(workers) };
}

/** Temporal's own worker logs at `level` and above (INFO lines would drown the progress display). */
export function installTemporalLogLevel(level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'): void {
  const print = new DefaultLogger(level);
  // A training-only worker has no workflows by design; the SDK's warning about it is noise here.
  const logger = new DefaultLogger(level, (entry) => {
    if (!entry.message.startsWith('No workflows registered')) print.log(entry.level, entry.message, entry.meta);
  });
  try {
    Runtime.install({ logger });
  } catch {
    // The runtime exists already (installed by the embedding program): keep its settings.
  }
}
