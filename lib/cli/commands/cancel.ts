/** `thaw cancel <run>`: cancel a run; running stages write a checkpoint at their current iteration first. */
import { withRun } from '../../client/run-arg';
import { handleOf } from '../../client/runs';
import type { Command } from '../command';

export const cancelCommand: Command = {
  name: 'cancel',
  usage: 'cancel <run-id | pipeline.yaml>',
  summary: 'cancel a pipeline run (running stages checkpoint first)',
  run: (args) =>
    withRun(args, async (cluster, workflowId) => {
      await handleOf(cluster.client, workflowId).cancel();
      console.log(`cancellation of ${workflowId} requested: running stages checkpoint and stop; \`thaw run\` on its pipeline starts it again from there.`);
      return 0;
    }),
};
