/**
 * Whether any worker polls a run's task queues: a run that no worker polls makes no progress, and `status`, `wait`
 * and `cancel` say so instead of waiting in silence. Temporal lists a queue's pollers for a few minutes after they
 * stop; a poller whose last poll is older than a long poll (about a minute) plus slack is counted as gone.
 */
import type { ConnectionLike } from '@temporalio/client';
import { DEFAULT_TASK_QUEUES } from '../../contract';

/** temporal.api.enums.v1.TaskQueueType (not imported: @temporalio/proto is no direct dependency of thaw). */
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

/** A live worker re-polls at least this often (the server answers an empty long poll after about 60 s). */
export const POLLER_GONE_AFTER_MS = 90_000;

export interface QueueWorkers {
  queue: string;
  kind: 'workflow' | 'activity';
  /** Pollers seen within POLLER_GONE_AFTER_MS. */
  live: number;
  /** The most recent poll of any poller the server still remembers, or null when it knows none. */
  lastPoll: Date | null;
}

function toDate(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): Date | null {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

export async function queueWorkers(connection: ConnectionLike, namespace: string, queue: string, kind: QueueWorkers['kind'], now = Date.now()): Promise<QueueWorkers> {
  const answer = await connection.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: queue },
    taskQueueType: TASK_QUEUE_TYPE[kind],
  });
  const polls = (answer.pollers ?? []).map((p) => toDate(p.lastAccessTime)).filter((d): d is Date => d !== null);
  const lastPoll = polls.length > 0 ? new Date(Math.max(...polls.map((d) => d.getTime()))) : null;
  return { queue, kind, live: polls.filter((d) => now - d.getTime() < POLLER_GONE_AFTER_MS).length, lastPoll };
}

/** The queues a run needs: its workflow queue (cpu: workflow and preflight) and the training queue. */
export function runQueues(workflowQueue: string | undefined, gpuQueue: string | undefined): { cpu: string; gpu: string } {
  return { cpu: workflowQueue || DEFAULT_TASK_QUEUES.cpu, gpu: gpuQueue || DEFAULT_TASK_QUEUES.gpu };
}

/**
 * The queues of a run that no worker polls (empty when workers poll them all), checked for the workflow queue's
 * workflow tasks and the training queue's activity tasks. Null when the server could not say.
 */
export async function unpolledQueues(connection: ConnectionLike, namespace: string, queues: { cpu: string; gpu: string }): Promise<QueueWorkers[] | null> {
  try {
    const checked = await Promise.all([
      queueWorkers(connection, namespace, queues.cpu, 'workflow'),
      queueWorkers(connection, namespace, queues.gpu, 'activity'),
    ]);
    return checked.filter((q) => q.live === 0);
  } catch {
    return null;
  }
}

/** `no worker polls the task queue thaw-cpu (last poll 5 min ago)`-style text for a list of unpolled queues. */
export function describeUnpolled(queues: QueueWorkers[], now = Date.now()): string {
  const names = queues.map((q) => {
    const seen = q.lastPoll ? `, last poll ${Math.round((now - q.lastPoll.getTime()) / 1000)} s ago` : '';
    return `${q.queue}${seen}`;
  });
  return `no worker polls the task queue${queues.length === 1 ? '' : 's'} ${names.join(' and ')}`;
}
