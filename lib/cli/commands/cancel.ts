/** `thaw cancel <run>`: cancel a run; running stages write a checkpoint at their current iteration first. */
import { openCluster } from '../../client/cluster';
import { handleOf, runIdOf } from '../../client/runs';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const cancelCommand: Command = {
  name: 'cancel',
  usage: 'cancel <run-id | pipeline.yaml>',
  summary: 'cancel a pipeline run (running stages checkpoint first)',
  async run(args) {
    const { positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 1) throw new UsageError('give one run id or pipeline YAML');
    const workflowId = await runIdOf(positionals[0]);
    const cluster = await openCluster();
    try {
      await handleOf(cluster.client, workflowId).cancel();
      console.log(`cancellation of ${workflowId} requested: running stages checkpoint and stop; \`thaw run\` on its pipeline starts it again from there.`);
      return 0;
    } finally {
      await cluster.close();
    }
  },
};
