/**
 * `thaw cancel <run>`: end a run. Running stages write a checkpoint at their current iteration first; cancel waits
 * until the run has ended. A run that no workflow worker polls cannot process a cancellation (and nothing of it can
 * be training on an embedded server without its `thaw run`), so it is terminated at once; so is one that has not
 * ended --timeout seconds after the request, and any run with --force. Either way the run ends, and its checkpoints
 * stay: `thaw run` on its pipeline starts it again from there.
 */
import { withRun } from '../../client/run-arg';
import { describeOrNotFound, handleOf } from '../../client/runs';
import { describeUnpolled, runQueues, unpolledQueues } from '../../client/workers';
import type { RunMemo } from '../../client/start';
import { parseCommandArgs, parseNumberFlag, UsageError, type Command } from '../command';

export const cancelCommand: Command = {
  name: 'cancel',
  usage: 'cancel <run-id | pipeline.yaml> [--timeout SECONDS] [--force]',
  summary: 'cancel a pipeline run (running stages checkpoint first) and wait until it has ended',
  flags: [
    ['--timeout SECONDS', 'terminate the run when it has not ended this long after the cancellation request (default 120)'],
    ['--force', 'terminate at once, without waiting for running stages to checkpoint (the last periodic checkpoint is kept)'],
  ],
  details: 'A run id (as `thaw list` shows it) or the pipeline YAML it was started from. A run that no workflow worker polls is terminated at once: nothing can process a cancellation. Either way its checkpoints stay, and `thaw run` on its pipeline starts it again from there. Exit 0 when the run has ended (or had already), 1 when it cannot be found, 2 usage.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, {
      timeout: { type: 'string', default: '120' },
      force: { type: 'boolean', default: false },
    });
    if (positionals.length !== 1) throw new UsageError('give one run id or pipeline YAML');
    const timeoutSeconds = parseNumberFlag('--timeout', values.timeout, { min: 1, what: 'seconds' });
    return withRun(positionals[0], settings, async ({ cluster, workflowId, where }) => {
      const handle = handleOf(cluster.client, workflowId);
      const described = await describeOrNotFound(handle, where);
      const memo = (described.memo ?? {}) as Partial<RunMemo>;
      const again = `\`thaw run ${memo.source_file || '<pipeline.yaml>'}\` starts it again from its checkpoints`;
      if (described.status.name !== 'RUNNING') {
        console.log(`run ${workflowId} already ended (${described.status.name.toLowerCase()}): nothing to cancel`);
        return 0;
      }
      const terminate = async (why: string) => {
        await handle.terminate(`thaw cancel: ${why}`);
        console.log(`run ${workflowId} terminated (${why}); its checkpoints are kept, and ${again}`);
        return 0;
      };
      if (values.force) return terminate('--force');
      const unpolled = await unpolledQueues(cluster.client.connection, cluster.namespace, runQueues(described.taskQueue, memo.gpu_task_queue));
      const noWorkflowWorker = unpolled?.filter((q) => q.kind === 'workflow') ?? [];
      if (noWorkflowWorker.length > 0) return terminate(`${describeUnpolled(noWorkflowWorker)}, so none can process a cancellation`);

      await handle.cancel();
      console.error(`cancelling run ${workflowId}: running stages write a checkpoint at their current iteration...`);
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutSeconds * 1000);
      let ended: boolean;
      try {
        await cluster.client.withAbortSignal(abort.signal, () => handle.result()).catch(() => undefined);
        ended = (await handle.describe()).status.name !== 'RUNNING';
      } finally {
        clearTimeout(timer);
      }
      if (!ended) return terminate(`it had not ended ${timeoutSeconds} s after the cancellation request`);
      console.log(`run ${workflowId} cancelled; ${again}`);
      return 0;
    });
  },
};
