/**
 * `thaw wait <run>`: block until the run ends; exit 0 when it completed, 1 otherwise. A run that no worker polls
 * makes no progress: wait says so and returns (exit 1) instead of blocking in silence, unless --keep-waiting.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TOOK_OVER } from '../../client/cluster';
import { summaryTable } from '../../client/format';
import { withRun } from '../../client/run-arg';
import { describeOrNotFound, failureMessage, handleOf, resultOf, surviveServerLoss } from '../../client/runs';
import type { RunMemo } from '../../client/start';
import { describeUnpolled, runQueues, unpolledQueues } from '../../client/workers';
import type { PipelineResult } from '../../../contract';
import { parseCommandArgs, parseNumberFlag, UsageError, type Command } from '../command';

/** How often a waiting `thaw wait` checks that workers still poll the run's queues. */
const CHECK_EVERY_MS = 15_000;
/**
 * How long queues must stay unpolled before wait says so, by default (--grace): workers that are starting (a
 * `thaw run --detach` that just returned, a worker restarting) have not polled yet. Checked every second meanwhile.
 */
const NO_WORKER_GRACE_S = 20;

export const waitCommand: Command = {
  name: 'wait',
  usage: 'wait <run-id | pipeline.yaml> [--json] [--keep-waiting] [--grace SECONDS]',
  summary: 'wait for a pipeline run to end (exit 0 when it completed)',
  flags: [
    ['--json', 'print the result as JSON instead of the summary table'],
    ['--keep-waiting', 'wait even while no worker polls the run\'s task queues (by default: say so and exit 1)'],
    ['--grace SECONDS', `how long the run's task queues may stay unpolled before wait says no worker polls them (default ${NO_WORKER_GRACE_S}; workers that are starting have not polled yet)`],
  ],
  details: 'A run id (as `thaw list` shows it) or the pipeline YAML it was started from. A run that no worker polls makes no progress: when no worker has polled its queues for 20 s (--grace), wait says which queue and exits 1 (checked every 15 s while it waits). Exit 0 when the run completed, 1 when it failed, was cancelled, makes no progress or was not found, 2 usage.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: 'boolean', default: false },
      'keep-waiting': { type: 'boolean', default: false },
      grace: { type: 'string', default: String(NO_WORKER_GRACE_S) },
    });
    if (positionals.length !== 1) throw new UsageError('give one run id or pipeline YAML');
    const keepWaiting = values['keep-waiting'];
    const graceMs = parseNumberFlag('--grace', values.grace, { min: 0, integer: false, what: 'seconds' }) * 1000;
    return withRun(positionals[0], settings, async ({ cluster, workflowId, where }) => {
      const handle = handleOf(cluster.client, workflowId);
      const tookOver = () => console.error(TOOK_OVER);
      const described = await surviveServerLoss(cluster, () => describeOrNotFound(handle, where), { onTakeOver: tookOver });
      const memo = (described.memo ?? {}) as Partial<RunMemo>;
      const queues = runQueues(described.taskQueue, memo.gpu_task_queue);
      const stop = new AbortController();
      let outcome: { result: PipelineResult } | { error: unknown } | null = null;
      const ended = resultOf(cluster, handle, stop.signal, tookOver).then((result) => (outcome = { result }), (error: unknown) => (outcome = { error }));
      let warned = false;
      try {
        let unpolledSince: number | null = null;
        while (!outcome) {
          if (await cluster.takeOverIfOrphaned()) tookOver();
          let delay = CHECK_EVERY_MS;
          if (described.status.name === 'RUNNING') {
            const unpolled = await unpolledQueues(cluster.client.connection, cluster.namespace, queues);
            if (outcome) break;
            const none = unpolled !== null && unpolled.length > 0;
            unpolledSince = none ? unpolledSince ?? Date.now() : null;
            if (none && Date.now() - unpolledSince! < graceMs) {
              delay = 1000;
            } else if (none) {
              const fix = `start \`thaw run ${memo.source_file || '<pipeline.yaml>'}\` (embedded server) or \`thaw worker\` (cluster)`;
              if (!keepWaiting) {
                console.error(`thaw wait: run ${workflowId} makes no progress: ${describeUnpolled(unpolled!)} on ${where}; ${fix}, or add --keep-waiting to wait for one`);
                return 1;
              }
              if (!warned) console.error(`thaw wait: ${describeUnpolled(unpolled!)} on ${where}; waiting for one (${fix})`);
              warned = true;
            } else if (warned) {
              console.error('thaw wait: a worker polls again; waiting for the run to end');
              warned = false;
            }
          }
          await Promise.race([ended, sleep(delay, undefined, { ref: false })]);
        }
      } finally {
        stop.abort();
      }
      const done = outcome as { result: PipelineResult } | { error: unknown };
      if ('result' in done) {
        console.log(values.json ? JSON.stringify(done.result, null, 2) : summaryTable(done.result));
        return 0;
      }
      console.error(`thaw wait: run ${workflowId} did not complete: ${failureMessage(done.error)}`);
      return 1;
    });
  },
};
