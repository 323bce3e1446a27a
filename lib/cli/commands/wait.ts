/** `thaw wait <run>`: block until the run ends; exit 0 when it completed, 1 otherwise. */
import { openCluster } from '../../client/cluster';
import { summaryTable } from '../../client/format';
import { failureMessage, handleOf, runIdOf } from '../../client/runs';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const waitCommand: Command = {
  name: 'wait',
  usage: 'wait <run-id | pipeline.yaml> [--json]',
  summary: 'wait for a pipeline run to end (exit 0 when it completed)',
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
    if (positionals.length !== 1) throw new UsageError('give one run id or pipeline YAML');
    const workflowId = await runIdOf(positionals[0]);
    const cluster = await openCluster();
    try {
      const result = await handleOf(cluster.client, workflowId).result();
      console.log(values.json ? JSON.stringify(result, null, 2) : summaryTable(result));
      return 0;
    } catch (err) {
      console.error(`thaw wait: run ${workflowId} did not complete: ${failureMessage(err)}`);
      return 1;
    } finally {
      await cluster.close();
    }
  },
};
